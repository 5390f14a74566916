//! Decoding at the size the model needs (`decode_image_sized`): the reduced
//! JPEG decode against the full decode on the model input, over sizes,
//! chroma subsamplings, grey, progressive and EXIF-rotated files; and every
//! case that must go through the full decoder instead, with its result or
//! error unchanged.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use jpeg_encoder::{ColorType, Encoder, SamplingFactor};
use taxa_core::decode::MAX_REDUCTION;
use taxa_core::preprocess::Interpolation;
use taxa_core::{
    DecodeLimits, DecodeOptions, PixelFormat, PixelsRef, PreprocessContract, TaxaError, decode_image_sized, decode_image_with,
};

/// Photo-like content: broad shading, mid-frequency structure, fine texture.
fn photo(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32, y as f32);
        let broad = 60.0 * ((fx / 97.0 + fy / 131.0).sin());
        let mid = 30.0 * (fx / 13.0).sin() * (fy / 17.0).cos();
        let fine = ((x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) % 13) as f32 - 6.0;
        let v = |offset: f32| (128.0 + broad + mid + fine + offset).clamp(0.0, 255.0) as u8;
        // The left third is darker, so a wrong rotation or flip shows.
        let dark = if x < w / 3 { -50.0 } else { 0.0 };
        Rgb([v(dark + 20.0), v(dark), v(dark - 25.0)])
    })
}

fn jpeg(image: &RgbImage, sampling: SamplingFactor, grey: bool, progressive: bool, exif: Option<&[u8]>) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut encoder = Encoder::new(&mut bytes, 90);
    encoder.set_sampling_factor(sampling);
    encoder.set_progressive(progressive);
    if let Some(exif) = exif {
        encoder.add_app_segment(1, &[b"Exif\0\0".as_slice(), exif].concat()).unwrap();
    }
    let (w, h) = (image.width() as u16, image.height() as u16);
    if grey {
        let luma = DynamicImage::ImageRgb8(image.clone()).to_luma8();
        encoder.encode(luma.as_raw(), w, h, ColorType::Luma).unwrap();
    } else {
        encoder.encode(image.as_raw(), w, h, ColorType::Rgb).unwrap();
    }
    bytes
}

/// A little-endian EXIF block with one Orientation entry.
fn orientation_exif(orientation: u16) -> Vec<u8> {
    let mut exif = b"II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0".to_vec();
    exif.extend_from_slice(&orientation.to_le_bytes());
    exif.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    exif
}

/// The full path's model-input window (the contract on the full decode).
fn full_window(bytes: &[u8], contract: &PreprocessContract) -> Vec<u8> {
    let full = decode_image_with(bytes, &DecodeOptions::default()).unwrap().image;
    contract.resize_to_input(PixelsRef::new(full.width(), full.height(), PixelFormat::Rgb8, full.as_raw()).unwrap()).unwrap().0
}

/// Mean and max absolute difference, 0–255.
fn difference(a: &[u8], b: &[u8]) -> (f64, u8) {
    assert_eq!(a.len(), b.len());
    let sum: u64 = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y) as u64).sum();
    (sum as f64 / a.len() as f64, a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).max().unwrap())
}

#[test]
fn reduced_decode_stays_close_to_the_full_decode() {
    let contract = PreprocessContract::imagenet();
    let cases: &[(&str, SamplingFactor, bool, bool)] = &[
        ("4:2:0", SamplingFactor::R_4_2_0, false, false),
        ("4:4:4", SamplingFactor::R_4_4_4, false, false),
        ("4:2:2", SamplingFactor::R_4_2_2, false, false),
        ("grey", SamplingFactor::R_4_4_4, true, false),
        ("progressive 4:2:0", SamplingFactor::R_4_2_0, false, true),
    ];
    // Short sides from 1152 (1/4: 288 = 1.125 × the resize, 256) up.
    for &(w, h) in &[(1152, 1152), (1500, 1200), (1200, 2001), (2048, 1536)] {
        let image = photo(w, h);
        for &(name, sampling, grey, progressive) in cases {
            let bytes = jpeg(&image, sampling, grey, progressive, None);
            let sized = decode_image_sized(&bytes, &DecodeOptions::default(), &contract).unwrap();
            let what = format!("{name} {w}×{h}");
            if name.contains("4:2:0") {
                // Colour halved both ways: jpeg-decoder's reduced colour is not faithful enough.
                assert_eq!(sized.reduction, 1, "{what}: decoded in full");
                assert_eq!(sized.resize_to_input(&contract).unwrap().0, full_window(&bytes, &contract), "{what}");
                continue;
            }
            assert_eq!(sized.reduction, MAX_REDUCTION, "{what}: the reduced decode was not used");
            assert_eq!((sized.full_width, sized.full_height), (w, h), "{what}");
            assert_eq!(sized.image.dimensions(), (w.div_ceil(MAX_REDUCTION), h.div_ceil(MAX_REDUCTION)), "{what}");
            let (window, ..) = sized.resize_to_input(&contract).unwrap();
            let (mean, max) = difference(&window, &full_window(&bytes, &contract));
            eprintln!("{what}: reduced vs full decode on the model input: mean {mean:.3}, max {max}");
            // Pillow's draft() against its full decode on real photos: mean 0.6–0.65, max 8–10.
            assert!(mean < 1.0 && max <= 16, "{what}: mean {mean:.3}, max {max}");
            if grey {
                assert!(window.chunks_exact(3).all(|p| p[0] == p[1] && p[1] == p[2]), "{what}: grey decoded with colour");
            }
            // The tensor is the window, normalised as the contract says.
            let tensor = sized.preprocess(&contract).unwrap();
            let plane = 224 * 224;
            for (i, px) in window.chunks_exact(3).enumerate() {
                for c in 0..3 {
                    let want = (px[c] as f32 / 255.0 - contract.mean[c]) / contract.std[c];
                    assert!((tensor[c * plane + i] - want).abs() < 1e-5, "{what}: tensor[{c}, {i}]");
                }
            }
        }
    }
}

#[test]
fn exif_rotation_applies_to_the_reduced_decode() {
    let contract = PreprocessContract::imagenet();
    let image = photo(1600, 1200);
    for orientation in [3u16, 6, 8] {
        let bytes = jpeg(&image, SamplingFactor::R_4_2_2, false, false, Some(&orientation_exif(orientation)));
        let sized = decode_image_sized(&bytes, &DecodeOptions::default(), &contract).unwrap();
        let upright = if orientation == 3 { (1600, 1200) } else { (1200, 1600) };
        assert_eq!((sized.full_width, sized.full_height), upright, "orientation {orientation}");
        assert_eq!(sized.reduction, MAX_REDUCTION);
        assert_eq!(sized.image.dimensions(), (upright.0.div_ceil(4), upright.1.div_ceil(4)));
        let (mean, max) = difference(&sized.resize_to_input(&contract).unwrap().0, &full_window(&bytes, &contract));
        assert!(mean < 1.0 && max <= 16, "orientation {orientation}: mean {mean:.3}, max {max}");
    }
}

fn encode(image: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(image.clone()).write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// The full path's tensor, bit for bit.
fn assert_full_path(bytes: &[u8], options: &DecodeOptions, contract: &PreprocessContract, what: &str) {
    let sized = decode_image_sized(bytes, options, contract).unwrap();
    assert_eq!(sized.reduction, 1, "{what}");
    let full = decode_image_with(bytes, options).unwrap();
    assert_eq!(sized.image, full.image, "{what}");
    assert_eq!(sized.truncated, full.truncated, "{what}");
    let pixels = PixelsRef::new(full.image.width(), full.image.height(), PixelFormat::Rgb8, full.image.as_raw()).unwrap();
    assert_eq!(sized.preprocess(contract).unwrap(), contract.apply(pixels).unwrap(), "{what}");
}

#[test]
fn everything_else_goes_through_the_full_decoder() {
    let contract = PreprocessContract::imagenet();
    let options = DecodeOptions::default();
    // Too small to reduce by 4 (short side < 4 × 256), or not a JPEG.
    assert_full_path(&jpeg(&photo(800, 800), SamplingFactor::R_4_2_0, false, false, None), &options, &contract, "800×800 JPEG");
    assert_full_path(&encode(&photo(1200, 1100), ImageFormat::Png), &options, &contract, "PNG");
    // CMYK: the full decoder's colour conversion.
    let cmyk: Vec<u8> = [10u8, 200, 30, 5].iter().copied().cycle().take(1100 * 1100 * 4).collect();
    let mut cmyk_jpeg = Vec::new();
    Encoder::new(&mut cmyk_jpeg, 90).encode(&cmyk, 1100, 1100, ColorType::Cmyk).unwrap();
    assert_full_path(&cmyk_jpeg, &options, &contract, "CMYK JPEG");
    // Nearest picks source pixels: never reduced.
    let large = jpeg(&photo(1100, 1100), SamplingFactor::R_4_2_0, false, false, None);
    let mut nearest = contract.clone();
    nearest.interpolation = Interpolation::Nearest;
    assert_full_path(&large, &options, &nearest, "nearest");
    // A truncated file, where the caller accepts it: decoded in full, grey-filled as before.
    let cut = &large[..large.len() * 2 / 3];
    let allow = DecodeOptions { allow_truncated: true, ..options };
    assert_full_path(cut, &allow, &contract, "truncated, allowed");
    assert!(decode_image_sized(cut, &allow, &contract).unwrap().truncated);
}

#[test]
fn refusals_are_the_full_decoders() {
    let contract = PreprocessContract::imagenet();
    let options = DecodeOptions::default();
    let large = jpeg(&photo(1100, 1100), SamplingFactor::R_4_2_0, false, false, None);
    // Cut short: refused, as by the full decoder.
    let cut = &large[..large.len() * 2 / 3];
    assert!(matches!(decode_image_sized(cut, &options, &contract), Err(TaxaError::ImageTruncated { .. })));
    // Over the limits: refused from the header, even though the reduced image would fit.
    let wide = jpeg(&photo(20_001, 8), SamplingFactor::R_4_2_0, false, false, None);
    let err = decode_image_sized(&wide, &options, &contract).unwrap_err();
    assert!(matches!(err, TaxaError::ImageTooLarge { width: 20_001, height: 8, .. }), "{err}");
    let strict = DecodeOptions { limits: DecodeLimits { max_width: 1000, ..DecodeLimits::default() }, ..options };
    let err = decode_image_sized(&large, &strict, &contract).unwrap_err();
    assert!(matches!(err, TaxaError::ImageTooLarge { width: 1100, .. }), "{err}");
    // Not an image at all.
    assert!(matches!(decode_image_sized(b"", &options, &contract), Err(TaxaError::EmptyImage)));
    assert!(matches!(decode_image_sized(b"not an image", &options, &contract), Err(TaxaError::UnsupportedImageFormat)));
}

#[test]
fn corrupt_scan_data_gives_the_full_decoders_answer() {
    // Damage inside the entropy-coded data: the container is whole, so the
    // reduced decoder runs; whatever it makes of the file, the result must be
    // the full decoder's verdict where that one refuses, and an image close to
    // its image where it decodes.
    let contract = PreprocessContract::imagenet();
    let options = DecodeOptions::default();
    let large = jpeg(&photo(1100, 1100), SamplingFactor::R_4_2_0, false, false, None);
    let sos = large.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    for (offset, byte) in [(400usize, 0x00u8), (2000, 0xA5), (20_000, 0x3C)] {
        let mut damaged = large.clone();
        damaged[sos + offset] ^= byte | 0x41;
        let full = decode_image_with(&damaged, &options);
        let sized = decode_image_sized(&damaged, &options, &contract);
        match (&full, &sized) {
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            (Ok(_), Ok(sized)) => assert!(sized.image.width() > 0),
            _ => panic!("offset {offset}: full {:?} vs sized {:?}", full.as_ref().err(), sized.as_ref().err()),
        }
    }
}

/// exif-orientation-long-type, the rest of the kind: the first EXIF block is
/// read wherever it sits (after XMP, before a second EXIF block, as Pillow
/// reads it), on both decode paths.
#[test]
fn the_first_exif_block_is_read_among_other_segments_on_both_paths() {
    let contract = PreprocessContract::imagenet();
    let image = photo(1600, 1200);
    let plain = jpeg(&image, SamplingFactor::R_4_4_4, false, false, None);
    let segment = |payload: &[u8]| [&[0xFF, 0xE1][..], &((payload.len() + 2) as u16).to_be_bytes(), payload].concat();
    let xmp = segment(b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>");
    let exif = |o: u16| segment(&[b"Exif\0\0".as_slice(), &orientation_exif(o)].concat());
    // After SOI and the encoder's APP0.
    let insert = |segments: &[Vec<u8>]| {
        let app0_end = 4 + u16::from_be_bytes([plain[4], plain[5]]) as usize;
        [&plain[..app0_end], &segments.concat(), &plain[app0_end..]].concat()
    };
    for (segments, upright) in [
        (vec![xmp.clone(), exif(6)], (1200, 1600)),
        (vec![exif(6), exif(1)], (1200, 1600)),
        (vec![exif(1), exif(6)], (1600, 1200)),
        (vec![xmp, exif(8), segment(b"Exif\0\0garbage")], (1200, 1600)),
    ] {
        let bytes = insert(&segments);
        let full = decode_image_with(&bytes, &DecodeOptions::default()).unwrap().image;
        let sized = decode_image_sized(&bytes, &DecodeOptions::default(), &contract).unwrap();
        assert_eq!(sized.reduction, MAX_REDUCTION);
        assert_eq!((full.dimensions(), (sized.full_width, sized.full_height)), (upright, upright), "{} segments", segments.len());
    }
}
