//! Max pooling over 2×2 or 3×3 windows, stride 1 or 2 (SqueezeNet's and
//! ShuffleNet's 3×3 / 2 pools), padding and `ceil_mode` included.
//!
//! tract 0.23.9's `MaxPool` runs one scalar loop over the window per output
//! (10× onnxruntime's time on SqueezeNet's first pool). Here each output
//! row is a vector maximum over the prepared plane ([`super::planes`]),
//! filled with −∞ where ONNX's padding, or a `ceil_mode` window's overhang,
//! reads outside the input: padding never wins a maximum.

use super::planes::{Window, prepare_plane, store_lanes};
use super::simd::{Isa, Lanes, isa_dispatch};

/// One max-pool layer.
#[derive(Debug, Clone, PartialEq)]
pub struct MaxPool {
    pub window: Window,
    pub channels: usize,
}

impl MaxPool {
    /// Whether the kernels take this window: supported, square 2×2 or 3×3.
    pub fn supported(window: &Window) -> bool {
        window.supported() && matches!(window.kernel, [2, 2] | [3, 3])
    }

    /// Pools channels `channels` of one `[C, H, W]` image into `output`
    /// (those channels' `[.., OH, OW]`); `scratch` is resized as needed.
    pub fn run(&self, isa: Isa, input: &[f32], channels: std::ops::Range<usize>, output: &mut [f32], scratch: &mut Vec<f32>) {
        let [h, w] = self.window.input;
        let [oh, ow] = self.window.output;
        assert!(Self::supported(&self.window) && channels.end <= self.channels);
        assert!(input.len() >= self.channels * h * w && output.len() >= channels.len() * oh * ow);
        scratch.resize(self.window.plane_len(), 0.0);
        run_channels(isa, self, input, channels, output, scratch);
    }
}

isa_dispatch!(fn run_channels(layer: &MaxPool, input: &[f32], channels: std::ops::Range<usize>, output: &mut [f32], scratch: &mut [f32]) => channels_with);

#[inline(always)]
unsafe fn channels_with<L: Lanes>(layer: &MaxPool, input: &[f32], channels: std::ops::Range<usize>, output: &mut [f32], scratch: &mut [f32]) {
    let window = &layer.window;
    let plane = window.input[0] * window.input[1];
    let out_plane = window.output[0] * window.output[1];
    for (i, c) in channels.enumerate() {
        unsafe {
            prepare_plane::<L>(&input[c * plane..(c + 1) * plane], window, f32::NEG_INFINITY, scratch);
            let output = &mut output[i * out_plane..(i + 1) * out_plane];
            match window.kernel[0] {
                2 => channel::<L, 2>(window, scratch, output),
                _ => channel::<L, 3>(window, scratch, output),
            }
        }
    }
}

#[inline(always)]
unsafe fn channel<L: Lanes, const K: usize>(window: &Window, prepared: &[f32], output: &mut [f32]) {
    let [oh, ow] = window.output;
    let columns: [usize; K] = std::array::from_fn(|kx| window.tap_column(kx));
    let base = prepared.as_ptr();
    for oy in 0..oh {
        unsafe {
            let rows: [*const f32; K] = std::array::from_fn(|ky| base.add(window.tap_row(oy, ky)));
            let out = output.as_mut_ptr().add(oy * ow);
            let mut x = 0;
            while x < ow {
                let mut acc = L::load(rows[0].add(columns[0] + x));
                for ky in 0..K {
                    for kx in 0..K {
                        if ky + kx > 0 {
                            acc = L::max(acc, L::load(rows[ky].add(columns[kx] + x)));
                        }
                    }
                }
                store_lanes::<L>(out.add(x), L::WIDTH.min(ow - x), acc);
                x += L::WIDTH;
            }
        }
    }
}
