use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use taxa_trainer::experiment::{ExperimentOptions, run_experiment};
use taxa_trainer::train::{Mode, TrainConfig};

use super::train::TrainArgs;

/// The study reuses `taxa train`'s flags; those it sets itself per row
/// (mode, weights, pruning) or has no use for are hidden, and refused when given.
#[derive(Args)]
#[command(
    mut_arg("resume", |a| a.hide(true)),
    mut_arg("cache_only", |a| a.hide(true)),
    mut_arg("mode", |a| a.hide(true)),
    mut_arg("weights", |a| a.hide(true)),
    mut_arg("min_images_per_class", |a| a.hide(true)),
    mut_arg("arch", |a| a.help("Architecture of Table 2 and Figure 4 (see `taxa train --help`)")),
    mut_arg("out", |a| a.help("Study folder: report.md, results.json, figure4.png, runs/, pretrain/").default_value("out/experiment")),
    mut_arg("json", |a| a.help("Print results.json instead of the Markdown report"))
)]
pub struct ExperimentArgs {
    /// Data and training options shared by every run (--inat/--folder, --epochs, --input-size…).
    #[command(flatten)]
    pub train: TrainArgs,
    /// Architectures for Table 3 (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "alexnet,densenet121,squeezenet1_1,shufflenet_v2_x1_0,resnext50_32x4d")]
    pub archs: Vec<String>,
    /// Classes with fewer images are pruned in Table 2's second row and Table 3.
    #[arg(long, default_value_t = 100)]
    pub prune_below: usize,
    /// Pretrained weights, `<arch>.pth` or `<arch>.safetensors` (torchvision
    /// names). Without them, each architecture is first trained from scratch
    /// on a separate synthetic guide, and that is its "pretrained" start.
    #[arg(long)]
    pub weights_dir: Option<PathBuf>,
    /// Mode for Tables 2 and 3.
    #[arg(long, value_enum, default_value_t = Mode::Frozen)]
    pub arch_mode: Mode,
}

pub fn run(args: ExperimentArgs) -> anyhow::Result<ExitCode> {
    let train = &args.train;
    for (given, flag, instead) in [
        (train.resume.is_some(), "--resume", "rerun the experiment"),
        (train.cache_only, "--cache-only", "taxa train --cache-only"),
        (train.weights.is_some(), "--weights", "--weights-dir"),
        (train.mode != TrainConfig::default().mode, "--mode", "--arch-mode for Tables 2 and 3; Figure 4 runs every mode"),
        (train.min_images_per_class != TrainConfig::default().min_images_per_class, "--min-images-per-class", "--prune-below"),
    ] {
        anyhow::ensure!(!given, "{flag} is not an experiment option (use {instead})");
    }
    let base = args.train.config()?;
    let options = ExperimentOptions {
        base_arch: base.arch.clone(),
        base,
        archs: args.archs,
        prune_below: args.prune_below,
        weights_dir: args.weights_dir,
        arch_mode: args.arch_mode,
    };
    let report = run_experiment(&options, &args.train.out, !args.train.json)?;
    let printed = if args.train.json { args.train.out.join("results.json") } else { report.clone() };
    println!("{}", std::fs::read_to_string(&printed).with_context(|| format!("reading {}", printed.display()))?);
    eprintln!("report: {}", report.display());
    Ok(ExitCode::SUCCESS)
}
