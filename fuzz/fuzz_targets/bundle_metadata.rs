//! Bundle metadata: ONNX bytes → `bundle::decode_model` →
//! `BundleMetadata::from_model_proto`, then what a loader does with accepted
//! metadata (taxonomy per class, the preprocessing contract on small
//! pictures), and a write/read round trip.
//!
//! Random protobuf rarely spells a `taxa.*` key, so each input is also read
//! a second way: split at 0xFF bytes (never in UTF-8), its pieces are the
//! values of the taxa keys in `KEYS` order, which lets mutations reach the
//! JSON of every key directly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use taxa_core::bundle::{self, keys};
use taxa_core::onnx_pb::{ModelProto, StringStringEntryProto};
use taxa_core::{BundleMetadata, PixelFormat, PixelsRef};

/// The order the seeds (fuzz/make_seeds.py) write the values in.
const KEYS: [&str; 7] =
    [keys::FORMAT_VERSION, keys::LABELS, keys::TAXONOMY, keys::PREPROCESS, keys::OUTPUT, keys::ARCHITECTURE, keys::PROVENANCE];

fuzz_target!(|data: &[u8]| {
    taxa_fuzz::init();
    if let Ok(model) = bundle::decode_model(data) {
        check(&model);
    }
    let mut model = ModelProto::default();
    for (key, value) in KEYS.iter().zip(data.split(|&b| b == 0xFF)) {
        if !value.is_empty() {
            let value = String::from_utf8_lossy(value).into_owned();
            model.metadata_props.push(StringStringEntryProto { key: key.to_string(), value });
        }
    }
    check(&model);
});

fn check(model: &ModelProto) {
    let Ok(Some(metadata)) = BundleMetadata::from_model_proto(model) else { return };
    for i in 0..metadata.labels.len() {
        let taxonomy = metadata.taxonomy_of(i);
        assert!(taxonomy.lineage().count() >= 1, "every class has at least its species");
    }
    let shape = metadata.preprocess.input_shape().expect("accepted metadata has a fixed input shape");
    let inputs: usize = shape.iter().product();
    // Bounded so one input stays fast; the contract allows up to 8192×8192.
    if inputs <= 3 * 512 * 512 {
        for (w, h) in [(1u32, 1u32), (3, 7), (61, 2)] {
            let pixels = vec![200u8; (w * h * 3) as usize];
            let pixels = PixelsRef::new(w, h, PixelFormat::Rgb8, &pixels).expect("a valid buffer");
            if let Ok(tensor) = metadata.preprocess.apply(pixels) {
                assert_eq!(tensor.len(), inputs, "tensor for {w}×{h} does not match the input shape {shape:?}");
            }
        }
    }

    // What from_model_proto accepts, write_into writes back to the same.
    let mut again = ModelProto { graph: Some(Default::default()), ..Default::default() };
    metadata.write_into(&mut again).expect("accepted metadata is valid");
    let reread = bundle::decode_model(&again.encode_to_vec()).expect("a written bundle decodes");
    let mut reread = BundleMetadata::from_model_proto(&reread).expect("a written bundle reads").expect("it has metadata");
    // serde_json parses floats without `float_roundtrip`: allow the last bit.
    let close32 = |a: f32, b: f32| a == b || (a - b).abs() <= 1e-6 * a.abs().max(b.abs());
    let close64 = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs()),
        (a, b) => a == b,
    };
    let (p, q) = (&metadata.preprocess, &mut reread.preprocess);
    for c in 0..3 {
        assert!(close32(p.mean[c], q.mean[c]) && close32(p.std[c], q.std[c]), "mean/std changed: {p:?} → {q:?}");
    }
    assert!(close32(p.value_scale, q.value_scale), "value_scale changed: {} → {}", p.value_scale, q.value_scale);
    (q.mean, q.std, q.value_scale) = (p.mean, p.std, p.value_scale);
    if let (Some(a), Some(b)) = (&metadata.provenance, &mut reread.provenance) {
        assert!(close64(a.val_top1_error, b.val_top1_error) && close64(a.val_top5_error, b.val_top5_error), "errors changed");
        (b.val_top1_error, b.val_top5_error) = (a.val_top1_error, a.val_top5_error);
    }
    assert_eq!(reread, metadata, "metadata changed in a write/read round trip");
}
