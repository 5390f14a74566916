//! The kernels as tract operators, and the load-time pass that puts them in
//! the typed model in place of tract's `Conv` and `MaxPool`.
//!
//! The pass runs on the typed model before tract's declutter, because
//! declutter turns 1×1 convolutions into matrix products (`EinSum`). Each
//! operator's own `declutter` then folds into itself what tract's `Conv`
//! would have, a following per-channel `Mul` and `Add` (batch norm) into
//! its weights and bias, and more: each following element-wise step with a
//! constant (ReLU's `Max 0`, ReLU6's `Min 6`, a QDQ model's fake
//! quantisation) into its [`Epilogue`], where tract would have fused them
//! into its matrix product.

use std::sync::Arc;

use tract_onnx::prelude::tract_linalg::multithread::par_chunks_mut;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, MaxPool as TractMaxPool, PoolSpec};
use tract_onnx::tract_core::ops::math::{Add, Max, Min, Mul, Sub};
use tract_onnx::tract_core::ops::nn::DataFormat;

use super::depthwise::Depthwise;
use super::direct_conv::DirectConv;
use super::max_pool::MaxPool;
use super::{Epilogue, Isa, Step, Window};

/// A kernel family, as `TAXA_REWRITES` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// `depthwise`: [`Depthwise`].
    Depthwise,
    /// `depthwise-s2`: [`Depthwise`] at stride 2 only, where tract's own
    /// path is scalar (arm64's default; tract has NEON for stride 1).
    DepthwiseStride2,
    /// `direct`: [`DirectConv`] (stems, 1×1 expansions from few channels).
    DirectConv,
    /// `pool`: [`MaxPool`].
    MaxPool,
}

impl Family {
    pub const ALL: [Family; 4] = [Family::Depthwise, Family::DepthwiseStride2, Family::DirectConv, Family::MaxPool];

    pub fn name(self) -> &'static str {
        match self {
            Family::Depthwise => "depthwise",
            Family::DepthwiseStride2 => "depthwise-s2",
            Family::DirectConv => "direct",
            Family::MaxPool => "pool",
        }
    }
}

/// One of taxa's kernels in tract's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelOp {
    kernel: Kernel,
    isa: Isa,
}

#[derive(Debug, Clone, PartialEq)]
enum Kernel {
    Depthwise(Arc<Depthwise>),
    DirectConv(Arc<DirectConv>),
    MaxPool(MaxPool),
}

// The constants are compared bit for bit; no NaN weight makes a model
// worth comparing.
impl Eq for KernelOp {}

impl KernelOp {
    fn window(&self) -> &Window {
        match &self.kernel {
            Kernel::Depthwise(k) => &k.window,
            Kernel::DirectConv(k) => &k.window,
            Kernel::MaxPool(k) => &k.window,
        }
    }

    fn output_channels(&self) -> usize {
        match &self.kernel {
            Kernel::Depthwise(k) => k.channels(),
            Kernel::DirectConv(k) => k.output_channels,
            Kernel::MaxPool(k) => k.channels,
        }
    }

    fn input_channels(&self) -> usize {
        match &self.kernel {
            Kernel::Depthwise(k) => k.channels(),
            Kernel::DirectConv(k) => k.input_channels,
            Kernel::MaxPool(k) => k.channels,
        }
    }

    fn epilogue(&self) -> Option<Epilogue> {
        match &self.kernel {
            Kernel::Depthwise(k) => Some(k.epilogue),
            Kernel::DirectConv(k) => Some(k.epilogue),
            Kernel::MaxPool(_) => None,
        }
    }

    /// This op with `f` applied to its convolution (not to a pool).
    fn with_conv(&self, f: impl FnOnce(&mut ConvParts)) -> Option<KernelOp> {
        let kernel = match &self.kernel {
            Kernel::Depthwise(k) => {
                let mut k = (**k).clone();
                f(&mut ConvParts::Depthwise(&mut k));
                Kernel::Depthwise(Arc::new(k))
            }
            Kernel::DirectConv(k) => {
                let mut k = (**k).clone();
                f(&mut ConvParts::Direct(&mut k));
                Kernel::DirectConv(Arc::new(k))
            }
            Kernel::MaxPool(_) => return None,
        };
        Some(KernelOp { kernel, isa: self.isa })
    }
}

enum ConvParts<'a> {
    Depthwise(&'a mut Depthwise),
    Direct(&'a mut DirectConv),
}

impl ConvParts<'_> {
    fn epilogue(&mut self) -> &mut Epilogue {
        match self {
            ConvParts::Depthwise(k) => &mut k.epilogue,
            ConvParts::Direct(k) => &mut k.epilogue,
        }
    }

    fn scale(&mut self, factors: &[f32]) {
        match self {
            ConvParts::Depthwise(k) => {
                let taps = k.weights.len() / k.bias.len();
                for (c, f) in factors.iter().enumerate() {
                    k.bias[c] *= f;
                    k.weights[c * taps..(c + 1) * taps].iter_mut().for_each(|w| *w *= f);
                }
            }
            ConvParts::Direct(k) => k.scale_channels(factors),
        }
    }

    fn shift(&mut self, terms: &[f32]) {
        match self {
            ConvParts::Depthwise(k) => k.bias.iter_mut().zip(terms).for_each(|(b, t)| *b += t),
            ConvParts::Direct(k) => k.shift_channels(terms),
        }
    }
}

impl Op for KernelOp {
    fn name(&self) -> StaticName {
        match &self.kernel {
            Kernel::Depthwise(_) => "TaxaDepthwise".into(),
            Kernel::DirectConv(_) => "TaxaDirectConv".into(),
            Kernel::MaxPool(_) => "TaxaMaxPool".into(),
        }
    }

    fn info(&self) -> TractResult<Vec<String>> {
        let w = self.window();
        let mut info = vec![format!(
            "{}→{} channels, kernel {:?} / {}, pads {},{} in {:?} out {:?}, {}",
            self.input_channels(),
            self.output_channels(),
            w.kernel,
            w.stride,
            w.pad_top,
            w.pad_left,
            w.input,
            w.output,
            self.isa.name()
        )];
        if let Some(epilogue) = self.epilogue().filter(|e| !e.is_empty()) {
            info.push(format!("then {:?}", epilogue.steps()));
        }
        Ok(info)
    }

    op_as_typed_op!();
}

impl EvalOp for KernelOp {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let shape = input.shape().to_vec();
        let window = *self.window();
        let [h, w] = window.input;
        let [oh, ow] = window.output;
        ensure!(shape.len() == 4 && shape[1] == self.input_channels() && shape[2..] == [h, w], "input {shape:?} for {self:?}");
        let (batch, out_plane) = (shape[0], oh * ow);
        let in_image = self.input_channels() * h * w;
        let out_image = self.output_channels() * out_plane;
        let view = input.try_as_plain_ram()?;
        let x = view.as_slice::<f32>()?;
        // SAFETY: every output element is written below.
        let mut y = unsafe { Tensor::uninitialized::<f32>(&[batch, self.output_channels(), oh, ow])? };
        {
            let mut view = y.try_as_plain_ram_mut()?;
            let out = view.as_slice_mut::<f32>()?;
            for n in 0..batch {
                let x = &x[n * in_image..(n + 1) * in_image];
                let out = &mut out[n * out_image..(n + 1) * out_image];
                self.run_image(x, out, out_plane)?;
            }
        }
        Ok(tvec!(y.into_tvalue()))
    }
}

impl KernelOp {
    /// One image; channels (or blocks of them) are split over tract's
    /// executor's threads, as tract splits its own depthwise convolution.
    fn run_image(&self, x: &[f32], out: &mut [f32], out_plane: usize) -> TractResult<()> {
        let work = x.len() + out.len();
        match &self.kernel {
            Kernel::Depthwise(k) => par_chunks_mut(out, out_plane, work, |first, chunk| {
                let channels = first..first + chunk.len() / out_plane;
                k.run(self.isa, x, channels, chunk, &mut vec![]);
                Ok(())
            }),
            Kernel::MaxPool(k) => par_chunks_mut(out, out_plane, work, |first, chunk| {
                let channels = first..first + chunk.len() / out_plane;
                k.run(self.isa, x, channels, chunk, &mut vec![]);
                Ok(())
            }),
            Kernel::DirectConv(k) => {
                let mut prepared = vec![];
                k.prepare(self.isa, x, &mut prepared);
                let block = super::direct_conv::BLOCK * out_plane;
                let whole = out.len() / block * block;
                let (blocks, tail) = out.split_at_mut(whole);
                par_chunks_mut(blocks, block, work, |first, chunk| {
                    k.run(self.isa, &prepared, first..first + chunk.len() / block, chunk);
                    Ok(())
                })?;
                if !tail.is_empty() {
                    k.run(self.isa, &prepared, k.blocks() - 1..k.blocks(), tail);
                }
                Ok(())
            }
        }
    }
}

impl TypedOp for KernelOp {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape = inputs[0].shape.as_concrete().ok_or_else(|| format_err!("{} needs a fixed input shape", self.name()))?;
        let [oh, ow] = self.window().output;
        Ok(tvec!(f32::fact([shape[0], self.output_channels(), oh, ow])))
    }

    fn declutter(&self, model: &TypedModel, node: &TypedNode) -> TractResult<Option<TypedModelPatch>> {
        let Some((succ, operand)) = single_binary_successor(model, node)? else { return Ok(None) };
        let bin = succ.op_as::<TypedBinOp>().expect("checked");
        let Some(epilogue) = self.epilogue() else { return Ok(None) };
        let ours_first = succ.inputs[0].node == node.id;
        let fused = if let Some(c) = uniform(model, operand)? {
            let step = if bin.0.is::<Mul>() {
                Some((Step::Mul, c))
            } else if bin.0.is::<Add>() {
                Some((Step::Add, c))
            } else if bin.0.is::<Sub>() && ours_first {
                Some((Step::Add, -c))
            } else if bin.0.is::<Max>() {
                Some((Step::Max, c))
            } else if bin.0.is::<Min>() {
                Some((Step::Min, c))
            } else {
                None
            };
            match step.and_then(|(step, c)| epilogue.then(step, c)) {
                Some(longer) => self.with_conv(|k| *k.epilogue() = longer),
                None => None,
            }
        } else if (bin.0.is::<Mul>() || bin.0.is::<Add>()) && epilogue.is_empty() {
            // Per channel (batch norm), as tract's `Conv` folds it.
            let Some(values) = per_channel(model, operand, self.output_channels())? else { return Ok(None) };
            if bin.0.is::<Mul>() { self.with_conv(|k| k.scale(&values)) } else { self.with_conv(|k| k.shift(&values)) }
        } else {
            None
        };
        let Some(fused) = fused else { return Ok(None) };
        let mut patch = TypedModelPatch::new(format!("fuse {} into {}", succ.name, node.name));
        let input = patch.tap_model(model, node.inputs[0])?;
        let wire = patch.wire_node(&node.name, fused, &[input])?[0];
        patch.shunt_outside(model, succ.id.into(), wire)?;
        Ok(Some(patch))
    }

    as_op!();
}

/// The node's one successor when it is a binary op reading it on one side
/// and something else on the other, and the node's output is not the model's.
fn single_binary_successor<'m>(model: &'m TypedModel, node: &TypedNode) -> TractResult<Option<(&'m TypedNode, OutletId)>> {
    if model.output_outlets()?.contains(&OutletId::new(node.id, 0)) || node.outputs[0].successors.len() != 1 {
        return Ok(None);
    }
    let inlet = node.outputs[0].successors[0];
    let succ = model.node(inlet.node);
    if succ.op_as::<TypedBinOp>().is_none() || succ.inputs.len() != 2 || succ.inputs[1 - inlet.slot].node == node.id {
        return Ok(None);
    }
    Ok(Some((succ, succ.inputs[1 - inlet.slot])))
}

/// A constant scalar (any shape of ones).
fn uniform(model: &TypedModel, outlet: OutletId) -> TractResult<Option<f32>> {
    let fact = model.outlet_fact(outlet)?;
    let Some(konst) = &fact.konst else { return Ok(None) };
    if konst.len() != 1 || konst.datum_type() != f32::datum_type() {
        return Ok(None);
    }
    Ok(Some(konst.cast_to_scalar::<f32>()?))
}

/// A constant with one value per output channel (`[1, C, 1, 1]`, `[C, 1, 1]`).
fn per_channel(model: &TypedModel, outlet: OutletId, channels: usize) -> TractResult<Option<Vec<f32>>> {
    let fact = model.outlet_fact(outlet)?;
    let Some(konst) = &fact.konst else { return Ok(None) };
    let shaped = matches!(konst.shape(), [c, 1, 1] | [1, c, 1, 1] if *c == channels);
    if konst.datum_type() != f32::datum_type() || !shaped {
        return Ok(None);
    }
    Ok(Some(konst.try_as_plain_ram()?.as_slice::<f32>()?.to_vec()))
}

/// Puts taxa's kernels of `families` into `model` (typed, not yet
/// decluttered) wherever the pattern matches, on instruction set `isa`,
/// after propagating its constants.
/// Returns how many nodes each family took.
pub fn substitute(model: &mut TypedModel, families: &[Family], isa: Isa) -> TractResult<Vec<(Family, usize)>> {
    if families.is_empty() {
        return Ok(vec![]);
    }
    // Weights reach a `Conv` through casts and reshapes until constants
    // are propagated.
    model.prop_consts()?;
    let mut counts: Vec<(Family, usize)> = families.iter().map(|f| (*f, 0)).collect();
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some((family, op)) = kernel_for(model, node, families, isa)? else { continue };
        let patch = TypedModelPatch::replace_single_op(model, node, &node.inputs[..1], op)?;
        patch.apply(model)?;
        if let Some(count) = counts.iter_mut().find(|(f, _)| *f == family) {
            count.1 += 1;
        }
    }
    Ok(counts)
}

fn kernel_for(model: &TypedModel, node: &TypedNode, families: &[Family], isa: Isa) -> TractResult<Option<(Family, KernelOp)>> {
    if node.inputs.is_empty() || !(node.op_is::<Conv>() || node.op_is::<TractMaxPool>()) {
        return Ok(None);
    }
    let input = model.outlet_fact(node.inputs[0])?;
    let Some(shape) = input.shape.as_concrete().map(|s| s.to_vec()) else { return Ok(None) };
    if input.datum_type != f32::datum_type() || shape.len() != 4 {
        return Ok(None);
    }
    if let Some(pool) = node.op_as::<TractMaxPool>() {
        if !families.contains(&Family::MaxPool) || pool.with_index_outputs.is_some() {
            return Ok(None);
        }
        let Some(window) = window(&pool.pool_spec, &shape) else { return Ok(None) };
        if !MaxPool::supported(&window) {
            return Ok(None);
        }
        return Ok(Some((Family::MaxPool, KernelOp { kernel: Kernel::MaxPool(MaxPool { window, channels: shape[1] }), isa })));
    }
    let Some(conv) = node.op_as::<Conv>() else { return Ok(None) };
    if conv.q_params.is_some() || conv.kernel_fmt != KernelFormat::OIHW || node.inputs.len() != 3 {
        return Ok(None);
    }
    let Some(window) = window(&conv.pool_spec, &shape) else { return Ok(None) };
    let (Some(weights), Some(bias)) = (model.outlet_fact(node.inputs[1])?.konst.clone(), model.outlet_fact(node.inputs[2])?.konst.clone()) else {
        return Ok(None);
    };
    if weights.datum_type() != f32::datum_type() || bias.datum_type() != f32::datum_type() {
        return Ok(None);
    }
    let (c_in, c_out) = (shape[1], conv.pool_spec.output_channels);
    let weights = weights.try_as_plain_ram()?.as_slice::<f32>()?.to_vec();
    let bias = bias.try_as_plain_ram()?.as_slice::<f32>()?.to_vec();
    let bias = match bias.len() {
        n if n == c_out => bias,
        1 => vec![bias[0]; c_out],
        _ => return Ok(None),
    };
    let taps = window.kernel[0] * window.kernel[1];
    if conv.group == c_in && c_in == c_out && weights.len() == c_out * taps {
        let family = if families.contains(&Family::Depthwise) {
            Family::Depthwise
        } else if families.contains(&Family::DepthwiseStride2) && window.stride == 2 {
            Family::DepthwiseStride2
        } else {
            return Ok(None);
        };
        if !Depthwise::supported(&window) {
            return Ok(None);
        }
        let kernel = Depthwise { window, weights, bias, epilogue: Epilogue::NONE };
        return Ok(Some((family, KernelOp { kernel: Kernel::Depthwise(Arc::new(kernel)), isa })));
    }
    if conv.group != 1 || weights.len() != c_out * c_in * taps || !families.contains(&Family::DirectConv) || !worth_direct(&window, c_in) {
        return Ok(None);
    }
    let kernel = DirectConv::new(window, c_in, c_out, &weights, &bias, Epilogue::NONE);
    Ok(Some((Family::DirectConv, KernelOp { kernel: Kernel::DirectConv(Arc::new(kernel)), isa })))
}

/// Where the direct kernel beats tract's matrix product: few input
/// channels × taps and a wide output (vectors of up to 16 columns).
fn worth_direct(window: &Window, input_channels: usize) -> bool {
    DirectConv::supported(window, input_channels) && window.output[1] >= 28
}

/// The window of an NCHW pool spec on a fixed input shape, with no dilation.
fn window(spec: &PoolSpec, shape: &[usize]) -> Option<Window> {
    if spec.data_format != DataFormat::NCHW || spec.kernel_shape.len() != 2 || spec.dilations().iter().any(|&d| d != 1) {
        return None;
    }
    let strides = spec.strides();
    if strides[0] != strides[1] {
        return None;
    }
    // Every padding kind (explicit, ONNX pool with ceil_mode, valid, same)
    // comes down to pads before and an output size.
    let padded = spec.computed_padding(&shape[2..]);
    Some(Window {
        kernel: [spec.kernel_shape[0], spec.kernel_shape[1]],
        stride: strides[0],
        pad_top: padded[0].pad_before,
        pad_left: padded[1].pad_before,
        input: [shape[2], shape[3]],
        output: [padded[0].convoluted, padded[1].convoluted],
    })
}
