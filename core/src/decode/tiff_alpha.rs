//! TIFF specifics: layouts refused before the decoder sees them, and
//! associated (premultiplied) alpha. The `image` crate hands back the
//! stored samples; with ExtraSamples = 1 (TIFF 6.0 §18) the colours are
//! already multiplied by alpha, so they are divided back out, as Pillow does
//! on load. Unassociated alpha (ExtraSamples = 2) is left as it is.

use std::io::Cursor;

use image::{DynamicImage, ImageBuffer, Pixel};
use tiff::tags::Tag;

const ASSOCIATED_ALPHA: u16 = 1;

pub(super) fn unpremultiply_if_associated(bytes: &[u8], image: DynamicImage) -> DynamicImage {
    if !has_associated_alpha(bytes) {
        return image;
    }
    match image {
        DynamicImage::ImageRgba8(mut img) => {
            unpremultiply(&mut img, 255);
            DynamicImage::ImageRgba8(img)
        }
        DynamicImage::ImageLumaA8(mut img) => {
            unpremultiply(&mut img, 255);
            DynamicImage::ImageLumaA8(img)
        }
        DynamicImage::ImageRgba16(mut img) => {
            unpremultiply(&mut img, 65535);
            DynamicImage::ImageRgba16(img)
        }
        DynamicImage::ImageLumaA16(mut img) => {
            unpremultiply(&mut img, 65535);
            DynamicImage::ImageLumaA16(img)
        }
        other => other,
    }
}

/// A layout the tiff crate (0.11) would assert on instead of decoding:
/// tiles with each colour in its own plane (PlanarConfiguration 2;
/// image-rs/image-tiff#403). Refused by name before any pixel is decoded, so
/// no panic happens at all (a caught one still reaches the host's panic hook).
pub(super) fn unsupported_layout(bytes: &[u8]) -> Option<String> {
    let mut decoder = tiff::decoder::Decoder::new(Cursor::new(bytes)).ok()?;
    let planar = decoder.find_tag_unsigned::<u16>(Tag::PlanarConfiguration).ok().flatten() == Some(2);
    let tiled = decoder.find_tag(Tag::TileWidth).ok().flatten().is_some();
    (planar && tiled).then(|| "tiles with one plane per colour (PlanarConfiguration 2)".to_string())
}

/// A TIFF's size from its first IFD.
pub(super) fn header_size(bytes: &[u8]) -> Option<(u32, u32)> {
    tiff::decoder::Decoder::new(Cursor::new(bytes)).ok()?.dimensions().ok()
}

/// Grey + alpha TIFFs (8 or 16 bits), which `image` does not decode.
pub(super) fn decode_grey_alpha(bytes: &[u8]) -> Option<DynamicImage> {
    use tiff::{ColorType, decoder::DecodingResult};
    let mut decoder = tiff::decoder::Decoder::new(Cursor::new(bytes)).ok()?;
    let (width, height) = decoder.dimensions().ok()?;
    let colour = decoder.colortype().ok()?;
    // Grey + alpha without PhotometricInterpretation-aware typing comes as two-sample multiband.
    let grey_alpha = matches!(colour, ColorType::GrayA(_) | ColorType::Multiband { num_samples: 2, .. });
    if !grey_alpha {
        return None;
    }
    match (colour, decoder.read_image().ok()?) {
        (_, DecodingResult::U8(data)) => ImageBuffer::from_raw(width, height, data).map(DynamicImage::ImageLumaA8),
        (_, DecodingResult::U16(data)) => ImageBuffer::from_raw(width, height, data).map(DynamicImage::ImageLumaA16),
        _ => None,
    }
}

fn has_associated_alpha(bytes: &[u8]) -> bool {
    let Ok(mut decoder) = tiff::decoder::Decoder::new(Cursor::new(bytes)) else { return false };
    matches!(decoder.find_tag_unsigned_vec::<u16>(Tag::ExtraSamples), Ok(Some(extra)) if extra.first() == Some(&ASSOCIATED_ALPHA))
}

/// colour = stored × max / alpha, floored (Pillow's `CLIP8(255 * c / a)`);
/// pixels with alpha 0 keep their stored colour (zero in a valid file).
fn unpremultiply<P>(image: &mut ImageBuffer<P, Vec<P::Subpixel>>, max: u64)
where
    P: Pixel,
    P::Subpixel: Into<u64> + TryFrom<u64>,
{
    for pixel in image.pixels_mut() {
        let channels = pixel.channels_mut();
        let (colours, alpha) = channels.split_at_mut(channels.len() - 1);
        let alpha: u64 = alpha[0].into();
        if alpha == 0 || alpha == max {
            continue;
        }
        for c in colours {
            let straight = ((*c).into() * max / alpha).min(max);
            if let Ok(v) = P::Subpixel::try_from(straight) {
                *c = v;
            }
        }
    }
}
