//! `taxa synth`: a synthetic field guide in the iNaturalist 2019 format.
//!
//! Species are drawn procedurally and arranged in a taxonomy (iconic group →
//! family → genus → species). A genus shares a body shape; its species differ
//! in colour and pattern. Photos get a random pose, background and lighting,
//! and class counts are long-tailed, with some classes under 100 images.

use std::path::{Path, PathBuf};

use indicatif::{ParallelProgressIterator, ProgressBar, ProgressStyle};
use rayon::prelude::*;

use taxa_core::HigherRanks;

use crate::data::{InatAnnotation, InatCategory, InatFile, InatImage};

mod counts;
mod species;
pub use counts::{Counts, class_counts};
pub use species::{SynthSpecies, make_taxonomy, render};

#[derive(Debug, Clone)]
pub struct SynthOptions {
    pub species: usize,
    /// Images of the most common species; the rest follow a long tail.
    pub max_images: usize,
    pub min_images: usize,
    /// Square image size in pixels.
    pub size: u32,
    /// Share of each species' images written to `val2019.json`.
    pub val_fraction: f64,
    pub seed: u64,
    pub counts: Counts,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions { species: 24, max_images: 240, min_images: 30, size: 96, val_fraction: 0.1, seed: 2019, counts: Counts::LongTail }
    }
}

/// Writes the images and `train2019.json` / `val2019.json` under `out`.
/// Returns (train images, val images).
pub fn write_dataset(out: &Path, options: &SynthOptions, progress: bool) -> anyhow::Result<(usize, usize)> {
    anyhow::ensure!(options.species >= 2, "need at least 2 species");
    anyhow::ensure!((0.0..1.0).contains(&options.val_fraction), "val fraction must be in [0, 1)");
    let taxonomy = make_taxonomy(options);
    let counts = class_counts(options);
    let mut jobs: Vec<(usize, usize, PathBuf)> = Vec::new();
    for (class, &count) in counts.iter().enumerate() {
        std::fs::create_dir_all(out.join(format!("images/{class:04}")))?;
        for i in 0..count {
            jobs.push((class, i, PathBuf::from(format!("images/{class:04}/{class:04}_{i:05}.jpg"))));
        }
    }
    let bar = if progress { ProgressBar::new(jobs.len() as u64) } else { ProgressBar::hidden() };
    bar.set_style(ProgressStyle::with_template("drawing {bar:40} {pos}/{len} photos  {per_sec}  eta {eta}")?);
    jobs.par_iter().progress_with(bar.clone()).try_for_each(|(class, i, file)| -> anyhow::Result<()> {
        let seed = options.seed.wrapping_mul(1_000_003).wrapping_add((*class * 100_000 + i) as u64);
        render(&taxonomy[*class], options.size, seed).save(out.join(file))?;
        Ok(())
    })?;
    bar.finish_and_clear();

    let categories: Vec<InatCategory> = taxonomy
        .iter()
        .enumerate()
        .map(|(id, s)| {
            InatCategory { id: id as i64, name: s.name.clone(), ranks: HigherRanks::from_lineage(s.lineage.clone()), ..Default::default() }
        })
        .collect();
    let info = serde_json::json!({"description": "taxa synth", "seed": options.seed});
    let (mut train, mut val) = (InatFile { info: Some(info), categories, annotations: Some(Vec::new()), ..Default::default() }, InatFile::default());
    (val.info, val.categories, val.annotations) = (train.info.clone(), train.categories.clone(), Some(Vec::new()));
    for (id, (class, i, file)) in jobs.into_iter().enumerate() {
        let n_val = ((counts[class] as f64) * options.val_fraction).round().max(1.0) as usize;
        let to = if i < n_val { &mut val } else { &mut train };
        let id = id as i64;
        to.images.push(InatImage { id, file_name: file.to_string_lossy().into_owned(), width: Some(options.size), height: Some(options.size) });
        to.annotations.get_or_insert_default().push(InatAnnotation { id: Some(id), image_id: id, category_id: class as i64 });
    }
    train.write(&out.join("train2019.json"))?;
    val.write(&out.join("val2019.json"))?;
    Ok((train.images.len(), val.images.len()))
}
