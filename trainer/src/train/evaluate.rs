//! Evaluation on the validation split (torchvision's `evaluate`): loss,
//! top-1 and top-5 errors, per-class accuracy and confusions, on inputs
//! preprocessed exactly as the device preprocesses them.

use std::collections::HashMap;

use tch::{Device, Kind, Tensor};
use taxa_core::PreprocessContract;

use super::presets::{gather, to_input};
use crate::data::ImageCache;
use crate::models::Network;

pub(super) struct Evaluation {
    /// Mean cross-entropy (with the run's label smoothing), nats.
    pub loss: f64,
    pub top1_errors: usize,
    pub top5_errors: usize,
    pub class_correct: Vec<usize>,
    pub class_total: Vec<usize>,
    /// (true class, predicted class) → count of top-1 mistakes.
    pub confusions: HashMap<(usize, usize), usize>,
}

/// What evaluation runs on: the validation items (cache slot, class), their
/// cache, and, in frozen mode with cached features, their backbone features
/// (one row per item, in order).
pub(super) struct EvalSet<'a> {
    pub items: &'a [(usize, usize)],
    pub cache: &'a ImageCache,
    pub features: Option<&'a Tensor>,
    pub contract: &'a PreprocessContract,
    pub classes: usize,
}

pub(super) fn evaluate(net: &Network, set: &EvalSet<'_>, batch_size: usize, device: Device, smoothing: f64) -> Evaluation {
    let classes = set.classes;
    let mut e = Evaluation { loss: 0.0, top1_errors: 0, top5_errors: 0, class_correct: vec![0; classes], class_total: vec![0; classes], confusions: HashMap::new() };
    tch::no_grad(|| {
        for (b, batch) in set.items.chunks(batch_size).enumerate() {
            let logits = match set.features {
                Some(f) => net.forward_head(&f.narrow(0, (b * batch_size) as i64, batch.len() as i64), false),
                None => {
                    let pixels = gather(set.cache, batch.iter().map(|(slot, _)| *slot));
                    net.forward_t(&to_input(&pixels, batch.len(), set.cache.width, set.cache.height, set.contract, device), false)
                }
            }
            .to_kind(Kind::Float);
            let labels: Vec<i64> = batch.iter().map(|(_, c)| *c as i64).collect();
            let targets = Tensor::from_slice(&labels).to_device(device);
            e.loss += logits.cross_entropy_loss::<Tensor>(&targets, None, tch::Reduction::Sum, -100, smoothing).double_value(&[]);
            let k = 5.min(classes as i64);
            let top = logits.topk(k, 1, true, true).1.to_device(Device::Cpu);
            let top: Vec<i64> = Vec::try_from(&top.flatten(0, -1)).expect("int64 indices");
            for (row, &label) in top.chunks(k as usize).zip(&labels) {
                let truth = label as usize;
                e.class_total[truth] += 1;
                if row[0] == label {
                    e.class_correct[truth] += 1;
                } else {
                    e.top1_errors += 1;
                    *e.confusions.entry((truth, row[0] as usize)).or_default() += 1;
                }
                if !row.contains(&label) {
                    e.top5_errors += 1;
                }
            }
        }
    });
    e.loss /= set.items.len().max(1) as f64;
    e
}
