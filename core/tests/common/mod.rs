//! Tiny models and images built in the tests themselves.
#![allow(dead_code)]

use std::io::Cursor;

use image::{DynamicImage, ImageEncoder, ImageFormat, RgbImage};
use taxa_core::onnx_graph::{Dim, GraphBuilder, attr_int};
use taxa_core::onnx_pb::ModelProto;
use taxa_core::{BundleMetadata, HigherRanks, PreprocessContract, Taxonomy};

/// Colours of the test "species", in RGB.
pub const COLOURS: [(&str, [u8; 3]); 4] =
    [("red", [220, 30, 30]), ("green", [30, 200, 40]), ("blue", [30, 40, 220]), ("yellow", [230, 220, 30])];

/// Logits = −|mean(x) − p_k|² / T (up to a per-image constant), with p_k the
/// normalised colour of class k under `contract`. `rows` restricts the pooling
/// to the top `rows` rows of the input, so the model sees orientation.
pub fn colour_model(contract: &PreprocessContract, rows: Option<i64>) -> ModelProto {
    let (w, h) = contract.input_size().unwrap();
    let mut g = GraphBuilder::new("colour");
    let input = g.input("image", &[Dim::from("batch"), 3.into(), (h as i64).into(), (w as i64).into()]);
    let pooled_from = match rows {
        Some(rows) => {
            let starts = g.initializer_i64("starts", &[1], &[0]);
            let ends = g.initializer_i64("ends", &[1], &[rows]);
            let axes = g.initializer_i64("axes", &[1], &[2]);
            g.node("Slice", &[&input, &starts, &ends, &axes], vec![])
        }
        None => input.clone(),
    };
    let pooled = g.node("GlobalAveragePool", &[&pooled_from], vec![]);
    let flat = g.node("Flatten", &[&pooled], vec![attr_int("axis", 1)]);
    let mut weights = Vec::new();
    let mut bias = Vec::new();
    for (_, rgb) in COLOURS {
        let p: Vec<f32> = (0..3).map(|c| (rgb[c] as f32 / 255.0 - contract.mean[c]) / contract.std[c]).collect();
        weights.extend(p.iter().map(|v| 2.0 * v / 0.1));
        bias.push(-p.iter().map(|v| v * v).sum::<f32>() / 0.1);
    }
    let wt = g.initializer("w", &[COLOURS.len() as i64, 3], &weights);
    let b = g.initializer("b", &[COLOURS.len() as i64], &bias);
    g.node_named("Gemm", &[&flat, &wt, &b], "logits", vec![attr_int("transB", 1)]);
    g.output("logits", &[Dim::from("batch"), (COLOURS.len() as i64).into()]);
    g.build()
}

/// A model that ignores the image and outputs fixed logits.
pub fn constant_model(contract: &PreprocessContract, logits: &[f32]) -> ModelProto {
    let (w, h) = contract.input_size().unwrap();
    let mut g = GraphBuilder::new("constant");
    let input = g.input("image", &[Dim::from("batch"), 3.into(), (h as i64).into(), (w as i64).into()]);
    let pooled = g.node("GlobalAveragePool", &[&input], vec![]);
    let flat = g.node("Flatten", &[&pooled], vec![attr_int("axis", 1)]);
    let wt = g.initializer("w", &[logits.len() as i64, 3], &vec![0.0; logits.len() * 3]);
    let b = g.initializer("b", &[logits.len() as i64], logits);
    g.node_named("Gemm", &[&flat, &wt, &b], "logits", vec![attr_int("transB", 1)]);
    g.output("logits", &[Dim::from("batch"), (logits.len() as i64).into()]);
    g.build()
}

pub fn colour_labels() -> Vec<String> {
    COLOURS.iter().map(|(n, _)| n.to_string()).collect()
}

pub fn colour_metadata(contract: PreprocessContract) -> BundleMetadata {
    let mut m = BundleMetadata::with_labels(colour_labels());
    m.preprocess = contract;
    m.taxonomy = Some(
        COLOURS
            .iter()
            .map(|(name, _)| Taxonomy {
                ranks: HigherRanks { kingdom: Some("Colores".into()), genus: Some(if *name == "yellow" { "Flavus" } else { "Primarius" }.into()), ..Default::default() },
                species: name.to_string(),
                ..Default::default()
            })
            .collect(),
    );
    m
}

pub fn solid(width: u32, height: u32, rgb: [u8; 3]) -> RgbImage {
    RgbImage::from_pixel(width, height, image::Rgb(rgb))
}

/// Top half `top`, bottom half `bottom`.
pub fn two_tone(width: u32, height: u32, top: [u8; 3], bottom: [u8; 3]) -> RgbImage {
    RgbImage::from_fn(width, height, |_, y| image::Rgb(if y < height / 2 { top } else { bottom }))
}

pub fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// A baseline JPEG with an EXIF orientation tag.
pub fn jpeg_with_orientation(image: &RgbImage, orientation: u16) -> Vec<u8> {
    // Little-endian TIFF header, one IFD entry: tag 0x0112 (Orientation), SHORT, count 1.
    let mut exif = b"II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0".to_vec();
    exif.extend_from_slice(&orientation.to_le_bytes());
    exif.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut out = Cursor::new(Vec::new());
    let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95);
    encoder.set_exif_metadata(exif).unwrap();
    encoder.write_image(image.as_raw(), image.width(), image.height(), image::ExtendedColorType::Rgb8).unwrap();
    out.into_inner()
}

/// A CMYK JPEG, as print workflows and some scanners write them.
pub fn cmyk_jpeg(width: u16, height: u16, cmyk: [u8; 4]) -> Vec<u8> {
    let pixels: Vec<u8> = cmyk.iter().copied().cycle().take(width as usize * height as usize * 4).collect();
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 95).encode(&pixels, width, height, jpeg_encoder::ColorType::Cmyk).unwrap();
    out
}

/// A PNG whose header claims `width`×`height`, followed by a few bytes of
/// image data and the end marker: what a decompression bomb looks like
/// before its pixels are inflated.
pub fn png_header_only(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc32fast::hash(&ihdr).to_be_bytes());
    for (kind, data) in [(&b"IDAT"[..], &b"\x78\x9c\x63\x00\x00"[..]), (&b"IEND"[..], &b""[..])] {
        let mut chunk = kind.to_vec();
        chunk.extend_from_slice(data);
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        png.extend_from_slice(&chunk);
        png.extend_from_slice(&crc32fast::hash(&chunk).to_be_bytes());
    }
    png
}

/// A linear model over every input value: it only accepts one input size.
pub fn pixel_linear_model(width: i64, height: i64, classes: i64) -> ModelProto {
    let mut g = GraphBuilder::new("pixel-linear");
    let input = g.input("image", &[Dim::from("batch"), 3.into(), height.into(), width.into()]);
    let flat = g.node("Flatten", &[&input], vec![attr_int("axis", 1)]);
    let n = 3 * width * height;
    let wt = g.initializer("w", &[classes, n], &vec![0.001; (classes * n) as usize]);
    let b = g.initializer("b", &[classes], &vec![0.0; classes as usize]);
    g.node_named("Gemm", &[&flat, &wt, &b], "logits", vec![attr_int("transB", 1)]);
    g.output("logits", &[Dim::from("batch"), classes.into()]);
    g.build()
}
