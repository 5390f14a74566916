//! Weights in torchvision's state-dict naming: loading from `.safetensors`
//! and PyTorch `.pth`/`.pt` files with strict key and shape checks, and
//! saving as safetensors that PyTorch loads unchanged.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tch::{Device, Kind, Tensor};

use crate::models::{Network, ParamKind};

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("cannot read weights {}: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("{}: unknown weights format (expected .safetensors, .pth, .pt or .bin)", path.display())]
    UnknownFormat { path: PathBuf },
    #[error("{}: missing tensor `{key}` for {arch}{more}", path.display())]
    Missing { path: PathBuf, key: String, arch: String, more: String },
    #[error("{}: unexpected tensor `{key}` (not part of {arch}){more}", path.display())]
    Unexpected { path: PathBuf, key: String, arch: String, more: String },
    #[error("{}: tensor `{key}` has shape {found:?}, {arch} needs {expected:?}", path.display())]
    Shape { path: PathBuf, key: String, arch: String, expected: Vec<i64>, found: Vec<i64> },
    #[error("cannot write weights {}: {message}", path.display())]
    Write { path: PathBuf, message: String },
}

/// What happened to the classification head while loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadOutcome {
    /// The file's head fitted and was loaded.
    Loaded,
    /// The file's head had `file_classes` outputs; a fresh head was kept.
    Replaced { file_classes: i64 },
}

/// Reads every tensor of a state-dict file, by key.
pub fn read_state_dict(path: &Path) -> Result<Vec<(String, Tensor)>, WeightsError> {
    let read = |r: Result<Vec<(String, Tensor)>, tch::TchError>| {
        r.map_err(|e| WeightsError::Read { path: path.to_path_buf(), message: e.to_string() })
    };
    if !path.is_file() {
        return Err(WeightsError::Read { path: path.to_path_buf(), message: "no such file".into() });
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some("safetensors") => read(Tensor::read_safetensors(path)),
        Some("pth" | "pt" | "bin") => {
            crate::pth::read_pth(path).map_err(|message| WeightsError::Read { path: path.to_path_buf(), message })
        }
        _ => Err(WeightsError::UnknownFormat { path: path.to_path_buf() }),
    }
}

/// torchvision's DenseNet checkpoints use `norm.1` for `norm1` (and so on);
/// torchvision renames them on load, and so do we.
fn canonical_key(key: &str) -> String {
    let key = key.strip_prefix("module.").unwrap_or(key);
    if !key.contains("denselayer") {
        return key.to_string();
    }
    let mut out = key.to_string();
    for (old, new) in [(".norm.1.", ".norm1."), (".norm.2.", ".norm2."), (".conv.1.", ".conv1."), (".conv.2.", ".conv2."), (".relu.1.", ".relu1."), (".relu.2.", ".relu2.")] {
        out = out.replace(old, new);
    }
    out
}

/// Copies a state dict into `net`. Every key must match in name and shape,
/// except the head when `allow_new_head` is set and the file's head has
/// another number of classes: then the fresh head is kept.
pub fn load_state_dict(
    net: &Network,
    tensors: Vec<(String, Tensor)>,
    source: &Path,
    allow_new_head: bool,
) -> Result<HeadOutcome, WeightsError> {
    let spec = net.spec();
    let arch = spec.arch.clone();
    let mut file: HashMap<String, Tensor> = tensors.into_iter().map(|(k, t)| (canonical_key(&k), t)).collect();
    let params = spec.parameters();
    let list_more = |keys: &[&str]| {
        if keys.len() > 1 { format!(" (and {} more: {})", keys.len() - 1, keys[1..keys.len().min(4)].join(", ")) } else { String::new() }
    };

    // Unexpected keys first: a wrong architecture shows up here.
    let mut unexpected: Vec<&str> = file.keys().filter(|k| !params.iter().any(|p| &p.name == *k)).map(|k| k.as_str()).collect();
    unexpected.sort();
    if let Some(first) = unexpected.first() {
        return Err(WeightsError::Unexpected { path: source.into(), key: first.to_string(), arch, more: list_more(&unexpected) });
    }
    // Older checkpoints lack BatchNorm's num_batches_tracked; it only counts.
    let missing: Vec<&str> = params.iter().filter(|p| p.kind != ParamKind::Counter && !file.contains_key(&p.name)).map(|p| p.name.as_str()).collect();
    if let Some(first) = missing.first() {
        return Err(WeightsError::Missing { path: source.into(), key: first.to_string(), arch, more: list_more(&missing) });
    }

    let mut outcome = HeadOutcome::Loaded;
    let head_weight = params.iter().find(|p| spec.is_head_param(&p.name) && p.name.ends_with(".weight")).expect("every spec has a head");
    if let Some(t) = file.get(&head_weight.name) {
        let file_classes = t.size().first().copied().unwrap_or(0);
        if file_classes != spec.num_classes && allow_new_head && t.size()[1..] == head_weight.shape[1..] {
            outcome = HeadOutcome::Replaced { file_classes };
            file.retain(|k, _| !spec.is_head_param(k));
        }
    }

    tch::no_grad(|| {
        for p in &params {
            if spec.is_head_param(&p.name) && outcome != HeadOutcome::Loaded {
                continue;
            }
            let Some(src) = file.get(&p.name) else { continue };
            if src.size() != p.shape {
                return Err(WeightsError::Shape { path: source.into(), key: p.name.clone(), arch: arch.clone(), expected: p.shape.clone(), found: src.size() });
            }
            let mut dst = net.param(&p.name).expect("network has every spec param").shallow_clone();
            dst.copy_(&src.to_kind(dst.kind()).to_device(dst.device()));
        }
        Ok(())
    })?;
    Ok(outcome)
}

/// Saves the network's state dict as safetensors with torchvision's keys,
/// atomically (temp file + rename). `metadata` goes into the file header.
pub fn save_safetensors(net: &Network, path: &Path, metadata: Option<HashMap<String, String>>) -> Result<(), WeightsError> {
    let write_err = |message: String| WeightsError::Write { path: path.to_path_buf(), message };
    let mut entries = Vec::new();
    for p in net.spec().parameters() {
        let t = net.param(&p.name).expect("network has every spec param").detach().to_device(Device::Cpu).contiguous();
        let flat = t.flatten(0, -1);
        let (dtype, bytes): (_, Vec<u8>) = match t.kind() {
            Kind::Int64 => {
                let values = Vec::<i64>::try_from(&flat).map_err(|e| write_err(e.to_string()))?;
                (safetensors::Dtype::I64, values.iter().flat_map(|v| v.to_le_bytes()).collect())
            }
            _ => {
                let values = Vec::<f32>::try_from(&flat.to_kind(Kind::Float)).map_err(|e| write_err(e.to_string()))?;
                (safetensors::Dtype::F32, values.iter().flat_map(|v| v.to_le_bytes()).collect())
            }
        };
        entries.push((p.name, dtype, p.shape.iter().map(|d| *d as usize).collect::<Vec<_>>(), bytes));
    }
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = entries
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes).map(|v| (name.clone(), v)).map_err(|e| write_err(e.to_string()))
        })
        .collect::<Result<_, _>>()?;
    let bytes = safetensors::serialize(views, metadata).map_err(|e| write_err(e.to_string()))?;
    taxa_core::atomic::write_atomic(path, &bytes).map_err(|e| write_err(e.to_string()))
}
