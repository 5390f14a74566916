//! Checks on an encoded file's container structure, made before and after
//! pixel decoding. Decoders differ in what they do with a file cut short
//! (zune-jpeg fills the rest with grey and reports success, the PNG decoder
//! never reads `IEND`), so whether the file is whole is decided here, from
//! the container itself, the same way for every decoder.

use image::ImageFormat;

/// What the container says about the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Container {
    /// The structure is complete (or this format has no end marker to check).
    Whole,
    /// The data ends before the container's end (EOI, IEND, trailer, RIFF size).
    Truncated { detail: String },
    /// A valid file using a feature the decoders here do not implement.
    Unsupported { feature: String },
}

/// Inspects `bytes` of `format`. Unknown layouts are `Whole`: the decoder
/// then has the last word.
pub(crate) fn inspect(format: ImageFormat, bytes: &[u8]) -> Container {
    match format {
        ImageFormat::Jpeg => jpeg(bytes),
        ImageFormat::Png => png(bytes),
        ImageFormat::WebP => webp(bytes),
        ImageFormat::Gif => gif(bytes),
        _ => Container::Whole,
    }
}

fn truncated(detail: impl Into<String>) -> Container {
    Container::Truncated { detail: detail.into() }
}

/// Walks the JPEG marker segments (ITU T.81 Annex B) up to EOI, skipping
/// entropy-coded data, and names the coding processes no decoder here has.
fn jpeg(bytes: &[u8]) -> Container {
    let mut pos = 2; // after SOI
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        if pos >= bytes.len() {
            return truncated("the JPEG data ends before its end-of-image marker");
        }
        if bytes[pos] != 0xFF {
            // Garbage between segments: leave the verdict to the decoder.
            return Container::Whole;
        }
        while pos < bytes.len() && bytes[pos] == 0xFF {
            pos += 1;
        }
        let Some(&marker) = bytes.get(pos) else {
            return truncated("the JPEG data ends before its end-of-image marker");
        };
        pos += 1;
        match marker {
            0xD9 => return Container::Whole,
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let Some(length) = bytes.get(pos..pos + 2).map(|b| u16::from_be_bytes([b[0], b[1]]) as usize) else {
            return truncated("the JPEG data ends inside a marker segment");
        };
        if length < 2 {
            return Container::Whole;
        }
        let Some(segment) = bytes.get(pos + 2..pos + length) else {
            return truncated("the JPEG data ends inside a marker segment");
        };
        if let Some(feature) = unsupported_jpeg_feature(marker, segment) {
            return Container::Unsupported { feature };
        }
        pos += length;
        if marker == 0xDA {
            // Entropy-coded data runs to the next marker that is neither a
            // stuffed zero nor a restart marker.
            loop {
                match bytes[pos.min(bytes.len())..].iter().position(|&b| b == 0xFF) {
                    None => return truncated("the JPEG data ends inside a scan"),
                    Some(offset) => {
                        let at = pos + offset;
                        match bytes.get(at + 1) {
                            None => return truncated("the JPEG data ends inside a scan"),
                            Some(0x00 | 0xD0..=0xD7 | 0xFF) => pos = at + 1,
                            Some(_) => {
                                pos = at;
                                break;
                            }
                        }
                    }
                }
            }
        }
    }
}

fn unsupported_jpeg_feature(marker: u8, segment: &[u8]) -> Option<String> {
    let process = match marker {
        0xC3 | 0xC7 | 0xCB | 0xCF => Some("lossless coding"),
        0xC5 | 0xC6 | 0xCD | 0xCE => Some("hierarchical (differential) coding"),
        0xC9 | 0xCA => Some("arithmetic coding"),
        0xCC => Some("arithmetic coding"), // DAC: arithmetic conditioning tables
        _ => None,
    };
    if let Some(process) = process {
        return Some(process.to_string());
    }
    // Baseline, extended and progressive Huffman: only 8-bit samples decode here.
    if matches!(marker, 0xC0..=0xC2)
        && let Some(&precision) = segment.first()
        && precision != 8
    {
        return Some(format!("{precision}-bit samples"));
    }
    None
}

/// Walks the PNG chunks up to `IEND` (length, type, data, CRC).
fn png(bytes: &[u8]) -> Container {
    let mut pos = 8; // signature
    while pos < bytes.len() {
        let Some(header) = bytes.get(pos..pos + 8) else {
            return truncated("the PNG data ends inside a chunk header");
        };
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let end = pos.saturating_add(12).saturating_add(length);
        if end > bytes.len() {
            let name = String::from_utf8_lossy(&header[4..8]).into_owned();
            return truncated(format!("the PNG data ends inside its {name} chunk"));
        }
        if &header[4..8] == b"IEND" {
            return Container::Whole;
        }
        pos = end;
    }
    truncated("the PNG data ends before its IEND chunk")
}

/// A WebP file is one RIFF chunk whose size field counts the whole file.
fn webp(bytes: &[u8]) -> Container {
    let Some(size) = bytes.get(4..8).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize) else {
        return truncated("the WebP data ends inside its RIFF header");
    };
    let expected = size.saturating_add(8);
    if bytes.len() < expected {
        return truncated(format!("the WebP file has {} of the {expected} bytes its RIFF header declares", bytes.len()));
    }
    Container::Whole
}

/// Walks the GIF blocks (GIF89a spec) up to the trailer.
fn gif(bytes: &[u8]) -> Container {
    const END: &str = "the GIF data ends before its trailer";
    let Some(&flags) = bytes.get(10) else { return truncated(END) };
    let mut pos = 13;
    if flags & 0x80 != 0 {
        pos += 3 << ((flags & 0x07) + 1);
    }
    // Sub-blocks: a length byte, then that many bytes, until a zero length.
    let skip_sub_blocks = |mut pos: usize| -> Option<usize> {
        loop {
            let length = *bytes.get(pos)? as usize;
            pos += 1 + length;
            if length == 0 {
                return Some(pos);
            }
        }
    };
    loop {
        let Some(&introducer) = bytes.get(pos) else { return truncated(END) };
        match introducer {
            0x3B => return Container::Whole,
            0x21 => match skip_sub_blocks(pos + 2) {
                Some(next) => pos = next,
                None => return truncated(END),
            },
            0x2C => {
                let Some(&local) = bytes.get(pos + 9) else { return truncated(END) };
                pos += 10;
                if local & 0x80 != 0 {
                    pos += 3 << ((local & 0x07) + 1);
                }
                pos += 1; // LZW minimum code size
                match skip_sub_blocks(pos) {
                    Some(next) => pos = next,
                    None => return truncated(END),
                }
            }
            // Unknown block: leave the verdict to the decoder.
            _ => return Container::Whole,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_markers_are_walked_to_eoi() {
        // SOI, SOF0 (8-bit), SOS, two data bytes with a stuffed 0xFF00 and RST0, EOI.
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 8, 0, 1, 0, 1, 1, 1, 0x11, 0];
        jpeg.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x08, 1, 1, 0, 0, 0x3F, 0]);
        jpeg.extend_from_slice(&[0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF, 0xD9]);
        assert_eq!(jpeg_container(&jpeg), Container::Whole);
        for cut in [3, 8, 20, jpeg.len() - 2, jpeg.len() - 1] {
            assert!(matches!(jpeg_container(&jpeg[..cut]), Container::Truncated { .. }), "cut at {cut}");
        }
        // Trailing bytes after EOI (camera trailers) are fine.
        jpeg.extend_from_slice(b"trailer");
        assert_eq!(jpeg_container(&jpeg), Container::Whole);
    }

    fn jpeg_container(bytes: &[u8]) -> Container {
        inspect(ImageFormat::Jpeg, bytes)
    }

    #[test]
    fn jpeg_features_are_named() {
        let sof = |marker: u8, precision: u8| vec![0xFF, 0xD8, 0xFF, marker, 0x00, 0x0B, precision, 0, 1, 0, 1, 1, 1, 0x11, 0];
        let feature = |bytes: Vec<u8>| match jpeg_container(&bytes) {
            Container::Unsupported { feature } => feature,
            other => panic!("{other:?}"),
        };
        assert_eq!(feature(sof(0xC9, 8)), "arithmetic coding");
        assert_eq!(feature(sof(0xC3, 8)), "lossless coding");
        assert_eq!(feature(sof(0xC1, 12)), "12-bit samples");
        assert_eq!(feature(vec![0xFF, 0xD8, 0xFF, 0xCC, 0x00, 0x04, 0, 0]), "arithmetic coding");
    }

    #[test]
    fn webp_size_field_is_checked() {
        let mut webp = b"RIFF\x0c\0\0\0WEBPVP8L".to_vec();
        webp.extend_from_slice(&[0; 4]);
        assert_eq!(inspect(ImageFormat::WebP, &webp), Container::Whole);
        assert!(matches!(inspect(ImageFormat::WebP, &webp[..15]), Container::Truncated { .. }));
    }
}
