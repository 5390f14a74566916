use std::process::ExitCode;

use clap::Args;
use serde_json::json;

#[derive(Args)]
pub struct DevicesArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: DevicesArgs) -> anyhow::Result<ExitCode> {
    let cuda = tch::Cuda::is_available();
    let count = if cuda { tch::Cuda::device_count() } else { 0 };
    let cudnn = tch::Cuda::cudnn_is_available();
    let threads = tch::get_num_threads();
    if args.json {
        super::print_json(&json!({
            "cuda_available": cuda,
            "cuda_devices": count,
            "cudnn_available": cudnn,
            "cpu_threads": threads,
        }))?;
    } else {
        println!("CUDA:        {}", if cuda { format!("yes, {count} device(s)") } else { "no".into() });
        println!("cuDNN:       {}", if cudnn { "yes" } else { "no" });
        println!("CPU threads: {threads}");
    }
    Ok(ExitCode::SUCCESS)
}
