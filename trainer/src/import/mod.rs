//! `taxa import`: a foreign image classifier (TFLite, or a plain ONNX file
//! with a stated preprocessing contract) becomes a taxa bundle, one ONNX file
//! carrying its labels, taxonomy, contract and provenance. Beside `export`,
//! which writes the networks taxa trains.

mod contract;
mod labels;
pub mod onnx;
pub mod tflite;
pub mod tflite_metadata;

use std::path::{Path, PathBuf};

use taxa_core::bundle::{BundleMetadata, OutputKind, Provenance};
use taxa_core::onnx_pb::ModelProto;
use taxa_core::{Classifier, PreprocessContract, TaxaError};

pub use contract::{ContractChoices, ResizeChoice};
pub use labels::{DEFAULT_NON_TAXA, LabelFormat, read_taxonomy};
use labels::is_non_taxon;
pub use tflite::WeightStorage;

/// Why a model cannot be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("not a TFLite model (no `TFL3` identifier)")]
    NotTflite,
    #[error("neither a TFLite nor an ONNX model ({0})")]
    UnknownFormat(String),
    #[error("the TFLite file is damaged or truncated: {0}")]
    Damaged(String),
    #[error("operator {index} is {operator}, which taxa cannot import yet")]
    UnsupportedOperator { operator: String, index: usize },
    #[error("{0}")]
    Unsupported(String),
    #[error("the model has {outputs} outputs but {labels_from} holds {labels} labels")]
    LabelCountMismatch { outputs: usize, labels: usize, labels_from: String },
    #[error("the model carries no label file; give one with --labels (one label a line)")]
    NoLabels,
    #[error("the TFLite metadata is damaged: {0}")]
    Metadata(String),
    #[error("{0}")]
    Contract(String),
    #[error(transparent)]
    Taxa(#[from] TaxaError),
}

/// Everything `taxa import` takes besides the model.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// A labels file replacing the model's own.
    pub labels: Option<PathBuf>,
    pub label_format: LabelFormat,
    /// Labels that are not taxa, besides `background` (matched ignoring case).
    pub non_taxa: Vec<String>,
    pub contract: ContractChoices,
    /// TFLite only: keep quantised weights 8-bit (default) or write float32.
    pub weights: WeightStorage,
    /// Where the model came from (a URL, a paper), for the provenance.
    pub source: Option<String>,
    /// The model's licence (e.g. `Apache-2.0`), for the provenance.
    pub license: Option<String>,
}

/// What an import did, for the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportReport {
    /// `tflite` or `onnx`.
    pub format: &'static str,
    pub classes: usize,
    /// Model input, e.g. `[1,224,224,3] uint8`.
    pub input: String,
    pub output: OutputKind,
    /// Where the labels came from (the TFLite's associated file, or a path).
    pub labels_from: String,
    /// Labels read as iNaturalist species names.
    pub species_labels: bool,
    /// The labels that are not taxa.
    pub non_taxa: Vec<String>,
    /// TFLite operators and how often each occurs.
    pub operators: Vec<(String, usize)>,
    /// Quantised weights kept 8-bit.
    pub quantized_weights: bool,
}

/// A bundle ready to be written: the graph, its metadata, and the report.
#[derive(Debug)]
pub struct Imported {
    pub model: ModelProto,
    pub metadata: BundleMetadata,
    pub report: ImportReport,
}

impl Imported {
    /// Checks that taxa-core loads the bundle (the labels match the outputs,
    /// tract can plan every operator), then writes it atomically: a model
    /// that cannot run is never written.
    pub fn write(&self, out: &Path) -> Result<(), ImportError> {
        Classifier::new(self.model.clone(), self.metadata.clone())?;
        taxa_core::bundle::write_bundle(out, self.model.clone(), &self.metadata)?;
        Ok(())
    }
}

/// Imports the model file at `path` (TFLite or ONNX, told by its content).
pub fn import_file(path: &Path, options: &ImportOptions) -> Result<Imported, ImportError> {
    let bytes = std::fs::read(path).map_err(|source| ImportError::Io { path: path.to_path_buf(), source })?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if tflite::is_tflite(&bytes) {
        return import_tflite(&bytes, &name, options);
    }
    match taxa_core::bundle::decode_model(&bytes) {
        Ok(model) => onnx::import_onnx(model, &name, options),
        Err(e) => Err(ImportError::UnknownFormat(e.to_string())),
    }
}

/// Imports a TFLite classifier from its bytes; `name` is the file's name
/// (for the provenance).
pub fn import_tflite(bytes: &[u8], name: &str, options: &ImportOptions) -> Result<Imported, ImportError> {
    let converted = tflite::convert(bytes, options.weights)?;
    let metadata = converted.metadata_buffer.as_deref().map(tflite_metadata::parse_metadata).transpose().map_err(ImportError::Metadata)?;
    let (labels, labels_from) = match (&options.labels, metadata.as_ref().and_then(|m| m.labels_file.clone())) {
        (Some(path), _) => (taxa_core::labels::read_labels(path)?, path.display().to_string()),
        (None, Some(file)) => {
            let text = tflite_metadata::read_associated_file(bytes, &file).map_err(ImportError::Metadata)?.ok_or_else(|| {
                ImportError::Metadata(format!("the metadata names the label file `{file}`, which is not in the model's zip"))
            })?;
            (taxa_core::labels::parse_labels(&text).map_err(|e| ImportError::Metadata(format!("`{file}`: {e}")))?, format!("{file} (in the model)"))
        }
        (None, None) => return Err(ImportError::NoLabels),
    };
    if labels.len() != converted.classes {
        return Err(ImportError::LabelCountMismatch { outputs: converted.classes, labels: labels.len(), labels_from });
    }

    let choices = &options.contract;
    let (width, height) = (converted.input_width, converted.input_height);
    if let Some(size) = choices.input_size
        && size != (width, height)
    {
        return Err(ImportError::Contract(format!("the model's input is {width}×{height}; --input-size cannot change it")));
    }
    let geometry = choices.geometry(width, height, ResizeChoice::Stretch)?;
    let mut contract = if converted.uint8_input {
        if choices.states_normalization() {
            return Err(ImportError::Contract(
                "the model takes uint8 pixels and normalises them itself (its input's scale and zero point); --mean, --std and --value-scale do not apply".into(),
            ));
        }
        PreprocessContract::raw_pixels(geometry)
    } else {
        let stated = metadata.as_ref().and_then(|m| Some((per_channel(m.input_mean.as_deref()?)?, per_channel(m.input_std.as_deref()?)?)));
        match (stated, choices.mean.is_some() && choices.std.is_some()) {
            (_, true) => choices.normalized(geometry, ([0.0; 3], [1.0; 3], 255.0))?,
            // The metadata's mean and std are in pixel units (0–255).
            (Some((mean, std)), false) => choices.normalized(geometry, (mean, std, 1.0))?,
            (None, false) => {
                return Err(ImportError::Contract(
                    "the model takes float input and its metadata states no normalisation; give it with --mean and --std (units of pixel / --value-scale, default 255)".into(),
                ));
            }
        }
    };
    contract.layout = taxa_core::preprocess::Layout::Nhwc;
    contract.validate().map_err(ImportError::Contract)?;

    let mut provenance = Provenance::default();
    let extra = &mut provenance.extra;
    extra.insert("imported_from".into(), format!("{name} (TFLite)"));
    if let Some((scale, zero)) = converted.input_quantization {
        extra.insert("input_quantization".into(), format!("(pixel − {zero}) × {scale}"));
    }
    if let Some(m) = &metadata {
        for (key, value) in [("model_name", &m.name), ("description", &m.description), ("model_version", &m.version), ("author", &m.author), ("license", &m.license)] {
            if let Some(value) = value {
                extra.insert(key.into(), value.clone());
            }
        }
    }
    let input = format!("[1,{height},{width},3] {}", if converted.uint8_input { "uint8" } else { "float32" });
    let report = ImportReport {
        format: "tflite",
        classes: converted.classes,
        input,
        output: converted.output,
        labels_from,
        species_labels: false,
        non_taxa: Vec::new(),
        operators: converted.operators.clone(),
        quantized_weights: options.weights == WeightStorage::Quantized,
    };
    finish(converted.model, labels, contract, converted.output, "tflite", provenance, report, options)
}

/// Fills in labels, taxonomy, non-taxa and provenance, and assembles the bundle.
#[allow(clippy::too_many_arguments)]
pub(crate) fn finish(
    mut model: ModelProto,
    labels: Vec<String>,
    contract: PreprocessContract,
    output: OutputKind,
    architecture: &str,
    mut provenance: Provenance,
    mut report: ImportReport,
    options: &ImportOptions,
) -> Result<Imported, ImportError> {
    let non_taxa: Vec<usize> = (0..labels.len()).filter(|&i| is_non_taxon(&labels[i], &options.non_taxa)).collect();
    for name in &options.non_taxa {
        if !labels.iter().any(|l| l.trim().eq_ignore_ascii_case(name.trim())) {
            return Err(ImportError::Contract(format!("--non-taxon `{name}` is not one of the model's labels")));
        }
    }
    let (labels, taxonomy) = read_taxonomy(labels, &non_taxa, options.label_format);
    report.species_labels = taxonomy.is_some();
    report.non_taxa = non_taxa.iter().map(|&i| labels[i].clone()).collect();
    if let Some(source) = &options.source {
        provenance.dataset = Some(source.clone());
        provenance.extra.insert("source".into(), source.clone());
    }
    if let Some(license) = &options.license {
        provenance.extra.insert("license".into(), license.clone());
    }
    provenance.extra.insert("tool".into(), format!("taxa import {}", env!("CARGO_PKG_VERSION")));
    model.producer_name = "taxa import".into();
    let metadata = BundleMetadata {
        labels,
        taxonomy,
        preprocess: contract,
        output,
        architecture: Some(architecture.into()),
        provenance: Some(provenance),
        non_taxa,
    };
    metadata.validate()?;
    Ok(Imported { model, metadata, report })
}

/// One value for every channel, or three.
fn per_channel(values: &[f32]) -> Option<[f32; 3]> {
    match values {
        [v] => Some([*v; 3]),
        [r, g, b] => Some([*r, *g, *b]),
        _ => None,
    }
}
