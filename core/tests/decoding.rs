//! The whole kind behind each decoding field case, on files made here:
//! truncation in every format, EXIF orientation in both forms and byte
//! orders, TIFF associated alpha at each depth, unsupported JPEG features.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use taxa_core::{DecodeLimits, DecodeOptions, TaxaError, decode_image, decode_image_with};

fn gradient(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| Rgb([(x * 7 + y) as u8, (y * 5) as u8, ((x ^ y) * 3) as u8]))
}

fn encode(image: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    DynamicImage::ImageRgb8(image.clone()).write_to(&mut Cursor::new(&mut bytes), format).unwrap();
    bytes
}

fn progressive_jpeg(image: &RgbImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut bytes, 90);
    encoder.set_progressive(true);
    encoder.encode(image.as_raw(), image.width() as u16, image.height() as u16, jpeg_encoder::ColorType::Rgb).unwrap();
    bytes
}

#[test]
fn files_cut_short_are_refused_in_every_format() {
    let image = gradient(256, 192);
    let files = [
        ("jpeg", encode(&image, ImageFormat::Jpeg)),
        ("progressive jpeg", progressive_jpeg(&image)),
        ("png", encode(&image, ImageFormat::Png)),
        ("webp", encode(&image, ImageFormat::WebP)),
        ("gif", encode(&image, ImageFormat::Gif)),
        ("bmp", encode(&image, ImageFormat::Bmp)),
        ("tiff", encode(&image, ImageFormat::Tiff)),
    ];
    for (name, bytes) in &files {
        decode_image(bytes, &DecodeLimits::default()).unwrap_or_else(|e| panic!("whole {name}: {e}"));
        for cut in [bytes.len() / 10, bytes.len() * 4 / 10, bytes.len() * 9 / 10, bytes.len() - 2] {
            match decode_image(&bytes[..cut], &DecodeLimits::default()) {
                Err(TaxaError::ImageTruncated { .. }) => {}
                // A cut inside the header leaves no image at all to call truncated.
                Err(TaxaError::ImageDecode(message)) if cut < 64 => assert!(!message.is_empty()),
                other => panic!("{name} cut to {cut} of {} bytes: {other:?}", bytes.len()),
            }
        }
    }
}

#[test]
fn truncated_jpeg_decodes_partially_only_when_allowed() {
    let image = gradient(256, 192);
    for bytes in [encode(&image, ImageFormat::Jpeg), progressive_jpeg(&image)] {
        let cut = &bytes[..bytes.len() * 6 / 10];
        let allowed = DecodeOptions { allow_truncated: true, ..Default::default() };
        let partial = decode_image_with(cut, &allowed).unwrap();
        assert!(partial.truncated);
        assert_eq!(partial.image.dimensions(), (256, 192));
        let whole = decode_image_with(&bytes, &allowed).unwrap();
        assert!(!whole.truncated);
    }
}

/// A TIFF-structured EXIF block holding only Orientation, in either byte order.
fn exif_block(orientation: u16, big_endian: bool) -> Vec<u8> {
    type Encoders = (fn(u16) -> [u8; 2], fn(u32) -> [u8; 4]);
    let (u16b, u32b): Encoders =
        if big_endian { (u16::to_be_bytes, u32::to_be_bytes) } else { (u16::to_le_bytes, u32::to_le_bytes) };
    let mut b = if big_endian { b"MM".to_vec() } else { b"II".to_vec() };
    b.extend(u16b(42));
    b.extend(u32b(8));
    b.extend(u16b(1));
    b.extend(u16b(0x0112));
    b.extend(u16b(3));
    b.extend(u32b(1));
    b.extend(u16b(orientation));
    b.extend([0, 0]);
    b.extend(u32b(0));
    b
}

fn png_with_exif(png: &[u8], exif: &[u8]) -> Vec<u8> {
    // After the signature (8) and IHDR (25 bytes).
    let (head, rest) = png.split_at(33);
    let mut chunk = (exif.len() as u32).to_be_bytes().to_vec();
    let mut body = b"eXIf".to_vec();
    body.extend_from_slice(exif);
    chunk.extend(&body);
    chunk.extend(crc32fast::hash(&body).to_be_bytes());
    [head, &chunk, rest].concat()
}

fn webp_with_exif(webp: &[u8], exif: &[u8], width: u32, height: u32) -> Vec<u8> {
    let mut vp8x = b"VP8X".to_vec();
    vp8x.extend(10u32.to_le_bytes());
    vp8x.extend([0x08, 0, 0, 0]); // EXIF present
    vp8x.extend(&(width - 1).to_le_bytes()[..3]);
    vp8x.extend(&(height - 1).to_le_bytes()[..3]);
    let mut exif_chunk = b"EXIF".to_vec();
    exif_chunk.extend((exif.len() as u32).to_le_bytes());
    exif_chunk.extend(exif);
    if exif.len() % 2 == 1 {
        exif_chunk.push(0);
    }
    let body = [b"WEBP".as_slice(), &vp8x, &webp[12..], &exif_chunk].concat();
    [b"RIFF".as_slice(), &(body.len() as u32).to_le_bytes(), &body].concat()
}

#[test]
fn exif_orientation_in_png_and_webp_with_and_without_prefix() {
    // 4×2, one white pixel at the stored top-left; Orientation 6 turns it
    // 90° clockwise: 2×4, the white pixel at the top-right.
    let mut stored = RgbImage::new(4, 2);
    stored.put_pixel(0, 0, Rgb([255, 255, 255]));
    let png = encode(&stored, ImageFormat::Png);
    let webp = encode(&stored, ImageFormat::WebP);
    for big_endian in [false, true] {
        for prefix in [&b""[..], b"Exif\0\0"] {
            let exif = [prefix, &exif_block(6, big_endian)].concat();
            for (container, bytes) in [("png", png_with_exif(&png, &exif)), ("webp", webp_with_exif(&webp, &exif, 4, 2))] {
                let what = format!("{container}, big endian {big_endian}, prefix {prefix:?}");
                let upright = decode_image(&bytes, &DecodeLimits::default()).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(upright.dimensions(), (2, 4), "{what}");
                assert_eq!(upright.get_pixel(1, 0).0, [255, 255, 255], "{what}");
            }
        }
    }
}

/// A one-strip uncompressed little-endian TIFF with an alpha extra sample.
fn tiff_with_alpha(width: u32, height: u32, samples: &[u16], channels: u16, bits: u16, extra_samples: u16) -> Vec<u8> {
    let data: Vec<u8> = match bits {
        8 => samples.iter().map(|&s| s as u8).collect(),
        _ => samples.iter().flat_map(|s| s.to_le_bytes()).collect(),
    };
    let photometric = if channels >= 3 { 2 } else { 1 };
    let bits_offset = 8u32; // BitsPerSample values, when more than two
    let data_offset = bits_offset + 2 * channels as u32 + 2;
    let mut entries: Vec<(u16, u16, u32, u32)> = vec![
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, channels as u32, if channels <= 2 { bits as u32 | ((bits as u32) << 16) } else { bits_offset }),
        (259, 3, 1, 1),
        (262, 3, 1, photometric),
        (273, 4, 1, data_offset),
        (277, 3, 1, channels as u32),
        (278, 4, 1, height),
        (279, 4, 1, data.len() as u32),
        (284, 3, 1, 1),
        (338, 3, 1, extra_samples as u32),
    ];
    entries.sort_by_key(|e| e.0);
    let ifd_offset = data_offset + data.len() as u32 + (data.len() as u32 % 2);
    let mut b = b"II".to_vec();
    b.extend(42u16.to_le_bytes());
    b.extend(ifd_offset.to_le_bytes());
    for _ in 0..channels {
        b.extend(bits.to_le_bytes());
    }
    b.extend([0, 0]);
    b.extend(&data);
    if data.len() % 2 == 1 {
        b.push(0);
    }
    b.extend((entries.len() as u16).to_le_bytes());
    for (tag, kind, count, value) in entries {
        b.extend(tag.to_le_bytes());
        b.extend(kind.to_le_bytes());
        b.extend(count.to_le_bytes());
        b.extend(value.to_le_bytes());
    }
    b.extend(0u32.to_le_bytes());
    b
}

fn first_pixel(bytes: &[u8]) -> [u8; 3] {
    decode_image(bytes, &DecodeLimits::default()).unwrap().get_pixel(0, 0).0
}

fn assert_near(got: [u8; 3], want: [u8; 3], what: &str) {
    assert!(got.iter().zip(want).all(|(g, w)| g.abs_diff(w) <= 1), "{what}: {got:?} vs {want:?}");
}

#[test]
fn associated_alpha_is_unpremultiplied_at_every_depth() {
    let rgba8 = |extra| tiff_with_alpha(2, 2, &[100, 50, 25, 128].repeat(4), 4, 8, extra);
    assert_near(first_pixel(&rgba8(1)), [199, 99, 49], "8-bit associated");
    // Unassociated alpha keeps its colours.
    assert_near(first_pixel(&rgba8(2)), [100, 50, 25], "8-bit unassociated");
    // 16 bits: straight (200, 100, 50) at half opacity.
    let a = 32768u32;
    let stored: Vec<u16> = [200u32, 100, 50].iter().map(|c| (c * 257 * a / 65535) as u16).chain([a as u16]).collect();
    assert_near(first_pixel(&tiff_with_alpha(2, 2, &stored.repeat(4), 4, 16, 1)), [200, 100, 50], "16-bit associated");
    // Grey plus associated alpha.
    assert_near(first_pixel(&tiff_with_alpha(2, 2, &[60, 128].repeat(4), 2, 8, 1)), [119, 119, 119], "grey associated");
    // Alpha 0: no division by zero.
    assert_near(first_pixel(&tiff_with_alpha(2, 2, &[0, 0, 0, 0].repeat(4), 4, 8, 1)), [0, 0, 0], "alpha 0");
}

#[test]
fn unsupported_jpeg_features_are_named() {
    let mut twelve_bit = encode(&gradient(32, 32), ImageFormat::Jpeg);
    let sof = twelve_bit.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    twelve_bit[sof + 4] = 12;
    match decode_image(&twelve_bit, &DecodeLimits::default()) {
        Err(e @ TaxaError::UnsupportedImageFeature { .. }) => assert_eq!(e.to_string(), "unsupported JPEG feature: 12-bit samples"),
        other => panic!("{other:?}"),
    }
}

/// Inputs the fuzz targets found (`tests/fuzz-regressions/<target>/`, see
/// RELIABILITY.md): each decodes or is a typed error, never a panic.
#[test]
fn fuzz_regressions_are_errors_not_panics() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fuzz-regressions/decode_image");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| decode_image(&bytes, &DecodeLimits::default()).map(|_| ()));
        assert!(outcome.is_ok(), "{} panicked through decode_image", path.display());
        seen += 1;
    }
    assert!(seen > 0, "no regression inputs in {}", dir.display());
}
