//! Datasets: the iNaturalist competition layouts (2017, 2018, 2019, 2021)
//! and folder-per-class layouts (chosen by [`DataSource`]), class pruning, seeded stratified splits,
//! and the decoded-image cache.

mod cache;
mod cache_index;
mod folder;
mod inat;
mod inat_records;
mod inat_layout;
mod source;
mod split;

pub use cache::{ImageCache, build_cache};
pub use folder::load_folder;
pub use inat::load_inat;
pub use inat_records::{InatAnnotation, InatCategory, InatFile, InatImage};
pub use inat_layout::{InatFiles, InatLayout, find_inat};
pub use source::DataSource;
pub use split::{Prepared, prepare};

use std::path::PathBuf;

use taxa_core::Taxonomy;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The OS error is part of the message and deliberately not a `source`:
    /// error chains (`{:#}`) would print it twice.
    #[error("cannot read {}: {error}", path.display())]
    Io { path: PathBuf, error: std::io::Error },
    #[error("{}: line {line}, column {column}: {message}", path.display())]
    Json { path: PathBuf, line: usize, column: usize, message: String },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("{0}")]
    Options(String),
}

/// One class as the dataset describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassInfo {
    pub label: String,
    pub taxonomy: Taxonomy,
}

/// One image and its class (an index into the class list).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub path: PathBuf,
    pub class: usize,
}

/// What a loader returns, before pruning and splitting.
#[derive(Debug, Clone)]
pub struct RawDataset {
    pub classes: Vec<ClassInfo>,
    pub train: Vec<Sample>,
    /// The dataset's own validation images (`val.json`, `val2019.json`…), if any.
    pub val: Option<Vec<Sample>>,
    /// Files found among the photos that are not used, and why (a format
    /// taxa does not decode, an unreadable file): listed in `skipped.txt`.
    pub skipped: Vec<(PathBuf, String)>,
    /// What the user should know about how the layout was read (a class
    /// name read as Latin-1): printed before training.
    pub notes: Vec<String>,
}

/// Up to `limit` entries of a folder, sorted, folders marked with `/`, for
/// error messages that say what the user has: "a/, b.json, … and 3 more".
pub fn folder_listing(dir: &std::path::Path, limit: usize) -> String {
    let Ok(entries) = std::fs::read_dir(dir) else { return "nothing readable".into() };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().is_dir() { format!("{name}/") } else { name }
        })
        .collect();
    if names.is_empty() {
        return "nothing (the folder is empty)".into();
    }
    names.sort();
    let more = names.len().saturating_sub(limit);
    names.truncate(limit);
    let mut text = names.join(", ");
    if more > 0 {
        text.push_str(&format!(" … and {more} more"));
    }
    text
}
