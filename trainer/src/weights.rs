//! Weights in torchvision's state-dict naming: loading from `.safetensors`
//! and PyTorch `.pth`/`.pt` files with strict key and shape checks, and
//! saving as safetensors that PyTorch loads unchanged. Trained models given
//! as a model file (a taxa bundle or ONNX file, `.onnx`; a TFLite file,
//! `.tflite`) are read by the network's own layers ([`read_weights_for`]):
//! their BatchNorm is folded into the convolutions.

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
    #[error("{}: its layers do not match {arch}: {message}", path.display())]
    Layers { path: PathBuf, arch: String, message: String },
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

/// Whether `path` is a whole model (`.onnx` or `.tflite`) rather than a state
/// dict: its weights are read by layer order ([`read_weights_for`]), with
/// BatchNorm folded into the convolutions.
pub fn is_model_file(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("onnx" | "tflite"))
}

/// Whether a model file was trained in TensorFlow: a `.tflite`, or a bundle
/// `taxa import` made from one. Such weights need TensorFlow's "SAME" padding
/// (`mobilenet_v2_tf`).
pub fn is_tensorflow_trained(path: &Path) -> bool {
    match path.extension().and_then(|e| e.to_str()) {
        Some("tflite") => true,
        Some("onnx") => taxa_core::bundle::read_model(path)
            .ok()
            .and_then(|m| taxa_core::BundleMetadata::from_model_proto(&m).ok().flatten())
            .is_some_and(|m| m.architecture.as_deref() == Some("tflite")),
        _ => false,
    }
}

/// The architecture that carries `weights`: `mobilenet_v2` becomes
/// `mobilenet_v2_tf` (TensorFlow's padding and contract) for weights trained
/// in TensorFlow ([`is_tensorflow_trained`]); anything else is kept.
pub fn arch_for_weights(arch: &str, weights: Option<&Path>) -> String {
    match weights {
        Some(w) if arch == "mobilenet_v2" && is_tensorflow_trained(w) => "mobilenet_v2_tf".into(),
        _ => arch.into(),
    }
}

/// The weights of `spec`'s layers from a state-dict file, or from a model
/// file (`.onnx`, `.tflite`) by layer order: the n-th convolution of the
/// file is the spec's n-th `Conv2d` (shapes checked), its bias goes to the
/// BatchNorm after it, which becomes the identity (weight 1, running mean 0,
/// running variance 1 − ε); the file's fully-connected layer is the head.
/// Quantised weights are dequantised. The activations' quantisation is not
/// carried: the network trains in float.
pub fn read_weights_for(path: &Path, spec: &crate::models::NetSpec) -> Result<Vec<(String, Tensor)>, WeightsError> {
    if !is_model_file(path) {
        return read_state_dict(path);
    }
    let read_error = |message: String| WeightsError::Read { path: path.to_path_buf(), message };
    let proto = if path.extension().and_then(|e| e.to_str()) == Some("tflite") {
        let bytes = std::fs::read(path).map_err(|e| read_error(e.to_string()))?;
        crate::import::tflite::convert(&bytes, crate::import::WeightStorage::Float32).map_err(|e| read_error(e.to_string()))?.model
    } else {
        taxa_core::bundle::read_model(path).map_err(|e| read_error(e.to_string()))?
    };
    let layers = model_layers(&proto).map_err(read_error)?;
    let mismatch = |message: String| WeightsError::Layers { path: path.to_path_buf(), arch: spec.arch.clone(), message };
    let mut tensors = Vec::new();
    let mut layers = layers.into_iter();
    let mut conv_index = 0;
    for (i, node) in spec.nodes.iter().enumerate() {
        match &node.op {
            crate::models::Op::Conv2d { module, in_channels, out_channels, kernel, groups, .. } => {
                let expected = vec![*out_channels, in_channels / groups, *kernel, *kernel];
                let (shape, weight, bias) = match layers.next() {
                    Some(Layer::Conv { shape, weight, bias }) => (shape, weight, bias),
                    Some(Layer::Dense { .. }) => return Err(mismatch(format!("the file's layer {conv_index} is fully connected where `{module}` is a convolution"))),
                    None => return Err(mismatch(format!("the file has {conv_index} convolutions; `{module}` has none left"))),
                };
                if shape != expected {
                    return Err(mismatch(format!("convolution {conv_index} is {shape:?}, `{module}` needs {expected:?}")));
                }
                conv_index += 1;
                tensors.push((format!("{module}.weight"), Tensor::from_slice(&weight).view(expected.as_slice())));
                let Some(crate::models::Op::BatchNorm2d { module: bn, eps, .. }) = spec.nodes.get(i + 1).map(|n| &n.op) else {
                    return Err(mismatch(format!("`{module}` has no BatchNorm after it to carry the folded bias")));
                };
                let channels = *out_channels;
                let bias = bias.unwrap_or_else(|| vec![0.0; channels as usize]);
                tensors.push((format!("{bn}.weight"), Tensor::ones([channels], (Kind::Float, Device::Cpu))));
                tensors.push((format!("{bn}.bias"), Tensor::from_slice(&bias)));
                tensors.push((format!("{bn}.running_mean"), Tensor::zeros([channels], (Kind::Float, Device::Cpu))));
                tensors.push((format!("{bn}.running_var"), Tensor::full([channels], 1.0 - eps, (Kind::Float, Device::Cpu))));
            }
            crate::models::Op::Linear { module, in_features, .. } => {
                let Some(Layer::Dense { outputs, inputs, weight, bias }) = layers.next() else {
                    return Err(mismatch(format!("no fully-connected layer for `{module}`")));
                };
                if inputs != *in_features {
                    return Err(mismatch(format!("the fully-connected layer takes {inputs} features, `{module}` {in_features}")));
                }
                tensors.push((format!("{module}.weight"), Tensor::from_slice(&weight).view([outputs, inputs])));
                tensors.push((format!("{module}.bias"), Tensor::from_slice(&bias)));
            }
            _ => {}
        }
    }
    if let Some(extra) = layers.next() {
        return Err(mismatch(format!("the file has more layers than {} (next: {})", spec.arch, extra.describe())));
    }
    Ok(tensors)
}

/// A layer with weights, in the file's order.
enum Layer {
    /// ONNX `Conv`: weight `[out, in / groups, kh, kw]`, row-major.
    Conv { shape: Vec<i64>, weight: Vec<f32>, bias: Option<Vec<f32>> },
    /// ONNX `Gemm` or `MatMul`: weight `[outputs, inputs]`, row-major.
    Dense { outputs: i64, inputs: i64, weight: Vec<f32>, bias: Vec<f32> },
}

impl Layer {
    fn describe(&self) -> String {
        match self {
            Layer::Conv { shape, .. } => format!("a {shape:?} convolution"),
            Layer::Dense { outputs, inputs, .. } => format!("a {inputs}→{outputs} fully-connected layer"),
        }
    }
}

/// The convolutions and fully-connected layers of an ONNX model, in node
/// order, with constant weights (8-bit ones dequantised).
fn model_layers(proto: &taxa_core::onnx_pb::ModelProto) -> Result<Vec<Layer>, String> {
    use taxa_core::graph_rewrite::{Rewrite, rewrite};
    let (proto, _) = rewrite(proto, [1, 3, 224, 224], &[Rewrite::FoldDequantize]);
    let graph = proto.graph.as_ref().ok_or("the model has no graph")?;
    let constant = |name: &str| -> Result<(Vec<i64>, Vec<f32>), String> {
        let tensor = graph.initializer.iter().find(|t| t.name == name).ok_or_else(|| format!("`{name}` is not a constant"))?;
        let values = taxa_core::onnx_graph::float_values(tensor).ok_or_else(|| format!("`{name}` is not float32 data"))?;
        Ok((tensor.dims.clone(), values))
    };
    let mut layers = Vec::new();
    for node in &graph.node {
        match node.op_type.as_str() {
            "Conv" => {
                let (shape, weight) = constant(node.input.get(1).ok_or("a Conv without weights")?)?;
                let bias = node.input.get(2).filter(|b| !b.is_empty()).map(|b| constant(b).map(|(_, v)| v)).transpose()?;
                layers.push(Layer::Conv { shape, weight, bias });
            }
            "Gemm" | "MatMul" => {
                let (shape, weight) = constant(node.input.get(1).ok_or("a Gemm without weights")?)?;
                let [a, b] = shape[..] else { return Err(format!("a fully-connected weight of shape {shape:?}")) };
                let trans_b = node.attribute.iter().any(|at| at.name == "transB" && at.i == 1);
                // Stored [outputs, inputs] with transB, else [inputs, outputs].
                let (outputs, inputs, weight) = if node.op_type == "Gemm" && trans_b {
                    (a, b, weight)
                } else {
                    let transposed = (0..b as usize).flat_map(|o| (0..a as usize).map(move |i| (o, i))).map(|(o, i)| weight[i * b as usize + o]).collect();
                    (b, a, transposed)
                };
                let bias = match node.input.get(2).filter(|b| !b.is_empty()) {
                    Some(name) => constant(name)?.1,
                    None => vec![0.0; outputs as usize],
                };
                layers.push(Layer::Dense { outputs, inputs, weight, bias });
            }
            _ => {}
        }
    }
    Ok(layers)
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
