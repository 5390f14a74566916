//! Camera frames in: YUV 4:2:0 as phones deliver them, plus the frame's
//! rotation, turned straight into the model's input tensor.
//!
//! - Android `ImageFormat.YUV_420_888` (CameraX `ImageProxy`, Camera2
//!   `Image`): three planes, each with its own row stride and pixel stride.
//!   NV21 (V first) and NV12 (U first) are the case of pixel stride 2 on
//!   interleaved chroma; I420 is pixel stride 1. Android's camera writes
//!   JFIF YUV, that is BT.601 **full range** ([`YuvRange::Full`]).
//! - iOS `kCVPixelFormatType_420YpCbCr8BiPlanarFullRange` (BT.601 full
//!   range) and `kCVPixelFormatType_420YpCbCr8BiPlanarVideoRange` (BT.601
//!   video range, Y in 16..=235, Cb/Cr in 16..=240): a Y plane and an
//!   interleaved CbCr plane, which is NV12 ([`Yuv420Frame::nv12`]).
//!
//! Only the source pixels the contract's resize and crop window reads (the
//! window plus the resampling filter's reach) are converted to RGB, already
//! rotated upright; then that patch is resized as the RGB path does it. No
//! full-frame RGB copy is made.
//!
//! Colour: BT.601 (ITU-R BT.601-7), chroma upsampled by nearest neighbour
//! (each chroma sample covers its 2×2 luma block, as libyuv's I420ToARGB).
//! Full range: R = Y + 1.402 (V−128), G = Y − 0.344136 (U−128) − 0.714136 (V−128),
//! B = Y + 1.772 (U−128). Video range first maps Y by 255/219 from 16 and
//! U, V by 255/224 around 128. Computed in 16-bit fixed point, so a channel
//! may differ from the exact real-valued formula by one 8-bit level.

use crate::classifier::Classifier;
use crate::classify::{Classification, ClassifyOptions};
use crate::error::{Result, TaxaError};
use crate::pixels::{PixelFormat, PixelsRef};
use crate::preprocess::{Interpolation, PreprocessContract, resample};

/// The YUV value range, as the camera's colour space states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum YuvRange {
    /// JFIF / full swing: Y, U, V in 0..=255. Android camera `YUV_420_888`,
    /// iOS `...BiPlanarFullRange`.
    #[default]
    Full,
    /// Studio / video swing: Y in 16..=235, U, V in 16..=240. iOS
    /// `...BiPlanarVideoRange`, most video decoders.
    Video,
}

/// How far the frame must be turned **clockwise** to stand upright, as
/// Android's `ImageInfo.getRotationDegrees()` reports it. iOS: the angle
/// matching the `CGImagePropertyOrientation` of the buffer (`.right` is 90).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rotation {
    #[default]
    None,
    Clockwise90,
    Clockwise180,
    Clockwise270,
}

impl Rotation {
    /// From degrees clockwise: 0, 90, 180 or 270 (also −90, −180, −270 and
    /// 360, taken modulo 360). Anything else is [`TaxaError::InvalidOptions`].
    pub fn from_degrees(degrees: i32) -> Result<Self> {
        match degrees.rem_euclid(360) {
            0 if degrees.unsigned_abs() <= 360 => Ok(Rotation::None),
            90 if degrees.unsigned_abs() <= 360 => Ok(Rotation::Clockwise90),
            180 if degrees.unsigned_abs() <= 360 => Ok(Rotation::Clockwise180),
            270 if degrees.unsigned_abs() <= 360 => Ok(Rotation::Clockwise270),
            _ => Err(TaxaError::InvalidOptions(format!("rotation must be 0, 90, 180 or 270 degrees, got {degrees}"))),
        }
    }

    pub fn degrees(self) -> u32 {
        match self {
            Rotation::None => 0,
            Rotation::Clockwise90 => 90,
            Rotation::Clockwise180 => 180,
            Rotation::Clockwise270 => 270,
        }
    }

    /// The upright (width, height) of a `width`×`height` frame.
    pub fn upright_size(self, width: u32, height: u32) -> (u32, u32) {
        match self {
            Rotation::None | Rotation::Clockwise180 => (width, height),
            Rotation::Clockwise90 | Rotation::Clockwise270 => (height, width),
        }
    }
}

/// One plane of a frame. Sample (x, y) is at `data[y * row_stride + x * pixel_stride]`.
/// Strides are in bytes, as `Image.Plane.getRowStride()` / `getPixelStride()`
/// and `CVPixelBufferGetBytesPerRowOfPlane` give them.
#[derive(Debug, Clone, Copy)]
pub struct YuvPlane<'a> {
    pub data: &'a [u8],
    pub row_stride: usize,
    pub pixel_stride: usize,
}

/// A YUV 4:2:0 frame: a `width`×`height` Y plane and two
/// ⌈width/2⌉×⌈height/2⌉ chroma planes (U = Cb, V = Cr).
#[derive(Debug, Clone, Copy)]
pub struct Yuv420Frame<'a> {
    pub width: u32,
    pub height: u32,
    pub y: YuvPlane<'a>,
    pub u: YuvPlane<'a>,
    pub v: YuvPlane<'a>,
    pub range: YuvRange,
}

impl<'a> Yuv420Frame<'a> {
    /// Android `YUV_420_888`: pass `image.getPlanes()[0..3]` as y, u, v.
    /// Validates every plane; errors are [`TaxaError::InvalidPixelBuffer`]
    /// naming the plane and the numbers.
    pub fn new(width: u32, height: u32, y: YuvPlane<'a>, u: YuvPlane<'a>, v: YuvPlane<'a>, range: YuvRange) -> Result<Self> {
        let frame = Yuv420Frame { width, height, y, u, v, range };
        frame.validate()?;
        Ok(frame)
    }

    /// NV12 and iOS bi-planar 420: a Y plane and one plane of interleaved
    /// U, V pairs (Cb first), each with its own row stride in bytes.
    pub fn nv12(width: u32, height: u32, y: &'a [u8], y_row_stride: usize, uv: &'a [u8], uv_row_stride: usize, range: YuvRange) -> Result<Self> {
        let (first, second) = interleaved(uv, uv_row_stride);
        Self::new(width, height, YuvPlane { data: y, row_stride: y_row_stride, pixel_stride: 1 }, first, second, range)
    }

    /// NV21 (Android's legacy `Camera` preview format): like NV12 with V first.
    pub fn nv21(width: u32, height: u32, y: &'a [u8], y_row_stride: usize, vu: &'a [u8], vu_row_stride: usize, range: YuvRange) -> Result<Self> {
        let (first, second) = interleaved(vu, vu_row_stride);
        Self::new(width, height, YuvPlane { data: y, row_stride: y_row_stride, pixel_stride: 1 }, second, first, range)
    }

    /// The chroma planes' size: ⌈width/2⌉ × ⌈height/2⌉.
    pub fn chroma_size(&self) -> (u32, u32) {
        (self.width.div_ceil(2), self.height.div_ceil(2))
    }

    /// Checks the size and every plane's strides and length.
    pub fn validate(&self) -> Result<()> {
        if self.width == 0 || self.height == 0 {
            return Err(TaxaError::InvalidPixelBuffer(format!("frame size {}×{} has no pixels", self.width, self.height)));
        }
        let (cw, ch) = self.chroma_size();
        check_plane("Y", &self.y, self.width, self.height)?;
        check_plane("U", &self.u, cw, ch)?;
        check_plane("V", &self.v, cw, ch)
    }
}

fn interleaved(data: &[u8], row_stride: usize) -> (YuvPlane<'_>, YuvPlane<'_>) {
    let second = data.get(1..).unwrap_or(&[]);
    (YuvPlane { data, row_stride, pixel_stride: 2 }, YuvPlane { data: second, row_stride, pixel_stride: 2 })
}

fn check_plane(name: &str, plane: &YuvPlane<'_>, w: u32, h: u32) -> Result<()> {
    let err = |m: String| Err(TaxaError::InvalidPixelBuffer(format!("{name} plane: {m}")));
    let (rs, ps) = (plane.row_stride, plane.pixel_stride);
    if ps == 0 {
        return err("pixel stride is 0".into());
    }
    // The last sample of a row ends the row: Android's NV21 V plane is one byte short of two full rows' pairs.
    let Some(row_span) = (w as usize - 1).checked_mul(ps).and_then(|n| n.checked_add(1)) else {
        return err(format!("{w} samples at pixel stride {ps} overflow"));
    };
    if rs < row_span {
        return err(format!("row stride {rs} is less than the {row_span} bytes {w} samples at pixel stride {ps} span"));
    }
    let Some(needed) = (h as usize - 1).checked_mul(rs).and_then(|n| n.checked_add(row_span)) else {
        return err(format!("{h} rows at row stride {rs} overflow"));
    };
    if plane.data.len() < needed {
        return err(format!(
            "{w}×{h} samples at row stride {rs} and pixel stride {ps} need {needed} bytes, got {}",
            plane.data.len()
        ));
    }
    Ok(())
}

/// BT.601 YUV→RGB in 16-bit fixed point.
#[derive(Debug, Clone, Copy)]
struct Bt601 {
    y_offset: i32,
    y_scale: i32,
    rv: i32,
    gu: i32,
    gv: i32,
    bu: i32,
}

impl Bt601 {
    fn new(range: YuvRange) -> Self {
        let fixed = |v: f64| (v * 65536.0).round() as i32;
        // Full-range matrix (JFIF); video range scales Y by 255/219 and chroma by 255/224.
        let (y_offset, y_scale, c) = match range {
            YuvRange::Full => (0, 1.0, 1.0),
            YuvRange::Video => (16, 255.0 / 219.0, 255.0 / 224.0),
        };
        Bt601 {
            y_offset,
            y_scale: fixed(y_scale),
            rv: fixed(1.402 * c),
            gu: fixed(0.344136 * c),
            gv: fixed(0.714136 * c),
            bu: fixed(1.772 * c),
        }
    }

    #[inline]
    fn rgb(&self, y: u8, u: u8, v: u8) -> [u8; 3] {
        let y = (y as i32 - self.y_offset) * self.y_scale + 32768;
        let (u, v) = (u as i32 - 128, v as i32 - 128);
        let clamp = |x: i32| (x >> 16).clamp(0, 255) as u8;
        [clamp(y + self.rv * v), clamp(y - self.gu * u - self.gv * v), clamp(y + self.bu * u)]
    }
}

/// How far (in source pixels, before scaling) the resampling filter reaches.
fn filter_support(interpolation: Interpolation) -> f64 {
    match interpolation {
        Interpolation::Nearest => 0.0,
        Interpolation::Bilinear => 1.0,
        Interpolation::Bicubic => 2.0,
        Interpolation::Lanczos3 => 3.0,
    }
}

/// Turns a frame into the model input tensor under `contract`, as
/// [`PreprocessContract::apply`] would for the upright RGB image: same
/// shape ([`PreprocessContract::input_shape`]), layout and normalisation.
/// Errors: [`TaxaError::InvalidPixelBuffer`] for bad planes,
/// [`TaxaError::InvalidOptions`] for a contract without a fixed input size.
pub fn yuv420_to_input(contract: &PreprocessContract, frame: &Yuv420Frame<'_>, rotation: Rotation) -> Result<Vec<f32>> {
    frame.validate()?;
    let (dst_w, dst_h) = contract.input_size().map_err(TaxaError::InvalidOptions)?;
    let (up_w, up_h) = rotation.upright_size(frame.width, frame.height);
    let (left, top, win_w, win_h) = contract.source_window(up_w, up_h);
    if contract.interpolation == Interpolation::Nearest {
        // Only the input's own pixels: convert exactly those, nothing else.
        let rgb = nearest_rgb(frame, rotation, (left, top, win_w, win_h), dst_w, dst_h);
        return Ok(normalise(contract, &rgb, dst_w, dst_h));
    }
    // The patch the filter reads: the window plus its support at this scale,
    // inside the frame. Resampling the patch equals resampling the frame.
    let support = filter_support(contract.interpolation);
    let margin_x = (support * (win_w / dst_w as f64).max(1.0)).ceil() + 1.0;
    let margin_y = (support * (win_h / dst_h as f64).max(1.0)).ceil() + 1.0;
    let x0 = (left - margin_x).floor().max(0.0) as u32;
    let y0 = (top - margin_y).floor().max(0.0) as u32;
    let x1 = ((left + win_w + margin_x).ceil() as u32).min(up_w);
    let y1 = ((top + win_h + margin_y).ceil() as u32).min(up_h);
    let (patch_w, patch_h) = (x1 - x0, y1 - y0);
    let matrix = Bt601::new(frame.range);
    let mut patch = Vec::with_capacity(patch_w as usize * patch_h as usize * 3);
    for row in y0..y1 {
        for col in x0..x1 {
            patch.extend_from_slice(&upright_pixel(frame, &matrix, rotation, col as usize, row as usize));
        }
    }
    let pixels = PixelsRef::new(patch_w, patch_h, PixelFormat::Rgb8, &patch)?;
    let resized = resample(pixels, (left - x0 as f64, top - y0 as f64, win_w, win_h), dst_w, dst_h, contract.interpolation)?;
    Ok(normalise(contract, &resized, dst_w, dst_h))
}

/// Nearest-neighbour sampling of the window, picking the source pixels
/// fast_image_resize's `ResizeAlg::Nearest` picks (the RGB path): columns
/// at trunc(left + scale × (x + ½)), rows stepped by repeated addition.
fn nearest_rgb(frame: &Yuv420Frame<'_>, rotation: Rotation, (left, top, win_w, win_h): (f64, f64, f64, f64), dst_w: u32, dst_h: u32) -> Vec<u8> {
    let (up_w, up_h) = rotation.upright_size(frame.width, frame.height);
    let matrix = Bt601::new(frame.range);
    let x_scale = win_w / dst_w as f64;
    let x_start = left + x_scale * 0.5;
    let cols: Vec<usize> = (0..dst_w).map(|x| ((x_start + x_scale * x as f64) as usize).min(up_w as usize - 1)).collect();
    let y_scale = win_h / dst_h as f64;
    let mut y = top + y_scale * 0.5;
    let mut out = Vec::with_capacity(dst_w as usize * dst_h as usize * 3);
    for _ in 0..dst_h {
        let row = (y as usize).min(up_h as usize - 1);
        for &col in &cols {
            out.extend_from_slice(&upright_pixel(frame, &matrix, rotation, col, row));
        }
        y += y_scale;
    }
    out
}

/// RGB of the upright image's pixel (col, row), read from the frame through
/// the rotation. The frame is already validated.
#[inline]
fn upright_pixel(frame: &Yuv420Frame<'_>, matrix: &Bt601, rotation: Rotation, col: usize, row: usize) -> [u8; 3] {
    let (fw, fh) = (frame.width as usize, frame.height as usize);
    // Upright (col, row) to frame (sx, sy): the inverse of turning the frame clockwise.
    let (sx, sy) = match rotation {
        Rotation::None => (col, row),
        Rotation::Clockwise90 => (row, fh - 1 - col),
        Rotation::Clockwise180 => (fw - 1 - col, fh - 1 - row),
        Rotation::Clockwise270 => (fw - 1 - row, col),
    };
    let (y, u, v) = (&frame.y, &frame.u, &frame.v);
    let luma = y.data[sy * y.row_stride + sx * y.pixel_stride];
    let (cx, cy) = (sx / 2, sy / 2);
    let cb = u.data[cy * u.row_stride + cx * u.pixel_stride];
    let cr = v.data[cy * v.row_stride + cx * v.pixel_stride];
    matrix.rgb(luma, cb, cr)
}

/// The contract's normalisation of packed RGB8 at the input size: the same
/// code as the RGB path, so the two cannot drift.
fn normalise(contract: &PreprocessContract, rgb: &[u8], w: u32, h: u32) -> Vec<f32> {
    let mut out = Vec::with_capacity(3 * w as usize * h as usize);
    contract.normalize_into(rgb, PixelFormat::Rgb8, w, h, &mut out);
    out
}

impl Classifier {
    /// The model input for a camera frame: the bundle's preprocessing
    /// contract applied to the upright frame. Shape [`Classifier::input_shape`].
    pub fn preprocess_yuv420(&self, frame: &Yuv420Frame<'_>, rotation: Rotation) -> Result<Vec<f32>> {
        yuv420_to_input(&self.metadata().preprocess, frame, rotation)
    }

    /// Classifies a YUV 4:2:0 camera frame, turned upright by `rotation`.
    /// Gives what [`Classifier::classify_rgb`] gives for the upright RGB image
    /// (within one 8-bit level per input value; see the module docs).
    /// Errors: [`TaxaError::InvalidPixelBuffer`] naming the bad plane,
    /// [`TaxaError::InvalidOptions`], [`TaxaError::Inference`].
    pub fn classify_yuv420(&self, frame: &Yuv420Frame<'_>, rotation: Rotation, options: &ClassifyOptions) -> Result<Classification> {
        options.validate()?;
        let input = self.preprocess_yuv420(frame, rotation)?;
        self.classify_input(input, options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::{ChannelOrder, Crop, Layout, Resize};

    /// Exact real-valued BT.601.
    fn reference_rgb(y: u8, u: u8, v: u8, range: YuvRange) -> [u8; 3] {
        let (y, u, v) = (y as f64, u as f64 - 128.0, v as f64 - 128.0);
        let (y, u, v) = match range {
            YuvRange::Full => (y, u, v),
            YuvRange::Video => ((y - 16.0) * 255.0 / 219.0, u * 255.0 / 224.0, v * 255.0 / 224.0),
        };
        let c = |x: f64| x.round().clamp(0.0, 255.0) as u8;
        [c(y + 1.402 * v), c(y - 0.344136 * u - 0.714136 * v), c(y + 1.772 * u)]
    }

    #[test]
    fn fixed_point_is_within_one_level_of_the_exact_matrix() {
        for range in [YuvRange::Full, YuvRange::Video] {
            let m = Bt601::new(range);
            for y in (0..=255u8).step_by(3) {
                for u in (0..=255u8).step_by(5) {
                    for v in (0..=255u8).step_by(7) {
                        let (a, b) = (m.rgb(y, u, v), reference_rgb(y, u, v, range));
                        assert!((0..3).all(|c| a[c].abs_diff(b[c]) <= 1), "{range:?} {y} {u} {v}: {a:?} vs {b:?}");
                    }
                }
            }
        }
        // Known points: video-range black and white, full-range grey.
        assert_eq!(Bt601::new(YuvRange::Video).rgb(16, 128, 128), [0, 0, 0]);
        assert_eq!(Bt601::new(YuvRange::Video).rgb(235, 128, 128), [255, 255, 255]);
        assert_eq!(Bt601::new(YuvRange::Full).rgb(77, 128, 128), [77, 77, 77]);
        // Pure red in JFIF: Y 76, Cb 85, Cr 255.
        let red = Bt601::new(YuvRange::Full).rgb(76, 85, 255);
        assert!(red[0] >= 253 && red[1] <= 1 && red[2] <= 1, "{red:?}");
    }

    #[test]
    fn rotations_parse_and_turn_sizes() {
        assert_eq!(Rotation::from_degrees(90).unwrap(), Rotation::Clockwise90);
        assert_eq!(Rotation::from_degrees(-90).unwrap(), Rotation::Clockwise270);
        assert_eq!(Rotation::from_degrees(360).unwrap(), Rotation::None);
        for bad in [45, 1, 450, -450, i32::MIN] {
            assert!(matches!(Rotation::from_degrees(bad), Err(TaxaError::InvalidOptions(_))), "{bad}");
        }
        assert_eq!(Rotation::Clockwise270.upright_size(640, 480), (480, 640));
        assert_eq!(Rotation::Clockwise180.degrees(), 180);
    }

    #[test]
    fn bad_planes_are_typed_errors_naming_the_plane() {
        let y = vec![0u8; 33 * 47];
        let uv = vec![0u8; 34 * 24];
        assert!(Yuv420Frame::nv12(33, 47, &y, 33, &uv, 34, YuvRange::Full).is_ok());
        // Android's NV21 planes are views one byte apart into one VU buffer, each a byte short of whole pairs.
        let plane = |data, row_stride, pixel_stride| YuvPlane { data, row_stride, pixel_stride };
        let (v_view, u_view) = (&uv[..uv.len() - 1], &uv[1..]);
        assert!(Yuv420Frame::new(33, 47, plane(&y, 33, 1), plane(u_view, 34, 2), plane(v_view, 34, 2), YuvRange::Full).is_ok());
        let message = |r: Result<Yuv420Frame<'_>>| match r {
            Err(TaxaError::InvalidPixelBuffer(m)) => m,
            other => panic!("expected InvalidPixelBuffer, got {other:?}"),
        };
        let m = message(Yuv420Frame::nv12(33, 47, &y, 32, &uv, 34, YuvRange::Full));
        assert!(m.starts_with("Y plane") && m.contains("row stride 32"), "{m}");
        let m = message(Yuv420Frame::nv12(33, 47, &y, 33, &uv[..100], 34, YuvRange::Full));
        assert!(m.starts_with("U plane") && m.contains("need 815 bytes, got 100"), "{m}");
        let m = message(Yuv420Frame::nv12(33, 47, &y, 33, &uv, 32, YuvRange::Full));
        assert!(m.starts_with("U plane") && m.contains("row stride 32 is less than the 33 bytes"), "{m}");
        let m = message(Yuv420Frame::new(33, 47, plane(&y, 33, 1), plane(&uv, 17, 1), plane(&uv, 17, 0), YuvRange::Full));
        assert!(m.starts_with("V plane") && m.contains("pixel stride is 0"), "{m}");
        let m = message(Yuv420Frame::nv12(0, 47, &y, 33, &uv, 34, YuvRange::Full));
        assert!(m.contains("no pixels"), "{m}");
        // Huge strides and sizes overflow into errors, not panics.
        let m = message(Yuv420Frame::new(u32::MAX, u32::MAX, plane(&y, usize::MAX, usize::MAX), plane(&uv, 1, 1), plane(&uv, 1, 1), YuvRange::Full));
        assert!(m.contains("overflow"), "{m}");
        let m = message(Yuv420Frame::new(3, 3, plane(&y, usize::MAX, 1), plane(&uv, 2, 1), plane(&uv, 2, 1), YuvRange::Full));
        assert!(m.contains("overflow"), "{m}");
        // A hand-built frame that skipped `new` is checked again before use.
        let bad = Yuv420Frame { width: 33, height: 47, y: plane(&y[..10], 33, 1), u: plane(&uv, 17, 1), v: plane(&uv, 17, 1), range: YuvRange::Full };
        assert!(matches!(yuv420_to_input(&PreprocessContract::imagenet_sized(16), &bad, Rotation::None), Err(TaxaError::InvalidPixelBuffer(_))));
    }

    /// A synthetic scene with edges and gradients, as full-range or video-range YUV planes
    /// written with the given strides (padding filled with junk the conversion must not read).
    struct Planes {
        y: Vec<u8>,
        u: Vec<u8>,
        v: Vec<u8>,
        y_stride: usize,
        c_stride: usize,
    }

    fn planes(w: u32, h: u32, pad: usize) -> Planes {
        let (w, h) = (w as usize, h as usize);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let (y_stride, c_stride) = (w + pad, cw + pad);
        let mut p = Planes { y: vec![0xEE; y_stride * h], u: vec![0x11; c_stride * ch], v: vec![0x22; c_stride * ch], y_stride, c_stride };
        for r in 0..h {
            for c in 0..w {
                p.y[r * y_stride + c] = ((c * 255 / w) ^ (r * 7)) as u8 | if (r / 5 + c / 3) % 2 == 0 { 0x80 } else { 0 };
            }
        }
        for r in 0..ch {
            for c in 0..cw {
                p.u[r * c_stride + c] = (40 + c * 170 / cw) as u8;
                p.v[r * c_stride + c] = (220 - r * 180 / ch) as u8;
            }
        }
        p
    }

    /// Full frame to RGB by the exact formula, then turned upright, then the RGB path.
    fn reference_input(contract: &PreprocessContract, p: &Planes, w: u32, h: u32, range: YuvRange, rotation: Rotation) -> Vec<f32> {
        let (w, h) = (w as usize, h as usize);
        let mut rgb = vec![0u8; w * h * 3];
        for r in 0..h {
            for c in 0..w {
                let (cy, cx) = (r / 2, c / 2);
                let px = reference_rgb(p.y[r * p.y_stride + c], p.u[cy * p.c_stride + cx], p.v[cy * p.c_stride + cx], range);
                rgb[(r * w + c) * 3..][..3].copy_from_slice(&px);
            }
        }
        let (uw, uh) = rotation.upright_size(w as u32, h as u32);
        let mut upright = vec![0u8; rgb.len()];
        for r in 0..h {
            for c in 0..w {
                // Where frame pixel (c, r) lands once turned clockwise.
                let (ux, uy) = match rotation {
                    Rotation::None => (c, r),
                    Rotation::Clockwise90 => (h - 1 - r, c),
                    Rotation::Clockwise180 => (w - 1 - c, h - 1 - r),
                    Rotation::Clockwise270 => (r, w - 1 - c),
                };
                upright[(uy * uw as usize + ux) * 3..][..3].copy_from_slice(&rgb[(r * w + c) * 3..][..3]);
            }
        }
        contract.apply(PixelsRef::new(uw, uh, PixelFormat::Rgb8, &upright).unwrap()).unwrap()
    }

    /// Largest difference in 8-bit levels (value_scale units) over the tensor, and the mean.
    fn level_diff(contract: &PreprocessContract, a: &[f32], b: &[f32]) -> (f32, f32) {
        assert_eq!(a.len(), b.len());
        let plane = a.len() / 3;
        let mut max = 0f32;
        let mut sum = 0f32;
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            let model_channel = match contract.layout {
                Layout::Nchw => i / plane,
                Layout::Nhwc => i % 3,
            };
            let rgb = match contract.channel_order {
                ChannelOrder::Rgb => model_channel,
                ChannelOrder::Bgr => 2 - model_channel,
            };
            let d = (x - y).abs() * contract.std[rgb] * contract.value_scale;
            max = max.max(d);
            sum += d;
        }
        (max, sum / a.len() as f32)
    }

    #[test]
    fn every_layout_rotation_and_range_matches_the_reference_conversion() {
        let mut contracts = vec![PreprocessContract::imagenet_sized(16), PreprocessContract::imagenet_sized(24)];
        let mut bicubic = PreprocessContract::imagenet_sized(20);
        bicubic.interpolation = Interpolation::Bicubic;
        bicubic.channel_order = ChannelOrder::Bgr;
        bicubic.layout = Layout::Nhwc;
        contracts.push(bicubic);
        let mut stretch = PreprocessContract::imagenet_sized(16);
        stretch.resize = Resize::Stretch { width: 30, height: 18 };
        stretch.crop = Crop::Center { width: 16, height: 12 };
        stretch.interpolation = Interpolation::Lanczos3;
        contracts.push(stretch);
        let mut nearest = PreprocessContract::imagenet_sized(16);
        nearest.interpolation = Interpolation::Nearest;
        contracts.push(nearest);
        let mut checked = 0;
        for contract in &contracts {
            for (w, h) in [(33, 47), (64, 48), (17, 16), (101, 37)] {
                for pad in [0, 3, 64] {
                    let p = planes(w, h, pad);
                    // The same scene as I420 (pixel stride 1), NV12 and NV21 (pixel stride 2).
                    let mut nv12 = vec![0x33u8; (p.c_stride * 2) * h.div_ceil(2) as usize];
                    let mut nv21 = nv12.clone();
                    for r in 0..h.div_ceil(2) as usize {
                        for c in 0..w.div_ceil(2) as usize {
                            let (cu, cv) = (p.u[r * p.c_stride + c], p.v[r * p.c_stride + c]);
                            nv12[r * p.c_stride * 2 + 2 * c..][..2].copy_from_slice(&[cu, cv]);
                            nv21[r * p.c_stride * 2 + 2 * c..][..2].copy_from_slice(&[cv, cu]);
                        }
                    }
                    for range in [YuvRange::Full, YuvRange::Video] {
                        let i420 = Yuv420Frame::new(
                            w,
                            h,
                            YuvPlane { data: &p.y, row_stride: p.y_stride, pixel_stride: 1 },
                            YuvPlane { data: &p.u, row_stride: p.c_stride, pixel_stride: 1 },
                            YuvPlane { data: &p.v, row_stride: p.c_stride, pixel_stride: 1 },
                            range,
                        )
                        .unwrap();
                        let frames = [
                            i420,
                            Yuv420Frame::nv12(w, h, &p.y, p.y_stride, &nv12, p.c_stride * 2, range).unwrap(),
                            Yuv420Frame::nv21(w, h, &p.y, p.y_stride, &nv21, p.c_stride * 2, range).unwrap(),
                        ];
                        for rotation in [Rotation::None, Rotation::Clockwise90, Rotation::Clockwise180, Rotation::Clockwise270] {
                            let expected = reference_input(contract, &p, w, h, range, rotation);
                            for frame in &frames {
                                let got = yuv420_to_input(contract, frame, rotation).unwrap();
                                let (max, mean) = level_diff(contract, &got, &expected);
                                assert!(max <= 2.0 && mean <= 0.1, "{w}×{h} pad {pad} {range:?} {rotation:?} {contract:?}: max {max} mean {mean} levels");
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 5 * 4 * 3 * 2 * 3 * 4);
    }

    #[test]
    fn a_rotated_frame_equals_the_upright_frame() {
        // Store an upright 40×30 scene turned 90° anticlockwise (30×40): the
        // frame then needs 90° clockwise, as a phone held upright reports it.
        let contract = PreprocessContract::imagenet_sized(16);
        let (w, h) = (40usize, 30usize);
        let p = planes(w as u32, h as u32, 0);
        let uv = interleave(&p.u, &p.v);
        let upright = Yuv420Frame::nv12(w as u32, h as u32, &p.y, w, &uv, w, YuvRange::Full).unwrap();
        let expected = yuv420_to_input(&contract, &upright, Rotation::None).unwrap();
        for rotation in [Rotation::Clockwise90, Rotation::Clockwise180, Rotation::Clockwise270] {
            let (fy, fw, fh) = turn_back(&p.y, w, h, rotation);
            let (fu, cw, _) = turn_back(&p.u, w / 2, h / 2, rotation);
            let (fv, _, _) = turn_back(&p.v, w / 2, h / 2, rotation);
            let uv = interleave(&fu, &fv);
            let frame = Yuv420Frame::nv12(fw as u32, fh as u32, &fy, fw, &uv, cw * 2, YuvRange::Full).unwrap();
            assert_eq!(yuv420_to_input(&contract, &frame, rotation).unwrap(), expected, "{rotation:?}");
        }
    }

    fn interleave(u: &[u8], v: &[u8]) -> Vec<u8> {
        u.iter().zip(v).flat_map(|(a, b)| [*a, *b]).collect()
    }

    /// The frame a camera would deliver for an upright plane, given the rotation it reports.
    fn turn_back(upright: &[u8], w: usize, h: usize, rotation: Rotation) -> (Vec<u8>, usize, usize) {
        let (fw, fh) = match rotation {
            Rotation::None | Rotation::Clockwise180 => (w, h),
            _ => (h, w),
        };
        let mut frame = vec![0u8; w * h];
        for sy in 0..fh {
            for sx in 0..fw {
                let (ux, uy) = match rotation {
                    Rotation::None => (sx, sy),
                    Rotation::Clockwise90 => (fh - 1 - sy, sx),
                    Rotation::Clockwise180 => (fw - 1 - sx, fh - 1 - sy),
                    Rotation::Clockwise270 => (sy, fw - 1 - sx),
                };
                frame[sy * fw + sx] = upright[uy * w + ux];
            }
        }
        (frame, fw, fh)
    }
}
