//! A taxa checkpoint: the network's weights as safetensors with
//! torchvision's keys (PyTorch loads them unchanged), plus what is needed to
//! rebuild and label the model, in the safetensors header metadata.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use taxa_core::Taxonomy;

use crate::models::Network;
use crate::weights::{WeightsError, save_safetensors};

const ARCH: &str = "taxa.arch";
const NUM_CLASSES: &str = "taxa.num_classes";
const LABELS: &str = "taxa.labels";
const TAXONOMY: &str = "taxa.taxonomy";
const INPUT_SIZE: &str = "taxa.input_size";

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("cannot read checkpoint {}: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("{} is not a taxa checkpoint: header metadata `{key}` {problem}", path.display())]
    Metadata { path: PathBuf, key: &'static str, problem: String },
    #[error(transparent)]
    Weights(#[from] WeightsError),
}

/// What a checkpoint says about its model.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointInfo {
    pub arch: String,
    pub num_classes: i64,
    pub labels: Vec<String>,
    pub taxonomy: Option<Vec<Taxonomy>>,
    /// The square input side the network trained at, pixels (`None` in
    /// checkpoints written before it was recorded).
    pub input_size: Option<u32>,
}

pub fn save_checkpoint(net: &Network, info: &CheckpointInfo, path: &Path) -> Result<(), CheckpointError> {
    let mut metadata = HashMap::new();
    metadata.insert(ARCH.to_string(), info.arch.clone());
    metadata.insert(NUM_CLASSES.to_string(), info.num_classes.to_string());
    metadata.insert(LABELS.to_string(), serde_json::to_string(&info.labels).expect("strings serialise"));
    if let Some(taxonomy) = &info.taxonomy {
        metadata.insert(TAXONOMY.to_string(), serde_json::to_string(taxonomy).expect("taxonomy serialises"));
    }
    if let Some(size) = info.input_size {
        metadata.insert(INPUT_SIZE.to_string(), size.to_string());
    }
    Ok(save_safetensors(net, path, Some(metadata))?)
}

/// Reads only the header of a checkpoint.
pub fn read_checkpoint_info(path: &Path) -> Result<CheckpointInfo, CheckpointError> {
    let read_err = |message: String| CheckpointError::Read { path: path.to_path_buf(), message };
    let bytes = std::fs::read(path).map_err(|e| read_err(e.to_string()))?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| read_err(e.to_string()))?;
    let empty = HashMap::new();
    let meta = header.metadata().as_ref().unwrap_or(&empty);
    let get = |key: &'static str| {
        meta.get(key).ok_or_else(|| CheckpointError::Metadata { path: path.to_path_buf(), key, problem: "is missing".into() })
    };
    let bad = |key: &'static str, e: String| CheckpointError::Metadata { path: path.to_path_buf(), key, problem: e };
    Ok(CheckpointInfo {
        arch: get(ARCH)?.clone(),
        num_classes: get(NUM_CLASSES)?.parse().map_err(|_| bad(NUM_CLASSES, "is not a number".into()))?,
        labels: serde_json::from_str(get(LABELS)?).map_err(|e| bad(LABELS, e.to_string()))?,
        taxonomy: meta.get(TAXONOMY).map(|t| serde_json::from_str(t)).transpose().map_err(|e| bad(TAXONOMY, e.to_string()))?,
        input_size: meta.get(INPUT_SIZE).map(|s| s.parse()).transpose().map_err(|_| bad(INPUT_SIZE, "is not a number".into()))?,
    })
}
