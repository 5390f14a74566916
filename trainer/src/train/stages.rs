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
    /// CPU time of the whole process (all threads, user + system) during
    /// the stage: unlike wall time, it does not grow when other processes
    /// share the cores. `None` where the OS does not say.
    pub cpu_seconds: Option<f64>,
    /// Images the stage went through.
    pub images: usize,
    pub images_per_second: f64,
    /// The process's peak resident memory during the stage, MiB (Linux:
    /// `VmHWM`, reset at the stage's start; memory-mapped cache pages that
    /// were read count too). `None` where the OS does not say.
    pub peak_rss_mib: Option<f64>,
    /// Anonymous resident memory at the stage's end, MiB (Linux `RssAnon`):
    /// the heap, without memory-mapped files (caches) and libraries.
    pub anon_rss_mib: Option<f64>,
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
    pub fn start(&self) -> Started {
        reset_peak_rss();
        Started { wall: Instant::now(), cpu: process_cpu_seconds() }
    }

    pub fn finish(&mut self, stage: &str, images: usize, started: Started) {
        let seconds = started.wall.elapsed().as_secs_f64();
        let cpu_seconds = process_cpu_seconds().zip(started.cpu).map(|(now, then)| now - then);
        let images_per_second = if seconds > 0.0 { images as f64 / seconds } else { 0.0 };
        self.0.push(StageTiming { stage: stage.into(), seconds, cpu_seconds, images, images_per_second, peak_rss_mib: status_mib("VmHWM:"), anon_rss_mib: status_mib("RssAnon:") });
    }
}

/// When a stage started: wall clock and process CPU time.
#[derive(Debug, Clone, Copy)]
pub struct Started {
    wall: Instant,
    cpu: Option<f64>,
}

/// User + system CPU time of this process (all threads), seconds.
fn process_cpu_seconds() -> Option<f64> {
    #[cfg(unix)]
    {
        // SAFETY: getrusage fills the zeroed struct it is given.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
            return None;
        }
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
        Some(secs(usage.ru_utime) + secs(usage.ru_stime))
    }
    #[cfg(not(unix))]
    None
}

/// Resets the kernel's peak-RSS mark (`VmHWM`) of this process.
fn reset_peak_rss() {
    #[cfg(target_os = "linux")]
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A memory line of `/proc/self/status`, MiB.
fn status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
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
        #[cfg(unix)]
        assert!(s.cpu_seconds.unwrap() > 0.0, "{s:?}");
        #[cfg(target_os = "linux")]
        assert!(s.peak_rss_mib.unwrap() >= 64.0, "{s:?}");
    }
}
