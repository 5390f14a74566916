//! How far the 1/4-scale JPEG decode moves the model input, against Pillow's
//! `draft()` at the same scale, on the same photos and through the same
//! resampling (taxa's), so only the decoders differ.
//!
//! For each photo `P.jpg` it takes `P.full.png` (Pillow's full decode) and
//! `P.draft4.png` (Pillow's decode after `draft()` at 1/4), and for each
//! input size S (the ImageNet recipe at S: shorter side S × 256/224, centre
//! crop S) where the photo's short side is at least 4 × the resize (a 1/4
//! decode that needs no upscaling), prints one JSON line: the mean and max
//! absolute difference (0–255) of the S×S window from the full decode's,
//! for taxa's reduced decode and for Pillow's `draft()`, the margin (the
//! 1/4 image's short side over the resize), and the reduction
//! `decode_image_sized` chose.
//!
//! Usage: cargo run --release -p taxa-core --example reduced_fidelity -- SIZES P.jpg…
//! (SIZES: comma-separated, e.g. 64,96,128,224; bench/reduced_decode.py
//! makes the PNGs and the chroma-subsampling variants, and runs this.)

use taxa_core::decode::{DecodeOptions, SizedImage, decode_image_sized, decode_jpeg_at};
use taxa_core::preprocess::{PreprocessContract, Resize};

fn window(sized: &SizedImage, contract: &PreprocessContract) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    Ok(sized.resize_to_input(contract)?.0)
}

fn difference(a: &[u8], b: &[u8]) -> (f64, u8) {
    let diffs = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y));
    let max = diffs.clone().max().unwrap_or(0);
    (diffs.map(f64::from).sum::<f64>() / a.len().max(1) as f64, max)
}

fn png(path: &str) -> Result<image::RgbImage, Box<dyn std::error::Error>> {
    Ok(image::open(path).map_err(|e| format!("{path}: {e}"))?.to_rgb8())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let sizes: Vec<u32> = args.next().ok_or("usage: reduced_fidelity SIZES P.jpg…")?.split(',').map(str::parse).collect::<Result<_, _>>()?;
    let options = DecodeOptions::default();
    for jpg in args {
        let stem = jpg.strip_suffix(".jpg").ok_or("photos end in .jpg")?;
        let bytes = std::fs::read(&jpg).map_err(|e| format!("{jpg}: {e}"))?;
        let full = decode_jpeg_at(&bytes, &options, 1)?;
        let (w, h) = (full.full_width, full.full_height);
        let pillow_full = png(&format!("{stem}.full.png"))?;
        if pillow_full.dimensions() != (w, h) {
            eprintln!("{jpg}: skipped (taxa {w}×{h}, Pillow {:?})", pillow_full.dimensions());
            continue;
        }
        let pillow_full = SizedImage { image: pillow_full, full_width: w, full_height: h, reduction: 1, truncated: false };
        for reduction in [2u32, 4] {
            let reduced = decode_jpeg_at(&bytes, &options, reduction)?;
            let pillow_draft = png(&format!("{stem}.draft{reduction}.png"))?;
            if reduced.reduction != reduction || pillow_draft.dimensions() != reduced.image.dimensions() {
                eprintln!("{jpg}: 1/{reduction} skipped (reduced {:?}, Pillow {:?})", reduced.image.dimensions(), pillow_draft.dimensions());
                continue;
            }
            let pillow_draft = SizedImage { image: pillow_draft, full_width: w, full_height: h, reduction, truncated: false };
            for &size in &sizes {
                let contract = PreprocessContract::imagenet_sized(size);
                let Resize::ShorterSide { size: resize } = contract.resize else { unreachable!("the ImageNet recipe") };
                let margin = (w.min(h) / reduction) as f64 / resize as f64;
                if margin < 1.0 {
                    continue;
                }
                let taxa_full = window(&full, &contract)?;
                let (taxa_mean, taxa_max) = difference(&window(&reduced, &contract)?, &taxa_full);
                let pillow_window = window(&pillow_full, &contract)?;
                let (draft_mean, draft_max) = difference(&window(&pillow_draft, &contract)?, &pillow_window);
                let (decoders_mean, _) = difference(&taxa_full, &pillow_window);
                let used = decode_image_sized(&bytes, &options, &contract)?;
                let (used_mean, used_max) = difference(&window(&used, &contract)?, &taxa_full);
                println!(
                    "{{\"photo\": {jpg:?}, \"width\": {w}, \"height\": {h}, \"reduction\": {reduction}, \"size\": {size}, \"resize\": {resize}, \"margin\": {margin:.3}, \
                     \"taxa_mean\": {taxa_mean:.3}, \"taxa_max\": {taxa_max}, \"draft_mean\": {draft_mean:.3}, \"draft_max\": {draft_max}, \
                     \"full_decoders_mean\": {decoders_mean:.3}, \"used_reduction\": {}, \"used_mean\": {used_mean:.3}, \"used_max\": {used_max}}}",
                    used.reduction
                );
            }
        }
    }
    Ok(())
}
