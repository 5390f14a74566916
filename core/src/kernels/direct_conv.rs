//! Direct convolution for layers with few input channels over a large map:
//! the stems (3 → 24 or 32 channels, 3×3 / 2) and MobileNet-style 1×1
//! expansions from up to 16 channels, with the bias and the following
//! element-wise steps fused ([`Epilogue`]).
//!
//! tract 0.23.9 turns these into one matrix product with k ≤ 27: the 3×3
//! stems through im2col, the 1×1 expansions with the spatial axis as m and
//! its tall `80x2` kernel, 5–10× onnxruntime's time. Here each output row
//! is computed in vectors across its columns, [`BLOCK`] output channels at
//! a time, so every input load feeds eight fused multiply-adds and nothing
//! is packed per run.

use super::Epilogue;
use super::planes::{Window, store_lanes};
use super::simd::{Isa, Lanes, isa_dispatch};

/// Output channels computed together.
pub const BLOCK: usize = 8;

/// The most input channels × taps the kernels take: beyond it tract's
/// matrix product has enough depth to be fast.
pub const MAX_DEPTH: usize = 27;

/// One convolution layer's constants (`group` 1).
#[derive(Debug, Clone, PartialEq)]
pub struct DirectConv {
    pub window: Window,
    pub input_channels: usize,
    pub output_channels: usize,
    /// The weights in blocks of [`BLOCK`] output channels:
    /// `[ceil(C_out / BLOCK), C_in, kh, kw, BLOCK]`, zero past `C_out`.
    packed: Vec<f32>,
    /// One per output channel, zero-padded to whole blocks.
    bias: Vec<f32>,
    pub epilogue: Epilogue,
}

impl DirectConv {
    /// `weights` are ONNX's `[C_out, C_in, kh, kw]`, row-major; `bias` has
    /// `C_out` values or is empty.
    pub fn new(window: Window, input_channels: usize, output_channels: usize, weights: &[f32], bias: &[f32], epilogue: Epilogue) -> Self {
        let [kh, kw] = window.kernel;
        let taps = input_channels * kh * kw;
        assert_eq!(weights.len(), output_channels * taps);
        let blocks = output_channels.div_ceil(BLOCK);
        let mut packed = vec![0.0; blocks * taps * BLOCK];
        for oc in 0..output_channels {
            let (block, lane) = (oc / BLOCK, oc % BLOCK);
            for tap in 0..taps {
                packed[(block * taps + tap) * BLOCK + lane] = weights[oc * taps + tap];
            }
        }
        let mut padded_bias = vec![0.0; blocks * BLOCK];
        padded_bias[..bias.len()].copy_from_slice(bias);
        DirectConv { window, input_channels, output_channels, packed, bias: padded_bias, epilogue }
    }

    /// Multiplies output channel `c`'s weights and bias by `factors[c]`
    /// (a batch norm's scale folded in).
    pub fn scale_channels(&mut self, factors: &[f32]) {
        let taps = self.input_channels * self.window.kernel[0] * self.window.kernel[1];
        for (oc, f) in factors.iter().enumerate().take(self.output_channels) {
            let (block, lane) = (oc / BLOCK, oc % BLOCK);
            for tap in 0..taps {
                self.packed[(block * taps + tap) * BLOCK + lane] *= f;
            }
            self.bias[oc] *= f;
        }
    }

    /// Adds `terms[c]` to output channel `c`'s bias.
    pub fn shift_channels(&mut self, terms: &[f32]) {
        self.bias.iter_mut().zip(terms).for_each(|(b, t)| *b += t);
    }

    /// Whether the kernels take this layer: a supported window and at most
    /// [`MAX_DEPTH`] input channels × taps.
    pub fn supported(window: &Window, input_channels: usize) -> bool {
        window.supported() && input_channels * window.kernel[0] * window.kernel[1] <= MAX_DEPTH
    }

    /// Blocks of [`BLOCK`] output channels (the unit of work for threads).
    pub fn blocks(&self) -> usize {
        self.output_channels.div_ceil(BLOCK)
    }

    /// Prepares the `[C_in, H, W]` input into `prepared` (resized), once per
    /// image, before [`run`](Self::run) on any blocks.
    pub fn prepare(&self, isa: Isa, input: &[f32], prepared: &mut Vec<f32>) {
        let [h, w] = self.window.input;
        let plane = self.window.plane_len();
        assert!(Self::supported(&self.window, self.input_channels) && input.len() >= self.input_channels * h * w);
        prepared.resize(self.input_channels * plane, 0.0);
        for (ic, out) in prepared.chunks_exact_mut(plane).enumerate() {
            super::planes::prepare(isa, &input[ic * h * w..(ic + 1) * h * w], &self.window, 0.0, out);
        }
    }

    /// Computes output-channel blocks `blocks` from the prepared input into
    /// `output`, which holds those blocks' channels (`[.., OH, OW]`, the
    /// last block cut at `C_out`).
    pub fn run(&self, isa: Isa, prepared: &[f32], blocks: std::ops::Range<usize>, output: &mut [f32]) {
        let [oh, ow] = self.window.output;
        let first = blocks.start * BLOCK;
        let channels = (blocks.end * BLOCK).min(self.output_channels) - first.min(self.output_channels);
        assert!(blocks.end <= self.blocks() && output.len() >= channels * oh * ow);
        assert!(prepared.len() >= self.input_channels * self.window.plane_len());
        run_blocks(isa, self, prepared, blocks, output);
    }
}

isa_dispatch!(fn run_blocks(layer: &DirectConv, prepared: &[f32], blocks: std::ops::Range<usize>, output: &mut [f32]) => blocks_with);

#[inline(always)]
unsafe fn blocks_with<L: Lanes>(layer: &DirectConv, prepared: &[f32], blocks: std::ops::Range<usize>, output: &mut [f32]) {
    let window = &layer.window;
    let [kh, kw] = window.kernel;
    let [oh, ow] = window.output;
    let plane = window.plane_len();
    let taps = layer.input_channels * kh * kw;
    let out_plane = oh * ow;
    let first = blocks.start;
    let epilogue = &layer.epilogue;
    let constants = unsafe { epilogue.splat::<L>() };
    // Each tap's offset from output column 0 in the prepared input, per
    // output row: channel plane + row + phase column.
    let mut offsets = vec![0usize; taps];
    for block in blocks {
        let weights = &layer.packed[block * taps * BLOCK..(block + 1) * taps * BLOCK];
        let lanes = (layer.output_channels - block * BLOCK).min(BLOCK);
        for oy in 0..oh {
            for ic in 0..layer.input_channels {
                for ky in 0..kh {
                    for kx in 0..kw {
                        offsets[(ic * kh + ky) * kw + kx] = ic * plane + window.tap_row(oy, ky) + window.tap_column(kx);
                    }
                }
            }
            let rows: [*mut f32; BLOCK] = std::array::from_fn(|lane| {
                let channel = ((block - first) * BLOCK + lane).min(output.len() / out_plane.max(1) - 1);
                output[channel * out_plane + oy * ow..].as_mut_ptr()
            });
            let mut x = 0;
            while x < ow {
                let width = L::WIDTH.min(ow - x);
                unsafe {
                    let mut acc = [L::splat(0.0); BLOCK];
                    for (lane, a) in acc.iter_mut().enumerate() {
                        *a = L::splat(layer.bias[block * BLOCK + lane]);
                    }
                    for (tap, &offset) in offsets.iter().enumerate() {
                        let v = L::load(prepared.as_ptr().add(offset + x));
                        let w = weights.as_ptr().add(tap * BLOCK);
                        for (lane, a) in acc.iter_mut().enumerate() {
                            *a = L::fma(L::splat(*w.add(lane)), v, *a);
                        }
                    }
                    for (lane, a) in acc.into_iter().enumerate() {
                        let a = epilogue.apply_lanes::<L>(a, &constants);
                        if lane < lanes {
                            store_lanes::<L>(rows[lane].add(x), width, a);
                        }
                    }
                }
                x += L::WIDTH;
            }
        }
    }
}
