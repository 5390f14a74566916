use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde_json::json;
use taxa_core::preprocess::{ChannelOrder, Crop, Interpolation, Resize};
use taxa_trainer::import::{ContractChoices, ImportOptions, LabelFormat, ResizeChoice, WeightStorage, import_file};

#[derive(Args)]
pub struct ImportArgs {
    /// The model: a TFLite file (float32 or quantised uint8/int8; labels and
    /// normalisation from its metadata), or an ONNX file (give its contract
    /// with the options below).
    pub model: PathBuf,
    /// Labels file, one label a line, in output order (default: the
    /// TFLite's own label file; required for a plain ONNX file).
    #[arg(long, short = 'l')]
    pub labels: Option<PathBuf>,
    /// Where to write the bundle (default: the model's name with `.onnx`,
    /// `.bundle.onnx` for an ONNX model, in the current folder).
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// How labels are read: `inat` (`Genus species (Common Name)`: the
    /// scientific name is the label, with genus, species and common name),
    /// `plain`, or `auto` (inat when every label ends in brackets).
    #[arg(long, value_enum, default_value_t = LabelFormatArg::Auto)]
    pub label_format: LabelFormatArg,
    /// A label that is not a taxon (repeatable; `background` always is):
    /// it joins no roll-up, and as the best answer it reads "no species recognised".
    #[arg(long = "non-taxon", value_name = "LABEL")]
    pub non_taxa: Vec<String>,
    /// Mean per channel (one value, or three for R,G,B), in units of
    /// pixel / --value-scale, as `taxa inspect` prints it (ONNX default:
    /// ImageNet's; TFLite default: its metadata).
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub mean: Option<Vec<f32>>,
    /// Standard deviation per channel, same units as --mean.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub std: Option<Vec<f32>>,
    /// What the 8-bit pixels are divided by before --mean and --std (default 255).
    #[arg(long)]
    pub value_scale: Option<f32>,
    /// Model input size in pixels, `N` or `WxH` (default: the model's declared input).
    #[arg(long, value_parser = parse_size)]
    pub input_size: Option<(u32, u32)>,
    /// `stretch`: the whole photo to the input size (TFLite's default);
    /// `crop`: shorter side to input / --crop-fraction, then a centre crop (ONNX's default).
    #[arg(long, value_enum)]
    pub resize: Option<ResizeArg>,
    /// The centre crop's share of the resized shorter side, with `--resize crop`.
    #[arg(long, default_value_t = 0.875)]
    pub crop_fraction: f64,
    /// The model's channel order.
    #[arg(long, value_enum)]
    pub channel_order: Option<ChannelOrderArg>,
    /// The resize filter.
    #[arg(long, value_enum)]
    pub interpolation: Option<InterpolationArg>,
    /// TFLite: write quantised weights as float32 (about 4× larger; same scores).
    #[arg(long)]
    pub float_weights: bool,
    /// Where the model comes from (URL, paper), kept in the bundle's provenance.
    #[arg(long)]
    pub source: Option<String>,
    /// The model's licence (e.g. Apache-2.0), kept in the bundle's provenance.
    #[arg(long)]
    pub license: Option<String>,
    /// Print a JSON report.
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LabelFormatArg {
    Auto,
    Inat,
    Plain,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ResizeArg {
    Stretch,
    Crop,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ChannelOrderArg {
    Rgb,
    Bgr,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum InterpolationArg {
    Nearest,
    Bilinear,
    Bicubic,
    Lanczos3,
}

fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let parse = |s: &str| s.trim().parse::<u32>().ok().filter(|v| (1..=8192).contains(v));
    let size = match text.split_once(['x', '×']) {
        Some((w, h)) => parse(w).zip(parse(h)),
        None => parse(text).map(|s| (s, s)),
    };
    size.ok_or_else(|| format!("`{text}` is not a size: N or WxH, 1 to 8192 pixels"))
}

fn per_channel(flag: &str, values: Option<&Vec<f32>>) -> anyhow::Result<Option<[f32; 3]>> {
    Ok(match values.map(Vec::as_slice) {
        None => None,
        Some([v]) => Some([*v; 3]),
        Some([r, g, b]) => Some([*r, *g, *b]),
        Some(other) => anyhow::bail!("--{flag} takes one value or three (R,G,B), not {}", other.len()),
    })
}

pub fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let contract = ContractChoices {
        mean: per_channel("mean", args.mean.as_ref())?,
        std: per_channel("std", args.std.as_ref())?,
        value_scale: args.value_scale,
        input_size: args.input_size,
        resize: args.resize.map(|r| match r {
            ResizeArg::Stretch => ResizeChoice::Stretch,
            ResizeArg::Crop => ResizeChoice::Crop,
        }),
        crop_fraction: args.crop_fraction,
        channel_order: args.channel_order.map(|c| match c {
            ChannelOrderArg::Rgb => ChannelOrder::Rgb,
            ChannelOrderArg::Bgr => ChannelOrder::Bgr,
        }),
        interpolation: args.interpolation.map(|i| match i {
            InterpolationArg::Nearest => Interpolation::Nearest,
            InterpolationArg::Bilinear => Interpolation::Bilinear,
            InterpolationArg::Bicubic => Interpolation::Bicubic,
            InterpolationArg::Lanczos3 => Interpolation::Lanczos3,
        }),
    };
    let options = ImportOptions {
        labels: args.labels.clone(),
        label_format: match args.label_format {
            LabelFormatArg::Auto => LabelFormat::Auto,
            LabelFormatArg::Inat => LabelFormat::Inat,
            LabelFormatArg::Plain => LabelFormat::Plain,
        },
        non_taxa: args.non_taxa.clone(),
        contract,
        weights: if args.float_weights { WeightStorage::Float32 } else { WeightStorage::Quantized },
        source: args.source.clone(),
        license: args.license.clone(),
    };
    let imported = import_file(&args.model, &options).with_context(|| format!("importing {}", args.model.display()))?;
    let out = args.out.clone().unwrap_or_else(|| default_out(&args.model, imported.report.format));
    imported.write(&out).with_context(|| format!("writing {}", out.display()))?;
    let bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    let m = &imported.metadata;
    let r = &imported.report;
    if args.json {
        super::print_json(&json!({
            "model": args.model, "out": out, "bytes": bytes, "report": r,
            "preprocess": m.preprocess, "labels": m.labels.len(),
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let operators: Vec<String> = r.operators.iter().map(|(op, n)| format!("{op} {n}")).collect();
    println!("imported {} ({}{})", args.model.display(), r.format, if operators.is_empty() { String::new() } else { format!(": {}", operators.join(", ")) });
    println!("  input    {}, {}", r.input, describe_geometry(&m.preprocess));
    println!("  output   {} classes, {}", r.classes, format!("{:?}", r.output).to_lowercase());
    let species = m.labels.len() - m.non_taxa.len();
    let kind = if r.species_labels { "species names (scientific name, common name, genus)" } else { "plain labels" };
    println!("  labels   {} from {}: {species} {kind}", m.labels.len(), r.labels_from);
    if !r.non_taxa.is_empty() {
        println!("  not taxa {} (never rolled up; as the best answer: no species recognised)", r.non_taxa.join(", "));
    }
    println!("wrote {} ({:.1} MB)", out.display(), bytes as f64 / 1e6);
    Ok(ExitCode::SUCCESS)
}

fn describe_geometry(contract: &taxa_core::PreprocessContract) -> String {
    let values = match contract.input_type {
        taxa_core::preprocess::InputType::Uint8 => "8-bit pixels as they are (the model normalises)".to_string(),
        taxa_core::preprocess::InputType::Float32 => {
            format!("(pixel / {} − mean {:?}) / std {:?}", contract.value_scale, contract.mean, contract.std)
        }
    };
    let resize = match (contract.resize, contract.crop) {
        (Resize::Stretch { width, height }, Crop::None) => format!("whole photo resized to {width}×{height}"),
        (Resize::ShorterSide { size }, Crop::Center { width, height }) => format!("shorter side to {size}, centre crop {width}×{height}"),
        (Resize::Stretch { width, height }, Crop::Center { width: cw, height: ch }) => format!("resized to {width}×{height}, centre crop {cw}×{ch}"),
        (Resize::ShorterSide { size }, Crop::None) => format!("shorter side to {size}"),
    };
    format!("{resize}, {values}")
}

/// `model.tflite` → `./model.onnx`; `model.onnx` → `./model.bundle.onnx`.
fn default_out(model: &Path, format: &str) -> PathBuf {
    let stem = model.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
    PathBuf::from(if format == "onnx" { format!("{stem}.bundle.onnx") } else { format!("{stem}.onnx") })
}
