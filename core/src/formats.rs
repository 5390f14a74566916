//! The image formats this build decodes: a leaf module, read by the decoder
//! and by the error messages alike.

/// The formats this build decodes: JPEG, PNG and WebP with the `decode`
/// feature (on by default); GIF, BMP and TIFF with taxa-core's features of
/// those names (on by default, off in the phone libraries); none without
/// `decode` (the web build, where the browser decodes photos).
pub const SUPPORTED_FORMATS: &[&str] = &[
    #[cfg(feature = "decode")]
    "JPEG",
    #[cfg(feature = "decode")]
    "PNG",
    #[cfg(feature = "decode")]
    "WebP",
    #[cfg(feature = "gif")]
    "GIF",
    #[cfg(feature = "bmp")]
    "BMP",
    #[cfg(feature = "tiff")]
    "TIFF",
];
