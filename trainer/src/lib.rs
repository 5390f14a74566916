//! taxa-trainer: architectures in tch with torchvision-exact weights, ONNX
//! export written in Rust, and (with the training issue) the data pipeline
//! and training loop. The `taxa` CLI is the binary of this package.

pub mod checkpoint;
pub mod data;
pub mod toy_model;
pub mod experiment;
pub mod export;
pub mod models;
pub mod pth;
pub mod real_data;
pub mod synth;
pub mod train;
pub mod weights;
