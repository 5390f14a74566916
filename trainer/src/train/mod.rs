//! The training loop: the study's three transfer-learning modes, SGD or
//! AdamW with cosine or step schedules, per-epoch evaluation with the device's
//! exact preprocessing, metrics (JSONL), plots, atomic per-epoch checkpoints
//! that a killed run resumes from, and best/final bundles.

mod optim;
pub mod plots;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor, nn::VarStore};
use taxa_core::preprocess::{Crop, Resize, resample};
use taxa_core::{BundleMetadata, OutputKind, PixelFormat, PixelsRef, PreprocessContract, Provenance, bundle};

use crate::checkpoint::{CheckpointInfo, read_checkpoint_info, save_checkpoint};
use crate::data::{ImageCache, InatFiles, InatLayout, Prepared, RawDataset, build_cache, load_folder, load_inat, prepare};
use crate::export::{ExportOptions, export_onnx};
use crate::models::{Network, spec_for};
use crate::weights::{HeadOutcome, load_state_dict, read_state_dict};
pub use optim::{Optimizer, OptimizerKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Random initialisation, everything trains.
    Scratch,
    /// Pretrained weights, everything trains.
    Finetune,
    /// Pretrained weights, only the head trains.
    Frozen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    Cosine,
    Step,
    Constant,
}

/// Where the images come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "lowercase")]
pub enum DataSource {
    /// iNaturalist JSON files (any competition year, see
    /// [`crate::data::find_inat`]); image paths relative to `root`. With
    /// `official_val` the validation file is the validation set; otherwise
    /// its images join the pool that is split. `categories_json` replaces
    /// the categories (2018/2019's un-obfuscated names).
    Inat {
        root: PathBuf,
        train_json: PathBuf,
        val_json: Option<PathBuf>,
        official_val: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        categories_json: Option<PathBuf>,
    },
    /// `root/<class>/<image>`.
    Folder { root: PathBuf },
}

impl DataSource {
    /// The iNaturalist files `find_inat` found, with or without the official
    /// validation split.
    pub fn inat(files: &InatFiles, official_val: bool) -> Self {
        DataSource::Inat {
            root: files.root.clone(),
            train_json: files.train_json.clone(),
            val_json: files.val_json.clone(),
            official_val,
            categories_json: files.categories_json.clone(),
        }
    }

    pub fn load(&self) -> anyhow::Result<RawDataset> {
        Ok(match self {
            DataSource::Inat { root, train_json, val_json, official_val, categories_json } => {
                let mut raw = load_inat(root, train_json, val_json.as_deref(), categories_json.as_deref())?;
                if !official_val && let Some(val) = raw.val.take() {
                    raw.train.extend(val);
                }
                raw
            }
            DataSource::Folder { root } => load_folder(root)?,
        })
    }
}

/// Everything that defines a run; saved as `config.json` in the run folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub data: DataSource,
    pub arch: String,
    pub mode: Mode,
    /// torchvision-named weights or a taxa checkpoint (finetune, frozen).
    pub weights: Option<PathBuf>,
    pub epochs: usize,
    pub batch_size: usize,
    pub optimizer: OptimizerKind,
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub schedule: Schedule,
    /// Step schedule: multiply the rate by `gamma` every `step_epochs`.
    pub step_epochs: usize,
    pub gamma: f64,
    pub label_smoothing: f64,
    pub input_size: u32,
    /// Random resized crop and horizontal flip while training.
    pub augment: bool,
    /// Frozen mode: compute backbone features once and train the head on them.
    pub cache_features: bool,
    pub min_images_per_class: usize,
    pub val_fraction: f64,
    pub seed: u64,
    /// `auto` (CUDA when available), `cpu` or `cuda`.
    pub device: String,
    /// On CUDA: bf16 autocast and channels-last.
    pub mixed_precision: bool,
    pub cache_dir: PathBuf,
    /// Train on the part that decodes of files cut short, instead of
    /// skipping and listing them.
    #[serde(default)]
    pub allow_truncated: bool,
}

/// The `taxa train` defaults (the CLI's flags take theirs from here): a
/// ShuffleNetV2 x0.5 from scratch at 64×64 pixels, 10 epochs of SGD
/// (lr 0.05, momentum 0.9, weight decay 1e-4) on a cosine schedule, batches
/// of 64, augmentation on, 10 % of the images held out, seed 42, caches in
/// `out/cache`. `data` has no sensible default: the empty folder it holds is
/// refused by [`train`] until set.
impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            data: DataSource::Folder { root: PathBuf::new() },
            arch: "shufflenet_v2_x0_5".into(),
            mode: Mode::Scratch,
            weights: None,
            epochs: 10,
            batch_size: 64,
            optimizer: OptimizerKind::Sgd,
            lr: 0.05,
            momentum: 0.9,
            weight_decay: 1e-4,
            schedule: Schedule::Cosine,
            step_epochs: 3,
            gamma: 0.1,
            label_smoothing: 0.0,
            input_size: 64,
            augment: true,
            cache_features: true,
            min_images_per_class: 0,
            val_fraction: 0.1,
            seed: 42,
            device: "auto".into(),
            mixed_precision: true,
            cache_dir: PathBuf::from("out/cache"),
            allow_truncated: false,
        }
    }
}

impl TrainConfig {
    /// The architecture's preprocessing at `input_size` (see [`crate::models::preprocess_contract`]).
    pub fn contract(&self) -> PreprocessContract {
        crate::models::preprocess_contract(&self.arch, self.input_size)
    }

    fn device(&self) -> anyhow::Result<Device> {
        Ok(match self.device.as_str() {
            "auto" => Device::cuda_if_available(),
            "cpu" => Device::Cpu,
            "cuda" if tch::Cuda::is_available() => Device::Cuda(0),
            "cuda" => bail!("--device cuda, but libtorch sees no CUDA device (check `taxa devices`)"),
            other => bail!("unknown device `{other}` (auto, cpu, cuda)"),
        })
    }

    fn lr_at(&self, epoch: usize) -> f64 {
        match self.schedule {
            Schedule::Constant => self.lr,
            Schedule::Step => self.lr * self.gamma.powi((epoch / self.step_epochs.max(1)) as i32),
            Schedule::Cosine => self.lr * 0.5 * (1.0 + (std::f64::consts::PI * epoch as f64 / self.epochs as f64).cos()),
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        if let DataSource::Folder { root } = &self.data {
            anyhow::ensure!(!root.as_os_str().is_empty(), "no dataset: give --inat DIR or --folder DIR");
        }
        anyhow::ensure!(self.epochs > 0, "--epochs must be at least 1");
        anyhow::ensure!(self.batch_size > 0, "--batch-size must be at least 1");
        anyhow::ensure!(self.lr > 0.0, "--lr must be positive");
        anyhow::ensure!((0.0..1.0).contains(&self.label_smoothing), "--label-smoothing must be in [0, 1)");
        anyhow::ensure!(self.mode == Mode::Scratch || self.weights.is_some(), "--mode {:?} needs --weights (torchvision names or a taxa checkpoint)", self.mode);
        anyhow::ensure!(spec_for(&self.arch, 2).is_some(), "unknown architecture `{}`", self.arch);
        Ok(())
    }
}

/// One epoch's numbers, one line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    pub epoch: usize,
    pub lr: f64,
    pub train_loss: f64,
    pub train_top1_error: f64,
    pub val_loss: f64,
    pub val_top1_error: f64,
    pub val_top5_error: f64,
    /// Counting the pruned classes' validation images as errors.
    pub val_top1_error_all_classes: f64,
    pub images_per_second: f64,
    pub seconds: f64,
}

/// Progress of a run; `state.json`, written last each epoch (the commit point).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RunState {
    epochs_done: usize,
    best_val_top1_error: Option<f64>,
}

/// What a finished run reports.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub run_dir: PathBuf,
    pub classes: usize,
    pub pruned_classes: usize,
    pub train_images: usize,
    pub val_images: usize,
    pub skipped_images: usize,
    pub history: Vec<EpochMetrics>,
    pub best_bundle: PathBuf,
    pub final_bundle: PathBuf,
    pub per_class_accuracy: Vec<(String, f64, usize)>,
    pub most_confused: Vec<(String, String, usize)>,
}

struct Splits {
    prepared: Prepared,
    train_cache: ImageCache,
    val_cache: ImageCache,
}

/// Starts a new run in `run_dir` (which must not hold one already).
pub fn train(config: TrainConfig, run_dir: &Path, progress: bool) -> anyhow::Result<RunSummary> {
    config.validate()?;
    if run_dir.join("state.json").exists() {
        bail!("{} already holds a run; resume it with `taxa train --resume {}` or choose another --out", run_dir.display(), run_dir.display());
    }
    std::fs::create_dir_all(run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    write_atomic(&run_dir.join("config.json"), &serde_json::to_vec_pretty(&config)?)?;
    run(config, run_dir, None, progress)
}

/// Continues a killed run from its last completed epoch.
pub fn resume(run_dir: &Path, progress: bool) -> anyhow::Result<RunSummary> {
    let config: TrainConfig = serde_json::from_slice(&std::fs::read(run_dir.join("config.json")).with_context(|| format!("{} is not a taxa run folder (no config.json)", run_dir.display()))?)
        .with_context(|| format!("reading {}", run_dir.join("config.json").display()))?;
    let state: Option<RunState> = match std::fs::read(run_dir.join("state.json")) {
        Ok(bytes) => Some(serde_json::from_slice(&bytes).context("reading state.json")?),
        Err(_) => None,
    };
    run(config, run_dir, state, progress)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

fn load_data(config: &TrainConfig, progress: bool) -> anyhow::Result<Splits> {
    let raw = config.data.load()?;
    let prepared = prepare(raw, config.min_images_per_class, config.val_fraction, config.seed)?;
    let eval = config.contract();
    // Training crops come from the centre square at the resize size.
    let Resize::ShorterSide { size } = eval.resize else { unreachable!("imagenet contract") };
    let mut square = eval.clone();
    square.crop = Crop::Center { width: size, height: size };
    let train_contract = if config.augment && !(config.mode == Mode::Frozen && config.cache_features) { square } else { eval.clone() };
    let train_cache = build_cache(&prepared.train, &train_contract, &config.cache_dir, "training images", progress, config.allow_truncated)?;
    let val_cache = build_cache(&prepared.val, &eval, &config.cache_dir, "validation images", progress, config.allow_truncated)?;
    Ok(Splits { prepared, train_cache, val_cache })
}

fn build_network(config: &TrainConfig, classes: i64, vs: &VarStore) -> anyhow::Result<Network> {
    let spec = spec_for(&config.arch, classes).expect("validated");
    let net = Network::new(&vs.root(), spec);
    if let Some(weights) = &config.weights {
        let tensors = read_state_dict(weights)?;
        if let HeadOutcome::Replaced { file_classes } = load_state_dict(&net, tensors, weights, true)? {
            eprintln!("note: {} has a {file_classes}-class head; training a fresh {classes}-class head", weights.display());
        }
    }
    Ok(net)
}

/// Converts cached 8-bit HWC pixels of a batch to a normalised NCHW tensor.
fn to_input(pixels: &[u8], n: usize, w: u32, h: u32, contract: &PreprocessContract, device: Device) -> Tensor {
    let x = Tensor::from_slice(pixels).view([n as i64, h as i64, w as i64, 3]).to_device(device);
    let x = x.permute([0, 3, 1, 2]).to_kind(Kind::Float) / contract.value_scale as f64;
    let mean = Tensor::from_slice(&contract.mean).view([1, 3, 1, 1]).to_device(device);
    let std = Tensor::from_slice(&contract.std).view([1, 3, 1, 1]).to_device(device);
    (x - mean) / std
}

/// Random resized crop (area 35–100 %, aspect 3/4–4/3) and a coin-flip mirror.
fn augment(pixels: &[u8], side: u32, out: u32, rng: &mut StdRng) -> Vec<u8> {
    let s = side as f64;
    let area = s * s * rng.random_range(0.35..1.0);
    let ratio = (rng.random_range((0.75f64).ln()..(4.0f64 / 3.0).ln())).exp();
    let w = (area * ratio).sqrt().min(s);
    let h = (area / ratio).sqrt().min(s);
    let (left, top) = (rng.random_range(0.0..=(s - w)), rng.random_range(0.0..=(s - h)));
    let src = PixelsRef::new(side, side, PixelFormat::Rgb8, pixels).expect("cached image");
    let mut crop = resample(src, (left, top, w, h), out, out, taxa_core::preprocess::Interpolation::Bilinear).expect("valid window");
    if rng.random_bool(0.5) {
        for row in crop.chunks_exact_mut(out as usize * 3) {
            let pixels: Vec<[u8; 3]> = row.chunks_exact(3).rev().map(|p| [p[0], p[1], p[2]]).collect();
            row.copy_from_slice(pixels.as_flattened());
        }
    }
    crop
}

fn run(config: TrainConfig, run_dir: &Path, state: Option<RunState>, progress: bool) -> anyhow::Result<RunSummary> {
    let device = config.device()?;
    let data = load_data(&config, progress)?;
    let classes = data.prepared.classes.len();
    if !data.train_cache.skipped.is_empty() || !data.val_cache.skipped.is_empty() {
        let mut text = String::new();
        for (path, why) in data.train_cache.skipped.iter().chain(&data.val_cache.skipped) {
            text.push_str(&format!("{}\t{}\n", path.display(), why.replace('\n', " ")));
        }
        std::fs::write(run_dir.join("skipped.txt"), text)?;
    }
    let train_items: Vec<(usize, usize)> = data.train_cache.usable(&data.prepared.train).map(|(slot, s)| (slot, s.class)).collect();
    let val_items: Vec<(usize, usize)> = data.val_cache.usable(&data.prepared.val).map(|(slot, s)| (slot, s.class)).collect();
    let skipped = data.train_cache.skipped.len() + data.val_cache.skipped.len();
    let listed = if skipped > 0 { format!(" ({skipped} skipped, listed with the reason in {})", run_dir.join("skipped.txt").display()) } else { String::new() };
    anyhow::ensure!(!train_items.is_empty(), "no usable training images{listed}");
    anyhow::ensure!(!val_items.is_empty(), "no usable validation images{listed}; raise --val-fraction or add images");
    let batch_size = training_batch_size(train_items.len(), config.batch_size)?;
    if batch_size < config.batch_size {
        eprintln!("note: {} training images, fewer than --batch-size {}; training with one batch of {batch_size} per epoch", train_items.len(), config.batch_size);
    }

    let vs = VarStore::new(device);
    tch::manual_seed(config.seed as i64);
    let mut net = build_network(&config, classes as i64, &vs)?;
    let mut optimizer = Optimizer::new(config.optimizer, config.momentum, config.weight_decay);
    let state = state.unwrap_or(RunState { epochs_done: 0, best_val_top1_error: None });
    let info = CheckpointInfo {
        arch: config.arch.clone(),
        num_classes: classes as i64,
        labels: data.prepared.classes.iter().map(|c| c.label.clone()).collect(),
        taxonomy: Some(data.prepared.classes.iter().map(|c| c.taxonomy.clone()).collect()),
    };
    if state.epochs_done > 0 {
        let checkpoint = run_dir.join(format!("checkpoint-{}.safetensors", state.epochs_done));
        let stored = read_checkpoint_info(&checkpoint)?;
        anyhow::ensure!(stored == info, "{} does not match this run's classes; the dataset changed since the run started", checkpoint.display());
        load_state_dict(&net, read_state_dict(&checkpoint)?, &checkpoint, false)?;
        optimizer.load(&run_dir.join(format!("optimizer-{}.safetensors", state.epochs_done)), device)?;
    }
    let frozen = config.mode == Mode::Frozen;
    net.set_backbone_trainable(!frozen);
    let fast_cuda = config.mixed_precision && device.is_cuda();
    if fast_cuda {
        net.use_channels_last();
    }
    let params: Vec<(String, Tensor)> = net.trainable_names().into_iter().map(|n| (n.clone(), net.param(&n).expect("known").shallow_clone())).collect();

    // Metrics of completed epochs survive a resume; later lines (an epoch that
    // was killed after logging) are dropped.
    let metrics_path = run_dir.join("metrics.jsonl");
    let mut history: Vec<EpochMetrics> = std::fs::read_to_string(&metrics_path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .take(state.epochs_done)
        .collect();
    write_atomic(&metrics_path, history.iter().map(|m| serde_json::to_string(m).expect("serialises") + "\n").collect::<String>().as_bytes())?;

    let contract = config.contract();
    let (in_w, in_h) = contract.input_size().map_err(anyhow::Error::msg)?;
    let train_is_square = data.train_cache.width != in_w;

    // Frozen mode with cached features: the backbone runs once per image.
    let feature_cache = if frozen && config.cache_features {
        let bar = if progress { ProgressBar::new((train_items.len() + val_items.len()) as u64) } else { ProgressBar::hidden() };
        bar.set_style(ProgressStyle::with_template("backbone features {bar:40} {pos}/{len}  {per_sec}  eta {eta}")?);
        let features = |items: &[(usize, usize)], cache: &ImageCache| -> Tensor {
            let chunks: Vec<Tensor> = items
                .chunks(config.batch_size)
                .map(|batch| {
                    let pixels: Vec<u8> = batch.iter().flat_map(|(slot, _)| cache.pixels(*slot).iter().copied()).collect();
                    let x = to_input(&pixels, batch.len(), cache.width, cache.height, &contract, device);
                    bar.inc(batch.len() as u64);
                    tch::no_grad(|| net.forward_backbone(&x))
                })
                .collect();
            Tensor::cat(&chunks, 0)
        };
        let cached = (features(&train_items, &data.train_cache), features(&val_items, &data.val_cache));
        bar.finish_and_clear();
        Some(cached)
    } else {
        None
    };

    let mut best = state.best_val_top1_error;
    let mut last_eval = None;
    for epoch in state.epochs_done..config.epochs {
        let started = Instant::now();
        let lr = config.lr_at(epoch);
        // Everything random in an epoch derives from (seed, epoch): a resumed
        // run draws exactly what the uninterrupted one would have.
        tch::manual_seed((config.seed as i64) * 1000 + epoch as i64);
        let mut order: Vec<usize> = (0..train_items.len()).collect();
        order.shuffle(&mut StdRng::seed_from_u64(config.seed.wrapping_mul(7919).wrapping_add(epoch as u64)));
        let bar = if progress { ProgressBar::new(order.len() as u64) } else { ProgressBar::hidden() };
        bar.set_style(ProgressStyle::with_template(&format!("epoch {}/{} {{bar:30}} {{pos}}/{{len}} img  {{per_sec}}  eta {{eta}}  {{msg}}", epoch + 1, config.epochs))?);
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        let batches = training_batches(&order, batch_size);
        let batch_pixels = |batch: &[usize]| -> Vec<u8> {
            if train_is_square {
                batch
                    .par_iter()
                    .flat_map_iter(|&i| {
                        let mut rng = StdRng::seed_from_u64(config.seed ^ ((epoch as u64) << 32) ^ i as u64);
                        augment(data.train_cache.pixels(train_items[i].0), data.train_cache.width, in_w, &mut rng)
                    })
                    .collect()
            } else {
                batch.iter().flat_map(|&i| data.train_cache.pixels(train_items[i].0).iter().copied()).collect()
            }
        };
        std::thread::scope(|scope| -> anyhow::Result<()> {
            // Keep the accelerator fed: the next batches are cropped and
            // augmented on other cores while this one trains.
            let (sender, prepared) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
            if feature_cache.is_none() {
                let (batches, batch_pixels) = (&batches, &batch_pixels);
                scope.spawn(move || {
                    for batch in batches {
                        if sender.send(batch_pixels(batch)).is_err() {
                            break;
                        }
                    }
                });
            }
            for (b, batch) in batches.iter().enumerate() {
                let labels: Vec<i64> = batch.iter().map(|&i| train_items[i].1 as i64).collect();
                let targets = Tensor::from_slice(&labels).to_device(device);
                let logits = match &feature_cache {
                    Some((train_features, _)) => {
                        let index = Tensor::from_slice(&batch.iter().map(|&i| i as i64).collect::<Vec<_>>()).to_device(device);
                        net.forward_head(&train_features.index_select(0, &index), true)
                    }
                    None => {
                        let pixels = prepared.recv().context("the batch producer stopped")?;
                        let mut x = to_input(&pixels, batch.len(), in_w, in_h, &contract, device);
                        if fast_cuda {
                            x = crate::models::channels_last(&x);
                        }
                        let forward = || if frozen { net.forward_head(&tch::no_grad(|| net.forward_backbone(&x)), true) } else { net.forward_t(&x, true) };
                        if fast_cuda { tch::autocast(true, forward) } else { forward() }
                    }
                };
                let loss = logits.to_kind(Kind::Float).cross_entropy_loss::<Tensor>(&targets, None, tch::Reduction::Mean, -100, config.label_smoothing);
                let batch_loss = loss.double_value(&[]);
                if !batch_loss.is_finite() {
                    return Err(non_finite(&config, epoch, &format!("the training loss is {batch_loss} (batch {} of {})", b + 1, batches.len()), best.is_some(), run_dir));
                }
                loss.backward();
                optimizer.step(&params, lr);
                loss_sum += batch_loss * batch.len() as f64;
                correct += logits.argmax(1, false).eq_tensor(&targets).sum(Kind::Int64).int64_value(&[]) as usize;
                seen += batch.len();
                bar.inc(batch.len() as u64);
                bar.set_message(format!("loss {:.3}", loss_sum / seen as f64));
            }
            Ok(())
        })?;
        bar.finish_and_clear();
        let train_seconds = started.elapsed().as_secs_f64();

        let eval = evaluate(&net, &val_items, &data.val_cache, feature_cache.as_ref().map(|(_, v)| v), &contract, config.batch_size, classes, device, config.label_smoothing);
        // Never checkpoint or export broken weights: stop at the first epoch that made them.
        if let Some(name) = net.first_non_finite() {
            return Err(non_finite(&config, epoch, &format!("the weights hold NaN or infinite values ({name}); validation loss {}", eval.loss), best.is_some(), run_dir));
        }
        if !eval.loss.is_finite() {
            return Err(non_finite(&config, epoch, &format!("the validation loss is {}", eval.loss), best.is_some(), run_dir));
        }
        let val_total = val_items.len() + data.prepared.val_pruned;
        let metrics = EpochMetrics {
            epoch: epoch + 1,
            lr,
            train_loss: loss_sum / seen as f64,
            train_top1_error: 1.0 - correct as f64 / seen as f64,
            val_loss: eval.loss,
            val_top1_error: eval.top1_errors as f64 / val_items.len() as f64,
            val_top5_error: eval.top5_errors as f64 / val_items.len() as f64,
            val_top1_error_all_classes: (eval.top1_errors + data.prepared.val_pruned) as f64 / val_total as f64,
            images_per_second: seen as f64 / train_seconds,
            seconds: started.elapsed().as_secs_f64(),
        };
        if progress {
            eprintln!(
                "epoch {}/{}: train loss {:.3}, val loss {:.3}, val top-1 error {:.3} (top-5 {:.3}), {:.0} img/s",
                metrics.epoch, config.epochs, metrics.train_loss, metrics.val_loss, metrics.val_top1_error, metrics.val_top5_error, metrics.images_per_second
            );
        }

        // Checkpoint (named by epoch), metrics line, then state.json commits the epoch.
        let done = epoch + 1;
        save_checkpoint(&net, &info, &run_dir.join(format!("checkpoint-{done}.safetensors")))?;
        optimizer.save(&run_dir.join(format!("optimizer-{done}.safetensors")))?;
        let mut log = std::fs::OpenOptions::new().append(true).create(true).open(&metrics_path)?;
        writeln!(log, "{}", serde_json::to_string(&metrics)?)?;
        history.push(metrics.clone());
        let improved = best.is_none_or(|b| metrics.val_top1_error < b);
        if improved {
            best = Some(metrics.val_top1_error);
            write_bundle(&net, &config, &data.prepared, &metrics, &run_dir.join("best.onnx"))?;
        }
        write_atomic(&run_dir.join("state.json"), &serde_json::to_vec(&RunState { epochs_done: done, best_val_top1_error: best })?)?;
        for old in ["checkpoint", "optimizer"] {
            let _ = std::fs::remove_file(run_dir.join(format!("{old}-{}.safetensors", epoch)));
        }
        plot_run(run_dir, &history);
        last_eval = Some(eval);
    }

    let eval = match last_eval {
        Some(e) => e,
        None => evaluate(&net, &val_items, &data.val_cache, feature_cache.as_ref().map(|(_, v)| v), &contract, config.batch_size, classes, device, config.label_smoothing),
    };
    let last = history.last().cloned().context("no epoch ran")?;
    let final_bundle = run_dir.join("final.onnx");
    write_bundle(&net, &config, &data.prepared, &last, &final_bundle)?;
    let labels: Vec<String> = data.prepared.classes.iter().map(|c| c.label.clone()).collect();
    let per_class_accuracy: Vec<(String, f64, usize)> = (0..classes)
        .map(|c| (labels[c].clone(), if eval.class_total[c] > 0 { eval.class_correct[c] as f64 / eval.class_total[c] as f64 } else { f64::NAN }, eval.class_total[c]))
        .collect();
    let mut confusions: Vec<((usize, usize), usize)> = eval.confusions.into_iter().collect();
    confusions.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let most_confused = confusions.into_iter().take(10).map(|((t, p), n)| (labels[t].clone(), labels[p].clone(), n)).collect();
    let summary = RunSummary {
        run_dir: run_dir.to_path_buf(),
        classes,
        pruned_classes: data.prepared.pruned.len(),
        train_images: train_items.len(),
        val_images: val_items.len(),
        skipped_images: data.train_cache.skipped.len() + data.val_cache.skipped.len(),
        history,
        best_bundle: run_dir.join("best.onnx"),
        final_bundle,
        per_class_accuracy,
        most_confused,
    };
    write_atomic(&run_dir.join("report.json"), &serde_json::to_vec_pretty(&summary)?)?;
    Ok(summary)
}

/// The batch size training uses: `requested`, or the whole training set
/// when it is smaller than one batch. BatchNorm cannot estimate statistics
/// from one image (its variance is undefined at 1×1 feature maps), so a
/// training set of one image is refused.
fn training_batch_size(train_images: usize, requested: usize) -> anyhow::Result<usize> {
    let size = requested.min(train_images);
    anyhow::ensure!(
        size >= MIN_TRAINING_BATCH,
        "{train_images} usable training image(s): training needs batches of at least {MIN_TRAINING_BATCH} (BatchNorm estimates its statistics from each batch); add images or lower --val-fraction"
    );
    Ok(size)
}

/// The smallest batch BatchNorm's statistics are taken from.
const MIN_TRAINING_BATCH: usize = 2;

/// An epoch's training batches: `order` in chunks of `batch_size`, without
/// the final incomplete batch (PyTorch's `drop_last`). A tiny last batch
/// corrupts BatchNorm's running statistics (a batch of one gives NaN); the
/// images it would have held are reshuffled into full batches next epoch.
fn training_batches(order: &[usize], batch_size: usize) -> Vec<&[usize]> {
    order.chunks_exact(batch_size).collect()
}

/// The error that stops a run whose loss or weights stopped being finite.
fn non_finite(config: &TrainConfig, epoch: usize, what: &str, earlier_bundle: bool, run_dir: &Path) -> anyhow::Error {
    let kept = if earlier_bundle {
        format!("; {} from an earlier epoch is kept", run_dir.join("best.onnx").display())
    } else {
        String::new()
    };
    let number = |x: f64| if x != 0.0 && !(1e-4..1e6).contains(&x.abs()) { format!("{x:e}") } else { format!("{x}") };
    anyhow::anyhow!(
        "epoch {}/{}: {what}; training stopped and no model was saved from these weights{kept}. \
         A learning rate too high for the data is the usual cause (this epoch's rate: {}, from --lr {}; --batch-size {})",
        epoch + 1,
        config.epochs,
        number(config.lr_at(epoch)),
        number(config.lr),
        config.batch_size
    )
}

struct Evaluation {
    loss: f64,
    top1_errors: usize,
    top5_errors: usize,
    class_correct: Vec<usize>,
    class_total: Vec<usize>,
    confusions: HashMap<(usize, usize), usize>,
}

#[allow(clippy::too_many_arguments)]
fn evaluate(net: &Network, items: &[(usize, usize)], cache: &ImageCache, features: Option<&Tensor>, contract: &PreprocessContract, batch_size: usize, classes: usize, device: Device, smoothing: f64) -> Evaluation {
    let mut e = Evaluation { loss: 0.0, top1_errors: 0, top5_errors: 0, class_correct: vec![0; classes], class_total: vec![0; classes], confusions: HashMap::new() };
    tch::no_grad(|| {
        for (b, batch) in items.chunks(batch_size).enumerate() {
            let logits = match features {
                Some(f) => net.forward_head(&f.narrow(0, (b * batch_size) as i64, batch.len() as i64), false),
                None => {
                    let pixels: Vec<u8> = batch.iter().flat_map(|(slot, _)| cache.pixels(*slot).iter().copied()).collect();
                    net.forward_t(&to_input(&pixels, batch.len(), cache.width, cache.height, contract, device), false)
                }
            }
            .to_kind(Kind::Float);
            let labels: Vec<i64> = batch.iter().map(|(_, c)| *c as i64).collect();
            let targets = Tensor::from_slice(&labels).to_device(device);
            e.loss += logits.cross_entropy_loss::<Tensor>(&targets, None, tch::Reduction::Sum, -100, smoothing).double_value(&[]);
            let k = 5.min(classes as i64);
            let top = logits.topk(k, 1, true, true).1.to_device(Device::Cpu);
            let top: Vec<i64> = Vec::try_from(&top.flatten(0, -1)).expect("int64 indices");
            for (row, &label) in top.chunks(k as usize).zip(&labels) {
                let truth = label as usize;
                e.class_total[truth] += 1;
                if row[0] == label {
                    e.class_correct[truth] += 1;
                } else {
                    e.top1_errors += 1;
                    *e.confusions.entry((truth, row[0] as usize)).or_default() += 1;
                }
                if !row.contains(&label) {
                    e.top5_errors += 1;
                }
            }
        }
    });
    e.loss /= items.len().max(1) as f64;
    e
}

fn write_bundle(net: &Network, config: &TrainConfig, prepared: &Prepared, metrics: &EpochMetrics, path: &Path) -> anyhow::Result<()> {
    let contract = config.contract();
    let model = export_onnx(net, &contract, ExportOptions::default())?;
    let mut provenance = Provenance {
        dataset: Some(match &config.data {
            DataSource::Inat { train_json, .. } => train_json.display().to_string(),
            DataSource::Folder { root } => root.display().to_string(),
        }),
        epochs: Some(metrics.epoch as u32),
        val_top1_error: Some(metrics.val_top1_error),
        val_top5_error: Some(metrics.val_top5_error),
        ..Default::default()
    };
    if let DataSource::Inat { train_json, .. } = &config.data {
        let name = train_json.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        provenance.extra.insert("dataset_layout".into(), InatLayout::of_train_file(name).unwrap_or(InatLayout::Other).to_string());
    }
    provenance.extra.insert("mode".into(), format!("{:?}", config.mode).to_lowercase());
    provenance.extra.insert("seed".into(), config.seed.to_string());
    provenance.extra.insert("pruned_classes".into(), prepared.pruned.len().to_string());
    provenance.extra.insert("val_top1_error_all_classes".into(), format!("{:.4}", metrics.val_top1_error_all_classes));
    let metadata = BundleMetadata {
        labels: prepared.classes.iter().map(|c| c.label.clone()).collect(),
        taxonomy: Some(prepared.classes.iter().map(|c| c.taxonomy.clone()).collect()),
        preprocess: contract,
        output: OutputKind::Logits,
        architecture: Some(config.arch.clone()),
        provenance: Some(provenance),
    };
    bundle::write_bundle(path, model, &metadata).with_context(|| format!("writing {}", path.display()))
}

/// The run's loss and error curves; a missing font only costs the plot.
fn plot_run(run_dir: &Path, history: &[EpochMetrics]) {
    let series = |name: &str, f: fn(&EpochMetrics) -> f64| plots::Series { name: name.into(), points: history.iter().map(|m| (m.epoch as f64, f(m))).collect() };
    let panels = [
        ("loss", vec![series("train", |m| m.train_loss), series("validation", |m| m.val_loss)]),
        ("top-1 error", vec![series("train", |m| m.train_top1_error), series("validation", |m| m.val_top1_error)]),
    ];
    if let Err(e) = plots::plot_panels(&run_dir.join("curves.png"), &panels) {
        eprintln!("warning: curves.png not drawn: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_incomplete_last_batch_is_dropped() {
        let order: Vec<usize> = (0..33).collect();
        let sizes = |b: usize| training_batches(&order, b).iter().map(|b| b.len()).collect::<Vec<_>>();
        assert_eq!(sizes(16), [16, 16], "33 = 2 × 16 + 1: the batch of one is dropped");
        assert_eq!(sizes(15), [15, 15]);
        assert_eq!(sizes(11), [11, 11, 11]);
        assert_eq!(training_batches(&order, 16)[1], &order[16..32]);
        assert_eq!(training_batch_size(33, 16).unwrap(), 16);
        assert_eq!(training_batch_size(33, 64).unwrap(), 33, "a small set trains in one batch");
        assert_eq!(training_batch_size(2, 64).unwrap(), 2);
        let err = training_batch_size(1, 64).unwrap_err().to_string();
        assert!(err.contains("1 usable training image(s)"), "{err}");
    }
}
