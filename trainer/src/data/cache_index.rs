//! The decode cache's binary index (`KEY.idx`): one record per sample, in
//! sample order, appended as the build goes, so a killed build's index says
//! exactly which samples are done. Binary rather than JSON: one byte per
//! decoded image, read without parsing text.
//!
//! Layout (little-endian): magic `taxaidx1`, width u32, height u32, sample
//! count u64; then per sample either `1` (decoded: the next slot of the
//! pixel file) or `0`, a u32 byte length and the UTF-8 reason it was skipped.

pub const MAGIC: &[u8; 8] = b"taxaidx1";
pub const HEADER_LEN: usize = 24;

/// What the cache was built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub width: u32,
    pub height: u32,
    pub samples: u64,
}

impl Header {
    /// Bytes of one cached image (8-bit RGB).
    pub fn image_bytes(&self) -> u64 {
        self.width as u64 * self.height as u64 * 3
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Slot,
    Skipped(String),
}

/// An index as read: its header, the whole records, and how many bytes
/// they span (a torn last record is not counted).
#[derive(Debug)]
pub struct Read {
    pub header: Header,
    pub entries: Vec<Entry>,
    pub valid_len: u64,
}

impl Read {
    /// Decoded images, i.e. slots in the pixel file.
    pub fn slots(&self) -> u64 {
        self.entries.iter().filter(|e| **e == Entry::Slot).count() as u64
    }

    /// Every sample has its record.
    pub fn complete(&self) -> bool {
        self.entries.len() as u64 == self.header.samples
    }
}

pub fn header_bytes(h: &Header) -> Vec<u8> {
    let mut b = MAGIC.to_vec();
    b.extend(h.width.to_le_bytes());
    b.extend(h.height.to_le_bytes());
    b.extend(h.samples.to_le_bytes());
    b
}

pub fn push_entry(out: &mut Vec<u8>, entry: &Entry) {
    match entry {
        Entry::Slot => out.push(1),
        Entry::Skipped(why) => {
            out.push(0);
            out.extend((why.len() as u32).to_le_bytes());
            out.extend(why.as_bytes());
        }
    }
}

/// Reads an index; a record cut short at the end (a killed build) ends the
/// entries. Errors say what is wrong with the bytes.
pub fn parse(bytes: &[u8]) -> Result<Read, String> {
    if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
        return Err("not a taxa cache index".into());
    }
    let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
    let header = Header { width: u32_at(8), height: u32_at(12), samples: u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes")) };
    let (mut entries, mut at) = (Vec::new(), HEADER_LEN);
    while at < bytes.len() && (entries.len() as u64) < header.samples {
        match bytes[at] {
            1 => {
                entries.push(Entry::Slot);
                at += 1;
            }
            0 => {
                let Some(len) = bytes.get(at + 1..at + 5).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize) else { break };
                let Some(text) = bytes.get(at + 5..at + 5 + len) else { break };
                entries.push(Entry::Skipped(String::from_utf8_lossy(text).into_owned()));
                at += 5 + len;
            }
            other => return Err(format!("byte {at}: unknown record {other}")),
        }
    }
    Ok(Read { header, entries, valid_len: at as u64 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_a_torn_record_is_dropped() {
        let header = Header { width: 4, height: 2, samples: 3 };
        let mut bytes = header_bytes(&header);
        for e in [Entry::Slot, Entry::Skipped("cannot read: gone".into()), Entry::Slot] {
            push_entry(&mut bytes, &e);
        }
        let read = parse(&bytes).unwrap();
        assert_eq!((read.header, read.slots(), read.complete(), read.valid_len), (header, 2, true, bytes.len() as u64));
        assert_eq!(read.entries[1], Entry::Skipped("cannot read: gone".into()));
        // Killed inside the skip record: only the first entry counts.
        let torn = parse(&bytes[..HEADER_LEN + 4]).unwrap();
        assert_eq!((torn.entries.len(), torn.valid_len, torn.complete()), (1, HEADER_LEN as u64 + 1, false));
        assert!(parse(b"{\"width\": 4}").is_err());
    }
}
