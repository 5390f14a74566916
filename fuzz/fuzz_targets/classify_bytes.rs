//! Encoded image bytes → `Classifier::classify_bytes` on a 140-byte probe
//! model (the mean of each normalised channel): decode, orientation,
//! resize/crop, normalisation, inference, softmax, top-k and roll-up.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use taxa_core::{Classifier, ClassifyOptions};

static PROBE: LazyLock<Classifier> = LazyLock::new(|| {
    let model = include_bytes!("../../tests/field-cases/tiff-planar-panic/probe_rgb_mean.onnx");
    Classifier::from_bytes(model, Some(vec!["R".into(), "G".into(), "B".into()])).expect("the probe model loads").with_decode_limits(taxa_fuzz::FUZZ_LIMITS)
});

fuzz_target!(|data: &[u8]| {
    taxa_fuzz::init();
    let options = ClassifyOptions::default();
    if let Ok(result) = PROBE.classify_bytes(data, &options) {
        taxa_fuzz::check_classification(&result, 3, options.top_k);
        assert_eq!(result.predictions.len(), 3, "no filters set, so every class is listed");
    }
});
