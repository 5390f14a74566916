use std::io::Cursor;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use image::{ImageEncoder, RgbImage, codecs::jpeg::JpegEncoder};
use serde::Serialize;
use taxa_core::ClassifyOptions;
use taxa_core::profile::Profile;

use crate::ModelArgs;

#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Image to classify; by default a synthetic 800×800 JPEG.
    #[arg(long)]
    pub image: Option<PathBuf>,
    /// Timed runs (after warm-up).
    #[arg(long, default_value_t = 50)]
    pub runs: usize,
    /// Untimed warm-up runs.
    #[arg(long, default_value_t = 5)]
    pub warmup: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also time each node of tract's optimised plan (over --runs runs) and
    /// list the slowest, with shapes and the operator/kernel tract chose.
    #[arg(long)]
    pub profile: bool,
    /// How many nodes --profile lists (--json lists them all).
    #[arg(long, default_value_t = 15)]
    pub top: usize,
}

/// Medians in milliseconds; inference on `threads` threads (`--threads`), the rest on one.
#[derive(Serialize)]
struct BenchReport {
    model: PathBuf,
    image: String,
    image_width: u32,
    image_height: u32,
    /// The JPEG was decoded at 1/`decode_reduction` per side (1: in full).
    decode_reduction: u32,
    runs: usize,
    threads: usize,
    load_ms: f64,
    /// The last load's phases (`taxa_core::profile::LoadProfile`).
    load_phases: Vec<taxa_core::profile::LoadPhase>,
    decode_ms: f64,
    preprocess_ms: f64,
    inference_ms: f64,
    postprocess_ms: f64,
    total_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<Profile>,
}

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.runs > 0, "--runs must be at least 1");
    let (bytes, image_name) = match &args.image {
        Some(path) => (std::fs::read(path).with_context(|| format!("reading {}", path.display()))?, path.display().to_string()),
        None => (synthetic_jpeg(800, 800)?, "synthetic 800×800 JPEG".to_string()),
    };
    let mut loads = Vec::new();
    let mut classifier = None;
    for _ in 0..3 {
        let start = Instant::now();
        classifier = Some(args.model.load()?);
        loads.push(start.elapsed());
    }
    let classifier = classifier.expect("loaded at least once");
    let options = ClassifyOptions::default();
    let (mut decode, mut preprocess, mut inference, mut post, mut total) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut size, mut reduction, mut last_input) = ((0, 0), 1, None);
    for run in 0..args.warmup + args.runs {
        let t0 = Instant::now();
        let image = classifier.decode_for_input(&bytes, false).with_context(|| format!("decoding {image_name}"))?;
        let t1 = Instant::now();
        let input = classifier.preprocess_sized(&image)?;
        let t2 = Instant::now();
        if args.profile && last_input.is_none() {
            last_input = Some(input.clone());
        }
        let probabilities = classifier.infer(input)?;
        let t3 = Instant::now();
        let result = classifier.classify_probabilities(probabilities, &options)?;
        let t4 = Instant::now();
        std::hint::black_box(result);
        (size, reduction) = ((image.full_width, image.full_height), image.reduction);
        if run >= args.warmup {
            decode.push(t1 - t0);
            preprocess.push(t2 - t1);
            inference.push(t3 - t2);
            post.push(t4 - t3);
            total.push(t4 - t0);
        }
    }
    let profile = match last_input {
        Some(input) => Some(classifier.profile(input, args.runs).context("profiling the model")?),
        None => None,
    };
    let report = BenchReport {
        model: args.model.model.clone(),
        image: image_name,
        image_width: size.0,
        image_height: size.1,
        decode_reduction: reduction,
        runs: args.runs,
        threads: classifier.threads(),
        load_ms: median_ms(&mut loads),
        load_phases: classifier.load_profile().phases.clone(),
        decode_ms: median_ms(&mut decode),
        preprocess_ms: median_ms(&mut preprocess),
        inference_ms: median_ms(&mut inference),
        postprocess_ms: median_ms(&mut post),
        total_ms: median_ms(&mut total),
        profile,
    };
    if args.json {
        super::print_json(&report)?;
    } else {
        println!("model:       {}", report.model.display());
        println!("image:       {} ({}×{}, decoded at 1/{})", report.image, report.image_width, report.image_height, report.decode_reduction);
        println!("load:        {:8.2} ms", report.load_ms);
        println!("medians over {} runs, inference on {} thread(s):", report.runs, report.threads);
        for (name, ms) in [
            ("decode", report.decode_ms),
            ("preprocess", report.preprocess_ms),
            ("inference", report.inference_ms),
            ("top-k+rollup", report.postprocess_ms),
            ("total", report.total_ms),
        ] {
            println!("  {name:<12} {ms:8.2} ms  {:5.1}%", 100.0 * ms / report.total_ms);
        }
        if let Some(profile) = &report.profile {
            print_profile(profile, args.top);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The slowest nodes, one line each, then what tract said about each.
fn print_profile(profile: &Profile, top: usize) {
    println!(
        "profile: {} nodes, {:.2} ms summed (medians over {} runs); the {} slowest:",
        profile.nodes.len(),
        profile.total_ms,
        profile.runs,
        top.min(profile.nodes.len())
    );
    println!("  {:>8} {:>6}  {:<14} {:<28} {:<40} outputs", "ms", "share", "op", "node", "inputs");
    for node in profile.nodes.iter().take(top) {
        let shapes = |s: &[Vec<usize>]| s.iter().map(|d| format!("{d:?}")).collect::<Vec<_>>().join(" ");
        println!(
            "  {:>8.3} {:>5.1}%  {:<14} {:<28} {:<40} {}",
            node.median_ms,
            100.0 * node.median_ms / profile.total_ms,
            node.op,
            node.name,
            shapes(&node.input_shapes),
            shapes(&node.output_shapes)
        );
        for line in &node.info {
            println!("  {:>16}  {line}", "");
        }
    }
}

fn median_ms(samples: &mut [Duration]) -> f64 {
    samples.sort();
    let n = samples.len();
    let mid = if n % 2 == 1 { samples[n / 2] } else { (samples[n / 2 - 1] + samples[n / 2]) / 2 };
    mid.as_secs_f64() * 1000.0
}

/// A photo-like test image: smooth gradients plus texture, so the JPEG
/// decoder does realistic work.
pub fn synthetic_jpeg(width: u32, height: u32) -> anyhow::Result<Vec<u8>> {
    let image = RgbImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
        let texture = ((x * 7 + y * 13) % 17) as f32 * 3.0 + ((x ^ y) % 11) as f32 * 2.0;
        image::Rgb([
            (60.0 + 120.0 * fx + texture) as u8,
            (90.0 + 100.0 * fy + texture) as u8,
            (40.0 + 80.0 * (1.0 - fx) * fy + texture) as u8,
        ])
    });
    let mut out = Cursor::new(Vec::new());
    JpegEncoder::new_with_quality(&mut out, 90).write_image(image.as_raw(), width, height, image::ExtendedColorType::Rgb8)?;
    Ok(out.into_inner())
}
