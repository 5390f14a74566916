//! The graph being written: each TFLite tensor's ONNX value and its layout,
//! the input, the output, and the snap of every quantised value to its grid.
//! Operators are written by family in the sibling modules.

use std::collections::HashMap;

use taxa_core::bundle::OutputKind;
use taxa_core::onnx_graph::{Dim, GraphBuilder, attr_ints};
use taxa_core::onnx_pb::tensor_proto::DataType;
use tract_tflite::tflite::{self, ActivationFunctionType, BuiltinOperator, TensorType};

use super::WeightStorage;
use super::tensors::{TensorInfo, bad_zero, onnx_name};
use crate::import::ImportError;

/// Where an ONNX value's axes are, relative to the TFLite tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layout {
    /// A 4-D NHWC tensor held as NCHW.
    Nchw,
    /// Held in TFLite's own order.
    AsIs,
}

#[derive(Debug, Clone)]
pub(super) struct Value {
    pub(super) name: String,
    pub(super) layout: Layout,
}

/// NHWC axis → NCHW axis.
pub(super) const NHWC_TO_NCHW_AXIS: [i64; 4] = [0, 2, 3, 1];

/// The model's image input as declared: its size in pixels, whether it
/// takes uint8 pixels, and their quantisation (scale, zero point).
pub(super) struct ModelInput {
    pub height: u32,
    pub width: u32,
    pub uint8: bool,
    pub quantization: Option<(f32, i64)>,
}

/// The ONNX graph being written, and the value each TFLite tensor has in it.
pub(super) struct Converter<'t, 'a> {
    tensors: &'t [TensorInfo<'a>],
    pub(super) weights: WeightStorage,
    pub(super) g: GraphBuilder,
    pub(super) values: HashMap<usize, Value>,
    /// Tensors whose value came straight from a SOFTMAX (before quantisation).
    pub(super) softmax_outputs: HashMap<usize, String>,
}

/// One operator's tensors: its inputs (`None` where omitted) and its one output.
pub(super) struct Operands {
    /// The operator's position in the graph, for names and errors.
    pub(super) index: usize,
    pub(super) inputs: Vec<Option<usize>>,
    pub(super) output: usize,
}

impl Operands {
    /// Input `k`, which the operator must have.
    pub(super) fn input(&self, k: usize) -> Result<usize, ImportError> {
        self.optional(k).ok_or_else(|| ImportError::Damaged(format!("operator {} lacks input {k}", self.index)))
    }

    /// Input `k` where it may be omitted (a bias, a fill value).
    pub(super) fn optional(&self, k: usize) -> Option<usize> {
        self.inputs.get(k).copied().flatten()
    }

    /// The error for an operator without its options table.
    pub(super) fn missing(&self, what: &str) -> ImportError {
        ImportError::Damaged(format!("operator {} has no {what}", self.index))
    }
}

impl<'t, 'a> Converter<'t, 'a> {
    pub(super) fn new(tensors: &'t [TensorInfo<'a>], weights: WeightStorage) -> Self {
        Converter { tensors, weights, g: GraphBuilder::new("tflite"), values: HashMap::new(), softmax_outputs: HashMap::new() }
    }

    pub(super) fn tensor(&self, index: usize) -> Result<&'t TensorInfo<'a>, ImportError> {
        self.tensors.get(index).ok_or_else(|| ImportError::Damaged(format!("tensor {index} does not exist")))
    }

    /// Declares the image input.
    pub(super) fn input(&mut self, index: usize) -> Result<ModelInput, ImportError> {
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
        Ok(ModelInput { height: h as u32, width: w as u32, uint8, quantization })
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
    pub(super) fn value(&mut self, index: usize) -> Result<Value, ImportError> {
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
    pub(super) fn nchw(&mut self, value: Value, rank: usize) -> Value {
        if value.layout == Layout::AsIs && rank == 4 {
            let name = self.g.node("Transpose", &[&value.name], vec![attr_ints("perm", &[0, 3, 1, 2])]);
            return Value { name, layout: Layout::Nchw };
        }
        value
    }

    /// The value in TFLite's element order (NCHW goes back to NHWC).
    pub(super) fn as_is(&mut self, value: Value) -> String {
        match value.layout {
            Layout::Nchw => self.g.node("Transpose", &[&value.name], vec![attr_ints("perm", &[0, 2, 3, 1])]),
            Layout::AsIs => value.name,
        }
    }

    /// Records `name` as the value of output tensor `index`: fused
    /// activation first, then the snap to the tensor's quantisation grid.
    pub(super) fn define(&mut self, index: usize, name: String, activation: ActivationFunctionType) -> Result<(), ImportError> {
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

    pub(super) fn activation(&mut self, x: String, activation: ActivationFunctionType) -> Result<String, ImportError> {
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
        let lo = self.g.shared_initializer(&format!("clip_min_{lo}"), &[], &[lo]);
        let hi = self.g.shared_initializer(&format!("clip_max_{hi}"), &[], &[hi]);
        self.g.node("Clip", &[x, &lo, &hi], vec![])
    }

    /// Writes operator `index`; each family's operators are in their own module.
    pub(super) fn operator(&mut self, index: usize, code: BuiltinOperator, op: &tflite::Operator<'a>) -> Result<(), ImportError> {
        let inputs: Vec<Option<usize>> = op.inputs().map(|v| v.iter().map(|i| usize::try_from(i).ok()).collect()).unwrap_or_default();
        let outputs: Vec<usize> = op.outputs().map(|v| v.iter().filter_map(|i| usize::try_from(i).ok()).collect()).unwrap_or_default();
        let [output] = outputs[..] else {
            return Err(ImportError::Unsupported(format!("{} outputs", outputs.len())));
        };
        let ops = Operands { index, inputs, output };
        match code {
            BuiltinOperator::CONV_2D => self.conv_2d(op, &ops),
            BuiltinOperator::DEPTHWISE_CONV_2D => self.depthwise_conv_2d(op, &ops),
            BuiltinOperator::AVERAGE_POOL_2D | BuiltinOperator::MAX_POOL_2D => self.pool_2d(code, op, &ops),
            BuiltinOperator::ADD | BuiltinOperator::MUL | BuiltinOperator::SUB => self.arithmetic(code, op, &ops),
            BuiltinOperator::FULLY_CONNECTED => self.fully_connected(op, &ops),
            BuiltinOperator::SOFTMAX => self.softmax(op, &ops),
            BuiltinOperator::RESHAPE | BuiltinOperator::SQUEEZE => self.reshape(&ops),
            BuiltinOperator::MEAN => self.mean(op, &ops),
            BuiltinOperator::CONCATENATION => self.concatenation(op, &ops),
            BuiltinOperator::PAD | BuiltinOperator::PADV2 => self.pad(&ops),
            BuiltinOperator::RELU => self.unary(ops.input(0)?, output, ActivationFunctionType::RELU),
            BuiltinOperator::RELU6 => self.unary(ops.input(0)?, output, ActivationFunctionType::RELU6),
            BuiltinOperator::LOGISTIC | BuiltinOperator::HARD_SWISH | BuiltinOperator::TANH => self.unary_function(code, &ops),
            BuiltinOperator::QUANTIZE | BuiltinOperator::DEQUANTIZE => self.requantize(&ops),
            other => Err(ImportError::UnsupportedOperator {
                operator: other.variant_name().map(str::to_string).unwrap_or_else(|| format!("builtin code {}", other.0)),
                index,
            }),
        }
    }

    /// Like [`define`](Self::define) for a value whose layout is already known.
    pub(super) fn define_like(&mut self, output: usize, name: String, layout: Layout) -> Result<(), ImportError> {
        self.define(output, name, ActivationFunctionType::NONE)?;
        let v = self.values.get_mut(&output).expect("defined above");
        v.layout = layout;
        Ok(())
    }

    /// Defines a value produced in TFLite's element order; a 4-D one goes to NCHW.
    pub(super) fn define_as_is(&mut self, output: usize, name: String) -> Result<(), ImportError> {
        let rank = self.tensor(output)?.shape.len();
        if rank == 4 {
            let nchw = self.g.node("Transpose", &[&name], vec![attr_ints("perm", &[0, 3, 1, 2])]);
            self.define(output, nchw, ActivationFunctionType::NONE)
        } else {
            self.define_like(output, name, Layout::AsIs)
        }
    }

    /// Declares the graph output (`[1, classes]` float32) from tensor `index`.
    pub(super) fn finish(&mut self, index: usize) -> Result<(usize, OutputKind), ImportError> {
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
