//! The one error type of taxa-core. Every public function returns it; the
//! variants name the problem so callers (and the FFI layer) can react.

use std::path::PathBuf;

pub type Result<T, E = TaxaError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TaxaError {
    /// A file (model, labels, image) could not be read; `path` names it.
    /// The OS error is part of the message and deliberately not a `source`:
    /// error chains (`{:#}`) would print it twice.
    #[error("cannot read {}: {error}", path.display())]
    Io { path: PathBuf, error: std::io::Error },

    /// A bundle could not be written (a full disk, a read-only folder);
    /// nothing was left at `path` (atomic write). The OS error as in `Io`.
    #[error("cannot write {}: {error}", path.display())]
    Write { path: PathBuf, error: std::io::Error },

    /// The encoded image has 0 bytes.
    #[error("image is empty (0 bytes)")]
    EmptyImage,

    /// Not an image format this build decodes ([`crate::formats::SUPPORTED_FORMATS`]).
    #[error("unrecognised image format (supported: {})", crate::formats::SUPPORTED_FORMATS.join(", "))]
    UnsupportedImageFormat,

    /// Refused from the header, before any pixel is decoded. `width` and
    /// `height` are the header's (pixels); `limit` names the limit that tripped.
    #[error("image is {width}×{height} pixels, over the limit of {limit}")]
    ImageTooLarge { width: u64, height: u64, limit: String },

    /// The file ends before its data does (an interrupted download or copy).
    /// Refused unless the caller allows partial images.
    #[error("image is truncated: {detail}")]
    ImageTruncated { detail: String },

    /// A valid file using a feature no decoder here implements
    /// (e.g. arithmetic-coded or 12-bit JPEG).
    #[error("unsupported {format} feature: {feature}")]
    UnsupportedImageFeature { format: String, feature: String },

    /// The data is damaged, or a decoder failed on it.
    #[error("cannot decode image: {0}")]
    ImageDecode(String),

    /// Raw pixels or a camera frame do not fit their declared size: no
    /// pixels, a row stride shorter than a row, too few bytes, or a bad YUV
    /// plane (the message names it). Also a buffer the resizer refuses.
    #[error("invalid pixel buffer: {0}")]
    InvalidPixelBuffer(String),

    /// The model bytes are not an ONNX model: empty, not protobuf, or no graph.
    #[error("model is not a valid ONNX file: {0}")]
    ModelDecode(String),

    /// A valid ONNX file taxa cannot run: not exactly one float32/float16
    /// RGB image input, external weights missing (or the model given as
    /// bytes), an output that is not `[1, classes]` floats, or tract failed
    /// to plan it. Also a panic inside tract, while loading or running.
    #[error("model cannot be prepared for inference: {0}")]
    ModelLoad(String),

    /// A `taxa.*` metadata value (`key`) is missing, not valid JSON for its
    /// type, of an unsupported format version, or inconsistent (no labels,
    /// a taxonomy count that differs from the labels, an invalid contract).
    #[error("bundle metadata `{key}` is invalid: {message}")]
    BundleMetadata { key: String, message: String },

    /// A labels file is not UTF-8 or holds no label, or a plain ONNX file
    /// came without labels.
    #[error("labels: {0}")]
    Labels(String),

    /// The model's output size differs from the number of labels.
    #[error("model outputs {outputs} classes but {labels} labels were given")]
    LabelCountMismatch { outputs: usize, labels: usize },

    /// Running the model failed: an input whose length is not the product
    /// of the input shape, an error from tract, non-finite scores, or a score
    /// count that differs from the class count.
    #[error("inference failed: {0}")]
    Inference(String),

    /// A caller's setting is out of range: [`crate::ClassifyOptions::validate`]'s
    /// cases, a smoothing window of 0, a rotation
    /// [`Rotation::from_degrees`](crate::Rotation::from_degrees) refuses.
    #[error("invalid options: {0}")]
    InvalidOptions(String),

    /// A [`crate::ScoreSmoother`] holding frames of `expected` classes was
    /// given `got` scores (another model's frame); `reset()` it first.
    #[error("the score smoother holds frames of {expected} classes but was given {got} scores; reset it when the model changes")]
    ScoreCountMismatch { expected: usize, got: usize },
}

impl TaxaError {
    /// A stable snake_case name for the variant, for JSON and foreign callers.
    pub fn kind(&self) -> &'static str {
        match self {
            TaxaError::Io { .. } | TaxaError::Write { .. } => "io",
            TaxaError::EmptyImage => "empty_image",
            TaxaError::UnsupportedImageFormat => "unsupported_image_format",
            TaxaError::ImageTooLarge { .. } => "image_too_large",
            TaxaError::ImageTruncated { .. } => "image_truncated",
            TaxaError::UnsupportedImageFeature { .. } => "unsupported_image_feature",
            TaxaError::ImageDecode(_) => "image_decode",
            TaxaError::InvalidPixelBuffer(_) => "invalid_pixel_buffer",
            TaxaError::ModelDecode(_) => "model_decode",
            TaxaError::ModelLoad(_) => "model_load",
            TaxaError::BundleMetadata { .. } => "bundle_metadata",
            TaxaError::Labels(_) => "labels",
            TaxaError::LabelCountMismatch { .. } => "label_count_mismatch",
            TaxaError::Inference(_) => "inference",
            TaxaError::InvalidOptions(_) => "invalid_options",
            TaxaError::ScoreCountMismatch { .. } => "score_count_mismatch",
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        TaxaError::Io { path: path.into(), error }
    }

    pub(crate) fn metadata(key: &str, message: impl ToString) -> Self {
        TaxaError::BundleMetadata { key: key.to_string(), message: message.to_string() }
    }
}
