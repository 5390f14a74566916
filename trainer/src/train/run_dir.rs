//! The run folder: `config.json`, `state.json` (the commit point of each
//! epoch), `metrics.jsonl`, per-epoch checkpoints and optimiser state,
//! `best.onnx`/`final.onnx`, `curves.png`, `skipped.txt` and `report.json`.
//! Every file that a resume reads is written atomically.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use taxa_core::atomic::write_atomic;
use taxa_core::Provenance;

use super::evaluate::Evaluation;
use super::presets::Splits;
use super::{TrainConfig, plots};
use crate::data::{DataSource, ImageCache, InatLayout, Prepared};
use crate::export::NetworkBundle;
use crate::models::Network;

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
pub(super) struct RunState {
    pub epochs_done: usize,
    pub best_val_top1_error: Option<f64>,
    /// The kept epoch (1-based) and its validation loss; absent from runs
    /// begun before they were recorded.
    #[serde(default)]
    pub best_epoch: Option<usize>,
    #[serde(default)]
    pub best_val_loss: Option<f64>,
}

/// How `best.onnx` is chosen. On a small validation set many epochs tie on
/// the error, and keeping the first of them kept the least-trained one; the
/// loss still tells them apart.
pub const BEST_EPOCH_RULE: &str = "the lowest validation top-1 error; among tied epochs, the lowest validation loss";

/// Whether an epoch with validation `error` and `loss` replaces the kept one
/// (`kept`: its error and loss), by [`BEST_EPOCH_RULE`].
pub(super) fn improves(error: f64, loss: f64, kept: Option<(f64, f64)>) -> bool {
    const SAME: f64 = 1e-12;
    match kept {
        None => true,
        Some((kept_error, kept_loss)) => error < kept_error - SAME || ((error - kept_error).abs() <= SAME && loss < kept_loss),
    }
}

/// The epoch [`improves`] keeps over a run's history (1-based).
pub(super) fn kept_epoch(history: &[EpochMetrics]) -> Option<usize> {
    let mut kept: Option<(f64, f64, usize)> = None;
    for m in history {
        if improves(m.val_top1_error, m.val_loss, kept.map(|(e, l, _)| (e, l))) {
            kept = Some((m.val_top1_error, m.val_loss, m.epoch));
        }
    }
    kept.map(|(_, _, epoch)| epoch)
}

/// What a finished run reports.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    #[serde(serialize_with = "crate::json_paths::serialize_path_lossy")]
    pub run_dir: PathBuf,
    pub classes: usize,
    pub pruned_classes: usize,
    /// Class folders in which no file was a photo taxa reads (among the
    /// pruned): the model lacks these species.
    pub classes_without_photos: Vec<String>,
    pub train_images: usize,
    pub val_images: usize,
    pub skipped_images: usize,
    pub history: Vec<EpochMetrics>,
    #[serde(serialize_with = "crate::json_paths::serialize_path_lossy")]
    pub best_bundle: PathBuf,
    /// The epoch `best.onnx` holds (1-based), and the rule that chose it.
    pub best_epoch: Option<usize>,
    pub best_epoch_rule: &'static str,
    #[serde(serialize_with = "crate::json_paths::serialize_path_lossy")]
    pub final_bundle: PathBuf,
    pub per_class_accuracy: Vec<(String, f64, usize)>,
    pub most_confused: Vec<(String, String, usize)>,
    /// This process's stages (a resumed run times only what it ran).
    pub stages: Vec<super::StageTiming>,
}

/// A run folder's files.
pub(super) struct RunDir<'a>(pub &'a Path);

impl RunDir<'_> {
    pub fn checkpoint(&self, epochs_done: usize) -> PathBuf {
        self.0.join(format!("checkpoint-{epochs_done}.safetensors"))
    }

    pub fn optimizer(&self, epochs_done: usize) -> PathBuf {
        self.0.join(format!("optimizer-{epochs_done}.safetensors"))
    }

    pub fn skipped_list(&self) -> PathBuf {
        self.0.join("skipped.txt")
    }

    pub fn write_json(&self, name: &str, value: &impl Serialize, pretty: bool) -> anyhow::Result<()> {
        let bytes = if pretty { serde_json::to_vec_pretty(value)? } else { serde_json::to_vec(value)? };
        let path = self.0.join(name);
        write_atomic(&path, &bytes).with_context(|| format!("writing {}", path.display()))
    }

    pub fn read_config(&self) -> anyhow::Result<TrainConfig> {
        let path = self.0.join("config.json");
        let bytes = std::fs::read(&path).with_context(|| format!("{} is not a taxa run folder (no config.json)", self.0.display()))?;
        serde_json::from_slice(&bytes).with_context(|| format!("reading {}", path.display()))
    }

    /// The committed progress, or `None` before the first epoch finished.
    pub fn read_state(&self) -> anyhow::Result<Option<RunState>> {
        match std::fs::read(self.0.join("state.json")) {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).context("reading state.json")?)),
            Err(_) => Ok(None),
        }
    }

    /// Lists, with the reason, in `skipped.txt`: the files the loader did not
    /// take as photos, then the images both caches could not decode.
    pub fn write_skipped(&self, loaded: &[(PathBuf, String)], caches: [&ImageCache; 2]) -> anyhow::Result<()> {
        if loaded.is_empty() && caches.iter().all(|c| c.skipped.is_empty()) {
            return Ok(());
        }
        let mut text = String::new();
        for (path, why) in loaded.iter().chain(caches.iter().flat_map(|c| &c.skipped)) {
            text.push_str(&format!("{}\t{}\n", path.display(), why.replace('\n', " ")));
        }
        let path = self.skipped_list();
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    }

    /// Metrics of the `epochs_done` completed epochs. They survive a resume;
    /// later lines (an epoch killed after logging) are dropped from the file.
    pub fn committed_metrics(&self, epochs_done: usize) -> anyhow::Result<Vec<EpochMetrics>> {
        let path = self.0.join("metrics.jsonl");
        let history: Vec<EpochMetrics> =
            std::fs::read_to_string(&path).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).take(epochs_done).collect();
        let text: String = history.iter().map(|m| serde_json::to_string(m).expect("serialises") + "\n").collect();
        write_atomic(&path, text.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
        Ok(history)
    }

    pub fn append_metrics(&self, metrics: &EpochMetrics) -> anyhow::Result<()> {
        let mut log = std::fs::OpenOptions::new().append(true).create(true).open(self.0.join("metrics.jsonl"))?;
        writeln!(log, "{}", serde_json::to_string(metrics)?)?;
        Ok(())
    }

    /// Removes the checkpoint and optimiser state of epoch `epochs_done`
    /// once a later one is committed.
    /// Removes an earlier epoch's files once a later one is committed; its
    /// weights stay with `keep_checkpoint`.
    pub fn remove_epoch(&self, epochs_done: usize, keep_checkpoint: bool) {
        if !keep_checkpoint {
            let _ = std::fs::remove_file(self.checkpoint(epochs_done));
        }
        let _ = std::fs::remove_file(self.optimizer(epochs_done));
    }
}

/// Exports `net` with the run's contract, labels, taxonomy and provenance.
pub(super) fn write_bundle(net: &Network, config: &TrainConfig, prepared: &Prepared, metrics: &EpochMetrics, path: &Path) -> anyhow::Result<()> {
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
    let labels = prepared.classes.iter().map(|c| c.label.clone()).collect();
    let taxonomy = prepared.classes.iter().map(|c| c.taxonomy.clone()).collect();
    NetworkBundle::new(net, config.contract(), labels).taxonomy(Some(taxonomy)).provenance(provenance).write(path)?;
    Ok(())
}

/// The run's loss and error curves; a missing font only costs the plot.
pub(super) fn plot_run(run_dir: &Path, history: &[EpochMetrics]) {
    let series = |name: &str, f: fn(&EpochMetrics) -> f64| plots::Series { name: name.into(), points: history.iter().map(|m| (m.epoch as f64, f(m))).collect() };
    let panels = [
        ("loss", vec![series("train", |m| m.train_loss), series("validation", |m| m.val_loss)]),
        ("top-1 error", vec![series("train", |m| m.train_top1_error), series("validation", |m| m.val_top1_error)]),
    ];
    if let Err(e) = plots::plot_panels(&run_dir.join("curves.png"), &panels) {
        eprintln!("warning: curves.png not drawn: {e}");
    }
}

/// The report of a finished run: per-class accuracy and the ten commonest
/// confusions from the last evaluation.
pub(super) fn summarise(run_dir: &Path, data: &Splits, eval: Evaluation, history: Vec<EpochMetrics>, train_images: usize, val_images: usize, final_bundle: PathBuf) -> RunSummary {
    let classes = data.prepared.classes.len();
    let labels: Vec<String> = data.prepared.classes.iter().map(|c| c.label.clone()).collect();
    let per_class_accuracy: Vec<(String, f64, usize)> = (0..classes)
        .map(|c| (labels[c].clone(), if eval.class_total[c] > 0 { eval.class_correct[c] as f64 / eval.class_total[c] as f64 } else { f64::NAN }, eval.class_total[c]))
        .collect();
    let mut confusions: Vec<((usize, usize), usize)> = eval.confusions.into_iter().collect();
    confusions.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let most_confused = confusions.into_iter().take(10).map(|((t, p), n)| (labels[t].clone(), labels[p].clone(), n)).collect();
    RunSummary {
        run_dir: run_dir.to_path_buf(),
        classes,
        pruned_classes: data.prepared.pruned.len(),
        classes_without_photos: data.prepared.empty.clone(),
        train_images,
        val_images,
        skipped_images: data.skipped_images(),
        best_epoch: kept_epoch(&history),
        best_epoch_rule: BEST_EPOCH_RULE,
        history,
        best_bundle: run_dir.join("best.onnx"),
        final_bundle,
        per_class_accuracy,
        most_confused,
        stages: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(epoch: usize, val_top1_error: f64, val_loss: f64) -> EpochMetrics {
        EpochMetrics {
            epoch,
            lr: 0.1,
            train_loss: 1.0,
            train_top1_error: 0.5,
            val_loss,
            val_top1_error,
            val_top5_error: 0.0,
            val_top1_error_all_classes: val_top1_error,
            images_per_second: 1.0,
            seconds: 1.0,
        }
    }

    /// training-best-epoch-ties: the errors tie from epoch 3 to 6 while the
    /// loss falls every epoch; the first of the tied epochs was kept.
    #[test]
    fn ties_on_the_error_go_to_the_lower_loss() {
        let errors = [0.462, 0.269, 0.115, 0.115, 0.115, 0.115, 0.192, 0.192, 0.154, 0.154];
        let history: Vec<EpochMetrics> = errors.iter().enumerate().map(|(i, &e)| epoch(i + 1, e, 1.125 - 0.08 * i as f64)).collect();
        assert_eq!(kept_epoch(&history), Some(6));
        // A lower error always wins, whatever the loss; a tie with a higher loss does not.
        assert!(improves(0.1, 9.0, Some((0.2, 0.1))));
        assert!(!improves(0.2, 0.2, Some((0.2, 0.1))));
        assert!(improves(0.2, 0.05, Some((0.2, 0.1))));
        assert_eq!(kept_epoch(&[]), None);
    }
}
