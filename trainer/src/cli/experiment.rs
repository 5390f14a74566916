use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use taxa_trainer::experiment::{ExperimentOptions, run_experiment};
use taxa_trainer::train::Mode;

use super::train::TrainArgs;

#[derive(Args)]
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
    /// Pretrained weights, `<arch>.pth` or `<arch>.safetensors` (torchvision names).
    #[arg(long)]
    pub weights_dir: Option<PathBuf>,
    /// Mode for Tables 2 and 3.
    #[arg(long, value_enum, default_value_t = Mode::Frozen)]
    pub arch_mode: Mode,
}

pub fn run(args: ExperimentArgs) -> anyhow::Result<ExitCode> {
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
    println!("{}", std::fs::read_to_string(&report)?);
    eprintln!("report: {}", report.display());
    Ok(ExitCode::SUCCESS)
}
