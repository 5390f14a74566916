//! The EXIF Orientation tag (0x0112) as Pillow reads it: from IFD0 of the
//! TIFF structure in an EXIF block, in either byte order, stored as any
//! integer type. The `image` crate reads only SHORT (the type the standard
//! names), and some cameras and editors write LONG; a photo would then be
//! classified on its side.

use image::metadata::Orientation;

const ORIENTATION: u16 = 0x0112;

/// The orientation an EXIF block gives (with or without JPEG's `Exif\0\0`
/// prefix), or `None` when it has none taxa can read or the value is not 1–8.
pub(crate) fn orientation(exif: &[u8]) -> Option<Orientation> {
    let tiff = exif.strip_prefix(b"Exif\0\0").unwrap_or(exif);
    let big = match tiff.get(..4)? {
        [b'I', b'I', 42, 0] => false,
        [b'M', b'M', 0, 42] => true,
        _ => return None,
    };
    let u16_at = |at: usize| tiff.get(at..at + 2).map(|b| if big { u16::from_be_bytes([b[0], b[1]]) } else { u16::from_le_bytes([b[0], b[1]]) });
    let u32_at = |at: usize| {
        tiff.get(at..at + 4).map(|b| if big { u32::from_be_bytes([b[0], b[1], b[2], b[3]]) } else { u32::from_le_bytes([b[0], b[1], b[2], b[3]]) })
    };
    let ifd = u32_at(4)? as usize;
    let entries = u16_at(ifd)? as usize;
    for index in 0..entries {
        let entry = ifd + 2 + 12 * index;
        if u16_at(entry)? != ORIENTATION {
            continue;
        }
        // The value sits in the entry's last 4 bytes, left-aligned.
        let value_at = entry + 8;
        let value = match u16_at(entry + 2)? {
            1 | 6 | 7 => u32::from(*tiff.get(value_at)?),       // BYTE, SBYTE, UNDEFINED
            3 | 8 => u32::from(u16_at(value_at)?),              // SHORT, SSHORT
            4 | 9 => u32_at(value_at)?,                         // LONG, SLONG
            _ => return None,
        };
        return u8::try_from(value).ok().and_then(Orientation::from_exif);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An EXIF block whose IFD0 holds one Orientation entry of `kind` with `value` bytes.
    fn block(big: bool, kind: u16, value: [u8; 4]) -> Vec<u8> {
        let u16b = |v: u16| if big { v.to_be_bytes() } else { v.to_le_bytes() };
        let u32b = |v: u32| if big { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut b = b"Exif\0\0".to_vec();
        b.extend_from_slice(if big { b"MM\0\x2a" } else { b"II\x2a\0" });
        b.extend_from_slice(&u32b(8));
        b.extend_from_slice(&u16b(1));
        b.extend_from_slice(&u16b(ORIENTATION));
        b.extend_from_slice(&u16b(kind));
        b.extend_from_slice(&u32b(1));
        b.extend_from_slice(&value);
        b.extend_from_slice(&u32b(0));
        b
    }

    #[test]
    fn every_integer_type_in_both_byte_orders() {
        for big in [false, true] {
            let short = if big { [0, 6, 0, 0] } else { [6, 0, 0, 0] };
            let long = if big { [0, 0, 0, 6] } else { [6, 0, 0, 0] };
            for (kind, value) in [(3, short), (8, short), (4, long), (9, long), (1, [6, 0, 0, 0])] {
                assert_eq!(orientation(&block(big, kind, value)), Some(Orientation::Rotate90), "type {kind}, big-endian {big}");
            }
        }
    }

    #[test]
    fn damaged_or_out_of_range_blocks_give_none() {
        assert_eq!(orientation(&block(false, 4, [9, 0, 0, 0])), None);
        assert_eq!(orientation(&block(false, 2, [6, 0, 0, 0])), None); // ASCII
        let whole = block(true, 3, [0, 6, 0, 0]);
        // Cut anywhere before the value's end (the next-IFD offset after it is not needed).
        for cut in 0..whole.len() - 6 {
            assert_eq!(orientation(&whole[..cut]), None, "cut at {cut}");
        }
    }
}
