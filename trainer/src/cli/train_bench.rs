use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use serde_json::json;
use tch::{Kind, Tensor, nn::VarStore};
use taxa_trainer::models::{Network, spec_for};
use taxa_trainer::data::{DataSource, find_inat};
use taxa_trainer::train::{Mode, Optimizer, OptimizerKind, TrainConfig, bench_data_path, device_named};

/// Training throughput on synthetic in-memory batches: forward, backward and
/// an SGD step, as `taxa train` runs them, with random weights and 1,000
/// classes (bf16 autocast and channels-last on CUDA, as in training).
#[derive(Args)]
pub struct TrainBenchArgs {
    /// Architecture, by torchvision's name (see `taxa train --help`).
    #[arg(long, default_value = "shufflenet_v2_x1_0")]
    pub arch: String,
    /// What trains: finetune or scratch (everything; weights are random
    /// either way) or frozen (backbone under no_grad, head trains).
    #[arg(long, value_enum, default_value_t = Mode::Finetune)]
    pub mode: Mode,
    /// Images a step.
    #[arg(long, default_value_t = 256)]
    pub batch_size: i64,
    /// Square input side, pixels.
    #[arg(long, default_value_t = 224)]
    pub input_size: i64,
    /// Timed steps (the median is reported).
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    /// Untimed steps first.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// auto, cpu or cuda.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Instead of the model: time the training data path (cache read, crop,
    /// flip, normalise, host-to-device) per core, CPU and device
    /// augmentation, on this iNaturalist dataset (folder or training JSON).
    #[arg(long)]
    pub data_path: Option<PathBuf>,
    /// Batches timed by --data-path.
    #[arg(long, default_value_t = 8)]
    pub batches: usize,
    /// Decoded-image cache for --data-path.
    #[arg(long, default_value = "out/cache")]
    pub cache_dir: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: TrainBenchArgs) -> anyhow::Result<ExitCode> {
    if let Some(data) = &args.data_path {
        return data_path(&args, data);
    }
    let device = device_named(&args.device)?;
    let spec = spec_for(&args.arch, 1000).ok_or_else(|| anyhow::anyhow!("unknown architecture {}", args.arch))?;
    let vs = VarStore::new(device);
    let mut net = Network::new(&vs.root(), spec);
    let frozen = args.mode == Mode::Frozen;
    net.set_backbone_trainable(!frozen);
    let params: Vec<(String, Tensor)> = net.trainable_names().into_iter().map(|n| (n.clone(), net.param(&n).expect("known").shallow_clone())).collect();
    let mut optimizer = Optimizer::new(OptimizerKind::Sgd, 0.9, 1e-4);
    let cuda = device.is_cuda();
    let mut x = Tensor::randn([args.batch_size, 3, args.input_size, args.input_size], (Kind::Float, device));
    if cuda {
        net.use_channels_last();
        x = taxa_trainer::models::channels_last(&x);
    }
    let y = Tensor::randint(1000, [args.batch_size], (Kind::Int64, device));
    let mut times = Vec::new();
    for step in 0..args.warmup + args.steps {
        let start = Instant::now();
        let forward = || if frozen { net.forward_head(&tch::no_grad(|| net.forward_backbone(&x)), true) } else { net.forward_t(&x, true) };
        let logits = if cuda { tch::autocast(true, forward) } else { forward() };
        let loss = logits.to_kind(Kind::Float).cross_entropy_for_logits(&y);
        loss.backward();
        optimizer.step(&params, 0.01);
        let _ = loss.double_value(&[]); // waits for the device
        if step >= args.warmup {
            times.push(start.elapsed().as_secs_f64());
        }
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let images_per_second = args.batch_size as f64 / median;
    if args.json {
        super::print_json(&json!({"arch": args.arch, "mode": args.mode, "device": format!("{device:?}"), "batch_size": args.batch_size,
            "input_size": args.input_size, "median_step_seconds": median, "images_per_second": images_per_second}))?;
    } else {
        println!("{} {:?} on {device:?}: {images_per_second:.0} images/s (median step {:.1} ms, batch {})", args.arch, args.mode, median * 1000.0, args.batch_size);
    }
    Ok(ExitCode::SUCCESS)
}

fn data_path(args: &TrainBenchArgs, data: &Path) -> anyhow::Result<ExitCode> {
    let config = TrainConfig {
        data: DataSource::inat(&find_inat(data, false)?, false),
        arch: args.arch.clone(),
        batch_size: args.batch_size as usize,
        input_size: args.input_size as u32,
        device: args.device.clone(),
        cache_dir: args.cache_dir.clone(),
        ..Default::default()
    };
    let results = bench_data_path(&config, args.batches)?;
    if args.json {
        super::print_json(&results)?;
    } else {
        for r in &results {
            let stages: Vec<String> = r.stages.iter().map(|(name, us)| format!("{name} {us:.1} µs")).collect();
            println!("{} path on {}: {:.0} images/s per core ({})", r.path, r.device, r.images_per_second, stages.join(", "));
        }
    }
    Ok(ExitCode::SUCCESS)
}
