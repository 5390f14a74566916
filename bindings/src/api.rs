//! The UniFFI interface: records, a flat error, and the `Classifier` object.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

use taxa_core::{PixelBuffer, TaxaError};

/// A small, flat error for foreign callers; each message keeps the cause.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum TaxaFfiError {
    /// The image could not be decoded (corrupt, truncated, unsupported, too large).
    #[error("{message}")]
    InvalidImage { message: String },
    /// The model or its labels could not be loaded.
    #[error("{message}")]
    InvalidModel { message: String },
    /// Bad arguments: options, pixel buffer sizes.
    #[error("{message}")]
    InvalidArgument { message: String },
    /// A file could not be read.
    #[error("{message}")]
    Io { message: String },
    /// A bug in taxa (a caught panic or an inference failure).
    #[error("{message}")]
    Internal { message: String },
}

impl From<TaxaError> for TaxaFfiError {
    fn from(e: TaxaError) -> Self {
        let message = e.to_string();
        match e {
            TaxaError::EmptyImage
            | TaxaError::UnsupportedImageFormat
            | TaxaError::ImageTooLarge { .. }
            | TaxaError::ImageTruncated { .. }
            | TaxaError::UnsupportedImageFeature { .. }
            | TaxaError::ImageDecode(_) => TaxaFfiError::InvalidImage { message },
            TaxaError::ModelDecode(_)
            | TaxaError::ModelLoad(_)
            | TaxaError::BundleMetadata { .. }
            | TaxaError::Labels(_)
            | TaxaError::LabelCountMismatch { .. } => TaxaFfiError::InvalidModel { message },
            TaxaError::InvalidPixelBuffer(_) | TaxaError::InvalidOptions(_) | TaxaError::ScoreCountMismatch { .. } => {
                TaxaFfiError::InvalidArgument { message }
            }
            TaxaError::Io { .. } | TaxaError::Write { .. } => TaxaFfiError::Io { message },
            _ => TaxaFfiError::Internal { message },
        }
    }
}

/// Runs `f`, turning a panic into `Internal` so no foreign caller ever sees one.
fn guarded<T>(f: impl FnOnce() -> Result<T, TaxaFfiError>) -> Result<T, TaxaFfiError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        Err(TaxaFfiError::Internal { message: format!("internal error: {}", taxa_core::panic::panic_message(panic.as_ref())) })
    })
}

/// Byte layout of one pixel in a raw buffer. Alpha is ignored, not
/// composited onto a background.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum PixelFormat {
    /// 3 bytes a pixel: red, green, blue.
    Rgb8,
    /// 4 bytes a pixel: red, green, blue, alpha.
    Rgba8,
    /// 4 bytes a pixel: blue, green, red, alpha. Also Android's
    /// `Bitmap.getPixels` ARGB ints in little-endian memory.
    Bgra8,
}

impl From<PixelFormat> for taxa_core::PixelFormat {
    fn from(f: PixelFormat) -> Self {
        match f {
            PixelFormat::Rgb8 => taxa_core::PixelFormat::Rgb8,
            PixelFormat::Rgba8 => taxa_core::PixelFormat::Rgba8,
            PixelFormat::Bgra8 => taxa_core::PixelFormat::Bgra8,
        }
    }
}

/// The value range of a YUV frame; both use the BT.601 matrix. Android's
/// camera `YUV_420_888` is JFIF, i.e. `Full`; iOS
/// `kCVPixelFormatType_420YpCbCr8BiPlanarFullRange` is `Full` and
/// `...BiPlanarVideoRange` is `Video` (Y 16–235, Cb/Cr 16–240).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum YuvRange {
    Full,
    Video,
}

impl From<YuvRange> for taxa_core::YuvRange {
    fn from(r: YuvRange) -> Self {
        match r {
            YuvRange::Full => taxa_core::YuvRange::Full,
            YuvRange::Video => taxa_core::YuvRange::Video,
        }
    }
}

/// One plane of a YUV 4:2:0 frame, as Android's `Image.Plane` gives it:
/// sample (x, y) is at `data[y * row_stride + x * pixel_stride]` (bytes).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct YuvPlane {
    /// The plane's bytes, from its first sample.
    pub data: Vec<u8>,
    /// Bytes from the start of one row to the next (`Image.Plane.getRowStride()`).
    pub row_stride: u32,
    /// Bytes from one sample to the next in a row: 1 for a planar plane, 2
    /// for interleaved chroma (`Image.Plane.getPixelStride()`). Not 0.
    pub pixel_stride: u32,
}

impl YuvPlane {
    fn as_core(&self) -> taxa_core::YuvPlane<'_> {
        taxa_core::YuvPlane { data: &self.data, row_stride: self.row_stride as usize, pixel_stride: self.pixel_stride as usize }
    }
}

/// Which chroma sample comes first in an interleaved (bi-planar) chroma plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ChromaOrder {
    /// NV12: Cb then Cr. iOS `kCVPixelFormatType_420YpCbCr8BiPlanar*`.
    CbCr,
    /// NV21: Cr then Cb. Android's legacy `Camera` preview.
    CrCb,
}

/// A running mean of the last `window` frames' class probabilities, as
/// iNaturalist's camera keeps over 5 frames. Pass it to a classify call and
/// the top-k and roll-up come from the smoothed scores, so the answer stops
/// flickering. One smoother per camera stream; thread-safe.
#[derive(Debug, uniffi::Object)]
pub struct ScoreSmoother {
    inner: Mutex<taxa_core::ScoreSmoother>,
}

#[uniffi::export]
impl ScoreSmoother {
    /// A smoother over the last `window` frames (at least 1; iNaturalist uses 5).
    #[uniffi::constructor]
    pub fn new(window: u32) -> Result<Arc<Self>, TaxaFfiError> {
        guarded(|| Ok(Arc::new(ScoreSmoother { inner: Mutex::new(taxa_core::ScoreSmoother::new(window as usize)?) })))
    }

    /// Forgets every frame (a new subject, or another model).
    pub fn reset(&self) {
        self.lock().reset();
    }

    /// The window size, in frames.
    pub fn window(&self) -> u32 {
        self.lock().window() as u32
    }

    /// How many frames the mean is over now (at most `window`).
    pub fn frames(&self) -> u32 {
        self.lock().len() as u32
    }
}

impl ScoreSmoother {
    /// The smoother itself; a panic while it was held leaves plain data, so a poisoned lock is taken over.
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, taxa_core::ScoreSmoother> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What to return; the defaults are taxa-core's.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ClassifyOptions {
    /// How many predictions to return at most, best first. At least 1 (0 is
    /// `InvalidArgument`). Fewer come back after `min_score`, `allow` and `deny`.
    #[uniffi(default = 5)]
    pub top_k: u32,
    /// Drop predictions whose probability is below this. From 0 to 1, else
    /// `InvalidArgument`.
    #[uniffi(default = 0.0)]
    pub min_score: f32,
    /// Labels or higher taxa to restrict to (empty: all). Whole names,
    /// ASCII case-insensitive.
    #[uniffi(default = [])]
    pub allow: Vec<String>,
    /// Labels or higher taxa to ignore. Whole names, ASCII case-insensitive;
    /// wins over `allow`.
    #[uniffi(default = [])]
    pub deny: Vec<String>,
    /// The summed probability a taxon needs for the roll-up to descend into
    /// it. Above 0 and at most 1, else `InvalidArgument`.
    #[uniffi(default = 0.8)]
    pub rollup_threshold: f32,
    /// Classify what decodes of a file cut short instead of refusing it
    /// (the result is then marked `truncated`).
    #[uniffi(default = false)]
    pub allow_truncated: bool,
}

impl Default for ClassifyOptions {
    fn default() -> Self {
        let core = taxa_core::ClassifyOptions::default();
        ClassifyOptions {
            top_k: core.top_k as u32,
            min_score: core.min_score,
            allow: core.allow,
            deny: core.deny,
            rollup_threshold: core.rollup_threshold,
            allow_truncated: core.allow_truncated,
        }
    }
}

impl From<ClassifyOptions> for taxa_core::ClassifyOptions {
    fn from(o: ClassifyOptions) -> Self {
        taxa_core::ClassifyOptions {
            top_k: o.top_k as usize,
            min_score: o.min_score,
            allow: o.allow,
            deny: o.deny,
            rollup_threshold: o.rollup_threshold,
            allow_truncated: o.allow_truncated,
        }
    }
}

/// Where a class sits in the tree of life (iNaturalist category fields).
/// Higher ranks are null when the model does not know them.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Taxon {
    pub kingdom: Option<String>,
    pub phylum: Option<String>,
    /// The class rank: taxa-core's `class`, renamed because `class` is a
    /// keyword in Swift, Kotlin and Python.
    pub class_name: Option<String>,
    pub order: Option<String>,
    pub family: Option<String>,
    pub genus: Option<String>,
    /// The species (scientific) name; the label when the model has no taxonomy.
    pub species: String,
    /// The vernacular name, when the model has one.
    pub common_name: Option<String>,
}

impl From<taxa_core::Taxonomy> for Taxon {
    fn from(t: taxa_core::Taxonomy) -> Self {
        let r = t.ranks;
        Taxon {
            kingdom: r.kingdom,
            phylum: r.phylum,
            class_name: r.class,
            order: r.order,
            family: r.family,
            genus: r.genus,
            species: t.species,
            common_name: t.common_name,
        }
    }
}

/// One class and its score.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Prediction {
    /// The class's index in the model output, and in `ModelInfo.labels`.
    pub class_index: u32,
    pub label: String,
    /// Probability from 0 to 1 over all the model's classes (softmax). Not
    /// renormalised after `allow` and `deny`. With a smoother, the mean over
    /// its frames.
    pub score: f32,
    /// Only `species` (the label) is set when the model has no taxonomy.
    pub taxon: Taxon,
    /// False for a class that is not a taxon (iNaturalist's `background`):
    /// as the best prediction it means "no species recognised".
    pub is_taxon: bool,
}

/// One taxon of a roll-up's lineage.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct TaxonScore {
    /// `kingdom`, `phylum`, `class`, `order`, `family`, `genus` or `species`.
    pub rank: String,
    pub name: String,
    /// The sum of the probabilities of the classes under this taxon, from 0 to 1.
    pub score: f32,
}

/// The deepest taxon the model is confident about.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RollUp {
    /// `kingdom`, `phylum`, `class`, `order`, `family`, `genus` or `species`.
    pub rank: String,
    pub name: String,
    /// The sum of the probabilities of the classes under this taxon, from 0
    /// to 1; at least `rollup_threshold`.
    pub score: f32,
    /// Root first, ending with this taxon.
    pub lineage: Vec<TaxonScore>,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Classification {
    /// Best first, at most `top_k`.
    pub predictions: Vec<Prediction>,
    /// Null when no top-level taxon reaches `rollup_threshold`.
    pub rollup: Option<RollUp>,
    /// Only part of the image decoded (the file was cut short and
    /// `allow_truncated` was set).
    pub truncated: bool,
}

impl From<taxa_core::Classification> for Classification {
    fn from(c: taxa_core::Classification) -> Self {
        let score = |t: taxa_core::TaxonScore| TaxonScore { rank: t.rank.to_string(), name: t.name, score: t.score };
        Classification {
            predictions: c
                .predictions
                .into_iter()
                .map(|p| Prediction { class_index: p.class_index as u32, label: p.label, score: p.score, taxon: p.taxonomy.into(), is_taxon: p.is_taxon })
                .collect(),
            rollup: c.rollup.map(|r| RollUp {
                rank: r.rank.to_string(),
                name: r.name,
                score: r.score,
                lineage: r.lineage.into_iter().map(score).collect(),
            }),
            truncated: c.truncated,
        }
    }
}

/// What a loaded model is.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ModelInfo {
    /// One per class, in model output order (`Prediction.class_index`).
    pub labels: Vec<String>,
    /// The network's name (e.g. `shufflenet_v2_x1_0`), when the bundle says.
    pub architecture: Option<String>,
    /// The model input's width in pixels: what images are resized and cropped to.
    pub input_width: u32,
    /// The model input's height in pixels.
    pub input_height: u32,
    /// Whether the bundle carries a taxonomy; without one, a prediction's
    /// taxon has only `species` and a roll-up can only be a species.
    pub has_taxonomy: bool,
    /// The training data, as free text, when recorded.
    pub dataset: Option<String>,
    /// Validation top-1 error as a fraction from 0 to 1 (not percent), when recorded.
    pub val_top1_error: Option<f64>,
    /// Validation top-5 error as a fraction from 0 to 1, when recorded.
    pub val_top5_error: Option<f64>,
}

/// A loaded model. Thread-safe: share one instance across threads.
#[derive(Debug, uniffi::Object)]
pub struct Classifier {
    inner: taxa_core::Classifier,
}

#[uniffi::export]
impl Classifier {
    /// Loads a bundle, or a plain ONNX file with a labels file (one label a line).
    /// `threads`: how many threads each image's inference runs on (default
    /// 1; see `threads()`). Classifying several images at once (calls from
    /// several threads) multiplies it: keep `threads` × images in flight at
    /// or below the device's cores.
    /// Errors: `Io` when a file cannot be read; `InvalidModel` for a file
    /// that is not ONNX, bad taxa metadata, a bad or missing labels file, a
    /// model taxa cannot run, or a label count that differs from the
    /// model's outputs; `InvalidArgument` for 0 threads; `Internal` for a
    /// caught panic.
    #[uniffi::constructor(default(threads = 1))]
    pub fn from_path(model_path: String, labels_path: Option<String>, threads: u32) -> Result<Arc<Self>, TaxaFfiError> {
        guarded(|| {
            let inner = taxa_core::Classifier::load_with_labels(&model_path, labels_path.as_ref())?.with_threads(threads as usize)?;
            Ok(Arc::new(Classifier { inner }))
        })
    }

    /// Loads from ONNX bytes; `labels` are required for a plain ONNX file.
    /// `threads` as for `from_path` (default 1).
    /// Errors: `InvalidModel` as for `from_path` (also a model whose weights
    /// are in an external file: inline them); `InvalidArgument` for 0
    /// threads; `Internal` for a caught panic.
    #[uniffi::constructor(default(threads = 1))]
    pub fn from_bytes(model: Vec<u8>, labels: Option<Vec<String>>, threads: u32) -> Result<Arc<Self>, TaxaFfiError> {
        guarded(|| Ok(Arc::new(Classifier { inner: taxa_core::Classifier::from_bytes(&model, labels)?.with_threads(threads as usize)? })))
    }

    /// How many threads each image's inference runs on: the `threads` the
    /// classifier was loaded with (at least 1; 1 when none was given).
    /// Inference splits an image's work over the classifier's own pool of
    /// that many threads. Classifying several images at once (calls from
    /// several threads) is parallelism on top: keep `threads` × images in
    /// flight at or below the device's cores.
    pub fn threads(&self) -> u32 {
        self.inner.threads() as u32
    }

    /// Classifies encoded image bytes: JPEG, PNG, WebP, and GIF, BMP, TIFF in
    /// builds with the `gif`, `bmp` and `tiff` features (on by default; the
    /// phone libraries are built without them and refuse those files as
    /// `InvalidImage`). The EXIF orientation is applied.
    /// Errors: `InvalidArgument` for bad options; `InvalidImage` for an
    /// empty, corrupt, unsupported or too large image, or a truncated one
    /// (unless `allow_truncated` and its first part decodes); `Internal` for an inference failure or a
    /// caught panic.
    pub fn classify(&self, image: Vec<u8>, options: ClassifyOptions) -> Result<Classification, TaxaFfiError> {
        guarded(|| Ok(self.inner.classify_bytes(&image, &options.into())?.into()))
    }

    /// Classifies `width`×`height` raw pixels (camera frames, bitmaps) whose
    /// rows start `row_stride` bytes apart (at least width × 3 for `Rgb8`,
    /// width × 4 for `Rgba8` and `Bgra8`). `pixels` needs at least
    /// (height - 1) × row_stride + width × bytes per pixel bytes; more are
    /// ignored. The pixels must be upright: no rotation is applied.
    /// Errors: `InvalidArgument` for a size with no pixels, a short stride or
    /// buffer, or bad options; `Internal` for an inference failure or a
    /// caught panic.
    pub fn classify_pixels(
        &self,
        width: u32,
        height: u32,
        row_stride: u32,
        format: PixelFormat,
        pixels: Vec<u8>,
        options: ClassifyOptions,
    ) -> Result<Classification, TaxaFfiError> {
        guarded(|| {
            let buffer = PixelBuffer { width, height, row_stride: row_stride as usize, format: format.into(), data: &pixels };
            Ok(self.inner.classify_pixels(buffer, &options.into())?.into())
        })
    }

    /// Classifies a YUV 4:2:0 frame (Android `YUV_420_888`: pass the three
    /// planes' buffers and strides; I420, NV12 and NV21 all fit) of
    /// `width`×`height` pixels, turned upright by `rotation_degrees`
    /// clockwise (0, 90, 180, 270: `ImageInfo.getRotationDegrees()`). With a
    /// `smoother`, the result is that of the smoothed scores. Errors:
    /// `InvalidArgument` for bad planes (the message names the plane and the
    /// numbers), a bad rotation, or a smoother holding another model's frames.
    #[allow(clippy::too_many_arguments)]
    pub fn classify_yuv420(
        &self,
        width: u32, height: u32,
        y: YuvPlane, u: YuvPlane, v: YuvPlane, range: YuvRange,
        rotation_degrees: i32, smoother: Option<Arc<ScoreSmoother>>, options: ClassifyOptions,
    ) -> Result<Classification, TaxaFfiError> {
        let frame = || taxa_core::Yuv420Frame::new(width, height, y.as_core(), u.as_core(), v.as_core(), range.into());
        self.build_and_classify_frame(frame, rotation_degrees, smoother, options)
    }

    /// Classifies a bi-planar YUV 4:2:0 frame: a Y plane and one plane of
    /// interleaved chroma pairs, each with its row stride in bytes. iOS:
    /// `CVPixelBufferGetBaseAddressOfPlane` 0 and 1 of a
    /// `kCVPixelFormatType_420YpCbCr8BiPlanar{Full,Video}Range` buffer with
    /// `ChromaOrder.CbCr`. Rotation, smoother and errors as `classify_yuv420`.
    #[allow(clippy::too_many_arguments)]
    pub fn classify_bi_planar(
        &self,
        width: u32, height: u32,
        y: Vec<u8>, y_row_stride: u32, chroma: Vec<u8>, chroma_row_stride: u32, order: ChromaOrder, range: YuvRange,
        rotation_degrees: i32, smoother: Option<Arc<ScoreSmoother>>, options: ClassifyOptions,
    ) -> Result<Classification, TaxaFfiError> {
        let (ys, cs) = (y_row_stride as usize, chroma_row_stride as usize);
        let frame = || match order {
            ChromaOrder::CbCr => taxa_core::Yuv420Frame::nv12(width, height, &y, ys, &chroma, cs, range.into()),
            ChromaOrder::CrCb => taxa_core::Yuv420Frame::nv21(width, height, &y, ys, &chroma, cs, range.into()),
        };
        self.build_and_classify_frame(frame, rotation_degrees, smoother, options)
    }

    /// The model's labels, input size and provenance.
    pub fn info(&self) -> ModelInfo {
        let m = self.inner.metadata();
        let [_, _, h, w] = self.inner.input_shape();
        let (h, w) = match m.preprocess.layout {
            taxa_core::preprocess::Layout::Nchw => (h, w),
            taxa_core::preprocess::Layout::Nhwc => (self.inner.input_shape()[1], self.inner.input_shape()[2]),
        };
        let provenance = m.provenance.clone().unwrap_or_default();
        ModelInfo {
            labels: m.labels.clone(),
            architecture: m.architecture.clone(),
            input_width: w as u32,
            input_height: h as u32,
            has_taxonomy: m.taxonomy.is_some(),
            dataset: provenance.dataset,
            val_top1_error: provenance.val_top1_error,
            val_top5_error: provenance.val_top5_error,
        }
    }
}

impl Classifier {
    /// `classify_frame` on the frame `build` returns, both under the panic
    /// guard: the body of `classify_yuv420` and `classify_bi_planar`.
    fn build_and_classify_frame<'f>(
        &self,
        build: impl FnOnce() -> Result<taxa_core::Yuv420Frame<'f>, TaxaError>,
        rotation_degrees: i32,
        smoother: Option<Arc<ScoreSmoother>>,
        options: ClassifyOptions,
    ) -> Result<Classification, TaxaFfiError> {
        guarded(|| self.classify_frame(&build()?, rotation_degrees, smoother.as_deref(), options))
    }

    /// What every frame entry point shares (UniFFI and JNI): the rotation,
    /// the optional smoother, the call.
    pub(crate) fn classify_frame(
        &self,
        frame: &taxa_core::Yuv420Frame<'_>,
        rotation_degrees: i32,
        smoother: Option<&ScoreSmoother>,
        options: ClassifyOptions,
    ) -> Result<Classification, TaxaFfiError> {
        let rotation = taxa_core::Rotation::from_degrees(rotation_degrees)?;
        let options = options.into();
        let result = match smoother {
            Some(s) => self.inner.classify_yuv420_smoothed(frame, rotation, &mut s.lock(), &options)?,
            None => self.inner.classify_yuv420(frame, rotation, &options)?,
        };
        Ok(result.into())
    }
}

/// taxa-core's default options (top 5, no floor, threshold 0.8).
#[uniffi::export]
pub fn default_options() -> ClassifyOptions {
    ClassifyOptions::default()
}

/// The taxa-ffi version, for bug reports.
#[uniffi::export]
pub fn taxa_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use taxa_core::onnx_graph::{Dim, GraphBuilder, attr_int, attr_ints};

    const SIZE: i64 = 48;

    /// A small bundle (Conv 3→8 3×3, ReLU, global pool, Gemm to 4 classes;
    /// seeded weights) with enough matrix work for a second thread to share.
    fn conv_bundle() -> Vec<u8> {
        let mut seed = 0x2545_f491_u32;
        let mut next = move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        let mut g = GraphBuilder::new("threads");
        let input = g.input("image", &[Dim::from("batch"), 3.into(), SIZE.into(), SIZE.into()]);
        let conv_w: Vec<f32> = (0..8 * 3 * 3 * 3).map(|_| next()).collect();
        let conv_b: Vec<f32> = (0..8).map(|_| next()).collect();
        let w = g.initializer("conv_w", &[8, 3, 3, 3], &conv_w);
        let b = g.initializer("conv_b", &[8], &conv_b);
        let conv = g.node("Conv", &[&input, &w, &b], vec![attr_ints("kernel_shape", &[3, 3]), attr_ints("pads", &[1, 1, 1, 1])]);
        let relu = g.node("Relu", &[&conv], vec![]);
        let pooled = g.node("GlobalAveragePool", &[&relu], vec![]);
        let flat = g.node("Flatten", &[&pooled], vec![attr_int("axis", 1)]);
        let fc_w: Vec<f32> = (0..4 * 8).map(|_| 4.0 * next()).collect();
        let fc_w = g.initializer("fc_w", &[4, 8], &fc_w);
        let fc_b = g.initializer("fc_b", &[4], &[0.0; 4]);
        g.node_named("Gemm", &[&flat, &fc_w, &fc_b], "logits", vec![attr_int("transB", 1)]);
        g.output("logits", &[Dim::from("batch"), 4.into()]);
        let mut metadata = taxa_core::BundleMetadata::with_labels(["a", "b", "c", "d"].map(String::from).to_vec());
        metadata.preprocess = taxa_core::PreprocessContract::imagenet_sized(SIZE as u32);
        taxa_core::bundle::encode_bundle(g.build(), &metadata).expect("bundle encoded")
    }

    /// A 64×64 RGB picture with structure in every channel.
    fn picture() -> Vec<u8> {
        (0..64u32 * 64).flat_map(|i| {
            let (x, y) = (i % 64, i / 64);
            [(x * 4) as u8, (y * 4) as u8, ((x * y) % 256) as u8]
        }).collect()
    }

    fn classify(classifier: &Classifier) -> Classification {
        let options = ClassifyOptions { top_k: 4, ..ClassifyOptions::default() };
        classifier.classify_pixels(64, 64, 64 * 3, PixelFormat::Rgb8, picture(), options).expect("classified")
    }

    #[test]
    fn two_threads_classify_as_one_does() {
        let bundle = conv_bundle();
        let one = Classifier::from_bytes(bundle.clone(), None, 1).expect("loaded on 1 thread");
        let two = Classifier::from_bytes(bundle, None, 2).expect("loaded on 2 threads");
        assert_eq!((one.threads(), two.threads()), (1, 2));
        let (a, b) = (classify(&one), classify(&two));
        assert_eq!(a.predictions.len(), 4);
        let labels = |c: &Classification| c.predictions.iter().map(|p| p.label.clone()).collect::<Vec<_>>();
        assert_eq!(labels(&a), labels(&b));
        for (p, q) in a.predictions.iter().zip(&b.predictions) {
            assert!((p.score - q.score).abs() <= 1e-5, "{}: {} on 1 thread, {} on 2", p.label, p.score, q.score);
        }
    }

    #[test]
    fn zero_threads_is_invalid_argument() {
        match Classifier::from_bytes(conv_bundle(), None, 0) {
            Err(TaxaFfiError::InvalidArgument { message }) => assert!(message.contains("threads"), "{message}"),
            other => panic!("0 threads gave {other:?}"),
        }
        let path = std::env::temp_dir().join(format!("taxa-ffi-threads-{}.onnx", std::process::id()));
        std::fs::write(&path, conv_bundle()).expect("bundle written");
        let loaded = Classifier::from_path(path.to_string_lossy().into_owned(), None, 0);
        let _ = std::fs::remove_file(&path);
        assert!(matches!(loaded, Err(TaxaFfiError::InvalidArgument { .. })), "from_path with 0 threads gave {loaded:?}");
    }
}
