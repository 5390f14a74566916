use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use taxa_trainer::data::{DataError, InatLayout, find_inat, folder_listing};
use taxa_trainer::train::{AugmentOn, DataSource, Mode, OptimizerKind, RunSummary, Schedule, TrainConfig, build_caches, resume, train};

#[derive(Args)]
pub struct TrainArgs {
    /// Continue a killed run from its last completed epoch: the --out folder
    /// of that run (all other options come from the run).
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["inat", "folder"])]
    pub resume: Option<PathBuf>,
    /// iNaturalist dataset: the folder with the competition's JSON files
    /// (2021: train.json/val.json; 2019, 2018, 2017: train20XX.json/val20XX.json)
    /// and images, or the training JSON file itself.
    #[arg(long, conflicts_with = "folder", required_unless_present_any = ["folder", "resume"])]
    pub inat: Option<PathBuf>,
    /// Use the dataset's validation file (val.json, val2019.json…) as validation set instead of splitting.
    #[arg(long, requires = "inat")]
    pub official_val: bool,
    /// iNaturalist 2021: train on train_mini.json instead of train.json.
    #[arg(long, requires = "inat")]
    pub train_mini: bool,
    /// Folder-per-class dataset.
    #[arg(long)]
    pub folder: Option<PathBuf>,
    /// Architecture, by torchvision's name: alexnet, densenet121/161/169/201,
    /// squeezenet1_0/1_1, shufflenet_v2_x0_5/x1_0/x1_5/x2_0, resnext50_32x4d,
    /// resnext101_32x8d, mobilenet_v2, efficientnet_lite0/1/2; mobilenet_v2_tf
    /// is MobileNetV2 with TensorFlow's padding, chosen by itself for weights
    /// trained in TensorFlow (a .tflite, or a bundle `taxa import` made of one).
    #[arg(long, default_value_t = TrainConfig::default().arch)]
    pub arch: String,
    /// How the network starts and what trains (finetune and frozen need --weights).
    #[arg(long, value_enum, default_value_t = TrainConfig::default().mode)]
    pub mode: Mode,
    /// Pretrained weights: torchvision names (.safetensors/.pth), a taxa
    /// checkpoint, or a trained model by its layers: a taxa bundle (.onnx,
    /// e.g. an iNaturalist model `taxa import` made) or a .tflite. A model's
    /// BatchNorm is folded into its convolutions, so it starts as the
    /// identity and keeps its statistics while training.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Passes over the training images (also the cosine schedule's period).
    #[arg(long, default_value_t = TrainConfig::default().epochs)]
    pub epochs: usize,
    /// Images a step. The last partial batch of an epoch is dropped; a
    /// training set smaller than one batch trains as one batch.
    #[arg(long, default_value_t = TrainConfig::default().batch_size)]
    pub batch_size: usize,
    /// sgd (with --momentum) or adamw (β 0.9/0.999; --momentum unused).
    #[arg(long, value_enum, default_value_t = TrainConfig::default().optimizer)]
    pub optimizer: OptimizerKind,
    /// Initial learning rate (the schedule scales it each epoch).
    #[arg(long, default_value_t = TrainConfig::default().lr)]
    pub lr: f64,
    /// SGD momentum.
    #[arg(long, default_value_t = TrainConfig::default().momentum)]
    pub momentum: f64,
    /// Weight decay (decoupled, as AdamW's, with adamw).
    #[arg(long, default_value_t = TrainConfig::default().weight_decay)]
    pub weight_decay: f64,
    /// Learning rate per epoch: cosine (to 0 over --epochs), step (× --gamma
    /// every --step-epochs) or constant.
    #[arg(long, value_enum, default_value_t = TrainConfig::default().schedule)]
    pub schedule: Schedule,
    /// Step schedule: epochs between rate drops.
    #[arg(long, default_value_t = TrainConfig::default().step_epochs)]
    pub step_epochs: usize,
    /// Step schedule: the factor of each drop.
    #[arg(long, default_value_t = TrainConfig::default().gamma)]
    pub gamma: f64,
    /// Label smoothing of the cross-entropy loss, in [0, 1).
    #[arg(long, default_value_t = TrainConfig::default().label_smoothing)]
    pub label_smoothing: f64,
    /// Model input size in pixels (square; default 64, or EfficientNet-Lite's own
    /// 224/240/260, which its ImageNet weights need).
    #[arg(long)]
    pub input_size: Option<u32>,
    /// Use the part that decodes of image files cut short, instead of
    /// skipping them (they are listed in skipped.txt by default).
    #[arg(long)]
    pub allow_truncated: bool,
    /// Keep every epoch's weights (checkpoint-N.safetensors in the run
    /// folder), to compare epochs: `taxa export --checkpoint` makes a bundle
    /// of any. By default only the last epoch's are kept.
    #[arg(long)]
    pub keep_checkpoints: bool,
    /// Turn off random resized crops and flips.
    #[arg(long)]
    pub no_augment: bool,
    /// Where the random crops and flips run: auto (on the device with CUDA,
    /// else CPU threads), cpu or device.
    #[arg(long, value_enum, default_value_t = AugmentOn::Auto)]
    pub augment_on: AugmentOn,
    /// Frozen mode: run the backbone every epoch instead of caching its
    /// features. Cached features come from centre crops, so frozen training
    /// is augmented only with this flag.
    #[arg(long)]
    pub no_feature_cache: bool,
    /// Drop classes with fewer images (the study used 100).
    #[arg(long, default_value_t = TrainConfig::default().min_images_per_class)]
    pub min_images_per_class: usize,
    /// Share of each class held out for validation, in [0, 1) (unused with --official-val).
    #[arg(long, default_value_t = TrainConfig::default().val_fraction)]
    pub val_fraction: f64,
    /// Seed of the split, the order, the initialisation and the augmentation.
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    pub seed: u64,
    /// auto, cpu or cuda.
    #[arg(long, default_value_t = TrainConfig::default().device)]
    pub device: String,
    /// Keep float32 and NCHW on CUDA (default: bf16 autocast and channels-last).
    #[arg(long)]
    pub no_mixed_precision: bool,
    /// Decoded-image cache (shared between runs).
    #[arg(long, default_value_os_t = TrainConfig::default().cache_dir)]
    pub cache_dir: PathBuf,
    /// Run folder: checkpoints, metrics.jsonl, curves.png, best.onnx, final.onnx.
    #[arg(long, default_value = "out/run")]
    pub out: PathBuf,
    /// Load, prune, split and build the decode caches, then stop (a killed
    /// cache build resumes where it stopped).
    #[arg(long, conflicts_with = "resume")]
    pub cache_only: bool,
    /// Print the run summary as JSON.
    #[arg(long)]
    pub json: bool,
}

impl TrainArgs {
    pub fn config(&self) -> anyhow::Result<TrainConfig> {
        let data = match (&self.inat, &self.folder) {
            (Some(path), _) => {
                let files = find_inat(path, self.train_mini).map_err(|e| match e {
                    DataError::Io { .. } => anyhow::Error::from(e).context(format!(
                        "--inat takes a folder with iNaturalist files ({}) or a training JSON file",
                        InatLayout::expected_files()
                    )),
                    other => other.into(),
                })?;
                eprintln!("dataset: {}", files.describe());
                if self.official_val && files.val_json.is_none() {
                    match files.layout.val_file() {
                        Some(val) => anyhow::bail!(
                            "--official-val: the {} layout's validation file {val} is not in {} (it holds {}); drop --official-val to split the training images",
                            files.layout,
                            files.root.display(),
                            folder_listing(&files.root, 20)
                        ),
                        None => anyhow::bail!(
                            "--official-val: {} is not one of the iNaturalist training files ({}), so taxa does not know its validation file; drop --official-val to split it",
                            files.train_json.display(),
                            InatLayout::expected_files()
                        ),
                    }
                }
                DataSource::inat(&files, self.official_val)
            }
            (None, Some(root)) => DataSource::Folder { root: root.clone() },
            (None, None) => anyhow::bail!("give --inat DIR or --folder DIR"),
        };
        let arch = taxa_trainer::weights::arch_for_weights(&self.arch, self.weights.as_deref());
        if arch != self.arch {
            eprintln!("note: {} was trained in TensorFlow; training {arch} (TensorFlow's padding, (pixel − 128) / 128 over the whole photo)", self.weights.as_ref().expect("checked").display());
        }
        Ok(TrainConfig {
            data,
            arch: arch.clone(),
            mode: self.mode,
            weights: self.weights.clone(),
            epochs: self.epochs,
            batch_size: self.batch_size,
            optimizer: self.optimizer,
            lr: self.lr,
            momentum: self.momentum,
            weight_decay: self.weight_decay,
            schedule: self.schedule,
            step_epochs: self.step_epochs,
            gamma: self.gamma,
            label_smoothing: self.label_smoothing,
            input_size: self.input_size.unwrap_or_else(|| default_input_size(&arch)),
            augment: !self.no_augment,
            augment_on: self.augment_on,
            cache_features: !self.no_feature_cache,
            min_images_per_class: self.min_images_per_class,
            val_fraction: self.val_fraction,
            seed: self.seed,
            device: self.device.clone(),
            mixed_precision: !self.no_mixed_precision,
            cache_dir: self.cache_dir.clone(),
            allow_truncated: self.allow_truncated,
            keep_checkpoints: self.keep_checkpoints,
        })
    }
}

/// Training's default input: small for the zoo's synthetic-data runs, the
/// native resolution for EfficientNet-Lite and TensorFlow's MobileNetV2.
pub fn default_input_size(arch: &str) -> u32 {
    if arch.starts_with("efficientnet_lite") || arch == "mobilenet_v2_tf" { taxa_trainer::models::native_input_size(arch) } else { TrainConfig::default().input_size }
}

pub fn run(args: TrainArgs) -> anyhow::Result<ExitCode> {
    if args.cache_only {
        let report = build_caches(&args.config()?, !args.json)?;
        if args.json {
            super::print_json(&report)?;
        } else {
            println!(
                "cached {} training / {} validation images of {} classes ({} decoded now, {} skipped) in {}",
                report.train_images, report.val_images, report.classes, report.decoded_images, report.skipped_images, args.cache_dir.display()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let summary = match &args.resume {
        Some(run_dir) => resume(run_dir, !args.json).with_context(|| format!("resuming {}", run_dir.display()))?,
        None => train(args.config()?, &args.out, !args.json)?,
    };
    if args.json {
        super::print_json(&summary)?;
    } else {
        print_summary(&summary);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn print_summary(s: &RunSummary) {
    let last = s.history.last().expect("at least one epoch");
    println!("run:          {}", s.run_dir.display());
    println!("data:         {} classes ({} pruned), {} training / {} validation images, {} skipped", s.classes, s.pruned_classes, s.train_images, s.val_images, s.skipped_images);
    if !s.classes_without_photos.is_empty() {
        println!("left out:     {} (no photo taxa reads; see skipped.txt)", s.classes_without_photos.join(", "));
    }
    println!(
        "validation:   top-1 error {:.3}, top-5 error {:.3} after {} epochs ({:.3} counting pruned classes)",
        last.val_top1_error, last.val_top5_error, last.epoch, last.val_top1_error_all_classes
    );
    println!("bundles:      {} (best), {} (final)", s.best_bundle.display(), s.final_bundle.display());
    if let Some(epoch) = s.best_epoch {
        println!("best.onnx:    epoch {epoch}: {}", s.best_epoch_rule);
    }
    if !s.most_confused.is_empty() {
        println!("most confused:");
        for (truth, predicted, n) in s.most_confused.iter().take(5) {
            println!("  {n:>4} × {truth} → {predicted}");
        }
    }
}
