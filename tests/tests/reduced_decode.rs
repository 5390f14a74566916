//! jpeg-reduced-decode-drift (issue 24): the 1/4-scale JPEG decode is taken
//! only where it is as faithful to the full decode as Pillow's `draft()` at
//! the same scale, on real photos at native resolution, re-encoded in every
//! chroma subsampling, at every input size taxa trains (64–299).
//!
//! `bench/reduced_decode.py` makes the variants and Pillow's decodes and
//! runs `core/examples/reduced_fidelity.rs` (built with the workspace's
//! tests); the rows it writes are checked here.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The example beside this test's profile, built if `cargo test` did not.
fn example() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let path = profile_dir.join("examples/reduced_fidelity");
    if !path.exists() {
        let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cargo.current_dir(repo()).args(["build", "-p", "taxa-core", "--example", "reduced_fidelity"]);
        if profile_dir.ends_with("release") {
            cargo.arg("--release");
        }
        assert!(cargo.status().unwrap().success(), "building the reduced_fidelity example");
    }
    path
}

fn photos() -> Vec<PathBuf> {
    let case = repo().join("tests/field-cases/jpeg-reduced-decode-drift");
    let inat = std::env::var_os("TAXA_INAT_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| repo().join(".cache/inat-models"));
    let mut photos = vec![case.join("cham_1024x1280.jpg"), case.join("castle_439x292.jpg")];
    photos.extend(["cat_720p.jpg", "owl.jpg", "parrot.jpg"].map(|p| inat.join(p)));
    for p in &photos {
        assert!(p.is_file(), "{} missing (scripts/fetch-inat-models.sh fetches the iNaturalist photos)", p.display());
    }
    photos
}

#[test]
fn the_reduced_decode_is_taken_only_where_it_is_as_faithful_as_pillow_draft() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rows.json");
    let python = std::env::var("TAXA_PYTHON").unwrap_or_else(|_| "python3".into());
    let output = Command::new(&python)
        .arg(repo().join("bench/reduced_decode.py"))
        .arg("--example")
        .arg(example())
        .arg("--out")
        .arg(&out)
        .args(photos())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python} bench/reduced_decode.py: {e}"));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}\n{}", String::from_utf8_lossy(&output.stderr));
    eprintln!("{text}");
    let rows: Vec<Value> = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let number = |r: &Value, k: &str| r[k].as_f64().unwrap_or_else(|| panic!("{k} in {r}"));
    // Rows where decode_image_sized took the reduced decode at the scale the row compares.
    let used: Vec<&Value> = rows.iter().filter(|r| number(r, "used_reduction") > 1.0 && r["used_reduction"] == r["reduction"]).collect();
    let kinds = |rows: &[&Value]| rows.iter().map(|r| r["subsampling"].as_str().unwrap().to_string()).collect::<std::collections::BTreeSet<_>>();
    assert!(used.len() >= 20, "the reduced decode is still taken where it is faithful: {} pairs", used.len());
    assert_eq!(kinds(&used).into_iter().collect::<Vec<_>>(), ["4:2:2", "4:4:4", "grey"], "the subsamplings it is taken for");
    // Rounding of two different IDCTs: a hundredth of a level.
    let worse: Vec<String> = used
        .iter()
        .filter(|r| number(r, "taxa_mean") > number(r, "draft_mean") + 0.01)
        .map(|r| format!("{} at {}: taxa {} vs draft {}", r["photo"], r["size"], r["taxa_mean"], r["draft_mean"]))
        .collect();
    assert!(worse.is_empty(), "further from the full decode than Pillow's draft(): {worse:?}");
    // Where it is not faithful it is not taken: colour halved both ways, or no margin.
    for r in &rows {
        let taken = r["used_reduction"] == r["reduction"];
        if r["subsampling"] == "4:2:0" || number(r, "margin") < 1.125 {
            assert!(!taken, "taken where it is not faithful: {r}");
        }
    }
    // The field case's photos at their sizes: decoded in full now.
    for (photo, size) in [("cham_1024x1280.original.jpg", 224.0), ("castle_439x292.original.jpg", 64.0)] {
        let row = rows.iter().find(|r| r["photo"] == photo && number(r, "size") == size && number(r, "reduction") == 4.0).unwrap();
        assert_eq!((number(row, "used_reduction"), number(row, "used_mean")), (1.0, 0.0), "{row}");
    }
}
