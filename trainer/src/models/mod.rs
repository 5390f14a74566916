//! Network descriptions. Each architecture is written once, as a
//! [`NetSpec`]: a list of layer nodes whose module names are exactly
//! torchvision's `state_dict` prefixes. The same spec drives the tch module
//! ([`Network`]) and the ONNX exporter, so the two cannot disagree.

mod alexnet;
mod builder;
mod densenet;
mod efficientnet_lite;
mod mobilenet_v2;
#[cfg(feature = "train")]
mod network;
mod resnext;
mod shapes;
mod shufflenet;
mod squeezenet;
mod zoo;

pub use alexnet::alexnet;
pub use builder::{Conv2dConfig, SpecBuilder};
pub use densenet::{densenet121, densenet161, densenet169, densenet201};
pub use efficientnet_lite::{efficientnet_lite0, efficientnet_lite1, efficientnet_lite2};
pub use mobilenet_v2::{mobilenet_v2, mobilenet_v2_tf, tf_contract as mobilenet_v2_tf_contract};
#[cfg(feature = "train")]
pub use network::{Network, channels_last};
pub use resnext::{resnext50_32x4d, resnext101_32x8d};
pub use shufflenet::{shufflenet_v2_x0_5, shufflenet_v2_x1_0, shufflenet_v2_x1_5, shufflenet_v2_x2_0};
pub use squeezenet::{squeezenet1_0, squeezenet1_1};
pub use zoo::{ARCHITECTURES, Architecture, architecture, architecture_names, native_input_size, preprocess_contract, spec_for};

/// Index of a value (a node's output) in a [`NetSpec`].
pub type Value = usize;

/// BatchNorm epsilon and momentum, as torchvision's defaults.
pub const BN_EPS: f64 = 1e-5;
pub const BN_MOMENTUM: f64 = 0.1;

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// The image batch, NCHW.
    Input,
    Conv2d { module: String, in_channels: i64, out_channels: i64, kernel: i64, stride: i64, padding: i64, groups: i64, bias: bool },
    /// `eps` and `momentum` as PyTorch's `BatchNorm2d` takes them.
    BatchNorm2d { module: String, channels: i64, eps: f64, momentum: f64 },
    Relu,
    /// `min(max(x, 0), 6)` (PyTorch `ReLU6`).
    Relu6,
    /// TensorFlow "SAME" zero padding for the convolution that follows it
    /// (`kernel`, `stride`): pads `max((⌈i/s⌉−1)·s + k − i, 0)` in total per
    /// axis, the odd pixel at the bottom/right, so the output is `⌈i/s⌉`.
    /// Computed from the input's size, it is asymmetric on even inputs at
    /// stride 2.
    SamePad { kernel: i64, stride: i64 },
    /// Drop-connect (stochastic depth) on a residual branch: in training each
    /// sample's branch is zeroed with probability `p` and otherwise scaled by
    /// 1/(1−p); the identity in evaluation and export.
    DropConnect { p: f64 },
    MaxPool2d { kernel: i64, stride: i64, padding: i64, ceil_mode: bool },
    /// No padding, no ceil mode (all the zoo needs).
    AvgPool2d { kernel: i64, stride: i64 },
    /// torchvision `AdaptiveAvgPool2d((size, size))`.
    AdaptiveAvgPool2d { size: i64 },
    /// `torch.flatten(x, 1)`.
    Flatten,
    Linear { module: String, in_features: i64, out_features: i64 },
    Dropout { p: f64 },
    /// Concatenation of the inputs along channels.
    Concat,
    /// Sum of two inputs.
    Add,
    /// ShuffleNet's reshape–transpose–reshape.
    ChannelShuffle { groups: i64 },
    /// Channels `start..end` of the input (`chunk` in torchvision).
    ChannelSlice { start: i64, end: i64 },
}

/// TensorFlow "SAME" padding of one axis of `size` pixels for a `kernel`
/// and `stride` (dilation 1), as (before, after); the larger half goes after.
pub fn same_padding(size: i64, kernel: i64, stride: i64) -> (i64, i64) {
    let out = (size + stride - 1) / stride;
    let total = ((out - 1) * stride + kernel - size).max(0);
    (total / 2, total - total / 2)
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub op: Op,
    pub inputs: Vec<Value>,
}

/// What a state-dict entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// Trained by the optimiser.
    Weight,
    /// BatchNorm running statistics (float, not trained).
    Buffer,
    /// BatchNorm `num_batches_tracked` (int64 scalar).
    Counter,
}

/// How a parameter starts when training from scratch (torchvision's choices).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InitRule {
    Zeros,
    Ones,
    /// Kaiming-uniform for ReLU networks (convolutions).
    Kaiming,
    /// N(0, 0.01²): SqueezeNet's final convolution.
    SmallNormal,
    /// U(±1/√fan_in): PyTorch's Linear default.
    FanInUniform { fan_in: i64 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// The torchvision state-dict key, e.g. `features.0.weight`.
    pub name: String,
    pub shape: Vec<i64>,
    pub kind: ParamKind,
    pub init: InitRule,
}

/// A whole network: nodes in execution order, the last one is the output.
#[derive(Debug, Clone, PartialEq)]
pub struct NetSpec {
    /// torchvision's constructor name, e.g. `shufflenet_v2_x1_0`.
    pub arch: String,
    pub nodes: Vec<Node>,
    /// Module prefix of the classification layer (`fc`, `classifier.6`…):
    /// the head that is replaced for new classes and trained when frozen.
    pub head: String,
    pub num_classes: i64,
}

impl NetSpec {
    pub fn output(&self) -> Value {
        self.nodes.len() - 1
    }

    /// Every state-dict entry in module registration order.
    pub fn parameters(&self) -> Vec<ParamSpec> {
        let mut params = Vec::new();
        let mut push = |name: String, shape: Vec<i64>, kind, init| params.push(ParamSpec { name, shape, kind, init });
        use {InitRule as I, ParamKind as K};
        for node in &self.nodes {
            match &node.op {
                Op::Conv2d { module, in_channels, out_channels, kernel, groups, bias, .. } => {
                    let init = if *module == self.head { I::SmallNormal } else { I::Kaiming };
                    push(format!("{module}.weight"), vec![*out_channels, in_channels / groups, *kernel, *kernel], K::Weight, init);
                    if *bias {
                        push(format!("{module}.bias"), vec![*out_channels], K::Weight, I::Zeros);
                    }
                }
                Op::BatchNorm2d { module, channels, .. } => {
                    push(format!("{module}.weight"), vec![*channels], K::Weight, I::Ones);
                    push(format!("{module}.bias"), vec![*channels], K::Weight, I::Zeros);
                    push(format!("{module}.running_mean"), vec![*channels], K::Buffer, I::Zeros);
                    push(format!("{module}.running_var"), vec![*channels], K::Buffer, I::Ones);
                    push(format!("{module}.num_batches_tracked"), vec![], K::Counter, I::Zeros);
                }
                Op::Linear { module, in_features, out_features } => {
                    let init = I::FanInUniform { fan_in: *in_features };
                    push(format!("{module}.weight"), vec![*out_features, *in_features], K::Weight, init);
                    push(format!("{module}.bias"), vec![*out_features], K::Weight, init);
                }
                _ => {}
            }
        }
        params
    }

    /// Whether `name` belongs to the classification head.
    pub fn is_head_param(&self, name: &str) -> bool {
        name.strip_prefix(&self.head).is_some_and(|rest| rest.starts_with('.'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_architecture_infers_shapes_at_224() {
        for arch in architecture_names() {
            let spec = spec_for(arch, 10).unwrap();
            let shapes = spec.infer_shapes(224, 224).unwrap_or_else(|e| panic!("{arch}: {e}"));
            assert_eq!(shapes[spec.output()], [10, 1, 1], "{arch}");
            assert!(spec.parameters().iter().any(|p| spec.is_head_param(&p.name)), "{arch} has a head");
        }
    }

    #[test]
    fn known_parameter_counts() {
        // torchvision's documented num_params.
        let count = |arch: &str| -> i64 {
            spec_for(arch, 1000).unwrap().parameters().iter().filter(|p| p.kind == ParamKind::Weight).map(|p| p.shape.iter().product::<i64>()).sum()
        };
        assert_eq!(count("alexnet"), 61_100_840);
        assert_eq!(count("squeezenet1_1"), 1_235_496);
        assert_eq!(count("shufflenet_v2_x1_0"), 2_278_604);
        assert_eq!(count("densenet121"), 7_978_856);
        assert_eq!(count("resnext50_32x4d"), 25_028_904);
        assert_eq!(count("mobilenet_v2"), 3_504_872);
        assert_eq!(count("mobilenet_v2_tf"), 3_504_872);
        // sum(p.numel() for p in model.parameters()) of efficientnet-lite-pytorch 0.1.0's models.
        assert_eq!(count("efficientnet_lite0"), 4_652_008);
        assert_eq!(count("efficientnet_lite1"), 5_416_680);
        assert_eq!(count("efficientnet_lite2"), 6_092_072);
    }

    #[test]
    fn head_matching_is_by_module() {
        let spec = alexnet(5);
        assert!(spec.is_head_param("classifier.6.weight"));
        assert!(!spec.is_head_param("classifier.60.weight"));
        assert!(!spec.is_head_param("classifier.4.weight"));
    }
}
