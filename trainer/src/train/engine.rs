//! The epoch loop (torchvision's `train_one_epoch` and `main`): builds the
//! network and optimiser, resumes from the last committed epoch, caches
//! frozen-mode backbone features, trains, evaluates, commits each epoch and
//! writes the final bundle and report.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};
use tch::{Device, Kind, Tensor, nn::VarStore};
use taxa_core::PreprocessContract;

use super::evaluate::{EvalSet, evaluate};
use super::features::backbone_features;
use super::stages::Stages;
use super::batches::{BatchMaker, HostBatch};
use super::presets::{load_data, training_batch_size, training_batches};
use super::run_dir::{EpochMetrics, RunDir, RunState, RunSummary, improves, plot_run, summarise, write_bundle};
use super::{Mode, Optimizer, TrainConfig};
use crate::checkpoint::{CheckpointInfo, read_checkpoint_info, save_checkpoint};
use crate::data::ImageCache;
use crate::models::{Network, spec_for};
use crate::weights::{HeadOutcome, is_model_file, load_state_dict, read_state_dict, read_weights_for};

/// Trains `config` in `run_dir` from `state` (a resume) or from scratch.
pub(super) fn run(config: TrainConfig, run_dir: &Path, state: Option<RunState>, progress: bool) -> anyhow::Result<RunSummary> {
    let dir = RunDir(run_dir);
    let device = config.device()?;
    let mut stages = Stages::default();
    let data = load_data(&config, progress, &mut stages)?;
    let classes = data.prepared.classes.len();
    dir.write_skipped(&data.prepared.skipped, [&data.train_cache, &data.val_cache])?;
    let train_items: Vec<(usize, usize)> = data.train_cache.usable(&data.prepared.train).map(|(slot, s)| (slot, s.class)).collect();
    let val_items: Vec<(usize, usize)> = data.val_cache.usable(&data.prepared.val).map(|(slot, s)| (slot, s.class)).collect();
    let skipped = data.skipped_images();
    for label in data.untrained_classes(&train_items) {
        eprintln!("warning: class \"{label}\" has no training photo taxa could decode (listed in skipped.txt); the model has it but never learnt it");
    }
    let listed = if skipped > 0 { format!(" ({skipped} skipped, listed with the reason in {})", dir.skipped_list().display()) } else { String::new() };
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
    let state = state.unwrap_or(RunState { epochs_done: 0, best_val_top1_error: None, best_epoch: None, best_val_loss: None });
    let info = CheckpointInfo {
        arch: config.arch.clone(),
        num_classes: classes as i64,
        labels: data.prepared.classes.iter().map(|c| c.label.clone()).collect(),
        taxonomy: Some(data.prepared.classes.iter().map(|c| c.taxonomy.clone()).collect()),
        input_size: Some(config.input_size),
    };
    if state.epochs_done > 0 {
        let checkpoint = dir.checkpoint(state.epochs_done);
        let mut stored = read_checkpoint_info(&checkpoint)?;
        // A run started before checkpoints recorded the input size resumes too.
        stored.input_size = stored.input_size.or(info.input_size);
        anyhow::ensure!(stored == info, "{} does not match this run's classes; the dataset changed since the run started", checkpoint.display());
        load_state_dict(&net, read_state_dict(&checkpoint)?, &checkpoint, false)?;
        optimizer.load(&dir.optimizer(state.epochs_done), device)?;
    }
    let frozen = config.mode == Mode::Frozen;
    net.set_backbone_trainable(!frozen);
    let fast_cuda = config.mixed_precision && device.is_cuda();
    if fast_cuda {
        net.use_channels_last();
    }
    let mut history = dir.committed_metrics(state.epochs_done)?;

    let contract = config.contract();
    let (in_w, in_h) = contract.input_size().map_err(anyhow::Error::msg)?;
    let features = if frozen && config.cache_features {
        let images = train_items.len() + val_items.len();
        Some(stages.time("features", images, || backbone_features(&net, &data, &train_items, &val_items, config.batch_size, &contract, device, (!device.is_cuda()).then_some(run_dir), progress))?)
    } else {
        None
    };
    let val_set = EvalSet { items: &val_items, cache: &data.val_cache, features: features.as_ref().map(|(_, v)| v), contract: &contract, classes };
    let epoch_data = EpochData {
        config: &config,
        items: &train_items,
        cache: &data.train_cache,
        features: features.as_ref().map(|(t, _)| t),
        contract: &contract,
        input: (in_w, in_h),
        batch_size,
        device,
        frozen,
        fast_cuda,
        augment_on_device: config.augment_on.on_device(device),
    };

    // The kept epoch's (error, loss); a run begun before losses were kept ties on any loss.
    let mut best = state.best_val_top1_error.map(|error| (error, state.best_val_loss.unwrap_or(f64::INFINITY)));
    let mut best_epoch = state.best_epoch;
    let mut last_eval = None;
    for epoch in state.epochs_done..config.epochs {
        let started = Instant::now();
        let lr = config.lr_at(epoch);
        let stage_started = stages.start();
        let trained = match train_one_epoch(&net, &mut optimizer, &epoch_data, epoch, lr, progress) {
            Ok(trained) => trained,
            Err(EpochError::NonFinite(what)) => return Err(non_finite(&config, epoch, &what, best.is_some(), run_dir)),
            Err(EpochError::Failed(error)) => return Err(error),
        };
        let train_seconds = started.elapsed().as_secs_f64();
        stages.finish(&format!("train epoch {}", epoch + 1), trained.seen, stage_started);

        let eval = stages.time(&format!("evaluate epoch {}", epoch + 1), val_items.len(), || evaluate(&net, &val_set, config.batch_size, device, config.label_smoothing));
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
            train_loss: trained.loss_sum / trained.seen as f64,
            train_top1_error: 1.0 - trained.correct as f64 / trained.seen as f64,
            val_loss: eval.loss,
            val_top1_error: eval.top1_errors as f64 / val_items.len() as f64,
            val_top5_error: eval.top5_errors as f64 / val_items.len() as f64,
            val_top1_error_all_classes: (eval.top1_errors + data.prepared.val_pruned) as f64 / val_total as f64,
            images_per_second: trained.seen as f64 / train_seconds,
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
        let commit_started = stages.start();
        save_checkpoint(&net, &info, &dir.checkpoint(done))?;
        optimizer.save(&dir.optimizer(done))?;
        dir.append_metrics(&metrics)?;
        history.push(metrics.clone());
        if improves(metrics.val_top1_error, metrics.val_loss, best) {
            best = Some((metrics.val_top1_error, metrics.val_loss));
            best_epoch = Some(done);
            write_bundle(&net, &config, &data.prepared, &metrics, &run_dir.join("best.onnx"))?;
        }
        let state = RunState { epochs_done: done, best_val_top1_error: best.map(|b| b.0), best_epoch, best_val_loss: best.map(|b| b.1) };
        dir.write_json("state.json", &state, false)?;
        dir.remove_epoch(epoch, config.keep_checkpoints);
        plot_run(run_dir, &history);
        stages.finish(&format!("commit epoch {done}"), 0, commit_started);
        last_eval = Some(eval);
    }

    let eval = match last_eval {
        Some(e) => e,
        None => evaluate(&net, &val_set, config.batch_size, device, config.label_smoothing),
    };
    let last = history.last().cloned().context("no epoch ran")?;
    let final_bundle = run_dir.join("final.onnx");
    let report_started = stages.start();
    write_bundle(&net, &config, &data.prepared, &last, &final_bundle)?;
    let mut summary = summarise(run_dir, &data, eval, history, train_items.len(), val_items.len(), final_bundle);
    stages.finish("report", val_items.len(), report_started);
    summary.stages = stages.0;
    dir.write_json("report.json", &summary, true)?;
    Ok(summary)
}

fn build_network(config: &TrainConfig, classes: i64, vs: &VarStore) -> anyhow::Result<Network> {
    let spec = spec_for(&config.arch, classes).expect("validated");
    let net = Network::new(&vs.root(), spec);
    if let Some(weights) = &config.weights {
        let tensors = read_weights_for(weights, net.spec())?;
        if let HeadOutcome::Replaced { file_classes } = load_state_dict(&net, tensors, weights, true)? {
            eprintln!("note: {} has a {file_classes}-class head; training a fresh {classes}-class head", weights.display());
        }
    }
    let mut net = net;
    if config.weights.as_deref().is_some_and(is_model_file) {
        // Folded BatchNorm: identity statistics, kept (see Network::set_batch_norm_frozen).
        net.set_batch_norm_frozen(true);
    }
    Ok(net)
}

/// What one epoch of training reads besides the network and optimiser.
struct EpochData<'a> {
    config: &'a TrainConfig,
    /// Training items: (cache slot, class).
    items: &'a [(usize, usize)],
    cache: &'a ImageCache,
    /// Frozen mode with cached features: one backbone feature row per item.
    features: Option<&'a Tensor>,
    contract: &'a PreprocessContract,
    /// The network's input size (width, height), pixels.
    input: (u32, u32),
    batch_size: usize,
    device: Device,
    frozen: bool,
    fast_cuda: bool,
    /// Random resized crops and flips on the device (see [`super::augment`]).
    augment_on_device: bool,
}

/// One epoch's training sums.
struct Trained {
    loss_sum: f64,
    correct: usize,
    seen: usize,
}

enum EpochError {
    /// The loss stopped being finite (a sentence for [`non_finite`]).
    NonFinite(String),
    Failed(anyhow::Error),
}

/// Trains one epoch over a seeded shuffle of the items.
fn train_one_epoch(net: &Network, optimizer: &mut Optimizer, d: &EpochData<'_>, epoch: usize, lr: f64, progress: bool) -> Result<Trained, EpochError> {
    let config = d.config;
    let params: Vec<(String, Tensor)> = net.trainable_names().into_iter().map(|n| (n.clone(), net.param(&n).expect("known").shallow_clone())).collect();
    // Everything random in an epoch derives from (seed, epoch): a resumed
    // run draws exactly what the uninterrupted one would have.
    tch::manual_seed((config.seed as i64) * 1000 + epoch as i64);
    let mut order: Vec<usize> = (0..d.items.len()).collect();
    order.shuffle(&mut StdRng::seed_from_u64(config.seed.wrapping_mul(7919).wrapping_add(epoch as u64)));
    let bar = if progress { ProgressBar::new(order.len() as u64) } else { ProgressBar::hidden() };
    let template = format!("epoch {}/{} {{bar:30}} {{pos}}/{{len}} img  {{per_sec}}  eta {{eta}}  {{msg}}", epoch + 1, config.epochs);
    bar.set_style(ProgressStyle::with_template(&template).map_err(|e| EpochError::Failed(e.into()))?);
    let mut sums = Trained { loss_sum: 0.0, correct: 0, seen: 0 };
    let batches = training_batches(&order, d.batch_size);
    let maker = BatchMaker { cache: d.cache, items: d.items, seed: config.seed, epoch, input: d.input, on_device: d.augment_on_device, device: d.device };
    std::thread::scope(|scope| -> Result<(), EpochError> {
        // Keep the accelerator fed: the next batches are cropped and
        // augmented on other cores while this one trains.
        let (sender, prepared) = std::sync::mpsc::sync_channel::<HostBatch>(2);
        if d.features.is_none() {
            let (batches, maker) = (&batches, &maker);
            scope.spawn(move || {
                for batch in batches {
                    if sender.send(maker.host(batch)).is_err() {
                        break;
                    }
                }
            });
        }
        for (b, batch) in batches.iter().enumerate() {
            let labels: Vec<i64> = batch.iter().map(|&i| d.items[i].1 as i64).collect();
            let targets = Tensor::from_slice(&labels).to_device(d.device);
            let logits = match d.features {
                Some(train_features) => {
                    let index = Tensor::from_slice(&batch.iter().map(|&i| i as i64).collect::<Vec<_>>()).to_device(d.device);
                    net.forward_head(&train_features.index_select(0, &index), true)
                }
                None => {
                    let host = prepared.recv().context("the batch producer stopped").map_err(EpochError::Failed)?;
                    let mut x = maker.device(host, d.contract, d.device);
                    if d.fast_cuda {
                        x = crate::models::channels_last(&x);
                    }
                    let forward = || if d.frozen { net.forward_head(&tch::no_grad(|| net.forward_backbone(&x)), true) } else { net.forward_t(&x, true) };
                    if d.fast_cuda { tch::autocast(true, forward) } else { forward() }
                }
            };
            let loss = logits.to_kind(Kind::Float).cross_entropy_loss::<Tensor>(&targets, None, tch::Reduction::Mean, -100, config.label_smoothing);
            let batch_loss = loss.double_value(&[]);
            if !batch_loss.is_finite() {
                return Err(EpochError::NonFinite(format!("the training loss is {batch_loss} (batch {} of {})", b + 1, batches.len())));
            }
            loss.backward();
            optimizer.step(&params, lr);
            sums.loss_sum += batch_loss * batch.len() as f64;
            sums.correct += logits.argmax(1, false).eq_tensor(&targets).sum(Kind::Int64).int64_value(&[]) as usize;
            sums.seen += batch.len();
            bar.inc(batch.len() as u64);
            bar.set_message(format!("loss {:.3}", sums.loss_sum / sums.seen as f64));
        }
        Ok(())
    })?;
    bar.finish_and_clear();
    Ok(sums)
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

