//! Pieces shared by the taxa fuzz targets (`fuzz_targets/`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once, OnceLock};

/// Call first in every target.
///
/// libfuzzer-sys installs a panic hook that aborts on *every* panic, even one
/// that taxa catches on purpose (core runs tract behind `catch_unwind`, and a
/// panicking decoder must become a typed error). This replaces it with a hook
/// that prints each new panic site once, with its backtrace, and lets the
/// unwind go on. A panic caught inside taxa then ends as its typed error; one
/// that escapes the public API is still caught by libfuzzer-sys around the
/// target, which aborts, and libFuzzer saves the input as a crash.
///
/// `TAXA_FUZZ_STRICT_PANICS=1` keeps libfuzzer-sys's hook: every panic, caught
/// or not, is then a crash (to find what the guards are hiding).
pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TAXA_FUZZ_STRICT_PANICS").is_some_and(|v| v == "1") {
            return;
        }
        let seen = Mutex::new(HashSet::new());
        std::panic::set_hook(Box::new(move |info| {
            let site = info.location().map(|l| l.to_string()).unwrap_or_else(|| "unknown location".into());
            let new = seen.lock().map(|mut s| s.insert(site.clone())).unwrap_or(true);
            if new {
                let message = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "non-string payload".into());
                eprintln!(
                    "taxa-fuzz: panic at {site}: {message}\n{}",
                    std::backtrace::Backtrace::force_capture()
                );
            }
        }));
    });
}

/// Decode limits for the image targets: 1,024 px a side, 1 MP, 64 MiB.
/// The default limits (20,000 px, 200 MP) let libFuzzer spend most of its
/// time decoding the huge images its mutations declare, at 20–40 executions
/// a second; the code paths are the same at this size.
pub const FUZZ_LIMITS: taxa_core::DecodeLimits =
    taxa_core::DecodeLimits { max_width: 1024, max_height: 1024, max_pixels: 1 << 20, max_alloc_bytes: 64 << 20 };

/// A scratch folder of this process, for targets that must hand taxa real
/// files: under `$TAXA_FUZZ_TMP` (scripts/fuzz.sh points it at a RAM disk and
/// removes it afterwards), else the system temp folder.
pub fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = std::env::var_os("TAXA_FUZZ_TMP").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
        let dir = base.join(format!("taxa-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        dir
    })
}

/// Asserts what every classification promises: at most `classes` predictions,
/// best first, valid indices, scores finite and in [0, 1].
pub fn check_classification(result: &taxa_core::Classification, classes: usize, top_k: usize) {
    assert!(result.predictions.len() <= classes.min(top_k), "{} predictions", result.predictions.len());
    for p in &result.predictions {
        assert!(p.class_index < classes, "class index {} of {classes}", p.class_index);
        assert!(p.score.is_finite() && (0.0..=1.0001).contains(&p.score), "score {}", p.score);
    }
    for pair in result.predictions.windows(2) {
        assert!(pair[0].score >= pair[1].score, "predictions not best first: {} < {}", pair[0].score, pair[1].score);
    }
}
