//! taxa-core in the browser: a thin wasm-bindgen layer for the web app's
//! Web Worker (`web/site/worker.js`).
//!
//! The browser decodes photos (`createImageBitmap`, then a canvas's
//! `ImageData`), so taxa's own decoders stay out of the wasm: pixels come in
//! as RGBA bytes and go through the bundle's preprocessing contract and
//! tract, as on a phone. Results cross as JSON (the CLI's `--json` shape);
//! errors as a JavaScript `Error` named `TaxaError`, with taxa's message and
//! a `kind` (`TaxaError::kind`: `bundle_metadata`, `model_decode`…).
//!
//! `wasm32-unknown-unknown` aborts on a panic, so nothing here can catch
//! one: the panic hook hands its message to the worker (`self.taxaPanic`),
//! the instance is dead after it, and the page starts a new worker.

use taxa_core::{ClassifyOptions, PixelFormat, PixelsRef, ScoreSmoother, TaxaError};
use wasm_bindgen::prelude::*;

/// A loaded bundle, ready to classify pixels.
#[wasm_bindgen]
pub struct Classifier {
    inner: taxa_core::Classifier,
}

/// Probabilities averaged over the last frames of a live camera stream.
#[wasm_bindgen]
pub struct Smoother {
    inner: ScoreSmoother,
}

#[wasm_bindgen]
impl Classifier {
    /// Loads a taxa bundle (the ONNX file's bytes). Throws a `TaxaError`
    /// for a file that is not a bundle taxa can run.
    #[wasm_bindgen(constructor)]
    pub fn new(bundle: &[u8]) -> Result<Classifier, JsValue> {
        load(bundle).map(|inner| Classifier { inner }).map_err(js_error)
    }

    /// What the bundle is, as JSON: see [`info_json`].
    pub fn info(&self) -> String {
        info_json(&self.inner)
    }

    /// Classifies canvas pixels: `rgba` is `ImageData.data` (4 bytes a
    /// pixel, rows top to bottom, `width` × `height`). Returns the JSON of
    /// a classification (`predictions`, best first, at most `top_k`, each
    /// with `label`, `score` 0–1, `taxonomy`, `is_taxon`; `rollup`).
    pub fn classify_pixels(&self, rgba: &[u8], width: u32, height: u32, top_k: u32, rollup_threshold: f32) -> Result<String, JsValue> {
        classify_json(&self.inner, rgba, width, height, &options(top_k, rollup_threshold), None).map_err(js_error)
    }

    /// Like [`classify_pixels`](Self::classify_pixels) for one frame of a
    /// live stream: the result is that of the mean of the smoother's frames.
    pub fn classify_frame(&self, rgba: &[u8], width: u32, height: u32, top_k: u32, rollup_threshold: f32, smoother: &mut Smoother) -> Result<String, JsValue> {
        classify_json(&self.inner, rgba, width, height, &options(top_k, rollup_threshold), Some(&mut smoother.inner)).map_err(js_error)
    }
}

#[wasm_bindgen]
impl Smoother {
    /// A smoother over the last `window` frames (at least 1).
    #[wasm_bindgen(constructor)]
    pub fn new(window: u32) -> Result<Smoother, JsValue> {
        ScoreSmoother::new(window as usize).map(|inner| Smoother { inner }).map_err(js_error)
    }

    /// Forgets the frames (a new subject, or another model).
    pub fn reset(&mut self) {
        self.inner.reset();
    }
}

/// Panics on purpose. The web app's browser test drives the page's
/// recovery from a dead instance with it (a panic aborts the wasm).
#[wasm_bindgen]
pub fn panic_for_testing() {
    panic!("a panic asked for by the test of the page's recovery");
}

#[wasm_bindgen]
extern "C" {
    /// The worker's `self.taxaPanic(message)`: told before the instance dies.
    #[wasm_bindgen(js_namespace = self, js_name = taxaPanic)]
    fn report_panic(message: &str);
}

#[wasm_bindgen(start)]
fn start() {
    std::panic::set_hook(Box::new(|info| report_panic(&info.to_string())));
}

/// The bundle loaded by taxa-core.
pub fn load(bundle: &[u8]) -> Result<taxa_core::Classifier, TaxaError> {
    taxa_core::Classifier::from_bytes(bundle, None)
}

fn options(top_k: u32, rollup_threshold: f32) -> ClassifyOptions {
    ClassifyOptions { top_k: top_k as usize, rollup_threshold, ..Default::default() }
}

/// What the page shows about a model, as JSON: `classes`, `architecture`,
/// `input` ([width, height] pixels), `non_taxa` (labels), `provenance`,
/// `species_labels` (whether labels carry a taxonomy).
pub fn info_json(classifier: &taxa_core::Classifier) -> String {
    let m = classifier.metadata();
    let [_, a, b, c] = classifier.input_shape();
    let (width, height) = match m.preprocess.layout {
        taxa_core::preprocess::Layout::Nchw => (c, b),
        taxa_core::preprocess::Layout::Nhwc => (b, a),
    };
    serde_json::json!({
        "classes": m.labels.len(),
        "architecture": m.architecture,
        "input": [width, height],
        "non_taxa": m.non_taxa.iter().map(|&i| &m.labels[i]).collect::<Vec<_>>(),
        "provenance": m.provenance,
        "species_labels": m.taxonomy.is_some(),
    })
    .to_string()
}

/// Classifies RGBA pixels (with `smoother`: a frame of a stream) and
/// returns the classification's JSON.
pub fn classify_json(
    classifier: &taxa_core::Classifier,
    rgba: &[u8],
    width: u32,
    height: u32,
    options: &ClassifyOptions,
    smoother: Option<&mut ScoreSmoother>,
) -> Result<String, TaxaError> {
    options.validate()?;
    let pixels = PixelsRef::new(width, height, PixelFormat::Rgba8, rgba)?;
    let input = classifier.preprocess(pixels)?;
    let result = match smoother {
        Some(smoother) => classifier.classify_input_smoothed(input, smoother, options)?,
        None => classifier.classify_input(input, options)?,
    };
    serde_json::to_string(&result).map_err(|e| TaxaError::Inference(e.to_string()))
}

/// A JavaScript `Error` named `TaxaError` with taxa's message and its `kind`.
fn js_error(error: TaxaError) -> JsValue {
    let js = js_sys::Error::new(&error.to_string());
    js.set_name("TaxaError");
    let _ = js_sys::Reflect::set(&js, &"kind".into(), &error.kind().into());
    js.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use taxa_core::bundle::BundleMetadata;
    use taxa_core::onnx_graph::{Dim, GraphBuilder, attr_int};

    /// A two-class bundle: the mean of the red channel against the blue.
    fn bundle() -> Vec<u8> {
        let mut g = GraphBuilder::new("red-or-blue");
        let x = g.input("image", &[Dim::Fixed(1), 3.into(), 8.into(), 8.into()]);
        let pooled = g.node("GlobalAveragePool", &[&x], vec![]);
        let flat = g.node("Flatten", &[&pooled], vec![attr_int("axis", 1)]);
        let w = g.initializer("w", &[3, 2], &[8.0, -8.0, 0.0, 0.0, -8.0, 8.0]);
        g.node_named("MatMul", &[&flat, &w], "logits", vec![]);
        g.output("logits", &[Dim::Fixed(1), 2.into()]);
        let mut metadata = BundleMetadata::with_labels(vec!["Rana rubra (Red Frog)".into(), "background".into()]);
        metadata.preprocess = taxa_core::PreprocessContract::imagenet_sized(8);
        metadata.non_taxa = vec![1];
        taxa_core::bundle::encode_bundle(g.build(), &metadata).unwrap()
    }

    fn rgba(w: u32, h: u32, colour: [u8; 3]) -> Vec<u8> {
        (0..w * h).flat_map(|_| [colour[0], colour[1], colour[2], 255]).collect()
    }

    #[test]
    fn canvas_pixels_classify_to_the_clis_json() {
        let classifier = load(&bundle()).unwrap();
        let red: serde_json::Value = serde_json::from_str(&classify_json(&classifier, &rgba(40, 30, [250, 10, 10]), 40, 30, &options(5, 0.8), None).unwrap()).unwrap();
        assert_eq!(red["predictions"][0]["label"], "Rana rubra (Red Frog)");
        assert_eq!(red["predictions"][0]["is_taxon"], true);
        let blue: serde_json::Value = serde_json::from_str(&classify_json(&classifier, &rgba(40, 30, [10, 10, 250]), 40, 30, &options(5, 0.8), None).unwrap()).unwrap();
        assert_eq!((blue["predictions"][0]["label"].as_str(), blue["predictions"][0]["is_taxon"].as_bool()), (Some("background"), Some(false)));
        let info: serde_json::Value = serde_json::from_str(&info_json(&classifier)).unwrap();
        assert_eq!((info["classes"].as_u64(), info["input"].clone()), (Some(2), serde_json::json!([8, 8])));
        assert_eq!(info["non_taxa"], serde_json::json!(["background"]));
    }

    #[test]
    fn frames_are_smoothed_and_bad_input_is_a_typed_error() {
        let classifier = load(&bundle()).unwrap();
        let mut smoother = ScoreSmoother::new(2).unwrap();
        let first = classify_json(&classifier, &rgba(8, 8, [250, 10, 10]), 8, 8, &options(2, 0.8), Some(&mut smoother)).unwrap();
        let second = classify_json(&classifier, &rgba(8, 8, [10, 10, 250]), 8, 8, &options(2, 0.8), Some(&mut smoother)).unwrap();
        let (a, b): (serde_json::Value, serde_json::Value) = (serde_json::from_str(&first).unwrap(), serde_json::from_str(&second).unwrap());
        // The mean of a sure red and a sure blue frame is about even.
        assert!(a["predictions"][0]["score"].as_f64().unwrap() > 0.99);
        assert!((b["predictions"][0]["score"].as_f64().unwrap() - 0.5).abs() < 0.01, "{b}");
        assert!(matches!(classify_json(&classifier, &[0; 10], 8, 8, &options(2, 0.8), None), Err(TaxaError::InvalidPixelBuffer(_))));
        assert!(matches!(classify_json(&classifier, &rgba(8, 8, [0, 0, 0]), 8, 8, &options(0, 0.8), None), Err(TaxaError::InvalidOptions(_))));
        assert!(matches!(load(b"not a bundle"), Err(TaxaError::ModelDecode(_))));
    }
}
