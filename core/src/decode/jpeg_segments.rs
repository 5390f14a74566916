//! JPEG segments a tolerant decoder skips, made skippable for ours.
//!
//! libjpeg (Pillow's decoder) ignores an application segment it cannot use:
//! an Adobe APP14 shorter than its 12 bytes, or one naming an unknown colour
//! transform, an extended-XMP APP1 too short for its header. zune-jpeg (the
//! full decode) refuses the whole photo for them, so they are dropped here
//! before either decode path sees the file; fill bytes between markers are
//! dropped too. Nothing after the first scan header (SOS) is touched.

use std::borrow::Cow;

const APP1: u8 = 0xE1;
const APP14: u8 = 0xEE;
const SOS: u8 = 0xDA;
/// `Adobe` + version (2) + flags0 (2) + flags1 (2) + transform (1).
const ADOBE_PAYLOAD: usize = 12;
const EXTENDED_XMP: &[u8] = b"http://ns.adobe.com/xmp/extension/\0";
/// GUID (32) + full size (4) + offset (4).
const EXTENDED_XMP_HEADER: usize = 40;

/// `bytes` with the segments libjpeg would skip removed; borrowed unchanged
/// when there are none (the common case) or when the file is not a JPEG.
pub(crate) fn tolerant(bytes: &[u8]) -> Cow<'_, [u8]> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return Cow::Borrowed(bytes);
    }
    // (start, end) of byte ranges to drop, in order.
    let mut drops: Vec<(usize, usize)> = Vec::new();
    let mut pos = 2;
    while pos < bytes.len() && bytes[pos] == 0xFF {
        let fill_start = pos;
        while pos + 1 < bytes.len() && bytes[pos + 1] == 0xFF {
            pos += 1;
        }
        if pos > fill_start {
            drops.push((fill_start, pos));
        }
        let Some(&marker) = bytes.get(pos + 1) else { break };
        if marker == SOS || marker == 0xD9 {
            break;
        }
        if marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            pos += 2;
            continue;
        }
        let Some(length) = bytes.get(pos + 2..pos + 4).map(|b| u16::from_be_bytes([b[0], b[1]]) as usize) else { break };
        let Some(payload) = bytes.get(pos + 4..pos + 2 + length).filter(|_| length >= 2) else {
            // Damaged or cut short: the decoder and the container check report it.
            break;
        };
        if skippable(marker, payload) {
            drops.push((pos, pos + 2 + length));
        }
        pos += 2 + length;
    }
    if drops.is_empty() {
        return Cow::Borrowed(bytes);
    }
    let mut kept = Vec::with_capacity(bytes.len());
    let mut from = 0;
    for (start, end) in drops {
        kept.extend_from_slice(&bytes[from..start]);
        from = end;
    }
    kept.extend_from_slice(&bytes[from..]);
    Cow::Owned(kept)
}

/// The marker segments before the first scan, as (marker, payload), fill
/// bytes skipped; ends early at damage (the decoders report it).
pub(crate) fn segments(bytes: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut pos = if bytes.starts_with(&[0xFF, 0xD8]) { 2 } else { bytes.len() };
    std::iter::from_fn(move || {
        loop {
            while bytes.get(pos + 1) == Some(&0xFF) && bytes[pos] == 0xFF {
                pos += 1;
            }
            if bytes.get(pos) != Some(&0xFF) {
                return None;
            }
            let marker = *bytes.get(pos + 1)?;
            if marker == SOS || marker == 0xD9 {
                return None;
            }
            if marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
                pos += 2;
                continue;
            }
            let length = bytes.get(pos + 2..pos + 4).map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)?;
            let payload = bytes.get(pos + 4..pos + 2 + length).filter(|_| length >= 2)?;
            pos += 2 + length;
            return Some((marker, payload));
        }
    })
}

/// The first EXIF block (an APP1 starting `Exif\0\0`), wherever it sits
/// among the other segments: the one Pillow reads (`JpegImagePlugin`
/// keeps the first and ignores later ones).
pub(crate) fn first_exif(bytes: &[u8]) -> Option<&[u8]> {
    segments(bytes).find(|(marker, payload)| *marker == APP1 && payload.starts_with(b"Exif\0\0")).map(|(_, payload)| payload)
}

/// Whether a colour component is subsampled both across and down (4:2:0,
/// 4:1:0, …) by the frame header: where jpeg-decoder's reduced decode
/// blurs the colour more than libjpeg's does (see `jpeg_scaled`).
pub(crate) fn chroma_halved_both_ways(bytes: &[u8]) -> bool {
    // SOF0–SOF15 but DHT (C4), JPG (C8) and DAC (CC).
    let Some((_, frame)) = segments(bytes).find(|(m, _)| (0xC0..=0xCF).contains(m) && ![0xC4, 0xC8, 0xCC].contains(m)) else { return false };
    let factors: Vec<(u8, u8)> = frame.get(6..).unwrap_or_default().chunks_exact(3).take(frame.get(5).copied().unwrap_or(0).into()).map(|c| (c[1] >> 4, c[1] & 15)).collect();
    let (h_max, v_max) = factors.iter().fold((1, 1), |(h, v), &(ch, cv)| (h.max(ch), v.max(cv)));
    factors.iter().any(|&(h, v)| h < h_max && v < v_max)
}

/// Whether libjpeg would ignore this segment where zune-jpeg refuses the file.
fn skippable(marker: u8, payload: &[u8]) -> bool {
    match marker {
        // jdmarker.c `examine_app14`: shorter than 12 bytes is "unknown APP14".
        APP14 if payload.starts_with(b"Adobe") => payload.len() < ADOBE_PAYLOAD || payload[ADOBE_PAYLOAD - 1] > 2,
        APP1 => payload.strip_prefix(EXTENDED_XMP).is_some_and(|rest| rest.len() < EXTENDED_XMP_HEADER),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
        let mut s = vec![0xFF, marker];
        s.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        s.extend_from_slice(payload);
        s
    }

    fn jpeg(segments: &[Vec<u8>]) -> Vec<u8> {
        let mut bytes = vec![0xFF, 0xD8];
        for s in segments {
            bytes.extend_from_slice(s);
        }
        // A scan header and data that must stay untouched, even where they look like segments.
        bytes.extend_from_slice(&[0xFF, SOS, 0x00, 0x02, 0xFF, 0xEE, 0x00, 0x03, 0x00, 0xFF, 0xD9]);
        bytes
    }

    #[test]
    fn well_formed_files_are_borrowed() {
        let adobe = segment(APP14, b"Adobe\0\x64\0\0\0\0\x01");
        let bytes = jpeg(&[segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"), adobe]);
        assert!(matches!(tolerant(&bytes), Cow::Borrowed(_)));
        assert!(matches!(tolerant(b"\x89PNG\r\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn short_or_unknown_adobe_segments_and_fill_bytes_are_dropped() {
        let jfif = segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        for bad in [segment(APP14, b"Adobe\0\x64\0\0"), segment(APP14, b"Adobe\0\x64\0\0\0\0\x07")] {
            let bytes = jpeg(&[jfif.clone(), bad]);
            assert_eq!(tolerant(&bytes).as_ref(), jpeg(std::slice::from_ref(&jfif)).as_slice());
        }
        let mut filled = jfif.clone();
        filled.insert(0, 0xFF);
        assert_eq!(tolerant(&jpeg(&[filled])).as_ref(), jpeg(std::slice::from_ref(&jfif)).as_slice());
        let short_xmp = segment(APP1, &[EXTENDED_XMP, &[0u8; 10]].concat());
        assert_eq!(tolerant(&jpeg(&[jfif.clone(), short_xmp])).as_ref(), jpeg(&[jfif]).as_slice());
    }

    #[test]
    fn damaged_segments_are_left_for_the_decoder() {
        let mut bytes = vec![0xFF, 0xD8, 0xFF, APP14, 0x00, 0x40, b'A'];
        assert!(matches!(tolerant(&bytes), Cow::Borrowed(_)));
        bytes.truncate(3);
        assert!(matches!(tolerant(&bytes), Cow::Borrowed(_)));
    }
    /// A baseline frame header (SOF0) with these (h, v) sampling factors.
    fn sof(factors: &[(u8, u8)]) -> Vec<u8> {
        let mut p = vec![8, 0, 16, 0, 16, factors.len() as u8];
        for (i, (h, v)) in factors.iter().enumerate() {
            p.extend([i as u8 + 1, h << 4 | v, 0]);
        }
        segment(0xC0, &p)
    }

    #[test]
    fn chroma_subsampling_is_read_from_the_frame_header() {
        let with = |f: &[(u8, u8)]| chroma_halved_both_ways(&jpeg(&[segment(0xE0, b"JFIF\0\x01\x01"), sof(f)]));
        assert!(with(&[(2, 2), (1, 1), (1, 1)]), "4:2:0");
        assert!(with(&[(4, 2), (1, 1), (1, 1)]), "4:1:0");
        assert!(!with(&[(2, 1), (1, 1), (1, 1)]), "4:2:2");
        assert!(!with(&[(1, 2), (1, 1), (1, 1)]), "4:4:0");
        assert!(!with(&[(1, 1), (1, 1), (1, 1)]), "4:4:4");
        assert!(!with(&[(1, 1)]), "grey");
        assert!(!chroma_halved_both_ways(b"\xff\xd8\xff\xc0\x00"), "cut short: no verdict");
    }

    #[test]
    fn the_first_exif_block_is_the_one_read() {
        let xmp = segment(APP1, b"http://ns.adobe.com/xap/1.0/\0<x/>");
        let exif = |tag: u8| segment(APP1, &[b"Exif\0\0MM\0*" as &[u8], &[tag]].concat());
        let file = jpeg(&[segment(0xE0, b"JFIF\0"), xmp, exif(6), exif(1)]);
        assert_eq!(first_exif(&file), Some(&b"Exif\0\0MM\0*\x06"[..]));
        assert_eq!(first_exif(&jpeg(&[segment(0xE0, b"JFIF\0")])), None);
    }
}
