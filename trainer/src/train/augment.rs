//! The training augmentation, torchvision's `RandomResizedCrop` (area
//! 35–100 %, aspect 3/4–4/3, bilinear) and `RandomHorizontalFlip`, in two
//! places that draw the same windows from the same seeds:
//! - on CPU threads ([`augment`]): crop and resize with taxa-core's
//!   resampler, then the batch is normalised ([`super::presets::batch_input`]);
//! - on the device ([`augment_on_device`]): uint8 squares go to the device
//!   whole and one `grid_sampler_2d` crops, resizes and mirrors the batch,
//!   then it is normalised there. The CUDA default: CPU threads deliver a
//!   few thousand crops per second per core, far from what an H200 trains.

use rand::{Rng, rngs::StdRng};
use tch::{Device, Kind, Tensor};
use taxa_core::preprocess::{Interpolation, resample};
use taxa_core::{PixelFormat, PixelsRef, PreprocessContract};

/// One random resized crop of a `side`×`side` image: the window in source
/// pixels (left, top, width, height; continuous coordinates) and the mirror.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CropWindow {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
    pub flip: bool,
}

impl CropWindow {
    /// Area 35–100 % of the square, aspect (w/h) log-uniform in 3/4–4/3,
    /// clipped to the square, anywhere inside it; a coin flip mirrors.
    pub fn draw(side: u32, rng: &mut StdRng) -> CropWindow {
        let s = side as f64;
        let area = s * s * rng.random_range(0.35..1.0);
        let ratio = (rng.random_range((0.75f64).ln()..(4.0f64 / 3.0).ln())).exp();
        let width = (area * ratio).sqrt().min(s);
        let height = (area / ratio).sqrt().min(s);
        let (left, top) = (rng.random_range(0.0..=(s - width)), rng.random_range(0.0..=(s - height)));
        CropWindow { left, top, width, height, flip: rng.random_bool(0.5) }
    }
}

/// The CPU path: a random resized crop of a cached `side`×`side` RGB image
/// to `out`×`out` (8-bit RGB, HWC), mirrored half the time.
pub(super) fn augment(pixels: &[u8], side: u32, out: u32, rng: &mut StdRng) -> Vec<u8> {
    let c = CropWindow::draw(side, rng);
    let src = PixelsRef::new(side, side, PixelFormat::Rgb8, pixels).expect("cached image");
    let mut crop = resample(src, (c.left, c.top, c.width, c.height), out, out, Interpolation::Bilinear).expect("valid window");
    if c.flip {
        for row in crop.chunks_exact_mut(out as usize * 3) {
            let pixels: Vec<[u8; 3]> = row.chunks_exact(3).rev().map(|p| [p[0], p[1], p[2]]).collect();
            row.copy_from_slice(pixels.as_flattened());
        }
    }
    crop
}

/// The device path: `squares` is a uint8 batch `[n, side, side, 3]` (HWC,
/// as cached) on any device; returns the network input `[n, 3, out, out]`
/// float32 (NCHW) on that device, each image cropped by its window
/// (bilinear, `align_corners = false`: pixel centres as in the CPU path),
/// mirrored when the window says so, and normalised with `contract`'s
/// channel order, scale and bias — what [`super::presets::to_input`] gives
/// for CPU-augmented pixels, up to the resampling filter (the CPU resampler
/// widens its filter when it shrinks; `grid_sampler_2d` does not).
pub fn augment_on_device(squares: &Tensor, windows: &[CropWindow], out: u32, contract: &PreprocessContract) -> Tensor {
    let (n, side, device) = (windows.len() as i64, squares.size()[1] as f64, squares.device());
    // Output x in [-1, 1] maps to input (w/side)·x + (2·left + w)/side − 1; a mirror negates the x scale.
    let theta: Vec<f32> = windows
        .iter()
        .flat_map(|c| {
            let sx = (c.width / side) * if c.flip { -1.0 } else { 1.0 };
            let sy = c.height / side;
            [sx, 0.0, (2.0 * c.left + c.width) / side - 1.0, 0.0, sy, (2.0 * c.top + c.height) / side - 1.0].map(|v| v as f32)
        })
        .collect();
    let theta = Tensor::from_slice(&theta).view([n, 2, 3]).to_device(device);
    let grid = Tensor::affine_grid_generator(&theta, [n, 3, out as i64, out as i64], false);
    let x = squares.permute([0, 3, 1, 2]).to_kind(Kind::Float);
    // Bilinear (0), border padding (1): the window never leaves the image.
    let x = x.grid_sampler(&grid, 0, 1, false);
    normalise_nchw(&x, contract, device)
}

/// Normalises a float NCHW batch of 0–255 RGB values: channel order,
/// scale and bias of `contract` (see [`PreprocessContract::normalization`]).
fn normalise_nchw(x: &Tensor, contract: &PreprocessContract, device: Device) -> Tensor {
    let norm = contract.normalization();
    let source = Tensor::from_slice(&norm.source.map(|c| c as i64)).to_device(device);
    let scale = Tensor::from_slice(&norm.scale).to_device(device).view([1, 3, 1, 1]);
    let bias = Tensor::from_slice(&norm.bias).to_device(device).view([1, 3, 1, 1]);
    x.index_select(1, &source) * scale + bias
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// A square whose red channel is 4·x and green 4·y: a crop's pixels say
    /// where it came from.
    fn ramp(side: u32) -> Vec<u8> {
        (0..side).flat_map(|y| (0..side).flat_map(move |x| [(4 * x) as u8, (4 * y) as u8, 0])).collect()
    }

    /// (width, height in source pixels, mirrored) read back from a crop
    /// (`[out, out, 3]` values on the 0–255 scale), from interior slopes.
    fn window_of(px: impl Fn(usize, usize, usize) -> f64, out: usize) -> (f64, f64, bool) {
        let (a, b, mid) = (2, out - 3, out / 2);
        let dx = (px(mid, b, 0) - px(mid, a, 0)) / 4.0 / (b - a) as f64 * out as f64;
        let dy = (px(b, mid, 1) - px(a, mid, 1)) / 4.0 / (b - a) as f64 * out as f64;
        (dx.abs(), dy, dx < 0.0)
    }

    #[test]
    fn the_device_crops_have_the_cpu_crops_statistics() {
        let (side, out, draws) = (64u32, 16usize, 400);
        let contract = PreprocessContract::imagenet_sized(out as u32);
        let pixels = ramp(side);
        let squares = Tensor::from_slice(&pixels).view([1, side as i64, side as i64, 3]).repeat([draws as i64, 1, 1, 1]);
        let windows: Vec<CropWindow> = (0..draws).map(|i| CropWindow::draw(side, &mut StdRng::seed_from_u64(i as u64))).collect();
        // Undo the normalisation to read the ramp back.
        let norm = contract.normalization();
        let x = augment_on_device(&squares, &windows, out as u32, &contract);
        assert_eq!(x.size(), [draws as i64, 3, out as i64, out as i64]);
        let unnorm = |t: &Tensor, i: usize, y: usize, xx: usize, c: usize| {
            let k = norm.source.iter().position(|&s| s == c).unwrap();
            (t.double_value(&[i as i64, k as i64, y as i64, xx as i64]) - norm.bias[k] as f64) / norm.scale[k] as f64
        };
        let (mut cpu, mut dev) = (Vec::new(), Vec::new());
        for i in 0..draws {
            let crop = augment(&pixels, side, out as u32, &mut StdRng::seed_from_u64(i as u64));
            cpu.push(window_of(|y, x, c| crop[(y * out + x) * 3 + c] as f64, out));
            dev.push(window_of(|y, xx, c| unnorm(&x, i, y, xx, c), out));
        }
        let stats = |v: &[(f64, f64, bool)]| {
            let n = v.len() as f64;
            let scale = v.iter().map(|(w, h, _)| w * h / (side * side) as f64).sum::<f64>() / n;
            let log_aspect = v.iter().map(|(w, h, _)| (w / h).ln()).sum::<f64>() / n;
            let flips = v.iter().filter(|(_, _, f)| *f).count() as f64 / n;
            (scale, log_aspect, flips)
        };
        let ((cs, ca, cf), (ds, da, df)) = (stats(&cpu), stats(&dev));
        assert!((cs - ds).abs() < 0.02 && (ca - da).abs() < 0.02, "scale {cs:.3} vs {ds:.3}, log aspect {ca:.3} vs {da:.3}");
        assert_eq!(cf, df, "the same windows mirror");
        assert!((0.4..0.6).contains(&df), "flip rate {df}");
        // Area 35–100 % drawn uniformly (clipping to the square lowers it a little).
        assert!((0.6..0.7).contains(&ds), "mean area {ds:.3}");
        for (c, d) in cpu.iter().zip(&dev) {
            assert!((c.0 - d.0).abs() < 1.5 && (c.1 - d.1).abs() < 1.5 && c.2 == d.2, "window {c:?} vs {d:?}");
        }
    }
}
