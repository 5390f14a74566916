//! AlexNet, as torchvision's `alexnet` ("One weird trick" variant).

use super::{Conv2dConfig, NetSpec, SpecBuilder};

pub fn alexnet(num_classes: i64) -> NetSpec {
    let (mut b, x) = SpecBuilder::new();
    let mut x = x;
    // features: (module index, in, out, kernel, stride, padding, pool after)
    let convs = [(0, 3, 64, 11, 4, 2, true), (3, 64, 192, 5, 1, 2, true), (6, 192, 384, 3, 1, 1, false), (8, 384, 256, 3, 1, 1, false), (10, 256, 256, 3, 1, 1, true)];
    for (index, cin, cout, kernel, stride, padding, pool) in convs {
        x = b.conv(&format!("features.{index}"), x, Conv2dConfig::new(cin, cout, kernel).stride(stride).padding(padding));
        x = b.relu(x);
        if pool {
            x = b.max_pool(x, 3, 2, 0, false);
        }
    }
    x = b.adaptive_avg_pool(x, 6);
    x = b.flatten(x);
    x = b.dropout(x, 0.5);
    x = b.linear("classifier.1", x, 256 * 6 * 6, 4096);
    x = b.relu(x);
    x = b.dropout(x, 0.5);
    x = b.linear("classifier.4", x, 4096, 4096);
    x = b.relu(x);
    b.linear("classifier.6", x, 4096, num_classes);
    b.finish("alexnet", "classifier.6", num_classes)
}
