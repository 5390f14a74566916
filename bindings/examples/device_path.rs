//! Times the path a phone app takes: load a model once, then classify an
//! encoded photo (decode, preprocess, inference, top-k and roll-up) again
//! and again. Prints one JSON line: `{"model", "image", "load_ms", "runs",
//! "median_ms", "min_ms"}` (milliseconds, wall clock, one thread).
//!
//! Used by `scripts/cross.sh size-speed` to weigh the phone library's build
//! settings (opt-level) against speed on the same machine, same run. It
//! lives in taxa-ffi, which has no dev-dependencies, so it links the very
//! dependency build of the phone library (taxa-core's would not).
//!
//! Usage: `device_path MODEL.onnx IMAGE [RUNS]` (RUNS defaults to 20).

use std::process::ExitCode;
use std::time::Instant;

use taxa_core::{ClassifyOptions, Classifier};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (model, image) = match args.as_slice() {
        [model, image] | [model, image, _] => (model, image),
        _ => {
            eprintln!("usage: device_path MODEL.onnx IMAGE [RUNS]");
            return ExitCode::from(2);
        }
    };
    let runs: usize = match args.get(2).map(|r| r.parse()) {
        None => 20,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("RUNS must be a positive whole number, not {:?}", args[2]);
            return ExitCode::from(2);
        }
    };
    let bytes = match std::fs::read(image) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{image}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let start = Instant::now();
    let classifier = match Classifier::load(model) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{model}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let load_ms = start.elapsed().as_secs_f64() * 1e3;
    let options = ClassifyOptions::default();
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        if let Err(e) = classifier.classify_bytes(&bytes, &options) {
            eprintln!("{image}: {e}");
            return ExitCode::FAILURE;
        }
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    // Debug formatting quotes and escapes the paths as JSON strings need.
    println!(
        r#"{{"model": {model:?}, "image": {image:?}, "load_ms": {load_ms:.3}, "runs": {runs}, "median_ms": {:.3}, "min_ms": {:.3}}}"#,
        times[runs / 2],
        times[0]
    );
    ExitCode::SUCCESS
}
