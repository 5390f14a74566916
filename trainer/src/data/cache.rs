//! Decode and resize every image once, in parallel, into an on-disk cache
//! of 8-bit pixels that later epochs and later runs reuse (memory-mapped).
//! The pixels are exactly what taxa-core's preprocessing contract gives
//! before normalisation. Missing, corrupt or undecodable images (a decoder
//! panic included) are skipped and kept with the reason.

use std::io::Write;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use taxa_core::{DecodeLimits, DecodeOptions, PixelsRef, PreprocessContract, decode_image_with};

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

#[derive(Serialize, Deserialize)]
struct CacheIndex {
    width: u32,
    height: u32,
    slots: Vec<Option<usize>>,
    skipped: Vec<(PathBuf, String)>,
}

/// The cache's file name: SHA-256 (first 16 bytes, hex) of the contract,
/// the truncation policy and every sample's path, size and modification
/// time. Stable across Rust releases and runs, unlike `DefaultHasher`; each
/// field is length-prefixed so no two inputs share a byte stream.
fn cache_key(samples: &[Sample], contract: &PreprocessContract, allow_truncated: bool) -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
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

/// Builds (or reuses) the cache of `samples` under `contract` in `dir`.
/// Files cut short are skipped (and listed) unless `allow_truncated`, which
/// keeps the part that decodes.
pub fn build_cache(
    samples: &[Sample],
    contract: &PreprocessContract,
    dir: &Path,
    what: &str,
    progress: bool,
    allow_truncated: bool,
) -> Result<ImageCache, DataError> {
    let io = |path: &Path| { let path = path.to_path_buf(); move |error| DataError::Io { path, error } };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let (width, height) = contract.input_size().map_err(DataError::Options)?;
    let key = cache_key(samples, contract, allow_truncated);
    let data_path = dir.join(format!("{key}.u8"));
    let index_path = dir.join(format!("{key}.json"));

    if !(data_path.exists() && index_path.exists()) {
        let bar = if progress { ProgressBar::new(samples.len() as u64) } else { ProgressBar::hidden() };
        bar.set_style(ProgressStyle::with_template(&format!("caching {what} {{bar:40}} {{pos}}/{{len}} images  {{per_sec}}  eta {{eta}}")).expect("valid template"));
        let (mut slots, mut skipped, mut next) = (Vec::with_capacity(samples.len()), Vec::new(), 0usize);
        let decode = DecodeOptions { limits: DecodeLimits::default(), allow_truncated };
        taxa_core::atomic::write_atomic_with(&data_path, |tmp| {
            let mut file = std::io::BufWriter::new(std::fs::File::create(tmp)?);
            for chunk in samples.chunks(512) {
                let decoded: Vec<Result<Vec<u8>, String>> = chunk
                    .par_iter()
                    .map(|s| {
                        // A decoder bug must cost one image, not the run: a panic
                        // becomes this image's skip reason.
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            let bytes = std::fs::read(&s.path).map_err(|e| format!("cannot read: {e}"))?;
                            let image = decode_image_with(&bytes, &decode).map_err(|e| e.to_string())?.image;
                            contract.resize_to_input(PixelsRef::try_from(&image).map_err(|e| e.to_string())?).map(|(px, _, _)| px).map_err(|e| e.to_string())
                        }))
                        .unwrap_or_else(|panic| Err(format!("the image decoder crashed: {}", panic_message(&*panic))))
                    })
                    .collect();
                for (s, result) in chunk.iter().zip(decoded) {
                    match result {
                        Ok(px) => {
                            file.write_all(&px)?;
                            slots.push(Some(next));
                            next += 1;
                        }
                        Err(e) => {
                            slots.push(None);
                            skipped.push((s.path.clone(), e));
                        }
                    }
                }
                bar.inc(chunk.len() as u64);
            }
            file.flush()
        })
        .map_err(io(&data_path))?;
        bar.finish_and_clear();
        let index = CacheIndex { width, height, slots, skipped };
        taxa_core::atomic::write_atomic(&index_path, &serde_json::to_vec(&index).expect("index serialises")).map_err(io(&index_path))?;
    }
    let index: CacheIndex = serde_json::from_slice(&std::fs::read(&index_path).map_err(io(&index_path))?)
        .map_err(|e| DataError::Invalid { path: index_path.clone(), message: e.to_string() })?;
    let file = std::fs::File::open(&data_path).map_err(io(&data_path))?;
    // SAFETY: the cache file is written once (temp + rename) and never modified.
    let data = unsafe { memmap2::Mmap::map(&file) }.map_err(io(&data_path))?;
    let used = index.slots.iter().flatten().count();
    if data.len() != used * (width * height * 3) as usize {
        return Err(DataError::Invalid { path: data_path, message: "cache file has the wrong size; delete it to rebuild".into() });
    }
    Ok(ImageCache { width: index.width, height: index.height, data, slots: index.slots, skipped: index.skipped })
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
