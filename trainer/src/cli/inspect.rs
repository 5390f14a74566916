use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde_json::json;
use taxa_core::{BundleMetadata, bundle};

#[derive(Args)]
pub struct InspectArgs {
    /// The model bundle to inspect.
    pub model: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let proto = bundle::read_model(&args.model)?;
    let metadata = BundleMetadata::from_model_proto(&proto)
        .with_context(|| format!("reading metadata of {}", args.model.display()))?;
    let size = std::fs::metadata(&args.model).map(|m| m.len()).unwrap_or(0);
    let opset = proto.opset_import.iter().find(|o| o.domain.is_empty()).map(|o| o.version);
    let Some(m) = metadata else {
        if args.json {
            super::print_json(&json!({ "file": args.model, "bytes": size, "opset": opset, "taxa_metadata": null }))?;
        } else {
            println!("{}: plain ONNX ({size} bytes, opset {opset:?}), no taxa metadata", args.model.display());
            println!("classify it with --labels FILE; the ImageNet preprocessing contract applies");
        }
        return Ok(ExitCode::SUCCESS);
    };
    if args.json {
        super::print_json(&json!({
            "file": args.model,
            "bytes": size,
            "opset": opset,
            "producer": format!("{} {}", proto.producer_name, proto.producer_version),
            "architecture": m.architecture,
            "classes": m.labels.len(),
            "labels": m.labels,
            "taxonomy": m.taxonomy,
            "preprocess": m.preprocess,
            "output": m.output,
            "provenance": m.provenance,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("file:          {} ({size} bytes)", args.model.display());
    println!("producer:      {} {} (opset {})", proto.producer_name, proto.producer_version, opset.unwrap_or(0));
    println!("architecture:  {}", m.architecture.as_deref().unwrap_or("unknown"));
    println!("classes:       {}", m.labels.len());
    println!("output:        {:?}", m.output);
    println!("preprocess:    {}", serde_json::to_string(&m.preprocess)?);
    if let Some(p) = &m.provenance {
        println!("dataset:       {}", p.dataset.as_deref().unwrap_or("unknown"));
        if let Some(epochs) = p.epochs {
            println!("epochs:        {epochs}");
        }
        if let (Some(top1), Some(top5)) = (p.val_top1_error, p.val_top5_error) {
            println!("val error:     top-1 {top1:.4}, top-5 {top5:.4}");
        }
        for (key, value) in &p.extra {
            println!("{:<14} {value}", format!("{key}:"));
        }
    }
    println!("labels:");
    for (i, label) in m.labels.iter().enumerate() {
        let lineage = m
            .taxonomy
            .as_ref()
            .map(|t| {
                let names: Vec<&str> = t[i].lineage().map(|(_, n)| n).collect();
                format!("  [{}]", names.join(" > "))
            })
            .unwrap_or_default();
        println!("  {i:>4}  {label}{lineage}");
    }
    Ok(ExitCode::SUCCESS)
}
