//! The training toolchain end to end on small synthetic data, on CPU.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tch::Tensor;
use taxa_trainer::synth::{SynthOptions, write_dataset};
use taxa_trainer::train::{DataSource, Mode, TrainConfig, resume, train};

/// A small iNaturalist-format dataset: 6 species, 12–40 photos each, 48 px.
fn dataset(dir: &Path) -> PathBuf {
    let root = dir.join("synth");
    let options = SynthOptions { species: 6, max_images: 40, min_images: 12, size: 48, val_fraction: 0.2, seed: 5, ..Default::default() };
    write_dataset(&root, &options, false).unwrap();
    root
}

fn config(root: &Path, dir: &Path) -> TrainConfig {
    TrainConfig {
        data: DataSource::inat(&taxa_trainer::data::find_inat(root, false).unwrap(), true),
        epochs: 2,
        batch_size: 16,
        step_epochs: 1,
        gamma: 0.5,
        label_smoothing: 0.1,
        input_size: 32,
        seed: 3,
        device: "cpu".into(),
        mixed_precision: false,
        cache_dir: dir.join("cache"),
        ..Default::default()
    }
}

fn weights(path: &Path) -> Vec<(String, Tensor)> {
    let mut w = Tensor::read_safetensors(path).unwrap();
    w.sort_by(|a, b| a.0.cmp(&b.0));
    w
}

fn max_difference(a: &[(String, Tensor)], b: &[(String, Tensor)], only: impl Fn(&str) -> bool) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .filter(|((n, _), _)| only(n))
        .map(|((na, ta), (nb, tb))| {
            assert_eq!(na, nb);
            (ta.to_kind(tch::Kind::Double) - tb.to_kind(tch::Kind::Double)).abs().max().double_value(&[])
        })
        .fold(0.0, f64::max)
}

#[test]
fn each_mode_trains_and_writes_metrics_plots_and_bundles() {
    let dir = tempfile::tempdir().unwrap();
    let root = dataset(dir.path());
    let scratch = train(config(&root, dir.path()), &dir.path().join("scratch"), false).unwrap();
    assert_eq!(scratch.history.len(), 2);
    let lines = std::fs::read_to_string(dir.path().join("scratch/metrics.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 2);
    let first: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    for key in ["train_loss", "val_loss", "val_top1_error", "val_top5_error", "val_top1_error_all_classes", "images_per_second", "lr"] {
        assert!(first[key].is_number(), "{key} in {first}");
    }
    let png = std::fs::read(dir.path().join("scratch/curves.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 5000, "a real plot");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("scratch/report.json")).unwrap()).unwrap();
    assert_eq!(report["per_class_accuracy"].as_array().unwrap().len(), 6);
    // Which epoch best.onnx holds, and why; the provenance of best.onnx agrees.
    let kept = report["best_epoch"].as_u64().expect("best_epoch in report.json") as u32;
    assert!(report["best_epoch_rule"].as_str().unwrap().contains("validation loss"), "{report}");
    let best = taxa_core::Classifier::load(&scratch.best_bundle).unwrap();
    assert_eq!(best.metadata().provenance.as_ref().unwrap().epochs, Some(kept));

    // The bundles load on the device path and carry the taxonomy from the categories.
    let classifier = taxa_core::Classifier::load(&scratch.final_bundle).unwrap();
    let meta = classifier.metadata();
    assert_eq!(meta.labels.len(), 6);
    assert!(meta.taxonomy.as_ref().unwrap().iter().all(|t| t.ranks.genus.is_some() && t.ranks.kingdom.is_some()));
    assert_eq!(meta.provenance.as_ref().unwrap().epochs, Some(2));
    taxa_core::Classifier::load(&scratch.best_bundle).unwrap();

    let start = dir.path().join("scratch/checkpoint-2.safetensors");
    // A checkpoint exports on its own: architecture, labels, taxonomy and the input size it trained at travel with it.
    let exported = dir.path().join("from-checkpoint.onnx");
    let out = Command::new(env!("CARGO_BIN_EXE_taxa"))
        .args(["export", "--checkpoint", start.to_str().unwrap(), "--out", exported.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let from_checkpoint = taxa_core::Classifier::load(&exported).unwrap();
    assert_eq!(from_checkpoint.metadata().labels, meta.labels);
    assert_eq!(from_checkpoint.metadata().taxonomy, meta.taxonomy);
    assert_eq!(from_checkpoint.metadata().architecture.as_deref(), Some("shufflenet_v2_x0_5"));
    assert_eq!(from_checkpoint.metadata().preprocess, meta.preprocess, "the contract the run trained under");
    let before = weights(&start);
    for (mode, name) in [(Mode::Finetune, "finetune"), (Mode::Frozen, "frozen")] {
        let mut c = config(&root, dir.path());
        c.mode = mode;
        c.weights = Some(start.clone());
        c.epochs = 1;
        train(c, &dir.path().join(name), false).unwrap();
        let after = weights(&dir.path().join(name).join("checkpoint-1.safetensors"));
        let backbone_change = max_difference(&before, &after, |n| !n.starts_with("fc.") && !n.contains("running") && !n.contains("num_batches"));
        let head_change = max_difference(&before, &after, |n| n.starts_with("fc."));
        assert!(head_change > 0.0, "{name}: head trains");
        if mode == Mode::Frozen {
            assert_eq!(backbone_change, 0.0, "frozen: backbone untouched");
        } else {
            assert!(backbone_change > 0.0, "finetune: backbone trains");
        }
    }
}

#[test]
fn frozen_feature_cache_gives_the_same_head_as_recomputing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dataset(dir.path());
    let mut base = config(&root, dir.path());
    base.epochs = 1;
    train(base.clone(), &dir.path().join("base"), false).unwrap();
    let mut heads = Vec::new();
    for cache in [true, false] {
        let mut c = base.clone();
        c.mode = Mode::Frozen;
        c.weights = Some(dir.path().join("base/checkpoint-1.safetensors"));
        c.epochs = 3;
        c.augment = false;
        c.cache_features = cache;
        let run = dir.path().join(format!("frozen-{cache}"));
        train(c, &run, false).unwrap();
        heads.push(weights(&run.join("checkpoint-3.safetensors")));
    }
    let difference = max_difference(&heads[0], &heads[1], |n| n.starts_with("fc."));
    assert!(difference < 1e-5, "cached vs recomputed features: head differs by {difference:e}");
}

#[test]
fn a_killed_run_resumes_to_the_same_final_weights() {
    let dir = tempfile::tempdir().unwrap();
    let root = dataset(dir.path());
    let taxa = env!("CARGO_BIN_EXE_taxa");
    let args = |out: &Path| -> Vec<String> {
        ["train", "--inat", root.to_str().unwrap(), "--official-val", "--epochs", "4", "--batch-size", "16", "--input-size", "32", "--device", "cpu", "--json", "--cache-dir"]
            .iter()
            .map(|s| s.to_string())
            .chain([dir.path().join("cache").display().to_string(), "--out".into(), out.display().to_string()])
            .collect()
    };
    let whole = dir.path().join("whole");
    let status = Command::new(taxa).args(args(&whole)).output().unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));

    // Kill the second run as soon as it has finished one epoch.
    let killed = dir.path().join("killed");
    let mut child = Command::new(taxa).args(args(&killed)).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let started = Instant::now();
    while !killed.join("state.json").exists() {
        assert!(started.elapsed() < Duration::from_secs(120), "no epoch finished");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(killed.join("state.json")).unwrap()).unwrap();
    let done = state["epochs_done"].as_u64().unwrap();
    assert!(done < 4, "killed before the end (after {done} epochs)");

    let summary = resume(&killed, false).unwrap();
    assert_eq!(summary.history.len(), 4);
    let difference = max_difference(&weights(&whole.join("checkpoint-4.safetensors")), &weights(&killed.join("checkpoint-4.safetensors")), |_| true);
    assert!(difference < 1e-6, "resumed run differs from the uninterrupted one by {difference:e}");
    let metrics = std::fs::read_to_string(killed.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 4, "one metrics line per epoch, none twice");
}

#[test]
fn corrupt_and_missing_images_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let root = dataset(dir.path());
    std::fs::write(root.join("images/0000/0000_00020.jpg"), b"\xff\xd8\xff\xe0 not really a jpeg").unwrap();
    std::fs::write(root.join("images/0001/0001_00019.jpg"), b"").unwrap();
    let mut train_json: serde_json::Value = serde_json::from_slice(&std::fs::read(root.join("train2019.json")).unwrap()).unwrap();
    train_json["images"].as_array_mut().unwrap().push(serde_json::json!({"id": 999999, "file_name": "images/0002/gone.jpg", "width": 48, "height": 48}));
    train_json["annotations"].as_array_mut().unwrap().push(serde_json::json!({"id": 999999, "image_id": 999999, "category_id": 2}));
    std::fs::write(root.join("train2019.json"), serde_json::to_vec(&train_json).unwrap()).unwrap();
    let mut c = config(&root, dir.path());
    c.epochs = 1;
    let summary = train(c, &dir.path().join("run"), false).unwrap();
    let skipped = std::fs::read_to_string(dir.path().join("run/skipped.txt")).unwrap();
    assert_eq!(summary.skipped_images, 3, "{skipped}");
    assert_eq!(skipped.lines().count(), 3);
    assert!(skipped.contains("gone.jpg") && skipped.contains("0000_00020.jpg"), "{skipped}");
}

#[test]
fn folder_layout_with_pruning_and_a_seeded_split() {
    let dir = tempfile::tempdir().unwrap();
    let root = dataset(dir.path());
    // Re-lay the synthetic photos as root/<species>/<file>.
    let folder = dir.path().join("folder");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(root.join("train2019.json")).unwrap()).unwrap();
    let names: Vec<&str> = json["categories"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    for entry in std::fs::read_dir(root.join("images")).unwrap() {
        let class_dir = entry.unwrap().path();
        let class: usize = class_dir.file_name().unwrap().to_str().unwrap().parse().unwrap();
        let target = folder.join(names[class]);
        std::fs::create_dir_all(&target).unwrap();
        for photo in std::fs::read_dir(&class_dir).unwrap() {
            let photo = photo.unwrap().path();
            std::fs::copy(&photo, target.join(photo.file_name().unwrap())).unwrap();
        }
    }
    let mut c = config(&root, dir.path());
    c.data = DataSource::Folder { root: folder };
    c.epochs = 1;
    c.min_images_per_class = 20;
    c.val_fraction = 0.25;
    let summary = train(c, &dir.path().join("run"), false).unwrap();
    // Counts per class: 40, 23, 17, 13, 12, 12 (long tail) → 2 kept.
    assert_eq!((summary.classes, summary.pruned_classes), (2, 4));
    assert_eq!(summary.train_images + summary.val_images, 63);
    assert_eq!(summary.val_images, 10 + 6);
    let last = summary.history.last().unwrap();
    assert!(last.val_top1_error_all_classes >= last.val_top1_error, "pruned classes' images count as errors");
}

#[test]
fn device_classification_agrees_with_training_evaluation() {
    let dir = tempfile::tempdir().unwrap();
    let root = dataset(dir.path());
    let mut c = config(&root, dir.path());
    c.epochs = 3;
    let summary = train(c, &dir.path().join("run"), false).unwrap();
    let classifier = taxa_core::Classifier::load(&summary.final_bundle).unwrap();
    let val: serde_json::Value = serde_json::from_slice(&std::fs::read(root.join("val2019.json")).unwrap()).unwrap();
    let mut errors = 0;
    let images = val["images"].as_array().unwrap();
    for (image, annotation) in images.iter().zip(val["annotations"].as_array().unwrap()) {
        let result = classifier.classify_file(root.join(image["file_name"].as_str().unwrap()), &Default::default()).unwrap();
        errors += (result.predictions[0].class_index as i64 != annotation["category_id"].as_i64().unwrap()) as usize;
    }
    let device_error = errors as f64 / images.len() as f64;
    let training_error = summary.history.last().unwrap().val_top1_error;
    assert!((device_error - training_error).abs() <= 1.0 / images.len() as f64 + 1e-9, "device {device_error} vs training {training_error}");
}

#[test]
fn a_broken_dataset_file_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let root = dataset(dir.path());
    let text = std::fs::read_to_string(root.join("train2019.json")).unwrap();
    std::fs::write(root.join("train2019.json"), text.replacen("\"file_name\"", "\"file_name\" oops", 1)).unwrap();
    let err = train(config(&root, dir.path()), &dir.path().join("run"), false).unwrap_err();
    let message = format!("{err:#}");
    assert!(message.contains("train2019.json: line"), "{message}");
}

#[test]
fn a_short_experiment_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let root = dataset(dir.path());
    let mut base = config(&root, dir.path());
    base.epochs = 1;
    let options = taxa_trainer::experiment::ExperimentOptions {
        base,
        base_arch: "shufflenet_v2_x0_5".into(),
        archs: vec!["shufflenet_v2_x0_5".into(), "squeezenet1_1".into()],
        prune_below: 20,
        weights_dir: None,
        arch_mode: Mode::Frozen,
    };
    let out = dir.path().join("experiment");
    let report = taxa_trainer::experiment::run_experiment(&options, &out, false).unwrap();
    let md = std::fs::read_to_string(&report).unwrap();
    for heading in ["## Table 2", "## Figure 4", "## Table 3", "| complete |", "| pruned |", "| squeezenet1_1 |", "separate synthetic field guide"] {
        assert!(md.contains(heading), "{heading} missing from:\n{md}");
    }
    let png = std::fs::read(out.join("figure4.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    let results: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["table2"][1]["pruned"], 4);
    assert_eq!(results["figure4"].as_array().unwrap().len(), 3);
}
