//! taxa-trainer: architectures in tch with torchvision-exact weights, ONNX
//! export written in Rust, the data pipeline and training loop, and the
//! `taxa` CLI (the binary of this package).
//!
//! Everything that needs libtorch (tch) sits behind the default `train`
//! feature; without it the crate keeps the data loaders, the synthetic and
//! toy datasets and the architecture specs, and `taxa` keeps its inference
//! commands.

/// Declares `pub mod`s that need libtorch: each is compiled only with the
/// `train` feature. Also used by the `taxa` binary's `cli` module.
#[macro_export]
macro_rules! train_modules {
    ($($name:ident),* $(,)?) => {
        $(#[cfg(feature = "train")] pub mod $name;)*
    };
}

pub mod data;
pub mod import;
pub mod json_paths;
pub mod models;
pub mod real_data;
pub mod synth;
pub mod toy_model;
train_modules!(checkpoint, experiment, export, pth, train, weights);
