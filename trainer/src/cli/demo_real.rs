//! `taxa demo` on real input: iNaturalist's bird and insect classifiers
//! imported with `taxa import` and real photos named to species on the device
//! path; then the study's transfer claim on real photos: frozen ImageNet
//! features (EfficientNet-Lite0) against training from scratch, same data,
//! same epochs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;
use taxa_core::{Classification, Classifier, ClassifyOptions};
use taxa_trainer::import::{ImportOptions, import_file};
use taxa_trainer::real_data::{COARSE_CLASSES, RealData};
use taxa_trainer::train::{DataSource, Mode, RunSummary, TrainConfig, train};

use super::demo::DemoArgs;

const ARCH: &str = "efficientnet_lite0";
const EPOCHS: usize = 4;
/// Training input for the transfer runs: below Lite0's native 224, because
/// training from scratch on a CPU costs about four times as much there
/// (depthwise convolutions' backward pass is slow in libtorch, as in PyTorch).
pub const TRANSFER_INPUT: u32 = 128;

/// The iNaturalist models, where they come from, and their licence.
const BIRD_MODEL: &str = "mobilenet_v2_1.0_224_inat_bird_quant.tflite";
const INSECT_MODEL: &str = "mobilenet_v2_1.0_224_inat_insect_quant.tflite";
const INAT_SOURCE: &str = "Coral test data (github.com/google-coral/test_data), MobileNetV2 trained on iNaturalist 2017";
const INAT_LICENSE: &str = "Apache-2.0";
/// Each photo with the model of its kind: (photo, model file, short model name).
const PHOTOS: [(&str, &str, &str); 5] = [
    ("owl.jpg", BIRD_MODEL, "bird"),
    ("bird.bmp", BIRD_MODEL, "bird"),
    ("parrot.jpg", BIRD_MODEL, "bird"),
    ("dragonfly.bmp", INSECT_MODEL, "insect"),
    ("cat_720p.jpg", BIRD_MODEL, "bird"),
];

/// `$TAXA_INAT_MODELS_DIR`, else `.cache/inat-models` (scripts/fetch-inat-models.sh's).
pub fn default_inat_dir() -> PathBuf {
    std::env::var_os("TAXA_INAT_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(".cache/inat-models"))
}

/// The folder, when it holds both models and every photo; else why not.
pub fn inat_models(dir: &Path) -> Result<PathBuf, String> {
    let missing: Vec<&str> = [BIRD_MODEL, INSECT_MODEL].into_iter().chain(PHOTOS.map(|p| p.0)).filter(|f| !dir.join(f).is_file()).collect();
    match missing.first() {
        None => Ok(dir.to_path_buf()),
        Some(first) => Err(format!("{} lacks {first} (scripts/fetch-inat-models.sh fetches the iNaturalist models)", dir.display())),
    }
}

struct Identified {
    photo: PathBuf,
    model: &'static str,
    result: Classification,
}

pub fn run(args: &DemoArgs, species: Result<PathBuf, String>, transfer: Result<(PathBuf, RealData), String>) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let mut report = json!({"input": "real"});
    match species {
        Ok(dir) => {
            let (bundles, identified) = identify_species(args, &dir)?;
            report["species"] = json!({
                "source": INAT_SOURCE, "license": INAT_LICENSE,
                "bird_bundle": bundles[0], "insect_bundle": bundles[1],
                "photos": identified.iter().map(|i| json!({
                    "image": i.photo, "model": i.model, "predictions": i.result.predictions, "rollup": i.result.rollup,
                    "species_recognised": i.result.predictions.first().is_some_and(|p| p.is_taxon),
                })).collect::<Vec<_>>(),
            });
        }
        Err(reason) => {
            eprintln!("note: no species identification: {reason}");
            report["species"] = json!({"skipped": reason});
        }
    }
    match transfer {
        Ok((weights, data)) => {
            report["transfer"] = run_transfer(args, &weights, &data)?;
        }
        Err(reason) => {
            eprintln!("note: no transfer run on real photos: {reason} (scripts/demo.sh fetches the photos and weights)");
            report["transfer"] = json!({"skipped": reason});
        }
    }
    if args.json {
        super::print_json(&report)?;
    } else if let Some(bird) = report["species"]["bird_bundle"].as_str() {
        println!("\nclassify your own: taxa classify --model {bird} PHOTO.jpg");
    }
    Ok(ExitCode::SUCCESS)
}

/// Imports both models and names each photo with the model of its kind.
fn identify_species(args: &DemoArgs, dir: &Path) -> anyhow::Result<([PathBuf; 2], Vec<Identified>)> {
    let text = !args.json;
    let options = ImportOptions { source: Some(INAT_SOURCE.into()), license: Some(INAT_LICENSE.into()), ..Default::default() };
    let bundles = [args.out.join("inat_bird.onnx"), args.out.join("inat_insect.onnx")];
    for (model, bundle) in [BIRD_MODEL, INSECT_MODEL].iter().zip(&bundles) {
        import_file(&dir.join(model), &options)
            .and_then(|imported| imported.write(bundle))
            .with_context(|| format!("importing {}", dir.join(model).display()))?;
    }
    let classifiers = [Classifier::load(&bundles[0])?, Classifier::load(&bundles[1])?];
    if text {
        println!("1. import:   iNaturalist's bird (964 species) and insect (1,021 species) MobileNetV2s, quantised TFLite");
        println!("             ({INAT_SOURCE}; {INAT_LICENSE}) → {}, {}", bundles[0].display(), bundles[1].display());
        println!("2. identify: real photos on the device path (decode, preprocess, tract). A model only knows its own");
        println!("             domain (the insect model calls the cat a Common Buckeye), so each photo goes to the model of its kind.");
    }
    let options = ClassifyOptions { top_k: 3, ..Default::default() };
    let mut identified = Vec::new();
    for (photo, model, name) in PHOTOS {
        let classifier = &classifiers[if model == BIRD_MODEL { 0 } else { 1 }];
        let path = dir.join(photo);
        let result = classifier.classify_file(&path, &options).with_context(|| format!("classifying {}", path.display()))?;
        if text {
            println!("\n{}  ({name} model)", path.display());
            super::classify::print_classification(&result);
        }
        identified.push(Identified { photo: path, model: name, result });
    }
    Ok((bundles, identified))
}

/// Frozen transfer against scratch, at the same budget.
fn run_transfer(args: &DemoArgs, weights: &Path, data: &RealData) -> anyhow::Result<serde_json::Value> {
    let epochs = args.epochs.unwrap_or(EPOCHS);
    let text = !args.json;
    let photos_dir = args.out.join("tuxpaint");
    let photos = data.write_coarse_dataset(&photos_dir, &COARSE_CLASSES)?;
    if text {
        println!(
            "\n3. transfer: {ARCH} on {photos} Tux Paint photos in {} coarse classes ({}), {epochs} epochs each at {TRANSFER_INPUT}×{TRANSFER_INPUT},\n   frozen ImageNet backbone ({}) vs the same network from scratch",
            COARSE_CLASSES.len(),
            COARSE_CLASSES.join(", "),
            weights.display()
        );
    }
    let mut runs = Vec::new();
    for mode in [Mode::Frozen, Mode::Scratch] {
        let run_dir = args.out.join(match mode {
            Mode::Frozen => "frozen",
            Mode::Scratch => "scratch",
            Mode::Finetune => "finetune",
        });
        if run_dir.exists() {
            std::fs::remove_dir_all(&run_dir).with_context(|| format!("clearing {}", run_dir.display()))?;
        }
        let config = transfer_config(&photos_dir, mode, (mode != Mode::Scratch).then(|| weights.to_path_buf()), epochs, args.seed, &args.out.join("cache"));
        let summary = train(config, &run_dir, text)?;
        runs.push((mode, summary));
    }
    let error = |s: &RunSummary| s.history.last().map(|m| m.val_top1_error).unwrap_or(f64::NAN);
    let (frozen, scratch) = (&runs[0].1, &runs[1].1);
    if text {
        println!("\nvalidation top-1 error on {} held-out photos ({} classes, chance {:.2}):", frozen.val_images, frozen.classes, 1.0 - 1.0 / frozen.classes as f64);
        println!("  frozen from ImageNet  {:.3}", error(frozen));
        println!("  from scratch          {:.3}", error(scratch));
        println!("bundle: {}", frozen.best_bundle.display());
    }
    Ok(json!({
        "arch": ARCH, "epochs": epochs, "classes": COARSE_CLASSES, "photos": photos,
        "train_images": frozen.train_images, "val_images": frozen.val_images,
        "frozen_val_top1_error": error(frozen), "scratch_val_top1_error": error(scratch),
        "frozen_bundle": frozen.best_bundle, "scratch_bundle": scratch.best_bundle,
    }))
}

/// The demo's transfer run: one configuration for all three modes, so they
/// differ only in where the weights start and what trains.
pub fn transfer_config(folder: &Path, mode: Mode, weights: Option<PathBuf>, epochs: usize, seed: u64, cache_dir: &Path) -> TrainConfig {
    TrainConfig {
        data: DataSource::Folder { root: folder.to_path_buf() },
        arch: ARCH.into(),
        mode,
        weights,
        epochs,
        batch_size: 32,
        input_size: TRANSFER_INPUT,
        val_fraction: 0.3,
        seed,
        cache_dir: cache_dir.to_path_buf(),
        ..Default::default()
    }
}
