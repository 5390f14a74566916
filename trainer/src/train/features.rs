//! Frozen mode's feature cache: the backbone runs once per image and the
//! head trains on the stored features.

use indicatif::{ProgressBar, ProgressStyle};
use tch::{Device, Tensor};
use taxa_core::PreprocessContract;

use super::presets::{Splits, gather, to_input};
use crate::data::ImageCache;
use crate::models::Network;

/// The backbone's features of the training and validation items (cache
/// slot, class), one row per item in order: `[items, features]` float32 on
/// `device`. Each output is allocated once and filled batch by batch, so
/// the peak is the features themselves, not twice them (a `cat` of chunks).
#[allow(clippy::too_many_arguments)]
pub(super) fn backbone_features(
    net: &Network,
    data: &Splits,
    train_items: &[(usize, usize)],
    val_items: &[(usize, usize)],
    batch_size: usize,
    contract: &PreprocessContract,
    device: Device,
    progress: bool,
) -> anyhow::Result<(Tensor, Tensor)> {
    let bar = if progress { ProgressBar::new((train_items.len() + val_items.len()) as u64) } else { ProgressBar::hidden() };
    bar.set_style(ProgressStyle::with_template("backbone features {bar:40} {pos}/{len}  {per_sec}  eta {eta}")?);
    let features = |items: &[(usize, usize)], cache: &ImageCache| -> Option<Tensor> {
        let mut out: Option<Tensor> = None;
        for (b, batch) in items.chunks(batch_size).enumerate() {
            let pixels = gather(cache, batch.iter().map(|(slot, _)| *slot));
            let x = to_input(&pixels, batch.len(), cache.width, cache.height, contract, device);
            let f = tch::no_grad(|| net.forward_backbone(&x));
            let all = out.get_or_insert_with(|| {
                let mut shape = f.size();
                shape[0] = items.len() as i64;
                Tensor::zeros(&shape, (f.kind(), f.device()))
            });
            all.narrow(0, (b * batch_size) as i64, batch.len() as i64).copy_(&f);
            bar.inc(batch.len() as u64);
        }
        out
    };
    let train = features(train_items, &data.train_cache).ok_or_else(|| anyhow::anyhow!("no training images"))?;
    let val = features(val_items, &data.val_cache).ok_or_else(|| anyhow::anyhow!("no validation images"))?;
    bar.finish_and_clear();
    Ok((train, val))
}
