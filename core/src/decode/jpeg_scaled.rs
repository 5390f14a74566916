//! Decoding a photo at the size the model needs.
//!
//! A 12-megapixel JPEG is shrunk to 256 pixels on its short side before the
//! model sees it; decoding all 12 million pixels first costs far more than the
//! model. A JPEG can instead be decoded at 1/2, 1/4 or 1/8 of its size by
//! running a smaller inverse DCT on each 8×8 block (ITU T.81 blocks; the same
//! n/8 scaling as libjpeg's `scale_num/scale_denom` and Pillow's `draft()`).
//! The reduction is chosen so the decoded image stays [`REDUCTION_MARGIN`] ×
//! the contract's resize, so the resize stays a downscale; then only the crop
//! window is resampled.
//!
//! It is taken only where it is as faithful as Pillow's `draft()` at the same
//! scale, measured on real photos at native resolution in every chroma
//! subsampling (`bench/reduced_decode.py`, BENCHMARKS.md): not for JPEGs
//! whose colour is halved both across and down (4:2:0, what most cameras
//! write), where jpeg-decoder decodes colour at 1/8 and upsamples it, while
//! libjpeg scales the colour's IDCT less; those are decoded in full.
//! `taxa train` caches images through this same function, so a model is
//! validated on the pixels it is served.
//!
//! Everything else (other formats, CMYK, 16-bit, truncated files the caller
//! allows, any error or panic in the scaled decoder) goes through
//! [`decode_image_with`](super::decode_image_with), so no photo that decodes
//! today is lost, and every error is the full decoder's.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use image::metadata::Orientation;
use image::{DynamicImage, GrayImage, ImageFormat, RgbImage};

use super::{DecodeOptions, DecodedImage, checked_header, decode_image_with, jpeg_orientation};
use crate::error::{Result, TaxaError};
use crate::pixels::{PixelFormat, PixelsRef};
use crate::preprocess::{Crop, Interpolation, PreprocessContract, Resize, resample};

/// The largest reduction used, per side. 1/8 decodes only each block's DC
/// coefficient: on the model input it differs from the full decode by a mean
/// of 1.36 and up to 27 (0–255; twice Pillow's `draft()`), 1/4 by 0.36 and 7
/// (BENCHMARKS.md, "Decode at the size needed").
pub const MAX_REDUCTION: u32 = 4;

/// The smallest reduction worth a second decoder. jpeg-decoder's Huffman
/// decoding is slower than zune-jpeg's (image's decoder): at 1/2 an 800×800
/// photo decodes no faster than in full, while 1/4 halves a 12 MP photo's time.
pub const MIN_REDUCTION: u32 = 4;

/// A photo decoded for one preprocessing contract: upright RGB at the full
/// size or reduced by `reduction` per side.
#[derive(Debug, Clone)]
pub struct SizedImage {
    /// Upright pixels, `ceil(full_width / reduction)` × `ceil(full_height / reduction)`.
    pub image: RgbImage,
    /// The upright size of the photo at full resolution, in pixels.
    pub full_width: u32,
    pub full_height: u32,
    /// Full size / decoded size, per side: 1 (full decode) or 4 from
    /// [`decode_image_sized`] (the classifier's path; [`MIN_REDUCTION`] =
    /// [`MAX_REDUCTION`] = 4); 2 or 8 only from [`decode_image_reduced_up_to`]
    /// with another largest reduction.
    pub reduction: u32,
    /// The file was cut short and only part of it was decoded (only with
    /// [`DecodeOptions::allow_truncated`]; truncated files are always decoded in full).
    pub truncated: bool,
}

impl SizedImage {
    fn full(decoded: DecodedImage) -> Self {
        let (full_width, full_height) = decoded.image.dimensions();
        SizedImage { image: decoded.image, full_width, full_height, reduction: 1, truncated: decoded.truncated }
    }

    fn pixels(&self) -> Result<PixelsRef<'_>> {
        PixelsRef::new(self.image.width(), self.image.height(), PixelFormat::Rgb8, self.image.as_raw())
    }

    /// The contract's resize and crop: the model's input window as packed
    /// 8-bit RGB, with its (width, height). The window is placed on the
    /// full-size photo (torchvision's arithmetic) and mapped onto the decoded
    /// pixels: decoded pixel `i` covers full pixels `[i·r, (i+1)·r)`.
    pub fn resize_to_input(&self, contract: &PreprocessContract) -> Result<(Vec<u8>, u32, u32)> {
        if self.reduction == 1 {
            return contract.resize_to_input(self.pixels()?);
        }
        let (dst_w, dst_h) = contract.input_size().map_err(TaxaError::InvalidOptions)?;
        let r = self.reduction as f64;
        let (left, top, width, height) = contract.source_window(self.full_width, self.full_height);
        let (left, top) = (left / r, top / r);
        let width = (width / r).min(self.image.width() as f64 - left);
        let height = (height / r).min(self.image.height() as f64 - top);
        let packed = resample(self.pixels()?, (left, top, width, height), dst_w, dst_h, contract.interpolation)?;
        Ok((packed, dst_w, dst_h))
    }

    /// The model input tensor (batch of one, the contract's layout): at
    /// reduction 1 exactly [`PreprocessContract::apply`] on the full image.
    pub fn preprocess(&self, contract: &PreprocessContract) -> Result<Vec<f32>> {
        if self.reduction == 1 {
            return contract.apply(self.pixels()?);
        }
        let (packed, w, h) = self.resize_to_input(contract)?;
        // Already at the input size: a same-size contract only normalises (the resampler copies).
        let normalise = PreprocessContract { resize: Resize::Stretch { width: w, height: h }, crop: Crop::None, ..contract.clone() };
        normalise.apply(PixelsRef::new(w, h, PixelFormat::Rgb8, &packed)?)
    }
}

/// Decodes encoded image bytes for `contract`: a JPEG much larger than the
/// contract needs is decoded reduced (see the module docs), anything else in
/// full by [`decode_image_with`]. Limits, truncation and orientation are
/// checked and applied as there; errors are its errors.
pub fn decode_image_sized(bytes: &[u8], options: &DecodeOptions, contract: &PreprocessContract) -> Result<SizedImage> {
    decode_image_reduced_up_to(bytes, options, contract, MAX_REDUCTION)
}

/// [`decode_image_sized`] with another largest reduction (1, 2, 4 or 8; the
/// smallest used is then the lesser of it and [`MIN_REDUCTION`]), to measure
/// what each costs in time and pixels.
pub fn decode_image_reduced_up_to(bytes: &[u8], options: &DecodeOptions, contract: &PreprocessContract, max_reduction: u32) -> Result<SizedImage> {
    if let Some(sized) = decode_reduced(bytes, options, contract, max_reduction) {
        return Ok(sized);
    }
    decode_image_with(bytes, options).map(SizedImage::full)
}

/// The reduced decode, or `None` where the full decoder must decide.
fn decode_reduced(bytes: &[u8], options: &DecodeOptions, contract: &PreprocessContract, max_reduction: u32) -> Option<SizedImage> {
    // Nearest picks source pixels: a reduced decode would change which it sees.
    if contract.interpolation == Interpolation::Nearest {
        return None;
    }
    // Measured (bench/reduced_decode.py): where colour is halved across and
    // down, jpeg-decoder's reduced colour is further from the full decode
    // than Pillow's draft() at the same scale, so those JPEGs are decoded in full.
    if super::jpeg_segments::chroma_halved_both_ways(bytes) {
        return None;
    }
    let min = MIN_REDUCTION.min(max_reduction).max(2);
    decode_jpeg_reduced(bytes, options, |w, h| Some(reduction_for(contract, w, h, max_reduction)).filter(|&r| r >= min))
}

/// A JPEG decoded at exactly `reduction` (2, 4 or 8) per side, whatever the
/// model needs, or in full where the reduced decoder cannot (not a JPEG,
/// CMYK, 16-bit, truncated): to measure the reduced decode's pixels.
/// Errors: those of [`decode_image_with`].
pub fn decode_jpeg_at(bytes: &[u8], options: &DecodeOptions, reduction: u32) -> Result<SizedImage> {
    match decode_jpeg_reduced(bytes, options, |_, _| Some(reduction).filter(|r| [2, 4, 8].contains(r))) {
        Some(sized) => Ok(sized),
        None => decode_image_with(bytes, options).map(SizedImage::full),
    }
}

/// The reduced decode at the reduction `pick` chooses for the upright full
/// size, or `None` where the full decoder must decide.
fn decode_jpeg_reduced(bytes: &[u8], options: &DecodeOptions, pick: impl FnOnce(u32, u32) -> Option<u32>) -> Option<SizedImage> {
    if image::guess_format(bytes).ok()? != ImageFormat::Jpeg {
        return None;
    }
    let repaired = super::jpeg_segments::tolerant(bytes);
    catch_unwind(AssertUnwindSafe(|| decode_reduced_jpeg(&repaired, options, pick))).ok().flatten()
}

fn decode_reduced_jpeg(bytes: &[u8], options: &DecodeOptions, pick: impl FnOnce(u32, u32) -> Option<u32>) -> Option<SizedImage> {
    // The same checks as the full path; on any refusal it repeats them and reports.
    let (width, height, truncated) = checked_header(bytes, ImageFormat::Jpeg, options).ok()?;
    if truncated {
        return None;
    }
    // The orientation as the full path reads it.
    let orientation = jpeg_orientation(bytes);
    let (full_width, full_height) = if swaps_sides(orientation) { (height, width) } else { (width, height) };
    let reduction = pick(full_width, full_height)?;

    let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    decoder.set_max_decoding_buffer_size(usize::try_from(options.limits.max_alloc_bytes).unwrap_or(usize::MAX));
    decoder.read_info().ok()?;
    let info = decoder.info()?;
    if (info.width as u32, info.height as u32) != (width, height) {
        return None;
    }
    let (want_w, want_h) = (width.div_ceil(reduction), height.div_ceil(reduction));
    let (w, h) = decoder.scale(u16::try_from(want_w).ok()?, u16::try_from(want_h).ok()?).ok()?;
    let (w, h) = (w as u32, h as u32);
    if (w, h) != (want_w, want_h) {
        return None;
    }
    let pixels = decoder.decode().ok()?;
    let image = match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, pixels)?),
        jpeg_decoder::PixelFormat::L8 => DynamicImage::ImageLuma8(GrayImage::from_raw(w, h, pixels)?),
        // CMYK and 16-bit: the full decoder's colour handling.
        _ => return None,
    };
    let mut image = image;
    image.apply_orientation(orientation);
    let image = match image {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other => other.to_rgb8(),
    };
    Some(SizedImage { image, full_width, full_height, reduction, truncated: false })
}

fn swaps_sides(orientation: Orientation) -> bool {
    matches!(orientation, Orientation::Rotate90 | Orientation::Rotate270 | Orientation::Rotate90FlipH | Orientation::Rotate270FlipH)
}

/// How much larger than the contract's resized image a reduced decode must
/// stay, per side. Measured on real photos (bench/reduced_decode.py): where
/// the 1/4 image is exactly the resized size (margin 1), the model input is
/// the scaled IDCT's own pixels and differs from the full decode more than
/// Pillow's `draft()` does (5 of 6 pairs); from margin 1.14 up taxa's was
/// the closer on all 62 pairs.
pub const REDUCTION_MARGIN: f64 = 1.125;

/// The largest reduction (1, 2, 4 or 8, at most `max_reduction`) that keeps
/// the decoded image at least [`REDUCTION_MARGIN`] × the contract's resized
/// image on both sides, for an upright `width`×`height` photo.
pub fn reduction_for(contract: &PreprocessContract, width: u32, height: u32, max_reduction: u32) -> u32 {
    let (need_w, need_h) = match contract.resize {
        Resize::ShorterSide { size } => {
            // torchvision: the short side becomes `size`, the long side int(size * long / short).
            let (short, long) = (width.min(height) as u64, width.max(height) as u64);
            let new_long = (size as u64 * long / short.max(1)) as u32;
            if width <= height { (size, new_long) } else { (new_long, size) }
        }
        Resize::Stretch { width, height } => (width, height),
    };
    let fits = |side: u32, need: u32| side as f64 >= need as f64 * REDUCTION_MARGIN;
    let mut reduction = 1;
    while reduction < max_reduction.min(8) && fits(width / (reduction * 2), need_w) && fits(height / (reduction * 2), need_h) {
        reduction *= 2;
    }
    reduction
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduction_keeps_the_short_side_at_least_the_resize() {
        let c = PreprocessContract::imagenet();
        // The resize is 256: a reduced side must stay ≥ 288 (256 × 1.125).
        assert_eq!(reduction_for(&c, 800, 800, 8), 2); // 400 ≥ 288, 200 < 288
        assert_eq!(reduction_for(&c, 4000, 3000, 8), 8); // 3000/8 = 375 ≥ 288
        assert_eq!(reduction_for(&c, 4000, 3000, 4), 4);
        assert_eq!(reduction_for(&c, 575, 2000, 8), 1);
        assert_eq!(reduction_for(&c, 576, 2000, 8), 2);
        assert_eq!(reduction_for(&c, 3000, 1024, 8), 2, "1024/4 = 256: margin 1, not taken");
        assert_eq!(reduction_for(&c, 3000, 1152, 8), 4);
        assert_eq!(reduction_for(&c, 256, 256, 8), 1);
        let mut stretch = c.clone();
        stretch.resize = Resize::Stretch { width: 300, height: 100 };
        stretch.crop = Crop::None;
        assert_eq!(reduction_for(&stretch, 1352, 900, 8), 4); // 338 ≥ 337.5
        assert_eq!(reduction_for(&stretch, 1348, 900, 8), 2);
    }
}
