//! Rewrites of slow patterns, applied when core loads a model. The bundle
//! file stays standard ONNX (any tool runs it, comparisons stay fair); only
//! the graph tract plans changes, into one that computes the same values.
//!
//! - **Separable max pool**: a 3×3 / stride 2 `MaxPool` becomes a [3, 1] /
//!   [2, 1] pool then a [1, 3] / [1, 2] pool. A maximum over a rectangle is
//!   the maximum over its columns of the maximum over its rows, and padding and
//!   `ceil_mode` act on each axis on its own, so the result is exact. tract
//!   0.23.9 runs the 3×3 window as one 9-tap loop per output.
//! - **Strided-slice stem**: an unpadded 3-channel 3×3 / stride 2 `Conv` on
//!   the model input (SqueezeNet's) becomes nine strided `Slice`s, a `Concat`
//!   (27 channels) and a 1×1 `Conv`, whose weights are the 3×3 kernel's
//!   re-laid. tract packs the 3×3 patches one at a time; the 1×1 form is one
//!   matrix product. A barrier op sits between `Concat` and `Conv` so tract's
//!   optimiser cannot split the product back over the concatenation.
//!
//! - **Folded dequantisation**: `DequantizeLinear` of a constant (8-bit
//!   weights in a QDQ model, `taxa import`'s) becomes the float32 constant,
//!   computed as ONNX defines it, `(q − zero_point) × scale`. tract 0.23.9
//!   dequantises, and packs, such weights again on every run.
//! - **Arithmetic fake quantisation**: `QuantizeLinear` straight into a
//!   `DequantizeLinear` with the same per-tensor scale and zero point (a QDQ
//!   model's activations) becomes `x × (1/s)`, `+ 1.5·2²³`, `max`, `min`,
//!   `− 1.5·2²³`, `× s`: adding 1.5·2²³ rounds to an integer, ties to even,
//!   as `QuantizeLinear` does (tract too multiplies by 1/s rather than
//!   divide by s), and the clamp is the 8-bit range less the zero point. These are scalar operations
//!   tract fuses into the matrix product before them, where its own
//!   `QuantizeLinearU8` is a separate pass that took half of a quantised
//!   MobileNetV2's time.
//!
//! Each rewrite is measured per architecture (BENCHMARKS.md, "Graph rewrites
//! at load") and applied only where it won. `TAXA_REWRITES=off` (or a comma
//! list of `maxpool`, `stem`, `concat`, `dequantize`, `fakequant`) chooses
//! others, to measure them.

use std::borrow::Cow;

use tract_onnx::pb::{AttributeProto, ModelProto, NodeProto, TensorProto, attribute_proto::AttributeType, tensor_proto::DataType};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;

use crate::kernels::ops::Family;

/// The rewrites this module knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rewrite {
    /// 3×3 / 2 `MaxPool` → [3, 1] then [1, 3] pools.
    SeparableMaxPool,
    /// Unpadded 3 → C, 3×3 / 2 `Conv` on the input → 9 slices + concat + 1×1 `Conv`.
    SlicedStem,
    /// A barrier after a channel `Concat` read only by 1×1 `Conv`s (SqueezeNet's
    /// fire modules), so tract keeps one matrix product over all its channels
    /// instead of one per concatenated input.
    ConcatBarrier,
    /// `DequantizeLinear` of constants → float32 constants.
    FoldDequantize,
    /// `QuantizeLinear` → `DequantizeLinear` → scalar arithmetic.
    ArithmeticFakeQuant,
    /// One of taxa's kernel families ([`crate::kernels`]), put in tract's
    /// typed model in place of its `Conv` or `MaxPool`.
    Kernel(Family),
}

/// What was rewritten: the rewrite and the ONNX node it replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub rewrite: Rewrite,
    pub node: String,
}

/// The rewrites used by default: those that won on the architectures
/// measured (BENCHMARKS.md). On x86-64 the kernels replace the separable
/// pool and the sliced stem. On arm64, where nothing can be timed here,
/// only the kernels for patterns tract runs in scalar code (stride-2
/// depthwise, max pool) are on; the sliced stem stays. Elsewhere (the
/// browser's wasm32, where the kernels have only their scalar path and
/// were not measured) the rewrites stay as they were before the kernels.
pub const DEFAULT: &[Rewrite] = if cfg!(target_arch = "x86_64") {
    &[
        Rewrite::FoldDequantize,
        Rewrite::ArithmeticFakeQuant,
        Rewrite::Kernel(Family::Depthwise),
        Rewrite::Kernel(Family::DirectConv),
        Rewrite::Kernel(Family::MaxPool),
    ]
} else if cfg!(target_arch = "aarch64") {
    &[
        Rewrite::SlicedStem,
        Rewrite::FoldDequantize,
        Rewrite::ArithmeticFakeQuant,
        Rewrite::Kernel(Family::DepthwiseStride2),
        Rewrite::Kernel(Family::MaxPool),
    ]
} else {
    &[Rewrite::SeparableMaxPool, Rewrite::SlicedStem, Rewrite::FoldDequantize, Rewrite::ArithmeticFakeQuant]
};

/// The rewrites to apply: [`DEFAULT`], or what `TAXA_REWRITES` names
/// (`off`, or a comma list of `maxpool`, `stem`, `concat`, `dequantize`,
/// `fakequant`, and the kernel families `depthwise`, `depthwise-s2`,
/// `direct`, `pool`).
pub fn enabled() -> Vec<Rewrite> {
    match std::env::var("TAXA_REWRITES") {
        Err(_) => DEFAULT.to_vec(),
        Ok(list) => list
            .split(',')
            .filter_map(|name| match name.trim() {
                "maxpool" => Some(Rewrite::SeparableMaxPool),
                "stem" => Some(Rewrite::SlicedStem),
                "concat" => Some(Rewrite::ConcatBarrier),
                "dequantize" => Some(Rewrite::FoldDequantize),
                "fakequant" => Some(Rewrite::ArithmeticFakeQuant),
                name => Family::ALL.into_iter().find(|f| f.name() == name).map(Rewrite::Kernel),
            })
            .collect(),
    }
}

/// The kernel families among `rewrites`.
pub fn kernel_families(rewrites: &[Rewrite]) -> Vec<Family> {
    rewrites.iter().filter_map(|r| if let Rewrite::Kernel(f) = r { Some(*f) } else { None }).collect()
}

const BARRIER_SUFFIX: &str = ".taxa_barrier";

/// Rewrites `model` for a fixed NCHW `input_shape`; borrowed back unchanged
/// when nothing matches.
pub fn rewrite<'a>(model: &'a ModelProto, input_shape: [usize; 4], rewrites: &[Rewrite]) -> (Cow<'a, ModelProto>, Vec<Applied>) {
    let Some(graph) = &model.graph else { return (Cow::Borrowed(model), vec![]) };
    let opset = model.opset_import.iter().filter(|o| o.domain.is_empty() || o.domain == "ai.onnx").map(|o| o.version).max().unwrap_or(1);
    let mut applied = vec![];
    let mut nodes: Vec<NodeProto> = Vec::with_capacity(graph.node.len());
    let mut initializers: Vec<TensorProto> = vec![];
    // Fake-quantisation pairs: the QuantizeLinear is rewritten, its
    // DequantizeLinear (named by its output: ONNX values are unique) dropped.
    let mut dropped: Vec<&str> = vec![];
    for node in &graph.node {
        if node.op_type == "DequantizeLinear" && node.output.first().is_some_and(|o| dropped.contains(&o.as_str())) {
            continue;
        }
        if rewrites.contains(&Rewrite::FoldDequantize)
            && let Some(constant) = folded_dequantize(node, graph)
        {
            applied.push(Applied { rewrite: Rewrite::FoldDequantize, node: node.name.clone() });
            initializers.push(constant);
            continue;
        }
        if rewrites.contains(&Rewrite::ArithmeticFakeQuant)
            && let Some((dequantize, arithmetic, constants)) = arithmetic_fake_quant(node, graph)
        {
            applied.push(Applied { rewrite: Rewrite::ArithmeticFakeQuant, node: node.name.clone() });
            dropped.push(dequantize);
            nodes.extend(arithmetic);
            initializers.extend(constants);
            continue;
        }
        if rewrites.contains(&Rewrite::SeparableMaxPool)
            && let Some(pools) = separable_max_pool(node)
        {
            applied.push(Applied { rewrite: Rewrite::SeparableMaxPool, node: node.name.clone() });
            nodes.extend(pools);
            continue;
        }
        if rewrites.contains(&Rewrite::SlicedStem)
            && opset >= 10
            && let Some((stem, constants)) = sliced_stem(node, graph, input_shape)
        {
            applied.push(Applied { rewrite: Rewrite::SlicedStem, node: node.name.clone() });
            nodes.extend(stem);
            initializers.extend(constants);
            continue;
        }
        if rewrites.contains(&Rewrite::ConcatBarrier) && feeds_only_pointwise_convs(node, graph) {
            applied.push(Applied { rewrite: Rewrite::ConcatBarrier, node: node.name.clone() });
            let mut marked = node.clone();
            marked.name = format!("{}{BARRIER_SUFFIX}", node.name);
            nodes.push(marked);
            continue;
        }
        nodes.push(node.clone());
    }
    if applied.is_empty() {
        return (Cow::Borrowed(model), applied);
    }
    let mut rewritten = model.clone();
    let graph = rewritten.graph.as_mut().expect("checked above");
    graph.node = nodes;
    graph.initializer.extend(initializers);
    (Cow::Owned(rewritten), applied)
}

/// Puts a [`Barrier`] after every node the rewrites asked one for, once the
/// model is typed and before tract optimises it.
pub fn insert_barriers(model: &mut TypedModel) -> TractResult<()> {
    let marked: Vec<usize> = model.nodes().iter().filter(|n| n.name.ends_with(BARRIER_SUFFIX)).map(|n| n.id).collect();
    for id in marked {
        let outlet = OutletId::new(id, 0);
        let successors = model.node(id).outputs[0].successors.clone();
        let name = model.node(id).name.clone();
        let barrier = model.wire_node(format!("{name}.out"), Barrier, &[outlet])?[0];
        for inlet in successors {
            model.add_edge(barrier, inlet)?;
        }
    }
    Ok(())
}

/// An identity that tract's optimiser does not look through: it keeps the
/// rewritten stem's 1×1 convolution from being split over its concatenation.
#[derive(Debug, Clone, Default, Hash, PartialEq, Eq)]
pub struct Barrier;

impl Op for Barrier {
    fn name(&self) -> StaticName {
        "TaxaBarrier".into()
    }

    op_as_typed_op!();
}

impl EvalOp for Barrier {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        Ok(inputs)
    }

    fn forwards_input(&self) -> Option<usize> {
        Some(0)
    }
}

impl TypedOp for Barrier {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(inputs[0].without_value()))
    }

    as_op!();
}

fn feeds_only_pointwise_convs(node: &NodeProto, graph: &tract_onnx::pb::GraphProto) -> bool {
    if node.op_type != "Concat" || !node.domain.is_empty() || node.output.len() != 1 || int(node, "axis") != Some(1) {
        return false;
    }
    let output = &node.output[0];
    if graph.output.iter().any(|o| &o.name == output) {
        return false;
    }
    let readers: Vec<&NodeProto> = graph.node.iter().filter(|n| n.input.iter().any(|i| i == output)).collect();
    !readers.is_empty()
        && readers.iter().all(|n| {
            n.op_type == "Conv"
                && n.input.first() == Some(output)
                && graph.initializer.iter().any(|t| Some(&t.name) == n.input.get(1) && t.dims.len() == 4 && t.dims[2..] == [1, 1])
        })
}

fn attr<'a>(node: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

fn ints(node: &NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(node, name).map(|a| a.ints.clone())
}

fn int(node: &NodeProto, name: &str) -> Option<i64> {
    attr(node, name).map(|a| a.i)
}

/// Only the attributes named may be present, and `auto_pad` only as NOTSET.
fn only_attributes(node: &NodeProto, allowed: &[&str]) -> bool {
    node.attribute.iter().all(|a| {
        allowed.contains(&a.name.as_str()) || (a.name == "auto_pad" && (a.s.is_empty() || a.s == b"NOTSET"))
    })
}

fn attr_ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Ints as i32, ints: values.to_vec(), ..Default::default() }
}

fn attr_int(name: &str, value: i64) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Int as i32, i: value, ..Default::default() }
}

fn separable_max_pool(node: &NodeProto) -> Option<[NodeProto; 2]> {
    if node.op_type != "MaxPool" || !node.domain.is_empty() || node.output.len() != 1 || node.input.len() != 1 {
        return None;
    }
    if !only_attributes(node, &["kernel_shape", "strides", "pads", "ceil_mode", "dilations", "storage_order"]) {
        return None;
    }
    if ints(node, "kernel_shape")? != [3, 3] || ints(node, "strides")? != [2, 2] {
        return None;
    }
    if ints(node, "dilations").is_some_and(|d| d != [1, 1]) || int(node, "storage_order").is_some_and(|s| s != 0) {
        return None;
    }
    let pads = ints(node, "pads").unwrap_or(vec![0; 4]);
    let [top, left, bottom, right] = <[i64; 4]>::try_from(pads).ok()?;
    let ceil_mode = int(node, "ceil_mode").unwrap_or(0);
    let rows = format!("{}.taxa_rows", node.output[0]);
    let pool = |name: String, input: &str, output: &str, kernel: [i64; 2], strides: [i64; 2], pads: [i64; 4]| NodeProto {
        name,
        op_type: "MaxPool".into(),
        input: vec![input.to_string()],
        output: vec![output.to_string()],
        attribute: vec![attr_ints("kernel_shape", &kernel), attr_ints("strides", &strides), attr_ints("pads", &pads), attr_int("ceil_mode", ceil_mode)],
        ..Default::default()
    };
    Some([
        pool(format!("{}.taxa_rows", node.name), &node.input[0], &rows, [3, 1], [2, 1], [top, 0, bottom, 0]),
        pool(node.name.clone(), &rows, &node.output[0], [1, 3], [1, 2], [0, left, 0, right]),
    ])
}

fn sliced_stem(node: &NodeProto, graph: &tract_onnx::pb::GraphProto, input_shape: [usize; 4]) -> Option<(Vec<NodeProto>, Vec<TensorProto>)> {
    if node.op_type != "Conv" || !node.domain.is_empty() || node.output.len() != 1 || !(2..=3).contains(&node.input.len()) {
        return None;
    }
    // On the model input, whose NCHW size is fixed at load.
    let input = graph.input.iter().find(|i| graph.initializer.iter().all(|t| t.name != i.name))?;
    if node.input[0] != input.name || input_shape[1] != 3 {
        return None;
    }
    if !only_attributes(node, &["kernel_shape", "strides", "pads", "dilations", "group"]) {
        return None;
    }
    if ints(node, "strides")? != [2, 2]
        || ints(node, "kernel_shape").is_some_and(|k| k != [3, 3])
        || ints(node, "pads").is_some_and(|p| p.iter().any(|v| *v != 0))
        || ints(node, "dilations").is_some_and(|d| d != [1, 1])
        || int(node, "group").is_some_and(|g| g != 1)
    {
        return None;
    }
    let weight = graph.initializer.iter().find(|t| t.name == node.input[1])?;
    let channels = *weight.dims.first()?;
    if weight.dims != [channels, 3, 3, 3] {
        return None;
    }
    let w = crate::onnx_graph::float_values(weight)?;
    if w.len() != (channels * 27) as usize {
        return None;
    }
    let (h, wd) = (input_shape[2] as i64, input_shape[3] as i64);
    if h < 3 || wd < 3 {
        return None;
    }
    let (out_h, out_w) = ((h - 3) / 2 + 1, (wd - 3) / 2 + 1);
    let prefix = format!("{}.taxa_stem", node.output[0]);
    let mut nodes = vec![];
    let mut constants = vec![];
    let i64_tensor = |name: String, values: [i64; 2]| TensorProto {
        name,
        dims: vec![2],
        data_type: DataType::Int64 as i32,
        int64_data: values.to_vec(),
        ..Default::default()
    };
    let axes = format!("{prefix}.axes");
    let steps = format!("{prefix}.steps");
    constants.push(i64_tensor(axes.clone(), [2, 3]));
    constants.push(i64_tensor(steps.clone(), [2, 2]));
    let mut taps = vec![];
    for ky in 0..3i64 {
        for kx in 0..3i64 {
            let tap = format!("{prefix}.tap{ky}{kx}");
            let (starts, ends) = (format!("{tap}.starts"), format!("{tap}.ends"));
            constants.push(i64_tensor(starts.clone(), [ky, kx]));
            constants.push(i64_tensor(ends.clone(), [ky + 2 * (out_h - 1) + 1, kx + 2 * (out_w - 1) + 1]));
            nodes.push(NodeProto {
                name: tap.clone(),
                op_type: "Slice".into(),
                input: vec![input.name.clone(), starts, ends, axes.clone(), steps.clone()],
                output: vec![tap.clone()],
                ..Default::default()
            });
            taps.push(tap);
        }
    }
    // Channel (ky·3 + kx)·3 + c of the concatenation is input channel c at tap (ky, kx).
    let concat = format!("{prefix}.concat{BARRIER_SUFFIX}");
    nodes.push(NodeProto {
        name: concat.clone(),
        op_type: "Concat".into(),
        input: taps,
        output: vec![concat.clone()],
        attribute: vec![attr_int("axis", 1)],
        ..Default::default()
    });
    let mut pointwise = Vec::with_capacity(w.len());
    for o in 0..channels as usize {
        for tap in 0..9 {
            for c in 0..3 {
                pointwise.push(w[o * 27 + c * 9 + tap]);
            }
        }
    }
    let pointwise_name = format!("{prefix}.weight");
    constants.push(TensorProto {
        name: pointwise_name.clone(),
        dims: vec![channels, 27, 1, 1],
        data_type: DataType::Float as i32,
        raw_data: pointwise.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    });
    let mut conv_inputs = vec![concat, pointwise_name];
    conv_inputs.extend(node.input.get(2).cloned());
    nodes.push(NodeProto {
        name: node.name.clone(),
        op_type: "Conv".into(),
        input: conv_inputs,
        output: node.output.clone(),
        attribute: vec![attr_ints("kernel_shape", &[1, 1])],
        ..Default::default()
    });
    Some((nodes, constants))
}

/// An initializer by name.
fn initializer<'g>(graph: &'g tract_onnx::pb::GraphProto, name: &str) -> Option<&'g TensorProto> {
    graph.initializer.iter().find(|t| t.name == name)
}

/// The 8-bit values of a uint8 or int8 initializer stored raw or as `int32_data`.
fn eight_bit_values(tensor: &TensorProto) -> Option<Vec<f32>> {
    if tensor.data_location == Some(1) {
        return None;
    }
    let signed = match DataType::try_from(tensor.data_type).ok()? {
        DataType::Uint8 => false,
        DataType::Int8 => true,
        _ => return None,
    };
    let widen = |b: u8| if signed { b as i8 as f32 } else { b as f32 };
    if !tensor.raw_data.is_empty() {
        return Some(tensor.raw_data.iter().map(|&b| widen(b)).collect());
    }
    Some(tensor.int32_data.iter().map(|&v| v as f32).collect())
}

/// The element count of a shape.
fn elements(dims: &[i64]) -> Option<usize> {
    dims.iter().try_fold(1usize, |n, &d| n.checked_mul(usize::try_from(d).ok()?))
}

/// `DequantizeLinear(constant, scale, zero_point)` → the float32 constant,
/// per tensor or per axis (`axis`, default 1).
fn folded_dequantize(node: &NodeProto, graph: &tract_onnx::pb::GraphProto) -> Option<TensorProto> {
    if node.op_type != "DequantizeLinear" || !node.domain.is_empty() || node.output.len() != 1 || !(2..=3).contains(&node.input.len()) {
        return None;
    }
    if graph.output.iter().any(|o| o.name == node.output[0]) {
        return None;
    }
    let q = initializer(graph, &node.input[0])?;
    let values = eight_bit_values(q)?;
    let scale = crate::onnx_graph::float_values(initializer(graph, &node.input[1])?)?;
    let zero = match node.input.get(2).filter(|n| !n.is_empty()) {
        Some(name) => eight_bit_values(initializer(graph, name)?)?,
        None => vec![0.0],
    };
    if values.len() != elements(&q.dims)? || scale.is_empty() || !(zero.len() == 1 || zero.len() == scale.len()) {
        return None;
    }
    let rank = q.dims.len() as i64;
    let axis = int(node, "axis").unwrap_or(1);
    let axis = if axis < 0 { axis + rank } else { axis };
    // Per-tensor: one scale. Per-axis: one per element of `axis`.
    let inner: usize = if scale.len() == 1 {
        values.len().max(1)
    } else {
        if !(0..rank).contains(&axis) || q.dims[axis as usize] as usize != scale.len() {
            return None;
        }
        elements(&q.dims[axis as usize + 1..])?
    };
    let pick = |v: &[f32], channel: usize| if v.len() == 1 { v[0] } else { v[channel] };
    let real: Vec<f32> = values
        .iter()
        .enumerate()
        .map(|(i, &q)| {
            let channel = (i / inner.max(1)) % scale.len();
            (q - pick(&zero, channel)) * pick(&scale, channel)
        })
        .collect();
    Some(TensorProto {
        name: node.output[0].clone(),
        dims: q.dims.clone(),
        data_type: DataType::Float as i32,
        raw_data: real.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    })
}

/// 1.5 · 2²³: a float32 sum with it is rounded to an integer (ties to even)
/// for any addend under 2²² in magnitude.
const ROUNDING_BIAS: f32 = 12_582_912.0;

/// `QuantizeLinear(x, s, z)` read only by `DequantizeLinear(·, s, z)`
/// (per-tensor, 8-bit) → the arithmetic of the module docs. Returns the
/// dequantize node's output (the node is dropped), the new nodes and their constants.
fn arithmetic_fake_quant<'g>(node: &NodeProto, graph: &'g tract_onnx::pb::GraphProto) -> Option<(&'g str, Vec<NodeProto>, Vec<TensorProto>)> {
    let per_tensor = |n: &NodeProto| {
        n.domain.is_empty() && n.output.len() == 1 && n.input.len() == 3 && n.attribute.iter().all(|a| a.name == "axis" || a.name == "saturate")
    };
    if node.op_type != "QuantizeLinear" || !per_tensor(node) || graph.output.iter().any(|o| o.name == node.output[0]) {
        return None;
    }
    let readers: Vec<&NodeProto> = graph.node.iter().filter(|n| n.input.iter().any(|i| *i == node.output[0])).collect();
    let [dequantize] = readers.as_slice() else { return None };
    if dequantize.op_type != "DequantizeLinear" || !per_tensor(dequantize) || dequantize.input[0] != node.output[0] {
        return None;
    }
    let scale_of = |name: &str| crate::onnx_graph::float_values(initializer(graph, name)?).filter(|s| s.len() == 1).map(|s| s[0]);
    let zero_tensor = initializer(graph, &node.input[2])?;
    let zero_of = |name: &str| eight_bit_values(initializer(graph, name)?).filter(|z| z.len() == 1).map(|z| z[0]);
    let (scale, zero) = (scale_of(&node.input[1])?, zero_of(&node.input[2])?);
    if scale_of(&dequantize.input[1])? != scale || zero_of(&dequantize.input[2])? != zero || !(scale.is_finite() && scale > 0.0) {
        return None;
    }
    let (low, high) = if zero_tensor.data_type == DataType::Int8 as i32 { (-128.0, 127.0) } else { (0.0, 255.0) };
    let prefix = format!("{}.taxa_fake_quant", node.output[0]);
    let constant = |suffix: &str, value: f32| TensorProto {
        name: format!("{prefix}.{suffix}"),
        data_type: DataType::Float as i32,
        raw_data: value.to_le_bytes().to_vec(),
        ..Default::default()
    };
    let constants = vec![
        // (saturate(round(x / s) + z) − z) · s = clamp(round(x / s), low − z, high − z) · s:
        // z moves into the bounds, so the rounding sees x / s alone (ties to even).
        constant("inverse_scale", 1.0 / scale),
        constant("bias", ROUNDING_BIAS),
        constant("low", ROUNDING_BIAS + low - zero),
        constant("high", ROUNDING_BIAS + high - zero),
        constant("unbias", -ROUNDING_BIAS),
        constant("scale", scale),
    ];
    let steps = [("Mul", "inverse_scale"), ("Add", "bias"), ("Max", "low"), ("Min", "high"), ("Add", "unbias"), ("Mul", "scale")];
    let mut input = node.input[0].clone();
    let mut nodes = Vec::with_capacity(steps.len());
    for (i, (op, constant)) in steps.iter().enumerate() {
        let output = if i + 1 == steps.len() { dequantize.output[0].clone() } else { format!("{prefix}.{i}") };
        nodes.push(NodeProto {
            name: format!("{prefix}.{i}"),
            op_type: op.to_string(),
            input: vec![input, format!("{prefix}.{constant}")],
            output: vec![output.clone()],
            ..Default::default()
        });
        input = output;
    }
    Some((&dequantize.output[0], nodes, constants))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx_graph::{Dim, GraphBuilder, attr_int, attr_ints};

    const SHAPE: [usize; 4] = [1, 3, 33, 31];

    /// A stem conv (3→8, 3×3/2, unpadded) + Relu, a 3×3/2 MaxPool (padded, ceil
    /// mode), a concat of two 1×1 branches read by a 1×1 conv.
    fn model() -> ModelProto {
        let mut g = GraphBuilder::new("rewrites");
        let x = g.input("image", &[Dim::Fixed(1), 3.into(), 33.into(), 31.into()]);
        let values = |n: usize, seed: f32| (0..n).map(|i| (i as f32 * 0.37 + seed).sin()).collect::<Vec<f32>>();
        let w = g.initializer("stem.w", &[8, 3, 3, 3], &values(216, 0.1));
        let b = g.initializer("stem.b", &[8], &values(8, 0.2));
        let stem = g.node("Conv", &[&x, &w, &b], vec![attr_ints("kernel_shape", &[3, 3]), attr_ints("strides", &[2, 2])]);
        let relu = g.node("Relu", &[&stem], vec![]);
        let pool = g.node(
            "MaxPool",
            &[&relu],
            vec![attr_ints("kernel_shape", &[3, 3]), attr_ints("strides", &[2, 2]), attr_ints("pads", &[1, 0, 1, 1]), attr_int("ceil_mode", 1)],
        );
        let wa = g.initializer("a.w", &[4, 8, 1, 1], &values(32, 0.3));
        let wb = g.initializer("b.w", &[4, 8, 1, 1], &values(32, 0.4));
        let a = g.node("Conv", &[&pool, &wa], vec![attr_ints("kernel_shape", &[1, 1])]);
        let bb = g.node("Conv", &[&pool, &wb], vec![attr_ints("kernel_shape", &[1, 1])]);
        let cat = g.node("Concat", &[&a, &bb], vec![attr_int("axis", 1)]);
        let wc = g.initializer("c.w", &[5, 8, 1, 1], &values(40, 0.5));
        g.node_named("Conv", &[&cat, &wc], "logits", vec![attr_ints("kernel_shape", &[1, 1])]);
        g.output("logits", &[Dim::Fixed(1), 5.into(), Dim::Symbolic("h".into()), Dim::Symbolic("w".into())]);
        g.build()
    }

    fn run(model: &ModelProto, rewrites: &[Rewrite]) -> (Vec<f32>, Vec<Applied>, Vec<String>) {
        let (proto, applied) = rewrite(model, SHAPE, rewrites);
        let mut inference = tract_onnx::onnx().model_for_proto_model(&proto).unwrap();
        inference.set_input_fact(0, f32::fact(SHAPE).into()).unwrap();
        let mut typed = inference.into_typed().unwrap();
        insert_barriers(&mut typed).unwrap();
        let optimised = typed.into_optimized().unwrap();
        let ops = optimised.nodes().iter().map(|n| n.op().name().to_string()).collect();
        let input: Vec<f32> = (0..SHAPE.iter().product::<usize>()).map(|i| ((i * 7919) % 255) as f32 / 127.0 - 1.0).collect();
        let x = tract_ndarray::ArrayD::from_shape_vec(&SHAPE[..], input).unwrap().into_tensor();
        let out = optimised.into_runnable().unwrap().run(tvec![x.into_tvalue()]).unwrap();
        (out[0].to_plain_array_view::<f32>().unwrap().iter().copied().collect(), applied, ops)
    }

    #[test]
    fn each_rewrite_applies_and_keeps_the_values() {
        let model = model();
        let (reference, none, _) = run(&model, &[]);
        assert!(none.is_empty());
        for (rewrite, tolerance) in [(Rewrite::SeparableMaxPool, 0.0), (Rewrite::SlicedStem, 1e-5), (Rewrite::ConcatBarrier, 1e-5)] {
            let (got, applied, ops) = run(&model, &[rewrite]);
            assert_eq!(applied.len(), 1, "{rewrite:?}: {applied:?}");
            assert_eq!(applied[0].rewrite, rewrite);
            let scale = reference.iter().fold(0f32, |m, v| m.max(v.abs()));
            let err = got.iter().zip(&reference).fold(0f32, |m, (a, b)| m.max((a - b).abs())) / scale;
            assert!(err <= tolerance, "{rewrite:?}: relative error {err:e}");
            let barrier = ops.iter().any(|op| op == "TaxaBarrier");
            assert_eq!(barrier, rewrite != Rewrite::SeparableMaxPool, "{rewrite:?}: {ops:?}");
        }
    }

    /// x → QuantizeLinear → DequantizeLinear (uint8 or int8), then a 1×1
    /// `Conv` whose weights are `DequantizeLinear` of int8 per-channel constants.
    fn qdq_model(signed: bool) -> ModelProto {
        let mut g = GraphBuilder::new("qdq");
        let x = g.input("x", &[Dim::Fixed(1), 2.into(), 4.into(), 8.into()]);
        let kind = if signed { DataType::Int8 } else { DataType::Uint8 };
        // A power of two, so that ties are exact ties whether one divides by it or multiplies by its inverse.
        let s = g.initializer("s", &[], &[0.0625]);
        let z = g.initializer_raw("z", &[], kind, vec![if signed { (-3i8) as u8 } else { 131 }]);
        let q = g.node("QuantizeLinear", &[&x, &s, &z], vec![]);
        let dq = g.node("DequantizeLinear", &[&q, &s, &z], vec![]);
        let w = g.initializer_raw("w", &[3, 2, 1, 1], DataType::Int8, [5i8, -7, 127, -128, 0, 33].map(|v| v as u8).to_vec());
        let ws = g.initializer("ws", &[3], &[0.5, 0.25, 0.125]);
        let wz = g.initializer_raw("wz", &[3], DataType::Int8, vec![0, 0, 0]);
        let w = g.node("DequantizeLinear", &[&w, &ws, &wz], vec![attr_int("axis", 0)]);
        g.node_named("Conv", &[&dq, &w], "y", vec![attr_ints("kernel_shape", &[1, 1])]);
        g.output("y", &[Dim::Fixed(1), 3.into(), 4.into(), 8.into()]);
        g.build()
    }

    fn run_plain(model: &ModelProto, rewrites: &[Rewrite], input: &[f32], shape: [usize; 4]) -> (Vec<f32>, Vec<Applied>) {
        let (proto, applied) = rewrite(model, shape, rewrites);
        let mut inference = tract_onnx::onnx().model_for_proto_model(&proto).unwrap();
        inference.set_input_fact(0, f32::fact(shape).into()).unwrap();
        let plan = inference.into_typed().unwrap().into_optimized().unwrap().into_runnable().unwrap();
        let x = tract_ndarray::ArrayD::from_shape_vec(&shape[..], input.to_vec()).unwrap().into_tensor();
        let out = plan.run(tvec![x.into_tvalue()]).unwrap();
        (out[0].to_plain_array_view::<f32>().unwrap().iter().copied().collect(), applied)
    }

    #[test]
    fn qdq_rewrites_compute_what_onnx_defines() {
        // Ties (k + 0.5 steps), both ends of the range and beyond, in between.
        let steps = [-200.5, -140.0, -131.5, -130.5, -3.5, -2.5, -0.5, 0.0, 0.5, 1.5, 2.5, 3.49, 123.5, 124.5, 200.0, 1e9];
        let input: Vec<f32> = (0..64).map(|i| steps[i % steps.len()] * 0.0625 + if i >= 32 { (i as f32 * 0.731).sin() * 0.01 } else { 0.0 }).collect();
        let shape = [1, 2, 4, 8];
        for signed in [false, true] {
            let model = qdq_model(signed);
            let (got, applied) = run_plain(&model, &[Rewrite::FoldDequantize, Rewrite::ArithmeticFakeQuant], &input, shape);
            let rewrites: Vec<Rewrite> = applied.iter().map(|a| a.rewrite).collect();
            assert_eq!(rewrites, [Rewrite::ArithmeticFakeQuant, Rewrite::FoldDequantize], "{applied:?}");
            // ONNX: y = (saturate(round_half_even(x / s) + z) − z) · s, then the 1×1 conv.
            let (z, low, high) = if signed { (-3.0, -128.0, 127.0) } else { (131.0, 0.0, 255.0) };
            let fake: Vec<f32> = input.iter().map(|x| (((x / 0.0625f32).round_ties_even() + z).clamp(low, high) - z) * 0.0625).collect();
            let weights = [[2.5, -3.5], [31.75, -32.0], [0.0, 4.125]];
            for o in 0..3 {
                for p in 0..32 {
                    let expected = weights[o][0] * fake[p] + weights[o][1] * fake[32 + p];
                    let value = got[o * 32 + p];
                    assert!((value - expected).abs() <= 1e-5 * expected.abs().max(1.0), "signed {signed}, channel {o}, pixel {p}: {value} vs {expected}");
                }
            }
        }
    }

    #[test]
    fn padded_or_strided_otherwise_stems_are_left_alone() {
        let mut model = model();
        let stem = &mut model.graph.as_mut().unwrap().node[0];
        stem.attribute.push(attr_ints("pads", &[1, 1, 1, 1]));
        let (_, applied) = rewrite(&model, SHAPE, &[Rewrite::SlicedStem]);
        assert!(applied.is_empty(), "{applied:?}");
    }
}
