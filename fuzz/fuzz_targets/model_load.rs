//! Model loading: `Classifier::from_bytes` with a labels list, as the CLI
//! and the bindings load a plain ONNX file plus labels (or a bundle alone).
//! A model that loads must then classify a small picture or refuse it with
//! an error.
//!
//! The first byte chooses the labels: high bit set, none (the bundle's own);
//! otherwise `n = byte & 0x7f` (at least 1) labels. The rest is the model.
#![no_main]

use libfuzzer_sys::fuzz_target;
use taxa_core::{Classifier, ClassifyOptions, PixelBuffer, PixelFormat};

fuzz_target!(|data: &[u8]| {
    taxa_fuzz::init();
    let Some((&first, model)) = data.split_first() else { return };
    let labels = (first & 0x80 == 0).then(|| (0..(first & 0x7f).max(1)).map(|i| format!("class {i}")).collect::<Vec<_>>());
    let Ok(classifier) = Classifier::from_bytes(model, labels.clone()) else { return };
    let classes = classifier.metadata().labels.len();
    if let Some(labels) = &labels {
        assert_eq!(classes, labels.len(), "the given labels replace the bundle's");
    }
    let (w, h) = (13u32, 9u32);
    let pixels: Vec<u8> = (0..w * h * 3).map(|i| (i * 37 % 256) as u8).collect();
    let buffer = PixelBuffer { width: w, height: h, row_stride: (w * 3) as usize, format: PixelFormat::Rgb8, data: &pixels };
    let options = ClassifyOptions::default();
    if let Ok(result) = classifier.classify_pixels(buffer, &options) {
        taxa_fuzz::check_classification(&result, classes, options.top_k);
    }
});
