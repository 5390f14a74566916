//! Real photos and ImageNet's class names, as `scripts/fetch-real-data.sh`
//! unpacks them from Debian's archive into a cache folder (never committed):
//!
//! - `tuxpaint-stamps-default/`: Tux Paint's photo stamps (GPL-2), real
//!   photographs of single animals and plants cut out on a transparent
//!   background; [`TUXPAINT_PHOTO_STAMPS`] lists them with a coarse class.
//! - `darknet/`: darknet's `imagenet.labels.list` (WordNet ids) and
//!   `imagenet.shortnames.list`, whose first 1,000 lines are ImageNet-1k's
//!   classes, and four real photos (dog, eagle, giraffe, horses).

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};

/// `class,path_in_package` for each photo stamp in `tuxpaint-stamps-default`
/// 2022.06.04-1 (the drawings are left out); classes are bird, mammal, fish,
/// insect, fruit, flower and vegetable.
pub const TUXPAINT_PHOTO_STAMPS: &str = include_str!("../../scripts/data/tuxpaint-photo-stamps.csv");

/// The coarse classes with enough photos to train on (insect has 5).
pub const COARSE_CLASSES: [&str; 6] = ["bird", "mammal", "fish", "fruit", "flower", "vegetable"];

const DARKNET_DATA: &str = "darknet/usr/share/darknet/data";

#[derive(Debug, thiserror::Error)]
pub enum RealDataError {
    #[error("no real data in {}: run scripts/fetch-real-data.sh", dir.display())]
    NotFetched { dir: PathBuf },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

/// One photo stamp: its coarse class and where it is in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoStamp {
    pub class: String,
    /// File stem, e.g. `crow`.
    pub name: String,
    pub path: PathBuf,
}

/// A fetched cache folder.
#[derive(Debug, Clone)]
pub struct RealData {
    root: PathBuf,
}

impl RealData {
    /// `$TAXA_REAL_DATA`, or `.cache/real-data` under the current folder
    /// (the fetch script's default when run from the repository root).
    pub fn default_dir() -> PathBuf {
        std::env::var_os("TAXA_REAL_DATA").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(".cache/real-data"))
    }

    /// Opens a cache the fetch script has finished (it writes `.complete` last).
    pub fn open(dir: &Path) -> Result<Self, RealDataError> {
        if !dir.join(".complete").is_file() {
            return Err(RealDataError::NotFetched { dir: dir.to_path_buf() });
        }
        Ok(RealData { root: dir.to_path_buf() })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// ImageNet-1k's 1,000 class names in the order of the models' outputs:
    /// darknet's first 1,000 (WordNet id, short name) pairs sorted by id.
    pub fn imagenet_labels(&self) -> Result<Vec<String>, RealDataError> {
        let read = |name: &str| {
            let path = self.root.join(DARKNET_DATA).join(name);
            std::fs::read_to_string(&path).map_err(|e| RealDataError::Invalid { path, message: e.to_string() })
        };
        let (ids, names) = (read("imagenet.labels.list")?, read("imagenet.shortnames.list")?);
        let mut pairs: Vec<(&str, &str)> = ids.lines().zip(names.lines()).take(1000).collect();
        if pairs.len() != 1000 || pairs.iter().any(|(id, _)| !id.starts_with('n')) {
            let path = self.root.join(DARKNET_DATA).join("imagenet.labels.list");
            return Err(RealDataError::Invalid { path, message: "expected 1,000 WordNet ids (nNNNNNNNN) first".into() });
        }
        pairs.sort();
        Ok(pairs.into_iter().map(|(_, name)| name.to_string()).collect())
    }

    /// darknet's real photos (JPEG, no alpha): (subject, path).
    pub fn darknet_photos(&self) -> Vec<(String, PathBuf)> {
        ["dog", "eagle", "giraffe", "horses"].iter().map(|n| (n.to_string(), self.root.join(DARKNET_DATA).join(format!("{n}.jpg")))).collect()
    }

    /// Every photo stamp in [`TUXPAINT_PHOTO_STAMPS`], in its order.
    pub fn photo_stamps(&self) -> Vec<PhotoStamp> {
        TUXPAINT_PHOTO_STAMPS
            .lines()
            .skip(1)
            .filter_map(|line| line.split_once(','))
            .map(|(class, path)| {
                let name = Path::new(path).file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
                PhotoStamp { class: class.to_string(), name, path: self.root.join("tuxpaint-stamps-default").join(path) }
            })
            .collect()
    }

    /// Writes the photo stamps of `classes` as a folder-per-class dataset
    /// under `out` (`out/<class>/<name>.png`, RGB, composited on white; see
    /// [`flatten_on_white`]) and returns how many photos it holds. Photos
    /// already written are kept, so a second call costs only a listing.
    pub fn write_coarse_dataset(&self, out: &Path, classes: &[&str]) -> Result<usize, RealDataError> {
        let mut count = 0;
        for stamp in self.photo_stamps().into_iter().filter(|s| classes.contains(&s.class.as_str())) {
            let dir = out.join(&stamp.class);
            let target = dir.join(format!("{}.png", stamp.name));
            if !target.is_file() {
                let invalid = |path: &Path, e: &dyn std::fmt::Display| RealDataError::Invalid { path: path.to_path_buf(), message: e.to_string() };
                let image = image::open(&stamp.path).map_err(|e| invalid(&stamp.path, &e))?;
                std::fs::create_dir_all(&dir).map_err(|e| invalid(&dir, &e))?;
                // Atomic: a killed run leaves no half image (nor one a folder
                // loader would pick up), and concurrent writers (parallel tests)
                // each write a temporary file of their own.
                taxa_core::atomic::write_atomic_with(&target, |tmp| {
                    flatten_on_white(&image).save_with_format(tmp, image::ImageFormat::Png).map_err(std::io::Error::other)
                })
                .map_err(|e| invalid(&target, &e))?;
            }
            count += 1;
        }
        Ok(count)
    }
}

/// The image composited over white. The stamps are cut-outs: under their
/// transparent pixels lies whatever the editor left (black, white, a
/// coloured box or the original background), and dropping alpha, as
/// Pillow's `convert("RGB")` and taxa-core's decoder do, would show it and
/// hand a classifier a background cue (most fruit sit on black).
pub fn flatten_on_white(image: &image::DynamicImage) -> RgbImage {
    let rgba = image.to_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let mix = |c: u8| ((c as u32 * a as u32 + 255 * (255 - a as u32) + 127) / 255) as u8;
        Rgb([mix(r), mix(g), mix(b)])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stamp_list_has_every_coarse_class() {
        let data = RealData { root: PathBuf::from("/cache") };
        let stamps = data.photo_stamps();
        assert_eq!(stamps.len(), 178);
        for class in COARSE_CLASSES {
            assert!(stamps.iter().filter(|s| s.class == class).count() >= 8, "{class}");
        }
        assert_eq!(stamps[0].path, Path::new("/cache/tuxpaint-stamps-default/usr/share/tuxpaint/stamps/animals/birds/adelaide-rosella.png"));
        assert_eq!(stamps[0].name, "adelaide-rosella");
    }

    #[test]
    fn alpha_is_composited_on_white() {
        let rgba = image::RgbaImage::from_raw(3, 1, vec![0, 0, 0, 0, 200, 100, 0, 255, 0, 0, 0, 128]).unwrap();
        let flat = flatten_on_white(&image::DynamicImage::ImageRgba8(rgba));
        assert_eq!(flat.as_raw(), &[255, 255, 255, 200, 100, 0, 127, 127, 127]);
    }

    #[test]
    fn an_unfetched_cache_says_how_to_fetch() {
        let dir = tempfile::tempdir().unwrap();
        let err = RealData::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("scripts/fetch-real-data.sh"), "{err}");
    }
}
