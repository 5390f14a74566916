//! Helpers for the cross-crate tests: fixtures and the locations of the
//! host-built FFI library and `uniffi-bindgen` (built by `scripts/test.sh`).

use std::path::{Path, PathBuf};

/// The cargo profile folder the tests run from (`target/release`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test binary>
    exe.parent().and_then(Path::parent).expect("target/<profile>/deps").to_path_buf()
}

/// An artefact of `cargo build -p taxa-ffi` in the same profile.
pub fn built(name: &str) -> PathBuf {
    let path = profile_dir().join(name);
    assert!(path.exists(), "{} is missing: build it first with `cargo build --release -p taxa-ffi --features bindgen` (scripts/test.sh does)", path.display());
    path
}

/// The demo bundle and its six sample photos, written into `dir`.
pub fn demo_fixture(dir: &Path) -> (PathBuf, PathBuf) {
    let (model, metadata) = taxa_trainer::toy_model::fit_bundle(8, 11).expect("demo model");
    let bundle = dir.join("demo.onnx");
    taxa_core::bundle::write_bundle(&bundle, model, &metadata).expect("bundle written");
    let photos = dir.join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    taxa_trainer::toy_model::write_sample_photos(&photos, 11).expect("photos written");
    (bundle, photos)
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}
