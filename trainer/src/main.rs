//! `taxa`: classify photos with a model bundle, inspect and benchmark
//! bundles, and (with the default `train` feature, which links libtorch)
//! train, evaluate and export models.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod cli;

#[derive(Parser)]
#[command(name = "taxa", version, about = "Offline species identification: classify, inspect and benchmark models, and (the default build) train and export them")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Classify images with a model bundle (or a plain ONNX file plus labels).
    Classify(cli::classify::ClassifyArgs),
    /// Print a bundle's metadata: labels, taxonomy, preprocessing, provenance.
    Inspect(cli::inspect::InspectArgs),
    /// Turn a TFLite classifier (or an ONNX one with a stated contract) into a taxa bundle.
    Import(cli::import::ImportArgs),
    /// Time load, decode, preprocess and inference (medians, one thread).
    Bench(cli::bench::BenchArgs),
    /// Export EfficientNet-Lite0's ImageNet weights, identify real photos, then train frozen
    /// vs scratch on them (without real data: train ShuffleNet on a synthetic field guide and
    /// classify held-out photos).
    #[cfg(feature = "train")]
    Demo(cli::demo::DemoArgs),
    /// Write a synthetic field guide in the iNaturalist 2019 format.
    Synth(cli::synth::SynthArgs),
    /// Train a classifier (scratch, finetune or frozen), or resume a killed run.
    #[cfg(feature = "train")]
    Train(cli::train::TrainArgs),
    /// Run the study (complete vs pruned, three modes, architectures) and write a report.
    #[cfg(feature = "train")]
    Experiment(cli::experiment::ExperimentArgs),
    /// Training throughput on synthetic batches (images/s), for comparing with PyTorch.
    #[cfg(feature = "train")]
    TrainBench(cli::train_bench::TrainBenchArgs),
    /// Export torchvision-named weights or a checkpoint as a taxa bundle (ONNX).
    #[cfg(feature = "train")]
    Export(cli::export::ExportArgs),
    /// Report whether libtorch sees CUDA (devices, cuDNN) and its CPU threads.
    #[cfg(feature = "train")]
    Devices(cli::devices::DevicesArgs),
}

/// The commands that need the `train` feature (libtorch), for the error a
/// build without it gives instead of clap's "unrecognized subcommand".
#[cfg(not(feature = "train"))]
const TRAIN_COMMANDS: [&str; 6] = ["demo", "train", "experiment", "train-bench", "export", "devices"];

/// Where the model comes from; shared by the commands that load one.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Model bundle (.onnx with taxa metadata) or plain ONNX file.
    #[arg(long, short = 'm')]
    pub model: PathBuf,
    /// Labels file, one label a line (needed for a plain ONNX file).
    #[arg(long, short = 'l')]
    pub labels: Option<PathBuf>,
    /// Threads each image's inference runs on. `classify` runs images in
    /// parallel besides: cores ÷ threads images at once, so the two never
    /// ask for more threads than cores.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

impl ModelArgs {
    pub fn load(&self) -> anyhow::Result<taxa_core::Classifier> {
        use anyhow::Context;
        taxa_core::Classifier::load_with_labels(&self.model, self.labels.as_ref())
            .and_then(|c| c.with_threads(self.threads))
            .with_context(|| format!("loading model {}", self.model.display()))
    }
}

fn main() -> ExitCode {
    stop_quietly_on_closed_pipes();
    // No panic message reaches a user: a decoder panic taxa-core catches is
    // that one image's typed error, and any other panic ends the command with
    // one line below. `TAXA_DEBUG_PANICS=1` keeps Rust's own report (where,
    // and the backtrace) for developers.
    if std::env::var_os("TAXA_DEBUG_PANICS").is_none_or(|v| v != "1") {
        std::panic::set_hook(Box::new(|_| {}));
    }
    match std::panic::catch_unwind(run) {
        Ok(code) => code,
        Err(panic) => {
            eprintln!(
                "error: internal error in taxa: {} (a bug: please report it with the command; TAXA_DEBUG_PANICS=1 shows where)",
                taxa_core::panic::panic_message(panic.as_ref())
            );
            ExitCode::from(101)
        }
    }
}

fn run() -> ExitCode {
    #[cfg(not(feature = "train"))]
    if let Some(command) = std::env::args().nth(1).filter(|a| TRAIN_COMMANDS.contains(&a.as_str())) {
        eprintln!(
            "error: `taxa {command}` needs the `train` feature (libtorch); this taxa was built without it \
             (--no-default-features). Install the full CLI with `cargo install --path trainer`."
        );
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Classify(args) => cli::classify::run(args),
        Command::Inspect(args) => cli::inspect::run(args),
        Command::Import(args) => cli::import::run(args),
        Command::Bench(args) => cli::bench::run(args),
        #[cfg(feature = "train")]
        Command::Demo(args) => cli::demo::run(args),
        #[cfg(feature = "train")]
        Command::Devices(args) => cli::devices::run(args),
        #[cfg(feature = "train")]
        Command::Export(args) => cli::export::run(args),
        Command::Synth(args) => cli::synth::run(args),
        #[cfg(feature = "train")]
        Command::Experiment(args) => cli::experiment::run(args),
        #[cfg(feature = "train")]
        Command::TrainBench(args) => cli::train_bench::run(args),
        #[cfg(feature = "train")]
        Command::Train(args) => cli::train::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `taxa … | head` must end like `ls | head`: quietly, exit status 141
/// (SIGPIPE). Rust ignores SIGPIPE, which turns the next print to a closed
/// stdout or stderr into a panic ("failed printing to stdout: Broken pipe",
/// exit 101) in whichever command printed; restoring the default action here
/// covers every command and every print at once.
#[cfg(unix)]
fn stop_quietly_on_closed_pipes() {
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL
    // is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn stop_quietly_on_closed_pipes() {}
