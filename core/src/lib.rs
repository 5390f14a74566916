//! taxa-core: offline species identification on the device.
//!
//! Load a model bundle once, then classify photos, files or camera frames
//! from any number of threads:
//!
//! ```no_run
//! use taxa_core::{Classifier, ClassifyOptions};
//! let classifier = Classifier::load("species.onnx")?;
//! let result = classifier.classify_file("frog.jpg", &ClassifyOptions::default())?;
//! for p in &result.predictions {
//!     println!("{:>5.1}%  {}", p.score * 100.0, p.label);
//! }
//! if let Some(taxon) = &result.rollup {
//!     println!("best confident taxon: {} {} ({:.2})", taxon.rank, taxon.name, taxon.score);
//! }
//! # Ok::<(), taxa_core::TaxaError>(())
//! ```

pub mod android_cpu;
pub mod atomic;
pub mod bundle;
pub mod camera;
pub mod classifier;
pub mod classify;
#[cfg(feature = "decode")]
pub mod decode;
pub mod error;
pub mod formats;
pub mod graph_rewrite;
pub mod kernels;
pub mod labels;
pub mod model_graph;
pub mod onnx_graph;
pub mod output;
pub mod panic;
pub mod pixels;
pub mod preprocess;
pub mod profile;
pub mod rollup;
pub mod smoothing;

pub use camera::{Rotation, Yuv420Frame, YuvPlane, YuvRange};
pub use bundle::{BundleMetadata, HigherRanks, OutputKind, Provenance, Rank, Taxonomy};
pub use classifier::Classifier;
pub use classify::{Classification, ClassifyOptions, Prediction};
#[cfg(feature = "decode")]
pub use decode::{DecodeLimits, DecodeOptions, DecodedImage, SizedImage, decode_image, decode_image_file, decode_image_sized, decode_image_with, image_format};
pub use error::{Result, TaxaError};
pub use pixels::{PixelBuffer, PixelFormat, PixelsRef};
pub use preprocess::PreprocessContract;
pub use rollup::{RolledUpTaxon, TaxonScore};
pub use smoothing::ScoreSmoother;
/// The protobuf types of ONNX, re-exported so users build models without a second prost.
pub use tract_onnx::pb as onnx_pb;
