//! Each kernel against a plain reference on random shapes, on every
//! instruction set this CPU runs. (core/tests/kernels.rs checks them
//! against tract's own operators, through the plan.)

use super::depthwise::Depthwise;
use super::direct_conv::DirectConv;
use super::max_pool::MaxPool;
use super::*;

/// A small deterministic generator (xorshift), so failures reproduce.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub(crate) fn float(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
    pub(crate) fn floats(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.float()).collect()
    }
}

/// A random window: kernel `k`, stride 1 or 2, padding below `k`, and the
/// output ONNX gives with pads after of 0..k (`ceil` adds one more column
/// and row when a window still starts inside).
pub(crate) fn random_window(rng: &mut Rng, k: usize, ceil: bool) -> Window {
    let stride = 1 + rng.below(2);
    let (pad_top, pad_left) = (rng.below(k), rng.below(k));
    let input = [1 + rng.below(20), 1 + rng.below(40)];
    let out = |size: usize, before: usize, after: usize| {
        let span = (size + before + after).saturating_sub(k);
        let n = if ceil { span.div_ceil(stride) } else { span / stride } + 1;
        // A last window must start inside the input or the padding before it.
        if (n - 1) * stride >= size + before { n - 1 } else { n }
    };
    let (after_h, after_w) = (rng.below(k), rng.below(k));
    let output = [out(input[0], pad_top, after_h), out(input[1], pad_left, after_w)];
    Window { kernel: [k, k], stride, pad_top, pad_left, input, output }
}

/// The value tap (ky, kx) of output (oy, ox) reads, or None outside the input.
fn tap(window: &Window, plane: &[f32], oy: usize, ox: usize, ky: usize, kx: usize) -> Option<f32> {
    let y = (oy * window.stride + ky).checked_sub(window.pad_top).filter(|&y| y < window.input[0])?;
    let x = (ox * window.stride + kx).checked_sub(window.pad_left).filter(|&x| x < window.input[1])?;
    Some(plane[y * window.input[1] + x])
}

/// Within 1e-5; after a fake quantisation (rounding to steps of
/// [`QUANT_STEP`]), a sum that differs in its last bits may round to the
/// neighbouring step, so there one step is allowed on at most 1 in 1,000.
fn close(got: &[f32], want: &[f32], epilogue: &Epilogue, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    let quantised = epilogue.steps().len() == 6;
    let mut neighbours = 0;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if quantised && (g - w).abs() <= QUANT_STEP * 1.001 && (g - w).abs() > 1e-5 {
            neighbours += 1;
            continue;
        }
        assert!((g - w).abs() <= 1e-5 * (1.0 + w.abs()), "{what}: element {i}: {g} against {w}");
    }
    assert!(neighbours * 1000 <= got.len().max(1000), "{what}: {neighbours} of {} a step apart", got.len());
}

const QUANT_STEP: f32 = 0.025;

/// None, ReLU, a clamp, or a fake quantisation's steps.
pub(crate) fn random_epilogue(rng: &mut Rng) -> Epilogue {
    let fake_quant = [(Step::Mul, 40.0), (Step::Add, 12_582_912.0), (Step::Max, 12_582_912.0 - 3.0), (Step::Min, 12_582_912.0 + 252.0), (Step::Add, -12_582_912.0), (Step::Mul, QUANT_STEP)];
    match rng.below(4) {
        0 => Epilogue::NONE,
        1 => Epilogue::NONE.then(Step::Max, 0.0).unwrap(),
        2 => Epilogue::clamp(0.0, 0.5),
        _ => fake_quant.iter().fold(Epilogue::NONE, |e, &(s, c)| e.then(s, c).unwrap()),
    }
}

#[test]
fn depthwise_matches_the_reference_on_every_path() {
    let mut rng = Rng::new(1);
    for case in 0..60 {
        let k = [3, 5][case % 2];
        let window = random_window(&mut rng, k, false);
        if !Depthwise::supported(&window) {
            continue;
        }
        let channels = 1 + rng.below(5);
        let [h, w] = window.input;
        let [oh, ow] = window.output;
        let input = rng.floats(channels * h * w);
        let layer = Depthwise { window, weights: rng.floats(channels * k * k), bias: rng.floats(channels), epilogue: random_epilogue(&mut rng) };
        let mut want = vec![0.0; channels * oh * ow];
        for c in 0..channels {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = layer.bias[c];
                    for ky in 0..k {
                        for kx in 0..k {
                            acc += tap(&window, &input[c * h * w..], oy, ox, ky, kx).unwrap_or(0.0) * layer.weights[(c * k + ky) * k + kx];
                        }
                    }
                    want[(c * oh + oy) * ow + ox] = layer.epilogue.apply(acc);
                }
            }
        }
        for isa in Isa::available() {
            let mut got = vec![f32::NAN; channels * oh * ow];
            let mut scratch = vec![];
            // Two ranges, as threads split them.
            let half = channels / 2;
            layer.run(isa, &input, 0..half, &mut got[..half * oh * ow], &mut scratch);
            layer.run(isa, &input, half..channels, &mut got[half * oh * ow..], &mut scratch);
            close(&got, &want, &layer.epilogue, &format!("depthwise {isa:?} {window:?}"));
        }
    }
}

#[test]
fn direct_conv_matches_the_reference_on_every_path() {
    let mut rng = Rng::new(2);
    for case in 0..60 {
        let k = [1, 3][case % 2];
        let window = random_window(&mut rng, k, false);
        let input_channels = 1 + rng.below(if k == 1 { 16 } else { 3 });
        if !DirectConv::supported(&window, input_channels) {
            continue;
        }
        let output_channels = 1 + rng.below(20);
        let [h, w] = window.input;
        let [oh, ow] = window.output;
        let input = rng.floats(input_channels * h * w);
        let weights = rng.floats(output_channels * input_channels * k * k);
        let bias = if rng.below(2) == 0 { rng.floats(output_channels) } else { vec![] };
        let epilogue = random_epilogue(&mut rng);
        let layer = DirectConv::new(window, input_channels, output_channels, &weights, &bias, epilogue);
        let mut want = vec![0.0; output_channels * oh * ow];
        for oc in 0..output_channels {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = bias.get(oc).copied().unwrap_or(0.0);
                    for ic in 0..input_channels {
                        for ky in 0..k {
                            for kx in 0..k {
                                let x = tap(&window, &input[ic * h * w..], oy, ox, ky, kx).unwrap_or(0.0);
                                acc += x * weights[((oc * input_channels + ic) * k + ky) * k + kx];
                            }
                        }
                    }
                    want[(oc * oh + oy) * ow + ox] = epilogue.apply(acc);
                }
            }
        }
        for isa in Isa::available() {
            let mut prepared = vec![];
            layer.prepare(isa, &input, &mut prepared);
            let mut got = vec![f32::NAN; output_channels * oh * ow];
            let blocks = layer.blocks();
            let split = blocks / 2 * direct_conv::BLOCK * oh * ow;
            let (first, second) = got.split_at_mut(split);
            layer.run(isa, &prepared, 0..blocks / 2, first);
            layer.run(isa, &prepared, blocks / 2..blocks, second);
            close(&got, &want, &epilogue, &format!("direct conv {isa:?} {input_channels}→{output_channels} {window:?}"));
        }
    }
}

#[test]
fn max_pool_matches_the_reference_on_every_path_with_ceil_mode() {
    let mut rng = Rng::new(3);
    for case in 0..60 {
        let k = [2, 3][case % 2];
        let window = random_window(&mut rng, k, case % 4 < 2);
        if !MaxPool::supported(&window) {
            continue;
        }
        let channels = 1 + rng.below(4);
        let [h, w] = window.input;
        let [oh, ow] = window.output;
        let input = rng.floats(channels * h * w);
        let mut want = vec![f32::NEG_INFINITY; channels * oh * ow];
        for c in 0..channels {
            for oy in 0..oh {
                for ox in 0..ow {
                    for ky in 0..k {
                        for kx in 0..k {
                            if let Some(v) = tap(&window, &input[c * h * w..], oy, ox, ky, kx) {
                                let slot = &mut want[(c * oh + oy) * ow + ox];
                                *slot = slot.max(v);
                            }
                        }
                    }
                }
            }
        }
        let layer = MaxPool { window, channels };
        for isa in Isa::available() {
            let mut got = vec![f32::NAN; channels * oh * ow];
            layer.run(isa, &input, 0..channels, &mut got, &mut vec![]);
            close(&got, &want, &Epilogue::NONE, &format!("max pool {isa:?} {window:?}"));
        }
    }
}
