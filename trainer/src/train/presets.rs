//! Data presets (torchvision's `presets.py` and `load_data`): which
//! preprocessing each split is cached under, the training augmentation, and
//! the batch builder that turns cached pixels into the network's input.

use rayon::prelude::*;
use tch::{Device, Kind, Tensor};
use taxa_core::PreprocessContract;
use taxa_core::preprocess::{Crop, Layout, Resize};

use super::stages::Stages;
use super::{Mode, TrainConfig};
use crate::data::{ImageCache, Prepared, build_cache, prepare};

/// The dataset, split, with each split decoded into its cache.
pub(super) struct Splits {
    pub prepared: Prepared,
    pub train_cache: ImageCache,
    pub val_cache: ImageCache,
}

impl Splits {
    /// Files not trained on: the loader's and both caches'.
    pub fn skipped_images(&self) -> usize {
        self.prepared.skipped.len() + self.train_cache.skipped.len() + self.val_cache.skipped.len()
    }

    /// Labels of the classes that no usable training image (slot, class) teaches.
    pub fn untrained_classes(&self, train_items: &[(usize, usize)]) -> Vec<&str> {
        let mut taught = vec![false; self.prepared.classes.len()];
        for &(_, class) in train_items {
            taught[class] = true;
        }
        self.prepared.classes.iter().zip(taught).filter(|(_, t)| !t).map(|(c, _)| c.label.as_str()).collect()
    }
}

/// Loads, prunes and splits the dataset and caches both splits: validation
/// under the architecture's contract (what the device runs), training under
/// the centre square at the resize size when it is augmented (random crops
/// are taken from it), else under the same contract; a stretching contract
/// is cached as it is for both.
pub(super) fn load_data(config: &TrainConfig, progress: bool, stages: &mut Stages) -> anyhow::Result<Splits> {
    let started = stages.start();
    let raw = config.data.load()?;
    let images = raw.train.len() + raw.val.as_ref().map_or(0, Vec::len);
    stages.finish("load", images, started);
    let prepared = stages.time("prepare", images, || prepare(raw, config.min_images_per_class, config.val_fraction, config.seed))?;
    for note in &prepared.notes {
        eprintln!("note: {note}");
    }
    for label in &prepared.empty {
        eprintln!("warning: class \"{label}\" has no photo taxa reads (its files are listed in skipped.txt with the reason); it is left out of the model");
    }
    let eval = config.contract();
    let augmented = config.augment && !(config.mode == Mode::Frozen && config.cache_features);
    let train_contract = match eval.resize {
        Resize::ShorterSide { size } if augmented => PreprocessContract { crop: Crop::Center { width: size, height: size }, ..eval.clone() },
        // A contract that stretches the whole photo (TensorFlow's models') is
        // cached as the device sees it; random crops are taken from that.
        _ => eval.clone(),
    };
    let started = stages.start();
    let train_cache = build_cache(&prepared.train, &train_contract, &config.cache_dir, "training images", progress, config.allow_truncated)?;
    let val_cache = build_cache(&prepared.val, &eval, &config.cache_dir, "validation images", progress, config.allow_truncated)?;
    stages.finish("cache", train_cache.decoded + val_cache.decoded, started);
    Ok(Splits { prepared, train_cache, val_cache })
}

/// The cached pixels of a batch's slots, one image after another (8-bit
/// RGB, HWC): what [`to_input`] takes.
pub(super) fn gather(cache: &ImageCache, slots: impl IntoIterator<Item = usize>) -> Vec<u8> {
    let slots: Vec<usize> = slots.into_iter().collect();
    let image = (cache.width * cache.height * 3) as usize;
    let mut out = vec![0u8; slots.len() * image];
    // In parallel: each read may fault its pages in from the memory-mapped file.
    out.par_chunks_mut(image).zip(&slots).for_each(|(o, &slot)| o.copy_from_slice(cache.pixels(slot)));
    out
}

/// Host pixels (8-bit, `shape`) as a tensor ready to go to `device`: in
/// page-locked memory when it is CUDA, so [`upload_u8`] copies without
/// blocking (as PyTorch's `DataLoader(pin_memory=True)` and
/// `.to(non_blocking=True)` do). Made on the batch producer's thread.
pub(super) fn stage_u8(pixels: &[u8], shape: [i64; 4], device: Device) -> Tensor {
    let host = Tensor::from_slice(pixels).view(shape);
    if device.is_cuda() { host.pin_memory(device) } else { host }
}

/// A [`stage_u8`] tensor on `device`; asynchronous from page-locked memory
/// (libtorch keeps the host block alive until the copy has run).
pub(super) fn upload_u8(staged: &Tensor, device: Device) -> Tensor {
    staged.to_device_(device, Kind::Uint8, true, false)
}

/// The input the device feeds the bundle, for `n` cached 8-bit RGB images
/// (HWC, `w`×`h` pixels): float32 on `device`, normalised with core's
/// [`PreprocessContract::normalization`] in the contract's channel order,
/// shaped `[n, 3, h, w]` (NCHW) or `[n, h, w, 3]` (NHWC) as its layout says.
/// Equal, image by image, to what [`PreprocessContract::apply`] gives for
/// the same resized pixels.
pub fn batch_input(pixels: &[u8], n: usize, w: u32, h: u32, contract: &PreprocessContract, device: Device) -> Tensor {
    if device == Device::Cpu {
        return cpu_batch_input(pixels, n, w, h, contract);
    }
    device_batch_input(&Tensor::from_slice(pixels).view([n as i64, h as i64, w as i64, 3]).to_device(device), contract)
}

/// [`batch_input`] of a uint8 `[n, h, w, 3]` batch already on its device.
pub(super) fn device_batch_input(x: &Tensor, contract: &PreprocessContract) -> Tensor {
    let (norm, device) = (contract.normalization(), x.device());
    let source = Tensor::from_slice(&norm.source.map(|c| c as i64)).to_device(device);
    let scale = Tensor::from_slice(&norm.scale).to_device(device);
    let bias = Tensor::from_slice(&norm.bias).to_device(device);
    let x = x.index_select(3, &source).to_kind(Kind::Float) * scale + bias;
    match contract.layout {
        Layout::Nchw => x.permute([0, 3, 1, 2]).contiguous(),
        Layout::Nhwc => x,
    }
}

/// [`batch_input`] on the CPU in one pass over the pixels, straight into
/// the output layout (the same float32 operations: `value · scale + bias`,
/// each rounded; 10× fewer passes than the tensor ops).
fn cpu_batch_input(pixels: &[u8], n: usize, w: u32, h: u32, contract: &PreprocessContract) -> Tensor {
    let norm = contract.normalization();
    let plane = (w * h) as usize;
    let shape = match contract.layout {
        Layout::Nchw => [n as i64, 3, h as i64, w as i64],
        Layout::Nhwc => [n as i64, h as i64, w as i64, 3],
    };
    let tensor = Tensor::empty(shape, (Kind::Float, Device::Cpu));
    // SAFETY: a new contiguous float32 tensor of n·plane·3 elements, written
    // here before anything else sees it (saves a copy of the whole batch).
    let out = unsafe { std::slice::from_raw_parts_mut(tensor.data_ptr() as *mut f32, n * plane * 3) };
    out.par_chunks_mut(plane * 3).zip(pixels.par_chunks(plane * 3)).for_each(|(o, px)| {
        for c in 0..3 {
            let (src, scale, bias) = (norm.source[c], norm.scale[c], norm.bias[c]);
            match contract.layout {
                Layout::Nchw => o[c * plane..(c + 1) * plane].iter_mut().zip(px.chunks_exact(3)).for_each(|(o, p)| *o = p[src] as f32 * scale + bias),
                Layout::Nhwc => o.chunks_exact_mut(3).zip(px.chunks_exact(3)).for_each(|(o, p)| o[c] = p[src] as f32 * scale + bias),
            }
        }
    });
    tensor
}

/// A [`batch_input`] as the tch network takes it (NCHW): an NHWC batch is
/// transposed, as the exported graph transposes it.
pub fn network_input(input: Tensor, layout: Layout) -> Tensor {
    match layout {
        Layout::Nchw => input,
        Layout::Nhwc => input.permute([0, 3, 1, 2]),
    }
}

/// [`batch_input`] then [`network_input`].
pub(super) fn to_input(pixels: &[u8], n: usize, w: u32, h: u32, contract: &PreprocessContract, device: Device) -> Tensor {
    network_input(batch_input(pixels, n, w, h, contract, device), contract.layout)
}

/// The batch size training uses: `requested`, or the whole training set
/// when it is smaller than one batch. BatchNorm cannot estimate statistics
/// from one image (its variance is undefined at 1×1 feature maps), so a
/// training set of one image is refused.
pub(super) fn training_batch_size(train_images: usize, requested: usize) -> anyhow::Result<usize> {
    let size = requested.min(train_images);
    anyhow::ensure!(
        size >= MIN_TRAINING_BATCH,
        "{train_images} usable training image(s): training needs batches of at least {MIN_TRAINING_BATCH} (BatchNorm estimates its statistics from each batch); add images or lower --val-fraction"
    );
    Ok(size)
}

/// The smallest batch BatchNorm's statistics are taken from.
const MIN_TRAINING_BATCH: usize = 2;

/// An epoch's training batches: `order` in chunks of `batch_size`, without
/// the final incomplete batch (PyTorch's `drop_last`). A tiny last batch
/// corrupts BatchNorm's running statistics (a batch of one gives NaN); the
/// images it would have held are reshuffled into full batches next epoch.
pub(super) fn training_batches(order: &[usize], batch_size: usize) -> Vec<&[usize]> {
    order.chunks_exact(batch_size).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_batch_input_equals_the_tensor_ops() {
        let pixels: Vec<u8> = (0..2 * 5 * 4 * 3).map(|i| (i * 37 % 256) as u8).collect();
        let mut bgr_nhwc = crate::models::preprocess_contract("efficientnet_lite0", 4);
        (bgr_nhwc.layout, bgr_nhwc.channel_order) = (Layout::Nhwc, taxa_core::preprocess::ChannelOrder::Bgr);
        for contract in [PreprocessContract::imagenet_sized(4), bgr_nhwc] {
            let norm = contract.normalization();
            let x = Tensor::from_slice(&pixels).view([2, 5, 4, 3]);
            let source = Tensor::from_slice(&norm.source.map(|c| c as i64));
            let x = x.index_select(3, &source).to_kind(Kind::Float) * Tensor::from_slice(&norm.scale) + Tensor::from_slice(&norm.bias);
            let want = match contract.layout {
                Layout::Nchw => x.permute([0, 3, 1, 2]).contiguous(),
                Layout::Nhwc => x,
            };
            let got = batch_input(&pixels, 2, 4, 5, &contract, Device::Cpu);
            assert_eq!(got.size(), want.size());
            assert!(got.equal(&want), "{:?}", contract.layout);
            // The device path's halves (staged on the producer, normalised where the batch lands).
            let staged = upload_u8(&stage_u8(&pixels, [2, 5, 4, 3], Device::Cpu), Device::Cpu);
            assert!(device_batch_input(&staged, &contract).equal(&want), "{:?}", contract.layout);
        }
    }

    #[test]
    fn the_incomplete_last_batch_is_dropped() {
        let order: Vec<usize> = (0..33).collect();
        let sizes = |b: usize| training_batches(&order, b).iter().map(|b| b.len()).collect::<Vec<_>>();
        assert_eq!(sizes(16), [16, 16], "33 = 2 × 16 + 1: the batch of one is dropped");
        assert_eq!(sizes(15), [15, 15]);
        assert_eq!(sizes(11), [11, 11, 11]);
        assert_eq!(training_batches(&order, 16)[1], &order[16..32]);
        assert_eq!(training_batch_size(33, 16).unwrap(), 16);
        assert_eq!(training_batch_size(33, 64).unwrap(), 33, "a small set trains in one batch");
        assert_eq!(training_batch_size(2, 64).unwrap(), 2);
        let err = training_batch_size(1, 64).unwrap_err().to_string();
        assert!(err.contains("1 usable training image(s)"), "{err}");
    }
}
