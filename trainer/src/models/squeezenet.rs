//! SqueezeNet 1.0 and 1.1, as torchvision's `squeezenet1_0` / `squeezenet1_1`.

use super::{Conv2dConfig, NetSpec, SpecBuilder, Value};

fn fire(b: &mut SpecBuilder, index: usize, x: Value, cin: i64, squeeze: i64, expand: i64) -> Value {
    let m = |name: &str| format!("features.{index}.{name}");
    let s = b.conv(&m("squeeze"), x, Conv2dConfig::new(cin, squeeze, 1));
    let s = b.relu(s);
    let e1 = b.conv(&m("expand1x1"), s, Conv2dConfig::new(squeeze, expand, 1));
    let e1 = b.relu(e1);
    let e3 = b.conv(&m("expand3x3"), s, Conv2dConfig::new(squeeze, expand, 3).padding(1));
    let e3 = b.relu(e3);
    b.concat(&[e1, e3])
}

/// `layout`: the features after the stem, `None` for a ceil-mode max pool,
/// else a Fire module's (in, squeeze, expand).
fn squeezenet(arch: &str, stem: (i64, i64), layout: &[Option<(i64, i64, i64)>], num_classes: i64) -> NetSpec {
    let (mut b, x) = SpecBuilder::new();
    let (stem_channels, stem_kernel) = stem;
    let mut x = b.conv("features.0", x, Conv2dConfig::new(3, stem_channels, stem_kernel).stride(2));
    x = b.relu(x);
    x = b.max_pool(x, 3, 2, 0, true);
    for (offset, layer) in layout.iter().enumerate() {
        let index = offset + 3;
        x = match layer {
            None => b.max_pool(x, 3, 2, 0, true),
            Some((cin, squeeze, expand)) => fire(&mut b, index, x, *cin, *squeeze, *expand),
        };
    }
    x = b.dropout(x, 0.5);
    x = b.conv("classifier.1", x, Conv2dConfig::new(512, num_classes, 1));
    x = b.relu(x);
    x = b.adaptive_avg_pool(x, 1);
    b.flatten(x);
    b.finish(arch, "classifier.1", num_classes)
}

pub fn squeezenet1_0(num_classes: i64) -> NetSpec {
    let layout = [
        Some((96, 16, 64)),
        Some((128, 16, 64)),
        Some((128, 32, 128)),
        None,
        Some((256, 32, 128)),
        Some((256, 48, 192)),
        Some((384, 48, 192)),
        Some((384, 64, 256)),
        None,
        Some((512, 64, 256)),
    ];
    squeezenet("squeezenet1_0", (96, 7), &layout, num_classes)
}

pub fn squeezenet1_1(num_classes: i64) -> NetSpec {
    let layout = [
        Some((64, 16, 64)),
        Some((128, 16, 64)),
        None,
        Some((128, 32, 128)),
        Some((256, 32, 128)),
        None,
        Some((256, 48, 192)),
        Some((384, 48, 192)),
        Some((384, 64, 256)),
        Some((512, 64, 256)),
    ];
    squeezenet("squeezenet1_1", (64, 3), &layout, num_classes)
}
