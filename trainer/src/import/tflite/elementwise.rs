//! Elementwise operators: arithmetic, activations, softmax, and the
//! quantise/dequantise pair, each keeping its operands' layout.

use taxa_core::onnx_graph::attr_int;
use tract_tflite::tflite::{self, ActivationFunctionType, BuiltinOperator};

use super::converter::{Converter, Layout, Operands, Value};
use crate::import::ImportError;

impl<'a> Converter<'_, 'a> {
    /// ADD, MUL and SUB, broadcasting across layouts.
    pub(super) fn arithmetic(&mut self, code: BuiltinOperator, op: &tflite::Operator<'a>, ops: &Operands) -> Result<(), ImportError> {
        let output = ops.output;
        let activation = match code {
            BuiltinOperator::ADD => op.builtin_options_as_add_options().map(|o| o.fused_activation_function()),
            BuiltinOperator::MUL => op.builtin_options_as_mul_options().map(|o| o.fused_activation_function()),
            _ => op.builtin_options_as_sub_options().map(|o| o.fused_activation_function()),
        }
        .unwrap_or(ActivationFunctionType::NONE);
        let (a, b) = self.aligned_pair(ops.input(0)?, ops.input(1)?)?;
        let kind = match code {
            BuiltinOperator::ADD => "Add",
            BuiltinOperator::MUL => "Mul",
            _ => "Sub",
        };
        let y = self.g.node(kind, &[&a, &b], vec![]);
        self.define(output, y, activation)
    }

    /// SOFTMAX over the last axis, in TFLite's order; its unrounded
    /// probabilities are kept for the graph's output.
    pub(super) fn softmax(&mut self, op: &tflite::Operator<'a>, ops: &Operands) -> Result<(), ImportError> {
        let (index, output) = (ops.index, ops.output);
        let beta = op.builtin_options_as_softmax_options().map(|o| o.beta()).unwrap_or(1.0);
        let x = self.value(ops.input(0)?)?;
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

    /// LOGISTIC, HARD_SWISH and TANH.
    pub(super) fn unary_function(&mut self, code: BuiltinOperator, ops: &Operands) -> Result<(), ImportError> {
        let output = ops.output;
        let x = self.value(ops.input(0)?)?;
        let kind = match code {
            BuiltinOperator::LOGISTIC => "Sigmoid",
            BuiltinOperator::HARD_SWISH => "HardSwish",
            _ => "Tanh",
        };
        let y = self.g.node(kind, &[&x.name], vec![]);
        self.define_like(output, y, x.layout)
    }

    /// QUANTIZE snaps to the output's grid (define does); DEQUANTIZE's value
    /// is already real.
    pub(super) fn requantize(&mut self, ops: &Operands) -> Result<(), ImportError> {
        let output = ops.output;
        let source = ops.input(0)?;
        let x = self.value(source)?;
        if let Some(probabilities) = self.softmax_outputs.get(&source).cloned() {
            self.softmax_outputs.insert(output, probabilities);
        }
        self.define_like(output, x.name, x.layout)
    }

    /// RELU and RELU6: the fused activation as an operator of its own.
    pub(super) fn unary(&mut self, input: usize, output: usize, activation: ActivationFunctionType) -> Result<(), ImportError> {
        let x = self.value(input)?;
        let y = self.activation(x.name, activation)?;
        self.define_like(output, y, x.layout)
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
}
