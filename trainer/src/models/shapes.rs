//! Shape inference over a [`NetSpec`]: what each node outputs for an input
//! size, so export and validation can refuse a size before building anything.

use super::{NetSpec, Op, same_padding};

impl NetSpec {
    /// Output shape [C, H, W] (H = W = 1 after flattening) of every node for
    /// an `h`×`w` input, or an error naming the node that cannot take it.
    pub fn infer_shapes(&self, h: i64, w: i64) -> Result<Vec<[i64; 3]>, String> {
        let mut shapes: Vec<[i64; 3]> = Vec::with_capacity(self.nodes.len());
        let pooled = |size: i64, kernel: i64, stride: i64, padding: i64, ceil: bool| {
            let span = size + 2 * padding - kernel;
            let mut out = if ceil { (span + stride - 1) / stride + 1 } else { span / stride + 1 };
            // PyTorch: the last window must start inside the input or left padding.
            if ceil && (out - 1) * stride >= size + padding {
                out -= 1;
            }
            out
        };
        for (i, node) in self.nodes.iter().enumerate() {
            let input = |k: usize| shapes[node.inputs[k]];
            let shape = match &node.op {
                Op::Input => [3, h, w],
                Op::Conv2d { in_channels, out_channels, kernel, stride, padding, module, .. } => {
                    let [c, ih, iw] = input(0);
                    if c != *in_channels {
                        return Err(format!("{module} expects {in_channels} channels, gets {c}"));
                    }
                    [*out_channels, pooled(ih, *kernel, *stride, *padding, false), pooled(iw, *kernel, *stride, *padding, false)]
                }
                Op::MaxPool2d { kernel, stride, padding, ceil_mode } => {
                    let [c, ih, iw] = input(0);
                    [c, pooled(ih, *kernel, *stride, *padding, *ceil_mode), pooled(iw, *kernel, *stride, *padding, *ceil_mode)]
                }
                Op::AvgPool2d { kernel, stride } => {
                    let [c, ih, iw] = input(0);
                    [c, pooled(ih, *kernel, *stride, 0, false), pooled(iw, *kernel, *stride, 0, false)]
                }
                Op::AdaptiveAvgPool2d { size } => [input(0)[0], *size, *size],
                Op::Flatten => {
                    let [c, ih, iw] = input(0);
                    [c * ih * iw, 1, 1]
                }
                Op::Linear { in_features, out_features, module } => {
                    if input(0)[0] != *in_features {
                        return Err(format!("{module} expects {in_features} features, gets {}", input(0)[0]));
                    }
                    [*out_features, 1, 1]
                }
                Op::Concat => {
                    let [_, ih, iw] = input(0);
                    [node.inputs.iter().map(|&v| shapes[v][0]).sum(), ih, iw]
                }
                Op::ChannelSlice { start, end } => [end - start, input(0)[1], input(0)[2]],
                Op::SamePad { kernel, stride } => {
                    let [c, ih, iw] = input(0);
                    let padded = |size: i64| {
                        let (before, after) = same_padding(size, *kernel, *stride);
                        size + before + after
                    };
                    [c, padded(ih), padded(iw)]
                }
                Op::BatchNorm2d { .. }
                | Op::Relu
                | Op::Relu6
                | Op::Dropout { .. }
                | Op::DropConnect { .. }
                | Op::Add
                | Op::ChannelShuffle { .. } => input(0),
            };
            if shape.iter().any(|d| *d <= 0) {
                return Err(format!("node {i} ({:?}) has an empty output for a {h}×{w} input", node.op));
            }
            shapes.push(shape);
        }
        Ok(shapes)
    }
}
