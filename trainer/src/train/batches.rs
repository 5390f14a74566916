//! An epoch's training batches, built in two halves: the host half runs on
//! a producer thread (cache reads, and on the CPU path the crops), the
//! device half on the training thread (upload, and on the device path the
//! crops, see [`super::augment`]). Both paths draw each image's window from
//! the same seed, so they crop alike. For CUDA the host half also stages the
//! batch in page-locked memory, so the training thread only starts an
//! asynchronous copy.

use rand::{SeedableRng, rngs::StdRng};
use rayon::prelude::*;
use tch::{Device, Tensor};
use taxa_core::PreprocessContract;

use super::augment::{CropWindow, augment, augment_on_device};
use super::presets::{device_batch_input, gather, network_input, stage_u8, to_input, upload_u8};
use crate::data::ImageCache;

/// A batch as the host prepares it.
pub enum HostBatch {
    /// 8-bit RGB at the network's input size, HWC, image after image.
    Input(Vec<u8>),
    /// The cached squares (8-bit RGB, HWC) and each one's crop window.
    Squares(Vec<u8>, Vec<CropWindow>),
    /// Either of the above for a CUDA device: the 8-bit pixels `[n, h, w, 3]`
    /// in page-locked memory, and the crop windows when cropping there.
    Staged(Tensor, Option<Vec<CropWindow>>),
}

/// Makes the batches of one epoch.
pub struct BatchMaker<'a> {
    pub cache: &'a ImageCache,
    /// Training items: (cache slot, class).
    pub items: &'a [(usize, usize)],
    pub seed: u64,
    pub epoch: usize,
    /// The network's input (width, height), pixels.
    pub input: (u32, u32),
    /// Crop on the device rather than on CPU threads.
    pub on_device: bool,
    /// Where the batches go.
    pub device: Device,
}

impl BatchMaker<'_> {
    /// Whether the cache holds squares to crop (augmentation on), not inputs.
    fn augmented(&self) -> bool {
        self.cache.width != self.input.0
    }

    fn rng(&self, item: usize) -> StdRng {
        StdRng::seed_from_u64(self.seed ^ ((self.epoch as u64) << 32) ^ item as u64)
    }

    /// The host half of a batch of item indices.
    pub fn host(&self, batch: &[usize]) -> HostBatch {
        let host = self.host_pixels(batch);
        if !self.device.is_cuda() {
            return host;
        }
        let (w, h) = (self.input.0 as i64, self.input.1 as i64);
        match host {
            HostBatch::Input(pixels) => HostBatch::Staged(stage_u8(&pixels, [batch.len() as i64, h, w, 3], self.device), None),
            HostBatch::Squares(pixels, windows) => {
                let side = self.cache.width as i64;
                HostBatch::Staged(stage_u8(&pixels, [batch.len() as i64, side, side, 3], self.device), Some(windows))
            }
            staged @ HostBatch::Staged(..) => staged,
        }
    }

    fn host_pixels(&self, batch: &[usize]) -> HostBatch {
        let slots = batch.iter().map(|&i| self.items[i].0);
        if !self.augmented() {
            return HostBatch::Input(gather(self.cache, slots));
        }
        let side = self.cache.width;
        if self.on_device {
            return HostBatch::Squares(gather(self.cache, slots), batch.iter().map(|&i| CropWindow::draw(side, &mut self.rng(i))).collect());
        }
        HostBatch::Input(batch.par_iter().flat_map_iter(|&i| augment(self.cache.pixels(self.items[i].0), side, self.input.0, &mut self.rng(i))).collect())
    }

    /// The device half: the network input `[n, 3, h, w]` float32 on `device`.
    pub fn device(&self, batch: HostBatch, contract: &PreprocessContract, device: Device) -> Tensor {
        let (w, h) = self.input;
        match batch {
            HostBatch::Input(pixels) => to_input(&pixels, pixels.len() / (w * h * 3) as usize, w, h, contract, device),
            HostBatch::Squares(pixels, windows) => {
                let side = self.cache.width as i64;
                let squares = Tensor::from_slice(&pixels).view([windows.len() as i64, side, side, 3]).to_device(device);
                augment_on_device(&squares, &windows, w, contract)
            }
            HostBatch::Staged(pixels, windows) => {
                let pixels = upload_u8(&pixels, device);
                match windows {
                    Some(windows) => augment_on_device(&pixels, &windows, w, contract),
                    None => network_input(device_batch_input(&pixels, contract), contract.layout),
                }
            }
        }
    }
}
