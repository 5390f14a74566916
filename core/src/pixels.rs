//! Raw pixel buffers, as camera frames and Android bitmaps hand them over.

use crate::error::{Result, TaxaError};

/// Byte layout of one pixel in a raw buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    /// 3 bytes a pixel: red, green, blue.
    Rgb8,
    /// 4 bytes a pixel: red, green, blue, alpha. Alpha is dropped, not
    /// composited onto a background (as Pillow's `convert("RGB")`).
    Rgba8,
    /// 4 bytes a pixel: blue, green, red, alpha; alpha dropped as for `Rgba8`.
    /// Also what Android's `Bitmap.getPixels` ARGB ints are in little-endian memory.
    Bgra8,
}

impl PixelFormat {
    pub fn bytes_per_pixel(self) -> usize {
        match self {
            PixelFormat::Rgb8 => 3,
            PixelFormat::Rgba8 | PixelFormat::Bgra8 => 4,
        }
    }

    /// Byte offsets of red, green and blue within one pixel.
    pub(crate) fn rgb_offsets(self) -> [usize; 3] {
        match self {
            PixelFormat::Rgb8 | PixelFormat::Rgba8 => [0, 1, 2],
            PixelFormat::Bgra8 => [2, 1, 0],
        }
    }
}

/// A tightly packed pixel buffer (row stride = width × bytes per pixel).
#[derive(Debug, Clone, Copy)]
pub struct PixelsRef<'a> {
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    pub format: PixelFormat,
    /// Exactly width × height × bytes per pixel bytes, row by row, top first.
    pub data: &'a [u8],
}

impl<'a> PixelsRef<'a> {
    /// A view of `width`×`height` packed pixels in `data`. Bytes past
    /// width × height × bytes per pixel are ignored (the view is cut there).
    /// Errors: [`TaxaError::InvalidPixelBuffer`] when width or height is 0,
    /// or `data` is shorter than that.
    pub fn new(width: u32, height: u32, format: PixelFormat, data: &'a [u8]) -> Result<Self> {
        if width == 0 || height == 0 {
            return Err(TaxaError::InvalidPixelBuffer(format!("size {width}×{height} has no pixels")));
        }
        let needed = width as u64 * height as u64 * format.bytes_per_pixel() as u64;
        if (data.len() as u64) < needed {
            return Err(TaxaError::InvalidPixelBuffer(format!(
                "{width}×{height} {format:?} needs {needed} bytes, got {}",
                data.len()
            )));
        }
        Ok(PixelsRef { width, height, format, data: &data[..needed as usize] })
    }
}

/// A decoded RGB image as a packed [`PixelFormat::Rgb8`] view (no copy).
/// Errors with [`TaxaError::InvalidPixelBuffer`] for an image without pixels.
impl<'a> TryFrom<&'a image::RgbImage> for PixelsRef<'a> {
    type Error = TaxaError;

    fn try_from(image: &'a image::RgbImage) -> Result<Self> {
        PixelsRef::new(image.width(), image.height(), PixelFormat::Rgb8, image.as_raw())
    }
}

/// A raw buffer whose rows may be padded (`row_stride` ≥ width × bytes per pixel).
#[derive(Debug, Clone, Copy)]
pub struct PixelBuffer<'a> {
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// Bytes from the start of one row to the start of the next; at least
    /// width × bytes per pixel.
    pub row_stride: usize,
    pub format: PixelFormat,
    /// Rows top first. At least `(height − 1) × row_stride + width × bytes
    /// per pixel` bytes (the last row needs no padding); extra bytes are ignored.
    pub data: &'a [u8],
}

impl<'a> PixelBuffer<'a> {
    /// Calls `f` with a packed view, copying rows only when they are padded.
    /// Errors: [`TaxaError::InvalidPixelBuffer`] when width or height is 0,
    /// the row stride is too small, `data` is too short, or the size overflows;
    /// otherwise `f`'s.
    pub fn with_packed<T>(&self, f: impl FnOnce(PixelsRef<'_>) -> Result<T>) -> Result<T> {
        let (w, h) = (self.width as usize, self.height as usize);
        if w == 0 || h == 0 {
            return Err(TaxaError::InvalidPixelBuffer(format!("size {w}×{h} has no pixels")));
        }
        let row_bytes = w
            .checked_mul(self.format.bytes_per_pixel())
            .ok_or_else(|| TaxaError::InvalidPixelBuffer("width overflows".into()))?;
        if self.row_stride < row_bytes {
            return Err(TaxaError::InvalidPixelBuffer(format!(
                "row stride {} is less than width × {} bytes = {row_bytes}",
                self.row_stride,
                self.format.bytes_per_pixel()
            )));
        }
        let needed = (h - 1)
            .checked_mul(self.row_stride)
            .and_then(|n| n.checked_add(row_bytes))
            .ok_or_else(|| TaxaError::InvalidPixelBuffer("size overflows".into()))?;
        if self.data.len() < needed {
            return Err(TaxaError::InvalidPixelBuffer(format!(
                "{w}×{h} with row stride {} needs {needed} bytes, got {}",
                self.row_stride,
                self.data.len()
            )));
        }
        if self.row_stride == row_bytes {
            return f(PixelsRef::new(self.width, self.height, self.format, self.data)?);
        }
        let mut packed = Vec::with_capacity(row_bytes * h);
        for row in 0..h {
            let start = row * self.row_stride;
            packed.extend_from_slice(&self.data[start..start + row_bytes]);
        }
        f(PixelsRef::new(self.width, self.height, self.format, &packed)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_rows_are_packed() {
        // 2×2 RGB with 2 bytes of padding a row.
        let data = [1, 2, 3, 4, 5, 6, 0, 0, 7, 8, 9, 10, 11, 12];
        let buffer = PixelBuffer { width: 2, height: 2, row_stride: 8, format: PixelFormat::Rgb8, data: &data };
        let packed = buffer.with_packed(|p| Ok(p.data.to_vec())).unwrap();
        assert_eq!(packed, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    }

    #[test]
    fn short_buffers_and_bad_strides_are_errors() {
        let data = [0u8; 10];
        let short = PixelBuffer { width: 2, height: 2, row_stride: 6, format: PixelFormat::Rgb8, data: &data };
        assert!(short.with_packed(|_| Ok(())).unwrap_err().to_string().contains("needs 12 bytes"));
        let narrow = PixelBuffer { width: 2, height: 1, row_stride: 7, format: PixelFormat::Rgba8, data: &data };
        assert!(narrow.with_packed(|_| Ok(())).unwrap_err().to_string().contains("row stride 7"));
        let empty = PixelBuffer { width: 0, height: 5, row_stride: 0, format: PixelFormat::Rgba8, data: &data };
        assert!(matches!(empty.with_packed(|_| Ok(())), Err(TaxaError::InvalidPixelBuffer(_))));
        let huge = PixelBuffer { width: u32::MAX, height: u32::MAX, row_stride: usize::MAX, format: PixelFormat::Bgra8, data: &data };
        assert!(huge.with_packed(|_| Ok(())).is_err());
    }
}
