//! Decode and resize every image once, in parallel, into an on-disk cache
//! of 8-bit pixels that later epochs and later runs reuse (memory-mapped).
//! The pixels are exactly what taxa-core's preprocessing contract gives
//! before normalisation. Missing, corrupt or undecodable images (a decoder
//! panic included) are skipped and kept with the reason.
//!
//! Files, per cache key: `KEY.u8` (pixels, slot after slot) and `KEY.idx`
//! (binary index, see [`index`]). While building they are `KEY.u8.part` and
//! `KEY.idx.part`, grown chunk by chunk, pixels first, then the chunk's
//! index records: a killed build (kill -9 included) resumes after the last
//! chunk whose records are complete, and only a finished build is renamed
//! to the names that are read as a whole cache.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use taxa_core::{DecodeLimits, DecodeOptions, PreprocessContract, decode_image_sized};

use super::cache_index::{self as index, Entry, Header};
use super::{DataError, Sample};

/// Images decoded and resized for one contract.
pub struct ImageCache {
    pub width: u32,
    pub height: u32,
    data: memmap2::Mmap,
    /// Per sample: its slot in the cache, or `None` when it was skipped.
    pub slots: Vec<Option<usize>>,
    /// Skipped images and why.
    pub skipped: Vec<(PathBuf, String)>,
    /// Images this call decoded (0 when the cache was already whole; fewer
    /// than the samples when it resumed a killed build).
    pub decoded: usize,
}

impl ImageCache {
    /// The pixels (RGB, row-major) of a slot.
    pub fn pixels(&self, slot: usize) -> &[u8] {
        let n = (self.width * self.height * 3) as usize;
        &self.data[slot * n..(slot + 1) * n]
    }

    /// Samples that decoded, with their slots.
    pub fn usable<'a>(&'a self, samples: &'a [Sample]) -> impl Iterator<Item = (usize, &'a Sample)> + 'a {
        samples.iter().zip(&self.slots).filter_map(|(s, slot)| slot.map(|slot| (slot, s)))
    }
}

/// The cache's file name: SHA-256 (first 16 bytes, hex) of the contract,
/// the truncation policy and every sample's path, size and modification
/// time. Stable across Rust releases and runs, unlike `DefaultHasher`; each
/// field is length-prefixed so no two inputs share a byte stream.
/// Which decode filled a cache: a cache made by another decode path holds
/// other pixels, so it is rebuilt.
const DECODE_PATH: &str = "decode_image_sized, reduction rule 2";

fn cache_key(samples: &[Sample], contract: &PreprocessContract, allow_truncated: bool) -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(DECODE_PATH.as_bytes());
    field(serde_json::to_string(contract).expect("contract serialises").as_bytes());
    field(&[allow_truncated as u8]);
    for s in samples {
        field(s.path.as_os_str().as_encoded_bytes());
        let meta = std::fs::metadata(&s.path).ok();
        let modified = meta.as_ref().and_then(|m| m.modified().ok()).and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        field(&meta.map_or(u64::MAX, |m| m.len()).to_le_bytes());
        field(&modified.map_or([0xff; 12], |d| {
            let mut b = [0u8; 12];
            b[..8].copy_from_slice(&d.as_secs().to_le_bytes());
            b[8..].copy_from_slice(&d.subsec_nanos().to_le_bytes());
            b
        }));
    }
    h.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic.downcast_ref::<String>().map(String::as_str).or_else(|| panic.downcast_ref::<&str>().copied()).unwrap_or("no message")
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> DataError + use<> {
    let path = path.to_path_buf();
    move |error| DataError::Io { path, error }
}

/// Images decoded in parallel between two commits of a build: a kill loses
/// at most this many decodes.
fn chunk_len() -> usize {
    (rayon::current_num_threads() * 8).max(16)
}

/// Builds (or reuses, or resumes) the cache of `samples` under `contract`
/// in `dir`. Files cut short are skipped (and listed) unless
/// `allow_truncated`, which keeps the part that decodes.
pub fn build_cache(
    samples: &[Sample],
    contract: &PreprocessContract,
    dir: &Path,
    what: &str,
    progress: bool,
    allow_truncated: bool,
) -> Result<ImageCache, DataError> {
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let (width, height) = contract.input_size().map_err(DataError::Options)?;
    let key = cache_key(samples, contract, allow_truncated);
    let data_path = dir.join(format!("{key}.u8"));
    let index_path = dir.join(format!("{key}.idx"));
    let header = Header { width, height, samples: samples.len() as u64 };
    let mut decoded = 0;
    if !index_path.exists() {
        // One builder per cache: a second process waits here, then finds it whole.
        let lock = lock_file(&dir.join(format!("{key}.lock")))?;
        if !index_path.exists() {
            decoded = build_parts(samples, contract, &header, &data_path, &index_path, what, progress, allow_truncated)?;
        }
        drop(lock);
    }
    let part = part_path(&data_path);
    // A build killed between its two final renames.
    if !data_path.exists() && part.exists() {
        std::fs::rename(&part, &data_path).map_err(io_error(&data_path))?;
    }
    let bytes = std::fs::read(&index_path).map_err(io_error(&index_path))?;
    let invalid = |message: String| DataError::Invalid { path: index_path.clone(), message: format!("{message}; delete it to rebuild") };
    let read = index::parse(&bytes).map_err(invalid)?;
    if read.header != header || !read.complete() {
        return Err(invalid(format!("index of {} entries for {} samples", read.entries.len(), samples.len())));
    }
    let file = File::open(&data_path).map_err(io_error(&data_path))?;
    // SAFETY: a whole cache file is never modified (it is renamed into place once finished).
    let data = unsafe { memmap2::Mmap::map(&file) }.map_err(io_error(&data_path))?;
    if data.len() as u64 != read.slots() * header.image_bytes() {
        return Err(DataError::Invalid { path: data_path, message: "cache file has the wrong size; delete it to rebuild".into() });
    }
    let (mut slots, mut skipped, mut next) = (Vec::with_capacity(samples.len()), Vec::new(), 0);
    for (sample, entry) in samples.iter().zip(read.entries) {
        match entry {
            Entry::Slot => {
                slots.push(Some(next));
                next += 1;
            }
            Entry::Skipped(why) => {
                slots.push(None);
                skipped.push((sample.path.clone(), why));
            }
        }
    }
    Ok(ImageCache { width, height, data, slots, skipped, decoded })
}

fn part_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

/// Decodes the samples the `.part` files do not hold yet, appends them, and
/// renames the finished parts into place (index first: it marks the cache
/// whole). Returns how many images were decoded.
#[allow(clippy::too_many_arguments)]
fn build_parts(
    samples: &[Sample],
    contract: &PreprocessContract,
    header: &Header,
    data_path: &Path,
    index_path: &Path,
    what: &str,
    progress: bool,
    allow_truncated: bool,
) -> Result<usize, DataError> {
    let (data_part, index_part) = (part_path(data_path), part_path(index_path));
    let open = |path: &Path| OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(io_error(path));
    let (mut data, mut log) = (open(&data_part)?, open(&index_part)?);
    // What a killed build committed: whole records whose pixels are all written.
    let old = std::fs::read(&index_part).map_err(io_error(&index_part))?;
    let data_len = data.metadata().map_err(io_error(&data_part))?.len();
    let (mut done, slots, mut log_len) = match index::parse(&old) {
        Ok(r) if r.header == *header && r.slots() * header.image_bytes() <= data_len => (r.entries.len(), r.slots(), r.valid_len),
        _ => (0, 0, 0),
    };
    if log_len == 0 {
        log.set_len(0).map_err(io_error(&index_part))?;
        log.write_all(&index::header_bytes(header)).map_err(io_error(&index_part))?;
        log_len = index::HEADER_LEN as u64;
    }
    // Drop a torn record and pixels written after the last committed record.
    log.set_len(log_len).and_then(|_| log.seek(SeekFrom::End(0))).map_err(io_error(&index_part))?;
    data.set_len(slots * header.image_bytes()).and_then(|_| data.seek(SeekFrom::End(0))).map_err(io_error(&data_part))?;

    let bar = if progress { ProgressBar::new(samples.len() as u64) } else { ProgressBar::hidden() };
    bar.set_style(ProgressStyle::with_template(&format!("caching {what} {{bar:40}} {{pos}}/{{len}} images  {{per_sec}}  eta {{eta}}")).expect("valid template"));
    bar.set_position(done as u64);
    let decode = DecodeOptions { limits: DecodeLimits::default(), allow_truncated };
    let first = done;
    let (mut pixels, mut records) = (Vec::new(), Vec::new());
    for chunk in samples[done..].chunks(chunk_len()) {
        let decoded: Vec<Result<Vec<u8>, String>> = chunk
            .par_iter()
            .map(|s| {
                // A decoder bug must cost one image, not the run: a panic
                // becomes this image's skip reason.
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let bytes = std::fs::read(&s.path).map_err(|e| format!("cannot read: {e}"))?;
                    // The classifier's own decode (`Classifier::classify_bytes`): a
                    // large JPEG reduced as it will be when served, so validation
                    // sees the pixels `taxa classify` and the phones see.
                    let sized = decode_image_sized(&bytes, &decode, contract).map_err(|e| e.to_string())?;
                    sized.resize_to_input(contract).map(|(px, _, _)| px).map_err(|e| e.to_string())
                }))
                .unwrap_or_else(|panic| Err(format!("the image decoder crashed: {}", panic_message(&*panic))))
            })
            .collect();
        pixels.clear();
        records.clear();
        for result in decoded {
            match result {
                Ok(px) => {
                    pixels.extend_from_slice(&px);
                    index::push_entry(&mut records, &Entry::Slot);
                }
                Err(why) => index::push_entry(&mut records, &Entry::Skipped(why)),
            }
        }
        // Pixels before records: a record is only ever read with its pixels written.
        data.write_all(&pixels).map_err(io_error(&data_part))?;
        log.write_all(&records).map_err(io_error(&index_part))?;
        done += chunk.len();
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    data.sync_all().map_err(io_error(&data_part))?;
    log.sync_all().map_err(io_error(&index_part))?;
    std::fs::rename(&index_part, index_path).map_err(io_error(index_path))?;
    std::fs::rename(&data_part, data_path).map_err(io_error(data_path))?;
    Ok(done - first)
}

/// An exclusive lock held until the returned file is dropped (std's
/// `File::lock`: `flock` on Unix, `LockFileEx` on Windows).
fn lock_file(path: &Path) -> Result<File, DataError> {
    let file = OpenOptions::new().create(true).truncate(false).write(true).open(path).map_err(io_error(path))?;
    file.lock().map_err(io_error(path))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_key_follows_the_files_and_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jpg");
        std::fs::write(&path, b"one").unwrap();
        let samples = [Sample { path: path.clone(), class: 0 }];
        let contract = PreprocessContract::imagenet_sized(32);
        let key = cache_key(&samples, &contract, false);
        assert_eq!(key.len(), 32);
        assert_eq!(key, cache_key(&samples, &contract, false), "deterministic");
        assert_ne!(key, cache_key(&samples, &contract, true));
        assert_ne!(key, cache_key(&samples, &PreprocessContract::imagenet_sized(64), false));
        std::fs::write(&path, b"longer").unwrap();
        assert_ne!(key, cache_key(&samples, &contract, false), "a changed file is a new cache");
    }
}
