//! The decode cache survives kill -9: `taxa train --cache-only` is killed
//! mid-build, rerun, and the finished cache equals an uninterrupted build
//! byte for byte (every image once, in order), with only the images the
//! killed run had not committed decoded again.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};
use rand::{Rng, SeedableRng, rngs::StdRng};

const CLASSES: usize = 3;
const PER_CLASS: usize = 100;
/// The index's header; after it, one byte per decoded image.
const INDEX_HEADER: u64 = 24;

/// Noise photos (slow enough to decode that a build can be caught
/// mid-way), plus one file that does not decode.
fn photos(root: &Path) {
    let mut rng = StdRng::seed_from_u64(13);
    for c in 0..CLASSES {
        let dir = root.join(format!("species_{c}"));
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..PER_CLASS {
            let img = RgbImage::from_fn(320, 320, |_, _| Rgb([rng.random(), rng.random(), rng.random()]));
            img.save(dir.join(format!("{i:03}.jpg"))).unwrap();
        }
    }
    // JPEG by its first bytes, damaged after: the decoder (not the loader) skips it.
    std::fs::write(root.join("species_0/broken.jpg"), b"\xff\xd8\xff\xe0 damaged after its first marker").unwrap();
}

fn cache_only(root: &Path, cache: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_taxa"));
    cmd.args(["train", "--cache-only", "--json", "--input-size", "224", "--folder"]).arg(root).arg("--cache-dir").arg(cache);
    // One decoding thread: commits come in small chunks, a few milliseconds apart.
    cmd.env("RAYON_NUM_THREADS", "1").stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

fn run_json(mut cmd: Command) -> serde_json::Value {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "taxa failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.to_string_lossy().ends_with(suffix)).collect();
    files.sort();
    files
}

/// Whole records in an index body: `1` (decoded) or `0`, u32 length, reason.
fn whole_records(mut body: &[u8]) -> u64 {
    let mut n = 0;
    loop {
        match body {
            [1, rest @ ..] => body = rest,
            [0, a, b, c, d, rest @ ..] if rest.len() >= u32::from_le_bytes([*a, *b, *c, *d]) as usize => {
                body = &rest[u32::from_le_bytes([*a, *b, *c, *d]) as usize..]
            }
            _ => return n,
        }
        n += 1;
    }
}

#[test]
fn a_killed_cache_build_resumes_and_ends_whole() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("photos");
    photos(&root);
    let (killed, whole) = (dir.path().join("killed"), dir.path().join("whole"));

    // Start, wait for the first committed chunk of the training cache, kill -9.
    let mut child = cache_only(&root, &killed).spawn().unwrap();
    let started = Instant::now();
    loop {
        let committed = std::fs::create_dir_all(&killed).ok().and_then(|_| files_ending(&killed, ".idx.part").first().and_then(|p| std::fs::metadata(p).ok()));
        if committed.is_some_and(|m| m.len() > INDEX_HEADER) {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "the build finished before it could be killed");
        assert!(started.elapsed() < Duration::from_secs(60), "no cache progress in 60 s");
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(files_ending(&killed, ".idx").is_empty(), "killed mid-build: no index may look whole");
    let part = &files_ending(&killed, ".idx.part")[0];
    let records = whole_records(&std::fs::read(part).unwrap()[INDEX_HEADER as usize..]);
    assert!(records > 0, "something was committed before the kill");

    // The rerun decodes only what the killed run had not committed.
    let resumed = run_json(cache_only(&root, &killed));
    let total = (CLASSES * PER_CLASS + 1) as u64;
    let decoded = resumed["decoded_images"].as_u64().unwrap();
    assert!(decoded < total, "resumed, not rebuilt: {resumed}");
    assert_eq!(total - decoded, records, "{decoded} decoded after {records} committed records");
    assert_eq!(resumed["skipped_images"], 1, "{resumed}");
    assert!(files_ending(&killed, ".part").is_empty(), "no parts left behind");

    // Same bytes as a build that was never interrupted: every image once, in order.
    let fresh = run_json(cache_only(&root, &whole));
    assert_eq!(fresh["decoded_images"].as_u64(), Some(total));
    let (a, b) = (files_ending(&killed, ".u8"), files_ending(&whole, ".u8"));
    assert_eq!(a.len(), 2, "training and validation caches");
    for ext in [".u8", ".idx"] {
        for (x, y) in files_ending(&killed, ext).iter().zip(files_ending(&whole, ext)) {
            assert_eq!(x.file_name(), y.file_name(), "same cache keys");
            assert!(std::fs::read(x).unwrap() == std::fs::read(&y).unwrap(), "{} differs from the uninterrupted build", x.display());
        }
    }
    assert_eq!(b.len(), 2);
    // A whole cache is reused without decoding anything.
    assert_eq!(run_json(cache_only(&root, &killed))["decoded_images"], 0);
}
