//! Decode + preprocess of one photo for the ImageNet contract (shorter side
//! 256, centre crop 224): the full decode against the reduced JPEG decode at
//! each largest reduction, interleaved in one run, one thread. Prints JSON:
//! per path the median milliseconds (decode, preprocess) and the mean / max
//! absolute difference of its 224×224 model input window (0–255) from the
//! full path's.
//!
//! Usage: cargo run --release -p taxa-core --example decode_sized -- PHOTO.jpg [RUNS]
//! (bench/decode_vs_pillow.py runs it beside Pillow's per-image eval path.)

use std::time::{Duration, Instant};

use taxa_core::decode::{DecodeOptions, decode_image_reduced_up_to};
use taxa_core::preprocess::PreprocessContract;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: decode_sized PHOTO.jpg [RUNS]")?;
    let runs: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(30);
    let bytes = std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?;
    let contract = PreprocessContract::imagenet();
    let options = DecodeOptions::default();
    let paths = [1u32, 2, 4, 8];
    let mut times: Vec<(Vec<Duration>, Vec<Duration>)> = paths.iter().map(|_| (vec![], vec![])).collect();
    let mut windows: Vec<Vec<u8>> = vec![vec![]; paths.len()];
    let mut reductions = vec![0u32; paths.len()];
    for run in 0..runs + 3 {
        for (i, &max_reduction) in paths.iter().enumerate() {
            let t0 = Instant::now();
            let sized = decode_image_reduced_up_to(&bytes, &options, &contract, max_reduction)?;
            let t1 = Instant::now();
            let input = sized.preprocess(&contract)?;
            let t2 = Instant::now();
            std::hint::black_box(input);
            if run >= 3 {
                times[i].0.push(t1 - t0);
                times[i].1.push(t2 - t1);
            } else {
                windows[i] = sized.resize_to_input(&contract)?.0;
                reductions[i] = sized.reduction;
            }
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1000.0
    };
    let mut rows = vec![];
    for (i, &max_reduction) in paths.iter().enumerate() {
        let diffs: Vec<f64> = windows[i].iter().zip(&windows[0]).map(|(a, b)| (*a as f64 - *b as f64).abs()).collect();
        let mean = diffs.iter().sum::<f64>() / diffs.len() as f64;
        let max = diffs.iter().cloned().fold(0.0, f64::max);
        let (decode, preprocess) = (median(&mut times[i].0), median(&mut times[i].1));
        rows.push(format!(
            "{{\"max_reduction\": {max_reduction}, \"reduction\": {}, \"decode_ms\": {decode:.3}, \"preprocess_ms\": {preprocess:.3}, \"total_ms\": {:.3}, \"mean_abs_diff\": {mean:.3}, \"max_abs_diff\": {max}}}",
            reductions[i],
            decode + preprocess
        ));
    }
    println!("{{\"image\": {path:?}, \"runs\": {runs}, \"paths\": [{}]}}", rows.join(", "));
    Ok(())
}
