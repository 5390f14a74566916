use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde_json::json;
use taxa_core::onnx_pb::ModelProto;
use taxa_core::{BundleMetadata, Classifier, bundle, model_graph};

#[derive(Args)]
pub struct InspectArgs {
    /// A model bundle, or a plain ONNX file (its graph's input and output).
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
        return inspect_plain(&args, &proto, size, opset);
    };
    if args.json {
        super::print_json(&json!({
            "file": args.model.to_string_lossy(),
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

/// A plain ONNX file: what its graph declares and what taxa infers from it
/// (the contract and output kind `classify --labels` will use).
fn inspect_plain(args: &InspectArgs, proto: &ModelProto, size: u64, opset: Option<i64>) -> anyhow::Result<ExitCode> {
    let input = model_graph::declared_input(proto);
    let inferred = input.as_ref().map_err(ToString::to_string).and_then(|input| {
        let labels = vec![String::new()];
        BundleMetadata::for_plain_model(proto, labels).map(|m| (input.clone(), m)).map_err(|e| e.to_string())
    });
    // Loaded as `classify` loads it: a model it would refuse is not called classifiable.
    let inferred = inferred.and_then(|(input, m)| match Classifier::plain_model_classes(&args.model) {
        Ok(classes) => Ok((input, m, classes)),
        Err(e) => Err(e.to_string()),
    });
    let external = model_graph::external_data_files(proto);
    if args.json {
        let (declared, preprocess, output, classes, problem) = match &inferred {
            Ok((input, m, classes)) => (Some(input.shape_text()), Some(&m.preprocess), Some(m.output), Some(*classes), None),
            Err(e) => (None, None, None, None, Some(e.clone())),
        };
        super::print_json(&json!({
            "file": args.model.to_string_lossy(), "bytes": size, "opset": opset, "taxa_metadata": null,
            "declared_input": declared, "inferred_preprocess": preprocess, "inferred_output": output, "classes": classes,
            "external_data": external, "problem": problem,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}: plain ONNX ({size} bytes, opset {opset:?}), no taxa metadata", args.model.display());
    match &inferred {
        Ok((input, m, classes)) => {
            println!("declared input: `{}` {} ({:?})", input.name, input.shape_text(), input.element_type);
            println!("inferred:       layout {:?}, preprocess {}", m.preprocess.layout, serde_json::to_string(&m.preprocess)?);
            println!("output:         {:?} (read from the graph's last node), {classes} classes", m.output);
        }
        Err(problem) => println!("cannot be classified: {problem}"),
    }
    if !external.is_empty() {
        println!("external data:  {} (read from the model's folder)", external.join(", "));
    }
    if inferred.is_ok() {
        println!("classify it with --labels FILE (one label a line)");
    }
    Ok(ExitCode::SUCCESS)
}
