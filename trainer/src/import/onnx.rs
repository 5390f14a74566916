//! A plain ONNX classifier with the preprocessing contract the user states:
//! the answer for a model whose normalisation is not ImageNet's, which is
//! all taxa assumes of a plain file.

use taxa_core::bundle::{BundleMetadata, Provenance};
use taxa_core::model_graph::{self, ElementType};
use taxa_core::onnx_pb::ModelProto;
use taxa_core::PreprocessContract;

use super::{ImportError, ImportOptions, ImportReport, Imported, ResizeChoice, finish};

/// ImageNet's mean and std on the 0–1 scale: what taxa assumes unless told.
const IMAGENET: ([f32; 3], [f32; 3], f32) = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225], 255.0);

/// Imports an ONNX model. Labels: `--labels`, else a bundle's own (a bundle
/// can be imported again to restate its contract). The input layout and type
/// come from the graph; size from `--input-size`, else the graph (symbolic
/// sides are refused: the size must be stated). Normalisation: `--mean`,
/// `--std`, `--value-scale`, else ImageNet's; a uint8 input takes the pixels
/// as they are. Resize: centre crop at `--crop-fraction` unless `--resize stretch`.
pub fn import_onnx(model: ModelProto, name: &str, options: &ImportOptions) -> Result<Imported, ImportError> {
    let existing = BundleMetadata::from_model_proto(&model)?;
    let (labels, labels_from) = match (&options.labels, &existing) {
        (Some(path), _) => (taxa_core::labels::read_labels(path)?, path.display().to_string()),
        (None, Some(m)) => (m.labels.clone(), "the bundle".to_string()),
        (None, None) => return Err(ImportError::NoLabels),
    };
    let input = model_graph::declared_input(&model)?;
    let layout = input.layout()?;
    let choices = &options.contract;
    let (width, height) = match choices.input_size {
        Some(size) => size,
        None => {
            let sides = match layout {
                taxa_core::preprocess::Layout::Nchw => [&input.dims[2], &input.dims[3]],
                taxa_core::preprocess::Layout::Nhwc => [&input.dims[1], &input.dims[2]],
            };
            if sides.iter().any(|d| matches!(d, model_graph::DeclaredDim::Symbolic(_))) {
                return Err(ImportError::Contract(format!(
                    "the model's input `{}` is {} (its size is not fixed); state it with --input-size",
                    input.name,
                    input.shape_text()
                )));
            }
            input.spatial_size()?
        }
    };
    let geometry = PreprocessContract { layout, ..choices.geometry(width, height, ResizeChoice::Crop)? };
    let contract = match input.element_type {
        ElementType::Uint8 if choices.states_normalization() => {
            return Err(ImportError::Contract(format!(
                "the model's input `{}` is uint8: it takes the pixels as they are, so --mean, --std and --value-scale do not apply",
                input.name
            )));
        }
        ElementType::Uint8 => PreprocessContract::raw_pixels(geometry),
        ElementType::Float32 | ElementType::Float16 => choices.normalized(geometry, IMAGENET)?,
    };
    let output = model_graph::declared_output_kind(&model);
    let mut provenance = existing.as_ref().and_then(|m| m.provenance.clone()).unwrap_or_else(Provenance::default);
    provenance.extra.insert("imported_from".into(), format!("{name} (ONNX)"));
    let report = ImportReport {
        format: "onnx",
        classes: labels.len(),
        input: format!("{} {:?}", input.shape_text(), input.element_type).to_lowercase(),
        output,
        labels_from,
        species_labels: false,
        non_taxa: Vec::new(),
        operators: Vec::new(),
        quantized_weights: false,
    };
    let architecture = existing.as_ref().and_then(|m| m.architecture.clone()).unwrap_or_else(|| "onnx".into());
    let mut model = model;
    model.metadata_props.retain(|e| !e.key.starts_with("taxa."));
    let mut imported = finish(model, labels, contract, output, &architecture, provenance, report, options)?;
    // A bundle imported again keeps its own taxonomy and non-taxa unless new labels replace them.
    if let (None, Some(m)) = (&options.labels, existing) {
        if m.taxonomy.is_some() {
            imported.metadata.taxonomy = m.taxonomy;
            imported.report.species_labels = true;
        }
        for i in m.non_taxa {
            if !imported.metadata.non_taxa.contains(&i) {
                imported.metadata.non_taxa.push(i);
            }
        }
    }
    Ok(imported)
}
