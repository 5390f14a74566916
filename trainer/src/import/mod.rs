//! `taxa import`: a foreign image classifier (TFLite, or a plain ONNX file
//! with a stated preprocessing contract) becomes a taxa bundle, one ONNX file
//! carrying its labels, taxonomy, contract and provenance. Beside `export`,
//! which writes the networks taxa trains.

pub mod onnx;
pub mod tflite;
pub mod tflite_metadata;

use std::path::{Path, PathBuf};

use taxa_core::bundle::{BundleMetadata, OutputKind, Provenance, Taxonomy};
use taxa_core::labels::SpeciesLabel;
use taxa_core::onnx_pb::ModelProto;
use taxa_core::preprocess::{ChannelOrder, Crop, Interpolation, Resize};
use taxa_core::{Classifier, PreprocessContract, TaxaError};

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

/// How the resize step treats the photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResizeChoice {
    /// The whole photo to the input size, aspect ratio not kept (the TFLite
    /// Task Library's, and taxa's default for TFLite).
    Stretch,
    /// Shorter side to input / `crop_fraction`, then a centre crop
    /// (torchvision's, and the default for ONNX).
    Crop,
}

/// What the user states about the preprocessing; `None` keeps the model's own
/// (TFLite metadata and quantisation, the ONNX graph's declared input) or the default.
#[derive(Debug, Clone, PartialEq)]
pub struct ContractChoices {
    /// Per channel (RGB), in units of `pixel / value_scale`, as `taxa inspect` prints them.
    pub mean: Option<[f32; 3]>,
    pub std: Option<[f32; 3]>,
    /// What 8-bit pixels are divided by before mean and std (default 255).
    pub value_scale: Option<f32>,
    /// (width, height) in pixels.
    pub input_size: Option<(u32, u32)>,
    pub resize: Option<ResizeChoice>,
    /// The centre crop's share of the resized shorter side (default 0.875, 224 of 256).
    pub crop_fraction: f64,
    pub channel_order: Option<ChannelOrder>,
    pub interpolation: Option<Interpolation>,
}

impl Default for ContractChoices {
    fn default() -> Self {
        ContractChoices {
            mean: None,
            std: None,
            value_scale: None,
            input_size: None,
            resize: None,
            crop_fraction: 0.875,
            channel_order: None,
            interpolation: None,
        }
    }
}

impl ContractChoices {
    /// Resize, crop and interpolation for a `width`×`height` input.
    fn geometry(&self, width: u32, height: u32, default: ResizeChoice) -> Result<PreprocessContract, ImportError> {
        if !(self.crop_fraction > 0.0 && self.crop_fraction <= 1.0) {
            return Err(ImportError::Contract(format!("--crop-fraction {} is outside (0, 1]", self.crop_fraction)));
        }
        let mut contract = PreprocessContract::imagenet();
        match self.resize.unwrap_or(default) {
            ResizeChoice::Stretch => {
                contract.resize = Resize::Stretch { width, height };
                contract.crop = Crop::None;
            }
            ResizeChoice::Crop => {
                let size = (width.max(height) as f64 / self.crop_fraction).round() as u32;
                contract.resize = Resize::ShorterSide { size };
                contract.crop = Crop::Center { width, height };
            }
        }
        contract.interpolation = self.interpolation.unwrap_or(Interpolation::Bilinear);
        contract.channel_order = self.channel_order.unwrap_or(ChannelOrder::Rgb);
        Ok(contract)
    }

    fn states_normalization(&self) -> bool {
        self.mean.is_some() || self.std.is_some() || self.value_scale.is_some()
    }

    /// `contract` with the stated mean, std and value scale, each defaulting to `fallback`'s.
    fn normalized(&self, mut contract: PreprocessContract, fallback: ([f32; 3], [f32; 3], f32)) -> Result<PreprocessContract, ImportError> {
        contract.mean = self.mean.unwrap_or(fallback.0);
        contract.std = self.std.unwrap_or(fallback.1);
        contract.value_scale = self.value_scale.unwrap_or(fallback.2);
        contract.validate().map_err(ImportError::Contract)?;
        Ok(contract)
    }
}

/// How labels are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LabelFormat {
    /// iNaturalist's when every taxon label ends in brackets (`Genus species
    /// (Common Name)`, `()` for none), as iNaturalist's and Coral's files do;
    /// otherwise plain.
    #[default]
    Auto,
    /// `Scientific name (Common Name)`: the label is the scientific name,
    /// the ranks and common name come from it ([`SpeciesLabel::parse`]).
    Inat,
    /// Each line is the label, with no taxonomy.
    Plain,
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

/// The labels that are never taxa unless the user says otherwise.
pub const DEFAULT_NON_TAXA: [&str; 1] = ["background"];

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

fn is_non_taxon(label: &str, named: &[String]) -> bool {
    let label = label.trim();
    DEFAULT_NON_TAXA.iter().any(|n| label.eq_ignore_ascii_case(n)) || named.iter().any(|n| label.eq_ignore_ascii_case(n.trim()))
}

/// Labels and taxonomy per `format` ([`LabelFormat`]); non-taxa keep their label.
pub fn read_taxonomy(labels: Vec<String>, non_taxa: &[usize], format: LabelFormat) -> (Vec<String>, Option<Vec<Taxonomy>>) {
    let taxa = (0..labels.len()).filter(|i| !non_taxa.contains(i));
    let inat = match format {
        LabelFormat::Plain => false,
        LabelFormat::Inat => true,
        LabelFormat::Auto => {
            let mut taxa = taxa.peekable();
            taxa.peek().is_some() && taxa.clone().all(|i| labels[i].trim_end().ends_with(')'))
        }
    };
    if !inat {
        return (labels, None);
    }
    let mut names = Vec::with_capacity(labels.len());
    let mut taxonomy = Vec::with_capacity(labels.len());
    for (i, label) in labels.into_iter().enumerate() {
        match SpeciesLabel::parse(&label).filter(|_| !non_taxa.contains(&i)) {
            Some(species) => {
                names.push(species.scientific_name);
                taxonomy.push(species.taxonomy);
            }
            None => {
                taxonomy.push(Taxonomy::species_only(label.clone()));
                names.push(label);
            }
        }
    }
    (names, Some(taxonomy))
}

/// One value for every channel, or three.
fn per_channel(values: &[f32]) -> Option<[f32; 3]> {
    match values {
        [v] => Some([*v; 3]),
        [r, g, b] => Some([*r, *g, *b]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn background_is_never_a_taxon_and_auto_reads_inat_labels() {
        let labels: Vec<String> = ["Ardea herodias (Great Blue Heron)", "Ardea herodias occidentalis (Great White Heron)", "background"]
            .map(String::from)
            .to_vec();
        let non_taxa: Vec<usize> = (0..3).filter(|&i| is_non_taxon(&labels[i], &[])).collect();
        assert_eq!(non_taxa, [2]);
        let (names, taxonomy) = read_taxonomy(labels, &non_taxa, LabelFormat::Auto);
        assert_eq!(names, ["Ardea herodias", "Ardea herodias occidentalis", "background"]);
        let taxonomy = taxonomy.unwrap();
        assert_eq!(taxonomy[1].species, "Ardea herodias");
        assert_eq!(taxonomy[1].common_name.as_deref(), Some("Great White Heron"));
        assert_eq!(taxonomy[2], Taxonomy::species_only("background"));
    }

    #[test]
    fn plain_labels_stay_plain_in_auto() {
        let labels: Vec<String> = ["golden retriever", "tabby cat"].map(String::from).to_vec();
        let (names, taxonomy) = read_taxonomy(labels.clone(), &[], LabelFormat::Auto);
        assert_eq!((names, taxonomy), (labels.clone(), None));
        // Asked for, they are read as names anyway.
        let (_, taxonomy) = read_taxonomy(labels, &[], LabelFormat::Inat);
        assert_eq!(taxonomy.unwrap()[0].ranks.genus.as_deref(), Some("golden"));
    }

    #[test]
    fn contract_geometry_follows_the_choice() {
        let choices = ContractChoices::default();
        let stretch = choices.geometry(224, 224, ResizeChoice::Stretch).unwrap();
        assert_eq!((stretch.resize, stretch.crop), (Resize::Stretch { width: 224, height: 224 }, Crop::None));
        let crop = ContractChoices { resize: Some(ResizeChoice::Crop), ..Default::default() }.geometry(224, 224, ResizeChoice::Stretch).unwrap();
        assert_eq!((crop.resize, crop.crop), (Resize::ShorterSide { size: 256 }, Crop::Center { width: 224, height: 224 }));
        assert!(ContractChoices { crop_fraction: 1.5, ..Default::default() }.geometry(224, 224, ResizeChoice::Crop).is_err());
    }
}
