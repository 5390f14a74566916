use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use serde_json::json;
use taxa_core::{Provenance, Taxonomy};
use taxa_trainer::checkpoint::read_checkpoint_info;
use taxa_trainer::export::{ExportOptions, NetworkBundle};
use taxa_trainer::models::{Network, architecture_names, native_input_size, preprocess_contract, spec_for};
use taxa_trainer::weights::{HeadOutcome, load_state_dict, read_state_dict};

#[derive(Args)]
pub struct ExportArgs {
    /// Architecture (torchvision name); read from the checkpoint when omitted.
    #[arg(long)]
    pub arch: Option<String>,
    /// torchvision-named weights (.safetensors, .pth, .pt).
    #[arg(long, conflicts_with = "checkpoint", required_unless_present = "checkpoint")]
    pub weights: Option<PathBuf>,
    /// A taxa checkpoint (.safetensors written by `taxa train`).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Number of classes; a fresh head is made when the weights' head differs.
    #[arg(long)]
    pub num_classes: Option<i64>,
    /// Labels file, one label a line (default: the checkpoint's, or "class N").
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Taxonomy: a JSON array, one object per label (iNaturalist category
    /// fields), or an iNaturalist JSON file with `categories`.
    #[arg(long)]
    pub taxonomy: Option<PathBuf>,
    /// Model input size in pixels, square (default: the size a checkpoint
    /// trained at, else the architecture's own: 224, or 240/260 for
    /// EfficientNet-Lite1/2). The preprocessing is the architecture's: the
    /// ImageNet recipe, with Lite's (x − 127) / 128.
    #[arg(long)]
    pub input_size: Option<u32>,
    /// Keep BatchNorm as separate nodes instead of folding it into convolutions.
    #[arg(long)]
    pub no_fold_batch_norm: bool,
    /// Output bundle.
    #[arg(long)]
    pub out: PathBuf,
    /// Print a JSON summary.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let info = args.checkpoint.as_deref().map(read_checkpoint_info).transpose()?;
    let arch = match (&args.arch, &info) {
        (Some(a), _) => a.clone(),
        (None, Some(i)) => i.arch.clone(),
        (None, None) => bail!("--arch is required with --weights (one of: {})", architecture_names().collect::<Vec<_>>().join(", ")),
    };
    let mut labels = match &args.labels {
        Some(path) => Some(taxa_core::labels::read_labels(path)?),
        None => info.as_ref().map(|i| i.labels.clone()),
    };
    let num_classes = args
        .num_classes
        .or(labels.as_ref().map(|l| l.len() as i64))
        .or(info.as_ref().map(|i| i.num_classes))
        .context("--num-classes is required when neither labels nor a checkpoint give it")?;
    anyhow::ensure!(num_classes > 0, "--num-classes must be positive");
    let labels = labels.take().unwrap_or_else(|| (0..num_classes).map(|i| format!("class {i}")).collect());
    anyhow::ensure!(labels.len() as i64 == num_classes, "{} labels for {num_classes} classes", labels.len());
    let taxonomy = match &args.taxonomy {
        Some(path) => Some(read_taxonomy(path, labels.len())?),
        None => info.as_ref().and_then(|i| i.taxonomy.clone()),
    };

    let spec = spec_for(&arch, num_classes).with_context(|| format!("unknown architecture `{arch}` (known: {})", architecture_names().collect::<Vec<_>>().join(", ")))?;
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let net = Network::new(&vs.root(), spec);
    let source = args.weights.as_ref().or(args.checkpoint.as_ref()).expect("clap requires one");
    let tensors = read_state_dict(source)?;
    let head = load_state_dict(&net, tensors, source, true)?;
    if let HeadOutcome::Replaced { file_classes } = head {
        eprintln!("note: {} has a {file_classes}-class head; made a fresh {num_classes}-class head (train it before use)", source.display());
    }

    let input_size = args.input_size.or(info.as_ref().and_then(|i| i.input_size)).unwrap_or_else(|| native_input_size(&arch));
    let contract = preprocess_contract(&arch, input_size);
    let options = ExportOptions { fold_batch_norm: !args.no_fold_batch_norm };
    let mut provenance = Provenance { dataset: None, ..Default::default() };
    provenance.extra.insert("weights".into(), source.display().to_string());
    provenance.extra.insert("head".into(), match head { HeadOutcome::Loaded => "loaded".into(), HeadOutcome::Replaced { .. } => "fresh (untrained)".into() });
    NetworkBundle::new(&net, contract, labels).taxonomy(taxonomy).provenance(provenance).options(options).write(&args.out)?;
    let bytes = std::fs::metadata(&args.out).map(|m| m.len()).unwrap_or(0);
    if args.json {
        super::print_json(&json!({
            "out": args.out, "arch": arch, "num_classes": num_classes, "bytes": bytes,
            "fresh_head": matches!(head, HeadOutcome::Replaced { .. }),
            "batch_norm_folded": options.fold_batch_norm,
        }))?;
    } else {
        println!("wrote {} ({arch}, {num_classes} classes, {:.1} MB)", args.out.display(), bytes as f64 / 1e6);
    }
    Ok(ExitCode::SUCCESS)
}

fn read_taxonomy(path: &std::path::Path, classes: usize) -> anyhow::Result<Vec<Taxonomy>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))?;
    let list = match value.get("categories") {
        Some(categories) => categories.clone(),
        None => value,
    };
    let taxonomy: Vec<Taxonomy> = serde_json::from_value(list).with_context(|| format!("{}: expected an array of taxa with a `species` or `name`", path.display()))?;
    anyhow::ensure!(taxonomy.len() == classes, "{}: {} taxa for {classes} classes", path.display(), taxonomy.len());
    Ok(taxonomy)
}
