//! The classify and inspect commands of each CASE.md in `tests/field-cases/`,
//! run as written there, and every file of every case through `classify`:
//! right scores or the typed error, and never a panic (exit 101).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn cases() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/field-cases")
}

/// Runs `taxa` in a case's folder, as the CASE.md commands are run.
fn taxa_in(case: &str, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_taxa")).current_dir(cases().join(case)).args(args).output().expect("taxa runs");
    assert_ne!(output.status.code(), Some(101), "taxa panicked on {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output
}

fn json(output: &Output) -> Vec<Value> {
    serde_json::from_slice::<Value>(&output.stdout).expect("JSON on stdout").as_array().expect("an array").clone()
}

fn score(result: &Value, label: &str) -> f64 {
    result["predictions"].as_array().unwrap().iter().find(|p| p["label"] == label).unwrap_or_else(|| panic!("{label} in {result}"))
        ["score"]
        .as_f64()
        .unwrap()
}

#[test]
fn a_panicking_decoder_costs_one_image_of_the_batch() {
    let probe = ["classify", "--model", "probe_rgb_mean.onnx", "--labels", "probe_labels.txt", "--top-k", "3", "--json"];
    let output = taxa_in("tiff-planar-panic", &[&probe[..], &["cat.jpg", "planar_tiled_8bit_deflate.tif", "coffee.jpg"]].concat());
    let results = json(&output);
    assert_eq!(results.len(), 3);
    assert!((score(&results[0], "R") - 0.5085).abs() < 0.005, "{}", results[0]);
    assert!((score(&results[2], "R") - 0.6497).abs() < 0.005, "{}", results[2]);
    assert!(output.stderr.is_empty() || !String::from_utf8_lossy(&output.stderr).contains("panicked"), "a panic message reached the user");
    match results[1]["error_kind"].as_str() {
        Some(kind) => {
            assert_eq!(kind, "unsupported_image_feature");
            assert_eq!(output.status.code(), Some(1));
        }
        None => assert!((score(&results[1], "G") - 0.4153).abs() < 0.005, "{}", results[1]),
    }
}

#[test]
fn refusals_carry_their_kind_and_the_real_size() {
    let probe = ["classify", "--model", "probe_rgb_mean.onnx", "--labels", "probe_labels.txt", "--top-k", "1", "--json"];
    let files = ["png_25000x100.png", "jpeg_sof_60000x60000.jpg", "tiff_30000x10.tif", "gif_30000x10.gif", "bmp_30000x10.bmp"];
    let output = taxa_in("size-limit-message", &[&probe[..], &files].concat());
    assert_eq!(output.status.code(), Some(1));
    for (result, (w, h)) in json(&output).iter().zip([(25000, 100), (60000, 60000), (30000, 10), (30000, 10), (30000, 10)]) {
        assert_eq!(result["error_kind"], "image_too_large", "{result}");
        assert_eq!((result["width"].as_u64(), result["height"].as_u64()), (Some(w), Some(h)), "{result}");
    }

    let output = taxa_in("jpeg-arithmetic", &["classify", "--model", "probe_rgb_mean.onnx", "--labels", "probe_labels.txt", "--json", "testimgari.jpg"]);
    let result = &json(&output)[0];
    assert_eq!(result["error_kind"], "unsupported_image_feature", "{result}");
    assert!(!result["error"].as_str().unwrap().contains("corrupt"), "{result}");
}

#[test]
fn truncated_photos_are_refused_unless_allowed() {
    let probe = ["classify", "--model", "probe_rgb_mean.onnx", "--labels", "probe_labels.txt", "--json", "coffee_full.jpg", "coffee_cut40.jpg"];
    let output = taxa_in("truncated-jpeg-silent", &probe);
    assert_eq!(output.status.code(), Some(1));
    let results = json(&output);
    assert!(results[0]["predictions"].is_array());
    assert_eq!(results[1]["error_kind"], "image_truncated", "{}", results[1]);

    let output = taxa_in("truncated-jpeg-silent", &[&probe[..], &["--allow-truncated"]].concat());
    assert!(output.status.success());
    let results = json(&output);
    assert_eq!(results[1]["truncated"], true, "{}", results[1]);
    assert!(results[0].get("truncated").is_none(), "{}", results[0]);
    let text = taxa_in("truncated-jpeg-silent", &["classify", "--model", "probe_rgb_mean.onnx", "--labels", "probe_labels.txt", "--allow-truncated", "coffee_cut40.jpg"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("truncated"), "the text output warns");
}

#[test]
fn plain_onnx_models_are_run_as_they_declare() {
    for (case, model, labels, top, expected) in [
        ("onnx-external-data", "ext_tiny.onnx", "labels3.txt", "R", 0.9967),
        ("onnx-final-softmax", "softmax_tiny.onnx", "labels3.txt", "R", 0.9967),
        ("onnx-nhwc", "nhwc_keras_head.onnx", "labels3.txt", "R", 0.9967),
        ("onnx-declared-input-299", "size299_probe.onnx", "labels2.txt", "height_over_100", 0.9521),
    ] {
        let output = taxa_in(case, &["classify", "--model", model, "--labels", labels, "--json", "cat.jpg"]);
        assert!(output.status.success(), "{case}: {}", String::from_utf8_lossy(&output.stderr));
        let got = score(&json(&output)[0], top);
        assert!((got - expected).abs() < 0.001, "{case}: {got} vs {expected}");
        // inspect says what it read.
        let inspect = taxa_in(case, &["inspect", model, "--json"]);
        let report: Value = serde_json::from_slice(&inspect.stdout).unwrap();
        assert!(report["declared_input"].is_string() && report["inferred_preprocess"].is_object(), "{case}: {report}");
    }
    let inspect = taxa_in("onnx-final-softmax", &["inspect", "softmax_tiny.onnx", "--json"]);
    let report: Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(report["inferred_output"], "probabilities");
    let inspect = taxa_in("onnx-external-data", &["inspect", "ext_tiny.onnx", "--json"]);
    let report: Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(report["external_data"][0], "ext_tiny.onnx.data");
}

#[test]
fn every_field_case_file_is_classified_or_refused_without_a_panic() {
    let mut images = Vec::new();
    let mut stack = vec![cases()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().and_then(|e| e.to_str()).is_none_or(|e| {
                // Every photo-like name: any case, HEIC and AVIF, and files with no extension.
                let e = e.to_ascii_lowercase();
                ["jpg", "jpeg", "jpe", "jfif", "png", "webp", "gif", "bmp", "tif", "tiff", "heic", "avif", "aae"].contains(&e.as_str())
            }) {
                images.push(path);
            }
        }
    }
    images.sort();
    assert!(images.len() > 100, "{} images", images.len());
    let model = cases().join("jpeg-arithmetic/probe_rgb_mean.onnx");
    let labels = cases().join("jpeg-arithmetic/probe_labels.txt");
    let mut args: Vec<String> = vec!["classify".into(), "--model".into(), model.display().to_string(), "--labels".into(), labels.display().to_string(), "--json".into()];
    args.extend(images.iter().map(|p| p.display().to_string()));
    let output = Command::new(env!("CARGO_BIN_EXE_taxa")).env_remove("TAXA_DEBUG_PANICS").args(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(output.status.code(), Some(101), "{stderr}");
    assert!(!stderr.contains("panicked"), "a panic message reached the user: {stderr}");
    let results = json(&output);
    assert_eq!(results.len(), images.len(), "one result per image, in order");
    for result in &results {
        let known = result["predictions"].is_array() || result["error_kind"].is_string();
        assert!(known, "{result}");
    }
}

// --- labels-bom: names as a person reads them; a name that matches nothing ---

#[test]
fn deny_matches_the_label_a_person_sees_and_unknown_names_are_usage_errors() {
    let grid = ["classify", "--model", "probe_grid.onnx", "--labels", "grid_bom.txt", "--top-k", "49", "--json"];
    let output = taxa_in("labels-bom", &[&grid[..], &["--deny", "p0", "small.jpg"]].concat());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let predictions = json(&output)[0]["predictions"].as_array().unwrap().clone();
    assert_eq!(predictions.len(), 48);
    assert!(predictions.iter().all(|p| p["label"] != "p0" && !p["label"].as_str().unwrap().starts_with('\u{feff}')));
    let output = taxa_in("labels-bom", &[&grid[..], &["--allow", "Rana", "small.jpg"]].concat());
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("`Rana`"), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.stdout.is_empty());
}

// --- cli-json-non-utf8-filename: one odd name never loses the batch's JSON ---

#[cfg(unix)]
#[test]
fn a_non_utf8_file_name_keeps_the_batch_json() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let case = cases().join("cli-json-non-utf8-filename");
    let odd = dir.path().join(std::ffi::OsStr::from_bytes(b"latin1_\xe9t\xe9.jpg"));
    if std::fs::copy(case.join("latin1-src.jpg"), &odd).is_err() {
        eprintln!("this file system refuses non-UTF-8 names; nothing to check");
        return;
    }
    let model = cases().join("tiff-planar-panic/probe_rgb_mean.onnx");
    let labels = cases().join("tiff-planar-panic/probe_labels.txt");
    let output = Command::new(env!("CARGO_BIN_EXE_taxa"))
        .args(["classify", "--json", "--model"])
        .arg(&model)
        .arg("--labels")
        .arg(&labels)
        .arg(&odd)
        .arg(case.join("small.jpg"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let results = json(&output);
    assert_eq!(results.len(), 2);
    assert!(results[0]["predictions"].is_array() && results[1]["predictions"].is_array());
    assert!(results[0]["image"].as_str().unwrap().ends_with("latin1_\u{fffd}t\u{fffd}.jpg"), "{}", results[0]);
    let bytes: Vec<u8> = results[0]["image_bytes"].as_array().unwrap().iter().map(|b| b.as_u64().unwrap() as u8).collect();
    assert_eq!(bytes, odd.as_os_str().as_bytes());
    assert!(results[1].get("image_bytes").is_none());
}
