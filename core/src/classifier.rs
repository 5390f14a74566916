//! The on-device classifier: an ONNX model optimised by tract for a fixed
//! input shape, plus its bundle metadata. Load once, share across threads.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;

use image::RgbImage;
use tract_onnx::pb::ModelProto;
use tract_onnx::prelude::*;
use tract_onnx::prelude::tract_linalg::multithread::{Executor, multithread_tract_scope};

use crate::bundle::{self, BundleMetadata, OutputKind};
use crate::classify::{Classification, ClassifyOptions, classification_from_probabilities, softmax};
#[cfg(feature = "decode")]
use crate::decode::{DecodeLimits, DecodeOptions, SizedImage, decode_image_sized};
use crate::panic::panic_message;
use crate::error::{Result, TaxaError};
use crate::graph_rewrite;
use crate::model_graph::{self, ElementType};
use crate::preprocess::InputType;
use crate::pixels::{PixelBuffer, PixelFormat, PixelsRef};
use crate::profile::{LoadClock, LoadProfile, Profile, profile_plan};
use crate::rollup::TaxonTree;

type Plan = Arc<TypedRunnableModel>;

/// A loaded model, ready to classify. `Send + Sync`: share it with an `Arc`.
pub struct Classifier {
    plan: Plan,
    metadata: BundleMetadata,
    input_shape: [usize; 4],
    input_type: ElementType,
    tree: TaxonTree,
    #[cfg(feature = "decode")]
    limits: DecodeLimits,
    /// Threads one image's inference runs on, and tract's executor for them.
    threads: usize,
    executor: Executor,
    load_profile: LoadProfile,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("classes", &self.metadata.labels.len())
            .field("input_shape", &self.input_shape)
            .field("architecture", &self.metadata.architecture)
            .finish()
    }
}

impl Classifier {
    /// Loads a taxa bundle (an ONNX file carrying taxa metadata).
    ///
    /// Errors: [`TaxaError::Io`] (the file cannot be read),
    /// [`TaxaError::ModelDecode`] (not ONNX), [`TaxaError::BundleMetadata`]
    /// (a `taxa.*` value missing or invalid), [`TaxaError::Labels`] (a plain
    /// ONNX file: no labels), [`TaxaError::ModelLoad`] (not one float RGB
    /// image input, missing external weights, an output that is not
    /// `[1, classes]`, or tract cannot plan it) and
    /// [`TaxaError::LabelCountMismatch`].
    pub fn load(model: impl AsRef<Path>) -> Result<Self> {
        Self::load_with_labels(model, None::<&Path>)
    }

    /// Loads a bundle, or a plain ONNX file with a labels file (one label a
    /// line). Labels given here replace the bundle's own, and its taxonomy.
    /// External weights (`model.onnx.data`) are read from the model's folder.
    ///
    /// Errors: those of [`load`](Self::load); [`TaxaError::Io`] also for an
    /// unreadable labels file, and [`TaxaError::Labels`] for one that is not
    /// UTF-8 or holds no label.
    pub fn load_with_labels(model: impl AsRef<Path>, labels: Option<impl AsRef<Path>>) -> Result<Self> {
        let model_path = model.as_ref();
        let mut clock = LoadClock::start();
        let proto = bundle::read_model(model_path)?;
        let labels = labels.map(|p| crate::labels::read_labels(p.as_ref())).transpose()?;
        clock.lap("read");
        let model_dir = match model_path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        Self::from_model_proto_in(proto, labels, Some(model_dir), clock).map_err(|e| match e {
            TaxaError::ModelLoad(m) => TaxaError::ModelLoad(format!("{}: {m}", model_path.display())),
            other => other,
        })
    }

    /// Loads from ONNX bytes, with optional labels (required for a plain ONNX
    /// file). A model whose weights are in an external file is refused with
    /// a message saying how to inline them.
    ///
    /// Errors: those of [`load`](Self::load) except [`TaxaError::Io`];
    /// external weights are [`TaxaError::ModelLoad`]. Empty `labels` are
    /// [`TaxaError::BundleMetadata`].
    pub fn from_bytes(model: &[u8], labels: Option<Vec<String>>) -> Result<Self> {
        let mut clock = LoadClock::start();
        let proto = bundle::decode_model(model)?;
        clock.lap("read");
        Self::from_model_proto_in(proto, labels, None, clock)
    }

    /// Like [`from_bytes`](Self::from_bytes), from a decoded model.
    pub fn from_model_proto(proto: ModelProto, labels: Option<Vec<String>>) -> Result<Self> {
        Self::from_model_proto_in(proto, labels, None, LoadClock::start())
    }

    fn from_model_proto_in(proto: ModelProto, labels: Option<Vec<String>>, model_dir: Option<&Path>, clock: LoadClock) -> Result<Self> {
        let metadata = match (BundleMetadata::from_model_proto(&proto)?, labels) {
            (Some(mut metadata), Some(labels)) => {
                metadata.labels = labels;
                metadata.taxonomy = None;
                metadata
            }
            (Some(metadata), None) => metadata,
            (None, Some(labels)) => BundleMetadata::for_plain_model(&proto, labels)?,
            (None, None) => {
                return Err(TaxaError::Labels(
                    "the model carries no taxa metadata; pass a labels file (one label a line)".into(),
                ));
            }
        };
        Self::build(proto, metadata, model_dir, clock)
    }

    /// Loads a plain ONNX file as [`load_with_labels`](Self::load_with_labels)
    /// would, and returns its number of classes (the labels a labels file
    /// must give): what `taxa inspect` checks before calling a model
    /// classifiable. Errors: those of [`load_with_labels`](Self::load_with_labels)
    /// but the label count.
    pub fn plain_model_classes(model: impl AsRef<Path>) -> Result<usize> {
        let model_path = model.as_ref();
        let proto = bundle::read_model(model_path)?;
        let metadata = BundleMetadata::for_plain_model(&proto, vec![String::new()])?;
        let model_dir = model_path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        match Self::build(proto, metadata, Some(model_dir), LoadClock::start()) {
            Ok(_) => Ok(1),
            Err(TaxaError::LabelCountMismatch { outputs, .. }) => Ok(outputs),
            Err(TaxaError::ModelLoad(m)) => Err(TaxaError::ModelLoad(format!("{}: {m}", model_path.display()))),
            Err(other) => Err(other),
        }
    }

    /// Loads a model with explicit metadata (what a bundle would carry).
    pub fn new(proto: ModelProto, metadata: BundleMetadata) -> Result<Self> {
        Self::build(proto, metadata, None, LoadClock::start())
    }

    fn build(proto: ModelProto, metadata: BundleMetadata, model_dir: Option<&Path>, mut clock: LoadClock) -> Result<Self> {
        // Before tract's first use, which reads it once.
        crate::android_cpu::configure_tract_for_android();
        metadata.validate()?;
        model_graph::check_external_data(&proto, model_dir)?;
        let input_shape = metadata.preprocess.input_shape().map_err(|m| TaxaError::metadata(bundle::keys::PREPROCESS, m))?;
        // A plain file's type was checked with its contract; a bundle's must agree with its contract.
        let input_type = model_graph::declared_input(&proto).map(|d| d.element_type).unwrap_or(ElementType::Float32);
        let contract_uint8 = metadata.preprocess.input_type == InputType::Uint8;
        if contract_uint8 != (input_type == ElementType::Uint8) {
            let (contract, graph) = if contract_uint8 { ("uint8", "a float") } else { ("float32", "a uint8") };
            return Err(TaxaError::metadata(
                bundle::keys::PREPROCESS,
                format!("the contract feeds a {contract} input, but the graph declares {graph} input"),
            ));
        }
        clock.lap("checks");
        let plan = guard("loading the model", TaxaError::ModelLoad, || optimise(&proto, input_shape, input_type, model_dir, &mut clock))?
            .map_err(|e| TaxaError::ModelLoad(format!("{e:#}")))?;
        let outputs = output_classes(&plan)?;
        if outputs != metadata.labels.len() {
            return Err(TaxaError::LabelCountMismatch { outputs, labels: metadata.labels.len() });
        }
        let tree = TaxonTree::from_metadata(&metadata);
        clock.lap("outputs");
        Ok(Classifier {
            plan,
            metadata,
            input_shape,
            input_type,
            tree,
            #[cfg(feature = "decode")]
            limits: DecodeLimits::default(),
            threads: 1,
            executor: Executor::SingleThread,
            load_profile: clock.finish(),
        })
    }

    /// Runs each image's inference on `threads` threads (default 1): tract
    /// splits its matrix products, and taxa's kernels their channels, over a
    /// pool of its own. Classifying several images at once is a second,
    /// separate parallelism: keep `threads × concurrent images` at or below
    /// the cores, as `taxa classify --threads` does.
    ///
    /// Error: [`TaxaError::InvalidOptions`] for 0, or for more than one in a
    /// build without the `threads` feature (the web build).
    pub fn with_threads(mut self, threads: usize) -> Result<Self> {
        self.executor = executor(threads)?;
        self.threads = threads;
        Ok(self)
    }

    /// How long each phase of this classifier's load took.
    pub fn load_profile(&self) -> &LoadProfile {
        &self.load_profile
    }

    /// Threads per image ([`with_threads`](Self::with_threads)).
    pub fn threads(&self) -> usize {
        self.threads
    }

    #[cfg(feature = "decode")]
    /// Replaces the default decode limits.
    pub fn with_decode_limits(mut self, limits: DecodeLimits) -> Self {
        self.limits = limits;
        self
    }

    #[cfg(feature = "decode")]
    /// The limits encoded images are decoded under ([`classify_bytes`](Self::classify_bytes),
    /// [`classify_file`](Self::classify_file), [`decode_for_input`](Self::decode_for_input)):
    /// [`DecodeLimits::default`] unless set by [`with_decode_limits`](Self::with_decode_limits).
    /// Raw pixels and camera frames are not decoded, so they are not checked against them.
    pub fn decode_limits(&self) -> &DecodeLimits {
        &self.limits
    }

    /// Checks `options` against this model before any image is classified:
    /// their own ranges, and that every `allow` and `deny` name is one of
    /// its labels or taxa. Error: [`TaxaError::InvalidOptions`] naming the
    /// problem. Every classification checks the same.
    pub fn check_options(&self, options: &ClassifyOptions) -> Result<()> {
        options.validate()?;
        crate::classify::check_names(options, &self.metadata)
    }

    /// The bundle's metadata: labels in model output order, taxonomy,
    /// preprocessing contract, output kind, architecture, provenance. Labels
    /// given at load replace the bundle's, and its taxonomy is dropped.
    pub fn metadata(&self) -> &BundleMetadata {
        &self.metadata
    }

    /// The model input shape, batch of one: `[1, 3, H, W]` for an NCHW
    /// contract, `[1, H, W, 3]` for NHWC. H and W are the contract's input
    /// size in pixels (the crop, or the stretch size when there is no crop).
    pub fn input_shape(&self) -> [usize; 4] {
        self.input_shape
    }

    #[cfg(feature = "decode")]
    /// Classifies encoded image bytes (JPEG, PNG, WebP; GIF, BMP, TIFF unless
    /// built without them, see [`crate::decode::SUPPORTED_FORMATS`]).
    /// The EXIF orientation is applied; alpha is dropped.
    ///
    /// Errors: [`TaxaError::InvalidOptions`] (checked before decoding);
    /// the decoding errors of [`crate::decode_image`], under
    /// [`decode_limits`](Self::decode_limits) (with
    /// [`ClassifyOptions::allow_truncated`], a file cut short is classified
    /// where the decoder returns the part it has); those of [`infer`](Self::infer).
    pub fn classify_bytes(&self, bytes: &[u8], options: &ClassifyOptions) -> Result<Classification> {
        options.validate()?;
        let decoded = self.decode_for_input(bytes, options.allow_truncated)?;
        let input = self.preprocess_sized(&decoded)?;
        let mut result = self.classify_input(input, options)?;
        result.truncated = decoded.truncated;
        Ok(result)
    }

    #[cfg(feature = "decode")]
    /// Decodes encoded image bytes at the size this model's contract needs
    /// (a large JPEG is decoded reduced: [`decode_image_sized`]), with this
    /// classifier's limits. Errors are those of [`crate::decode_image`].
    pub fn decode_for_input(&self, bytes: &[u8], allow_truncated: bool) -> Result<SizedImage> {
        decode_image_sized(bytes, &DecodeOptions { limits: self.limits, allow_truncated }, &self.metadata.preprocess)
    }

    #[cfg(feature = "decode")]
    /// The model input for an image from [`decode_for_input`](Self::decode_for_input):
    /// shaped, laid out and normalised as [`preprocess`](Self::preprocess)
    /// gives it (exactly its values when the image was decoded in full).
    /// Errors: [`TaxaError::InvalidPixelBuffer`] if the resizer refuses the image.
    pub fn preprocess_sized(&self, image: &SizedImage) -> Result<Vec<f32>> {
        image.preprocess(&self.metadata.preprocess)
    }

    #[cfg(feature = "decode")]
    /// Classifies an image file. Errors: [`TaxaError::Io`] naming the path
    /// when it cannot be read, then those of [`classify_bytes`](Self::classify_bytes).
    pub fn classify_file(&self, path: impl AsRef<Path>, options: &ClassifyOptions) -> Result<Classification> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| TaxaError::Io { path: path.to_path_buf(), error: e })?;
        self.classify_bytes(&bytes, options)
    }

    /// Classifies a raw pixel buffer (camera frame, bitmap). The pixels must
    /// already be upright: no EXIF or rotation is applied (YUV camera frames:
    /// [`classify_yuv420`](Self::classify_yuv420) takes a rotation). Alpha is
    /// ignored, not composited. [`DecodeLimits`] do not apply.
    ///
    /// Errors: [`TaxaError::InvalidOptions`]; [`TaxaError::InvalidPixelBuffer`]
    /// for a size with no pixels, a row stride under width × bytes per pixel,
    /// or fewer than `(height − 1) × row_stride + width × bytes per pixel`
    /// bytes (extra bytes are ignored); those of [`infer`](Self::infer).
    pub fn classify_pixels(&self, pixels: PixelBuffer<'_>, options: &ClassifyOptions) -> Result<Classification> {
        options.validate()?;
        let input = pixels.with_packed(|packed| self.preprocess(packed))?;
        self.classify_input(input, options)
    }

    /// Classifies an already decoded RGB image, used as it is (no EXIF
    /// rotation). [`DecodeLimits`] do not apply.
    /// Errors: [`TaxaError::InvalidPixelBuffer`] for an image with no pixels,
    /// [`TaxaError::InvalidOptions`], those of [`infer`](Self::infer).
    pub fn classify_rgb(&self, image: &RgbImage, options: &ClassifyOptions) -> Result<Classification> {
        // Options first, as the other classify calls check them: bad options cost no inference.
        options.validate()?;
        let pixels = PixelsRef::new(image.width(), image.height(), PixelFormat::Rgb8, image.as_raw())?;
        let input = self.preprocess(pixels)?;
        self.classify_input(input, options)
    }

    /// Applies the bundle's preprocessing contract: resize, crop, normalise.
    /// Returns the model input as a flat vector of the product of
    /// [`input_shape`](Self::input_shape) values, in the contract's layout and
    /// channel order. Pixels are used as given (no rotation; alpha ignored).
    /// Errors: [`TaxaError::InvalidPixelBuffer`] if the resizer refuses the buffer.
    pub fn preprocess(&self, pixels: PixelsRef<'_>) -> Result<Vec<f32>> {
        self.metadata.preprocess.apply(pixels)
    }

    /// Runs the model on one preprocessed input; returns class probabilities.
    ///
    /// `input` is what [`preprocess`](Self::preprocess) returns: its length
    /// must be the product of [`input_shape`](Self::input_shape), in the
    /// contract's layout. The result holds one probability per label, in
    /// label order: softmax of the output when the bundle's output is
    /// [`OutputKind::Logits`], the output as it is when
    /// [`OutputKind::Probabilities`]. Non-finite values are not checked here
    /// ([`classify_probabilities`](Self::classify_probabilities) refuses them).
    ///
    /// Errors: [`TaxaError::Inference`] for a wrong input length, a failed
    /// run, or a panic inside tract (caught).
    pub fn infer(&self, input: Vec<f32>) -> Result<Vec<f32>> {
        let tensor = self.input_tensor(input)?;
        let plan = &self.plan;
        let executor = self.executor.clone();
        let outputs = guard("running the model", TaxaError::Inference, || multithread_tract_scope(executor, || plan.run(tvec![tensor.into_tvalue()])))?
            .map_err(|e| TaxaError::Inference(format!("{e:#}")))?;
        let output = outputs[0].cast_to::<f32>().map_err(|e| TaxaError::Inference(format!("{e:#}")))?;
        let view = output.to_plain_array_view::<f32>().map_err(|e| TaxaError::Inference(format!("{e:#}")))?;
        let mut scores: Vec<f32> = view.iter().copied().collect();
        if self.metadata.output == OutputKind::Logits {
            softmax(&mut scores);
        }
        Ok(scores)
    }

    /// Times each node of the optimised plan over `runs` runs (after one
    /// untimed run) on one preprocessed input, one thread: the slowest nodes
    /// first, with their shapes and the operator and kernel tract chose.
    pub fn profile(&self, input: Vec<f32>, runs: usize) -> Result<Profile> {
        let tensor = self.input_tensor(input)?;
        let plan = &self.plan;
        let executor = self.executor.clone();
        guard("profiling the model", TaxaError::Inference, || multithread_tract_scope(executor, || profile_plan(plan, tensor.into_tvalue(), runs.max(1))))?
            .map_err(|e| TaxaError::Inference(format!("{e:#}")))
    }

    fn input_tensor(&self, input: Vec<f32>) -> Result<Tensor> {
        let mut tensor = tract_ndarray::ArrayD::from_shape_vec(&self.input_shape[..], input)
            .map_err(|e| TaxaError::Inference(format!("input does not match {:?}: {e}", self.input_shape)))?
            .into_tensor();
        // The contract gives float32; other input types are cast at the
        // boundary (uint8 inputs get the 8-bit pixels, exact as floats).
        match self.input_type {
            ElementType::Float32 => {}
            ElementType::Float16 => {
                tensor = tensor.cast_to::<f16>().map_err(|e| TaxaError::Inference(format!("{e:#}")))?.into_owned();
            }
            ElementType::Uint8 => {
                tensor = tensor.cast_to::<u8>().map_err(|e| TaxaError::Inference(format!("{e:#}")))?.into_owned();
            }
        }
        Ok(tensor)
    }

    /// Classifies one preprocessed input.
    pub fn classify_input(&self, input: Vec<f32>, options: &ClassifyOptions) -> Result<Classification> {
        let probabilities = self.infer(input)?;
        self.classify_probabilities(probabilities, options)
    }

    /// Top-k, filters and roll-up over per-class probabilities from [`infer`](Self::infer).
    pub fn classify_probabilities(&self, probabilities: Vec<f32>, options: &ClassifyOptions) -> Result<Classification> {
        if probabilities.len() != self.metadata.labels.len() {
            return Err(TaxaError::Inference(format!(
                "{} scores for {} classes",
                probabilities.len(),
                self.metadata.labels.len()
            )));
        }
        classification_from_probabilities(probabilities, &self.metadata, &self.tree, options)
    }
}

/// Parses, types and optimises the graph for a fixed input shape: tract
/// plans a fixed shape far better than a symbolic batch.
fn optimise(proto: &ModelProto, input_shape: [usize; 4], input_type: ElementType, model_dir: Option<&Path>, clock: &mut LoadClock) -> TractResult<Plan> {
    let model_dir = model_dir.map(|d| d.to_string_lossy().into_owned());
    let rewrites = graph_rewrite::enabled();
    let (mut proto, _) = graph_rewrite::rewrite(proto, input_shape, &rewrites);
    if proto.graph.as_ref().is_some_and(|g| g.value_info.iter().any(crate::model_graph::has_symbolic_dim)) {
        crate::model_graph::drop_symbolic_value_info(proto.to_mut());
    }
    let onnx = tract_onnx::onnx();
    let missing = crate::model_graph::unsupported_operators(&proto, |op| onnx.op_register.0.contains_key(op));
    if !missing.is_empty() {
        return Err(TractError::msg(format!(
            "operators taxa's inference engine (tract) does not implement: {}{}",
            missing.join(", "),
            if missing.iter().any(|m| m.starts_with("com.microsoft")) {
                "; these are onnxruntime's own (com.microsoft) operators, which its QOperator quantization writes: \
                 quantize with quant_format=QuantFormat.QDQ instead, which taxa runs"
            } else {
                ""
            }
        )));
    }
    clock.lap("onnx rewrites");
    let mut model = onnx.parse(&proto, model_dir.as_deref())?.model;
    clock.lap("parse");
    if model.input_outlets()?.len() != 1 {
        return Err(TractError::msg(format!("expected one input, the model has {}", model.input_outlets()?.len())));
    }
    let fact = match input_type {
        ElementType::Float32 => f32::fact(input_shape),
        ElementType::Float16 => f16::fact(input_shape),
        ElementType::Uint8 => u8::fact(input_shape),
    };
    model.set_input_fact(0, fact.into())?;
    let mut typed = model.into_typed()?;
    graph_rewrite::insert_barriers(&mut typed)?;
    clock.lap("type");
    crate::kernels::ops::substitute(&mut typed, &graph_rewrite::kernel_families(&rewrites), crate::kernels::Isa::chosen())?;
    clock.lap("kernels");
    // `into_optimized`, in its two steps, timed apart.
    typed.declutter()?;
    clock.lap("declutter");
    typed.optimize()?;
    clock.lap("codegen");
    let plan = typed.into_runnable()?;
    clock.lap("plan");
    Ok(plan)
}

fn executor(threads: usize) -> Result<Executor> {
    match threads {
        0 => Err(TaxaError::InvalidOptions("threads must be at least 1".into())),
        1 => Ok(Executor::SingleThread),
        #[cfg(feature = "threads")]
        n => Ok(Executor::multithread(n)),
        #[cfg(not(feature = "threads"))]
        n => Err(TaxaError::InvalidOptions(format!("{n} threads asked for, but this build of taxa-core runs one (no `threads` feature)"))),
    }
}

fn output_classes(plan: &Plan) -> Result<usize> {
    let model = plan.model();
    let outlet = *model.output_outlets().map_err(|e| TaxaError::ModelLoad(format!("{e:#}")))?.first().ok_or_else(|| TaxaError::ModelLoad("the model has no output".into()))?;
    let fact = model.outlet_fact(outlet).map_err(|e| TaxaError::ModelLoad(format!("{e:#}")))?;
    if ![f32::datum_type(), f16::datum_type(), f64::datum_type()].contains(&fact.datum_type) {
        return Err(TaxaError::ModelLoad(format!("output is {:?}, expected float scores", fact.datum_type)));
    }
    let dims = fact.shape.as_concrete().ok_or_else(|| TaxaError::ModelLoad(format!("output shape {:?} is not fixed", fact.shape)))?;
    let batch_one = matches!(dims, [n] | [1, n] | [1, n, 1, 1] if *n > 0);
    if !batch_one {
        return Err(TaxaError::ModelLoad(format!("output shape {dims:?} is not [1, classes]")));
    }
    Ok(dims.iter().product())
}

/// Runs tract code, turning a panic on a malformed model into `error` so a
/// bad file never takes the host app down.
fn guard<T>(what: &str, error: fn(String) -> TaxaError, f: impl FnOnce() -> T) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|panic| error(format!("internal error while {what}: {}", panic_message(panic.as_ref()))))
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_tract_becomes_the_stage_error() {
        let err = guard("running the model", TaxaError::Inference, || -> () { panic!("kernel fault") }).unwrap_err();
        assert!(matches!(&err, TaxaError::Inference(m) if m.contains("running the model") && m.contains("kernel fault")), "{err}");
        assert!(matches!(guard("loading the model", TaxaError::ModelLoad, || -> () { panic!("bad graph") }), Err(TaxaError::ModelLoad(_))));
    }

    #[test]
    fn classifier_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Classifier>();
    }
}
