//! What an ONNX file declares about itself, read from the graph before tract
//! sees it: the image input's layout, size and element type, whether the
//! output is already a probability vector, and which external data files it
//! needs. A plain ONNX file gets its contract from these; a bundle's explicit
//! metadata wins over them.

use std::path::{Component, Path};

use tract_onnx::pb::{
    GraphProto, ModelProto, TensorProto, ValueInfoProto, tensor_proto::{DataLocation, DataType},
    tensor_shape_proto::dimension, type_proto,
};

use crate::output::OutputKind;
use crate::error::{Result, TaxaError};
use crate::preprocess::{Layout, PreprocessContract};

/// The size taken for a symbolic height or width (pixels).
pub const DEFAULT_INPUT_SIZE: u32 = 224;

/// One dimension of the declared input shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeclaredDim {
    Fixed(i64),
    /// A named or unnamed dynamic dimension.
    Symbolic(String),
}

impl std::fmt::Display for DeclaredDim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeclaredDim::Fixed(v) => write!(f, "{v}"),
            DeclaredDim::Symbolic(name) if name.is_empty() => f.write_str("?"),
            DeclaredDim::Symbolic(name) => f.write_str(name),
        }
    }
}

/// The element types an image input may have; others are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElementType {
    Float32,
    /// Fed by casting the float32 tensor at the boundary.
    Float16,
    /// The 8-bit pixels themselves: the graph normalises
    /// ([`crate::preprocess::InputType::Uint8`]).
    Uint8,
}

/// The graph's image input as declared in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct DeclaredInput {
    pub name: String,
    pub dims: Vec<DeclaredDim>,
    pub element_type: ElementType,
}

impl DeclaredInput {
    /// `[1,3,224,224]`-style text for messages.
    pub fn shape_text(&self) -> String {
        shape_text(&self.dims)
    }

    /// The layout the shape declares: `[N,3,H,W]` is NCHW, `[N,H,W,3]` NHWC.
    pub fn layout(&self) -> Result<Layout> {
        let three = |d: &DeclaredDim| *d == DeclaredDim::Fixed(3);
        match self.dims.as_slice() {
            [_, c, _, _] if three(c) => Ok(Layout::Nchw),
            [_, _, _, c] if three(c) => Ok(Layout::Nhwc),
            _ => Err(self.refusal("taxa needs an RGB image input, [N,3,H,W] (channels first) or [N,H,W,3] (channels last)")),
        }
    }

    /// The (width, height) the model declares; symbolic sides are 224.
    pub fn spatial_size(&self) -> Result<(u32, u32)> {
        let (h, w) = match self.layout()? {
            Layout::Nchw => (&self.dims[2], &self.dims[3]),
            Layout::Nhwc => (&self.dims[1], &self.dims[2]),
        };
        let side = |d: &DeclaredDim| match d {
            DeclaredDim::Fixed(v) if (1..=8192).contains(v) => Ok(*v as u32),
            DeclaredDim::Fixed(_) => Err(self.refusal("its height and width must be 1 to 8192 pixels")),
            DeclaredDim::Symbolic(_) => Ok(DEFAULT_INPUT_SIZE),
        };
        if let DeclaredDim::Fixed(batch) = &self.dims[0]
            && *batch != 1
        {
            return Err(self.refusal("taxa runs one image at a time, so the batch dimension must be 1 or dynamic"));
        }
        Ok((side(w)?, side(h)?))
    }

    /// The ImageNet recipe at the declared size and layout: resize the
    /// shorter side to size × 256/224, centre crop, ImageNet mean and std.
    pub fn imagenet_contract(&self) -> Result<PreprocessContract> {
        let (width, height) = self.spatial_size()?;
        let mut contract = PreprocessContract::imagenet_sized(width.max(height));
        contract.crop = crate::preprocess::Crop::Center { width, height };
        contract.layout = self.layout()?;
        Ok(contract)
    }

    /// The contract taxa assumes for a plain file: the ImageNet recipe
    /// ([`imagenet_contract`](Self::imagenet_contract)) for a float input;
    /// for a uint8 input, the same resize and crop feeding the 8-bit pixels
    /// unnormalised (the graph normalises them itself).
    pub fn assumed_contract(&self) -> Result<PreprocessContract> {
        let contract = self.imagenet_contract()?;
        Ok(match self.element_type {
            ElementType::Uint8 => PreprocessContract::raw_pixels(contract),
            ElementType::Float32 | ElementType::Float16 => contract,
        })
    }

    fn refusal(&self, why: &str) -> TaxaError {
        TaxaError::ModelLoad(format!("model input `{}` is {}: {why}", self.name, self.shape_text()))
    }
}

fn shape_text(dims: &[DeclaredDim]) -> String {
    format!("[{}]", dims.iter().map(ToString::to_string).collect::<Vec<_>>().join(","))
}

/// Reads the one graph input that is not an initializer.
pub fn declared_input(model: &ModelProto) -> Result<DeclaredInput> {
    let graph = graph(model)?;
    let inputs: Vec<&ValueInfoProto> =
        graph.input.iter().filter(|i| !graph.initializer.iter().any(|t| t.name == i.name)).collect();
    let [input] = inputs.as_slice() else {
        let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
        return Err(TaxaError::ModelLoad(format!(
            "the model has {} inputs ({}); taxa needs exactly one image input",
            inputs.len(),
            names.join(", ")
        )));
    };
    let Some(type_proto::Value::TensorType(tensor)) = input.r#type.as_ref().and_then(|t| t.value.as_ref()) else {
        return Err(TaxaError::ModelLoad(format!("model input `{}` is not a tensor", input.name)));
    };
    let dims: Vec<DeclaredDim> = tensor
        .shape
        .as_ref()
        .map(|shape| {
            shape
                .dim
                .iter()
                .map(|d| match &d.value {
                    Some(dimension::Value::DimValue(v)) => DeclaredDim::Fixed(*v),
                    Some(dimension::Value::DimParam(name)) => DeclaredDim::Symbolic(name.clone()),
                    None => DeclaredDim::Symbolic(String::new()),
                })
                .collect()
        })
        .unwrap_or_default();
    let element_type = match DataType::try_from(tensor.elem_type) {
        Ok(DataType::Float) => ElementType::Float32,
        Ok(DataType::Float16) => ElementType::Float16,
        Ok(DataType::Uint8) => ElementType::Uint8,
        other => {
            let name = other.map(|t| t.as_str_name()).unwrap_or("an unknown type");
            return Err(TaxaError::ModelLoad(format!(
                "model input `{}` is {name} {}; taxa feeds FLOAT, FLOAT16 or UINT8 images",
                input.name,
                shape_text(&dims)
            )));
        }
    };
    Ok(DeclaredInput { name: input.name.clone(), dims, element_type })
}

/// Ops that pass probabilities through as probabilities: shape and layout
/// only (`torch.softmax(x, dim=1)` on a `[1,C,1,1]` output exports at opsets
/// 11–12 as Transpose → Softmax → Transpose), and the 8-bit round trip a
/// quantizer puts after a Softmax.
const SHAPE_ONLY_OPS: [&str; 8] =
    ["Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "QuantizeLinear", "DequantizeLinear"];

/// Whether the first output comes from a `Softmax` or a `Sigmoid` through
/// shape- and layout-only ops: then it is already probabilities, and a
/// second softmax would flatten them. A `Sigmoid` head's scores are each
/// class's own probability (they need not sum to 1): taxa shows them as the
/// model gives them, and the roll-up sums them like any scores, so a genus
/// can reach its threshold on several species' independent evidence. A
/// `LogSoftmax` ending stays `Logits`: softmax of log-probabilities gives the
/// probabilities back.
pub fn declared_output_kind(model: &ModelProto) -> OutputKind {
    let Ok(graph) = graph(model) else { return OutputKind::Logits };
    let Some(mut value) = graph.output.first().map(|o| o.name.as_str()) else { return OutputKind::Logits };
    // Bounded: a malformed graph may loop.
    for _ in 0..graph.node.len() {
        let Some(node) = graph.node.iter().find(|n| n.output.iter().any(|o| o == value)) else { break };
        match node.op_type.as_str() {
            "Softmax" | "Sigmoid" => return OutputKind::Probabilities,
            op if SHAPE_ONLY_OPS.contains(&op) => match node.input.first() {
                Some(input) => value = input,
                None => break,
            },
            _ => break,
        }
    }
    OutputKind::Logits
}

/// Drops the `value_info` shapes that carry a symbolic dimension. taxa runs a
/// model at one fixed input shape, and tract would try to unify a recorded
/// `N` with that shape's 1 and refuse the model ("Impossible to unify Sym(N)
/// with Val(1)"); `onnx.shape_inference` and onnxruntime's quantizers write
/// such shapes into every model they touch. Fixed shapes stay: they are
/// checks tract can still make. Returns how many were dropped.
pub fn drop_symbolic_value_info(model: &mut ModelProto) -> usize {
    let Some(graph) = model.graph.as_mut() else { return 0 };
    let before = graph.value_info.len();
    graph.value_info.retain(|info| !has_symbolic_dim(info));
    before - graph.value_info.len()
}

/// Whether a recorded shape has a dimension that is not a fixed number.
pub(crate) fn has_symbolic_dim(info: &ValueInfoProto) -> bool {
    let Some(type_proto::Value::TensorType(tensor)) = info.r#type.as_ref().and_then(|t| t.value.as_ref()) else { return false };
    tensor.shape.as_ref().is_some_and(|shape| shape.dim.iter().any(|d| !matches!(d.value, Some(dimension::Value::DimValue(_)))))
}

/// The external data files the initializers name (ONNX external data:
/// `location` relative to the model's folder), in order, without repeats.
pub fn external_data_files(model: &ModelProto) -> Vec<String> {
    let mut files: Vec<String> = Vec::new();
    if let Ok(graph) = graph(model) {
        for tensor in &graph.initializer {
            if let Some(location) = external_location(tensor)
                && !files.contains(&location)
            {
                files.push(location);
            }
        }
    }
    files
}

fn external_location(tensor: &TensorProto) -> Option<String> {
    if tensor.data_location != Some(DataLocation::External as i32) {
        return None;
    }
    let location = tensor.external_data.iter().find(|e| e.key == "location").map(|e| e.value.clone());
    Some(location.unwrap_or_default())
}

/// Checks that every external data file lies inside `model_dir` and exists;
/// with no folder (a model given as bytes), says how to inline the weights.
pub fn check_external_data(model: &ModelProto, model_dir: Option<&Path>) -> Result<()> {
    let files = external_data_files(model);
    let Some(first) = files.first() else { return Ok(()) };
    let Some(dir) = model_dir else {
        return Err(TaxaError::ModelLoad(format!(
            "the model keeps its weights in an external file (`{first}`), which cannot be read when the model \
             is given as bytes; load it from its path, or inline the weights: in Python, \
             `onnx.save(onnx.load(\"model.onnx\"), \"inline.onnx\")`"
        )));
    };
    for location in &files {
        let relative = Path::new(location);
        let escapes = location.is_empty()
            || relative.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
        if escapes {
            return Err(TaxaError::ModelLoad(format!(
                "external data location `{location}` must be a relative path inside the model's folder"
            )));
        }
        let path = dir.join(relative);
        if !path.is_file() {
            return Err(TaxaError::ModelLoad(format!(
                "the model keeps its weights in `{}`, which does not exist; keep that file beside the model, \
                 or inline the weights with `onnx.save(onnx.load(path), new_path)`",
                path.display()
            )));
        }
    }
    Ok(())
}

fn graph(model: &ModelProto) -> Result<&GraphProto> {
    model.graph.as_ref().ok_or_else(|| TaxaError::ModelDecode("no graph in the model".into()))
}

/// The operators of `proto`'s graph (and its subgraphs) that `known` does not
/// know, as "domain Name (n nodes)" (the standard domain unnamed), sorted.
pub fn unsupported_operators(proto: &ModelProto, known: impl Fn(&str) -> bool) -> Vec<String> {
    fn walk(graph: &GraphProto, known: &dyn Fn(&str) -> bool, found: &mut std::collections::BTreeMap<String, usize>) {
        for node in &graph.node {
            if !known(&node.op_type) {
                let domain = if node.domain.is_empty() || node.domain == "ai.onnx" { String::new() } else { format!("{} ", node.domain) };
                *found.entry(format!("{domain}{}", node.op_type)).or_default() += 1;
            }
            for attribute in &node.attribute {
                for sub in attribute.g.iter().chain(&attribute.graphs) {
                    walk(sub, known, found);
                }
            }
        }
    }
    let mut found = std::collections::BTreeMap::new();
    if let Some(graph) = &proto.graph {
        walk(graph, &known, &mut found);
    }
    found.into_iter().map(|(op, n)| format!("{op} ({n} node{})", if n == 1 { "" } else { "s" })).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(dims: &[DeclaredDim]) -> DeclaredInput {
        DeclaredInput { name: "x".into(), dims: dims.to_vec(), element_type: ElementType::Float32 }
    }

    use DeclaredDim::{Fixed, Symbolic};

    #[test]
    fn layout_and_size_come_from_the_declared_shape() {
        let nchw = input(&[Fixed(1), Fixed(3), Fixed(299), Fixed(299)]);
        assert_eq!(nchw.layout().unwrap(), Layout::Nchw);
        let contract = nchw.imagenet_contract().unwrap();
        assert_eq!(contract.input_shape().unwrap(), [1, 3, 299, 299]);
        assert_eq!(contract.resize, crate::preprocess::Resize::ShorterSide { size: 342 });

        let nhwc = input(&[Symbolic("N".into()), Fixed(224), Fixed(224), Fixed(3)]);
        assert_eq!(nhwc.imagenet_contract().unwrap().input_shape().unwrap(), [1, 224, 224, 3]);

        let dynamic = input(&[Symbolic("batch".into()), Fixed(3), Symbolic("H".into()), Symbolic("W".into())]);
        assert_eq!(dynamic.spatial_size().unwrap(), (224, 224));

        let oblong = input(&[Fixed(1), Fixed(3), Fixed(160), Fixed(320)]);
        let contract = oblong.imagenet_contract().unwrap();
        assert_eq!(contract.input_shape().unwrap(), [1, 3, 160, 320]);
        contract.validate().unwrap();
    }

    #[test]
    fn other_shapes_are_refused_with_the_shape_in_the_message() {
        for dims in [
            vec![Fixed(1), Fixed(1), Fixed(28), Fixed(28)],
            vec![Fixed(1), Fixed(4), Fixed(8), Fixed(8)],
            vec![Fixed(1), Fixed(150528)],
            vec![Fixed(8), Fixed(3), Fixed(224), Fixed(224)],
        ] {
            let text = input(&dims).imagenet_contract().unwrap_err().to_string();
            assert!(text.contains(&shape_text(&dims)), "{text}");
        }
    }
}
