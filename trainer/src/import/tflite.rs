//! A TFLite image classifier as an ONNX graph: the flatbuffer (tract-tflite's
//! generated schema) is walked operator by operator and written with core's
//! [`GraphBuilder`].
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

use std::collections::HashMap;

use taxa_core::bundle::OutputKind;
use taxa_core::onnx_graph::{Dim, GraphBuilder, attr_int, attr_ints};
use taxa_core::onnx_pb::{ModelProto, tensor_proto::DataType};
use tract_tflite::tflite::{self, ActivationFunctionType, BuiltinOperator, Padding, TensorType};

use super::ImportError;

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
    let (input_height, input_width, uint8_input, input_quantization) = converter.input(*input as usize)?;

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

/// A tensor's quantisation: `real = scale × (q − zero_point)`, per tensor
/// (one scale) or per channel along `axis`.
#[derive(Debug, Clone, PartialEq)]
struct Quantization {
    scale: Vec<f32>,
    zero_point: Vec<i64>,
    axis: usize,
}

impl Quantization {
    /// Scale and zero point of element `i` of axis `axis`.
    fn at(&self, channel: usize) -> (f32, i64) {
        let pick = |n: usize| if n == 1 { 0 } else { channel };
        (self.scale[pick(self.scale.len())], self.zero_point.get(pick(self.zero_point.len())).copied().unwrap_or(0))
    }
}

#[derive(Debug)]
struct TensorInfo<'a> {
    name: String,
    shape: Vec<i64>,
    kind: TensorType,
    quantization: Option<Quantization>,
    /// Constant data (weights), little-endian, when the tensor has a buffer.
    data: Option<&'a [u8]>,
}

impl<'a> TensorInfo<'a> {
    fn read(t: &tflite::Tensor<'a>, buffers: Option<&flatbuffers::Vector<'a, flatbuffers::ForwardsUOffset<tflite::Buffer<'a>>>>) -> Result<Self, ImportError> {
        let name = t.name().unwrap_or("").to_string();
        let shape: Vec<i64> = t.shape().map(|s| s.iter().map(i64::from).collect()).unwrap_or_default();
        if shape.iter().any(|&d| d < 0) {
            return Err(ImportError::Unsupported(format!("tensor `{name}` has a dynamic shape {shape:?}")));
        }
        let quantization = t.quantization().and_then(|q| {
            let scale: Vec<f32> = q.scale()?.iter().collect();
            if scale.is_empty() {
                return None;
            }
            let zero_point: Vec<i64> = q.zero_point().map(|z| z.iter().collect()).unwrap_or_default();
            Some(Quantization { scale, zero_point, axis: q.quantized_dimension().max(0) as usize })
        });
        if let Some(q) = &quantization
            && (q.scale.iter().any(|s| !s.is_finite() || *s <= 0.0) || (q.zero_point.len() > 1 && q.zero_point.len() != q.scale.len()))
        {
            return Err(ImportError::Damaged(format!("tensor `{name}` has an invalid quantisation")));
        }
        let data = buffers
            .filter(|b| t.buffer() != 0 && (t.buffer() as usize) < b.len())
            .and_then(|b| b.get(t.buffer() as usize).data())
            .map(|d| d.bytes())
            .filter(|d| !d.is_empty());
        let info = TensorInfo { name, shape, kind: t.type_(), quantization, data };
        if let Some(data) = info.data {
            let expected = info.elements() * info.element_size()?;
            if data.len() != expected {
                return Err(ImportError::Damaged(format!(
                    "constant `{}` {:?} holds {} bytes, expected {expected}",
                    info.name,
                    info.shape,
                    data.len()
                )));
            }
        }
        Ok(info)
    }

    fn elements(&self) -> usize {
        self.shape.iter().map(|&d| d as usize).product()
    }

    fn element_size(&self) -> Result<usize, ImportError> {
        Ok(match self.kind {
            TensorType::UINT8 | TensorType::INT8 => 1,
            TensorType::FLOAT16 => 2,
            TensorType::FLOAT32 | TensorType::INT32 => 4,
            TensorType::INT64 => 8,
            other => return Err(self.unsupported_type(other)),
        })
    }

    fn unsupported_type(&self, kind: TensorType) -> ImportError {
        ImportError::Unsupported(format!(
            "tensor `{}` is {}; taxa imports float32, float16, uint8 and int8 tensors",
            self.name,
            kind.variant_name().unwrap_or("of an unknown type")
        ))
    }

    /// A quantised activation (uint8 or int8 with a scale).
    fn is_quantized(&self) -> bool {
        matches!(self.kind, TensorType::UINT8 | TensorType::INT8) && self.quantization.is_some()
    }

    /// The constant's values as real numbers (dequantised; float16 widened).
    fn real_values(&self) -> Result<Vec<f32>, ImportError> {
        let data = self.data.ok_or_else(|| ImportError::Unsupported(format!("`{}` must be a constant", self.name)))?;
        let raw: Vec<f64> = match self.kind {
            TensorType::FLOAT32 => data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64).collect(),
            TensorType::FLOAT16 => data.chunks_exact(2).map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])) as f64).collect(),
            TensorType::INT32 => data.chunks_exact(4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64).collect(),
            TensorType::INT64 => data.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap_or_default()) as f64).collect(),
            TensorType::UINT8 => data.iter().map(|&b| b as f64).collect(),
            TensorType::INT8 => data.iter().map(|&b| b as i8 as f64).collect(),
            other => return Err(self.unsupported_type(other)),
        };
        let Some(q) = self.quantization.as_ref().filter(|_| matches!(self.kind, TensorType::UINT8 | TensorType::INT8 | TensorType::INT32)) else {
            return Ok(raw.into_iter().map(|v| v as f32).collect());
        };
        let channels = self.shape.get(q.axis).copied().unwrap_or(1).max(1) as usize;
        let inner: usize = self.shape.iter().skip(q.axis + 1).map(|&d| d as usize).product();
        Ok(raw
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                let (scale, zero) = q.at(i / inner.max(1) % channels);
                ((v - zero as f64) * scale as f64) as f32
            })
            .collect())
    }

    /// The constant as integers (shapes, axes, paddings).
    fn int_values(&self) -> Result<Vec<i64>, ImportError> {
        let data = self.data.ok_or_else(|| ImportError::Unsupported(format!("`{}` must be a constant", self.name)))?;
        Ok(match self.kind {
            TensorType::INT32 => data.chunks_exact(4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64).collect(),
            TensorType::INT64 => data.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap_or_default())).collect(),
            other => return Err(self.unsupported_type(other)),
        })
    }
}

/// IEEE half to single precision (float16 weights of TFLite's fp16 models).
fn f16_to_f32(bits: u16) -> f32 {
    let sign = ((bits >> 15) as u32) << 31;
    let exponent = ((bits >> 10) & 0x1f) as u32;
    let mantissa = (bits & 0x3ff) as u32;
    let value = match (exponent, mantissa) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: m × 2^-24.
            let magnitude = m as f32 * 2f32.powi(-24);
            return if sign != 0 { -magnitude } else { magnitude };
        }
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 112) << 23) | (m << 13),
    };
    f32::from_bits(value)
}

/// Where an ONNX value's axes are, relative to the TFLite tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// A 4-D NHWC tensor held as NCHW.
    Nchw,
    /// Held in TFLite's own order.
    AsIs,
}

#[derive(Debug, Clone)]
struct Value {
    name: String,
    layout: Layout,
}

/// NHWC axis → NCHW axis.
const NHWC_TO_NCHW_AXIS: [i64; 4] = [0, 2, 3, 1];

struct Converter<'t, 'a> {
    tensors: &'t [TensorInfo<'a>],
    weights: WeightStorage,
    g: GraphBuilder,
    values: HashMap<usize, Value>,
    /// Tensors whose value came straight from a SOFTMAX (before quantisation).
    softmax_outputs: HashMap<usize, String>,
}

impl<'t, 'a> Converter<'t, 'a> {
    fn new(tensors: &'t [TensorInfo<'a>], weights: WeightStorage) -> Self {
        Converter { tensors, weights, g: GraphBuilder::new("tflite"), values: HashMap::new(), softmax_outputs: HashMap::new() }
    }

    fn tensor(&self, index: usize) -> Result<&'t TensorInfo<'a>, ImportError> {
        self.tensors.get(index).ok_or_else(|| ImportError::Damaged(format!("tensor {index} does not exist")))
    }

    /// Declares the image input; returns (height, width, uint8, quantisation).
    fn input(&mut self, index: usize) -> Result<(u32, u32, bool, Option<(f32, i64)>), ImportError> {
        let t = self.tensor(index)?;
        let [1, h, w, 3] = t.shape[..] else {
            return Err(ImportError::Unsupported(format!(
                "input `{}` is {:?}; taxa imports image classifiers with one [1, height, width, 3] input",
                t.name, t.shape
            )));
        };
        if !(1..=8192).contains(&h) || !(1..=8192).contains(&w) {
            return Err(ImportError::Unsupported(format!("input `{}` is {h}×{w} pixels", t.name)));
        }
        let dims = [Dim::Fixed(1), h.into(), w.into(), 3.into()];
        let (real, uint8, quantization) = match t.kind {
            TensorType::FLOAT32 => (self.g.input("image", &dims), false, None),
            TensorType::UINT8 => {
                let image = self.g.input_typed("image", &dims, DataType::Uint8);
                let q = t.quantization.as_ref().ok_or_else(|| ImportError::Unsupported(format!("uint8 input `{}` has no quantisation", t.name)))?;
                let (scale, zero) = q.at(0);
                let (s, z) = self.quant_params(index)?;
                (self.g.node("DequantizeLinear", &[&image, &s, &z], vec![]), true, Some((scale, zero)))
            }
            other => {
                return Err(ImportError::Unsupported(format!(
                    "input `{}` is {}; taxa feeds images as uint8 pixels or float32",
                    t.name,
                    other.variant_name().unwrap_or("of an unknown type")
                )));
            }
        };
        let nchw = self.g.node("Transpose", &[&real], vec![attr_ints("perm", &[0, 3, 1, 2])]);
        self.values.insert(index, Value { name: nchw, layout: Layout::Nchw });
        Ok((h as u32, w as u32, uint8, quantization))
    }

    /// The tensor's per-tensor scale and zero point as ONNX initializers
    /// (scalar float32; scalar of the tensor's own 8-bit type).
    fn quant_params(&mut self, index: usize) -> Result<(String, String), ImportError> {
        let t = self.tensor(index)?;
        let q = t.quantization.as_ref().ok_or_else(|| ImportError::Unsupported(format!("`{}` has no quantisation", t.name)))?;
        if q.scale.len() != 1 {
            return Err(ImportError::Unsupported(format!("activation `{}` is quantised per channel", t.name)));
        }
        let (scale, zero) = q.at(0);
        let s = self.g.initializer(&format!("{}.scale", onnx_name(&t.name, index)), &[], &[scale]);
        let (kind, byte) = match t.kind {
            TensorType::UINT8 => (DataType::Uint8, u8::try_from(zero).map_err(|_| bad_zero(t))?),
            TensorType::INT8 => (DataType::Int8, i8::try_from(zero).map_err(|_| bad_zero(t))? as u8),
            other => return Err(t.unsupported_type(other)),
        };
        let z = self.g.initializer_raw(&format!("{}.zero_point", onnx_name(&t.name, index)), &[], kind, vec![byte]);
        Ok((s, z))
    }

    /// The value of tensor `index`: computed already, or a constant.
    fn value(&mut self, index: usize) -> Result<Value, ImportError> {
        if let Some(v) = self.values.get(&index) {
            return Ok(v.clone());
        }
        let t = self.tensor(index)?;
        if t.data.is_none() {
            return Err(ImportError::Unsupported(format!("tensor `{}` is read before any operator writes it", t.name)));
        }
        let values = t.real_values()?;
        let name = self.g.initializer(&onnx_name(&t.name, index), &t.shape, &values);
        let value = Value { name, layout: Layout::AsIs };
        self.values.insert(index, value.clone());
        Ok(value)
    }

    /// A 4-D value in NCHW; a constant's NHWC order is transposed.
    fn nchw(&mut self, value: Value, rank: usize) -> Value {
        if value.layout == Layout::AsIs && rank == 4 {
            let name = self.g.node("Transpose", &[&value.name], vec![attr_ints("perm", &[0, 3, 1, 2])]);
            return Value { name, layout: Layout::Nchw };
        }
        value
    }

    /// The value in TFLite's element order (NCHW goes back to NHWC).
    fn as_is(&mut self, value: Value) -> String {
        match value.layout {
            Layout::Nchw => self.g.node("Transpose", &[&value.name], vec![attr_ints("perm", &[0, 2, 3, 1])]),
            Layout::AsIs => value.name,
        }
    }

    /// Records `name` as the value of output tensor `index`: fused
    /// activation first, then the snap to the tensor's quantisation grid.
    fn define(&mut self, index: usize, name: String, activation: ActivationFunctionType) -> Result<(), ImportError> {
        let t = self.tensor(index)?;
        let name = self.activation(name, activation)?;
        let name = if t.is_quantized() {
            let (s, z) = self.quant_params(index)?;
            let q = self.g.node("QuantizeLinear", &[&name, &s, &z], vec![]);
            self.g.node("DequantizeLinear", &[&q, &s, &z], vec![])
        } else {
            name
        };
        let layout = if t.shape.len() == 4 { Layout::Nchw } else { Layout::AsIs };
        self.values.insert(index, Value { name, layout });
        Ok(())
    }

    fn activation(&mut self, x: String, activation: ActivationFunctionType) -> Result<String, ImportError> {
        Ok(match activation {
            ActivationFunctionType::NONE => x,
            ActivationFunctionType::RELU => self.g.node("Relu", &[&x], vec![]),
            ActivationFunctionType::RELU6 => self.clip(&x, 0.0, 6.0),
            ActivationFunctionType::RELU_N1_TO_1 => self.clip(&x, -1.0, 1.0),
            ActivationFunctionType::TANH => self.g.node("Tanh", &[&x], vec![]),
            other => {
                return Err(ImportError::Unsupported(format!(
                    "fused activation {} is not supported",
                    other.variant_name().unwrap_or("of an unknown kind")
                )));
            }
        })
    }

    fn clip(&mut self, x: &str, lo: f32, hi: f32) -> String {
        let lo = self.g.initializer(&format!("clip_min_{lo}"), &[], &[lo]);
        let hi = self.g.initializer(&format!("clip_max_{hi}"), &[], &[hi]);
        self.g.node("Clip", &[x, &lo, &hi], vec![])
    }

    /// A convolution or fully-connected weight as an ONNX value in the
    /// layout given by `permutation` (source axis for each output axis),
    /// kept 8-bit behind `DequantizeLinear` per [`WeightStorage`]. The
    /// per-channel axis must become axis 0.
    fn weight(&mut self, index: usize, permutation: &[usize]) -> Result<String, ImportError> {
        let t = self.tensor(index)?;
        if t.shape.len() != permutation.len() {
            return Err(ImportError::Unsupported(format!("weight `{}` is {:?}", t.name, t.shape)));
        }
        let dims: Vec<i64> = permutation.iter().map(|&a| t.shape[a]).collect();
        let name = onnx_name(&t.name, index);
        let per_channel = t.quantization.as_ref().is_some_and(|q| q.scale.len() > 1);
        if let Some(q) = &t.quantization
            && per_channel
            && permutation[0] != q.axis
        {
            return Err(ImportError::Unsupported(format!("weight `{}` is quantised along axis {}", t.name, q.axis)));
        }
        let eight_bit = matches!(t.kind, TensorType::UINT8 | TensorType::INT8) && t.quantization.is_some();
        if !(eight_bit && self.weights == WeightStorage::Quantized) {
            let values = permute(&t.real_values()?, &t.shape, permutation);
            return Ok(self.g.initializer(&name, &dims, &values));
        }
        let (data, q) = (t.data.ok_or_else(|| ImportError::Unsupported(format!("weight `{}` is not a constant", t.name)))?, t.quantization.as_ref().expect("checked above"));
        let kind = if t.kind == TensorType::UINT8 { DataType::Uint8 } else { DataType::Int8 };
        let bytes = permute(data, &t.shape, permutation);
        let w = self.g.initializer_raw(&name, &dims, kind, bytes);
        let channels = if per_channel { q.scale.len() } else { 1 };
        let scale_dims: &[i64] = if per_channel { &[channels as i64] } else { &[] };
        let scales: Vec<f32> = (0..channels).map(|c| q.at(c).0).collect();
        let zeros = (0..channels)
            .map(|c| {
                let z = q.at(c).1;
                if kind == DataType::Uint8 { u8::try_from(z).ok() } else { i8::try_from(z).ok().map(|z| z as u8) }
            })
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| bad_zero(t))?;
        let s = self.g.initializer(&format!("{name}.scale"), scale_dims, &scales);
        let z = self.g.initializer_raw(&format!("{name}.zero_point"), scale_dims, kind, zeros);
        Ok(self.g.node("DequantizeLinear", &[&w, &s, &z], vec![attr_int("axis", 0)]))
    }

    /// A bias as float32 (int32 biases are dequantised).
    fn bias(&mut self, index: Option<usize>) -> Result<Option<String>, ImportError> {
        let Some(index) = index else { return Ok(None) };
        let t = self.tensor(index)?;
        let values = t.real_values()?;
        Ok(Some(self.g.initializer(&onnx_name(&t.name, index), &[values.len() as i64], &values)))
    }

    fn operator(&mut self, index: usize, code: BuiltinOperator, op: &tflite::Operator<'a>) -> Result<(), ImportError> {
        let inputs: Vec<Option<usize>> = op.inputs().map(|v| v.iter().map(|i| usize::try_from(i).ok()).collect()).unwrap_or_default();
        let outputs: Vec<usize> = op.outputs().map(|v| v.iter().filter_map(|i| usize::try_from(i).ok()).collect()).unwrap_or_default();
        let input = |k: usize| -> Result<usize, ImportError> {
            inputs.get(k).copied().flatten().ok_or_else(|| ImportError::Damaged(format!("operator {index} lacks input {k}")))
        };
        let [output] = outputs[..] else {
            return Err(ImportError::Unsupported(format!("{} outputs", outputs.len())));
        };
        let missing = |what: &str| ImportError::Damaged(format!("operator {index} has no {what}"));
        match code {
            BuiltinOperator::CONV_2D => {
                let o = op.builtin_options_as_conv_2_doptions().ok_or_else(|| missing("Conv2DOptions"))?;
                let x = self.value(input(0)?)?;
                let x = self.nchw(x, 4);
                let w = self.weight(input(1)?, &[0, 3, 1, 2])?;
                let kernel = &self.tensor(input(1)?)?.shape;
                let (kh, kw) = (kernel[1], kernel[2]);
                let pads = self.pads(input(0)?, o.padding(), [kh, kw], [o.stride_h(), o.stride_w()], [o.dilation_h_factor(), o.dilation_w_factor()])?;
                let bias = self.bias(inputs.get(2).copied().flatten())?;
                let mut args = vec![x.name.as_str(), w.as_str()];
                if let Some(b) = &bias {
                    args.push(b);
                }
                let y = self.g.node(
                    "Conv",
                    &args,
                    vec![
                        attr_ints("kernel_shape", &[kh, kw]),
                        attr_ints("strides", &[o.stride_h() as i64, o.stride_w() as i64]),
                        attr_ints("dilations", &[o.dilation_h_factor() as i64, o.dilation_w_factor() as i64]),
                        attr_ints("pads", &pads),
                    ],
                );
                self.define(output, y, o.fused_activation_function())
            }
            BuiltinOperator::DEPTHWISE_CONV_2D => {
                let o = op.builtin_options_as_depthwise_conv_2_doptions().ok_or_else(|| missing("DepthwiseConv2DOptions"))?;
                let x_index = input(0)?;
                let channels_in = *self.tensor(x_index)?.shape.get(3).ok_or_else(|| ImportError::Unsupported("a depthwise input that is not 4-D".into()))?;
                let x = self.value(x_index)?;
                let x = self.nchw(x, 4);
                // [1, H, W, C·M] → ONNX's grouped weight [C·M, 1, H, W].
                let w = self.weight(input(1)?, &[3, 0, 1, 2])?;
                let kernel = &self.tensor(input(1)?)?.shape;
                let (kh, kw) = (kernel[1], kernel[2]);
                if channels_in <= 0 || kernel[3] % channels_in != 0 {
                    return Err(ImportError::Unsupported(format!("{} output channels from {channels_in} inputs", kernel[3])));
                }
                let pads = self.pads(x_index, o.padding(), [kh, kw], [o.stride_h(), o.stride_w()], [o.dilation_h_factor(), o.dilation_w_factor()])?;
                let bias = self.bias(inputs.get(2).copied().flatten())?;
                let mut args = vec![x.name.as_str(), w.as_str()];
                if let Some(b) = &bias {
                    args.push(b);
                }
                let y = self.g.node(
                    "Conv",
                    &args,
                    vec![
                        attr_int("group", channels_in),
                        attr_ints("kernel_shape", &[kh, kw]),
                        attr_ints("strides", &[o.stride_h() as i64, o.stride_w() as i64]),
                        attr_ints("dilations", &[o.dilation_h_factor() as i64, o.dilation_w_factor() as i64]),
                        attr_ints("pads", &pads),
                    ],
                );
                self.define(output, y, o.fused_activation_function())
            }
            BuiltinOperator::AVERAGE_POOL_2D | BuiltinOperator::MAX_POOL_2D => {
                let o = op.builtin_options_as_pool_2_doptions().ok_or_else(|| missing("Pool2DOptions"))?;
                let x = self.value(input(0)?)?;
                let x = self.nchw(x, 4);
                let kernel = [o.filter_height() as i64, o.filter_width() as i64];
                let pads = self.pads(input(0)?, o.padding(), kernel, [o.stride_h(), o.stride_w()], [1, 1])?;
                let kind = if code == BuiltinOperator::AVERAGE_POOL_2D { "AveragePool" } else { "MaxPool" };
                // TFLite's average leaves padding out of the count (ONNX's default).
                let y = self.g.node(kind, &[&x.name], vec![
                    attr_ints("kernel_shape", &kernel),
                    attr_ints("strides", &[o.stride_h() as i64, o.stride_w() as i64]),
                    attr_ints("pads", &pads),
                ]);
                self.define(output, y, o.fused_activation_function())
            }
            BuiltinOperator::ADD | BuiltinOperator::MUL | BuiltinOperator::SUB => {
                let activation = match code {
                    BuiltinOperator::ADD => op.builtin_options_as_add_options().map(|o| o.fused_activation_function()),
                    BuiltinOperator::MUL => op.builtin_options_as_mul_options().map(|o| o.fused_activation_function()),
                    _ => op.builtin_options_as_sub_options().map(|o| o.fused_activation_function()),
                }
                .unwrap_or(ActivationFunctionType::NONE);
                let (a, b) = self.aligned_pair(input(0)?, input(1)?)?;
                let kind = match code {
                    BuiltinOperator::ADD => "Add",
                    BuiltinOperator::MUL => "Mul",
                    _ => "Sub",
                };
                let y = self.g.node(kind, &[&a, &b], vec![]);
                self.define(output, y, activation)
            }
            BuiltinOperator::FULLY_CONNECTED => {
                let o = op.builtin_options_as_fully_connected_options().ok_or_else(|| missing("FullyConnectedOptions"))?;
                let weight = self.tensor(input(1)?)?;
                let [units, depth] = weight.shape[..] else {
                    return Err(ImportError::Unsupported(format!("fully-connected weight `{}` is {:?}", weight.name, weight.shape)));
                };
                let out_shape = self.tensor(output)?.shape.clone();
                if o.keep_num_dims() && out_shape.len() != 2 {
                    return Err(ImportError::Unsupported("keep_num_dims over more than 2 dimensions".into()));
                }
                let x = self.value(input(0)?)?;
                let x = self.as_is(x);
                let shape = self.g.initializer_i64(&format!("fc_shape_{index}"), &[2], &[-1, depth]);
                let flat = self.g.node("Reshape", &[&x, &shape], vec![]);
                let w = self.weight(input(1)?, &[0, 1])?;
                let bias = match self.bias(inputs.get(2).copied().flatten())? {
                    Some(b) => b,
                    None => self.g.initializer(&format!("fc_zero_bias_{index}"), &[units], &vec![0.0; units as usize]),
                };
                let y = self.g.node("Gemm", &[&flat, &w, &bias], vec![attr_int("transB", 1)]);
                self.define(output, y, o.fused_activation_function())
            }
            BuiltinOperator::SOFTMAX => {
                let beta = op.builtin_options_as_softmax_options().map(|o| o.beta()).unwrap_or(1.0);
                let x = self.value(input(0)?)?;
                let mut x = self.as_is(x);
                if beta != 1.0 {
                    let b = self.g.initializer(&format!("softmax_beta_{index}"), &[], &[beta]);
                    x = self.g.node("Mul", &[&x, &b], vec![]);
                }
                let y = self.g.node("Softmax", &[&x], vec![attr_int("axis", -1)]);
                self.softmax_outputs.insert(output, y.clone());
                let rank = self.tensor(output)?.shape.len();
                self.define(output, y, ActivationFunctionType::NONE)?;
                if rank == 4 {
                    // Softmax ran in NHWC order; record it as such.
                    let v = self.values.get_mut(&output).expect("defined above");
                    v.layout = Layout::AsIs;
                }
                Ok(())
            }
            BuiltinOperator::RESHAPE | BuiltinOperator::SQUEEZE => {
                let x = self.value(input(0)?)?;
                let x = self.as_is(x);
                let out_shape = self.tensor(output)?.shape.clone();
                let shape = self.g.initializer_i64(&format!("reshape_{index}"), &[out_shape.len() as i64], &out_shape);
                let y = self.g.node("Reshape", &[&x, &shape], vec![]);
                self.define_as_is(output, y)
            }
            BuiltinOperator::MEAN => {
                let keep = op.builtin_options_as_reducer_options().map(|o| o.keep_dims()).unwrap_or(false);
                let rank = self.tensor(input(0)?)?.shape.len();
                let axes: Vec<i64> = self.tensor(input(1)?)?.int_values()?.into_iter().map(|a| if a < 0 { a + rank as i64 } else { a }).collect();
                if axes.iter().any(|&a| !(0..rank as i64).contains(&a)) {
                    return Err(ImportError::Damaged(format!("MEAN over axes {axes:?} of a rank-{rank} tensor")));
                }
                let x = self.value(input(0)?)?;
                // Opset 17: ReduceMean takes its axes as an attribute.
                if keep && rank == 4 {
                    let x = self.nchw(x, 4);
                    let axes: Vec<i64> = axes.iter().map(|&a| NHWC_TO_NCHW_AXIS[a as usize]).collect();
                    let y = self.g.node("ReduceMean", &[&x.name], vec![attr_ints("axes", &axes), attr_int("keepdims", 1)]);
                    self.define(output, y, ActivationFunctionType::NONE)
                } else {
                    // In TFLite's order, so the axes left keep theirs.
                    let x = self.as_is(x);
                    let y = self.g.node("ReduceMean", &[&x], vec![attr_ints("axes", &axes), attr_int("keepdims", keep as i64)]);
                    self.define_as_is(output, y)
                }
            }
            BuiltinOperator::CONCATENATION => {
                let o = op.builtin_options_as_concatenation_options().ok_or_else(|| missing("ConcatenationOptions"))?;
                let rank = self.tensor(output)?.shape.len();
                let axis = if o.axis() < 0 { o.axis() as i64 + rank as i64 } else { o.axis() as i64 };
                let mut names = Vec::new();
                for k in 0..inputs.len() {
                    let v = self.value(input(k)?)?;
                    let v = self.nchw(v, rank);
                    names.push(if rank == 4 { v.name } else { self.as_is(v) });
                }
                let axis = if rank == 4 { NHWC_TO_NCHW_AXIS[axis as usize] } else { axis };
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                let y = self.g.node("Concat", &refs, vec![attr_int("axis", axis)]);
                self.define(output, y, o.fused_activation_function())
            }
            BuiltinOperator::PAD | BuiltinOperator::PADV2 => {
                let t = self.tensor(input(0)?)?;
                let rank = t.shape.len();
                let paddings = self.tensor(input(1)?)?.int_values()?;
                if paddings.len() != 2 * rank {
                    return Err(ImportError::Unsupported(format!("paddings {paddings:?} for a rank-{rank} tensor")));
                }
                let order: Vec<usize> = if rank == 4 { vec![0, 3, 1, 2] } else { (0..rank).collect() };
                let mut pads: Vec<i64> = order.iter().map(|&a| paddings[2 * a]).collect();
                pads.extend(order.iter().map(|&a| paddings[2 * a + 1]));
                // Quantised PAD fills with the zero point, i.e. a real 0.
                let fill = match inputs.get(2).copied().flatten() {
                    Some(v) => self.tensor(v)?.real_values()?.first().copied().unwrap_or(0.0),
                    None => 0.0,
                };
                let x = self.value(input(0)?)?;
                let x = self.nchw(x, rank);
                let pads = self.g.initializer_i64(&format!("pads_{index}"), &[pads.len() as i64], &pads);
                let fill = self.g.initializer(&format!("pad_value_{index}"), &[], &[fill]);
                let y = self.g.node("Pad", &[&x.name, &pads, &fill], vec![]);
                self.define(output, y, ActivationFunctionType::NONE)
            }
            BuiltinOperator::RELU => self.unary(input(0)?, output, ActivationFunctionType::RELU),
            BuiltinOperator::RELU6 => self.unary(input(0)?, output, ActivationFunctionType::RELU6),
            BuiltinOperator::LOGISTIC | BuiltinOperator::HARD_SWISH | BuiltinOperator::TANH => {
                let x = self.value(input(0)?)?;
                let kind = match code {
                    BuiltinOperator::LOGISTIC => "Sigmoid",
                    BuiltinOperator::HARD_SWISH => "HardSwish",
                    _ => "Tanh",
                };
                let y = self.g.node(kind, &[&x.name], vec![]);
                self.define_like(output, y, x.layout)
            }
            // Quantise: snap to the output's grid (define does); dequantise: the value is already real.
            BuiltinOperator::QUANTIZE | BuiltinOperator::DEQUANTIZE => {
                let source = input(0)?;
                let x = self.value(source)?;
                if let Some(probabilities) = self.softmax_outputs.get(&source).cloned() {
                    self.softmax_outputs.insert(output, probabilities);
                }
                self.define_like(output, x.name, x.layout)
            }
            other => Err(ImportError::UnsupportedOperator {
                operator: other.variant_name().map(str::to_string).unwrap_or_else(|| format!("builtin code {}", other.0)),
                index,
            }),
        }
    }

    fn unary(&mut self, input: usize, output: usize, activation: ActivationFunctionType) -> Result<(), ImportError> {
        let x = self.value(input)?;
        let y = self.activation(x.name, activation)?;
        self.define_like(output, y, x.layout)
    }

    /// Like [`define`](Self::define) for a value whose layout is already known.
    fn define_like(&mut self, output: usize, name: String, layout: Layout) -> Result<(), ImportError> {
        self.define(output, name, ActivationFunctionType::NONE)?;
        let v = self.values.get_mut(&output).expect("defined above");
        v.layout = layout;
        Ok(())
    }

    /// Defines a value produced in TFLite's element order; a 4-D one goes to NCHW.
    fn define_as_is(&mut self, output: usize, name: String) -> Result<(), ImportError> {
        let rank = self.tensor(output)?.shape.len();
        if rank == 4 {
            let nchw = self.g.node("Transpose", &[&name], vec![attr_ints("perm", &[0, 3, 1, 2])]);
            self.define(output, nchw, ActivationFunctionType::NONE)
        } else {
            self.define_like(output, name, Layout::AsIs)
        }
    }

    /// Two operands of an elementwise op, broadcastable in the same layout.
    fn aligned_pair(&mut self, a: usize, b: usize) -> Result<(String, String), ImportError> {
        let (va, vb) = (self.value(a)?, self.value(b)?);
        let (ra, rb) = (self.tensor(a)?.shape.len(), self.tensor(b)?.shape.len());
        if va.layout == Layout::Nchw || vb.layout == Layout::Nchw {
            let a = self.broadcast_to_nchw(va, ra)?;
            let b = self.broadcast_to_nchw(vb, rb)?;
            return Ok((a, b));
        }
        Ok((va.name, vb.name))
    }

    /// An operand of an op with a 4-D NCHW operand: 4-D values transposed,
    /// a per-channel vector `[C]` reshaped to `[C, 1, 1]`, a scalar kept.
    fn broadcast_to_nchw(&mut self, v: Value, rank: usize) -> Result<String, ImportError> {
        Ok(match (v.layout, rank) {
            (Layout::Nchw, _) | (_, 0) => v.name,
            (Layout::AsIs, 4) => self.nchw(v, 4).name,
            (Layout::AsIs, 1) => {
                let shape = self.g.initializer_i64(&format!("{}.as_channels", v.name), &[3], &[-1, 1, 1]);
                self.g.node("Reshape", &[&v.name, &shape], vec![])
            }
            (Layout::AsIs, r) => return Err(ImportError::Unsupported(format!("a rank-{r} operand beside a 4-D tensor"))),
        })
    }

    /// ONNX pads `[top, left, bottom, right]` for TFLite's SAME or VALID
    /// padding of a 4-D NHWC input (SAME puts the odd pixel at the end).
    fn pads(&self, input: usize, padding: Padding, kernel: [i64; 2], stride: [i32; 2], dilation: [i32; 2]) -> Result<Vec<i64>, ImportError> {
        let shape = &self.tensor(input)?.shape;
        let [_, h, w, _] = shape[..] else {
            return Err(ImportError::Unsupported(format!("a convolution or pool over {shape:?}")));
        };
        if stride.iter().chain(&dilation).any(|&s| s < 1) {
            return Err(ImportError::Damaged(format!("stride {stride:?} or dilation {dilation:?} below 1")));
        }
        if padding == Padding::VALID {
            return Ok(vec![0; 4]);
        }
        let total = |size: i64, k: i64, s: i64, d: i64| {
            let out = (size + s - 1) / s;
            ((out - 1) * s + (k - 1) * d + 1 - size).max(0)
        };
        let th = total(h, kernel[0], stride[0] as i64, dilation[0] as i64);
        let tw = total(w, kernel[1], stride[1] as i64, dilation[1] as i64);
        Ok(vec![th / 2, tw / 2, th - th / 2, tw - tw / 2])
    }

    /// Declares the graph output (`[1, classes]` float32) from tensor `index`.
    fn finish(&mut self, index: usize) -> Result<(usize, OutputKind), ImportError> {
        let shape = self.tensor(index)?.shape.clone();
        let classes = shape.last().copied().unwrap_or(0);
        if classes <= 0 || shape.iter().rev().skip(1).any(|&d| d != 1) {
            return Err(ImportError::Unsupported(format!("the output is {shape:?}; a classifier's is [1, classes]")));
        }
        let (value, kind) = match self.softmax_outputs.get(&index) {
            Some(probabilities) => (probabilities.clone(), OutputKind::Probabilities),
            None => {
                let v = self.values.get(&index).cloned().ok_or_else(|| ImportError::Unsupported("no operator writes the output".into()))?;
                (self.as_is(v), OutputKind::Logits)
            }
        };
        let name = match kind {
            OutputKind::Probabilities => "probabilities",
            OutputKind::Logits => "logits",
        };
        let shape = self.g.initializer_i64("output_shape", &[2], &[1, classes]);
        self.g.node_named("Reshape", &[&value, &shape], name, vec![]);
        self.g.output(name, &[Dim::Fixed(1), classes.into()]);
        Ok((classes as usize, kind))
    }
}

fn bad_zero(t: &TensorInfo) -> ImportError {
    ImportError::Damaged(format!("tensor `{}` has a zero point outside its type", t.name))
}

/// An initializer name: the TFLite name (often long and shared) with the
/// tensor's index, so two tensors never collide.
fn onnx_name(name: &str, index: usize) -> String {
    let short: String = name.rsplit(';').next().unwrap_or(name).chars().take(80).collect();
    format!("t{index}:{short}")
}

/// Reorders the axes of a row-major array: output axis `i` is source axis `permutation[i]`.
fn permute<T: Copy>(values: &[T], shape: &[i64], permutation: &[usize]) -> Vec<T> {
    let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
    let mut strides = vec![1usize; shape.len()];
    for a in (0..shape.len().saturating_sub(1)).rev() {
        strides[a] = strides[a + 1] * shape[a + 1];
    }
    let out_shape: Vec<usize> = permutation.iter().map(|&a| shape[a]).collect();
    let out_strides: Vec<usize> = permutation.iter().map(|&a| strides[a]).collect();
    let mut out = Vec::with_capacity(values.len());
    let mut index = vec![0usize; out_shape.len()];
    for _ in 0..values.len() {
        out.push(values[index.iter().zip(&out_strides).map(|(i, s)| i * s).sum::<usize>()]);
        for a in (0..index.len()).rev() {
            index[a] += 1;
            if index[a] < out_shape[a] {
                break;
            }
            index[a] = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permute_moves_axes() {
        // A 2×3 matrix transposed.
        assert_eq!(permute(&[1, 2, 3, 4, 5, 6], &[2, 3], &[1, 0]), vec![1, 4, 2, 5, 3, 6]);
        // OHWI [1,1,2,2] → OIHW: the two input channels become planes.
        assert_eq!(permute(&[10, 20, 11, 21], &[1, 1, 2, 2], &[0, 3, 1, 2]), vec![10, 11, 20, 21]);
    }

    #[test]
    fn half_floats_widen_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert!(f16_to_f32(0x7c00).is_infinite());
    }

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
