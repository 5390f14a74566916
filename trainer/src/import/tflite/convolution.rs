//! Convolutions, pools and fully-connected layers: the operators with
//! weights (kept 8-bit or dequantised per [`WeightStorage`]) and TFLite's
//! SAME/VALID padding.

use taxa_core::onnx_graph::{attr_int, attr_ints};
use taxa_core::onnx_pb::tensor_proto::DataType;
use tract_tflite::tflite::{self, BuiltinOperator, Padding, TensorType};

use super::WeightStorage;
use super::converter::{Converter, Operands};
use super::tensors::{bad_zero, onnx_name, permute};
use crate::import::ImportError;

/// A convolution's window: kernel size, strides, dilations (TFLite's i32s)
/// and ONNX pads.
struct Window {
    kernel: [i64; 2],
    strides: [i32; 2],
    dilations: [i32; 2],
    pads: Vec<i64>,
}

impl<'a> Converter<'_, 'a> {
    /// An ONNX `Conv` node (`group` for a depthwise one); returns its output.
    fn conv(&mut self, x: &str, w: &str, bias: Option<&str>, group: Option<i64>, window: &Window) -> String {
        let mut args = vec![x, w];
        args.extend(bias);
        let mut attributes: Vec<_> = group.map(|g| attr_int("group", g)).into_iter().collect();
        attributes.extend([
            attr_ints("kernel_shape", &window.kernel),
            attr_ints("strides", &window.strides.map(i64::from)),
            attr_ints("dilations", &window.dilations.map(i64::from)),
            attr_ints("pads", &window.pads),
        ]);
        self.g.node("Conv", &args, attributes)
    }

    /// CONV_2D: TFLite's OHWI weight as ONNX `Conv`'s OIHW.
    pub(super) fn conv_2d(&mut self, op: &tflite::Operator<'a>, ops: &Operands) -> Result<(), ImportError> {
        let output = ops.output;
        let o = op.builtin_options_as_conv_2_doptions().ok_or_else(|| ops.missing("Conv2DOptions"))?;
        let x = self.value(ops.input(0)?)?;
        let x = self.nchw(x, 4);
        let w = self.weight(ops.input(1)?, &[0, 3, 1, 2])?;
        let kernel = &self.tensor(ops.input(1)?)?.shape;
        let (kh, kw) = (kernel[1], kernel[2]);
        let pads = self.pads(ops.input(0)?, o.padding(), [kh, kw], [o.stride_h(), o.stride_w()], [o.dilation_h_factor(), o.dilation_w_factor()])?;
        let bias = self.bias(ops.optional(2))?;
        let window = Window { kernel: [kh, kw], strides: [o.stride_h(), o.stride_w()], dilations: [o.dilation_h_factor(), o.dilation_w_factor()], pads };
        let y = self.conv(&x.name, &w, bias.as_deref(), None, &window);
        self.define(output, y, o.fused_activation_function())
    }

    /// DEPTHWISE_CONV_2D: a grouped `Conv`, one group per input channel.
    pub(super) fn depthwise_conv_2d(&mut self, op: &tflite::Operator<'a>, ops: &Operands) -> Result<(), ImportError> {
        let output = ops.output;
        let o = op.builtin_options_as_depthwise_conv_2_doptions().ok_or_else(|| ops.missing("DepthwiseConv2DOptions"))?;
        let x_index = ops.input(0)?;
        let channels_in = *self.tensor(x_index)?.shape.get(3).ok_or_else(|| ImportError::Unsupported("a depthwise input that is not 4-D".into()))?;
        let x = self.value(x_index)?;
        let x = self.nchw(x, 4);
        // [1, H, W, C·M] → ONNX's grouped weight [C·M, 1, H, W].
        let w = self.weight(ops.input(1)?, &[3, 0, 1, 2])?;
        let kernel = &self.tensor(ops.input(1)?)?.shape;
        let (kh, kw) = (kernel[1], kernel[2]);
        if channels_in <= 0 || kernel[3] % channels_in != 0 {
            return Err(ImportError::Unsupported(format!("{} output channels from {channels_in} inputs", kernel[3])));
        }
        let pads = self.pads(x_index, o.padding(), [kh, kw], [o.stride_h(), o.stride_w()], [o.dilation_h_factor(), o.dilation_w_factor()])?;
        let bias = self.bias(ops.optional(2))?;
        let window = Window { kernel: [kh, kw], strides: [o.stride_h(), o.stride_w()], dilations: [o.dilation_h_factor(), o.dilation_w_factor()], pads };
        let y = self.conv(&x.name, &w, bias.as_deref(), Some(channels_in), &window);
        self.define(output, y, o.fused_activation_function())
    }

    /// AVERAGE_POOL_2D and MAX_POOL_2D.
    pub(super) fn pool_2d(&mut self, code: BuiltinOperator, op: &tflite::Operator<'a>, ops: &Operands) -> Result<(), ImportError> {
        let output = ops.output;
        let o = op.builtin_options_as_pool_2_doptions().ok_or_else(|| ops.missing("Pool2DOptions"))?;
        let x = self.value(ops.input(0)?)?;
        let x = self.nchw(x, 4);
        let kernel = [o.filter_height() as i64, o.filter_width() as i64];
        let pads = self.pads(ops.input(0)?, o.padding(), kernel, [o.stride_h(), o.stride_w()], [1, 1])?;
        let kind = if code == BuiltinOperator::AVERAGE_POOL_2D { "AveragePool" } else { "MaxPool" };
        // TFLite's average leaves padding out of the count (ONNX's default).
        let y = self.g.node(kind, &[&x.name], vec![
            attr_ints("kernel_shape", &kernel),
            attr_ints("strides", &[o.stride_h() as i64, o.stride_w() as i64]),
            attr_ints("pads", &pads),
        ]);
        self.define(output, y, o.fused_activation_function())
    }

    /// FULLY_CONNECTED: the input flattened in TFLite's order, then `Gemm`.
    pub(super) fn fully_connected(&mut self, op: &tflite::Operator<'a>, ops: &Operands) -> Result<(), ImportError> {
        let (index, output) = (ops.index, ops.output);
        let o = op.builtin_options_as_fully_connected_options().ok_or_else(|| ops.missing("FullyConnectedOptions"))?;
        let weight = self.tensor(ops.input(1)?)?;
        let [units, depth] = weight.shape[..] else {
            return Err(ImportError::Unsupported(format!("fully-connected weight `{}` is {:?}", weight.name, weight.shape)));
        };
        let out_shape = self.tensor(output)?.shape.clone();
        if o.keep_num_dims() && out_shape.len() != 2 {
            return Err(ImportError::Unsupported("keep_num_dims over more than 2 dimensions".into()));
        }
        let x = self.value(ops.input(0)?)?;
        let x = self.as_is(x);
        let shape = self.g.initializer_i64(&format!("fc_shape_{index}"), &[2], &[-1, depth]);
        let flat = self.g.node("Reshape", &[&x, &shape], vec![]);
        let w = self.weight(ops.input(1)?, &[0, 1])?;
        let bias = match self.bias(ops.optional(2))? {
            Some(b) => b,
            None => self.g.initializer(&format!("fc_zero_bias_{index}"), &[units], &vec![0.0; units as usize]),
        };
        let y = self.g.node("Gemm", &[&flat, &w, &bias], vec![attr_int("transB", 1)]);
        self.define(output, y, o.fused_activation_function())
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
}
