//! ResNeXt-50 32×4d and ResNeXt-101 32×8d, as torchvision's `resnext*`.

use super::{Conv2dConfig, NetSpec, SpecBuilder, Value};

const EXPANSION: i64 = 4;

/// One torchvision `Bottleneck`'s arguments.
#[derive(Debug, Clone, Copy)]
struct BottleneckConfig {
    in_channels: i64,
    planes: i64,
    stride: i64,
    groups: i64,
    width_per_group: i64,
}

fn bottleneck(b: &mut SpecBuilder, prefix: &str, x: Value, config: BottleneckConfig) -> Value {
    let BottleneckConfig { in_channels: cin, planes, stride, groups, width_per_group } = config;
    let m = |name: &str| format!("{prefix}.{name}");
    let width = planes * width_per_group / 64 * groups;
    let cout = planes * EXPANSION;
    let out = b.conv_bn(&m("conv1"), &m("bn1"), x, Conv2dConfig::new(cin, width, 1), true);
    let out = b.conv_bn(&m("conv2"), &m("bn2"), out, Conv2dConfig::new(width, width, 3).stride(stride).padding(1).groups(groups), true);
    let out = b.conv_bn(&m("conv3"), &m("bn3"), out, Conv2dConfig::new(width, cout, 1), false);
    // Registered after bn3 in torchvision, so built after it here too.
    let identity = if stride != 1 || cin != cout {
        b.conv_bn(&m("downsample.0"), &m("downsample.1"), x, Conv2dConfig::new(cin, cout, 1).stride(stride), false)
    } else {
        x
    };
    let sum = b.add(out, identity);
    b.relu(sum)
}

fn resnext(arch: &str, layers: [usize; 4], groups: i64, width_per_group: i64, num_classes: i64) -> NetSpec {
    let (mut b, x) = SpecBuilder::new();
    let x = b.conv_bn("conv1", "bn1", x, Conv2dConfig::new(3, 64, 7).stride(2).padding(3), true);
    let mut x = b.max_pool(x, 3, 2, 1, false);
    let mut cin = 64;
    for (i, (&blocks, planes)) in layers.iter().zip([64, 128, 256, 512]).enumerate() {
        for block in 0..blocks {
            let stride = if i > 0 && block == 0 { 2 } else { 1 };
            let config = BottleneckConfig { in_channels: cin, planes, stride, groups, width_per_group };
            x = bottleneck(&mut b, &format!("layer{}.{block}", i + 1), x, config);
            cin = planes * EXPANSION;
        }
    }
    x = b.adaptive_avg_pool(x, 1);
    x = b.flatten(x);
    b.linear("fc", x, 512 * EXPANSION, num_classes);
    b.finish(arch, "fc", num_classes)
}

pub fn resnext50_32x4d(num_classes: i64) -> NetSpec {
    resnext("resnext50_32x4d", [3, 4, 6, 3], 32, 4, num_classes)
}

pub fn resnext101_32x8d(num_classes: i64) -> NetSpec {
    resnext("resnext101_32x8d", [3, 4, 23, 3], 32, 8, num_classes)
}
