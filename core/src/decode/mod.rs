//! Decoding encoded images (JPEG, PNG, WebP; GIF, BMP, TIFF unless built
//! without them, see [`SUPPORTED_FORMATS`]) into upright 8-bit RGB, as
//! Pillow's `open` → `exif_transpose` → `convert("RGB")` does.
//!
//! What a photo may cost is bounded ([`DecodeLimits`]), checked from the
//! header before any pixel is decoded. A file cut short is refused
//! ([`TaxaError::ImageTruncated`]) unless the caller opts in, and a panic
//! inside a decoder becomes an error for that one image.

mod container;
mod exif;
mod jpeg_scaled;
mod jpeg_segments;
#[cfg(feature = "tiff")]
mod tiff_alpha;

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, RgbImage, error::LimitErrorKind};

use crate::error::{Result, TaxaError};
use container::Container;
pub use jpeg_scaled::{MAX_REDUCTION, MIN_REDUCTION, REDUCTION_MARGIN, SizedImage, decode_image_reduced_up_to, decode_image_sized, decode_jpeg_at, reduction_for};

/// Bounds on what an image may decode to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Pixels, per side.
    pub max_width: u32,
    /// Pixels, per side.
    pub max_height: u32,
    /// Width × height.
    pub max_pixels: u64,
    /// Bytes the decoder may allocate.
    pub max_alloc_bytes: u64,
}

impl Default for DecodeLimits {
    /// Room for any phone camera (200 MP sensors included), not for bombs.
    fn default() -> Self {
        DecodeLimits { max_width: 20_000, max_height: 20_000, max_pixels: 200_000_000, max_alloc_bytes: 2 << 30 }
    }
}

impl DecodeLimits {
    /// Checks a header's dimensions; the error names them and the limit that tripped.
    pub fn check(&self, width: u32, height: u32) -> Result<()> {
        let too_large = |limit: String| TaxaError::ImageTooLarge { width: width as u64, height: height as u64, limit };
        if width > self.max_width {
            return Err(too_large(format!("{} pixels wide", self.max_width)));
        }
        if height > self.max_height {
            return Err(too_large(format!("{} pixels high", self.max_height)));
        }
        if width as u64 * height as u64 > self.max_pixels {
            return Err(too_large(format!("{} pixels", self.max_pixels)));
        }
        Ok(())
    }
}

/// How to decode: the limits, and whether a file cut short may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecodeOptions {
    pub limits: DecodeLimits,
    /// Accept a truncated file where the decoder can return the part it has
    /// (JPEG: the missing rows are grey, as libjpeg fills them). Off by
    /// default, as in Pillow (`ImageFile.LOAD_TRUNCATED_IMAGES`).
    pub allow_truncated: bool,
}

/// A decoded, upright RGB image.
#[derive(Debug, Clone)]
pub struct DecodedImage {
    pub image: RgbImage,
    /// The file was cut short and only part of it was decoded (only with
    /// [`DecodeOptions::allow_truncated`]).
    pub truncated: bool,
}

/// Decodes encoded image bytes to upright 8-bit RGB, refusing truncated files.
///
/// Errors: [`TaxaError::EmptyImage`], [`TaxaError::UnsupportedImageFormat`],
/// [`TaxaError::UnsupportedImageFeature`], [`TaxaError::ImageTooLarge`],
/// [`TaxaError::ImageTruncated`], [`TaxaError::ImageDecode`].
pub fn decode_image(bytes: &[u8], limits: &DecodeLimits) -> Result<RgbImage> {
    decode_image_with(bytes, &DecodeOptions { limits: *limits, allow_truncated: false }).map(|d| d.image)
}

/// Reads and decodes an image file (see [`decode_image`]).
pub fn decode_image_file(path: &Path, limits: &DecodeLimits) -> Result<RgbImage> {
    let bytes = std::fs::read(path).map_err(|e| TaxaError::io(path, e))?;
    decode_image(&bytes, limits)
}

/// Decodes with explicit options. A panic inside a decoder is caught and
/// returned as [`TaxaError::ImageDecode`], so one odd file never ends a batch.
pub fn decode_image_with(bytes: &[u8], options: &DecodeOptions) -> Result<DecodedImage> {
    if bytes.is_empty() {
        return Err(TaxaError::EmptyImage);
    }
    let format = built_in_format(bytes)?;
    // Segments libjpeg skips must not cost the photo here (see jpeg_segments).
    let repaired = if format == ImageFormat::Jpeg { jpeg_segments::tolerant(bytes) } else { std::borrow::Cow::Borrowed(bytes) };
    let bytes = repaired.as_ref();
    catch_unwind(AssertUnwindSafe(|| decode_format(bytes, format, options))).unwrap_or_else(|panic| {
        Err(TaxaError::ImageDecode(format!(
            "the {} decoder failed on this file (internal error: {})",
            format_name(format),
            crate::panic::panic_message(panic.as_ref())
        )))
    })
}

/// The format of an encoded image, from its first bytes (64 suffice), when
/// this build decodes it: how a folder of photos is sorted into photos and
/// other files before anything is decoded. Names what it refuses: HEIC,
/// HEIF and AVIF photos ([`crate::formats::heif_family`]), formats this
/// build leaves out, and unknown ones.
///
/// Errors: [`TaxaError::EmptyImage`], [`TaxaError::UnsupportedImageFormat`],
/// [`TaxaError::UnsupportedImageFeature`].
pub fn image_format(head: &[u8]) -> Result<&'static str> {
    built_in_format(head).map(format_name)
}

fn built_in_format(bytes: &[u8]) -> Result<ImageFormat> {
    if bytes.is_empty() {
        return Err(TaxaError::EmptyImage);
    }
    if let Some(family) = crate::formats::heif_family(bytes) {
        return Err(TaxaError::UnsupportedImageFeature { format: family.into(), feature: crate::formats::heif_refusal(family) });
    }
    let format = image::guess_format(bytes).map_err(|_| TaxaError::UnsupportedImageFormat)?;
    if !built_in(format) {
        return Err(TaxaError::UnsupportedImageFeature {
            format: format_name(format).into(),
            feature: format!("the whole format: this build decodes {} only", SUPPORTED_FORMATS.join(", ")),
        });
    }
    Ok(format)
}

fn decode_format(bytes: &[u8], format: ImageFormat, options: &DecodeOptions) -> Result<DecodedImage> {
    let limits = &options.limits;
    let (width, height, truncated) = checked_header(bytes, format, options)?;
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_alloc = Some(limits.max_alloc_bytes);
    let size = Some((width, height));
    let decoded = reader(bytes, format, decoder_limits).into_decoder().and_then(|mut decoder| {
        // Not every decoder enforces `max_alloc` itself: check the output buffer here.
        if decoder.total_bytes() > limits.max_alloc_bytes {
            return Err(ImageError::Limits(image::error::LimitError::from_kind(LimitErrorKind::InsufficientMemory)));
        }
        let orientation = orientation(&mut decoder, bytes, format);
        DynamicImage::from_decoder(decoder).map(|image| (image, orientation))
    });
    let (image, orientation) = match decoded {
        Ok(decoded) => decoded,
        // `image` has no grey + alpha TIFF; the tiff crate reads it.
        #[cfg(feature = "tiff")]
        Err(ImageError::Unsupported(e)) if format == ImageFormat::Tiff => match tiff_alpha::decode_grey_alpha(bytes) {
            Some(image) => (image, Orientation::NoTransforms),
            None => return Err(map_image_error(ImageError::Unsupported(e), format, size, limits)),
        },
        Err(e) => return Err(map_image_error(e, format, size, limits)),
    };
    #[cfg(feature = "tiff")]
    let mut image = match format {
        ImageFormat::Tiff => tiff_alpha::unpremultiply_if_associated(bytes, image),
        _ => image,
    };
    #[cfg(not(feature = "tiff"))]
    let mut image = image;
    image.apply_orientation(orientation);
    let image = match image {
        DynamicImage::ImageRgb8(rgb) => rgb,
        // Grayscale, 16-bit, float and alpha images; alpha is dropped like Pillow's convert("RGB").
        other => other.to_rgb8(),
    };
    Ok(DecodedImage { image, truncated })
}

/// The checks made before any pixel is decoded: container structure, header
/// size, limits. Returns the stored (width, height) and whether the file is
/// cut short (and that is allowed).
fn checked_header(bytes: &[u8], format: ImageFormat, options: &DecodeOptions) -> Result<(u32, u32, bool)> {
    let limits = &options.limits;
    let container = container::inspect(format, bytes);
    if let Container::Unsupported { feature } = container {
        return Err(TaxaError::UnsupportedImageFeature { format: format_name(format).into(), feature });
    }
    #[cfg(feature = "tiff")]
    if format == ImageFormat::Tiff
        && let Some(feature) = tiff_alpha::unsupported_layout(bytes)
    {
        return Err(TaxaError::UnsupportedImageFeature { format: format_name(format).into(), feature });
    }
    // The header's size first, with no decoder limits, so a refusal names the real size.
    let (width, height) = header_size(bytes, format).map_err(|e| match &container {
        // Cut inside its header: no size to read.
        Container::Truncated { detail } => TaxaError::ImageTruncated { detail: detail.clone() },
        _ => map_image_error(e, format, None, limits),
    })?;
    if width == 0 || height == 0 {
        return Err(TaxaError::ImageDecode(format!("image has no pixels ({width}×{height})")));
    }
    limits.check(width, height)?;
    let truncated = match container {
        Container::Truncated { detail } if !options.allow_truncated => {
            return Err(TaxaError::ImageTruncated { detail });
        }
        Container::Truncated { .. } => true,
        _ => false,
    };
    Ok((width, height, truncated))
}

/// The header's (width, height), read with no limits.
fn header_size(bytes: &[u8], format: ImageFormat) -> image::ImageResult<(u32, u32)> {
    match reader(bytes, format, image::Limits::no_limits()).into_dimensions() {
        #[cfg(feature = "tiff")]
        Err(ImageError::Unsupported(e)) if format == ImageFormat::Tiff => {
            tiff_alpha::header_size(bytes).ok_or(ImageError::Unsupported(e))
        }
        other => other,
    }
}

fn reader(bytes: &[u8], format: ImageFormat, limits: image::Limits) -> ImageReader<Cursor<&[u8]>> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits);
    reader
}

/// The EXIF orientation. The EXIF block may start with the JPEG-style
/// `Exif\0\0` identifier even in WebP and PNG (Pillow ≤ 9.2 wrote it so):
/// both forms are read. A broken block must not cost the photo: no rotation.
/// A JPEG's orientation from its first EXIF segment (both decode paths).
fn jpeg_orientation(bytes: &[u8]) -> Orientation {
    jpeg_segments::first_exif(bytes).and_then(exif::orientation).unwrap_or(Orientation::NoTransforms)
}

/// The EXIF orientation as Pillow applies it (`ImageOps.exif_transpose`).
fn orientation(decoder: &mut impl ImageDecoder, bytes: &[u8], format: ImageFormat) -> Orientation {
    // A JPEG's first EXIF segment, as Pillow reads it, whatever comes before
    // or after it (XMP, a second EXIF block).
    if format == ImageFormat::Jpeg {
        return jpeg_orientation(bytes);
    }
    // taxa's reader first: it takes the tag stored as any integer type.
    if let Some(found) = decoder.exif_metadata().ok().flatten().and_then(|block| exif::orientation(&block)) {
        return found;
    }
    decoder.orientation().unwrap_or(Orientation::NoTransforms)
}

pub use crate::formats::SUPPORTED_FORMATS;

fn built_in(format: ImageFormat) -> bool {
    matches!(format, ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)
        || (format == ImageFormat::Gif && cfg!(feature = "gif"))
        || (format == ImageFormat::Bmp && cfg!(feature = "bmp"))
        || (format == ImageFormat::Tiff && cfg!(feature = "tiff"))
}

fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Png => "PNG",
        ImageFormat::WebP => "WebP",
        ImageFormat::Gif => "GIF",
        ImageFormat::Bmp => "BMP",
        ImageFormat::Tiff => "TIFF",
        ImageFormat::Avif => "AVIF",
        ImageFormat::Qoi => "QOI",
        ImageFormat::Ico => "ICO",
        ImageFormat::Hdr => "Radiance HDR",
        ImageFormat::OpenExr => "OpenEXR",
        ImageFormat::Pnm => "PNM",
        ImageFormat::Tga => "TGA",
        ImageFormat::Dds => "DDS",
        ImageFormat::Farbfeld => "farbfeld",
        _ => "image",
    }
}

fn map_image_error(error: ImageError, format: ImageFormat, size: Option<(u32, u32)>, limits: &DecodeLimits) -> TaxaError {
    if ends_early(&error) {
        return TaxaError::ImageTruncated { detail: format!("the {} decoder ran out of data: {error}", format_name(format)) };
    }
    match error {
        ImageError::Unsupported(e) => match e.kind() {
            image::error::UnsupportedErrorKind::Format(_) => TaxaError::UnsupportedImageFormat,
            _ => TaxaError::UnsupportedImageFeature { format: format_name(format).into(), feature: e.to_string() },
        },
        ImageError::Limits(e) if matches!(e.kind(), LimitErrorKind::DimensionError | LimitErrorKind::InsufficientMemory) => {
            let (width, height) = size.unwrap_or((0, 0));
            TaxaError::ImageTooLarge {
                width: width as u64,
                height: height as u64,
                limit: format!("{} bytes of decoder memory", limits.max_alloc_bytes),
            }
        }
        other => TaxaError::ImageDecode(other.to_string()),
    }
}

/// Whether a decoder error means the data stopped early: an `UnexpectedEof`
/// anywhere in the error's chain, or the decoders' own wording for it.
fn ends_early(error: &ImageError) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::UnexpectedEof) {
            return true;
        }
        let text = e.to_string().to_lowercase();
        if ["unexpected end", "unexpected eof", "end of file", "not enough data", "no more data", "failed to fill whole buffer"]
            .iter()
            .any(|needle| text.contains(needle))
        {
            return true;
        }
        source = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIFF_HEADER: &[u8] = b"II*\0\x08\0\0\0\0\0\0\0";

    #[test]
    fn the_supported_list_follows_the_build() {
        assert_eq!(&SUPPORTED_FORMATS[..3], ["JPEG", "PNG", "WebP"]);
        assert_eq!(SUPPORTED_FORMATS.contains(&"TIFF"), cfg!(feature = "tiff"));
        assert_eq!(built_in(ImageFormat::Gif), cfg!(feature = "gif"));
        assert_eq!(built_in(ImageFormat::Bmp), cfg!(feature = "bmp"));
    }

    /// The phone libraries (`--no-default-features`) name a left-out format
    /// instead of calling the file corrupt.
    #[test]
    #[cfg(not(feature = "tiff"))]
    fn a_format_left_out_of_the_build_is_named() {
        match decode_image(TIFF_HEADER, &DecodeLimits::default()) {
            Err(TaxaError::UnsupportedImageFeature { format, feature }) => {
                assert_eq!(format, "TIFF");
                assert!(feature.contains("JPEG, PNG, WebP"), "{feature}");
            }
            other => panic!("expected UnsupportedImageFeature, got {other:?}"),
        }
    }

    #[test]
    #[cfg(feature = "tiff")]
    fn a_built_in_format_reaches_its_decoder() {
        // An IFD with no entries: the TIFF decoder's own refusal, not the build's.
        assert!(!matches!(decode_image(TIFF_HEADER, &DecodeLimits::default()), Err(TaxaError::UnsupportedImageFeature { feature, .. }) if feature.contains("this build")));
    }
}
