//! ShuffleNet V2 (x0.5, x1.0, x1.5, x2.0), as torchvision's `shufflenet_v2_*`.

use super::{Conv2dConfig, NetSpec, SpecBuilder, Value};

fn inverted_residual(b: &mut SpecBuilder, prefix: &str, x: Value, cin: i64, cout: i64, stride: i64) -> Value {
    let half = cout / 2;
    let m = |branch: &str, index: usize| format!("{prefix}.{branch}.{index}");
    let (left, branch2_input, branch2_in) = if stride > 1 {
        // branch1: depthwise 3×3 → BN → 1×1 → BN → ReLU, on the whole input.
        let l = b.conv_bn(&m("branch1", 0), &m("branch1", 1), x, Conv2dConfig::new(cin, cin, 3).stride(stride).padding(1).groups(cin), false);
        let l = b.conv_bn(&m("branch1", 2), &m("branch1", 3), l, Conv2dConfig::new(cin, half, 1), true);
        (l, x, cin)
    } else {
        let left = b.channel_slice(x, 0, half);
        let right = b.channel_slice(x, half, cin);
        (left, right, half)
    };
    let r = b.conv_bn(&m("branch2", 0), &m("branch2", 1), branch2_input, Conv2dConfig::new(branch2_in, half, 1), true);
    let r = b.conv_bn(&m("branch2", 3), &m("branch2", 4), r, Conv2dConfig::new(half, half, 3).stride(stride).padding(1).groups(half), false);
    let r = b.conv_bn(&m("branch2", 5), &m("branch2", 6), r, Conv2dConfig::new(half, half, 1), true);
    let out = b.concat(&[left, r]);
    b.channel_shuffle(out, 2)
}

fn shufflenet_v2(arch: &str, channels: [i64; 5], num_classes: i64) -> NetSpec {
    const REPEATS: [usize; 3] = [4, 8, 4];
    let (mut b, x) = SpecBuilder::new();
    let x = b.conv_bn("conv1.0", "conv1.1", x, Conv2dConfig::new(3, channels[0], 3).stride(2).padding(1), true);
    let mut x = b.max_pool(x, 3, 2, 1, false);
    let mut cin = channels[0];
    for (stage, (&repeats, &cout)) in REPEATS.iter().zip(&channels[1..4]).enumerate() {
        for i in 0..repeats {
            let prefix = format!("stage{}.{i}", stage + 2);
            x = inverted_residual(&mut b, &prefix, x, if i == 0 { cin } else { cout }, cout, if i == 0 { 2 } else { 1 });
        }
        cin = cout;
    }
    x = b.conv_bn("conv5.0", "conv5.1", x, Conv2dConfig::new(cin, channels[4], 1), true);
    x = b.adaptive_avg_pool(x, 1);
    x = b.flatten(x);
    b.linear("fc", x, channels[4], num_classes);
    b.finish(arch, "fc", num_classes)
}

pub fn shufflenet_v2_x0_5(num_classes: i64) -> NetSpec {
    shufflenet_v2("shufflenet_v2_x0_5", [24, 48, 96, 192, 1024], num_classes)
}

pub fn shufflenet_v2_x1_0(num_classes: i64) -> NetSpec {
    shufflenet_v2("shufflenet_v2_x1_0", [24, 116, 232, 464, 1024], num_classes)
}

pub fn shufflenet_v2_x1_5(num_classes: i64) -> NetSpec {
    shufflenet_v2("shufflenet_v2_x1_5", [24, 176, 352, 704, 1024], num_classes)
}

pub fn shufflenet_v2_x2_0(num_classes: i64) -> NetSpec {
    shufflenet_v2("shufflenet_v2_x2_0", [24, 244, 488, 976, 2048], num_classes)
}
