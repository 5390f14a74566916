//! The preprocessing contract (resize, crop, mean/std, layout) and the one
//! implementation of it. The trainer calls this same code for evaluation, so
//! training and the device cannot drift apart.

use fast_image_resize::{self as fr, images::Image, images::ImageRef};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TaxaError};
use crate::pixels::{PixelFormat, PixelsRef};

/// How the source image is scaled before cropping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "snake_case")]
pub enum Resize {
    /// Scale so the shorter side is `size` pixels, keeping the aspect ratio
    /// (torchvision `Resize(int)`: the longer side becomes
    /// `int(size × long / short)`).
    ShorterSide {
        /// The shorter side after resizing, in pixels.
        size: u32,
    },
    /// Scale to exactly `width`×`height` pixels, ignoring the aspect ratio.
    Stretch { width: u32, height: u32 },
}

/// What is cut out of the resized image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "snake_case")]
pub enum Crop {
    /// torchvision `CenterCrop((height, width))`: a `width`×`height` pixel
    /// window in the middle of the resized image (offsets rounded half to even).
    Center { width: u32, height: u32 },
    /// Keep the whole resized image.
    None,
}

/// The resampling filter of the resize (fast_image_resize's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interpolation {
    /// Nearest neighbour: each output pixel copies one source pixel. Large
    /// JPEGs are then decoded in full, not reduced, so the same pixels are picked.
    Nearest,
    /// Antialiased bilinear, as Pillow and torchvision (antialias=True) do it.
    Bilinear,
    /// Pillow's bicubic (Catmull-Rom, a = -0.5).
    Bicubic,
    /// Lanczos with 3 lobes (Pillow's `LANCZOS`).
    Lanczos3,
}

/// The order of the colour channels the model takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelOrder {
    Rgb,
    Bgr,
}

impl ChannelOrder {
    /// For each model channel, the RGB channel it reads (0 = red, 1 =
    /// green, 2 = blue): `[0, 1, 2]` for RGB, `[2, 1, 0]` for BGR.
    pub fn source_channels(self) -> [usize; 3] {
        match self {
            ChannelOrder::Rgb => [0, 1, 2],
            ChannelOrder::Bgr => [2, 1, 0],
        }
    }
}

/// The memory layout of the model's input tensor: batch, channels, height,
/// width (PyTorch's) or batch, height, width, channels (TensorFlow's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    Nchw,
    Nhwc,
}

/// The element type of the model input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    /// `(pixel / value_scale − mean) / std` as float32 (torchvision's, and
    /// float TFLite models').
    #[default]
    Float32,
    /// The resized 8-bit pixels themselves (0–255), for models that
    /// normalise inside the graph: quantised TFLite imports, ONNX models
    /// with a uint8 input. The contract's normalisation is then the
    /// identity (mean 0, std 1, value_scale 1). Bundle format version 2.
    Uint8,
}

impl InputType {
    fn is_float32(&self) -> bool {
        *self == InputType::Float32
    }
}

/// A contract's normalisation as one multiply-add per model channel, in the
/// model's channel order: model channel `c` of a pixel is
/// `rgb[source[c]] as f32 * scale[c] + bias[c]`, where `rgb` are the 8-bit
/// values (0–255) of the resized pixel. Equal to
/// `(pixel / value_scale − mean) / std` with the mean and std of that colour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChannelNormalization {
    /// RGB channel (0 = red, 1 = green, 2 = blue) each model channel reads.
    pub source: [usize; 3],
    /// Per model channel, per 8-bit unit: `1 / (value_scale · std)`.
    pub scale: [f32; 3],
    /// Per model channel, dimensionless: `−mean / std`.
    pub bias: [f32; 3],
}

/// Everything needed to turn pixels into the model's input tensor.
/// Values are computed as `(pixel / value_scale - mean) / std`, float32.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreprocessContract {
    /// How the whole image is scaled first (sizes in pixels).
    pub resize: Resize,
    /// What is cut from the resized image. Its size (or the stretch size,
    /// without a crop) is the model input's width and height in pixels.
    pub crop: Crop,
    /// The resampling filter. Resize and crop are done in one resample of
    /// the source window the crop covers.
    pub interpolation: Interpolation,
    /// Per colour, in red, green, blue order whatever `channel_order` is; in
    /// units of `pixel / value_scale` (the 0–1 scale when `value_scale` is 255).
    pub mean: [f32; 3],
    /// Per colour, red, green, blue order, same units as `mean`; non-zero.
    pub std: [f32; 3],
    /// The order of the colour channels in the model input.
    pub channel_order: ChannelOrder,
    /// The memory layout of the model input (NCHW or NHWC).
    pub layout: Layout,
    /// What the 8-bit pixel values (0–255) are divided by before the mean
    /// and std: 255 for torchvision's `ToTensor` scale, 1 to keep 0–255. Positive.
    pub value_scale: f32,
    /// The model input's element type: float32 (normalised as above), or
    /// uint8 (the 8-bit pixels, normalisation the identity). Absent in
    /// JSON means float32.
    #[serde(default, skip_serializing_if = "InputType::is_float32")]
    pub input_type: InputType,
}

impl Default for PreprocessContract {
    fn default() -> Self {
        Self::imagenet()
    }
}

impl PreprocessContract {
    /// The ImageNet-standard contract: shorter side to 256 (bilinear), centre
    /// crop 224, ImageNet mean/std, RGB, NCHW float32.
    pub fn imagenet() -> Self {
        Self::imagenet_sized(224)
    }

    /// The ImageNet recipe at another input size (resize = size × 256/224).
    pub fn imagenet_sized(size: u32) -> Self {
        PreprocessContract {
            resize: Resize::ShorterSide { size: (size as f64 * 256.0 / 224.0).round() as u32 },
            crop: Crop::Center { width: size, height: size },
            interpolation: Interpolation::Bilinear,
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
            channel_order: ChannelOrder::Rgb,
            layout: Layout::Nchw,
            value_scale: 255.0,
            input_type: InputType::Float32,
        }
    }

    /// `geometry`'s resize, crop, interpolation, channel order and layout,
    /// feeding the 8-bit pixels as they are ([`InputType::Uint8`], identity
    /// normalisation).
    pub fn raw_pixels(geometry: PreprocessContract) -> Self {
        PreprocessContract { mean: [0.0; 3], std: [1.0; 3], value_scale: 1.0, input_type: InputType::Uint8, ..geometry }
    }

    /// The (width, height) of the model input.
    pub fn input_size(&self) -> Result<(u32, u32), String> {
        match (self.crop, self.resize) {
            (Crop::Center { width, height }, _) => Ok((width, height)),
            (Crop::None, Resize::Stretch { width, height }) => Ok((width, height)),
            (Crop::None, Resize::ShorterSide { .. }) => {
                Err("a shorter-side resize without a crop gives no fixed input size".into())
            }
        }
    }

    /// The input tensor shape for a batch of one, in this contract's layout.
    pub fn input_shape(&self) -> Result<[usize; 4], String> {
        let (w, h) = self.input_size()?;
        Ok(match self.layout {
            Layout::Nchw => [1, 3, h as usize, w as usize],
            Layout::Nhwc => [1, h as usize, w as usize, 3],
        })
    }

    /// Checks the contract can be applied. Refused, with a message: no fixed
    /// input size (a shorter-side resize without a crop); an input width or
    /// height of 0 or over 8192 pixels; a resize smaller than the crop (for
    /// a shorter-side resize, smaller than the crop's longer side); a
    /// non-finite mean; a non-finite or zero std; a `value_scale` that is not
    /// finite and positive; a uint8 input whose normalisation is not the
    /// identity. Bundle loading reports it as
    /// [`TaxaError::BundleMetadata`] for `taxa.preprocess`.
    pub fn validate(&self) -> Result<(), String> {
        let (w, h) = self.input_size()?;
        if w == 0 || h == 0 || w > 8192 || h > 8192 {
            return Err(format!("input size {w}×{h} is out of range"));
        }
        match (self.resize, self.crop) {
            (Resize::ShorterSide { size }, Crop::Center { width, height }) if size < width.max(height) => {
                return Err(format!("resize to {size} is smaller than the {width}×{height} crop"));
            }
            (Resize::Stretch { width: rw, height: rh }, Crop::Center { width, height }) if rw < width || rh < height => {
                return Err(format!("stretch to {rw}×{rh} is smaller than the {width}×{height} crop"));
            }
            _ => {}
        }
        if self.std.iter().any(|s| !s.is_finite() || *s == 0.0) || self.mean.iter().any(|m| !m.is_finite()) {
            return Err("mean and std must be finite and std non-zero".into());
        }
        if !self.value_scale.is_finite() || self.value_scale <= 0.0 {
            return Err("value_scale must be positive".into());
        }
        if self.input_type == InputType::Uint8 && (self.mean != [0.0; 3] || self.std != [1.0; 3] || self.value_scale != 1.0) {
            return Err("a uint8 input takes the pixels as they are: mean must be 0, std 1 and value_scale 1".into());
        }
        Ok(())
    }

    /// Where the model's input window lies in a `src_w`×`src_h` source, in
    /// source pixels (left, top, width, height). Resizing that window straight
    /// to the input size equals resize-then-crop, at a fraction of the work.
    pub fn source_window(&self, src_w: u32, src_h: u32) -> (f64, f64, f64, f64) {
        let (resized_w, resized_h) = match self.resize {
            Resize::ShorterSide { size } => {
                // torchvision: the short side becomes `size`, the long side int(size * long / short).
                let (short, long) = (src_w.min(src_h) as u64, src_w.max(src_h) as u64);
                let new_long = (size as u64 * long / short) as u32;
                if src_w <= src_h { (size, new_long) } else { (new_long, size) }
            }
            Resize::Stretch { width, height } => (width, height),
        };
        let (sx, sy) = (resized_w as f64 / src_w as f64, resized_h as f64 / src_h as f64);
        match self.crop {
            Crop::Center { width, height } => {
                // torchvision's CenterCrop: int(round((size - crop) / 2)), round half to even.
                let left = ((resized_w as f64 - width as f64) / 2.0).round_ties_even();
                let top = ((resized_h as f64 - height as f64) / 2.0).round_ties_even();
                // Mapped back to the source, a window ending at the resized
                // edge can overshoot the source edge by a rounding error
                // (640×480 at 64: 73 / (73 / 480) > 480): clamp it.
                let (left, top) = (left / sx, top / sy);
                let w = (width as f64 / sx).min(src_w as f64 - left);
                let h = (height as f64 / sy).min(src_h as f64 - top);
                (left, top, w, h)
            }
            Crop::None => (0.0, 0.0, src_w as f64, src_h as f64),
        }
    }

    /// Turns packed pixels into the model input tensor (batch of one), as a
    /// flat vector in this contract's layout.
    pub fn apply(&self, pixels: PixelsRef<'_>) -> Result<Vec<f32>> {
        let mut out = Vec::new();
        self.apply_into(pixels, &mut out)?;
        Ok(out)
    }

    /// Like [`apply`](Self::apply), appending to `out` (for building batches).
    pub fn apply_into(&self, pixels: PixelsRef<'_>, out: &mut Vec<f32>) -> Result<()> {
        let (resized, w, h) = self.resize_to_input(pixels)?;
        self.normalize_into(&resized, pixels.format, w, h, out);
        Ok(())
    }

    /// The resize and crop steps only: the model's input window as 8-bit
    /// pixels in the source's format, with its (width, height). Training
    /// caches these and normalises on the accelerator.
    pub fn resize_to_input(&self, pixels: PixelsRef<'_>) -> Result<(Vec<u8>, u32, u32)> {
        let (dst_w, dst_h) = self.input_size().map_err(TaxaError::InvalidOptions)?;
        let window = self.source_window(pixels.width, pixels.height);
        Ok((resample(pixels, window, dst_w, dst_h, self.interpolation)?, dst_w, dst_h))
    }

    /// The normalisation step as per-channel scale and bias in the model's
    /// channel order (see [`ChannelNormalization`]); with
    /// [`channel_order`](Self::channel_order) and [`layout`](Self::layout),
    /// everything a batch builder (the trainer's, on the accelerator) needs
    /// to produce exactly what [`apply`](Self::apply) produces.
    pub fn normalization(&self) -> ChannelNormalization {
        let source = self.channel_order.source_channels();
        ChannelNormalization {
            source,
            scale: source.map(|rgb| 1.0 / (self.value_scale * self.std[rgb])),
            bias: source.map(|rgb| -self.mean[rgb] / self.std[rgb]),
        }
    }

    pub(crate) fn normalize_into(&self, packed: &[u8], format: PixelFormat, w: u32, h: u32, out: &mut Vec<f32>) {
        let bpp = format.bytes_per_pixel();
        // Byte offset of R, G, B within a source pixel.
        let rgb_offsets = format.rgb_offsets();
        let ChannelNormalization { source, scale, bias } = self.normalization();
        let offsets = source.map(|rgb| rgb_offsets[rgb]);
        let plane = (w * h) as usize;
        let start = out.len();
        out.resize(start + 3 * plane, 0.0);
        let dst = &mut out[start..];
        match self.layout {
            Layout::Nchw => {
                let (r, rest) = dst.split_at_mut(plane);
                let (g, b) = rest.split_at_mut(plane);
                for (i, px) in packed.chunks_exact(bpp).enumerate() {
                    r[i] = px[offsets[0]] as f32 * scale[0] + bias[0];
                    g[i] = px[offsets[1]] as f32 * scale[1] + bias[1];
                    b[i] = px[offsets[2]] as f32 * scale[2] + bias[2];
                }
            }
            Layout::Nhwc => {
                for (px, o) in packed.chunks_exact(bpp).zip(dst.chunks_exact_mut(3)) {
                    for c in 0..3 {
                        o[c] = px[offsets[c]] as f32 * scale[c] + bias[c];
                    }
                }
            }
        }
    }
}

fn resize_alg(interpolation: Interpolation) -> fr::ResizeAlg {
    match interpolation {
        Interpolation::Nearest => fr::ResizeAlg::Nearest,
        Interpolation::Bilinear => fr::ResizeAlg::Convolution(fr::FilterType::Bilinear),
        Interpolation::Bicubic => fr::ResizeAlg::Convolution(fr::FilterType::CatmullRom),
        Interpolation::Lanczos3 => fr::ResizeAlg::Convolution(fr::FilterType::Lanczos3),
    }
}

/// Resamples the source `window` (left, top, width, height, in source
/// pixels) to `dst_w`×`dst_h`, keeping the pixel format. Alpha is carried,
/// not premultiplied (it is dropped later, as Pillow's convert("RGB") does).
pub fn resample(pixels: PixelsRef<'_>, window: (f64, f64, f64, f64), dst_w: u32, dst_h: u32, interpolation: Interpolation) -> Result<Vec<u8>> {
    let pixel_type = match pixels.format.bytes_per_pixel() {
        3 => fr::PixelType::U8x3,
        _ => fr::PixelType::U8x4,
    };
    let src = ImageRef::new(pixels.width, pixels.height, pixels.data, pixel_type)
        .map_err(|e| TaxaError::InvalidPixelBuffer(e.to_string()))?;
    let mut dst = Image::new(dst_w, dst_h, pixel_type);
    let (left, top, width, height) = window;
    let options = fr::ResizeOptions::new().resize_alg(resize_alg(interpolation)).crop(left, top, width, height).use_alpha(false);
    fr::Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(|e| TaxaError::InvalidPixelBuffer(format!("resize failed: {e}")))?;
    Ok(dst.into_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_is_what_apply_computes_in_any_channel_order_and_layout() {
        let data: Vec<u8> = (0..16 * 16 * 3).map(|i| (i * 37 % 256) as u8).collect();
        for (order, layout) in [(ChannelOrder::Rgb, Layout::Nchw), (ChannelOrder::Bgr, Layout::Nchw), (ChannelOrder::Bgr, Layout::Nhwc), (ChannelOrder::Rgb, Layout::Nhwc)] {
            let contract = PreprocessContract { channel_order: order, layout, ..PreprocessContract::imagenet_sized(16) };
            let n = contract.normalization();
            assert_eq!(n.source, if order == ChannelOrder::Bgr { [2, 1, 0] } else { [0, 1, 2] });
            let out = contract.apply(PixelsRef::new(16, 16, PixelFormat::Rgb8, &data).unwrap()).unwrap();
            // A 16×16 image through a 16/14·16 resize and 16 crop is resampled; compare
            // against the resized 8-bit pixels core itself produced.
            let (resized, w, h) = contract.resize_to_input(PixelsRef::new(16, 16, PixelFormat::Rgb8, &data).unwrap()).unwrap();
            let plane = (w * h) as usize;
            for p in 0..plane {
                for c in 0..3 {
                    let expected = resized[p * 3 + n.source[c]] as f32 * n.scale[c] + n.bias[c];
                    let got = match layout {
                        Layout::Nchw => out[c * plane + p],
                        Layout::Nhwc => out[p * 3 + c],
                    };
                    assert_eq!(got, expected, "{order:?} {layout:?} pixel {p} channel {c}");
                }
            }
            // And it is the documented formula, in the model's channel order.
            let rgb = n.source[0];
            let direct = (200.0 / contract.value_scale - contract.mean[rgb]) / contract.std[rgb];
            assert!((200.0 * n.scale[0] + n.bias[0] - direct).abs() < 1e-5);
        }
    }

    fn solid(w: u32, h: u32, rgb: [u8; 3]) -> Vec<u8> {
        rgb.iter().copied().cycle().take((w * h * 3) as usize).collect()
    }

    #[test]
    fn a_crop_as_large_as_the_resize_stays_inside_the_source() {
        // 146 / (146 / 125) is 125.00000000000001: the window once overran a 197×125 photo.
        let mut contract = PreprocessContract::imagenet_sized(128);
        contract.crop = Crop::Center { width: 146, height: 146 };
        for (w, h) in [(197, 125), (125, 197), (200, 143), (31, 70)] {
            let data = solid(w, h, [10, 20, 30]);
            let (left, top, width, height) = contract.source_window(w, h);
            assert!(left + width <= w as f64 && top + height <= h as f64, "{w}×{h}");
            contract.resize_to_input(PixelsRef::new(w, h, PixelFormat::Rgb8, &data).unwrap()).unwrap();
        }
    }

    #[test]
    fn solid_colour_gives_hand_computed_values() {
        let contract = PreprocessContract::imagenet();
        let data = solid(300, 400, [255, 128, 0]);
        let t = contract.apply(PixelsRef::new(300, 400, PixelFormat::Rgb8, &data).unwrap()).unwrap();
        assert_eq!(t.len(), 3 * 224 * 224);
        // (255/255 - 0.485) / 0.229, (128/255 - 0.456) / 0.224, (0 - 0.406) / 0.225
        let expected = [2.248_908_3, 0.205_182_1, -1.804_444_4];
        for c in 0..3 {
            for v in &t[c * 224 * 224..(c + 1) * 224 * 224] {
                assert!((v - expected[c]).abs() < 1e-5, "channel {c}: {v} vs {}", expected[c]);
            }
        }
    }

    #[test]
    fn bgr_and_nhwc_reorder_channels() {
        let mut contract = PreprocessContract::imagenet_sized(8);
        contract.channel_order = ChannelOrder::Bgr;
        contract.layout = Layout::Nhwc;
        contract.mean = [0.0; 3];
        contract.std = [1.0; 3];
        let data = solid(16, 16, [10, 20, 30]);
        let t = contract.apply(PixelsRef::new(16, 16, PixelFormat::Rgb8, &data).unwrap()).unwrap();
        assert_eq!(t.len(), 8 * 8 * 3);
        for px in t.chunks_exact(3) {
            assert!((px[0] - 30.0 / 255.0).abs() < 1e-6 && (px[2] - 10.0 / 255.0).abs() < 1e-6, "{px:?}");
        }
    }

    #[test]
    fn source_window_matches_torchvision_arithmetic() {
        let contract = PreprocessContract::imagenet();
        // 800×600: resize to 341×256, crop left round(58.5)=58 (ties to even), top 16.
        let (l, t, w, h) = contract.source_window(800, 600);
        let sx = 341.0 / 800.0;
        let sy = 256.0 / 600.0;
        assert!((l - 58.0 / sx).abs() < 1e-9 && (t - 16.0 / sy).abs() < 1e-9);
        assert!((w - 224.0 / sx).abs() < 1e-9 && (h - 224.0 / sy).abs() < 1e-9);
        // Portrait images keep the width as the short side.
        let (l, t, _, _) = contract.source_window(256, 512);
        assert_eq!((l, t), (16.0, 144.0));
    }

    #[test]
    fn source_window_stays_inside_every_image() {
        // Every contract shape the format allows: crop smaller than or equal
        // to the resize, stretch resizes, non-square crops.
        // Every square input size up to 512 (the CLI's --input-size), with
        // the standard and the tight (crop = resize) recipe.
        let mut checked = 0;
        for size in 1..=512u32 {
            let mut tight = PreprocessContract::imagenet_sized(size);
            tight.resize = Resize::ShorterSide { size };
            for contract in [PreprocessContract::imagenet_sized(size), tight] {
                for src_w in (1..2000).step_by(53).chain([240, 320, 480, 640, 1280]) {
                    for src_h in (1..2000).step_by(59).chain([240, 261, 325, 361, 480, 960]) {
                        let (l, t, w, h) = contract.source_window(src_w, src_h);
                        assert!(l >= 0.0 && t >= 0.0 && l + w <= src_w as f64 && t + h <= src_h as f64, "{size}: {src_w}×{src_h}");
                        checked += 1;
                    }
                }
            }
        }
        let mut contracts = Vec::new();
        for size in [32, 64, 96, 128, 160, 224, 240, 260, 299, 320, 384] {
            contracts.push(PreprocessContract::imagenet_sized(size));
            let mut tight = PreprocessContract::imagenet_sized(size);
            tight.resize = Resize::ShorterSide { size };
            contracts.push(tight);
            let mut stretch = PreprocessContract::imagenet_sized(size);
            stretch.resize = Resize::Stretch { width: size, height: size + 7 };
            stretch.crop = Crop::Center { width: size, height: size };
            contracts.push(stretch);
            let mut oblong = PreprocessContract::imagenet_sized(size);
            oblong.resize = Resize::ShorterSide { size: size + size / 2 };
            oblong.crop = Crop::Center { width: size + size / 2, height: size };
            contracts.push(oblong);
        }
        for contract in &contracts {
            contract.validate().unwrap();
            let (dst_w, dst_h) = contract.input_size().unwrap();
            for src_w in (1..1300).step_by(37).chain([107, 240, 320, 394, 480, 640, 1280]) {
                for src_h in (1..1300).step_by(41).chain([128, 147, 261, 325, 361, 415, 480, 530, 592, 960]) {
                    let (l, t, w, h) = contract.source_window(src_w, src_h);
                    assert!(l >= 0.0 && t >= 0.0 && w > 0.0 && h > 0.0, "{contract:?} {src_w}×{src_h}");
                    assert!(l + w <= src_w as f64 && t + h <= src_h as f64, "{contract:?} {src_w}×{src_h}: {l}+{w}, {t}+{h}");
                    checked += 1;
                }
            }
            // And the resizer accepts the windows (the step that used to refuse them).
            for (src_w, src_h) in [(640, 480), (480, 640), (320, 240), (1280, 960), (107, 128), (394, 592), (1, 1), (3, 1000)] {
                let data = vec![128u8; (src_w * src_h * 3) as usize];
                let pixels = PixelsRef::new(src_w, src_h, PixelFormat::Rgb8, &data).unwrap();
                let (out, w, h) = contract.resize_to_input(pixels).unwrap();
                assert_eq!((w, h, out.len()), (dst_w, dst_h, (dst_w * dst_h * 3) as usize));
            }
        }
        assert!(checked > 1_000_000);
    }

    #[test]
    fn centre_crop_keeps_the_centre() {
        // Left half black, right half white, 512×256: after shorter side 256 and a
        // centre crop of 224 from 512 wide, columns left of 112 are black.
        let mut contract = PreprocessContract::imagenet();
        contract.mean = [0.0; 3];
        contract.std = [1.0; 3];
        contract.interpolation = Interpolation::Nearest;
        let mut data = Vec::new();
        for _y in 0..256 {
            for x in 0..512 {
                let v = if x < 256 { 0 } else { 255 };
                data.extend_from_slice(&[v, v, v]);
            }
        }
        let t = contract.apply(PixelsRef::new(512, 256, PixelFormat::Rgb8, &data).unwrap()).unwrap();
        let row = &t[100 * 224..101 * 224];
        assert!(row[..112].iter().all(|v| *v == 0.0), "{:?}", &row[..112]);
        assert!(row[112..].iter().all(|v| *v == 1.0), "{:?}", &row[112..]);
    }

    #[test]
    fn invalid_contracts_are_rejected() {
        let mut c = PreprocessContract::imagenet();
        c.resize = Resize::ShorterSide { size: 100 };
        assert!(c.validate().unwrap_err().contains("smaller than"));
        let mut c = PreprocessContract::imagenet();
        c.std[1] = 0.0;
        assert!(c.validate().is_err());
        let mut c = PreprocessContract::imagenet();
        c.crop = Crop::None;
        assert!(c.validate().unwrap_err().contains("no fixed input size"));
    }

    #[test]
    fn contract_json_is_readable() {
        let json = serde_json::to_value(PreprocessContract::imagenet()).unwrap();
        assert_eq!(json["resize"]["policy"], "shorter_side");
        assert_eq!(json["resize"]["size"], 256);
        assert_eq!(json["crop"]["width"], 224);
        assert_eq!(json["layout"], "nchw");
    }
}
