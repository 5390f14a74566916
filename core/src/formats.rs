//! The image formats this build decodes: a leaf module, read by the decoder
//! and by the error messages alike.

/// The formats this build decodes: JPEG, PNG and WebP with the `decode`
/// feature (on by default); GIF, BMP and TIFF with taxa-core's features of
/// those names (on by default, off in the phone libraries); none without
/// `decode` (the web build, where the browser decodes photos).
pub const SUPPORTED_FORMATS: &[&str] = &[
    #[cfg(feature = "decode")]
    "JPEG",
    #[cfg(feature = "decode")]
    "PNG",
    #[cfg(feature = "decode")]
    "WebP",
    #[cfg(feature = "gif")]
    "GIF",
    #[cfg(feature = "bmp")]
    "BMP",
    #[cfg(feature = "tiff")]
    "TIFF",
];

/// Names the HEIF-family photo formats (ISO/IEC 23008-12 and the AV1 image
/// format, both ISO-BMFF files that open with an `ftyp` box): "HEIC" for
/// HEVC-coded HEIF (an iPhone's default), "AVIF" for AV1-coded, "HEIF" for
/// the rest. `None` for anything else. Reads the major and compatible
/// brands in the first `ftyp` box only, so a file's first 64 bytes suffice.
pub fn heif_family(head: &[u8]) -> Option<&'static str> {
    if head.get(4..8) != Some(b"ftyp") {
        return None;
    }
    let size = u32::from_be_bytes(head[0..4].try_into().ok()?) as usize;
    let end = size.clamp(16, 64).min(head.len());
    let brands: Vec<&[u8]> = head.get(8..end)?.chunks_exact(4).enumerate().filter(|(i, _)| *i != 1).map(|(_, b)| b).collect();
    let has = |names: &[&[u8; 4]]| brands.iter().any(|b| names.iter().any(|n| *b == &n[..]));
    if has(&[b"avif", b"avis"]) {
        Some("AVIF")
    } else if has(&[b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"]) {
        Some("HEIC")
    } else if has(&[b"mif1", b"msf1", b"mif2"]) {
        Some("HEIF")
    } else {
        None
    }
}

/// Why a HEIF-family photo ([`heif_family`]) is refused, and what to do.
pub fn heif_refusal(format: &str) -> String {
    format!(
        "the whole format: taxa does not decode {format} photos (no well-kept Rust decoder builds without libheif 1.17 or dav1d); \
         export them as JPEG (on an iPhone: Settings > Camera > Formats > Most Compatible, or share them as JPEG)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ftyp(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
        let size = 16 + 4 * compatible.len();
        let mut b = (size as u32).to_be_bytes().to_vec();
        b.extend_from_slice(b"ftyp");
        b.extend_from_slice(major);
        b.extend_from_slice(&[0, 0, 0, 0]);
        for c in compatible {
            b.extend_from_slice(*c);
        }
        b.extend_from_slice(b"\0\0\0\x08meta");
        b
    }

    #[test]
    fn heif_family_is_named_from_its_brands() {
        assert_eq!(heif_family(&ftyp(b"heic", &[b"mif1", b"heic"])), Some("HEIC"));
        assert_eq!(heif_family(&ftyp(b"mif1", &[b"mif1", b"heic"])), Some("HEIC"), "major mif1, HEVC compatible");
        assert_eq!(heif_family(&ftyp(b"avif", &[b"mif1", b"miaf"])), Some("AVIF"));
        assert_eq!(heif_family(&ftyp(b"mif1", &[b"avif"])), Some("AVIF"));
        assert_eq!(heif_family(&ftyp(b"mif1", &[b"miaf"])), Some("HEIF"));
        // The minor version is not a brand; a video (MP4) is not a photo format.
        assert_eq!(heif_family(&ftyp(b"isom", &[b"iso2", b"mp41"])), None);
        let mut minor = ftyp(b"isom", &[]);
        minor[12..16].copy_from_slice(b"heic");
        assert_eq!(heif_family(&minor), None);
        assert_eq!(heif_family(b"\xff\xd8\xff\xe0"), None);
        assert_eq!(heif_family(b""), None);
    }
}
