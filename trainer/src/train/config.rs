//! What defines a run: [`TrainConfig`] with the `taxa train` defaults
//! (the CLI's flags take theirs from [`TrainConfig::default`]).

use std::path::PathBuf;

use anyhow::bail;
use serde::{Deserialize, Serialize};
use taxa_core::PreprocessContract;
use tch::Device;

use super::OptimizerKind;
use crate::data::DataSource;
use crate::models::spec_for;

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

/// Where training crops and flips images (see [`super::augment`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AugmentOn {
    /// On the device when it is CUDA, else on CPU threads.
    #[default]
    Auto,
    /// On CPU threads, beside the training step.
    Cpu,
    /// On the training device, one call a batch.
    Device,
}

impl AugmentOn {
    pub fn on_device(self, device: Device) -> bool {
        match self {
            AugmentOn::Auto => device.is_cuda(),
            AugmentOn::Cpu => false,
            AugmentOn::Device => true,
        }
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
    /// Where the crops and flips run.
    #[serde(default)]
    pub augment_on: AugmentOn,
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
    /// Keep every epoch's weights (`checkpoint-N.safetensors`) instead of
    /// the last one only, to compare epochs (`taxa export --checkpoint`).
    #[serde(default)]
    pub keep_checkpoints: bool,
}

/// The `taxa train` defaults (the CLI's flags take theirs from here): a
/// ShuffleNetV2 x0.5 from scratch at 64×64 pixels, 10 epochs of SGD
/// (lr 0.05, momentum 0.9, weight decay 1e-4) on a cosine schedule, batches
/// of 64, augmentation on, 10 % of the images held out, seed 42, caches in
/// `out/cache`. `data` has no sensible default: the empty folder it holds is
/// refused by [`super::train`] until set.
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
            augment_on: AugmentOn::Auto,
            cache_features: true,
            min_images_per_class: 0,
            val_fraction: 0.1,
            seed: 42,
            device: "auto".into(),
            mixed_precision: true,
            cache_dir: PathBuf::from("out/cache"),
            allow_truncated: false,
            keep_checkpoints: false,
        }
    }
}

impl TrainConfig {
    /// The architecture's preprocessing at `input_size` (see [`crate::models::preprocess_contract`]).
    pub fn contract(&self) -> PreprocessContract {
        crate::models::preprocess_contract(&self.arch, self.input_size)
    }

    pub(super) fn device(&self) -> anyhow::Result<Device> {
        device_named(&self.device)
    }

    pub(super) fn lr_at(&self, epoch: usize) -> f64 {
        match self.schedule {
            Schedule::Constant => self.lr,
            Schedule::Step => self.lr * self.gamma.powi((epoch / self.step_epochs.max(1)) as i32),
            Schedule::Cosine => self.lr * 0.5 * (1.0 + (std::f64::consts::PI * epoch as f64 / self.epochs as f64).cos()),
        }
    }

    pub(super) fn validate(&self) -> anyhow::Result<()> {
        if let DataSource::Folder { root } = &self.data {
            anyhow::ensure!(!root.as_os_str().is_empty(), "no dataset: give --inat DIR or --folder DIR");
        }
        anyhow::ensure!(self.epochs > 0, "--epochs must be at least 1");
        anyhow::ensure!(self.batch_size > 0, "--batch-size must be at least 1");
        anyhow::ensure!(self.lr > 0.0, "--lr must be positive");
        anyhow::ensure!((0.0..1.0).contains(&self.label_smoothing), "--label-smoothing must be in [0, 1)");
        anyhow::ensure!(self.mode == Mode::Scratch || self.weights.is_some(), "--mode {:?} needs --weights (torchvision names or a taxa checkpoint)", self.mode);
        anyhow::ensure!(
            self.mode != Mode::Scratch || self.weights.is_none(),
            "--weights with --mode scratch: scratch starts from random weights; use --mode finetune to start from these"
        );
        anyhow::ensure!(spec_for(&self.arch, 2).is_some(), "unknown architecture `{}`", self.arch);
        Ok(())
    }
}

/// The `--device` names: auto (CUDA when libtorch sees it, else the CPU),
/// cpu, cuda. Errors on any other name, and on cuda without a CUDA device.
pub fn device_named(name: &str) -> anyhow::Result<Device> {
    Ok(match name {
        "auto" => Device::cuda_if_available(),
        "cpu" => Device::Cpu,
        "cuda" if tch::Cuda::is_available() => Device::Cuda(0),
        "cuda" => bail!("--device cuda, but libtorch sees no CUDA device (check `taxa devices`)"),
        other => bail!("unknown device `{other}` (auto, cpu, cuda)"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_go_with_the_modes_that_use_them() {
        let config = |mode, weights: Option<&str>| TrainConfig { data: DataSource::Folder { root: "photos".into() }, mode, weights: weights.map(Into::into), ..Default::default() };
        assert!(config(Mode::Scratch, None).validate().is_ok());
        let err = config(Mode::Scratch, Some("w.pth")).validate().unwrap_err().to_string();
        assert!(err.contains("--weights with --mode scratch"), "{err}");
        let err = config(Mode::Frozen, None).validate().unwrap_err().to_string();
        assert!(err.contains("needs --weights"), "{err}");
        assert!(config(Mode::Finetune, Some("w.pth")).validate().is_ok());
    }

    #[test]
    fn device_names_are_checked() {
        assert_eq!(device_named("cpu").unwrap(), Device::Cpu);
        let err = device_named("gpu").unwrap_err().to_string();
        assert!(err.contains("unknown device `gpu`"), "{err}");
    }
}
