//! MobileNetV2 (Sandler et al. 2018), width 1.0, as torchvision 0.26 builds
//! it: module names are its `state_dict` keys (`features.N…`,
//! `classifier.1`), so torchvision's ImageNet weights load unchanged.
//!
//! Two paddings, one per source of weights:
//! - `mobilenet_v2`: torchvision's, symmetric (1 on each side of a 3×3);
//! - `mobilenet_v2_tf`: TensorFlow's "SAME" (0 before and 1 after a stride-2
//!   3×3 on an even input), which weights trained in TensorFlow need, such as
//!   the iNaturalist MobileNetV2s `taxa import` reads from TFLite; with
//!   TensorFlow's BatchNorm ε = 1e-3 and the contract those weights expect,
//!   `(pixel − 128) / 128` over the whole photo.

use taxa_core::PreprocessContract;
use taxa_core::preprocess::{Crop, Resize};

use super::{BN_EPS, BN_MOMENTUM, Conv2dConfig, NetSpec, SpecBuilder, Value};

const STEM: i64 = 32;
const HEAD: i64 = 1280;
const DROPOUT: f64 = 0.2;
/// TensorFlow's BatchNorm epsilon (slim's MobileNetV2).
const TF_BN_EPS: f64 = 1e-3;

/// torchvision's `inverted_residual_setting`: (expand ratio t, channels c, repeats n, first stride s).
const STAGES: [(i64, i64, i64, i64); 7] = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)];

/// How the network pads and normalises: torchvision's or TensorFlow's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Flavour {
    tf_same: bool,
}

impl Flavour {
    /// `Conv2dNormActivation`: conv (no bias) → BatchNorm → ReLU6 if `act`.
    /// Module names: `{prefix}.0` and `{prefix}.1`.
    fn conv_bn(self, b: &mut SpecBuilder, prefix: &str, x: Value, config: Conv2dConfig, act: bool) -> Value {
        let (conv, bn) = (format!("{prefix}.0"), format!("{prefix}.1"));
        self.conv_bn_named(b, &conv, &bn, x, config, act)
    }

    fn conv_bn_named(self, b: &mut SpecBuilder, conv: &str, bn: &str, x: Value, config: Conv2dConfig, act: bool) -> Value {
        let (kernel, stride) = (config.kernel, config.stride);
        let (x, padding) = match self.tf_same {
            true if kernel > 1 || stride > 1 => (b.same_pad(x, kernel, stride), 0),
            true => (x, 0),
            false => (x, (kernel - 1) / 2),
        };
        let x = b.conv(conv, x, config.padding(padding).no_bias());
        let eps = if self.tf_same { TF_BN_EPS } else { BN_EPS };
        let x = b.batch_norm_with(bn, x, config.out_channels, eps, BN_MOMENTUM);
        if act { b.relu6(x) } else { x }
    }
}

/// One `InvertedResidual`'s shape: channels in and out, the depthwise
/// convolution's stride, and the expansion ratio of its hidden width.
#[derive(Clone, Copy)]
struct InvertedResidualConfig {
    cin: i64,
    cout: i64,
    stride: i64,
    expand: i64,
}

/// torchvision's `InvertedResidual` at `features.{index}`.
fn inverted_residual(b: &mut SpecBuilder, flavour: Flavour, index: usize, x: Value, config: InvertedResidualConfig) -> Value {
    let InvertedResidualConfig { cin, cout, stride, expand } = config;
    let m = |name: String| format!("features.{index}.conv.{name}");
    let hidden = cin * expand;
    let mut h = x;
    let mut layer = 0;
    if expand != 1 {
        h = flavour.conv_bn(b, &m(layer.to_string()), h, Conv2dConfig::new(cin, hidden, 1), true);
        layer += 1;
    }
    h = flavour.conv_bn(b, &m(layer.to_string()), h, Conv2dConfig::new(hidden, hidden, 3).stride(stride).groups(hidden), true);
    // The linear projection: a bare conv and BatchNorm as siblings (`conv.N`, `conv.N+1`).
    h = flavour.conv_bn_named(b, &m((layer + 1).to_string()), &m((layer + 2).to_string()), h, Conv2dConfig::new(hidden, cout, 1), false);
    if stride == 1 && cin == cout { b.add(h, x) } else { h }
}

fn mobilenet_v2_spec(arch: &str, flavour: Flavour, num_classes: i64) -> NetSpec {
    let (mut b, x) = SpecBuilder::new();
    let mut x = flavour.conv_bn(&mut b, "features.0", x, Conv2dConfig::new(3, STEM, 3).stride(2), true);
    let mut cin = STEM;
    let mut index = 1;
    for &(expand, cout, repeats, stride) in &STAGES {
        for r in 0..repeats {
            let config = InvertedResidualConfig { cin, cout, stride: if r == 0 { stride } else { 1 }, expand };
            x = inverted_residual(&mut b, flavour, index, x, config);
            cin = cout;
            index += 1;
        }
    }
    x = flavour.conv_bn(&mut b, &format!("features.{index}"), x, Conv2dConfig::new(cin, HEAD, 1), true);
    x = b.adaptive_avg_pool(x, 1);
    x = b.flatten(x);
    x = b.dropout(x, DROPOUT);
    b.linear("classifier.1", x, HEAD, num_classes);
    b.finish(arch, "classifier.1", num_classes)
}

/// torchvision's `mobilenet_v2` (its ImageNet weights, the ImageNet recipe).
pub fn mobilenet_v2(num_classes: i64) -> NetSpec {
    mobilenet_v2_spec("mobilenet_v2", Flavour { tf_same: false }, num_classes)
}

/// The same network with TensorFlow's "SAME" padding and BatchNorm ε, for
/// weights trained in TensorFlow (the iNaturalist TFLite models).
pub fn mobilenet_v2_tf(num_classes: i64) -> NetSpec {
    mobilenet_v2_spec("mobilenet_v2_tf", Flavour { tf_same: true }, num_classes)
}

/// What TensorFlow-trained MobileNetV2s such as the iNaturalist models
/// expect at `size`: the whole photo resized to size × size (the TFLite
/// Task Library's), `(pixel − 128) / 128` (their uint8 input's quantisation).
pub fn tf_contract(size: u32) -> PreprocessContract {
    PreprocessContract {
        resize: Resize::Stretch { width: size, height: size },
        crop: Crop::None,
        mean: [128.0; 3],
        std: [128.0; 3],
        value_scale: 1.0,
        ..PreprocessContract::imagenet_sized(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_paddings_keep_torchvisions_keys_and_sizes() {
        let (a, b) = (mobilenet_v2(10), mobilenet_v2_tf(10));
        let names = |s: &NetSpec| s.parameters().into_iter().map(|p| (p.name, p.shape)).collect::<Vec<_>>();
        assert_eq!(names(&a), names(&b));
        assert!(names(&a).iter().any(|(n, _)| n == "features.1.conv.0.0.weight"));
        assert!(names(&a).iter().any(|(n, _)| n == "features.17.conv.3.running_var"));
        assert!(names(&a).iter().any(|(n, _)| n == "features.18.1.bias"));
        for spec in [a, b] {
            let shapes = spec.infer_shapes(224, 224).unwrap();
            assert_eq!(shapes[spec.output()], [10, 1, 1]);
        }
    }

    #[test]
    fn tf_contract_is_the_uint8_inputs_quantisation() {
        let c = tf_contract(224);
        c.validate().unwrap();
        // (255 − 128) / 128 and (0 − 128) / 128.
        assert!(((255.0 / c.value_scale - c.mean[0]) / c.std[0] - 127.0 / 128.0).abs() < 1e-7);
        assert_eq!((0.0 - c.mean[0]) / c.std[0], -1.0);
    }
}
