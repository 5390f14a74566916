//! Per-stage cost of a run: wall time, images per second and peak memory,
//! in `report.json` (`stages`) and `taxa train --json`, so a run at scale
//! shows which stage grows faster than the data.

use std::time::Instant;

use serde::Serialize;

/// One stage of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageTiming {
    /// `load`, `prepare` (prune and split), `cache`, `features`,
    /// `train epoch N`, `evaluate epoch N`, `commit epoch N`, `report`.
    pub stage: String,
    pub seconds: f64,
    /// Images the stage went through.
    pub images: usize,
    pub images_per_second: f64,
    /// The process's peak resident memory during the stage, MiB (Linux:
    /// `VmHWM`, reset at the stage's start; memory-mapped cache pages that
    /// were read count too). `None` where the OS does not say.
    pub peak_rss_mib: Option<f64>,
}

/// The stages timed so far.
#[derive(Debug, Default)]
pub struct Stages(pub Vec<StageTiming>);

impl Stages {
    /// Runs `f` as stage `stage` over `images` images.
    pub fn time<T>(&mut self, stage: &str, images: usize, f: impl FnOnce() -> T) -> T {
        let started = self.start();
        let out = f();
        self.finish(stage, images, started);
        out
    }

    /// Starts a stage whose image count is known only at its end.
    pub fn start(&self) -> Instant {
        reset_peak_rss();
        Instant::now()
    }

    pub fn finish(&mut self, stage: &str, images: usize, started: Instant) {
        let seconds = started.elapsed().as_secs_f64();
        let images_per_second = if seconds > 0.0 { images as f64 / seconds } else { 0.0 };
        self.0.push(StageTiming { stage: stage.into(), seconds, images, images_per_second, peak_rss_mib: peak_rss_mib() });
    }
}

/// Resets the kernel's peak-RSS mark (`VmHWM`) of this process.
fn reset_peak_rss() {
    #[cfg(target_os = "linux")]
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_records_its_images_and_memory() {
        let mut stages = Stages::default();
        let v = stages.time("load", 10, || vec![1u8; 64 << 20].iter().map(|&b| b as usize).sum::<usize>());
        assert_eq!(v, 64 << 20);
        let s = &stages.0[0];
        assert_eq!((s.stage.as_str(), s.images), ("load", 10));
        assert!(s.seconds > 0.0 && s.images_per_second > 0.0);
        #[cfg(target_os = "linux")]
        assert!(s.peak_rss_mib.unwrap() >= 64.0, "{s:?}");
    }
}
