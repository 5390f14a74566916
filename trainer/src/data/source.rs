//! Where a run's images come from: saved in the run's `config.json`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{InatFiles, RawDataset, load_folder, load_inat};

/// Where the images come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "lowercase")]
pub enum DataSource {
    /// iNaturalist JSON files (any competition year, see
    /// [`crate::data::find_inat`]); image paths relative to `root`. With
    /// `official_val` the validation file is the validation set; otherwise
    /// its images join the pool that is split. `categories_json` replaces
    /// the categories (2018/2019's un-obfuscated names).
    Inat {
        root: PathBuf,
        train_json: PathBuf,
        val_json: Option<PathBuf>,
        official_val: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        categories_json: Option<PathBuf>,
    },
    /// `root/<class>/<image>`.
    Folder { root: PathBuf },
}

impl DataSource {
    /// The iNaturalist files `find_inat` found, with or without the official
    /// validation split.
    pub fn inat(files: &InatFiles, official_val: bool) -> Self {
        DataSource::Inat {
            root: files.root.clone(),
            train_json: files.train_json.clone(),
            val_json: files.val_json.clone(),
            official_val,
            categories_json: files.categories_json.clone(),
        }
    }

    /// Reads the dataset's class list and samples (no image is decoded).
    pub fn load(&self) -> Result<RawDataset, super::DataError> {
        Ok(match self {
            DataSource::Inat { root, train_json, val_json, official_val, categories_json } => {
                let mut raw = load_inat(root, train_json, val_json.as_deref(), categories_json.as_deref())?;
                if !official_val && let Some(val) = raw.val.take() {
                    raw.train.extend(val);
                }
                raw
            }
            DataSource::Folder { root } => load_folder(root)?,
        })
    }
}
