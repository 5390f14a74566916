//! A TFLite image classifier as an ONNX graph: the flatbuffer (tract-tflite's
//! generated schema) is walked operator by operator and written with core's
//! [`GraphBuilder`](taxa_core::onnx_graph::GraphBuilder).
//!
//! Layout: TFLite is NHWC; the ONNX graph keeps the model's NHWC input and
//! transposes it once, so every 4-D activation is NCHW (what ONNX's `Conv`
//! and pools take), and goes back to NHWC only where a reshape needs TFLite's
//! element order.
//!
//! Quantised models (uint8 or int8, per tensor or per channel) are written in
//! ONNX's QDQ form, which keeps LiteRT's arithmetic:
//! - each quantised activation is snapped to its grid
//!   (`QuantizeLinear` → `DequantizeLinear` with the tensor's scale and zero
//!   point), so rounding and saturation (a fused ReLU6 is a clamp of the
//!   integer range) happen where they happen in LiteRT;
//! - weights stay 8-bit in the file behind a `DequantizeLinear`
//!   ([`WeightStorage::Quantized`], the default): the bundle keeps the
//!   `.tflite`'s size (3.6 MB for the iNaturalist MobileNetV2s against
//!   14 MB in float32), which is what a phone or a browser downloads, and
//!   tract folds them into float32 constants at load, so inference runs at
//!   the float model's speed either way (BENCHMARKS.md, "taxa import").
//!   [`WeightStorage::Float32`] writes them dequantised instead;
//! - 32-bit biases (scale = input scale × weight scale) become float32.
//!
//! The graph's float output is the model's own last float value before a
//! final quantisation: the probabilities of a `SOFTMAX` are kept unrounded
//! (LiteRT's uint8 output steps by 1/256), so close classes keep their order.
//!
//! The parts: `tensors` reads the flatbuffer's tensors and their
//! quantisation, `converter` holds the graph being written and the layout
//! of each value, and `convolution`, `elementwise` and `shape` write the
//! operators by family.

mod convolution;
mod converter;
mod elementwise;
mod shape;
mod tensors;

use taxa_core::bundle::OutputKind;
use taxa_core::onnx_pb::ModelProto;
use tract_tflite::tflite::{self, BuiltinOperator};

use super::ImportError;
use converter::Converter;
use tensors::TensorInfo;

/// How quantised weights are stored in the ONNX file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WeightStorage {
    /// 8-bit, as in the `.tflite`, behind `DequantizeLinear` (4× smaller).
    #[default]
    Quantized,
    /// Dequantised to float32 constants.
    Float32,
}

/// The converted classifier.
#[derive(Debug)]
pub struct ConvertedModel {
    /// One NHWC image input (`image`, uint8 or float32) and one `[1, classes]` float output.
    pub model: ModelProto,
    /// Input height and width in pixels.
    pub input_height: u32,
    pub input_width: u32,
    /// The input is uint8 pixels (the graph dequantises them); else float32.
    pub uint8_input: bool,
    /// The input's quantisation, `real = scale × (pixel − zero_point)`, for a uint8 input.
    pub input_quantization: Option<(f32, i64)>,
    /// Number of classes (the output's last dimension).
    pub classes: usize,
    /// Probabilities when the output comes from a `SOFTMAX`, else logits.
    pub output: OutputKind,
    /// The `TFLITE_METADATA` buffer, if any.
    pub metadata_buffer: Option<Vec<u8>>,
    /// Operator counts by TFLite name, for the import report.
    pub operators: Vec<(String, usize)>,
}

/// TFLite's file identifier, bytes 4–8 of every model.
const IDENTIFIER: &[u8; 4] = b"TFL3";

/// Whether `bytes` look like a TFLite flatbuffer.
pub fn is_tflite(bytes: &[u8]) -> bool {
    bytes.get(4..8) == Some(IDENTIFIER.as_slice())
}

/// Converts a TFLite image classifier. Errors: [`ImportError::NotTflite`],
/// [`ImportError::Damaged`] (the flatbuffer does not verify: truncated or
/// corrupt), [`ImportError::UnsupportedOperator`],
/// [`ImportError::Unsupported`] (anything else taxa cannot express: several
/// inputs, not an image input, a tensor type, a weight layout).
pub fn convert(bytes: &[u8], weights: WeightStorage) -> Result<ConvertedModel, ImportError> {
    if !is_tflite(bytes) {
        return Err(ImportError::NotTflite);
    }
    let model = tflite::root_as_model(bytes).map_err(|e| ImportError::Damaged(e.to_string()))?;
    let subgraphs = model.subgraphs().ok_or_else(|| ImportError::Damaged("the model has no subgraph".into()))?;
    if subgraphs.is_empty() {
        return Err(ImportError::Damaged("the model has no subgraph".into()));
    }
    let graph = subgraphs.get(0);
    let buffers = model.buffers();
    let tensors: Vec<TensorInfo> = graph
        .tensors()
        .map(|ts| ts.iter().map(|t| TensorInfo::read(&t, buffers.as_ref())).collect::<Result<_, _>>())
        .transpose()?
        .unwrap_or_default();
    let metadata_buffer = model.metadata().and_then(|entries| {
        entries.iter().find(|m| m.name() == Some("TFLITE_METADATA")).and_then(|m| {
            buffers.as_ref().filter(|b| (m.buffer() as usize) < b.len()).and_then(|b| b.get(m.buffer() as usize).data()).map(|d| d.bytes().to_vec())
        })
    });
    let codes: Vec<BuiltinOperator> = model
        .operator_codes()
        .map(|codes| codes.iter().map(|c| BuiltinOperator(c.builtin_code().0.max(c.deprecated_builtin_code() as i32))).collect())
        .unwrap_or_default();

    let inputs: Vec<i32> = graph.inputs().map(|v| v.iter().collect()).unwrap_or_default();
    let outputs: Vec<i32> = graph.outputs().map(|v| v.iter().collect()).unwrap_or_default();
    let [input] = inputs.as_slice() else {
        return Err(ImportError::Unsupported(format!("the model has {} inputs; an image classifier has one", inputs.len())));
    };
    let Some(&output) = outputs.first() else {
        return Err(ImportError::Unsupported("the model has no output".into()));
    };
    let mut converter = Converter::new(&tensors, weights);
    let converter::ModelInput { height: input_height, width: input_width, uint8: uint8_input, quantization: input_quantization } =
        converter.input(*input as usize)?;

    let mut counts: Vec<(String, usize)> = Vec::new();
    for (index, op) in graph.operators().iter().flatten().enumerate() {
        let code = codes.get(op.opcode_index() as usize).copied().ok_or_else(|| {
            ImportError::Damaged(format!("operator {index} names operator code {}, of {}", op.opcode_index(), codes.len()))
        })?;
        let name = code.variant_name().unwrap_or("CUSTOM").to_string();
        match counts.iter_mut().find(|(n, _)| *n == name) {
            Some((_, count)) => *count += 1,
            None => counts.push((name.clone(), 1)),
        }
        converter.operator(index, code, &op).map_err(|e| match e {
            ImportError::Unsupported(why) => ImportError::Unsupported(format!("operator {index} ({name}): {why}")),
            other => other,
        })?;
    }
    let (classes, output_kind) = converter.finish(output as usize)?;
    Ok(ConvertedModel {
        model: converter.g.build(),
        input_height,
        input_width,
        uint8_input,
        input_quantization,
        classes,
        output: output_kind,
        metadata_buffer,
        operators: counts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tflite_identifiers_are_tflite() {
        assert!(is_tflite(b"\x1c\0\0\0TFL3rest"));
        assert!(!is_tflite(b"\x08\x07\x12\x04onnx"));
        assert!(!is_tflite(b"TFL"));
    }

    #[test]
    fn truncated_and_foreign_bytes_are_typed_errors() {
        assert!(matches!(convert(b"not a model at all", WeightStorage::Quantized), Err(ImportError::NotTflite)));
        let mut fake = b"\x1c\0\0\0TFL3".to_vec();
        fake.extend_from_slice(&[0xff; 20]);
        assert!(matches!(convert(&fake, WeightStorage::Quantized), Err(ImportError::Damaged(_))));
    }
}
