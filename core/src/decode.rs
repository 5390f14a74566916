//! Decoding encoded images (JPEG, PNG, WebP…) into RGB, honouring EXIF
//! orientation and refusing decompression bombs.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageError, ImageReader, RgbImage, error::LimitErrorKind};

use crate::error::{Result, TaxaError};

/// Bounds on what an image may decode to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    pub max_width: u32,
    pub max_height: u32,
    /// Width × height.
    pub max_pixels: u64,
    /// Bytes the decoder may allocate.
    pub max_alloc_bytes: u64,
}

impl Default for DecodeLimits {
    /// Room for any phone camera (200 MP sensors included), not for bombs.
    fn default() -> Self {
        DecodeLimits {
            max_width: 20_000,
            max_height: 20_000,
            max_pixels: 200_000_000,
            max_alloc_bytes: 2 << 30,
        }
    }
}

impl DecodeLimits {
    fn check(&self, width: u32, height: u32) -> Result<()> {
        let too_large = |limit: String| TaxaError::ImageTooLarge { width: width as u64, height: height as u64, limit };
        if width > self.max_width || height > self.max_height {
            return Err(too_large(format!("{}×{}", self.max_width, self.max_height)));
        }
        if width as u64 * height as u64 > self.max_pixels {
            return Err(too_large(format!("{} pixels", self.max_pixels)));
        }
        Ok(())
    }
}

/// Decodes encoded image bytes to upright 8-bit RGB.
pub fn decode_image(bytes: &[u8], limits: &DecodeLimits) -> Result<RgbImage> {
    if bytes.is_empty() {
        return Err(TaxaError::EmptyImage);
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| TaxaError::ImageDecode(e.to_string()))?;
    if reader.format().is_none() {
        return Err(TaxaError::UnsupportedImageFormat);
    }
    let mut reader = reader;
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(limits.max_width);
    image_limits.max_image_height = Some(limits.max_height);
    image_limits.max_alloc = Some(limits.max_alloc_bytes);
    reader.limits(image_limits);

    let mut decoder = reader.into_decoder().map_err(|e| map_image_error(e, None))?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(TaxaError::ImageDecode(format!("image has no pixels ({width}×{height})")));
    }
    limits.check(width, height)?;
    // A broken EXIF block must not cost the photo: fall back to no rotation.
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| map_image_error(e, Some((width, height))))?;
    image.apply_orientation(orientation);
    Ok(match image {
        DynamicImage::ImageRgb8(rgb) => rgb,
        // Grayscale, 16-bit, float and alpha images; alpha is dropped like Pillow's convert("RGB").
        other => other.to_rgb8(),
    })
}

/// Reads and decodes an image file.
pub fn decode_image_file(path: &Path, limits: &DecodeLimits) -> Result<RgbImage> {
    let bytes = std::fs::read(path).map_err(|e| TaxaError::io(path, e))?;
    decode_image(&bytes, limits)
}

fn map_image_error(error: ImageError, size: Option<(u32, u32)>) -> TaxaError {
    match error {
        ImageError::Unsupported(e) => match e.kind() {
            image::error::UnsupportedErrorKind::Format(_) => TaxaError::UnsupportedImageFormat,
            _ => TaxaError::ImageDecode(e.to_string()),
        },
        ImageError::Limits(e) => {
            let (width, height) = size.unwrap_or((0, 0));
            match e.kind() {
                LimitErrorKind::DimensionError | LimitErrorKind::InsufficientMemory => TaxaError::ImageTooLarge {
                    width: width as u64,
                    height: height as u64,
                    limit: e.to_string(),
                },
                _ => TaxaError::ImageDecode(e.to_string()),
            }
        }
        other => TaxaError::ImageDecode(other.to_string()),
    }
}
