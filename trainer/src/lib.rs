//! taxa-trainer: architectures in tch with torchvision-exact weights, ONNX
//! export written in Rust, the data pipeline and training loop, and the
//! `taxa` CLI (the binary of this package).
//!
//! Everything that needs libtorch (tch) sits behind the default `train`
//! feature; without it the crate keeps the data loaders, the synthetic and
//! toy datasets and the architecture specs, and `taxa` keeps its inference
//! commands.

#[cfg(feature = "train")]
pub mod checkpoint;
pub mod data;
#[cfg(feature = "train")]
pub mod experiment;
#[cfg(feature = "train")]
pub mod export;
pub mod models;
#[cfg(feature = "train")]
pub mod pth;
pub mod real_data;
pub mod synth;
pub mod toy_model;
#[cfg(feature = "train")]
pub mod train;
#[cfg(feature = "train")]
pub mod weights;
