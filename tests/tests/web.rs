//! The web app (web/dist/, built by `scripts/web.sh`) as a field researcher
//! meets it: headless Chromium drives the page (tests/web/test_web.py), and
//! every real photo must get the species native taxa gives it on the same
//! bundle, within 0.02 (browsers decode a little differently).

use std::path::PathBuf;
use std::process::Command;

use taxa_core::{Classifier, ClassifyOptions};
use taxa_integration_tests::repo_root;

/// The real photos and which of the site's models names each: four birds
/// (the cat is `background`) and a dragonfly for the insect model.
const PHOTOS: [(&str, &str); 5] =
    [("owl.jpg", "bird"), ("parrot.jpg", "bird"), ("bird.bmp", "bird"), ("cat_720p.jpg", "bird"), ("dragonfly.bmp", "insect")];

fn dist() -> PathBuf {
    let dist = std::env::var_os("TAXA_WEB_DIST").map(PathBuf::from).unwrap_or_else(|| repo_root().join("web/dist"));
    assert!(dist.join("taxa_wasm_bg.wasm").is_file(), "{} has no built site: run scripts/web.sh first (scripts/test.sh does)", dist.display());
    dist
}

fn photos() -> PathBuf {
    let dir = std::env::var_os("TAXA_INAT_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".cache/inat-models"));
    assert!(dir.join("owl.jpg").is_file(), "{} has no iNaturalist photos: run scripts/fetch-inat-models.sh", dir.display());
    dir
}

#[test]
fn web_app_names_species_offline_in_headless_chromium() {
    let (dist, photos) = (dist(), photos());
    let mut native = serde_json::Map::new();
    for (photo, model) in PHOTOS {
        let bundle = dist.join(format!("models/inat_{model}.onnx"));
        let classifier = Classifier::load(&bundle).unwrap_or_else(|e| panic!("{}: {e}", bundle.display()));
        let top = classifier.classify_file(photos.join(photo), &ClassifyOptions::default()).unwrap().predictions.remove(0);
        native.insert(
            photo.into(),
            serde_json::json!({"model": model, "label": top.label, "score": top.score, "common_name": top.taxonomy.common_name}),
        );
    }
    assert_eq!(native["owl.jpg"]["label"], "Athene cunicularia", "native taxa names the owl: {native:?}");
    let dir = tempfile::tempdir().unwrap();
    let native_file = dir.path().join("native.json");
    std::fs::write(&native_file, serde_json::to_vec_pretty(&native).unwrap()).unwrap();
    let report = dir.path().join("report.json");
    let python = std::env::var("TAXA_PYTHON").unwrap_or_else(|_| "python3".into());
    let output = Command::new(&python)
        .arg(repo_root().join("tests/web/test_web.py"))
        .arg("--dist")
        .arg(&dist)
        .arg("--photos")
        .arg(&photos)
        .arg("--native")
        .arg(&native_file)
        .arg("--json-out")
        .arg(&report)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python} tests/web/test_web.py: {e}"));
    let log = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the browser test failed:\n{log}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let names: Vec<&str> = report["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    // The checks, each run and passed (a check that did not run is not a pass).
    for wanted in ["a species owl.jpg", "b broken photo", "c offline", "d bad bundle", "e wasm panic", "f live camera", "g installable"] {
        assert!(names.iter().any(|n| n.starts_with(wanted)), "no check {wanted:?} in {names:?}\n{log}");
    }
    assert_eq!(report["failed"], 0, "{log}");
}
