//! Writes small TFLite models with tract-tflite's generated schema, to drive
//! `taxa import` over operators, types and failures the shared models do
//! not have.

use flatbuffers::{FlatBufferBuilder, UnionWIPOffset, WIPOffset};
use tract_tflite::tflite::{self, ActivationFunctionType, BuiltinOperator, BuiltinOptions, Padding, TensorType};

/// A quantisation: scales, zero points, axis.
pub type Quant = (Vec<f32>, Vec<i64>, i32);

pub struct TfliteBuilder {
    fbb: FlatBufferBuilder<'static>,
    tensors: Vec<WIPOffset<tflite::Tensor<'static>>>,
    buffers: Vec<WIPOffset<tflite::Buffer<'static>>>,
    operators: Vec<WIPOffset<tflite::Operator<'static>>>,
    codes: Vec<BuiltinOperator>,
}

/// An operator's options table, as its union type and offset.
pub type Options = (BuiltinOptions, Option<WIPOffset<UnionWIPOffset>>);

impl Default for TfliteBuilder {
    fn default() -> Self {
        let mut fbb = FlatBufferBuilder::new();
        // Buffer 0 is the empty sentinel, by TFLite's convention.
        let sentinel = tflite::Buffer::create(&mut fbb, &tflite::BufferArgs { data: None });
        TfliteBuilder { fbb, tensors: vec![], buffers: vec![sentinel], operators: vec![], codes: vec![] }
    }
}

impl TfliteBuilder {
    /// Adds a tensor; `data` makes it a constant.
    pub fn tensor(&mut self, name: &str, shape: &[i32], kind: TensorType, data: Option<Vec<u8>>, quant: Option<Quant>) -> i32 {
        let buffer = match data {
            Some(bytes) => {
                let data = self.fbb.create_vector(&bytes);
                self.buffers.push(tflite::Buffer::create(&mut self.fbb, &tflite::BufferArgs { data: Some(data) }));
                self.buffers.len() as u32 - 1
            }
            None => 0,
        };
        let quantization = quant.map(|(scale, zero, axis)| {
            let scale = self.fbb.create_vector(&scale);
            let zero_point = self.fbb.create_vector(&zero);
            tflite::QuantizationParameters::create(
                &mut self.fbb,
                &tflite::QuantizationParametersArgs { scale: Some(scale), zero_point: Some(zero_point), quantized_dimension: axis, ..Default::default() },
            )
        });
        let shape = self.fbb.create_vector(shape);
        let name = self.fbb.create_string(name);
        self.tensors.push(tflite::Tensor::create(
            &mut self.fbb,
            &tflite::TensorArgs { shape: Some(shape), type_: kind, buffer, name: Some(name), quantization, ..Default::default() },
        ));
        self.tensors.len() as i32 - 1
    }

    /// A float32 constant.
    pub fn floats(&mut self, name: &str, shape: &[i32], values: &[f32]) -> i32 {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.tensor(name, shape, TensorType::FLOAT32, Some(bytes), None)
    }

    /// An int32 constant (shapes, axes, paddings; quantised biases with `quant`).
    pub fn ints(&mut self, name: &str, shape: &[i32], values: &[i32], quant: Option<Quant>) -> i32 {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.tensor(name, shape, TensorType::INT32, Some(bytes), quant)
    }

    pub fn op(&mut self, code: BuiltinOperator, inputs: &[i32], outputs: &[i32], options: Options) {
        let index = match self.codes.iter().position(|c| *c == code) {
            Some(i) => i,
            None => {
                self.codes.push(code);
                self.codes.len() - 1
            }
        };
        let inputs = self.fbb.create_vector(inputs);
        let outputs = self.fbb.create_vector(outputs);
        self.operators.push(tflite::Operator::create(
            &mut self.fbb,
            &tflite::OperatorArgs {
                opcode_index: index as u32,
                inputs: Some(inputs),
                outputs: Some(outputs),
                builtin_options_type: options.0,
                builtin_options: options.1,
                ..Default::default()
            },
        ));
    }

    pub fn conv_options(&mut self, padding: Padding, stride: i32, activation: ActivationFunctionType) -> Options {
        let o = tflite::Conv2DOptions::create(
            &mut self.fbb,
            &tflite::Conv2DOptionsArgs { padding, stride_w: stride, stride_h: stride, fused_activation_function: activation, dilation_w_factor: 1, dilation_h_factor: 1 },
        );
        (BuiltinOptions::Conv2DOptions, Some(o.as_union_value()))
    }

    pub fn depthwise_options(&mut self, padding: Padding, stride: i32, multiplier: i32, activation: ActivationFunctionType) -> Options {
        let o = tflite::DepthwiseConv2DOptions::create(
            &mut self.fbb,
            &tflite::DepthwiseConv2DOptionsArgs {
                padding,
                stride_w: stride,
                stride_h: stride,
                depth_multiplier: multiplier,
                fused_activation_function: activation,
                dilation_w_factor: 1,
                dilation_h_factor: 1,
            },
        );
        (BuiltinOptions::DepthwiseConv2DOptions, Some(o.as_union_value()))
    }

    pub fn pool_options(&mut self, padding: Padding, size: i32, stride: i32) -> Options {
        let o = tflite::Pool2DOptions::create(
            &mut self.fbb,
            &tflite::Pool2DOptionsArgs { padding, stride_w: stride, stride_h: stride, filter_width: size, filter_height: size, fused_activation_function: ActivationFunctionType::NONE },
        );
        (BuiltinOptions::Pool2DOptions, Some(o.as_union_value()))
    }

    pub fn add_options(&mut self, activation: ActivationFunctionType) -> Options {
        let o = tflite::AddOptions::create(&mut self.fbb, &tflite::AddOptionsArgs { fused_activation_function: activation, ..Default::default() });
        (BuiltinOptions::AddOptions, Some(o.as_union_value()))
    }

    pub fn mul_options(&mut self) -> Options {
        let o = tflite::MulOptions::create(&mut self.fbb, &tflite::MulOptionsArgs { fused_activation_function: ActivationFunctionType::NONE });
        (BuiltinOptions::MulOptions, Some(o.as_union_value()))
    }

    pub fn concat_options(&mut self, axis: i32) -> Options {
        let o = tflite::ConcatenationOptions::create(
            &mut self.fbb,
            &tflite::ConcatenationOptionsArgs { axis, fused_activation_function: ActivationFunctionType::NONE },
        );
        (BuiltinOptions::ConcatenationOptions, Some(o.as_union_value()))
    }

    pub fn reshape_options(&mut self, shape: &[i32]) -> Options {
        let new_shape = self.fbb.create_vector(shape);
        let o = tflite::ReshapeOptions::create(&mut self.fbb, &tflite::ReshapeOptionsArgs { new_shape: Some(new_shape) });
        (BuiltinOptions::ReshapeOptions, Some(o.as_union_value()))
    }

    pub fn reducer_options(&mut self, keep_dims: bool) -> Options {
        let o = tflite::ReducerOptions::create(&mut self.fbb, &tflite::ReducerOptionsArgs { keep_dims });
        (BuiltinOptions::ReducerOptions, Some(o.as_union_value()))
    }

    pub fn fully_connected_options(&mut self, activation: ActivationFunctionType) -> Options {
        let o = tflite::FullyConnectedOptions::create(
            &mut self.fbb,
            &tflite::FullyConnectedOptionsArgs { fused_activation_function: activation, ..Default::default() },
        );
        (BuiltinOptions::FullyConnectedOptions, Some(o.as_union_value()))
    }

    pub fn softmax_options(&mut self) -> Options {
        let o = tflite::SoftmaxOptions::create(&mut self.fbb, &tflite::SoftmaxOptionsArgs { beta: 1.0 });
        (BuiltinOptions::SoftmaxOptions, Some(o.as_union_value()))
    }

    /// The model's bytes.
    pub fn finish(mut self, inputs: &[i32], outputs: &[i32]) -> Vec<u8> {
        let tensors = self.fbb.create_vector(&self.tensors);
        let operators = self.fbb.create_vector(&self.operators);
        let inputs = self.fbb.create_vector(inputs);
        let outputs = self.fbb.create_vector(outputs);
        let subgraph = tflite::SubGraph::create(
            &mut self.fbb,
            &tflite::SubGraphArgs { tensors: Some(tensors), inputs: Some(inputs), outputs: Some(outputs), operators: Some(operators), name: None },
        );
        let codes: Vec<_> = self
            .codes
            .iter()
            .map(|code| {
                tflite::OperatorCode::create(
                    &mut self.fbb,
                    &tflite::OperatorCodeArgs { deprecated_builtin_code: code.0.min(127) as i8, custom_code: None, version: 1, builtin_code: *code },
                )
            })
            .collect();
        let codes = self.fbb.create_vector(&codes);
        let subgraphs = self.fbb.create_vector(&[subgraph]);
        let buffers = self.fbb.create_vector(&self.buffers);
        let model = tflite::Model::create(
            &mut self.fbb,
            &tflite::ModelArgs { version: 3, operator_codes: Some(codes), subgraphs: Some(subgraphs), buffers: Some(buffers), ..Default::default() },
        );
        tflite::finish_model_buffer(&mut self.fbb, model);
        self.fbb.finished_data().to_vec()
    }
}

/// Deterministic values in [-1, 1).
pub fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}
