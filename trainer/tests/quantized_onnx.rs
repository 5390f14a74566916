//! onnx-value-info-dynamic-batch, the rest of its kind (issue 24): the
//! models onnxruntime's quantizers write from a dynamic-batch export
//! (`tests/python/ort_quantize.py`: dynamic, static QDQ per tensor and per
//! channel, after `quant_pre_process`'s `value_info`) load and keep
//! onnxruntime's top-1 (graph optimisations off) with probabilities within
//! 0.02; the QOperator format, whose onnxruntime-only operators tract lacks,
//! is refused naming them, and `taxa inspect` does not call it classifiable.

use std::path::{Path, PathBuf};
use std::process::Command;

use taxa_core::{Classifier, DecodeLimits, PixelFormat, PixelsRef, decode_image_file};

fn case(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/field-cases/onnx-value-info-dynamic-batch").join(relative)
}

fn python() -> String {
    std::env::var("TAXA_PYTHON").unwrap_or_else(|_| "python".into())
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python").join(name)
}

/// onnxruntime's first output for `input` (NCHW float32), optimisations off.
fn onnxruntime(model: &Path, input: &[f32], dir: &Path) -> Vec<f64> {
    let raw = dir.join("input.f32");
    std::fs::write(&raw, input.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
    let output = Command::new(python())
        .arg(script("onnxruntime_reference.py"))
        .args(["--model", model.to_str().unwrap(), "--input", raw.to_str().unwrap(), "--shape", "1,3,224,224", "--no-optimizations"])
        .output()
        .expect("run python");
    assert!(output.status.success(), "onnxruntime failed:\n{}", String::from_utf8_lossy(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    json["output"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()
}

fn softmax(logits: &[f64]) -> Vec<f64> {
    let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let exp: Vec<f64> = logits.iter().map(|v| (v - max).exp()).collect();
    let sum: f64 = exp.iter().sum();
    exp.iter().map(|v| v / sum).collect()
}

fn argmax(values: &[f64]) -> usize {
    (0..values.len()).max_by(|&a, &b| values[a].total_cmp(&values[b])).unwrap()
}

fn inspect(model: &Path) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_taxa")).args(["inspect", "--json"]).arg(model).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn onnxruntime_quantized_models_score_as_onnxruntime_or_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let made = Command::new(python()).arg(script("ort_quantize.py")).arg(case("sq_op17_shapeinf.onnx")).arg(dir.path()).output().unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let labels = case("labels50.txt");
    let photo = decode_image_file(&case("small.jpg"), &DecodeLimits::default()).unwrap();
    let pixels = PixelsRef::new(photo.width(), photo.height(), PixelFormat::Rgb8, photo.as_raw()).unwrap();
    for (name, tolerance) in [("prepared", 1e-4), ("dynamic", 0.02), ("dynamic_per_channel", 0.02), ("static_qdq", 0.02), ("static_qdq_per_channel", 0.02)] {
        let model = dir.path().join(format!("{name}.onnx"));
        let classifier = Classifier::load_with_labels(&model, Some(&labels)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let input = classifier.preprocess(pixels).unwrap();
        let ours: Vec<f64> = classifier.infer(input.clone()).unwrap().iter().map(|&v| v as f64).collect();
        let theirs = softmax(&onnxruntime(&model, &input, dir.path()));
        assert_eq!(argmax(&ours), argmax(&theirs), "{name}: top-1");
        let worst = ours.iter().zip(&theirs).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(worst <= tolerance, "{name}: largest probability difference {worst}");
        println!("{name}: top-1 as onnxruntime's, largest probability difference {worst:.2e}");
        assert_eq!(inspect(&model)["classes"], 50, "{name}: inspect calls it classifiable");
    }
    // QOperator: QLinearConv runs in tract, but QLinearConcat and
    // QLinearGlobalAveragePool are onnxruntime's own operators.
    let qoperator = dir.path().join("static_qoperator.onnx");
    let Err(error) = Classifier::load_with_labels(&qoperator, Some(&labels)) else { panic!("the QOperator model loaded") };
    let error = error.to_string();
    assert!(error.contains("com.microsoft QLinearConcat (8 nodes)") && error.contains("QuantFormat.QDQ"), "{error}");
    let report = inspect(&qoperator);
    assert!(report["classes"].is_null() && report["problem"].as_str().unwrap().contains("QLinearConcat"), "{report}");
}
