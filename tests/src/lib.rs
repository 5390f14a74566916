//! Helpers for the cross-crate tests: fixtures and the locations of the
//! host-built FFI library, `uniffi-bindgen` and the Python wheel (all built by
//! `scripts/test.sh`).

use std::path::{Path, PathBuf};

/// The cargo profile folder the tests run from (`target/release`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test binary>
    exe.parent().and_then(Path::parent).expect("target/<profile>/deps").to_path_buf()
}

/// An artefact of `cargo build --workspace` in the same profile
/// (`libtaxa_ffi.so` from taxa-ffi, `uniffi-bindgen` from taxa-uniffi-bindgen).
pub fn built(name: &str) -> PathBuf {
    let path = profile_dir().join(name);
    assert!(path.exists(), "{} is missing: build it first with `cargo build --release --workspace` (scripts/test.sh does)", path.display());
    path
}

/// The Python wheel maturin built from `bindings/`: `$TAXA_WHEEL` if set,
/// else the newest `taxa_ffi-*.whl` in `<target>/wheels`, where
/// `scripts/test.sh` puts it (`pip wheel ./bindings`, as `pip install
/// ./bindings` builds it).
pub fn python_wheel() -> PathBuf {
    if let Some(wheel) = std::env::var_os("TAXA_WHEEL") {
        return PathBuf::from(wheel);
    }
    let dir = profile_dir().parent().expect("target/<profile>").join("wheels");
    let hint = "build it first with `pip wheel --no-deps --wheel-dir target/wheels ./bindings` (scripts/test.sh does)";
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}: {hint}", dir.display()));
    entries
        .map(|e| e.expect("wheels folder entry").path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("taxa_ffi-") && n.ends_with(".whl")))
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).expect("wheel modification time"))
        .unwrap_or_else(|| panic!("no taxa_ffi-*.whl in {}: {hint}", dir.display()))
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

/// A bundle that knows up from down, for camera-rotation tests: four classes
/// `top-left`, `top-right`, `bottom-left`, `bottom-right`, whose logit is 20×
/// the mean normalised brightness of that quadrant of the 64×64 input
/// (ImageNet contract). A photo bright in one corner names that corner only
/// when it is turned upright. Returns its path.
pub fn quadrant_fixture(dir: &Path) -> PathBuf {
    use taxa_core::onnx_graph::{Dim, GraphBuilder, attr_int, attr_ints};
    let contract = taxa_core::PreprocessContract::imagenet_sized(64);
    let mut g = GraphBuilder::new("quadrants");
    let input = g.input("image", &[Dim::from("batch"), 3.into(), 64.into(), 64.into()]);
    let pooled = g.node("AveragePool", &[&input], vec![attr_ints("kernel_shape", &[32, 32]), attr_ints("strides", &[32, 32])]);
    // [1, 3, 2, 2] flattens to channel × 4 + row × 2 + column.
    let flat = g.node("Flatten", &[&pooled], vec![attr_int("axis", 1)]);
    let mut weights = vec![0f32; 4 * 12];
    for quadrant in 0..4 {
        for channel in 0..3 {
            weights[quadrant * 12 + channel * 4 + quadrant] = 20.0 / 3.0;
        }
    }
    let w = g.initializer("w", &[4, 12], &weights);
    let b = g.initializer("b", &[4], &[0.0; 4]);
    g.node_named("Gemm", &[&flat, &w, &b], "logits", vec![attr_int("transB", 1)]);
    g.output("logits", &[Dim::from("batch"), 4.into()]);
    let labels = ["top-left", "top-right", "bottom-left", "bottom-right"].map(String::from).to_vec();
    let mut metadata = taxa_core::BundleMetadata::with_labels(labels);
    metadata.preprocess = contract;
    let path = dir.join("quadrants.onnx");
    taxa_core::bundle::write_bundle(&path, g.build(), &metadata).expect("quadrant bundle written");
    path
}
