//! Operators that move elements rather than compute them: reshape,
//! concatenation and padding, and MEAN's reduction over axes. They mind the
//! layout: TFLite's axes are NHWC, a 4-D value here is NCHW.

use taxa_core::onnx_graph::{attr_int, attr_ints};
use tract_tflite::tflite::{self, ActivationFunctionType};

use super::converter::{Converter, NHWC_TO_NCHW_AXIS, Operands};
use crate::import::ImportError;

impl<'a> Converter<'_, 'a> {
    /// RESHAPE and SQUEEZE, to the output tensor's shape in TFLite's order.
    pub(super) fn reshape(&mut self, ops: &Operands) -> Result<(), ImportError> {
        let (index, output) = (ops.index, ops.output);
        let x = self.value(ops.input(0)?)?;
        let x = self.as_is(x);
        let out_shape = self.tensor(output)?.shape.clone();
        let shape = self.g.initializer_i64(&format!("reshape_{index}"), &[out_shape.len() as i64], &out_shape);
        let y = self.g.node("Reshape", &[&x, &shape], vec![]);
        self.define_as_is(output, y)
    }

    /// MEAN over constant axes.
    pub(super) fn mean(&mut self, op: &tflite::Operator<'a>, ops: &Operands) -> Result<(), ImportError> {
        let output = ops.output;
        let keep = op.builtin_options_as_reducer_options().map(|o| o.keep_dims()).unwrap_or(false);
        let rank = self.tensor(ops.input(0)?)?.shape.len();
        let axes: Vec<i64> = self.tensor(ops.input(1)?)?.int_values()?.into_iter().map(|a| if a < 0 { a + rank as i64 } else { a }).collect();
        if axes.iter().any(|&a| !(0..rank as i64).contains(&a)) {
            return Err(ImportError::Damaged(format!("MEAN over axes {axes:?} of a rank-{rank} tensor")));
        }
        let x = self.value(ops.input(0)?)?;
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

    /// CONCATENATION, along the NCHW axis for 4-D values.
    pub(super) fn concatenation(&mut self, op: &tflite::Operator<'a>, ops: &Operands) -> Result<(), ImportError> {
        let output = ops.output;
        let o = op.builtin_options_as_concatenation_options().ok_or_else(|| ops.missing("ConcatenationOptions"))?;
        let rank = self.tensor(output)?.shape.len();
        let axis = if o.axis() < 0 { o.axis() as i64 + rank as i64 } else { o.axis() as i64 };
        let mut names = Vec::new();
        for k in 0..ops.inputs.len() {
            let v = self.value(ops.input(k)?)?;
            let v = self.nchw(v, rank);
            names.push(if rank == 4 { v.name } else { self.as_is(v) });
        }
        let axis = if rank == 4 { NHWC_TO_NCHW_AXIS[axis as usize] } else { axis };
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let y = self.g.node("Concat", &refs, vec![attr_int("axis", axis)]);
        self.define(output, y, o.fused_activation_function())
    }

    /// PAD and PADV2, with PADV2's constant fill.
    pub(super) fn pad(&mut self, ops: &Operands) -> Result<(), ImportError> {
        let (index, output) = (ops.index, ops.output);
        let t = self.tensor(ops.input(0)?)?;
        let rank = t.shape.len();
        let paddings = self.tensor(ops.input(1)?)?.int_values()?;
        if paddings.len() != 2 * rank {
            return Err(ImportError::Unsupported(format!("paddings {paddings:?} for a rank-{rank} tensor")));
        }
        let order: Vec<usize> = if rank == 4 { vec![0, 3, 1, 2] } else { (0..rank).collect() };
        let mut pads: Vec<i64> = order.iter().map(|&a| paddings[2 * a]).collect();
        pads.extend(order.iter().map(|&a| paddings[2 * a + 1]));
        // Quantised PAD fills with the zero point, i.e. a real 0.
        let fill = match ops.optional(2) {
            Some(v) => self.tensor(v)?.real_values()?.first().copied().unwrap_or(0.0),
            None => 0.0,
        };
        let x = self.value(ops.input(0)?)?;
        let x = self.nchw(x, rank);
        let pads = self.g.initializer_i64(&format!("pads_{index}"), &[pads.len() as i64], &pads);
        let fill = self.g.initializer(&format!("pad_value_{index}"), &[], &[fill]);
        let y = self.g.node("Pad", &[&x.name, &pads, &fill], vec![]);
        self.define(output, y, ActivationFunctionType::NONE)
    }
}
