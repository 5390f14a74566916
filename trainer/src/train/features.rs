//! Frozen mode's feature cache: the backbone runs once per image and the
//! head trains on the stored features.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use tch::{Device, Kind, Tensor};
use taxa_core::PreprocessContract;

use super::presets::{Splits, gather, to_input};
use crate::data::ImageCache;
use crate::models::Network;

/// The backbone's features of the training and validation items (cache
/// slot, class), one row per item in order: `[items, …]` float32.
///
/// With `spill_dir` (CPU training) the rows are written to a file there as
/// they come and the result is that file memory-mapped (then unlinked: the
/// mapping keeps it until the tensor is dropped), so resident memory does
/// not grow with the image count (4 KiB an image for a 1024-wide backbone).
/// Without it (CUDA) each output is allocated once on `device` and filled
/// batch by batch.
#[allow(clippy::too_many_arguments)]
pub(super) fn backbone_features(
    net: &Network,
    data: &Splits,
    train_items: &[(usize, usize)],
    val_items: &[(usize, usize)],
    batch_size: usize,
    contract: &PreprocessContract,
    device: Device,
    spill_dir: Option<&Path>,
    progress: bool,
) -> anyhow::Result<(Tensor, Tensor)> {
    let bar = if progress { ProgressBar::new((train_items.len() + val_items.len()) as u64) } else { ProgressBar::hidden() };
    bar.set_style(ProgressStyle::with_template("backbone features {bar:40} {pos}/{len}  {per_sec}  eta {eta}")?);
    let features = |items: &[(usize, usize)], cache: &ImageCache, name: &str| -> anyhow::Result<Tensor> {
        anyhow::ensure!(!items.is_empty(), "no {name} images");
        let mut sink = Sink::new(spill_dir.map(|d| d.join(format!("features-{name}.f32"))), items.len())?;
        for batch in items.chunks(batch_size) {
            let pixels = gather(cache, batch.iter().map(|(slot, _)| *slot));
            let x = to_input(&pixels, batch.len(), cache.width, cache.height, contract, device);
            sink.push(&tch::no_grad(|| net.forward_backbone(&x)))?;
            bar.inc(batch.len() as u64);
        }
        sink.finish()
    };
    let train = features(train_items, &data.train_cache, "training")?;
    let val = features(val_items, &data.val_cache, "validation")?;
    bar.finish_and_clear();
    Ok((train, val))
}

/// Where feature rows go: a preallocated tensor, or a file to map.
struct Sink {
    rows: i64,
    filled: i64,
    shape: Vec<i64>,
    memory: Option<Tensor>,
    file: Option<(std::path::PathBuf, std::io::BufWriter<std::fs::File>)>,
}

impl Sink {
    fn new(spill: Option<std::path::PathBuf>, rows: usize) -> anyhow::Result<Sink> {
        let file = match spill {
            Some(path) => Some((path.clone(), std::io::BufWriter::new(std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?))),
            None => None,
        };
        Ok(Sink { rows: rows as i64, filled: 0, shape: Vec::new(), memory: None, file })
    }

    fn push(&mut self, f: &Tensor) -> anyhow::Result<()> {
        if self.shape.is_empty() {
            self.shape = f.size();
            self.shape[0] = self.rows;
        }
        let n = f.size()[0];
        match &mut self.file {
            Some((path, out)) => {
                let values = Vec::<f32>::try_from(f.to_kind(Kind::Float).contiguous().flatten(0, -1))?;
                // SAFETY: f32 has no padding; the bytes are read back by from_file in this process's byte order.
                let bytes = unsafe { std::slice::from_raw_parts(values.as_ptr() as *const u8, values.len() * 4) };
                out.write_all(bytes).with_context(|| format!("writing {}", path.display()))?;
            }
            None => {
                let all = self.memory.get_or_insert_with(|| Tensor::zeros(&self.shape, (f.kind(), f.device())));
                all.narrow(0, self.filled, n).copy_(f);
            }
        }
        self.filled += n;
        Ok(())
    }

    fn finish(self) -> anyhow::Result<Tensor> {
        match self.file {
            Some((path, out)) => {
                out.into_inner().map_err(|e| e.into_error()).with_context(|| format!("writing {}", path.display()))?;
                let count: i64 = self.shape.iter().product();
                let name = path.to_str().with_context(|| format!("{} is not UTF-8", path.display()))?;
                let mapped = Tensor::f_from_file(name, true, Some(count), (Kind::Float, Device::Cpu))?.view(self.shape.as_slice());
                let _ = std::fs::remove_file(&path);
                Ok(mapped)
            }
            None => self.memory.context("no features"),
        }
    }
}
