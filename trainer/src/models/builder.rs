//! [`SpecBuilder`]: how the architecture files write a [`NetSpec`].

use super::{BN_EPS, BN_MOMENTUM, NetSpec, Node, Op, Value};

/// A 2-D convolution's shape, with `torch.nn.Conv2d`'s argument names and
/// defaults: square `kernel` (pixels), stride 1, no padding, one group, a bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dConfig {
    pub in_channels: i64,
    pub out_channels: i64,
    pub kernel: i64,
    pub stride: i64,
    pub padding: i64,
    pub groups: i64,
    pub bias: bool,
}

impl Conv2dConfig {
    pub fn new(in_channels: i64, out_channels: i64, kernel: i64) -> Self {
        Conv2dConfig { in_channels, out_channels, kernel, stride: 1, padding: 0, groups: 1, bias: true }
    }

    pub fn stride(self, stride: i64) -> Self {
        Conv2dConfig { stride, ..self }
    }

    pub fn padding(self, padding: i64) -> Self {
        Conv2dConfig { padding, ..self }
    }

    pub fn groups(self, groups: i64) -> Self {
        Conv2dConfig { groups, ..self }
    }

    /// `bias=False`, as before a BatchNorm.
    pub fn no_bias(self) -> Self {
        Conv2dConfig { bias: false, ..self }
    }
}

/// Builds a [`NetSpec`] in execution order. Layer methods take the module
/// name as torchvision spells it.
#[derive(Debug, Default)]
pub struct SpecBuilder {
    nodes: Vec<Node>,
}

impl SpecBuilder {
    /// A builder holding the input node; returns it with the input value.
    pub fn new() -> (Self, Value) {
        (SpecBuilder { nodes: vec![Node { op: Op::Input, inputs: vec![] }] }, 0)
    }

    fn push(&mut self, op: Op, inputs: Vec<Value>) -> Value {
        self.nodes.push(Node { op, inputs });
        self.nodes.len() - 1
    }

    pub fn conv(&mut self, module: &str, x: Value, config: Conv2dConfig) -> Value {
        let Conv2dConfig { in_channels, out_channels, kernel, stride, padding, groups, bias } = config;
        let op = Op::Conv2d { module: module.into(), in_channels, out_channels, kernel, stride, padding, groups, bias };
        self.push(op, vec![x])
    }

    /// BatchNorm with torchvision's epsilon and momentum.
    pub fn batch_norm(&mut self, module: &str, x: Value, channels: i64) -> Value {
        self.batch_norm_with(module, x, channels, BN_EPS, BN_MOMENTUM)
    }

    pub fn batch_norm_with(&mut self, module: &str, x: Value, channels: i64, eps: f64, momentum: f64) -> Value {
        self.push(Op::BatchNorm2d { module: module.into(), channels, eps, momentum }, vec![x])
    }

    pub fn relu(&mut self, x: Value) -> Value {
        self.push(Op::Relu, vec![x])
    }

    pub fn relu6(&mut self, x: Value) -> Value {
        self.push(Op::Relu6, vec![x])
    }

    pub fn same_pad(&mut self, x: Value, kernel: i64, stride: i64) -> Value {
        self.push(Op::SamePad { kernel, stride }, vec![x])
    }

    pub fn drop_connect(&mut self, x: Value, p: f64) -> Value {
        self.push(Op::DropConnect { p }, vec![x])
    }

    pub fn max_pool(&mut self, x: Value, kernel: i64, stride: i64, padding: i64, ceil_mode: bool) -> Value {
        self.push(Op::MaxPool2d { kernel, stride, padding, ceil_mode }, vec![x])
    }

    pub fn avg_pool(&mut self, x: Value, kernel: i64, stride: i64) -> Value {
        self.push(Op::AvgPool2d { kernel, stride }, vec![x])
    }

    pub fn adaptive_avg_pool(&mut self, x: Value, size: i64) -> Value {
        self.push(Op::AdaptiveAvgPool2d { size }, vec![x])
    }

    pub fn flatten(&mut self, x: Value) -> Value {
        self.push(Op::Flatten, vec![x])
    }

    pub fn linear(&mut self, module: &str, x: Value, in_features: i64, out_features: i64) -> Value {
        self.push(Op::Linear { module: module.into(), in_features, out_features }, vec![x])
    }

    pub fn dropout(&mut self, x: Value, p: f64) -> Value {
        self.push(Op::Dropout { p }, vec![x])
    }

    pub fn concat(&mut self, xs: &[Value]) -> Value {
        self.push(Op::Concat, xs.to_vec())
    }

    pub fn add(&mut self, a: Value, b: Value) -> Value {
        self.push(Op::Add, vec![a, b])
    }

    pub fn channel_shuffle(&mut self, x: Value, groups: i64) -> Value {
        self.push(Op::ChannelShuffle { groups }, vec![x])
    }

    pub fn channel_slice(&mut self, x: Value, start: i64, end: i64) -> Value {
        self.push(Op::ChannelSlice { start, end }, vec![x])
    }

    /// conv (no bias) → batch norm (→ relu), the commonest unit.
    pub fn conv_bn(&mut self, conv: &str, bn: &str, x: Value, config: Conv2dConfig, relu: bool) -> Value {
        let x = self.conv(conv, x, config.no_bias());
        let x = self.batch_norm(bn, x, config.out_channels);
        if relu { self.relu(x) } else { x }
    }

    pub fn finish(self, arch: &str, head: &str, num_classes: i64) -> NetSpec {
        NetSpec { arch: arch.into(), nodes: self.nodes, head: head.into(), num_classes }
    }
}
