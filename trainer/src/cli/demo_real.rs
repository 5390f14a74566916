//! `taxa demo` on real input: EfficientNet-Lite0's ImageNet weights exported
//! as a bundle, real photos identified with it on the device path, and the
//! study's transfer claim on real photos: frozen ImageNet features against
//! training from scratch, same data, same epochs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;
use taxa_core::{Classifier, ClassifyOptions, Provenance};
use taxa_trainer::export::NetworkBundle;
use taxa_trainer::models::{Network, native_input_size, preprocess_contract, spec_for};
use taxa_trainer::real_data::{COARSE_CLASSES, RealData};
use taxa_trainer::train::{DataSource, Mode, RunSummary, TrainConfig, train};
use taxa_trainer::weights::{HeadOutcome, load_state_dict, read_state_dict};

use super::demo::DemoArgs;

const ARCH: &str = "efficientnet_lite0";
const EPOCHS: usize = 4;
/// Training input for the transfer runs: below Lite0's native 224, because
/// training from scratch on a CPU costs about four times as much there
/// (depthwise convolutions' backward pass is slow in libtorch, as in PyTorch).
pub const TRANSFER_INPUT: u32 = 128;
/// Photo stamps shown besides darknet's eagle: animals of classes ImageNet
/// has, of different kinds. Chosen for variety, not for the scores.
const SHOWN: [&str; 5] = ["otter", "european-bear", "tucan", "pink_flamingo", "bison"];

pub fn run(args: &DemoArgs, weights: &Path, data: &RealData) -> anyhow::Result<ExitCode> {
    let epochs = args.epochs.unwrap_or(EPOCHS);
    let text = !args.json;
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;

    // 1. The ImageNet weights as a bundle, with ImageNet's class names.
    let labels = data.imagenet_labels()?;
    let imagenet = args.out.join("efficientnet_lite0-imagenet.onnx");
    export_imagenet(weights, labels, &imagenet)?;
    if text {
        println!("1. export:   {ARCH} ImageNet weights ({}) → {}", weights.display(), imagenet.display());
    }

    // 2. Real photos through taxa-core: decode, preprocess, tract, top-5.
    let photos_dir = args.out.join("tuxpaint");
    let photos = data.write_coarse_dataset(&photos_dir, &COARSE_CLASSES)?;
    let mut shown: Vec<PathBuf> = data.darknet_photos().into_iter().filter(|(n, _)| n == "eagle").map(|(_, p)| p).collect();
    for stamp in data.photo_stamps().into_iter().filter(|s| SHOWN.contains(&s.name.as_str())) {
        shown.push(photos_dir.join(&stamp.class).join(format!("{}.png", stamp.name)));
    }
    let classifier = Classifier::load(&imagenet)?;
    let mut identified = Vec::new();
    for photo in &shown {
        let result = classifier.classify_file(photo, &ClassifyOptions::default()).with_context(|| format!("classifying {}", photo.display()))?;
        identified.push((photo.clone(), result));
    }
    if text {
        println!("2. identify: {} real photos with the exported bundle (top-5 of ImageNet's 1,000 classes)", shown.len());
        for (photo, result) in &identified {
            println!("\n{}", photo.display());
            for p in &result.predictions {
                println!("  {:>6.2}%  {}", p.score * 100.0, p.label);
            }
        }
        println!(
            "\n3. transfer: {ARCH} on {photos} Tux Paint photos in {} coarse classes ({}), {epochs} epochs each at {TRANSFER_INPUT}×{TRANSFER_INPUT},\n   frozen ImageNet backbone vs the same network from scratch",
            COARSE_CLASSES.len(),
            COARSE_CLASSES.join(", ")
        );
    }

    // 3. Frozen transfer against scratch, at the same budget.
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

    if args.json {
        super::print_json(&json!({
            "input": "real",
            "imagenet_bundle": imagenet,
            "photos": identified.iter().map(|(f, r)| json!({"image": f, "predictions": r.predictions})).collect::<Vec<_>>(),
            "transfer": {
                "arch": ARCH, "epochs": epochs, "classes": COARSE_CLASSES, "photos": photos,
                "train_images": frozen.train_images, "val_images": frozen.val_images,
                "frozen_val_top1_error": error(frozen), "scratch_val_top1_error": error(scratch),
                "frozen_bundle": frozen.best_bundle, "scratch_bundle": scratch.best_bundle,
            },
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("\nvalidation top-1 error on {} held-out photos ({} classes, chance {:.2}):", frozen.val_images, frozen.classes, 1.0 - 1.0 / frozen.classes as f64);
    println!("  frozen from ImageNet  {:.3}", error(frozen));
    println!("  from scratch          {:.3}", error(scratch));
    println!("\nbundles: {} (ImageNet), {} (coarse classes)", imagenet.display(), frozen.best_bundle.display());
    println!("classify your own: taxa classify --model {} PHOTO.jpg", imagenet.display());
    Ok(ExitCode::SUCCESS)
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

/// Writes the weights as a 1,000-class bundle with Lite0's own contract.
fn export_imagenet(weights: &Path, labels: Vec<String>, out: &Path) -> anyhow::Result<()> {
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let net = Network::new(&vs.root(), spec_for(ARCH, labels.len() as i64).context("Lite0 is built in")?);
    let outcome = load_state_dict(&net, read_state_dict(weights)?, weights, false)?;
    anyhow::ensure!(outcome == HeadOutcome::Loaded, "{} has no ImageNet head", weights.display());
    let contract = preprocess_contract(ARCH, native_input_size(ARCH));
    let mut provenance = Provenance { dataset: Some("ImageNet-1k (ILSVRC 2012)".into()), ..Default::default() };
    provenance.extra.insert("weights".into(), weights.display().to_string());
    NetworkBundle::new(&net, contract, labels).provenance(provenance).write(out)?;
    Ok(())
}
