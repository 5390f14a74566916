//! The `taxa` binary driven as a user drives it.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn taxa(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_taxa")).args(args).output().expect("taxa runs")
}

fn json_of(output: &Output) -> Value {
    assert!(output.status.success(), "taxa failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("valid JSON on stdout")
}

/// Writes the toy bundle (`demo-species.onnx`) and its photos (`photos/`) into `dir`.
fn demo(dir: &Path) {
    let (model, metadata) = taxa_trainer::toy_model::fit_bundle(8, 7).unwrap();
    taxa_core::bundle::write_bundle(&dir.join("demo-species.onnx"), model, &metadata).unwrap();
    std::fs::create_dir_all(dir.join("photos")).unwrap();
    taxa_trainer::toy_model::write_sample_photos(&dir.join("photos"), 7).unwrap();
}

#[test]
fn demo_synthesises_trains_exports_and_classifies() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let report = json_of(&taxa(&["demo", "--synthetic", "--out", out, "--species", "6", "--epochs", "4", "--show", "3", "--json"]));
    assert!(report["val_top1_error"].as_f64().unwrap() < 0.7, "learns something in 4 epochs: {report}");
    let photos = report["photos"].as_array().unwrap();
    assert_eq!(photos.len(), 3);
    for photo in photos {
        assert_eq!(photo["predictions"].as_array().unwrap().len(), 5, "{photo}");
        assert!(photo["predictions"][0]["taxonomy"]["genus"].is_string(), "taxonomy from the categories: {photo}");
    }
    for file in ["run/best.onnx", "run/final.onnx", "run/metrics.jsonl", "run/curves.png", "synth/train2019.json"] {
        assert!(dir.path().join(file).exists(), "{file}");
    }
}

#[test]
fn classify_reports_bad_images_and_still_classifies_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    demo(dir.path());
    let bundle = dir.path().join("demo-species.onnx");
    let good = dir.path().join("photos/hyla_arborea.jpg");
    let broken = dir.path().join("broken.jpg");
    std::fs::write(&broken, b"\xff\xd8\xff\xe0 truncated").unwrap();
    let missing = dir.path().join("missing.png");
    let args = [
        "classify", "--model", bundle.to_str().unwrap(), good.to_str().unwrap(), broken.to_str().unwrap(),
        missing.to_str().unwrap(), "--top-k", "3", "--json",
    ];
    let output = taxa(&args);
    assert!(!output.status.success(), "a failed image must fail the run");
    let results: Value = serde_json::from_slice(&output.stdout).unwrap();
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["predictions"].as_array().unwrap().len(), 3);
    assert_eq!(results[0]["predictions"][0]["label"], "Hyla arborea");
    assert_eq!(results[0]["predictions"][0]["taxonomy"]["family"], "Hylidae");
    // A JPEG cut inside its header: refused as truncated (issue 9), not called corrupt.
    assert!(results[1]["error"].as_str().unwrap().contains("truncated"), "{}", results[1]);
    assert_eq!(results[1]["error_kind"], "image_truncated");
    assert!(results[2]["error"].as_str().unwrap().contains("missing.png"), "{}", results[2]);

    // Text output, allow-list by a higher taxon.
    let output = taxa(&["classify", "-m", bundle.to_str().unwrap(), good.to_str().unwrap(), "--allow", "Plantae"]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let predictions: Vec<&str> = text.lines().skip(1).filter(|l| l.contains('%')).collect();
    assert!(!predictions.is_empty() && predictions.len() <= 2, "{text}");
    assert!(predictions.iter().all(|l| l.contains("Taraxacum") || l.contains("Myosotis")), "{text}");
}

#[test]
fn inspect_prints_the_bundle_metadata() {
    let dir = tempfile::tempdir().unwrap();
    demo(dir.path());
    let bundle = dir.path().join("demo-species.onnx");
    let info = json_of(&taxa(&["inspect", bundle.to_str().unwrap(), "--json"]));
    assert_eq!(info["classes"], 6);
    assert_eq!(info["taxonomy"][3]["order"], "Coleoptera");
    assert_eq!(info["preprocess"]["crop"]["width"], 96);
    assert!(info["provenance"]["dataset"].as_str().unwrap().contains("toy renders"));
    let text = String::from_utf8(taxa(&["inspect", bundle.to_str().unwrap()]).stdout).unwrap();
    assert!(text.contains("Animalia > Arthropoda > Insecta > Coleoptera"), "{text}");

    let not_a_model = dir.path().join("photos/hyla_arborea.jpg");
    let output = taxa(&["inspect", not_a_model.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("hyla_arborea.jpg"));
}

#[test]
fn bench_reports_stage_medians() {
    let dir = tempfile::tempdir().unwrap();
    demo(dir.path());
    let bundle = dir.path().join("demo-species.onnx");
    let report = json_of(&taxa(&["bench", "--model", bundle.to_str().unwrap(), "--runs", "5", "--warmup", "1", "--json"]));
    assert_eq!((report["image_width"].as_u64(), report["image_height"].as_u64()), (Some(800), Some(800)));
    // The toy bundle's contract resizes to 110 (96 / 224 × 256): 800 / 4 = 200 ≥ 110, so the JPEG is decoded at 1/4.
    assert_eq!(report["decode_reduction"].as_u64(), Some(4), "{report}");
    assert!(report.get("profile").is_none(), "no profile unless asked: {report}");
    for key in ["load_ms", "decode_ms", "preprocess_ms", "inference_ms", "total_ms"] {
        assert!(report[key].as_f64().unwrap() > 0.0, "{key}: {report}");
    }
    let parts: f64 = ["decode_ms", "preprocess_ms", "inference_ms"].iter().map(|k| report[*k].as_f64().unwrap()).sum();
    assert!(parts <= report["total_ms"].as_f64().unwrap() * 1.5, "{report}");
}

#[test]
fn threads_per_image_change_no_answer_and_bench_reports_them_and_the_load_phases() {
    let dir = tempfile::tempdir().unwrap();
    demo(dir.path());
    let bundle = dir.path().join("demo-species.onnx");
    let photos: Vec<String> = std::fs::read_dir(dir.path().join("photos")).unwrap().map(|e| e.unwrap().path().display().to_string()).collect();
    let classify = |threads: &str| {
        let mut args = vec!["classify", "-m", bundle.to_str().unwrap(), "--threads", threads, "--json"];
        args.extend(photos.iter().map(String::as_str));
        json_of(&taxa(&args))
    };
    let (one, two) = (classify("1"), classify("2"));
    assert_eq!(one.as_array().unwrap().len(), photos.len());
    for (a, b) in one.as_array().unwrap().iter().zip(two.as_array().unwrap()) {
        let labels = |r: &Value| r["predictions"].as_array().unwrap().iter().map(|p| p["label"].clone()).collect::<Vec<_>>();
        assert_eq!(labels(a), labels(b), "{a} against {b}");
        for (p, q) in a["predictions"].as_array().unwrap().iter().zip(b["predictions"].as_array().unwrap()) {
            assert!((p["score"].as_f64().unwrap() - q["score"].as_f64().unwrap()).abs() < 1e-5, "{p} against {q}");
        }
    }
    let zero = taxa(&["classify", "-m", bundle.to_str().unwrap(), "--threads", "0", &photos[0]]);
    assert!(!zero.status.success() && String::from_utf8_lossy(&zero.stderr).contains("threads must be at least 1"), "{zero:?}");

    let report = json_of(&taxa(&["bench", "--model", bundle.to_str().unwrap(), "--runs", "3", "--warmup", "1", "--threads", "2", "--json"]));
    assert_eq!(report["threads"].as_u64(), Some(2), "{report}");
    let phases: Vec<&str> = report["load_phases"].as_array().unwrap().iter().map(|p| p["phase"].as_str().unwrap()).collect();
    assert_eq!(phases, ["read", "checks", "onnx rewrites", "parse", "type", "kernels", "declutter", "codegen", "plan", "outputs"], "{report}");
}

#[test]
fn bench_profile_lists_nodes_with_shapes_and_times() {
    let dir = tempfile::tempdir().unwrap();
    demo(dir.path());
    let bundle = dir.path().join("demo-species.onnx");
    let model = bundle.to_str().unwrap();
    let report = json_of(&taxa(&["bench", "--model", model, "--runs", "3", "--warmup", "1", "--profile", "--json"]));
    let profile = &report["profile"];
    let nodes = profile["nodes"].as_array().expect("profile.nodes");
    assert!(!nodes.is_empty(), "{report}");
    assert!(profile["total_ms"].as_f64().unwrap() > 0.0, "{report}");
    // Slowest first, every node with its operator and shapes.
    let times: Vec<f64> = nodes.iter().map(|n| n["median_ms"].as_f64().unwrap()).collect();
    assert!(times[0] > 0.0 && times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    for node in nodes {
        assert!(!node["op"].as_str().unwrap().is_empty(), "{node}");
        assert!(!node["output_shapes"].as_array().unwrap().is_empty(), "{node}");
    }
    // The model input reaches the node that reads it with the contract's shape (the toy bundle's is 96×96).
    let input_shape = serde_json::json!([1, 3, 96, 96]);
    assert!(nodes.iter().any(|n| n["input_shapes"].as_array().unwrap().contains(&input_shape)), "{report}");
    // Text: a table of the slowest nodes, with their shapes.
    let output = taxa(&["bench", "--model", model, "--runs", "3", "--warmup", "1", "--profile", "--top", "2"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("profile:") && text.contains("the 2 slowest"), "{text}");
    let top = &nodes[0];
    let line = text.lines().find(|l| l.contains(top["name"].as_str().unwrap())).unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains(top["op"].as_str().unwrap()) && line.contains('['), "{line}");
}

#[test]
fn devices_reports_the_torch_build() {
    let info = json_of(&taxa(&["devices", "--json"]));
    assert!(info["cuda_available"].is_boolean());
    assert!(info["cpu_threads"].as_i64().unwrap() >= 1);
}
