//! `taxa import` on real iNaturalist classifiers (Coral's MobileNetV2 bird
//! and insect models, uint8 TFLite) and on small TFLite models written here
//! (float32 and int8, the operators MobileNet, EfficientNet-Lite and Model
//! Maker classifiers use), each scored against LiteRT (`ai-edge-litert`, the
//! runtime under MediaPipe) on the same input; plus the failures a user
//! meets: a cut-short file, an operator taxa lacks, labels that do not match.

#[path = "import/builder.rs"]
mod builder;

use std::path::{Path, PathBuf};
use std::process::Command;

use builder::{Quant, TfliteBuilder, values};
use taxa_core::PixelFormat;
use taxa_core::{Classifier, DecodeLimits, PixelsRef, decode_image_file};
use taxa_trainer::import::{ContractChoices, ImportError, ImportOptions, import_file, import_tflite};
use tract_tflite::tflite::{ActivationFunctionType as Act, BuiltinOperator as Op, BuiltinOptions, Padding, TensorType};

const BIRD: &str = "mobilenet_v2_1.0_224_inat_bird_quant.tflite";
const INSECT: &str = "mobilenet_v2_1.0_224_inat_insect_quant.tflite";

/// The shared models and photos: `TAXA_INAT_MODELS_DIR`, else the cache
/// `scripts/fetch-inat-models.sh` fills (the test command runs it first).
fn models_dir() -> PathBuf {
    let dir = std::env::var_os("TAXA_INAT_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cache/inat-models"));
    assert!(dir.join(BIRD).is_file(), "{} lacks the iNaturalist models: run scripts/fetch-inat-models.sh", dir.display());
    dir
}

fn taxa() -> Command {
    Command::new(env!("CARGO_BIN_EXE_taxa"))
}

fn python() -> String {
    std::env::var("TAXA_PYTHON").unwrap_or_else(|_| "python".into())
}

/// LiteRT's real-valued output for `pixels` (raw H×W×3 bytes) through `model`.
fn litert(model: &Path, pixels: &[u8], dir: &Path) -> Vec<f64> {
    let raw = dir.join("pixels.rgb");
    std::fs::write(&raw, pixels).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python/litert_reference.py");
    let output = Command::new(python())
        .arg(script)
        .args(["--model", model.to_str().unwrap(), "--pixels", raw.to_str().unwrap()])
        .output()
        .expect("run python (scripts/test.sh puts the project's venv first on PATH)");
    assert!(output.status.success(), "LiteRT failed (scripts/test.sh installs ai-edge-litert):\n{}", String::from_utf8_lossy(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    json["scores"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()
}

fn argmax(values: impl IntoIterator<Item = f64>) -> usize {
    values.into_iter().enumerate().fold((0, f64::NEG_INFINITY), |best, (i, v)| if v > best.1 { (i, v) } else { best }).0
}

fn import_to(model: &Path, out: &Path) {
    let output = taxa().args(["import", model.to_str().unwrap(), "--out", out.to_str().unwrap(), "--license", "Apache-2.0"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn shared_models_import_with_the_labels_in_their_metadata() {
    let dir = models_dir();
    let tmp = tempfile::tempdir().unwrap();
    for (model, classes, labels_file) in [(BIRD, 965, "inat_bird_labels.txt"), (INSECT, 1022, "inat_insect_labels.txt")] {
        let out = tmp.path().join("m.onnx");
        let output = taxa().args(["import", dir.join(model).to_str().unwrap(), "--out", out.to_str().unwrap(), "--json"]).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(report["report"]["classes"], classes, "{report}");
        assert_eq!(report["report"]["labels_from"], format!("{labels_file} (in the model)"));
        assert_eq!(report["report"]["non_taxa"], serde_json::json!(["background"]));
        assert_eq!(report["report"]["species_labels"], true);
        assert_eq!(report["preprocess"]["input_type"], "uint8");
        assert_eq!(report["preprocess"]["resize"], serde_json::json!({"policy": "stretch", "width": 224, "height": 224}));
        // Bundle format 2 (uint8 input); weights kept 8-bit: the bundle stays near the .tflite's size.
        let tflite = std::fs::metadata(dir.join(model)).unwrap().len() as f64;
        let bundle = std::fs::metadata(&out).unwrap().len() as f64;
        assert!(bundle < tflite * 1.1, "{bundle} bytes for a {tflite}-byte model");
        // ONNX values are named once: onnxruntime warns on a repeated initializer.
        let proto = taxa_core::bundle::read_model(&out).unwrap();
        let graph = proto.graph.as_ref().unwrap();
        let mut names: Vec<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "{model}: an initializer is written more than once");

        let classifier = Classifier::load(&out).unwrap();
        let m = classifier.metadata();
        // The bundle's labels are the file's, in order, each read as a name.
        let file: Vec<String> = std::fs::read_to_string(dir.join(labels_file)).unwrap().lines().map(str::to_string).collect();
        assert_eq!(m.labels.len(), file.len());
        for (label, line) in m.labels.iter().zip(&file) {
            let parsed = taxa_core::labels::SpeciesLabel::parse(line).unwrap();
            assert_eq!(label, &parsed.scientific_name, "{line}");
        }
        assert_eq!(m.non_taxa, vec![classes - 1]);
        assert_eq!(m.provenance.as_ref().unwrap().extra.get("license").map(String::as_str), None, "no --license given");
    }
}

/// Every line of the shipped label files (bird, insect, and the plant model's) reads as a name.
#[test]
fn every_line_of_the_label_files_parses() {
    let dir = models_dir();
    let mut trinomials = 0;
    let mut hybrids = 0;
    let mut nested = 0;
    let mut no_common_name = 0;
    for file in ["inat_bird_labels.txt", "inat_insect_labels.txt", "inat_plant_labels.txt"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        for (n, line) in text.lines().enumerate() {
            let label = taxa_core::labels::SpeciesLabel::parse(line).unwrap_or_else(|| panic!("{file}:{}: `{line}`", n + 1));
            let name = &label.scientific_name;
            let t = &label.taxonomy;
            assert!(!name.contains(['(', ')']) && !name.contains("\\x") && !name.contains("  "), "{file}:{}: {name}", n + 1);
            if line == "background" {
                assert_eq!((name.as_str(), t.ranks.genus.as_deref()), ("background", None));
                continue;
            }
            let words: Vec<&str> = name.split(' ').collect();
            assert!(words.len() >= 2, "{file}:{}: {name}", n + 1);
            assert_eq!(t.ranks.genus.as_deref(), Some(words[0]), "{file}:{}", n + 1);
            if name.contains('×') {
                hybrids += 1;
                assert_eq!(&t.species, name);
            } else {
                assert_eq!(t.species, format!("{} {}", words[0], words[1]), "{file}:{}", n + 1);
                trinomials += (words.len() == 3) as usize;
            }
            match &t.common_name {
                None => {
                    no_common_name += 1;
                    assert!(line.ends_with("()"), "{file}:{}: `{line}`", n + 1);
                }
                Some(common) => {
                    assert_eq!(common.matches('(').count(), common.matches(')').count(), "{file}:{}", n + 1);
                    nested += common.contains('(') as usize;
                    assert!(!common.contains("\\x"));
                }
            }
        }
    }
    // The untidy kinds the issue names all occur, and were all read.
    assert!(trinomials > 50 && hybrids >= 2 && nested >= 2 && no_common_name > 10, "{trinomials} {hybrids} {nested} {no_common_name}");
    let bird = std::fs::read_to_string(dir.join("inat_bird_labels.txt")).unwrap();
    let line = bird.lines().find(|l| l.starts_with("Anas superciliosa \\xd7")).unwrap();
    let hybrid = taxa_core::labels::SpeciesLabel::parse(line).unwrap();
    assert_eq!(hybrid.scientific_name, "Anas superciliosa × platyrhynchos");
    assert_eq!(hybrid.taxonomy.common_name.as_deref(), Some("Pacific Black Duck × Mallard hybrid"));
}

/// taxa-core against LiteRT on the same uint8 tensor: the whole photo
/// resized to 224 by taxa's contract.
#[test]
fn taxa_matches_litert_on_the_real_models() {
    let dir = models_dir();
    let tmp = tempfile::tempdir().unwrap();
    let bird = tmp.path().join("bird.onnx");
    let insect = tmp.path().join("insect.onnx");
    import_to(&dir.join(BIRD), &bird);
    import_to(&dir.join(INSECT), &insect);
    // (model, photo, what LiteRT names it on a Pillow-resized tensor: the shared README's table)
    let pairs = [
        (BIRD, &bird, "bird.bmp", "Poecile atricapillus"),
        (BIRD, &bird, "owl.jpg", "Athene cunicularia"),
        (BIRD, &bird, "parrot.jpg", "Ara macao"),
        (BIRD, &bird, "cat_720p.jpg", "background"),
        (INSECT, &insect, "dragonfly.bmp", "Micrathyria hagenii"),
    ];
    let mut report = Vec::new();
    for (tflite, bundle, photo, expected) in pairs {
        let classifier = Classifier::load(bundle).unwrap();
        let contract = &classifier.metadata().preprocess;
        let image = decode_image_file(&dir.join(photo), &DecodeLimits::default()).unwrap();
        let pixels = PixelsRef::new(image.width(), image.height(), PixelFormat::Rgb8, image.as_raw()).unwrap();
        let (resized, w, h) = contract.resize_to_input(pixels).unwrap();
        assert_eq!((w, h), (224, 224));
        let ours = classifier.infer(classifier.preprocess(PixelsRef::new(w, h, PixelFormat::Rgb8, &resized).unwrap()).unwrap()).unwrap();
        let theirs = litert(&dir.join(tflite), &resized, tmp.path());
        assert_eq!(ours.len(), theirs.len());
        let (top_ours, top_theirs) = (argmax(ours.iter().map(|&v| v as f64)), argmax(theirs.iter().copied()));
        let label = &classifier.metadata().labels[top_ours];
        report.push(format!("{photo}: taxa {label} {:.3}, LiteRT {:.3}", ours[top_ours], theirs[top_theirs]));
        assert_eq!(top_ours, top_theirs, "{photo}: taxa says {label}, LiteRT {}", classifier.metadata().labels[top_theirs]);
        assert_eq!(label, expected, "{photo}");
        assert!((ours[top_ours] as f64 - theirs[top_theirs]).abs() <= 0.05, "{photo}: {}", report.last().unwrap());
    }
    println!("{}", report.join("\n"));
}

/// What a field researcher sees: species with common names, the genus when
/// unsure, and "no species recognised" for the cat shown to the bird model.
#[test]
fn classify_names_species_and_says_when_there_is_none() {
    let dir = models_dir();
    let tmp = tempfile::tempdir().unwrap();
    let bird = tmp.path().join("bird.onnx");
    import_to(&dir.join(BIRD), &bird);
    let output = taxa().args(["classify", "--model", bird.to_str().unwrap(), "--top-k", "3"]).arg(dir.join("owl.jpg")).arg(dir.join("bird.bmp")).arg(dir.join("cat_720p.jpg")).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("Athene cunicularia (Burrowing Owl)"), "{text}");
    assert!(text.contains("roll-up: genus Poecile"), "the chickadee is sure of its genus only:\n{text}");
    let cat = &text[text.find("cat_720p.jpg").unwrap()..];
    assert!(cat.contains("no species recognised"), "{text}");
    assert!(!text[..text.find("cat_720p.jpg").unwrap()].contains("no species recognised"), "{text}");

    let output = taxa().args(["classify", "--model", bird.to_str().unwrap(), "--json"]).arg(dir.join("cat_720p.jpg")).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let best = &json[0]["predictions"][0];
    assert_eq!((best["label"].as_str(), best["is_taxon"].as_bool()), (Some("background"), Some(false)), "{json}");
    assert_eq!(json[0]["predictions"][1]["is_taxon"], true);
    assert!(json[0]["predictions"][1]["taxonomy"]["common_name"].is_string(), "{json}");
}

#[test]
fn broken_models_are_typed_errors_never_panics() {
    let dir = models_dir();
    let tmp = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(dir.join(BIRD)).unwrap();
    let options = ImportOptions::default();

    // Cut short (an interrupted download), at several points.
    for fraction in [0.02, 0.3, 0.6, 0.95] {
        let cut = &bytes[..(bytes.len() as f64 * fraction) as usize];
        match import_tflite(cut, "cut.tflite", &options) {
            Err(ImportError::Damaged(_)) => {}
            other => panic!("{fraction}: {:?}", other.map(|_| ())),
        }
    }
    let cut = tmp.path().join("cut.tflite");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let output = taxa().args(["import", cut.to_str().unwrap(), "--out", tmp.path().join("x.onnx").to_str().unwrap()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cut.tflite") && stderr.contains("damaged or truncated"), "{stderr}");
    assert!(!stderr.contains("panicked") && !tmp.path().join("x.onnx").exists(), "{stderr}");

    // Not a model at all.
    let text = tmp.path().join("notes.tflite");
    std::fs::write(&text, "just some text").unwrap();
    assert!(matches!(import_file(&text, &options), Err(ImportError::UnknownFormat(_))));

    // A labels file of the wrong length, given or inside the model.
    let short = tmp.path().join("short.txt");
    std::fs::write(&short, "Rana temporaria\nRana arvalis\n").unwrap();
    let err = import_file(&dir.join(BIRD), &ImportOptions { labels: Some(short), ..Default::default() }).unwrap_err();
    assert!(matches!(err, ImportError::LabelCountMismatch { outputs: 965, labels: 2, .. }), "{err}");
    let relabelled = with_label_file(&bytes, "inat_bird_labels.txt", "Rana temporaria (Common Frog)\nbackground\n");
    let err = import_tflite(&relabelled, "relabelled.tflite", &options).unwrap_err();
    assert!(matches!(&err, ImportError::LabelCountMismatch { outputs: 965, labels: 2, labels_from } if labels_from.contains("in the model")), "{err}");

    // An operator taxa does not import, named with its index.
    let mut b = TfliteBuilder::default();
    let x = b.tensor("x", &[1, 4, 4, 3], TensorType::FLOAT32, None, None);
    let y = b.tensor("y", &[1, 4, 4, 3], TensorType::FLOAT32, None, None);
    b.op(Op::CUMSUM, &[x], &[y], (BuiltinOptions::NONE, None));
    let model = b.finish(&[x], &[y]);
    let err = import_tflite(&model, "cumsum.tflite", &options).unwrap_err();
    assert!(matches!(&err, ImportError::UnsupportedOperator { operator, index: 0 } if operator == "CUMSUM"), "{err}");
    let path = tmp.path().join("cumsum.tflite");
    std::fs::write(&path, &model).unwrap();
    let output = taxa().args(["import", path.to_str().unwrap(), "--out", tmp.path().join("y.onnx").to_str().unwrap()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("CUMSUM") && !stderr.contains("panicked"), "{stderr}");
}

/// The model's flatbuffer with its zip of associated files replaced by one holding `name` → `text`.
fn with_label_file(model: &[u8], name: &str, text: &str) -> Vec<u8> {
    use std::io::Write;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(model)).unwrap();
    // Where the zip begins: its first local header.
    let start = (0..archive.len()).map(|i| archive.by_index(i).unwrap().header_start() as usize).min().unwrap() + archive.offset() as usize;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
    zip.write_all(text.as_bytes()).unwrap();
    // Appended as tflite-support appends it: a zip after the flatbuffer.
    [&model[..start], &zip.finish().unwrap().into_inner()].concat()
}

/// A float32 model over every operator taxa imports but the quantisation ones.
fn float_model() -> Vec<u8> {
    let mut b = TfliteBuilder::default();
    let f = TensorType::FLOAT32;
    let x = b.tensor("image", &[1, 16, 16, 3], f, None, None);
    let w1 = b.floats("w1", &[8, 3, 3, 3], &values(216, 1));
    let b1 = b.floats("b1", &[8], &values(8, 2));
    let a = b.tensor("a", &[1, 8, 8, 8], f, None, None);
    let o = b.conv_options(Padding::SAME, 2, Act::RELU6);
    b.op(Op::CONV_2D, &[x, w1, b1], &[a], o);
    let wd = b.floats("wd", &[1, 3, 3, 16], &values(144, 3));
    let bd = b.floats("bd", &[16], &values(16, 4));
    let dw = b.tensor("dw", &[1, 8, 8, 16], f, None, None);
    let o = b.depthwise_options(Padding::SAME, 1, 2, Act::NONE);
    b.op(Op::DEPTHWISE_CONV_2D, &[a, wd, bd], &[dw], o);
    let hs = b.tensor("hs", &[1, 8, 8, 16], f, None, None);
    b.op(Op::HARD_SWISH, &[dw], &[hs], (BuiltinOptions::NONE, None));
    let pads = b.ints("pads", &[4, 2], &[0, 0, 1, 1, 1, 1, 0, 0], None);
    let padded = b.tensor("padded", &[1, 10, 10, 16], f, None, None);
    b.op(Op::PAD, &[hs, pads], &[padded], (BuiltinOptions::NONE, None));
    let pooled = b.tensor("pooled", &[1, 5, 5, 16], f, None, None);
    let o = b.pool_options(Padding::VALID, 2, 2);
    b.op(Op::MAX_POOL_2D, &[padded], &[pooled], o);
    let averaged = b.tensor("averaged", &[1, 5, 5, 16], f, None, None);
    let o = b.pool_options(Padding::SAME, 3, 1);
    b.op(Op::AVERAGE_POOL_2D, &[pooled], &[averaged], o);
    let w2 = b.floats("w2", &[16, 1, 1, 16], &values(256, 5));
    let b2 = b.floats("b2", &[16], &values(16, 6));
    let g = b.tensor("g", &[1, 5, 5, 16], f, None, None);
    let o = b.conv_options(Padding::VALID, 1, Act::NONE);
    b.op(Op::CONV_2D, &[averaged, w2, b2], &[g], o);
    let h = b.tensor("h", &[1, 5, 5, 16], f, None, None);
    let o = b.add_options(Act::RELU);
    b.op(Op::ADD, &[pooled, g], &[h], o);
    let sig = b.tensor("sig", &[1, 5, 5, 16], f, None, None);
    b.op(Op::LOGISTIC, &[h], &[sig], (BuiltinOptions::NONE, None));
    let swish = b.tensor("swish", &[1, 5, 5, 16], f, None, None);
    let o = b.mul_options();
    b.op(Op::MUL, &[h, sig], &[swish], o);
    let cat = b.tensor("cat", &[1, 5, 5, 32], f, None, None);
    let o = b.concat_options(3);
    b.op(Op::CONCATENATION, &[swish, h], &[cat], o);
    // Through a 3-D reshape and back: NHWC element order must survive.
    let shape3 = b.ints("shape3", &[3], &[1, 25, 32], None);
    let flat = b.tensor("flat", &[1, 25, 32], f, None, None);
    let o = b.reshape_options(&[1, 25, 32]);
    b.op(Op::RESHAPE, &[cat, shape3], &[flat], o);
    // A per-channel scale broadcast over the 3-D tensor's last axis.
    let scale = b.floats("scale", &[32], &values(32, 9));
    let scaled = b.tensor("scaled", &[1, 25, 32], f, None, None);
    let o = b.mul_options();
    b.op(Op::MUL, &[flat, scale], &[scaled], o);
    let shape4 = b.ints("shape4", &[4], &[1, 5, 5, 32], None);
    let back = b.tensor("back", &[1, 5, 5, 32], f, None, None);
    let o = b.reshape_options(&[1, 5, 5, 32]);
    b.op(Op::RESHAPE, &[scaled, shape4], &[back], o);
    let axes = b.ints("axes", &[2], &[1, 2], None);
    let mean = b.tensor("mean", &[1, 32], f, None, None);
    let o = b.reducer_options(false);
    b.op(Op::MEAN, &[back, axes], &[mean], o);
    let wf = b.floats("wf", &[10, 32], &values(320, 7));
    let bf = b.floats("bf", &[10], &values(10, 8));
    let logits = b.tensor("logits", &[1, 10], f, None, None);
    let o = b.fully_connected_options(Act::NONE);
    b.op(Op::FULLY_CONNECTED, &[mean, wf, bf], &[logits], o);
    let probabilities = b.tensor("probabilities", &[1, 10], f, None, None);
    let o = b.softmax_options();
    b.op(Op::SOFTMAX, &[logits], &[probabilities], o);
    b.finish(&[x], &[probabilities])
}

/// Symmetric int8 per-channel weights (zero point 0) for `values` laid out
/// with channels along `axis` of `shape`: the bytes and the scales.
fn int8_per_channel(values: &[f32], shape: &[usize], axis: usize) -> (Vec<u8>, Vec<f32>) {
    let channels = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let channel = |i: usize| (i / inner) % channels;
    let mut max = vec![0f32; channels];
    for (i, v) in values.iter().enumerate() {
        max[channel(i)] = max[channel(i)].max(v.abs());
    }
    let scales: Vec<f32> = max.iter().map(|m| m.max(1e-6) / 127.0).collect();
    let bytes = values.iter().enumerate().map(|(i, v)| (v / scales[channel(i)]).round().clamp(-127.0, 127.0) as i8 as u8).collect();
    (bytes, scales)
}

/// An int8 model as TFLite's converter writes them (float in, QUANTIZE,
/// per-channel int8 weights, int32 biases, int8 softmax, DEQUANTIZE out).
fn int8_model() -> Vec<u8> {
    let mut b = TfliteBuilder::default();
    let q = |scale: f32, zero: i64| -> Option<Quant> { Some((vec![scale], vec![zero], 0)) };
    let x = b.tensor("image", &[1, 16, 16, 3], TensorType::FLOAT32, None, None);
    let xq = b.tensor("image_q", &[1, 16, 16, 3], TensorType::INT8, None, q(1.0 / 128.0, 0));
    b.op(Op::QUANTIZE, &[x], &[xq], (BuiltinOptions::NONE, None));
    let (w1, s1) = int8_per_channel(&values(216, 11), &[8, 3, 3, 3], 0);
    let w1 = b.tensor("w1", &[8, 3, 3, 3], TensorType::INT8, Some(w1), Some((s1.clone(), vec![0; 8], 0)));
    let bias1: Vec<i32> = values(8, 12).iter().zip(&s1).map(|(v, s)| (v / (s / 128.0)).round() as i32).collect();
    let b1_scales: Vec<f32> = s1.iter().map(|s| s / 128.0).collect();
    let b1 = b.ints("b1", &[8], &bias1, Some((b1_scales, vec![0; 8], 0)));
    let a = b.tensor("a", &[1, 8, 8, 8], TensorType::INT8, None, q(6.0 / 255.0, -128));
    let o = b.conv_options(Padding::SAME, 2, Act::RELU6);
    b.op(Op::CONV_2D, &[xq, w1, b1], &[a], o);
    let (wd, sd) = int8_per_channel(&values(72, 13), &[1, 3, 3, 8], 3);
    let wd = b.tensor("wd", &[1, 3, 3, 8], TensorType::INT8, Some(wd), Some((sd.clone(), vec![0; 8], 3)));
    let biasd: Vec<i32> = values(8, 14).iter().zip(&sd).map(|(v, s)| (v / (s * 6.0 / 255.0)).round() as i32).collect();
    let bd = b.ints("bd", &[8], &biasd, Some((sd.iter().map(|s| s * 6.0 / 255.0).collect(), vec![0; 8], 0)));
    let dw = b.tensor("dw", &[1, 8, 8, 8], TensorType::INT8, None, q(0.05, 3));
    let o = b.depthwise_options(Padding::SAME, 1, 1, Act::NONE);
    b.op(Op::DEPTHWISE_CONV_2D, &[a, wd, bd], &[dw], o);
    let axes = b.ints("axes", &[2], &[1, 2], None);
    let mean = b.tensor("mean", &[1, 8], TensorType::INT8, None, q(0.02, 0));
    let o = b.reducer_options(false);
    b.op(Op::MEAN, &[dw, axes], &[mean], o);
    let (wf, sf) = int8_per_channel(&values(80, 15), &[10, 8], 0);
    let per_tensor = sf.iter().fold(0f32, |m, s| m.max(*s));
    let wf_values: Vec<u8> = values(80, 15).iter().map(|v| (v / per_tensor).round().clamp(-127.0, 127.0) as i8 as u8).collect();
    drop(wf);
    let wf = b.tensor("wf", &[10, 8], TensorType::INT8, Some(wf_values), q(per_tensor, 0));
    let biasf: Vec<i32> = values(10, 16).iter().map(|v| (v / (per_tensor * 0.02)).round() as i32).collect();
    let bf = b.ints("bf", &[10], &biasf, q(per_tensor * 0.02, 0));
    let logits = b.tensor("logits", &[1, 10], TensorType::INT8, None, q(0.02, 0));
    let o = b.fully_connected_options(Act::NONE);
    b.op(Op::FULLY_CONNECTED, &[mean, wf, bf], &[logits], o);
    let probabilities_q = b.tensor("probabilities_q", &[1, 10], TensorType::INT8, None, q(1.0 / 256.0, -128));
    let o = b.softmax_options();
    b.op(Op::SOFTMAX, &[logits], &[probabilities_q], o);
    let probabilities = b.tensor("probabilities", &[1, 10], TensorType::FLOAT32, None, None);
    b.op(Op::DEQUANTIZE, &[probabilities_q], &[probabilities], (BuiltinOptions::NONE, None));
    b.finish(&[x], &[probabilities])
}

/// The written models against LiteRT on photo-like inputs (the same floats:
/// (pixel − 127.5) / 127.5 in both).
#[test]
fn float_and_int8_models_score_as_litert_does() {
    let tmp = tempfile::tempdir().unwrap();
    let labels = tmp.path().join("labels.txt");
    std::fs::write(&labels, (0..10).map(|i| format!("class {i}\n")).collect::<String>()).unwrap();
    for (name, model, tolerance) in [("float", float_model(), 1e-4), ("int8", int8_model(), 0.02)] {
        let path = tmp.path().join(format!("{name}.tflite"));
        std::fs::write(&path, &model).unwrap();
        let options = ImportOptions {
            labels: Some(labels.clone()),
            contract: ContractChoices { mean: Some([0.5; 3]), std: Some([0.5; 3]), ..Default::default() },
            ..Default::default()
        };
        let imported = import_file(&path, &options).unwrap_or_else(|e| panic!("{name}: {e}"));
        let bundle = tmp.path().join(format!("{name}.onnx"));
        imported.write(&bundle).unwrap();
        let classifier = Classifier::load(&bundle).unwrap();
        let mut worst = 0f64;
        for seed in 0..4 {
            let pixels: Vec<u8> = values(16 * 16 * 3, 100 + seed).iter().map(|v| ((v + 1.0) * 127.5) as u8).collect();
            let input = classifier.preprocess(PixelsRef::new(16, 16, PixelFormat::Rgb8, &pixels).unwrap()).unwrap();
            let ours = classifier.infer(input).unwrap();
            let theirs = litert(&path, &pixels, tmp.path());
            assert_eq!(argmax(ours.iter().map(|&v| v as f64)), argmax(theirs.iter().copied()), "{name} seed {seed}: {ours:?} vs {theirs:?}");
            for (a, b) in ours.iter().zip(&theirs) {
                worst = worst.max((*a as f64 - b).abs());
            }
        }
        assert!(worst <= tolerance, "{name}: largest difference {worst}");
        println!("{name}: largest probability difference from LiteRT {worst:.2e}");
    }
}

/// onnxruntime's first output for `input` through `model`.
fn onnxruntime(model: &Path, input: &[f32], shape: &[usize], dir: &Path) -> Vec<f64> {
    let raw = dir.join("input.f32");
    std::fs::write(&raw, input.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python/onnxruntime_reference.py");
    let shape = shape.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
    let output = Command::new(python())
        .arg(script)
        .args(["--model", model.to_str().unwrap(), "--input", raw.to_str().unwrap(), "--shape", &shape])
        .output()
        .expect("run python");
    assert!(output.status.success(), "onnxruntime failed:\n{}", String::from_utf8_lossy(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    json["output"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()
}

/// A small classifier whose scores depend on the normalisation: conv, ReLU,
/// global pooling, a linear head; NCHW float input of `side` pixels (or a
/// symbolic side).
fn plain_onnx(side: Option<i64>) -> taxa_core::onnx_pb::ModelProto {
    use taxa_core::onnx_graph::{Dim, GraphBuilder, attr_int, attr_ints};
    let mut g = GraphBuilder::new("plain");
    let spatial = |name: &str| side.map(Dim::Fixed).unwrap_or_else(|| Dim::from(name));
    let x = g.input("input", &[Dim::Fixed(1), 3.into(), spatial("h"), spatial("w")]);
    let w = g.initializer("w", &[6, 3, 3, 3], &values(162, 21).iter().map(|v| v * 0.5).collect::<Vec<_>>());
    let b = g.initializer("b", &[6], &values(6, 22));
    let conv = g.node("Conv", &[&x, &w, &b], vec![attr_ints("kernel_shape", &[3, 3]), attr_ints("strides", &[2, 2])]);
    let relu = g.node("Relu", &[&conv], vec![]);
    let pooled = g.node("GlobalAveragePool", &[&relu], vec![]);
    let flat = g.node("Flatten", &[&pooled], vec![attr_int("axis", 1)]);
    let wf = g.initializer("wf", &[5, 6], &values(30, 23).iter().map(|v| v * 4.0).collect::<Vec<_>>());
    let bf = g.initializer("bf", &[5], &values(5, 24));
    g.node_named("Gemm", &[&flat, &wf, &bf], "logits", vec![attr_int("transB", 1)]);
    g.output("logits", &[Dim::Fixed(1), 5.into()]);
    g.build()
}

/// A model expecting (x − 127.5) / 127.5, imported with that contract,
/// scores as onnxruntime does on the input the contract gives.
#[test]
fn onnx_import_with_a_stated_contract_scores_as_onnxruntime() {
    let dir = models_dir();
    let tmp = tempfile::tempdir().unwrap();
    let plain = tmp.path().join("plain.onnx");
    std::fs::write(&plain, prost::Message::encode_to_vec(&plain_onnx(Some(64)))).unwrap();
    let labels = tmp.path().join("labels.txt");
    std::fs::write(&labels, "Rana temporaria (Common Frog)\nRana arvalis (Moor Frog)\nBufo bufo (Common Toad)\nbackground\nHyla arborea ()\n").unwrap();
    let bundle = tmp.path().join("bundle.onnx");
    let output = taxa()
        .args(["import", plain.to_str().unwrap(), "--labels", labels.to_str().unwrap(), "--mean", "0.5", "--std", "0.5", "--resize", "stretch"])
        .args(["--out", bundle.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let classifier = Classifier::load(&bundle).unwrap();
    let m = classifier.metadata();
    assert_eq!((m.preprocess.mean, m.preprocess.std, m.preprocess.value_scale), ([0.5; 3], [0.5; 3], 255.0));
    assert_eq!(m.labels[0], "Rana temporaria");
    assert_eq!(m.taxonomy.as_ref().unwrap()[0].common_name.as_deref(), Some("Common Frog"));
    assert_eq!(m.non_taxa, vec![3]);

    let image = decode_image_file(&dir.join("parrot.jpg"), &DecodeLimits::default()).unwrap();
    let pixels = PixelsRef::new(image.width(), image.height(), PixelFormat::Rgb8, image.as_raw()).unwrap();
    let input = classifier.preprocess(pixels).unwrap();
    // The contract: the whole photo at 64×64, (x − 127.5) / 127.5, NCHW.
    let (resized, w, h) = m.preprocess.resize_to_input(pixels).unwrap();
    assert_eq!((w, h), (64, 64));
    for (i, p) in resized.chunks_exact(3).enumerate() {
        for c in 0..3 {
            let expected = (p[c] as f32 - 127.5) / 127.5;
            assert!((input[c * 4096 + i] - expected).abs() < 1e-6, "pixel {i} channel {c}");
        }
    }
    let ours = classifier.infer(input.clone()).unwrap();
    let mut theirs: Vec<f32> = onnxruntime(&plain, &input, &[1, 3, 64, 64], tmp.path()).iter().map(|&v| v as f32).collect();
    taxa_core::classify::softmax(&mut theirs);
    for (a, b) in ours.iter().zip(&theirs) {
        assert!((a - b).abs() <= 1e-5, "{ours:?} vs {theirs:?}");
    }
    // Under ImageNet's contract (the default) the same photo scores otherwise: the statement mattered.
    let imagenet = import_file(&plain, &ImportOptions { labels: Some(labels.clone()), ..Default::default() }).unwrap();
    assert_eq!(imagenet.metadata.preprocess.mean, [0.485, 0.456, 0.406]);
    assert_eq!(imagenet.metadata.preprocess.crop, taxa_core::preprocess::Crop::Center { width: 64, height: 64 });

    // A model whose size is not fixed needs --input-size; given, it is used.
    let symbolic = tmp.path().join("symbolic.onnx");
    std::fs::write(&symbolic, prost::Message::encode_to_vec(&plain_onnx(None))).unwrap();
    let err = import_file(&symbolic, &ImportOptions { labels: Some(labels.clone()), ..Default::default() }).unwrap_err();
    assert!(err.to_string().contains("--input-size"), "{err}");
    let sized = ImportOptions { labels: Some(labels), contract: ContractChoices { input_size: Some((96, 80)), ..Default::default() }, ..Default::default() };
    let imported = import_file(&symbolic, &sized).unwrap();
    assert_eq!(imported.metadata.preprocess.input_shape().unwrap(), [1, 3, 80, 96]);
    imported.write(&tmp.path().join("sized.onnx")).unwrap();
}
