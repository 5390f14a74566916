//! Decode and resize every image once, in parallel, into an on-disk cache
//! of 8-bit pixels that later epochs and later runs reuse (memory-mapped).
//! The pixels are exactly what taxa-core's preprocessing contract gives
//! before normalisation. Missing, corrupt or undecodable images (a decoder
//! panic included) are skipped and kept with the reason.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use taxa_core::{DecodeLimits, DecodeOptions, PixelFormat, PixelsRef, PreprocessContract, decode_image_with};

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

fn cache_key(samples: &[Sample], contract: &PreprocessContract, allow_truncated: bool) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(contract).expect("contract serialises").hash(&mut h);
    allow_truncated.hash(&mut h);
    for s in samples {
        s.path.hash(&mut h);
        if let Ok(meta) = std::fs::metadata(&s.path) {
            meta.len().hash(&mut h);
            meta.modified().ok().hash(&mut h);
        }
    }
    format!("{:016x}", h.finish())
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
        let tmp = dir.join(format!("{key}.u8.partial"));
        let mut file = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io(&tmp))?);
        let (mut slots, mut skipped, mut next) = (Vec::with_capacity(samples.len()), Vec::new(), 0usize);
        let decode = DecodeOptions { limits: DecodeLimits::default(), allow_truncated };
        for chunk in samples.chunks(512) {
            let decoded: Vec<Result<Vec<u8>, String>> = chunk
                .par_iter()
                .map(|s| {
                    // A decoder bug must cost one image, not the run: a panic
                    // becomes this image's skip reason.
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        let bytes = std::fs::read(&s.path).map_err(|e| format!("cannot read: {e}"))?;
                        let image = decode_image_with(&bytes, &decode).map_err(|e| e.to_string())?.image;
                        let pixels = PixelsRef::new(image.width(), image.height(), PixelFormat::Rgb8, image.as_raw()).map_err(|e| e.to_string())?;
                        contract.resize_to_input(pixels).map(|(px, _, _)| px).map_err(|e| e.to_string())
                    }))
                    .unwrap_or_else(|panic| Err(format!("the image decoder crashed: {}", panic_message(&*panic))))
                })
                .collect();
            for (s, result) in chunk.iter().zip(decoded) {
                match result {
                    Ok(px) => {
                        file.write_all(&px).map_err(io(&tmp))?;
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
        bar.finish_and_clear();
        file.flush().map_err(io(&tmp))?;
        drop(file);
        let index = CacheIndex { width, height, slots, skipped };
        std::fs::write(&index_path, serde_json::to_vec(&index).expect("index serialises")).map_err(io(&index_path))?;
        std::fs::rename(&tmp, &data_path).map_err(io(&data_path))?;
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
