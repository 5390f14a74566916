//! The field cases in `tests/field-cases/` (each folder's CASE.md has the
//! command, what went wrong and the reference), run through the library as
//! an app would, plus generated files covering the rest of each kind.
//! Reference scores are those of the Pillow + torchvision + onnxruntime
//! pipeline in `tests/field-cases/tools/reference.py`, quoted in each CASE.md.

use std::path::{Path, PathBuf};

use prost::Message;
use taxa_core::onnx_pb::{ModelProto, tensor_shape_proto::dimension, type_proto};
use taxa_core::{Classification, Classifier, ClassifyOptions, DecodeLimits, OutputKind, TaxaError, decode_image};

fn case(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/field-cases").join(path)
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(case(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn load(model: &str, labels: &str) -> Classifier {
    Classifier::load_with_labels(case(model), Some(case(labels))).unwrap_or_else(|e| panic!("{model}: {e}"))
}

fn all_scores(classifier: &Classifier, image: &str) -> Classification {
    let options = ClassifyOptions { top_k: classifier.metadata().labels.len(), ..Default::default() };
    classifier.classify_bytes(&read(image), &options).unwrap_or_else(|e| panic!("{image}: {e}"))
}

fn score(result: &Classification, label: &str) -> f32 {
    result.predictions.iter().find(|p| p.label == label).unwrap_or_else(|| panic!("no {label} in {result:?}")).score
}

/// Checks the scores against the reference, in percent.
fn assert_scores(result: &Classification, expected: &[(&str, f32)], tolerance_pp: f32) {
    for (label, percent) in expected {
        let got = score(result, label) * 100.0;
        assert!((got - percent).abs() <= tolerance_pp, "{label}: {got:.2}% vs reference {percent}%");
    }
}

// --- tiff-planar-panic: a decoder panic is one image's error ---

#[test]
fn planar_tiff_panic_is_an_error_for_that_image_only() {
    let probe = load("tiff-planar-panic/probe_rgb_mean.onnx", "tiff-planar-panic/probe_labels.txt");
    let batch = ["cat.jpg", "planar_tiled_8bit_deflate.tif", "planar_tiled_8bit.tif", "coffee.jpg"];
    let results: Vec<_> = batch
        .iter()
        .map(|name| probe.classify_bytes(&read(&format!("tiff-planar-panic/{name}")), &ClassifyOptions::default()))
        .collect();
    let cat = results[0].as_ref().unwrap();
    assert_scores(cat, &[("R", 50.85), ("G", 28.64), ("B", 20.51)], 0.5);
    assert_scores(results[3].as_ref().unwrap(), &[("R", 64.97), ("G", 20.06), ("B", 14.98)], 0.5);
    for tiff in &results[1..3] {
        match tiff {
            // Decoded like Pillow, or refused as this one image's error.
            Ok(result) => assert_scores(result, &[("G", 41.53), ("R", 36.43), ("B", 22.04)], 0.5),
            // Refused by name before the decoder could assert.
            Err(TaxaError::UnsupportedImageFeature { format, feature }) => {
                assert_eq!(format, "TIFF");
                assert!(feature.contains("PlanarConfiguration 2"), "{feature}");
            }
            Err(other) => panic!("unexpected error kind: {other:?}"),
        }
    }
    // Straight decoding, through the public entry point, never panics either.
    let _ = decode_image(&read("tiff-planar-panic/planar_tiled_8bit.tif"), &DecodeLimits::default());
}

// --- webp-exif-prefix: orientation in both EXIF forms, every container ---

/// The dominant channel of each cell of the 4×4 grid probe, row by row.
fn grid(result: &Classification) -> Vec<String> {
    (0..4)
        .map(|row| {
            (0..4)
                .map(|col| {
                    let cell = |c: char| score(result, &format!("{c}{row}{col}"));
                    ['R', 'G', 'B'].into_iter().max_by(|a, b| cell(*a).total_cmp(&cell(*b))).unwrap()
                })
                .collect()
        })
        .collect()
}

#[test]
fn exif_orientation_is_read_with_and_without_the_exif_prefix() {
    let probe = load("webp-exif-prefix/probe_grid4.onnx", "webp-exif-prefix/probe_grid4_labels.txt");
    for file in [
        "stripes_orientation_6.jpg",
        "stripes_orientation_6_plain.webp",
        "stripes_orientation_6.webp",
        "stripes_orientation_6_prefixed.png",
    ] {
        let result = all_scores(&probe, &format!("webp-exif-prefix/{file}"));
        assert_eq!(grid(&result), ["RRRG", "GGGG", "GGGG", "BBBB"], "{file}");
    }
}

// --- tiff-associated-alpha ---

#[test]
fn associated_alpha_tiff_matches_pillow() {
    let bytes = read("tiff-associated-alpha/assoc_alpha_8bit.tif");
    let image = decode_image(&bytes, &DecodeLimits::default()).unwrap();
    let px = image.get_pixel(10, 10).0;
    for (got, want) in px.iter().zip([199u8, 99, 49]) {
        assert!(got.abs_diff(want) <= 1, "{px:?}");
    }
    let probe = load("tiff-associated-alpha/probe_rgb_mean.onnx", "tiff-associated-alpha/probe_labels.txt");
    let result = all_scores(&probe, "tiff-associated-alpha/assoc_alpha_8bit.tif");
    assert_scores(&result, &[("R", 76.35), ("G", 15.53), ("B", 8.12)], 0.5);
}

// --- jpeg-arithmetic: unsupported features are named, not called damaged ---

#[test]
fn arithmetic_jpeg_is_an_unsupported_feature() {
    let probe = load("jpeg-arithmetic/probe_rgb_mean.onnx", "jpeg-arithmetic/probe_labels.txt");
    assert_scores(&all_scores(&probe, "jpeg-arithmetic/testorig.jpg"), &[("R", 71.80), ("B", 14.88), ("G", 13.32)], 0.5);
    match probe.classify_bytes(&read("jpeg-arithmetic/testimgari.jpg"), &ClassifyOptions::default()) {
        Ok(result) => assert_scores(&result, &[("R", 71.79), ("B", 14.88), ("G", 13.33)], 0.5),
        Err(e @ TaxaError::UnsupportedImageFeature { .. }) => {
            let text = e.to_string();
            assert_eq!(text, "unsupported JPEG feature: arithmetic coding");
        }
        Err(other) => panic!("wrong error kind: {other:?}"),
    }
}

// --- size-limit-message ---

#[test]
fn size_limit_errors_name_the_real_size_and_the_limit() {
    let probe = load("size-limit-message/probe_rgb_mean.onnx", "size-limit-message/probe_labels.txt");
    for (file, width, height, limit) in [
        ("png_25000x100.png", 25000, 100, "20000 pixels wide"),
        ("png_100x25000.png", 100, 25000, "20000 pixels high"),
        ("jpeg_sof_60000x60000.jpg", 60000, 60000, "20000 pixels wide"),
        ("tiff_30000x10.tif", 30000, 10, "20000 pixels wide"),
        ("gif_30000x10.gif", 30000, 10, "20000 pixels wide"),
        ("bmp_30000x10.bmp", 30000, 10, "20000 pixels wide"),
        ("png_15000x15000.png", 15000, 15000, "200000000 pixels"),
    ] {
        let error = probe.classify_bytes(&read(&format!("size-limit-message/{file}")), &ClassifyOptions::default()).unwrap_err();
        match &error {
            TaxaError::ImageTooLarge { width: w, height: h, limit: l } => {
                assert_eq!((*w, *h, l.as_str()), (width, height, limit), "{file}");
            }
            other => panic!("{file}: {other:?}"),
        }
        assert_eq!(error.to_string(), format!("image is {width}×{height} pixels, over the limit of {limit}"));
    }
}

#[test]
fn memory_limit_errors_name_the_real_size() {
    let limits = DecodeLimits { max_alloc_bytes: 10_000, ..Default::default() };
    match decode_image(&read("jpeg-arithmetic/testorig.jpg"), &limits) {
        Err(TaxaError::ImageTooLarge { width: 227, height: 149, limit }) => assert!(limit.contains("10000 bytes"), "{limit}"),
        other => panic!("{other:?}"),
    }
}

// --- truncated-jpeg-silent ---

#[test]
fn truncated_jpeg_is_refused_unless_allowed() {
    let probe = load("truncated-jpeg-silent/probe_rgb_mean.onnx", "truncated-jpeg-silent/probe_labels.txt");
    let full = all_scores(&probe, "truncated-jpeg-silent/coffee_full.jpg");
    assert_scores(&full, &[("R", 65.12), ("G", 20.02), ("B", 14.86)], 0.5);
    assert!(!full.truncated);
    let cut = read("truncated-jpeg-silent/coffee_cut40.jpg");
    let error = probe.classify_bytes(&cut, &ClassifyOptions::default()).unwrap_err();
    assert!(matches!(error, TaxaError::ImageTruncated { .. }), "{error:?}");
    assert!(error.to_string().starts_with("image is truncated"), "{error}");
    let partial = probe.classify_bytes(&cut, &ClassifyOptions { allow_truncated: true, ..Default::default() }).unwrap();
    assert!(partial.truncated);
}

// --- onnx-external-data ---

#[test]
fn external_data_is_read_from_beside_the_model() {
    let model = load("onnx-external-data/ext_tiny.onnx", "onnx-external-data/labels3.txt");
    assert_scores(&all_scores(&model, "onnx-external-data/cat.jpg"), &[("R", 99.67), ("G", 0.32), ("B", 0.01)], 0.1);

    // Bytes have no folder: the error names the file and how to inline it.
    let bytes = read("onnx-external-data/ext_tiny.onnx");
    let labels = vec!["R".to_string(), "G".into(), "B".into()];
    let text = Classifier::from_bytes(&bytes, Some(labels)).unwrap_err().to_string();
    assert!(text.contains("ext_tiny.onnx.data") && text.contains("onnx.save"), "{text}");
}

fn with_location(location: &str) -> ModelProto {
    let mut model = ModelProto::decode(read("onnx-external-data/ext_tiny.onnx").as_slice()).unwrap();
    for tensor in &mut model.graph.as_mut().unwrap().initializer {
        for entry in &mut tensor.external_data {
            if entry.key == "location" {
                entry.value = location.to_string();
            }
        }
    }
    model
}

#[test]
fn external_data_locations_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("labels.txt"), "R\nG\nB\n").unwrap();
    let data = read("onnx-external-data/ext_tiny.onnx.data");
    let write_model = |name: &str, location: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, with_location(location).encode_to_vec()).unwrap();
        path
    };
    // A subfolder works.
    std::fs::create_dir(dir.path().join("weights")).unwrap();
    std::fs::write(dir.path().join("weights/w.bin"), &data).unwrap();
    let sub = write_model("sub.onnx", "weights/w.bin");
    let model = Classifier::load_with_labels(&sub, Some(dir.path().join("labels.txt"))).unwrap();
    assert_scores(&all_scores(&model, "onnx-external-data/cat.jpg"), &[("R", 99.67)], 0.1);
    // A missing file is named.
    let missing = write_model("missing.onnx", "nowhere.data");
    let text = Classifier::load_with_labels(&missing, Some(dir.path().join("labels.txt"))).unwrap_err().to_string();
    assert!(text.contains("nowhere.data") && text.contains("does not exist"), "{text}");
    // Leaving the model's folder is refused, even when the file exists.
    std::fs::write(dir.path().parent().unwrap().join("escape.data"), &data).ok();
    for location in ["../escape.data", "/etc/passwd"] {
        let escape = write_model("escape.onnx", location);
        let text = Classifier::load_with_labels(&escape, Some(dir.path().join("labels.txt"))).unwrap_err().to_string();
        assert!(text.contains("inside the model's folder"), "{location}: {text}");
    }
}

// --- onnx-final-softmax ---

fn softmax_model() -> ModelProto {
    ModelProto::decode(read("onnx-final-softmax/softmax_tiny.onnx").as_slice()).unwrap()
}

/// Re-routes the graph output through one more node of `op_type`.
fn append_node(mut model: ModelProto, op_type: &str) -> ModelProto {
    let graph = model.graph.as_mut().unwrap();
    let last = graph.output[0].name.clone();
    let renamed = format!("{last}_before_{op_type}");
    for node in &mut graph.node {
        for output in &mut node.output {
            if *output == last {
                *output = renamed.clone();
            }
        }
    }
    let mut node = graph.node.last().unwrap().clone();
    node.op_type = op_type.to_string();
    node.name = format!("appended_{op_type}");
    node.input = vec![renamed];
    node.output = vec![last];
    node.attribute.clear();
    graph.node.push(node);
    model
}

fn classify_proto(model: ModelProto) -> (OutputKind, Classification) {
    let labels = vec!["R".to_string(), "G".into(), "B".into()];
    let classifier = Classifier::from_model_proto(model, Some(labels)).unwrap();
    let options = ClassifyOptions { top_k: 3, ..Default::default() };
    let result = classifier.classify_bytes(&read("onnx-final-softmax/cat.jpg"), &options).unwrap();
    (classifier.metadata().output, result)
}

#[test]
fn a_final_softmax_means_probabilities() {
    let model = load("onnx-final-softmax/softmax_tiny.onnx", "onnx-final-softmax/labels3.txt");
    assert_eq!(model.metadata().output, OutputKind::Probabilities);
    assert_scores(&all_scores(&model, "onnx-final-softmax/cat.jpg"), &[("R", 99.67), ("G", 0.32), ("B", 0.01)], 0.1);
    let strict = ClassifyOptions { min_score: 0.9, ..Default::default() };
    let result = model.classify_bytes(&read("onnx-final-softmax/cat.jpg"), &strict).unwrap();
    assert_eq!(result.predictions.iter().map(|p| p.label.as_str()).collect::<Vec<_>>(), ["R"]);
    assert_eq!(result.rollup.unwrap().name, "R");

    for op in ["Flatten", "Identity"] {
        let (kind, result) = classify_proto(append_node(softmax_model(), op));
        assert_eq!(kind, OutputKind::Probabilities, "Softmax then {op}");
        assert_scores(&result, &[("R", 99.67)], 0.1);
    }
    // LogSoftmax: softmax of log-probabilities gives the probabilities back.
    let mut log = softmax_model();
    log.graph.as_mut().unwrap().node.iter_mut().filter(|n| n.op_type == "Softmax").for_each(|n| n.op_type = "LogSoftmax".into());
    let (kind, result) = classify_proto(log);
    assert_eq!(kind, OutputKind::Logits);
    assert_scores(&result, &[("R", 99.67)], 0.1);
    // A Sigmoid head: each class's own probability, shown as the model gives it.
    let logits = Classifier::from_model_proto(softmax_without_softmax(), Some(vec!["R".into(), "G".into(), "B".into()])).unwrap();
    // The same graph read as "probabilities": infer then returns its raw logits.
    let mut as_is = logits.metadata().clone();
    as_is.output = OutputKind::Probabilities;
    let raw_model = Classifier::new(softmax_without_softmax(), as_is).unwrap();
    let input = raw_model.preprocess_sized(&raw_model.decode_for_input(&read("onnx-final-softmax/cat.jpg"), false).unwrap()).unwrap();
    let raw = raw_model.infer(input).unwrap();
    let mut sigmoid = softmax_model();
    sigmoid.graph.as_mut().unwrap().node.iter_mut().filter(|n| n.op_type == "Softmax").for_each(|n| {
        n.op_type = "Sigmoid".into();
        n.attribute.clear();
    });
    let (kind, result) = classify_proto(sigmoid);
    assert_eq!(kind, OutputKind::Probabilities);
    for (index, label) in ["R", "G", "B"].iter().enumerate() {
        let expected = 1.0 / (1.0 + (-raw[index]).exp());
        assert!((score(&result, label) - expected).abs() < 1e-5, "{label}: {} vs sigmoid {expected}", score(&result, label));
    }
    // Plain logits keep today's behaviour.
    let (kind, result) = classify_proto(softmax_without_softmax());
    assert_eq!(kind, OutputKind::Logits);
    assert_scores(&result, &[("R", 99.67)], 0.1);
}

fn softmax_without_softmax() -> ModelProto {
    let mut model = softmax_model();
    let graph = model.graph.as_mut().unwrap();
    let softmax = graph.node.iter().position(|n| n.op_type == "Softmax").unwrap();
    let removed = graph.node.remove(softmax);
    let logits = removed.input[0].clone();
    graph.output[0].name = logits;
    model
}

// --- onnx-declared-input-299 and onnx-nhwc: the declared input is honoured ---

fn set_input_dims(model: &mut ModelProto, dims: &[Result<i64, &str>]) {
    let input = &mut model.graph.as_mut().unwrap().input[0];
    let Some(type_proto::Value::TensorType(tensor)) = input.r#type.as_mut().and_then(|t| t.value.as_mut()) else { panic!() };
    let shape = tensor.shape.as_mut().unwrap();
    for (dim, value) in shape.dim.iter_mut().zip(dims) {
        dim.value = Some(match value {
            Ok(v) => dimension::Value::DimValue(*v),
            Err(name) => dimension::Value::DimParam(name.to_string()),
        });
    }
}

#[test]
fn the_declared_input_size_is_used() {
    let probe = load("onnx-declared-input-299/size299_probe.onnx", "onnx-declared-input-299/labels2.txt");
    assert_eq!(probe.input_shape(), [1, 3, 299, 299]);
    assert_scores(&all_scores(&probe, "onnx-declared-input-299/cat.jpg"), &[("height_over_100", 95.21), ("zero", 4.79)], 0.1);
    // The probe outputs [H / 100, 0]: its first softmax score tells the height fed.
    let base = ModelProto::decode(read("onnx-declared-input-299/size299_probe.onnx").as_slice()).unwrap();
    for (dims, height) in [
        (vec![Ok(1), Ok(3), Ok(256), Ok(256)], 256),
        (vec![Ok(1), Ok(3), Ok(384), Ok(384)], 384),
        (vec![Ok(1), Ok(3), Ok(96), Ok(96)], 96),
        (vec![Ok(1), Ok(3), Ok(160), Ok(320)], 160),
        (vec![Err("N"), Ok(3), Err("H"), Err("W")], 224),
    ] {
        let mut model = base.clone();
        set_input_dims(&mut model, &dims);
        let labels = vec!["height_over_100".to_string(), "zero".into()];
        let classifier = Classifier::from_model_proto(model, Some(labels)).unwrap();
        let result = classifier.classify_bytes(&read("onnx-declared-input-299/cat.jpg"), &ClassifyOptions::default()).unwrap();
        let expected = 1.0 / (1.0 + (-(height as f32) / 100.0).exp());
        assert!((score(&result, "height_over_100") - expected).abs() < 1e-4, "{dims:?}: {result:?}");
    }
}

#[test]
fn channels_last_models_get_channels_last_input() {
    let model = load("onnx-nhwc/nhwc_keras_head.onnx", "onnx-nhwc/labels3.txt");
    assert_eq!(model.input_shape(), [1, 224, 224, 3]);
    assert_scores(&all_scores(&model, "onnx-nhwc/cat.jpg"), &[("R", 99.67), ("G", 0.32), ("B", 0.01)], 0.1);
    // Symbolic batch.
    let mut proto = ModelProto::decode(read("onnx-nhwc/nhwc_keras_head.onnx").as_slice()).unwrap();
    set_input_dims(&mut proto, &[Err("batch"), Ok(224), Ok(224), Ok(3)]);
    let (_, result) = classify_proto(proto);
    assert_scores(&result, &[("R", 99.67)], 0.1);
    // Anything else is refused with the declared shape.
    let mut gray = ModelProto::decode(read("onnx-nhwc/nhwc_keras_head.onnx").as_slice()).unwrap();
    set_input_dims(&mut gray, &[Ok(1), Ok(28), Ok(28), Ok(1)]);
    let text = Classifier::from_model_proto(gray, Some(vec!["R".into(), "G".into(), "B".into()])).unwrap_err().to_string();
    assert!(text.contains("[1,28,28,1]") && text.contains("[N,H,W,3]"), "{text}");
}

// --- training-crop-drops-images, classify side ---

#[test]
fn a_crop_equal_to_the_resize_accepts_every_size() {
    let bundle = Classifier::load(case("training-crop-drops-images/probe_rgb_mean_resize224_crop224.onnx")).unwrap();
    for file in ["107x128.jpg", "107x147.jpg", "224x224.jpg"] {
        let result = all_scores(&bundle, &format!("training-crop-drops-images/data224/red/{file}"));
        assert_scores(&result, &[("R", 86.79)], 0.3);
    }
}

// --- jpeg-short-app14: segments libjpeg skips do not cost the photo ---

#[test]
fn a_short_adobe_segment_is_skipped_as_libjpeg_does() {
    let probe = load("jpeg-short-app14/probe_grid.onnx", "jpeg-short-app14/probe_grid.labels.txt");
    // Pillow's pixels through the same probe (tools/reference.py), in percent.
    let result = all_scores(&probe, "jpeg-short-app14/owl_short_app14.jpg");
    assert_scores(&result, &[("p30", 4.46), ("p14", 3.90), ("p46", 3.67), ("p29", 3.54)], 0.2);
    // Both decode paths: the reduced one (classify_bytes above, at this size)
    // and the full one.
    decode_image(&read("jpeg-short-app14/owl_short_app14.jpg"), &DecodeLimits::default()).unwrap();
}

/// `bytes` with `segment` inserted right after SOI.
fn with_segment(bytes: &[u8], segment: &[u8]) -> Vec<u8> {
    [&bytes[..2], segment, &bytes[2..]].concat()
}

#[test]
fn every_segment_libjpeg_skips_leaves_the_pixels_as_they_were() {
    let original = read("tiff-planar-panic/cat.jpg");
    let expected = decode_image(&original, &DecodeLimits::default()).unwrap();
    let adobe = |payload: &[u8]| [&[0xFF, 0xEE][..], &((payload.len() + 2) as u16).to_be_bytes(), payload].concat();
    let mut extended_xmp = b"http://ns.adobe.com/xmp/extension/\0".to_vec();
    extended_xmp.extend_from_slice(&[0; 8]);
    let variants = [
        ("short Adobe APP14", with_segment(&original, &adobe(b"Adobe\0\x64\0"))),
        ("unknown Adobe colour transform", with_segment(&original, &adobe(b"Adobe\0\x64\0\0\0\0\x09"))),
        ("short extended XMP", with_segment(&original, &[&[0xFF, 0xE1][..], &((extended_xmp.len() + 2) as u16).to_be_bytes(), &extended_xmp].concat())),
        ("fill bytes before a marker", with_segment(&original, &[0xFF, 0xFF, 0xFF])),
    ];
    for (what, bytes) in variants {
        let got = decode_image(&bytes, &DecodeLimits::default()).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(got == expected, "{what}: other pixels");
    }
}

// --- labels-bom: names match as a person reads them ---

#[test]
fn a_byte_order_mark_is_not_part_of_the_first_label() {
    let probe = load("labels-bom/probe_grid.onnx", "labels-bom/grid_bom.txt");
    assert_eq!(probe.metadata().labels[0], "p0");
    let deny = ClassifyOptions { top_k: 49, deny: vec!["P0".into()], ..Default::default() };
    let result = probe.classify_bytes(&read("labels-bom/small.jpg"), &deny).unwrap();
    assert_eq!(result.predictions.len(), 48);
    assert!(result.predictions.iter().all(|p| p.label != "p0"));
    let unknown = ClassifyOptions { deny: vec!["p49".into()], ..Default::default() };
    assert!(matches!(probe.check_options(&unknown), Err(TaxaError::InvalidOptions(m)) if m.contains("`p49`")));
    assert!(matches!(probe.classify_bytes(&read("labels-bom/small.jpg"), &unknown), Err(TaxaError::InvalidOptions(_))));
}

// --- onnx-probabilities-not-softmax-last: probabilities behind layout ops ---

#[test]
fn probabilities_behind_a_transpose_are_not_softmaxed_again() {
    let model = load("onnx-probabilities-not-softmax-last/sq_softmax4d_op11.onnx", "onnx-probabilities-not-softmax-last/labels50.txt");
    assert_eq!(model.metadata().output, OutputKind::Probabilities);
    // onnxruntime on Pillow's pixels (tools/reference.py --probabilities), in percent.
    let result = all_scores(&model, "onnx-probabilities-not-softmax-last/small.jpg");
    assert_eq!(result.predictions[0].label, "class_015");
    assert_scores(&result, &[("class_015", 67.26), ("class_011", 18.10), ("class_047", 13.26)], 0.5);
}

// --- exif-orientation-long-type: the tag as any integer type ---

#[test]
fn an_orientation_stored_as_long_turns_the_photo_upright() {
    let probe = load("exif-orientation-long-type/probe_grid.onnx", "exif-orientation-long-type/probe_grid.labels.txt");
    let rotated = all_scores(&probe, "exif-orientation-long-type/small_orient_long6.jpg");
    let upright = all_scores(&probe, "exif-orientation-long-type/upright_reference_pillow.png");
    for p in &upright.predictions {
        let got = score(&rotated, &p.label);
        assert!((got - p.score).abs() <= 0.02, "{}: {got} vs Pillow's upright {}", p.label, p.score);
    }
    let (jpeg, png) = (
        decode_image(&read("exif-orientation-long-type/small_orient_long6.jpg"), &DecodeLimits::default()).unwrap(),
        decode_image(&read("exif-orientation-long-type/upright_reference_pillow.png"), &DecodeLimits::default()).unwrap(),
    );
    assert_eq!(jpeg.dimensions(), png.dimensions(), "turned upright");
}

// --- onnx-value-info-dynamic-batch: recorded symbolic shapes do not block loading ---

#[test]
fn a_dynamic_batch_model_with_value_info_loads_and_scores_as_without_it() {
    let folder = "onnx-value-info-dynamic-batch";
    let model = load(&format!("{folder}/sq_op17_shapeinf.onnx"), &format!("{folder}/labels50.txt"));
    let result = all_scores(&model, &format!("{folder}/small.jpg"));
    // onnxruntime on Pillow's pixels (tools/reference.py), in percent.
    assert_scores(&result, &[("class_015", 67.26), ("class_011", 18.10), ("class_047", 13.26)], 0.5);
    let mut bare = ModelProto::decode(read(&format!("{folder}/sq_op17_shapeinf.onnx")).as_slice()).unwrap();
    assert!(!bare.graph.as_ref().unwrap().value_info.is_empty(), "the case carries value_info");
    bare.graph.as_mut().unwrap().value_info.clear();
    let labels = taxa_core::labels::read_labels(&case(&format!("{folder}/labels50.txt"))).unwrap();
    let without = Classifier::from_model_proto(bare, Some(labels)).unwrap();
    let options = ClassifyOptions { top_k: 50, ..Default::default() };
    let reference = without.classify_bytes(&read(&format!("{folder}/small.jpg")), &options).unwrap();
    for p in &reference.predictions {
        assert!((score(&result, &p.label) - p.score).abs() <= 1e-6, "{}", p.label);
    }
}

// --- jpeg-reduced-decode-drift: the model input does not move with the decode path ---

/// The model input (0–255 levels, CHW) a probe that outputs its input gives
/// back: log(p_i / p_ref) × std × 255.
fn probe_input(probe: &Classifier, image: &str) -> Vec<f32> {
    let result = all_scores(probe, image);
    let reference = score(&result, "ref").ln();
    let plane = (probe.metadata().labels.len() - 1) / 3;
    let std = probe.metadata().preprocess.std;
    (0..3 * plane).map(|i| (score(&result, &format!("p{i}")).ln() - reference) * std[i / plane] * 255.0).collect()
}

#[test]
fn a_photo_and_its_pillow_decode_give_the_model_the_same_input() {
    let probe = load("jpeg-reduced-decode-drift/probe_full64.onnx", "jpeg-reduced-decode-drift/probe_full64.labels.txt");
    // 439×292 at 64 px: a 1/4 decode would be exactly the resize (73), where
    // it drifted 2.4–4.5 levels on average; it is decoded in full now.
    let jpeg = probe_input(&probe, "jpeg-reduced-decode-drift/castle_439x292.jpg");
    let pillow = probe_input(&probe, "jpeg-reduced-decode-drift/castle_439x292.png");
    let diffs: Vec<f32> = jpeg.iter().zip(&pillow).map(|(a, b)| (a - b).abs()).collect();
    let mean = diffs.iter().sum::<f32>() / diffs.len() as f32;
    let max = diffs.iter().cloned().fold(0.0, f32::max);
    // What remains is zune-jpeg against libjpeg on the full decode (IDCT and colour rounding).
    assert!(mean < 0.5 && max < 8.0, "mean {mean:.3}, max {max:.2} levels");
}

// --- onnx-value-info-dynamic-batch, the rest of the kind: a uint8 input ---

/// A plain model whose graph takes raw 8-bit pixels (preprocessing inside
/// the graph, as Model Maker and many quantized exports do) gets the resized
/// photo's pixels as they are, in the layout its shape declares.
#[test]
fn a_plain_model_with_a_uint8_input_gets_raw_pixels() {
    use taxa_core::onnx_graph::{Dim, GraphBuilder, attr_int, attr_ints};
    use taxa_core::onnx_pb::tensor_proto::DataType;
    let mut g = GraphBuilder::new("uint8_means");
    let x = g.input_typed("pixels", &[Dim::Fixed(1), 32.into(), 32.into(), 3.into()], DataType::Uint8);
    let float = g.node("Cast", &[&x], vec![attr_int("to", DataType::Float as i64)]);
    let means = g.node("ReduceMean", &[&float], vec![attr_ints("axes", &[1, 2]), attr_int("keepdims", 0)]);
    let scale = g.initializer("scale", &[1], &[0.01]);
    g.node_named("Mul", &[&means, &scale], "logits", vec![]);
    g.output("logits", &[Dim::Fixed(1), 3.into()]);
    let model = g.build();
    let classifier = Classifier::from_model_proto(model, Some(vec!["R".into(), "G".into(), "B".into()])).unwrap();
    assert_eq!(classifier.metadata().preprocess.input_type, taxa_core::preprocess::InputType::Uint8);
    // A flat (200, 100, 50) photo: the means are the pixels themselves, unnormalised.
    let photo = image::RgbImage::from_pixel(64, 48, image::Rgb([200, 100, 50]));
    let mut png = std::io::Cursor::new(Vec::new());
    photo.write_to(&mut png, image::ImageFormat::Png).unwrap();
    let options = ClassifyOptions { top_k: 3, ..Default::default() };
    let result = classifier.classify_bytes(png.get_ref(), &options).unwrap();
    let logits = [2.0f32, 1.0, 0.5];
    let total: f32 = logits.iter().map(|l| l.exp()).sum();
    for (label, logit) in ["R", "G", "B"].into_iter().zip(logits) {
        let want = logit.exp() / total;
        assert!((score(&result, label) - want).abs() < 1e-4, "{label}: {} vs {want}", score(&result, label));
    }
}
