//! The one error type of taxa-core. Every public function returns it; the
//! variants name the problem so callers (and the FFI layer) can react.

use std::path::PathBuf;

pub type Result<T, E = TaxaError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TaxaError {
    #[error("cannot read {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },

    #[error("image is empty (0 bytes)")]
    EmptyImage,

    #[error("unrecognised image format (supported: JPEG, PNG, WebP, GIF, BMP, TIFF)")]
    UnsupportedImageFormat,

    #[error("image is {width}×{height} pixels, over the limit of {limit}")]
    ImageTooLarge { width: u64, height: u64, limit: String },

    #[error("corrupt or truncated image: {0}")]
    ImageDecode(String),

    #[error("invalid pixel buffer: {0}")]
    InvalidPixelBuffer(String),

    #[error("model is not a valid ONNX file: {0}")]
    ModelDecode(String),

    #[error("model cannot be prepared for inference: {0}")]
    ModelLoad(String),

    #[error("bundle metadata `{key}` is invalid: {message}")]
    BundleMetadata { key: String, message: String },

    #[error("labels: {0}")]
    Labels(String),

    #[error("model outputs {outputs} classes but {labels} labels were given")]
    LabelCountMismatch { outputs: usize, labels: usize },

    #[error("inference failed: {0}")]
    Inference(String),

    #[error("invalid options: {0}")]
    InvalidOptions(String),
}

impl TaxaError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TaxaError::Io { path: path.into(), source }
    }

    pub(crate) fn metadata(key: &str, message: impl ToString) -> Self {
        TaxaError::BundleMetadata { key: key.to_string(), message: message.to_string() }
    }
}
