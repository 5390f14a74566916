//! ONNX export written in Rust: walks the same [`NetSpec`] the tch module
//! runs and emits the equivalent ONNX graph with the trained weights.

use std::collections::HashSet;

use tch::{Device, Kind, Tensor};
use taxa_core::PreprocessContract;
use taxa_core::preprocess::Layout;
use taxa_core::onnx_graph::{Dim, GraphBuilder, attr_float, attr_int, attr_ints};
use taxa_core::onnx_pb::ModelProto;

use crate::models::{Network, Op, same_padding};

mod bundle;
pub use bundle::{BundleError, NetworkBundle};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{arch} cannot be exported for a {height}×{width} input: {reason}")]
    InputSize { arch: String, height: i64, width: i64, reason: String },
    #[error("reading weights for export: {0}")]
    Weights(String),
    /// A model with NaN or infinite weights would score every photo NaN.
    #[error("{name} holds NaN or infinite values; a model with broken weights is not exported")]
    NonFinite { name: String },
}

/// Export choices that change the graph but not its results.
#[derive(Debug, Clone, Copy)]
pub struct ExportOptions {
    /// Fold each BatchNorm into the convolution before it: fewer nodes and
    /// less memory traffic on the device.
    pub fold_batch_norm: bool,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions { fold_batch_norm: true }
    }
}

/// Builds the ONNX graph of `net` for the contract's input size, with a
/// dynamic batch dimension. Input `image` in the contract's layout (NCHW, or
/// NHWC followed by a Transpose), output `logits`. The channel order needs
/// nothing here: the network was trained on the contract's order.
pub fn export_onnx(net: &Network, contract: &PreprocessContract, options: ExportOptions) -> Result<ModelProto, ExportError> {
    let spec = net.spec();
    let (w, h) = contract.input_size().map_err(|reason| ExportError::InputSize { arch: spec.arch.clone(), height: 0, width: 0, reason })?;
    let (h, w) = (h as i64, w as i64);
    let size_error = |reason: String| ExportError::InputSize { arch: spec.arch.clone(), height: h, width: w, reason };
    let shapes = spec.infer_shapes(h, w).map_err(size_error)?;
    if let Some(name) = net.first_non_finite() {
        return Err(ExportError::NonFinite { name: name.into() });
    }

    let mut consumers = vec![Vec::new(); spec.nodes.len()];
    for (i, node) in spec.nodes.iter().enumerate() {
        for &input in &node.inputs {
            consumers[input].push(i);
        }
    }

    let mut g = GraphBuilder::new(&spec.arch);
    let mut constants = HashSet::new();
    let mut names: Vec<String> = Vec::with_capacity(spec.nodes.len());
    let mut folded = vec![false; spec.nodes.len()];
    // SAME padding folded into the convolution it feeds: ONNX pads [top, left, bottom, right].
    let mut same_pads: Vec<Option<[i64; 4]>> = vec![None; spec.nodes.len()];
    let mut relu6_bounds = false;
    let last = spec.output();
    for (i, node) in spec.nodes.iter().enumerate() {
        let input = |k: usize| names[node.inputs[k]].clone();
        let name = match &node.op {
            Op::Input => match contract.layout {
                Layout::Nchw => g.input("image", &[Dim::from("batch"), 3.into(), h.into(), w.into()]),
                // The network runs NCHW; an NHWC contract's input is transposed first.
                Layout::Nhwc => {
                    let image = g.input("image", &[Dim::from("batch"), h.into(), w.into(), 3.into()]);
                    g.node("Transpose", &[&image], vec![attr_ints("perm", &[0, 3, 1, 2])])
                }
            },
            Op::Conv2d { module, kernel, stride, padding, groups, bias, .. } => {
                // A folded SamePad's name is its input's, so only the pads change.
                let pads = same_pads[node.inputs[0]].unwrap_or([*padding; 4]);
                let weight = net.param(&format!("{module}.weight")).expect("spec param");
                let bias = bias.then(|| net.param(&format!("{module}.bias")).expect("spec param").shallow_clone());
                let bn = match consumers[i].as_slice() {
                    [next] if options.fold_batch_norm => match &spec.nodes[*next].op {
                        Op::BatchNorm2d { module, eps, .. } => Some((*next, module.clone(), *eps)),
                        _ => None,
                    },
                    _ => None,
                };
                let (weight, bias) = match &bn {
                    Some((next, bn_module, eps)) => {
                        folded[*next] = true;
                        fold_batch_norm(net, weight, bias.as_ref(), bn_module, *eps)
                    }
                    None => (weight.shallow_clone(), bias),
                };
                let w_name = g.initializer(&format!("{module}.weight"), &weight.size(), &values(&weight)?);
                let mut inputs = vec![input(0), w_name];
                if let Some(b) = &bias {
                    inputs.push(g.initializer(&format!("{module}.bias"), &b.size(), &values(b)?));
                }
                let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
                g.node(
                    "Conv",
                    &refs,
                    vec![
                        attr_ints("kernel_shape", &[*kernel, *kernel]),
                        attr_ints("strides", &[*stride, *stride]),
                        attr_ints("pads", &pads),
                        attr_int("group", *groups),
                    ],
                )
            }
            Op::BatchNorm2d { .. } if folded[i] => input(0),
            Op::BatchNorm2d { module, eps, .. } => {
                let mut inputs = vec![input(0)];
                for leaf in ["weight", "bias", "running_mean", "running_var"] {
                    let t = net.param(&format!("{module}.{leaf}")).expect("spec param");
                    inputs.push(g.initializer(&format!("{module}.{leaf}"), &t.size(), &values(t)?));
                }
                let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
                g.node("BatchNormalization", &refs, vec![attr_float("epsilon", *eps as f32)])
            }
            Op::Relu => g.node("Relu", &[&input(0)], vec![]),
            Op::Relu6 => {
                if !relu6_bounds {
                    g.initializer("relu6_min", &[], &[0.0]);
                    g.initializer("relu6_max", &[], &[6.0]);
                    relu6_bounds = true;
                }
                g.node("Clip", &[&input(0), "relu6_min", "relu6_max"], vec![])
            }
            Op::SamePad { kernel, stride } => {
                let [_, ih, iw] = shapes[node.inputs[0]];
                let (top, bottom) = same_padding(ih, *kernel, *stride);
                let (left, right) = same_padding(iw, *kernel, *stride);
                let feeds_unpadded_conv = consumers[i].iter().all(|&c| matches!(spec.nodes[c].op, Op::Conv2d { padding: 0, .. }));
                if top + bottom + left + right == 0 {
                    input(0)
                } else if feeds_unpadded_conv {
                    // The convolution takes these as its own (asymmetric) pads.
                    same_pads[i] = Some([top, left, bottom, right]);
                    input(0)
                } else {
                    let pads = constant(&mut g, &mut constants, &[0, 0, top, left, 0, 0, bottom, right]);
                    g.node("Pad", &[&input(0), &pads], vec![])
                }
            }
            Op::DropConnect { .. } => input(0),
            Op::MaxPool2d { kernel, stride, padding, ceil_mode } => g.node(
                "MaxPool",
                &[&input(0)],
                vec![
                    attr_ints("kernel_shape", &[*kernel, *kernel]),
                    attr_ints("strides", &[*stride, *stride]),
                    attr_ints("pads", &[*padding; 4]),
                    attr_int("ceil_mode", *ceil_mode as i64),
                ],
            ),
            Op::AvgPool2d { kernel, stride } => g.node(
                "AveragePool",
                &[&input(0)],
                vec![attr_ints("kernel_shape", &[*kernel, *kernel]), attr_ints("strides", &[*stride, *stride])],
            ),
            Op::AdaptiveAvgPool2d { size: 1 } => g.node("GlobalAveragePool", &[&input(0)], vec![]),
            Op::AdaptiveAvgPool2d { size } => {
                let [_, ih, iw] = shapes[node.inputs[0]];
                if ih == *size && iw == *size {
                    input(0)
                } else if ih == 1 && iw == 1 {
                    // A 1×1 map averaged onto a larger grid is the value repeated:
                    // concatenated copies (tract's Gemm folding trips over Expand and Tile).
                    let x = input(0);
                    let copies = vec![x.as_str(); *size as usize];
                    let column = g.node("Concat", &copies, vec![attr_int("axis", 2)]);
                    let columns = vec![column.as_str(); *size as usize];
                    g.node("Concat", &columns, vec![attr_int("axis", 3)])
                } else if ih % size == 0 && iw % size == 0 {
                    let (kh, kw) = (ih / size, iw / size);
                    g.node("AveragePool", &[&input(0)], vec![attr_ints("kernel_shape", &[kh, kw]), attr_ints("strides", &[kh, kw])])
                } else {
                    return Err(size_error(format!("adaptive pooling {ih}×{iw} to {size}×{size} has no fixed-window equivalent")));
                }
            }
            Op::Flatten => g.node("Flatten", &[&input(0)], vec![attr_int("axis", 1)]),
            Op::Linear { module, .. } => {
                let weight = net.param(&format!("{module}.weight")).expect("spec param");
                let bias = net.param(&format!("{module}.bias")).expect("spec param");
                let w_name = g.initializer(&format!("{module}.weight"), &weight.size(), &values(weight)?);
                let b_name = g.initializer(&format!("{module}.bias"), &bias.size(), &values(bias)?);
                g.node("Gemm", &[&input(0), &w_name, &b_name], vec![attr_int("transB", 1)])
            }
            Op::Dropout { .. } => input(0),
            Op::Concat => {
                let inputs: Vec<String> = node.inputs.iter().map(|&v| names[v].clone()).collect();
                let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
                g.node("Concat", &refs, vec![attr_int("axis", 1)])
            }
            Op::Add => g.node("Add", &[&input(0), &input(1)], vec![]),
            Op::ChannelShuffle { groups } => {
                let [c, sh, sw] = shapes[i];
                // 0 copies the (dynamic) batch dimension.
                let split = constant(&mut g, &mut constants, &[0, *groups, c / groups, sh, sw]);
                let merged = constant(&mut g, &mut constants, &[0, c, sh, sw]);
                let x = g.node("Reshape", &[&input(0), &split], vec![]);
                let x = g.node("Transpose", &[&x], vec![attr_ints("perm", &[0, 2, 1, 3, 4])]);
                g.node("Reshape", &[&x, &merged], vec![])
            }
            Op::ChannelSlice { start, end } => {
                let starts = constant(&mut g, &mut constants, &[*start]);
                let ends = constant(&mut g, &mut constants, &[*end]);
                let axes = constant(&mut g, &mut constants, &[1]);
                g.node("Slice", &[&input(0), &starts, &ends, &axes], vec![])
            }
        };
        names.push(name);
    }
    // Name the output `logits` with an Identity, whatever produced it.
    g.node_named("Identity", &[&names[last]], "logits", vec![]);
    g.output("logits", &[Dim::from("batch"), spec.num_classes.into()]);
    Ok(g.build())
}

/// An int64 vector initializer, shared between nodes that need the same one.
fn constant(g: &mut GraphBuilder, seen: &mut HashSet<String>, values: &[i64]) -> String {
    let name = format!("const_{}", values.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("_"));
    if seen.insert(name.clone()) {
        g.initializer_i64(&name, &[values.len() as i64], values);
    }
    name
}

/// w' = w·γ/√(σ²+ε), b' = (b − μ)·γ/√(σ²+ε) + β, computed in float64.
fn fold_batch_norm(net: &Network, weight: &Tensor, bias: Option<&Tensor>, bn: &str, eps: f64) -> (Tensor, Option<Tensor>) {
    let p = |leaf: &str| net.param(&format!("{bn}.{leaf}")).expect("spec param").to_kind(Kind::Double);
    let scale = p("weight") / (p("running_var") + eps).sqrt();
    let w = weight.to_kind(Kind::Double) * scale.view([-1, 1, 1, 1]);
    let b = bias.map(|b| b.to_kind(Kind::Double)).unwrap_or_else(|| scale.zeros_like());
    let b = (b - p("running_mean")) * &scale + p("bias");
    (w.to_kind(Kind::Float), Some(b.to_kind(Kind::Float)))
}

fn values(t: &Tensor) -> Result<Vec<f32>, ExportError> {
    let flat = t.detach().to_device(Device::Cpu).to_kind(Kind::Float).contiguous().flatten(0, -1);
    Vec::<f32>::try_from(&flat).map_err(|e| ExportError::Weights(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_weights_are_not_exported() {
        let vs = tch::nn::VarStore::new(Device::Cpu);
        let net = Network::new(&vs.root(), crate::models::spec_for("shufflenet_v2_x0_5", 3).expect("known"));
        let contract = PreprocessContract::imagenet_sized(32);
        assert_eq!(net.first_non_finite(), None);
        assert!(export_onnx(&net, &contract, ExportOptions::default()).is_ok());
        let name = "stage2.0.branch1.1.running_var";
        let t = net.param(name).expect("a BatchNorm buffer").shallow_clone();
        tch::no_grad(|| {
            let _ = t.get(0).fill_(f64::NAN);
        });
        assert_eq!(net.first_non_finite(), Some(name));
        let err = export_onnx(&net, &contract, ExportOptions::default()).unwrap_err();
        assert!(matches!(&err, ExportError::NonFinite { name: n } if n == name), "{err}");
    }
}
