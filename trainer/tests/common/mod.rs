//! Helpers shared by the trainer's integration tests.
#![allow(dead_code)]

pub mod lite;

use std::path::{Path, PathBuf};
use std::process::Command;

use tch::{Kind, Tensor};

/// tests/python/torchvision_reference.py in the project's Python.
pub fn python(args: &[&str]) -> String {
    run_python("torchvision_reference.py", args)
}

/// Runs a script of tests/python/ in the project's Python (scripts/env.sh
/// puts its venv first on PATH) and returns its stdout.
pub fn run_python(script: &str, args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python").join(script);
    let python = std::env::var("TAXA_PYTHON").unwrap_or_else(|_| "python".into());
    let output = Command::new(&python)
        .arg(&script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python} (run the tests through scripts/test.sh): {e}"));
    assert!(output.status.success(), "{script:?} {args:?} failed (scripts/test.sh installs the peers):\n{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// max |a − b| / max |b|: the error relative to the logits' scale.
pub fn relative_error(a: &Tensor, b: &Tensor) -> f64 {
    let a = a.to_kind(Kind::Double);
    let b = b.to_kind(Kind::Double);
    let diff = (&a - &b).abs().max().double_value(&[]);
    let scale = b.abs().max().double_value(&[]).max(1e-12);
    diff / scale
}

pub fn tensor_from_safetensors(path: &PathBuf, name: &str) -> Tensor {
    Tensor::read_safetensors(path).unwrap().into_iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name} in {path:?}")).1
}

/// Gives every BatchNorm random statistics and affine parameters, so that
/// parity and folding are tested on more than the identity.
pub fn randomise_batch_norm(net: &taxa_trainer::models::Network, seed: i64) {
    tch::manual_seed(seed);
    tch::no_grad(|| {
        for p in net.spec().parameters() {
            let mut t = net.param(&p.name).unwrap().shallow_clone();
            if p.name.ends_with("running_var") {
                let _ = t.uniform_(0.5, 1.5);
            } else if p.name.ends_with("running_mean") {
                t.copy_(&(Tensor::randn_like(&t) * 0.1));
            } else if p.shape.len() == 1 && p.name.ends_with("weight") {
                let _ = t.uniform_(0.5, 1.5);
            } else if p.shape.len() == 1 && p.name.ends_with("bias") {
                t.copy_(&(Tensor::randn_like(&t) * 0.1));
            }
        }
    });
}
