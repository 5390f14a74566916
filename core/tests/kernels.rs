//! taxa's kernels against tract's own operators: one-node ONNX models
//! (a depthwise or few-channel convolution, or a max pool, with what may
//! follow it: ReLU, ReLU6, a per-channel scale and shift) on random shapes,
//! strides, pads and channel counts, planned by tract as it is and with the
//! kernels put in on each instruction set this CPU runs (on arm64 under
//! qemu, NEON). Relative error bound 1e-5.

use taxa_core::kernels::ops::{Family, substitute};
use taxa_core::kernels::Isa;
use taxa_core::onnx_graph::{Dim, GraphBuilder, attr_int, attr_ints};
use taxa_core::onnx_pb::ModelProto;
use tract_onnx::prelude::*;

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
    fn floats(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.below(2001) as f32 / 1000.0 - 1.0).collect()
    }
}

/// What follows the key node in the model.
#[derive(Debug, Clone, Copy)]
enum After {
    Nothing,
    Relu,
    Relu6,
    ScaleShift,
}

struct Case {
    model: ModelProto,
    input: [usize; 4],
    what: String,
}

fn output_size(size: usize, k: usize, stride: usize, before: usize, after: usize, ceil: bool) -> usize {
    let span = size + before + after - k;
    let n = if ceil { span.div_ceil(stride) } else { span / stride } + 1;
    // ONNX: a last pooling window must start inside the input or the padding before it.
    if ceil && (n - 1) * stride >= size + before { n - 1 } else { n }
}

fn case(rng: &mut Rng, family: Family) -> Case {
    let stride = if family == Family::DepthwiseStride2 { 2 } else { 1 + rng.below(2) };
    let (k, channels_in, channels_out, group) = match family {
        Family::Depthwise | Family::DepthwiseStride2 => {
            let c = 1 + rng.below(12);
            ([3, 5][rng.below(2)], c, c, c)
        }
        Family::DirectConv => {
            let k = [1, 3][rng.below(2)];
            (k, 1 + rng.below(if k == 1 { 16 } else { 3 }), 1 + rng.below(20), 1)
        }
        Family::MaxPool => {
            let c = 1 + rng.below(6);
            ([2, 3][rng.below(2)], c, c, 1)
        }
    };
    let pads: Vec<usize> = (0..4).map(|_| rng.below(k)).collect();
    // Wide enough for the direct kernel (it only takes outputs ≥ 28 columns).
    let (h, w) = (k + rng.below(8), 28 * stride + k + rng.below(30));
    let ceil = family == Family::MaxPool && rng.below(2) == 1;
    let oh = output_size(h, k, stride, pads[0], pads[2], ceil);
    let ow = output_size(w, k, stride, pads[1], pads[3], ceil);
    let after = [After::Nothing, After::Relu, After::Relu6, After::ScaleShift][rng.below(4)];
    let mut g = GraphBuilder::new("kernel");
    let x = g.input("x", &[1.into(), (channels_in as i64).into(), (h as i64).into(), (w as i64).into()]);
    let kernel = [k as i64, k as i64];
    let attrs = |extra: Vec<_>| {
        let mut a = vec![attr_ints("kernel_shape", &kernel), attr_ints("strides", &[stride as i64; 2]), attr_ints("pads", &pads.iter().map(|&p| p as i64).collect::<Vec<_>>())];
        a.extend(extra);
        a
    };
    let mut y = if family == Family::MaxPool {
        g.node("MaxPool", &[&x], attrs(vec![attr_int("ceil_mode", ceil as i64)]))
    } else {
        let weights = rng.floats(channels_out * channels_in / group * k * k);
        let wname = g.initializer("w", &[channels_out as i64, (channels_in / group) as i64, k as i64, k as i64], &weights);
        let bname = g.initializer("b", &[channels_out as i64], &rng.floats(channels_out));
        g.node("Conv", &[&x, &wname, &bname], attrs(vec![attr_int("group", group as i64)]))
    };
    match after {
        After::Nothing => {}
        After::Relu => y = g.node("Relu", &[&y], vec![]),
        After::Relu6 => {
            let (lo, hi) = (g.initializer("lo", &[], &[0.0]), g.initializer("hi", &[], &[6.0]));
            y = g.node("Clip", &[&y, &lo, &hi], vec![]);
        }
        After::ScaleShift => {
            let scale = g.initializer("scale", &[channels_out as i64, 1, 1], &rng.floats(channels_out));
            let shift = g.initializer("shift", &[channels_out as i64, 1, 1], &rng.floats(channels_out));
            y = g.node("Mul", &[&y, &scale], vec![]);
            y = g.node("Add", &[&y, &shift], vec![]);
        }
    }
    let out = g.node("Identity", &[&y], vec![]);
    g.output(&out, &[Dim::Fixed(1), Dim::Fixed(channels_out as i64), Dim::Fixed(oh as i64), Dim::Fixed(ow as i64)]);
    let what = format!("{family:?} {channels_in}→{channels_out} k{k} s{stride} pads {pads:?} ceil {ceil} in {h}×{w}, then {after:?}");
    Case { model: g.build(), input: [1, channels_in, h, w], what }
}

/// Runs the case as tract plans it, and with `families` on `isa` when given;
/// returns the output and how many nodes the kernels took.
fn run(case: &Case, input: &Tensor, kernels: Option<(Family, Isa)>) -> (Vec<f32>, usize) {
    let onnx = tract_onnx::onnx();
    let mut model = onnx.model_for_proto_model(&case.model).unwrap();
    model.set_input_fact(0, f32::fact(case.input).into()).unwrap();
    let mut typed = model.into_typed().unwrap();
    let taken = match kernels {
        Some((family, isa)) => substitute(&mut typed, &[family], isa).unwrap().iter().map(|(_, n)| n).sum(),
        None => 0,
    };
    let plan = typed.into_optimized().unwrap().into_runnable().unwrap();
    let output = plan.run(tvec![input.clone().into_tvalue()]).unwrap();
    (output[0].to_plain_array_view::<f32>().unwrap().iter().copied().collect(), taken)
}

fn check(family: Family, seed: u64, cases: usize) {
    let mut rng = Rng(seed);
    for _ in 0..cases {
        let case = case(&mut rng, family);
        let values = rng.floats(case.input.iter().product());
        let input = tract_ndarray::ArrayD::from_shape_vec(&case.input[..], values).unwrap().into_tensor();
        let (want, _) = run(&case, &input, None);
        for isa in Isa::available() {
            let (got, taken) = run(&case, &input, Some((family, isa)));
            assert_eq!(taken, 1, "{isa:?}: the kernel did not take {}", case.what);
            assert_eq!(got.len(), want.len(), "{}", case.what);
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!((g - w).abs() <= 1e-5 * w.abs().max(1.0), "{isa:?} {}: element {i}: {g} against tract's {w}", case.what);
            }
        }
    }
}

#[test]
fn depthwise_matches_tracts_conv() {
    check(Family::Depthwise, 11, 24);
}

#[test]
fn stride_two_depthwise_matches_tracts_conv() {
    check(Family::DepthwiseStride2, 14, 12);
}

#[test]
fn direct_conv_matches_tracts_conv() {
    check(Family::DirectConv, 12, 24);
}

#[test]
fn max_pool_matches_tracts_max_pool() {
    check(Family::MaxPool, 13, 24);
}
