//! Depthwise convolution (`group` = channels, one filter per channel), 3×3
//! or 5×5, stride 1 or 2, with the bias and the following element-wise steps fused ([`Epilogue`]).
//!
//! tract 0.23.9 runs these with `DepthWise`, whose stride-2 path is scalar
//! (4.4× onnxruntime's time on EfficientNet-Lite0's [1,96,112,112] layer).
//! Here each output row is computed in vectors across its columns: nine
//! (or 25) fused multiply-adds per vector, every tap one contiguous load
//! from the prepared plane ([`super::planes`]).

use super::Epilogue;
use super::planes::{Window, prepare_plane, store_lanes};
use super::simd::{Isa, Lanes, isa_dispatch};

/// One depthwise layer's constants.
#[derive(Debug, Clone, PartialEq)]
pub struct Depthwise {
    pub window: Window,
    /// `[channels, kh, kw]`, row-major (ONNX's `[C, 1, kh, kw]`).
    pub weights: Vec<f32>,
    /// One per channel (zeros when the model has none).
    pub bias: Vec<f32>,
    pub epilogue: Epilogue,
}

impl Depthwise {
    pub fn channels(&self) -> usize {
        self.bias.len()
    }

    /// Whether the kernels take this layer: a supported window, square 3×3 or 5×5.
    pub fn supported(window: &Window) -> bool {
        window.supported() && matches!(window.kernel, [3, 3] | [5, 5])
    }

    /// Runs channels `channels` of one image: `input` is the whole
    /// `[C, H, W]` image, `output` the same channels' `[.., OH, OW]` rows.
    /// `scratch` is resized as needed and may be reused between calls.
    pub fn run(&self, isa: Isa, input: &[f32], channels: std::ops::Range<usize>, output: &mut [f32], scratch: &mut Vec<f32>) {
        let [h, w] = self.window.input;
        let [oh, ow] = self.window.output;
        assert!(Self::supported(&self.window) && channels.end <= self.channels());
        assert!(input.len() >= self.channels() * h * w && output.len() >= channels.len() * oh * ow);
        scratch.resize(self.window.plane_len(), 0.0);
        run_channels(isa, self, input, channels, output, scratch);
    }
}

isa_dispatch!(fn run_channels(layer: &Depthwise, input: &[f32], channels: std::ops::Range<usize>, output: &mut [f32], scratch: &mut [f32]) => channels_with);

#[inline(always)]
unsafe fn channels_with<L: Lanes>(layer: &Depthwise, input: &[f32], channels: std::ops::Range<usize>, output: &mut [f32], scratch: &mut [f32]) {
    let window = &layer.window;
    let plane = window.input[0] * window.input[1];
    let out_plane = window.output[0] * window.output[1];
    for (i, c) in channels.enumerate() {
        let input = &input[c * plane..(c + 1) * plane];
        let output = &mut output[i * out_plane..(i + 1) * out_plane];
        unsafe {
            prepare_plane::<L>(input, window, 0.0, scratch);
            match window.kernel[0] {
                3 => channel::<L, 3>(layer, c, scratch, output),
                _ => channel::<L, 5>(layer, c, scratch, output),
            }
        }
    }
}

#[inline(always)]
unsafe fn channel<L: Lanes, const K: usize>(layer: &Depthwise, c: usize, prepared: &[f32], output: &mut [f32]) {
    let window = &layer.window;
    let [oh, ow] = window.output;
    unsafe {
        let mut weights = [[L::splat(0.0); K]; K];
        for (ky, row) in weights.iter_mut().enumerate() {
            for (kx, w) in row.iter_mut().enumerate() {
                *w = L::splat(layer.weights[(c * K + ky) * K + kx]);
            }
        }
        let columns: [usize; K] = std::array::from_fn(|kx| window.tap_column(kx));
        let bias = L::splat(layer.bias[c]);
        let epilogue = &layer.epilogue;
        let constants = epilogue.splat::<L>();
        let base = prepared.as_ptr();
        for oy in 0..oh {
            let rows: [*const f32; K] = std::array::from_fn(|ky| base.add(window.tap_row(oy, ky)));
            let out = output.as_mut_ptr().add(oy * ow);
            let mut x = 0;
            while x < ow {
                let mut acc = bias;
                for ky in 0..K {
                    for kx in 0..K {
                        acc = L::fma(weights[ky][kx], L::load(rows[ky].add(columns[kx] + x)), acc);
                    }
                }
                acc = epilogue.apply_lanes::<L>(acc, &constants);
                store_lanes::<L>(out.add(x), L::WIDTH.min(ow - x), acc);
                x += L::WIDTH;
            }
        }
    }
}
