//! A small builder for ONNX graphs over `tract_onnx::pb`. The trainer's
//! exporter and the tests build models with it; nothing here runs a model.

use tract_onnx::pb::{
    self, AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto,
    TypeProto, ValueInfoProto, attribute_proto::AttributeType, tensor_proto::DataType,
    tensor_shape_proto::{Dimension, dimension},
};

/// The opset written by taxa (ONNX ≥ 13 semantics for Reshape, Softmax…).
pub const OPSET: i64 = 17;
/// IR version 8 matches opset 17.
pub const IR_VERSION: i64 = 8;

/// A tensor dimension in a graph input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    Fixed(i64),
    /// A named, dynamic dimension such as `"batch"`.
    Symbolic(String),
}

impl From<i64> for Dim {
    fn from(v: i64) -> Self {
        Dim::Fixed(v)
    }
}

impl From<&str> for Dim {
    fn from(v: &str) -> Self {
        Dim::Symbolic(v.to_string())
    }
}

/// Builds a graph node by node; names of intermediate values are generated.
#[derive(Debug, Default)]
pub struct GraphBuilder {
    graph: GraphProto,
    next_id: usize,
}

impl GraphBuilder {
    pub fn new(name: &str) -> Self {
        GraphBuilder { graph: GraphProto { name: name.to_string(), ..Default::default() }, next_id: 0 }
    }

    /// Declares a float32 graph input.
    pub fn input(&mut self, name: &str, dims: &[Dim]) -> String {
        self.input_typed(name, dims, DataType::Float)
    }

    /// Declares a graph input of another element type (`Uint8` for a model
    /// that takes the 8-bit pixels).
    pub fn input_typed(&mut self, name: &str, dims: &[Dim], element_type: DataType) -> String {
        let mut info = value_info(name, dims);
        if let Some(pb::type_proto::Value::TensorType(tensor)) = info.r#type.as_mut().and_then(|t| t.value.as_mut()) {
            tensor.elem_type = element_type as i32;
        }
        self.graph.input.push(info);
        name.to_string()
    }

    /// Declares a float32 graph output.
    pub fn output(&mut self, name: &str, dims: &[Dim]) {
        self.graph.output.push(value_info(name, dims));
    }

    /// Adds a float32 constant, stored as raw little-endian bytes.
    pub fn initializer(&mut self, name: &str, dims: &[i64], values: &[f32]) -> String {
        debug_assert_eq!(dims.iter().product::<i64>() as usize, values.len(), "{name}");
        self.graph.initializer.push(TensorProto {
            name: name.to_string(),
            dims: dims.to_vec(),
            data_type: DataType::Float as i32,
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Default::default()
        });
        name.to_string()
    }

    /// [`initializer`](Self::initializer) for a constant its name
    /// determines (e.g. `clip_max_6`): added on first use, named again
    /// after, as ONNX names each value once.
    pub fn shared_initializer(&mut self, name: &str, dims: &[i64], values: &[f32]) -> String {
        if self.graph.initializer.iter().any(|t| t.name == name) {
            return name.to_string();
        }
        self.initializer(name, dims, values)
    }

    /// Adds a constant of any element type from its raw little-endian bytes
    /// (quantised weights: `Uint8`, `Int8`; `raw` holds one element a byte).
    pub fn initializer_raw(&mut self, name: &str, dims: &[i64], element_type: DataType, raw: Vec<u8>) -> String {
        self.graph.initializer.push(TensorProto {
            name: name.to_string(),
            dims: dims.to_vec(),
            data_type: element_type as i32,
            raw_data: raw,
            ..Default::default()
        });
        name.to_string()
    }

    /// Adds an int64 constant (shapes, axes).
    pub fn initializer_i64(&mut self, name: &str, dims: &[i64], values: &[i64]) -> String {
        self.graph.initializer.push(TensorProto {
            name: name.to_string(),
            dims: dims.to_vec(),
            data_type: DataType::Int64 as i32,
            int64_data: values.to_vec(),
            ..Default::default()
        });
        name.to_string()
    }

    /// Adds a node with one output and returns that output's name.
    pub fn node(&mut self, op_type: &str, inputs: &[&str], attributes: Vec<AttributeProto>) -> String {
        self.next_id += 1;
        let output = format!("{}_{}", op_type.to_lowercase(), self.next_id);
        self.node_named(op_type, inputs, &output, attributes);
        output
    }

    /// Adds a node whose single output gets the given name.
    pub fn node_named(&mut self, op_type: &str, inputs: &[&str], output: &str, attributes: Vec<AttributeProto>) {
        self.graph.node.push(NodeProto {
            name: format!("{op_type}_{}", self.graph.node.len()),
            op_type: op_type.to_string(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.to_string()],
            attribute: attributes,
            ..Default::default()
        });
    }

    pub fn build(self) -> ModelProto {
        ModelProto {
            ir_version: IR_VERSION,
            opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET }],
            producer_name: "taxa".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            graph: Some(self.graph),
            ..Default::default()
        }
    }
}

fn value_info(name: &str, dims: &[Dim]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Dim::Fixed(v) => dimension::Value::DimValue(*v),
                Dim::Symbolic(s) => dimension::Value::DimParam(s.clone()),
            }),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: DataType::Float as i32,
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A float32 initializer's values, from raw or typed storage; `None` for
/// another type or external data.
pub fn float_values(tensor: &TensorProto) -> Option<Vec<f32>> {
    if tensor.data_type != DataType::Float as i32 || tensor.data_location == Some(1) {
        return None;
    }
    if !tensor.raw_data.is_empty() {
        return Some(tensor.raw_data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect());
    }
    Some(tensor.float_data.clone())
}

pub fn attr_int(name: &str, value: i64) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Int as i32, i: value, ..Default::default() }
}

pub fn attr_ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Ints as i32, ints: values.to_vec(), ..Default::default() }
}

pub fn attr_float(name: &str, value: f32) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Float as i32, f: value, ..Default::default() }
}
