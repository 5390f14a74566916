//! Training, cut as torchvision's classification reference is cut:
//! [`TrainConfig`] (`config`), data presets and augmentation (`presets`),
//! the epoch loop (`engine`: `train_one_epoch`), evaluation with the
//! device's exact preprocessing (`evaluate`), and the run folder with its
//! atomic per-epoch checkpoints that a killed run resumes from, metrics,
//! plots, best/final bundles and report (`run_dir`). The study's three
//! transfer-learning modes, SGD or AdamW, cosine or step schedules.

mod augment;
mod batches;
mod config;
mod data_bench;
mod engine;
mod evaluate;
mod features;
mod optim;
pub mod plots;
mod presets;
mod run_dir;
mod stages;

use std::path::Path;

use anyhow::{Context, bail};

pub use crate::data::DataSource;
pub use augment::{CropWindow, augment_on_device};
pub use data_bench::{DataPathResult, bench_data_path};
pub use config::{AugmentOn, Mode, Schedule, TrainConfig, device_named};
pub use optim::{Optimizer, OptimizerKind};
pub use presets::{batch_input, network_input};
pub use run_dir::{EpochMetrics, RunSummary};
pub use stages::StageTiming;
use run_dir::RunDir;

/// Starts a new run in `run_dir` (which must not hold one already).
pub fn train(config: TrainConfig, run_dir: &Path, progress: bool) -> anyhow::Result<RunSummary> {
    config.validate()?;
    if run_dir.join("state.json").exists() {
        bail!("{} already holds a run; resume it with `taxa train --resume {}` or choose another --out", run_dir.display(), run_dir.display());
    }
    std::fs::create_dir_all(run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    RunDir(run_dir).write_json("config.json", &config, true)?;
    engine::run(config, run_dir, None, progress)
}

/// What `taxa train --cache-only` did: the split's sizes and the cache work.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CacheReport {
    pub classes: usize,
    pub train_images: usize,
    pub val_images: usize,
    pub skipped_images: usize,
    /// Images decoded by this call (fewer than the images when it resumed a
    /// killed build; 0 when the caches were whole).
    pub decoded_images: usize,
    pub stages: Vec<StageTiming>,
}

/// Loads, prunes and splits the dataset and builds (or resumes) its decode
/// caches, without training: the data preparation of [`train`], for a CPU
/// machine ahead of a GPU run.
pub fn build_caches(config: &TrainConfig, progress: bool) -> anyhow::Result<CacheReport> {
    config.validate()?;
    let mut stages = stages::Stages::default();
    let data = presets::load_data(config, progress, &mut stages)?;
    let (train, val) = (&data.train_cache, &data.val_cache);
    Ok(CacheReport {
        classes: data.prepared.classes.len(),
        train_images: train.usable(&data.prepared.train).count(),
        val_images: val.usable(&data.prepared.val).count(),
        skipped_images: data.skipped_images(),
        decoded_images: train.decoded + val.decoded,
        stages: stages.0,
    })
}

/// Continues a killed run from its last completed epoch.
pub fn resume(run_dir: &Path, progress: bool) -> anyhow::Result<RunSummary> {
    let dir = RunDir(run_dir);
    let config = dir.read_config()?;
    let state = dir.read_state()?;
    engine::run(config, run_dir, state, progress)
}
