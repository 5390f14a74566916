//! `taxa experiment`: the study on any dataset in one command, written up as
//! a Markdown report with tables and plots.
//!
//! - Table 2: the complete training set against the set pruned of rare classes.
//! - Figure 4: training from scratch, with a frozen backbone, and fine-tuned.
//! - Table 3: validation error of the architectures.
//!
//! Transfer learning needs pretrained weights. With `weights_dir` they are
//! `<arch>.pth` or `<arch>.safetensors` there (torchvision's ImageNet weights,
//! for the study proper). Without it, each architecture is first trained on a
//! separate synthetic field guide (other species, other seed) and that model
//! is the starting point: real transfer between tasks, offline.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use crate::synth::{SynthOptions, write_dataset};
use crate::train::plots::{Series, plot_panels};
use crate::train::{DataSource, Mode, RunSummary, TrainConfig, train};

#[derive(Debug, Clone)]
pub struct ExperimentOptions {
    /// The base configuration (data, epochs, input size…); arch and mode vary.
    pub base: TrainConfig,
    /// The architecture of Table 2 and Figure 4.
    pub base_arch: String,
    /// The architectures of Table 3.
    pub archs: Vec<String>,
    /// The pruning threshold of Table 2 (the study: 100).
    pub prune_below: usize,
    /// Folder with `<arch>.pth` / `<arch>.safetensors` pretrained weights.
    pub weights_dir: Option<PathBuf>,
    /// Table 3's mode (the study's best: frozen).
    pub arch_mode: Mode,
}

#[derive(Debug, Clone, Serialize)]
struct Row {
    name: String,
    arch: String,
    mode: Mode,
    classes: usize,
    pruned: usize,
    val_top1_error: f64,
    val_top5_error: f64,
    val_top1_error_all_classes: f64,
    images_per_second: f64,
    seconds: f64,
}

fn row(name: &str, config: &TrainConfig, s: &RunSummary) -> Row {
    let last = s.history.last().expect("epochs ran");
    Row {
        name: name.into(),
        arch: config.arch.clone(),
        mode: config.mode,
        classes: s.classes,
        pruned: s.pruned_classes,
        val_top1_error: last.val_top1_error,
        val_top5_error: last.val_top5_error,
        val_top1_error_all_classes: last.val_top1_error_all_classes,
        images_per_second: s.history.iter().map(|m| m.images_per_second).sum::<f64>() / s.history.len() as f64,
        seconds: s.history.iter().map(|m| m.seconds).sum(),
    }
}

/// Runs the study into `out` and returns the path of `report.md`.
pub fn run_experiment(options: &ExperimentOptions, out: &Path, progress: bool) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut pretrained_note = String::new();
    let mut weights_for = |arch: &str| -> anyhow::Result<PathBuf> {
        if let Some(dir) = &options.weights_dir {
            for ext in ["safetensors", "pth"] {
                let p = dir.join(format!("{arch}.{ext}"));
                if p.exists() {
                    return Ok(p);
                }
            }
            anyhow::bail!("no pretrained weights for {arch} in {} (expected {arch}.pth or {arch}.safetensors)", dir.display());
        }
        let checkpoint = out.join(format!("pretrain/{arch}/checkpoint-{}.safetensors", options.base.epochs));
        if !checkpoint.exists() {
            let source = out.join("pretrain/source");
            if !source.join("train2019.json").exists() {
                write_dataset(&source, &SynthOptions { species: 32, seed: 9_999, ..Default::default() }, progress)?;
            }
            let mut config = options.base.clone();
            config.arch = arch.into();
            config.mode = Mode::Scratch;
            config.weights = None;
            config.min_images_per_class = 0;
            config.data = DataSource::inat(&crate::data::find_inat(&source, false)?, true);
            let run_dir = out.join(format!("pretrain/{arch}"));
            let _ = std::fs::remove_dir_all(&run_dir);
            if progress {
                eprintln!("pretraining {arch} on a separate synthetic field guide");
            }
            train(config, &run_dir, progress)?;
        }
        if pretrained_note.is_empty() {
            pretrained_note = "No pretrained weights were given, so each architecture was first trained from scratch on a separate synthetic field guide (32 other species, another seed) and transferred from there.".into();
        }
        Ok(checkpoint)
    };

    let run = |name: &str, config: TrainConfig| -> anyhow::Result<(Row, RunSummary)> {
        let dir = out.join("runs").join(name);
        let _ = std::fs::remove_dir_all(&dir);
        if progress {
            eprintln!("run {name}: {} {:?}", config.arch, config.mode);
        }
        let summary = train(config.clone(), &dir, progress).with_context(|| format!("run {name}"))?;
        Ok((row(name, &config, &summary), summary))
    };

    // Figure 4: the three modes on the base architecture, complete data.
    let mut modes = Vec::new();
    for mode in [Mode::Scratch, Mode::Frozen, Mode::Finetune] {
        let mut config = options.base.clone();
        config.arch = options.base_arch.clone();
        config.mode = mode;
        config.min_images_per_class = 0;
        config.weights = if mode == Mode::Scratch { None } else { Some(weights_for(&options.base_arch)?) };
        let name = format!("{}-{}", options.base_arch, format!("{mode:?}").to_lowercase());
        modes.push(run(&name, config)?);
    }
    let curve = |summary: &RunSummary, f: fn(&crate::train::EpochMetrics) -> f64| summary.history.iter().map(|m| (m.epoch as f64, f(m))).collect::<Vec<_>>();
    let mut loss_series = Vec::new();
    let mut error_series = Vec::new();
    for (row, summary) in &modes {
        let mode = format!("{:?}", row.mode).to_lowercase();
        loss_series.push(Series { name: format!("{mode} train"), points: curve(summary, |m| m.train_loss) });
        loss_series.push(Series { name: format!("{mode} val"), points: curve(summary, |m| m.val_loss) });
        error_series.push(Series { name: format!("{mode} train"), points: curve(summary, |m| m.train_top1_error) });
        error_series.push(Series { name: format!("{mode} val"), points: curve(summary, |m| m.val_top1_error) });
    }
    let figure4 = out.join("figure4.png");
    plot_panels(&figure4, &[("loss", loss_series), ("top-1 error", error_series)]).map_err(anyhow::Error::msg)?;

    // Table 2: complete vs pruned, in Table 3's mode.
    let mut pruning = Vec::new();
    for (name, min_images) in [("complete", 0), ("pruned", options.prune_below)] {
        let mut config = options.base.clone();
        config.arch = options.base_arch.clone();
        config.mode = options.arch_mode;
        config.min_images_per_class = min_images;
        config.weights = if options.arch_mode == Mode::Scratch { None } else { Some(weights_for(&options.base_arch)?) };
        pruning.push(run(&format!("{}-{name}", options.base_arch), config)?.0);
    }

    // Table 3: the architectures.
    let mut archs = Vec::new();
    for arch in &options.archs {
        let mut config = options.base.clone();
        config.arch = arch.clone();
        config.mode = options.arch_mode;
        config.min_images_per_class = options.prune_below;
        config.weights = if options.arch_mode == Mode::Scratch { None } else { Some(weights_for(arch)?) };
        archs.push(run(&format!("{arch}-{}", format!("{:?}", options.arch_mode).to_lowercase()), config)?.0);
    }

    let mut md = String::new();
    let b = &options.base;
    writeln!(md, "# taxa experiment\n")?;
    writeln!(md, "Data: `{}`. {} epochs, batch {}, {:?} with lr {} ({:?}), input {}×{}, seed {}.\n", match &b.data { DataSource::Inat { train_json, .. } => train_json.display().to_string(), DataSource::Folder { root } => root.display().to_string() }, b.epochs, b.batch_size, b.optimizer, b.lr, b.schedule, b.input_size, b.input_size, b.seed)?;
    if !pretrained_note.is_empty() {
        writeln!(md, "{pretrained_note}\n")?;
    }
    writeln!(md, "## Table 2: complete vs pruned training set ({}, {:?})\n", options.base_arch, options.arch_mode)?;
    writeln!(md, "Pruned: classes with fewer than {} images. The last column counts the pruned classes' validation images as errors, so the two rows compare honestly.\n", options.prune_below)?;
    writeln!(md, "| training set | classes | pruned | val top-1 error (kept classes) | val top-1 error (all classes) |\n|---|---:|---:|---:|---:|")?;
    for r in &pruning {
        writeln!(md, "| {} | {} | {} | {:.3} | {:.3} |", r.name.rsplit('-').next().unwrap_or(&r.name), r.classes, r.pruned, r.val_top1_error, r.val_top1_error_all_classes)?;
    }
    writeln!(md, "\n## Figure 4: scratch vs frozen vs fine-tune ({})\n\n![loss and top-1 error per epoch](figure4.png)\n", options.base_arch)?;
    writeln!(md, "| mode | val top-1 error | val top-5 error | images/s | seconds |\n|---|---:|---:|---:|---:|")?;
    for (r, _) in &modes {
        writeln!(md, "| {:?} | {:.3} | {:.3} | {:.0} | {:.1} |", r.mode, r.val_top1_error, r.val_top5_error, r.images_per_second, r.seconds)?;
    }
    writeln!(md, "\n## Table 3: architectures ({:?}, pruned below {})\n", options.arch_mode, options.prune_below)?;
    writeln!(md, "| architecture | val top-1 error | val top-5 error | images/s | seconds |\n|---|---:|---:|---:|---:|")?;
    for r in &archs {
        writeln!(md, "| {} | {:.3} | {:.3} | {:.0} | {:.1} |", r.arch, r.val_top1_error, r.val_top5_error, r.images_per_second, r.seconds)?;
    }
    writeln!(md, "\nEvery run's folder (metrics.jsonl, curves.png, best.onnx, final.onnx, report.json) is under `runs/`.")?;
    let report = out.join("report.md");
    std::fs::write(&report, md)?;
    std::fs::write(out.join("results.json"), serde_json::to_vec_pretty(&serde_json::json!({"table2": pruning, "figure4": modes.iter().map(|(r, _)| r).collect::<Vec<_>>(), "table3": archs}))?)?;
    Ok(report)
}
