//! taxa-core driven the way an app would: load a bundle, classify images in
//! every supported form, survive bad input, serve many threads.

mod common;

use std::sync::Arc;

use common::*;
use image::{DynamicImage, ImageFormat};
use taxa_core::bundle::{self, keys};
use taxa_core::preprocess::{Crop, Interpolation, Resize};
use taxa_core::{
    BundleMetadata, Classifier, ClassifyOptions, DecodeLimits, HigherRanks, PixelBuffer, PixelFormat, PreprocessContract, Rank,
    TaxaError, Taxonomy,
};

fn small_contract() -> PreprocessContract {
    PreprocessContract::imagenet_sized(32)
}

fn colour_classifier() -> Classifier {
    let contract = small_contract();
    let bytes = bundle::encode_bundle(colour_model(&contract, None), &colour_metadata(contract)).unwrap();
    Classifier::from_bytes(&bytes, None).unwrap()
}

fn top_label(classifier: &Classifier, bytes: &[u8]) -> String {
    classifier.classify_bytes(bytes, &ClassifyOptions::default()).unwrap().predictions[0].label.clone()
}

#[test]
fn bundle_file_round_trips_its_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("colours.onnx");
    let contract = small_contract();
    let mut metadata = colour_metadata(contract.clone());
    metadata.architecture = Some("colour-centroid".into());
    metadata.provenance = Some(taxa_core::Provenance { dataset: Some("unit".into()), epochs: Some(3), ..Default::default() });
    bundle::write_bundle(&path, colour_model(&contract, None), &metadata).unwrap();
    let classifier = Classifier::load(&path).unwrap();
    assert_eq!(classifier.metadata(), &metadata);
    assert_eq!(classifier.input_shape(), [1, 3, 32, 32]);
}

#[test]
fn plain_onnx_with_labels_file_uses_the_imagenet_contract() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("plain.onnx");
    let labels = dir.path().join("labels.txt");
    let contract = PreprocessContract::imagenet();
    std::fs::write(&model, prost::Message::encode_to_vec(&colour_model(&contract, None))).unwrap();
    std::fs::write(&labels, "red\ngreen\nblue\nyellow\n").unwrap();
    let classifier = Classifier::load_with_labels(&model, Some(&labels)).unwrap();
    assert_eq!(classifier.metadata().preprocess, PreprocessContract::imagenet());
    assert_eq!(classifier.input_shape(), [1, 3, 224, 224]);
    let png = encode(&DynamicImage::ImageRgb8(solid(300, 200, COLOURS[2].1)), ImageFormat::Png);
    assert_eq!(top_label(&classifier, &png), "blue");

    // No labels: a clear error, not a guess.
    assert!(matches!(Classifier::load(&model), Err(TaxaError::Labels(_))));
    // Wrong number of labels.
    std::fs::write(&labels, "red\ngreen\n").unwrap();
    let err = Classifier::load_with_labels(&model, Some(&labels)).unwrap_err();
    assert!(matches!(err, TaxaError::LabelCountMismatch { outputs: 4, labels: 2 }), "{err}");
}

#[test]
fn every_encoded_format_and_colour_type_classifies() {
    let classifier = colour_classifier();
    for (name, rgb) in COLOURS {
        let image = DynamicImage::ImageRgb8(solid(64, 48, rgb));
        for format in [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::WebP, ImageFormat::Gif, ImageFormat::Bmp, ImageFormat::Tiff] {
            let bytes = encode(&image, format);
            assert_eq!(top_label(&classifier, &bytes), name, "{format:?}");
        }
        // 16-bit and alpha variants of the same colour.
        let rgba16 = DynamicImage::ImageRgba16(image.to_rgba16());
        assert_eq!(top_label(&classifier, &encode(&rgba16, ImageFormat::Png)), name, "16-bit RGBA PNG");
        let rgba8 = DynamicImage::ImageRgba8(image.to_rgba8());
        assert_eq!(top_label(&classifier, &encode(&rgba8, ImageFormat::Png)), name, "RGBA PNG");
    }
    // Grayscale decodes to grey: white is nearest to yellow of our colours.
    let grey = DynamicImage::ImageLuma8(image::GrayImage::from_pixel(40, 40, image::Luma([250])));
    let result = classifier.classify_bytes(&encode(&grey, ImageFormat::Png), &ClassifyOptions::default()).unwrap();
    assert_eq!(result.predictions[0].label, "yellow");
    let grey16 = DynamicImage::ImageLuma16(grey.to_luma16());
    assert_eq!(top_label(&classifier, &encode(&grey16, ImageFormat::Png)), "yellow");
}

#[test]
fn cmyk_jpeg_decodes_to_the_right_colour() {
    // Pure magenta+yellow ink is red.
    let bytes = cmyk_jpeg(40, 30, [0, 255, 255, 0]);
    let image = taxa_core::decode_image(&bytes, &DecodeLimits::default()).unwrap();
    let px = image.get_pixel(20, 15).0;
    assert!(px[0] > 200 && px[1] < 60 && px[2] < 60, "{px:?}");
    assert_eq!(top_label(&colour_classifier(), &bytes), "red");
}

#[test]
fn exif_orientation_is_honoured() {
    // Stored sideways: left half red, right half blue. Orientation 6 means
    // "rotate 90° clockwise to view", which puts red on top.
    let mut stored = image::RgbImage::new(64, 32);
    for (x, _, px) in stored.enumerate_pixels_mut() {
        *px = image::Rgb(if x < 32 { COLOURS[0].1 } else { COLOURS[2].1 });
    }
    let bytes = jpeg_with_orientation(&stored, 6);
    let upright = taxa_core::decode_image(&bytes, &DecodeLimits::default()).unwrap();
    assert_eq!(upright.dimensions(), (32, 64));
    assert!(upright.get_pixel(16, 5).0[0] > 180, "top should be red");
    assert!(upright.get_pixel(16, 58).0[2] > 180, "bottom should be blue");

    // A model that only looks at the top rows sees red only when rotated.
    let contract = small_contract();
    let bundle = bundle::encode_bundle(colour_model(&contract, Some(8)), &colour_metadata(contract)).unwrap();
    let top_rows = Classifier::from_bytes(&bundle, None).unwrap();
    assert_eq!(top_label(&top_rows, &bytes), "red");
    // Orientation 8 (rotate 270° clockwise) puts blue on top.
    assert_eq!(top_label(&top_rows, &jpeg_with_orientation(&stored, 8)), "blue");
}

#[test]
fn pixel_buffers_in_every_layout_match_the_encoded_image() {
    let classifier = colour_classifier();
    let image = two_tone(50, 40, COLOURS[1].1, COLOURS[3].1);
    let expected = classifier.classify_rgb(&image, &ClassifyOptions::default()).unwrap();
    let (w, h) = image.dimensions();
    for (format, bpp) in [(PixelFormat::Rgb8, 3), (PixelFormat::Rgba8, 4), (PixelFormat::Bgra8, 4)] {
        for padding in [0usize, 12] {
            let stride = w as usize * bpp + padding;
            let mut data = vec![0xAB; stride * h as usize];
            for (x, y, px) in image.enumerate_pixels() {
                let at = y as usize * stride + x as usize * bpp;
                let [r, g, b] = px.0;
                let bytes: &[u8] = match format {
                    PixelFormat::Rgb8 => &[r, g, b],
                    PixelFormat::Rgba8 => &[r, g, b, 7],
                    PixelFormat::Bgra8 => &[b, g, r, 7],
                };
                data[at..at + bpp].copy_from_slice(bytes);
            }
            let buffer = PixelBuffer { width: w, height: h, row_stride: stride, format, data: &data };
            let got = classifier.classify_pixels(buffer, &ClassifyOptions::default()).unwrap();
            assert_eq!(got.predictions.len(), expected.predictions.len());
            for (a, b) in got.predictions.iter().zip(&expected.predictions) {
                assert_eq!(a.label, b.label, "{format:?} padding {padding}");
                assert!((a.score - b.score).abs() < 1e-5, "{format:?} padding {padding}: {} vs {}", a.score, b.score);
            }
        }
    }
}

#[test]
fn bad_images_give_typed_errors_and_the_classifier_survives() {
    let classifier = colour_classifier().with_decode_limits(DecodeLimits { max_width: 4000, max_height: 4000, max_pixels: 4_000_000, max_alloc_bytes: 64 << 20 });
    let good = encode(&DynamicImage::ImageRgb8(solid(64, 64, COLOURS[0].1)), ImageFormat::Jpeg);
    let png = encode(&DynamicImage::ImageRgb8(solid(64, 64, COLOURS[0].1)), ImageFormat::Png);
    let options = ClassifyOptions::default();
    type Check = fn(&TaxaError) -> bool;
    let corpus: Vec<(&str, Vec<u8>, Check)> = vec![
        ("empty", vec![], |e| matches!(e, TaxaError::EmptyImage)),
        ("text", b"hello, I am not a photo".to_vec(), |e| matches!(e, TaxaError::UnsupportedImageFormat)),
        ("random", (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect(), |e| matches!(e, TaxaError::UnsupportedImageFormat)),
        ("truncated jpeg", good[..good.len() / 3].to_vec(), |e| matches!(e, TaxaError::ImageTruncated { .. })),
        ("jpeg header only", good[..20].to_vec(), |e| matches!(e, TaxaError::ImageTruncated { .. })),
        ("truncated png", png[..png.len() - 30].to_vec(), |e| matches!(e, TaxaError::ImageTruncated { .. })),
        ("png bomb header", png_header_only(100_000, 100_000), |e| matches!(e, TaxaError::ImageTooLarge { .. })),
        ("png over pixel budget", png_header_only(3000, 3000), |e| matches!(e, TaxaError::ImageTooLarge { width: 3000, height: 3000, .. })),
        ("zero-sized png", png_header_only(0, 10), |e| matches!(e, TaxaError::ImageDecode(_))),
        ("gif signature only", b"GIF89a".to_vec(), |e| matches!(e, TaxaError::ImageTruncated { .. })),
    ];
    for (name, bytes, check) in corpus {
        let err = classifier.classify_bytes(&bytes, &options).expect_err(name);
        assert!(check(&err), "{name}: unexpected error {err:?}");
        assert!(!err.to_string().is_empty());
        // Still serving.
        assert_eq!(top_label(&classifier, &good), "red", "after {name}");
    }
    let missing = classifier.classify_file("/nonexistent/frog.jpg", &options).unwrap_err();
    assert!(matches!(missing, TaxaError::Io { .. }) && missing.to_string().contains("/nonexistent/frog.jpg"), "{missing}");
    let bad_options = ClassifyOptions { top_k: 0, ..Default::default() };
    assert!(matches!(classifier.classify_bytes(&good, &bad_options), Err(TaxaError::InvalidOptions(_))));
    let short = PixelBuffer { width: 10, height: 10, row_stride: 30, format: PixelFormat::Rgb8, data: &[0; 100] };
    assert!(matches!(classifier.classify_pixels(short, &options), Err(TaxaError::InvalidPixelBuffer(_))));
}

#[test]
fn malformed_models_give_typed_errors() {
    let contract = small_contract();
    let good = colour_model(&contract, None);
    let metadata = colour_metadata(contract.clone());
    let encoded = bundle::encode_bundle(good.clone(), &metadata).unwrap();

    assert!(matches!(Classifier::from_bytes(&[], None), Err(TaxaError::ModelDecode(_))));
    assert!(matches!(Classifier::from_bytes(b"not a model at all", None), Err(TaxaError::ModelDecode(_))));
    assert!(matches!(Classifier::from_bytes(&encoded[..encoded.len() / 2], None), Err(TaxaError::ModelDecode(_))));

    // An operator nobody implements.
    let mut unknown = good.clone();
    unknown.graph.as_mut().unwrap().node[0].op_type = "TotallyMadeUpOp".into();
    let err = Classifier::from_bytes(&bundle::encode_bundle(unknown, &metadata).unwrap(), None).unwrap_err();
    assert!(matches!(err, TaxaError::ModelLoad(_)), "{err:?}");

    // A node reading a value that does not exist.
    let mut dangling = good.clone();
    dangling.graph.as_mut().unwrap().node[1].input[0] = "nowhere".into();
    let err = Classifier::from_bytes(&bundle::encode_bundle(dangling, &metadata).unwrap(), None).unwrap_err();
    assert!(matches!(err, TaxaError::ModelLoad(_)), "{err:?}");

    // Weights of the wrong shape.
    let mut misshaped = good.clone();
    misshaped.graph.as_mut().unwrap().initializer[0].dims = vec![4, 2];
    assert!(Classifier::from_bytes(&bundle::encode_bundle(misshaped, &metadata).unwrap(), None).is_err());

    // A contract whose input size the graph cannot take.
    let mut wrong_size = metadata.clone();
    wrong_size.preprocess.resize = Resize::Stretch { width: 10, height: 10 };
    wrong_size.preprocess.crop = Crop::None;
    let fixed = pixel_linear_model(32, 32, 4);
    let err = Classifier::from_bytes(&bundle::encode_bundle(fixed.clone(), &wrong_size).unwrap(), None).unwrap_err();
    assert!(matches!(err, TaxaError::ModelLoad(_)), "{err:?}");
    assert!(Classifier::from_bytes(&bundle::encode_bundle(fixed, &metadata).unwrap(), None).is_ok());

    // Metadata that does not parse names its key.
    let mut proto = bundle::decode_model(&encoded).unwrap();
    for e in &mut proto.metadata_props {
        if e.key == keys::PREPROCESS {
            e.value = "{\"resize\": 3}".into();
        }
    }
    let err = Classifier::from_model_proto(proto, None).unwrap_err();
    assert!(err.to_string().contains(keys::PREPROCESS), "{err}");
}

#[test]
fn eight_threads_agree_with_serial_results() {
    let classifier = Arc::new(colour_classifier());
    let images: Vec<Vec<u8>> = (0..32u32)
        .map(|i| {
            let (_, a) = COLOURS[i as usize % 4];
            let (_, b) = COLOURS[(i as usize / 4) % 4];
            let image = DynamicImage::ImageRgb8(two_tone(40 + i, 30 + 2 * i, a, b));
            encode(&image, if i % 2 == 0 { ImageFormat::Png } else { ImageFormat::Jpeg })
        })
        .collect();
    let options = ClassifyOptions { top_k: 4, ..Default::default() };
    let serial: Vec<_> = images.iter().map(|b| classifier.classify_bytes(b, &options).unwrap()).collect();
    let images = Arc::new(images);
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let (classifier, images, options) = (classifier.clone(), images.clone(), options.clone());
            std::thread::spawn(move || {
                (0..images.len())
                    .map(|k| (t + k * 3) % images.len())
                    .map(|i| (i, classifier.classify_bytes(&images[i], &options).unwrap()))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for handle in handles {
        for (i, result) in handle.join().unwrap() {
            assert_eq!(result, serial[i], "image {i}");
        }
    }
}

#[test]
fn tied_species_roll_up_to_their_genus() {
    let contract = small_contract();
    let mut metadata = BundleMetadata::with_labels(vec!["Rana temporaria".into(), "Rana arvalis".into(), "Bufo bufo".into()]);
    metadata.preprocess = contract.clone();
    let frog = |genus: &str, family: &str, species: &str| Taxonomy {
        ranks: HigherRanks::from_lineage(["Animalia", "Chordata", "Amphibia", "Anura", family, genus]),
        species: species.into(),
        common_name: None,
    };
    metadata.taxonomy = Some(vec![
        frog("Rana", "Ranidae", "Rana temporaria"),
        frog("Rana", "Ranidae", "Rana arvalis"),
        frog("Bufo", "Bufonidae", "Bufo bufo"),
    ]);
    // Equal logits for the two Rana species, little for Bufo: softmax ≈ 0.4776, 0.4776, 0.0447.
    let bundle = bundle::encode_bundle(constant_model(&contract, &[3.0, 3.0, 0.0]), &metadata).unwrap();
    let classifier = Classifier::from_bytes(&bundle, None).unwrap();
    let photo = encode(&DynamicImage::ImageRgb8(solid(20, 20, [1, 2, 3])), ImageFormat::Png);
    let result = classifier.classify_bytes(&photo, &ClassifyOptions::default()).unwrap();
    let (p0, p1) = (&result.predictions[0], &result.predictions[1]);
    assert!((p0.score - p1.score).abs() < 1e-6, "species tie");
    assert!(p0.score < 0.5);
    let rollup = result.rollup.unwrap();
    assert_eq!((rollup.rank, rollup.name.as_str()), (Rank::Genus, "Rana"));
    assert!((rollup.score - 2.0 * p0.score).abs() < 1e-5 && rollup.score > 0.95);

    // Denying the genus leaves Bufo alone, and the roll-up follows.
    let deny = ClassifyOptions { deny: vec!["Rana".into()], ..Default::default() };
    let result = classifier.classify_bytes(&photo, &deny).unwrap();
    assert_eq!(result.predictions.len(), 1);
    assert_eq!(result.predictions[0].label, "Bufo bufo");
    assert_eq!(result.rollup, None);
}

#[test]
fn probabilities_output_is_not_softmaxed_again() {
    let contract = small_contract();
    let mut metadata = colour_metadata(contract.clone());
    metadata.output = taxa_core::OutputKind::Probabilities;
    let bundle = bundle::encode_bundle(constant_model(&contract, &[0.7, 0.1, 0.1, 0.1]), &metadata).unwrap();
    let classifier = Classifier::from_bytes(&bundle, None).unwrap();
    let photo = encode(&DynamicImage::ImageRgb8(solid(20, 20, [1, 2, 3])), ImageFormat::Png);
    let result = classifier.classify_bytes(&photo, &ClassifyOptions::default()).unwrap();
    assert!((result.predictions[0].score - 0.7).abs() < 1e-6);
}

#[test]
fn nearest_and_bicubic_contracts_run() {
    for interpolation in [Interpolation::Nearest, Interpolation::Bicubic, Interpolation::Lanczos3] {
        let mut contract = small_contract();
        contract.interpolation = interpolation;
        let bundle = bundle::encode_bundle(colour_model(&contract, None), &colour_metadata(contract)).unwrap();
        let classifier = Classifier::from_bytes(&bundle, None).unwrap();
        let photo = encode(&DynamicImage::ImageRgb8(solid(100, 70, COLOURS[3].1)), ImageFormat::Png);
        assert_eq!(top_label(&classifier, &photo), "yellow", "{interpolation:?}");
    }
}
