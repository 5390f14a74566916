//! Datasets: the iNaturalist 2019 format and folder-per-class layouts,
//! class pruning, seeded stratified splits, and the decoded-image cache.

mod cache;
mod folder;
mod inat;
mod split;

pub use cache::{ImageCache, build_cache};
pub use folder::load_folder;
pub use inat::load_inat;
pub use split::{Prepared, prepare};

use std::path::PathBuf;

use taxa_core::Taxonomy;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
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
    /// The dataset's own validation images (`val2019.json`), if any.
    pub val: Option<Vec<Sample>>,
}
