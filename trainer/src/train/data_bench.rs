//! `taxa train-bench --data-path`: what the training data path delivers
//! per CPU core, stage by stage, on both augmentation paths (issue 13):
//! - `cpu`: cache read, crop + flip on the CPU, normalise, host-to-device;
//! - `device`: cache read, uint8 host-to-device, crop + flip + normalise on
//!   the device (on a CPU device: libtorch's kernels on the CPU).
//!
//! One rayon thread and one libtorch thread, so the figures are per core.

use std::time::Instant;

use rand::{SeedableRng, rngs::StdRng};
use serde::Serialize;
use tch::Device;

use super::augment::{CropWindow, augment, augment_on_device};
use super::presets::{batch_input, gather, load_data, network_input, stage_u8, upload_u8};
use super::stages::Stages;
use super::{Mode, TrainConfig};

/// One path's figures: CPU time of the one thread (wall time on CUDA).
#[derive(Debug, Clone, Serialize)]
pub struct DataPathResult {
    /// `cpu` or `device` (where crop, flip and normalise run).
    pub path: String,
    pub device: String,
    pub images: usize,
    /// Per stage: (name, microseconds per image).
    pub stages: Vec<(String, f64)>,
    /// Images per second on one core, all stages.
    pub images_per_second: f64,
}

/// CPU time of the calling thread, seconds: the figures stay per core on a
/// busy machine, where wall time would count other processes' turns.
fn thread_cpu_seconds() -> f64 {
    #[cfg(unix)]
    {
        let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: clock_gettime writes the timespec it is given.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
        t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
    }
    #[cfg(not(unix))]
    {
        static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_secs_f64()
    }
}

fn sync(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

/// Times `batches` training batches of `config` through both paths, after
/// one warm-up batch each. The dataset's training cache (the squares
/// augmentation crops from) is built first if needed.
pub fn bench_data_path(config: &TrainConfig, batches: usize) -> anyhow::Result<Vec<DataPathResult>> {
    let mut config = config.clone();
    (config.mode, config.augment) = (Mode::Scratch, true);
    config.validate()?;
    let device = config.device()?;
    let data = load_data(&config, false, &mut Stages::default())?;
    let cache = &data.train_cache;
    let slots: Vec<usize> = cache.usable(&data.prepared.train).map(|(slot, _)| slot).collect();
    anyhow::ensure!(!slots.is_empty(), "no usable training images");
    let (side, out, n) = (cache.width, config.input_size, config.batch_size);
    let contract = config.contract();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    tch::set_num_threads(1);
    let slots = &slots;
    let batch_slots = |b: usize| (0..n).map(|k| slots[(b * n + k) % slots.len()]).collect::<Vec<_>>();
    let mut results = Vec::new();
    for on_device in [false, true] {
        let mut times = [0.0f64; 4];
        let names = if on_device { ["cache read", "stage (uint8, page-locked on CUDA)", "host-to-device (uint8)", "crop + flip + normalise (device)"] } else { ["cache read", "crop + flip (CPU)", "normalise (CPU)", "host-to-device (float32)"] };
        let wall = Instant::now();
        pool.install(|| {
            for b in 0..=batches {
                let mut t = [0.0f64; 4];
                // On CUDA the device's work is not this thread's: wall time there.
                let clock = || if device.is_cuda() { wall.elapsed().as_secs_f64() } else { thread_cpu_seconds() };
                let mut lap = |i: usize, start: &mut f64| {
                    let now = clock();
                    t[i] = now - *start;
                    *start = now;
                };
                let mut start = clock();
                let squares = gather(cache, batch_slots(b));
                lap(0, &mut start);
                let windows: Vec<CropWindow> = (0..n).map(|k| CropWindow::draw(side, &mut StdRng::seed_from_u64((b * n + k) as u64))).collect();
                let x = if on_device {
                    let staged = stage_u8(&squares, [n as i64, side as i64, side as i64, 3], device);
                    lap(1, &mut start);
                    let u8s = upload_u8(&staged, device);
                    sync(device);
                    lap(2, &mut start);
                    let x = augment_on_device(&u8s, &windows, out, &contract);
                    sync(device);
                    lap(3, &mut start);
                    x
                } else {
                    let image = (side * side * 3) as usize;
                    let crops: Vec<u8> = (0..n).flat_map(|k| augment(&squares[k * image..(k + 1) * image], side, out, &mut StdRng::seed_from_u64((b * n + k) as u64))).collect();
                    lap(1, &mut start);
                    let x = network_input(batch_input(&crops, n, out, out, &contract, Device::Cpu), contract.layout);
                    lap(2, &mut start);
                    let x = x.to_device(device);
                    sync(device);
                    lap(3, &mut start);
                    x
                };
                drop((x, windows));
                if b > 0 {
                    (0..4).for_each(|i| times[i] += t[i]);
                }
            }
        });
        let images = batches * n;
        let total: f64 = times.iter().sum();
        results.push(DataPathResult {
            path: if on_device { "device" } else { "cpu" }.into(),
            device: format!("{device:?}"),
            images,
            stages: names.iter().zip(times).filter(|(name, _)| !name.is_empty()).map(|(name, s)| (name.to_string(), s / images as f64 * 1e6)).collect(),
            images_per_second: images as f64 / total,
        });
    }
    Ok(results)
}
