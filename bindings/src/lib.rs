//! taxa-ffi: the mobile and scripting face of taxa-core.
//!
//! - [`api`]: one UniFFI interface (proc-macros) from which Swift, Kotlin and
//!   Python bindings are generated (`uniffi-bindgen generate --library`).
//! - [`jni_bridge`]: a thin hand-written JNI layer for the Android/Java API in
//!   `android/`, calling the same `api` functions.
//!
//! The bridges are thin and are not API: the logic lives in taxa-core. Panics
//! never cross the boundary: UniFFI and jni-rs catch them, and `api` turns
//! them into `TaxaFfiError::Internal` first.

uniffi::setup_scaffolding!();

pub mod api;
mod jni_bridge;

pub use api::*;
