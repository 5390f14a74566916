//! DenseNet-BC 121/161/169/201, as torchvision's `densenet*`. The final pool
//! is global (adaptive), unlike `tch::vision`'s fixed 7×7, so other input
//! sizes work.

use super::{Conv2dConfig, NetSpec, SpecBuilder, Value};

const BN_SIZE: i64 = 4;

fn dense_layer(b: &mut SpecBuilder, prefix: &str, inputs: &[Value], cin: i64, growth: i64) -> Value {
    let m = |name: &str| format!("{prefix}.{name}");
    let x = if inputs.len() == 1 { inputs[0] } else { b.concat(inputs) };
    let x = b.batch_norm(&m("norm1"), x, cin);
    let x = b.relu(x);
    let x = b.conv(&m("conv1"), x, Conv2dConfig::new(cin, BN_SIZE * growth, 1).no_bias());
    let x = b.batch_norm(&m("norm2"), x, BN_SIZE * growth);
    let x = b.relu(x);
    b.conv(&m("conv2"), x, Conv2dConfig::new(BN_SIZE * growth, growth, 3).padding(1).no_bias())
}

fn densenet(arch: &str, growth: i64, blocks: [i64; 4], init_features: i64, num_classes: i64) -> NetSpec {
    let (mut b, x) = SpecBuilder::new();
    let x = b.conv("features.conv0", x, Conv2dConfig::new(3, init_features, 7).stride(2).padding(3).no_bias());
    let x = b.batch_norm("features.norm0", x, init_features);
    let x = b.relu(x);
    let mut x = b.max_pool(x, 3, 2, 1, false);
    let mut channels = init_features;
    for (i, &layers) in blocks.iter().enumerate() {
        let mut features = vec![x];
        for l in 0..layers {
            let prefix = format!("features.denseblock{}.denselayer{}", i + 1, l + 1);
            let new = dense_layer(&mut b, &prefix, &features, channels + l * growth, growth);
            features.push(new);
        }
        x = b.concat(&features);
        channels += layers * growth;
        if i + 1 < blocks.len() {
            let t = |name: &str| format!("features.transition{}.{name}", i + 1);
            x = b.batch_norm(&t("norm"), x, channels);
            x = b.relu(x);
            x = b.conv(&t("conv"), x, Conv2dConfig::new(channels, channels / 2, 1).no_bias());
            x = b.avg_pool(x, 2, 2);
            channels /= 2;
        }
    }
    x = b.batch_norm("features.norm5", x, channels);
    x = b.relu(x);
    x = b.adaptive_avg_pool(x, 1);
    x = b.flatten(x);
    b.linear("classifier", x, channels, num_classes);
    b.finish(arch, "classifier", num_classes)
}

pub fn densenet121(num_classes: i64) -> NetSpec {
    densenet("densenet121", 32, [6, 12, 24, 16], 64, num_classes)
}

pub fn densenet161(num_classes: i64) -> NetSpec {
    densenet("densenet161", 48, [6, 12, 36, 24], 96, num_classes)
}

pub fn densenet169(num_classes: i64) -> NetSpec {
    densenet("densenet169", 32, [6, 12, 32, 32], 64, num_classes)
}

pub fn densenet201(num_classes: i64) -> NetSpec {
    densenet("densenet201", 32, [6, 12, 48, 32], 64, num_classes)
}
