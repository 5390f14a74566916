//! Our tch models against torchvision 0.26: the same state-dict keys and
//! shapes, and the same eval logits from the same random weights.

mod common;

use common::*;
use tch::{Device, nn::VarStore};
use taxa_trainer::models::{Network, architecture_names, spec_for};
use taxa_trainer::weights::{HeadOutcome, WeightsError, load_state_dict, read_state_dict, save_safetensors};

#[test]
fn state_dict_keys_and_shapes_match_torchvision() {
    let dir = temp_dir();
    let out = dir.path().join("keys.json");
    python(&["keys", path_str(&out)]);
    let reference: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    // EfficientNet-Lite is not torchvision's: tests/efficientnet_lite.rs checks it against its own reference.
    // mobilenet_v2_tf has mobilenet_v2's keys (a unit test checks) and TensorFlow's padding.
    for arch in architecture_names().filter(|a| !a.starts_with("efficientnet_lite") && *a != "mobilenet_v2_tf") {
        let expected: Vec<(String, Vec<i64>)> = reference[arch]
            .as_array()
            .unwrap_or_else(|| panic!("{arch} missing from torchvision's list"))
            .iter()
            .map(|e| (e[0].as_str().unwrap().to_string(), e[1].as_array().unwrap().iter().map(|d| d.as_i64().unwrap()).collect()))
            .collect();
        let ours: Vec<(String, Vec<i64>)> = spec_for(arch, 1000).unwrap().parameters().into_iter().map(|p| (p.name, p.shape)).collect();
        assert_eq!(ours.len(), expected.len(), "{arch}: key count");
        for (a, b) in ours.iter().zip(&expected) {
            assert_eq!(a, b, "{arch}: keys and shapes in state-dict order");
        }
    }
}

/// One variant of each of the study's five families, and MobileNetV2 (the
/// iNaturalist models' backbone, and MediaPipe's).
const FAMILIES: [&str; 6] = ["alexnet", "densenet121", "squeezenet1_1", "shufflenet_v2_x1_0", "resnext50_32x4d", "mobilenet_v2"];

#[test]
fn eval_logits_match_torchvision_for_each_family() {
    let dir = temp_dir();
    python(&["parity", path_str(dir.path()), &FAMILIES.join(",")]);
    for (index, arch) in FAMILIES.iter().enumerate() {
        let weights = dir.path().join(if index % 2 == 0 { format!("{arch}.safetensors") } else { format!("{arch}.pth") });
        let io = dir.path().join(format!("{arch}.io.safetensors"));
        let vs = VarStore::new(Device::Cpu);
        let net = Network::new(&vs.root(), spec_for(arch, 10).unwrap());
        let outcome = load_state_dict(&net, read_state_dict(&weights).unwrap(), &weights, false).unwrap();
        assert_eq!(outcome, HeadOutcome::Loaded);
        let input = tensor_from_safetensors(&io, "input");
        let expected = tensor_from_safetensors(&io, "logits");
        let logits = tch::no_grad(|| net.forward_t(&input, false));
        let err = relative_error(&logits, &expected);
        assert!(err <= 1e-5, "{arch}: relative error {err:e}");
        // Saved weights keep torchvision's names: PyTorch loads them strictly.
        let saved = dir.path().join(format!("{arch}.saved.safetensors"));
        save_safetensors(&net, &saved, None).unwrap();
        let again = read_state_dict(&saved).unwrap();
        let mut names: Vec<String> = again.iter().map(|(n, _)| n.clone()).collect();
        names.sort();
        let mut expected_names: Vec<String> = net.spec().parameters().into_iter().map(|p| p.name).collect();
        expected_names.sort();
        assert_eq!(names, expected_names, "{arch}");
    }
    // torchvision itself loads one of our files (strict) and reproduces its logits.
    let saved = dir.path().join("squeezenet1_1.saved.safetensors");
    let io = dir.path().join("squeezenet1_1.io.safetensors");
    let out = python(&["load-check", "squeezenet1_1", "10", path_str(&saved), path_str(&io)]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(report["relative_error"].as_f64().unwrap() <= 1e-5, "{report}");
}

#[test]
fn weight_errors_name_the_key_and_a_new_head_is_made_on_request() {
    let dir = temp_dir();
    let vs = VarStore::new(Device::Cpu);
    let net = Network::new(&vs.root(), spec_for("squeezenet1_1", 1000).unwrap());
    let file = dir.path().join("sq.safetensors");
    save_safetensors(&net, &file, None).unwrap();
    let tensors = || read_state_dict(&file).unwrap();

    // Missing key.
    let missing: Vec<_> = tensors().into_iter().filter(|(n, _)| n != "features.3.squeeze.bias").collect();
    let err = load_state_dict(&net, missing, &file, false).unwrap_err();
    assert!(matches!(&err, WeightsError::Missing { key, .. } if key == "features.3.squeeze.bias"), "{err}");
    // Extra key.
    let mut extra = tensors();
    extra.push(("features.99.weight".into(), tch::Tensor::zeros([1], (tch::Kind::Float, Device::Cpu))));
    let err = load_state_dict(&net, extra, &file, false).unwrap_err();
    assert!(err.to_string().contains("features.99.weight"), "{err}");
    // Mis-shaped tensor.
    let misshaped: Vec<_> = tensors()
        .into_iter()
        .map(|(n, t)| if n == "features.0.weight" { (n, t.narrow(0, 0, 32)) } else { (n, t) })
        .collect();
    let err = load_state_dict(&net, misshaped, &file, false).unwrap_err();
    assert!(matches!(&err, WeightsError::Shape { key, found, .. } if key == "features.0.weight" && found[0] == 32), "{err}");
    // A wrong architecture shows up as unexpected keys.
    let vs2 = VarStore::new(Device::Cpu);
    let shuffle = Network::new(&vs2.root(), spec_for("shufflenet_v2_x0_5", 1000).unwrap());
    let err = load_state_dict(&shuffle, tensors(), &file, false).unwrap_err();
    assert!(matches!(err, WeightsError::Unexpected { .. }), "{err}");
    // Unknown format.
    let txt = dir.path().join("w.txt");
    std::fs::write(&txt, "x").unwrap();
    assert!(matches!(read_state_dict(&txt), Err(WeightsError::UnknownFormat { .. })));

    // A 10-class network takes the 1000-class file with a fresh head only on request.
    let vs3 = VarStore::new(Device::Cpu);
    let small = Network::new(&vs3.root(), spec_for("squeezenet1_1", 10).unwrap());
    let head_before = small.param("classifier.1.weight").unwrap().copy();
    assert!(matches!(load_state_dict(&small, tensors(), &file, false), Err(WeightsError::Shape { .. })));
    let outcome = load_state_dict(&small, tensors(), &file, true).unwrap();
    assert_eq!(outcome, HeadOutcome::Replaced { file_classes: 1000 });
    assert!(small.param("classifier.1.weight").unwrap().equal(&head_before), "fresh head kept");
    let backbone = small.param("features.0.weight").unwrap();
    assert!(backbone.equal(net.param("features.0.weight").unwrap()), "backbone loaded");
}

#[test]
fn freezing_trains_exactly_the_head() {
    for arch in FAMILIES {
        let vs = VarStore::new(Device::Cpu);
        let mut net = Network::new(&vs.root(), spec_for(arch, 7).unwrap());
        net.set_backbone_trainable(false);
        let trainable = net.trainable_names();
        let head = &net.spec().head;
        assert_eq!(trainable, vec![format!("{head}.bias"), format!("{head}.weight")], "{arch}");
        net.set_backbone_trainable(true);
        let all_weights = net.spec().parameters().iter().filter(|p| p.kind == taxa_trainer::models::ParamKind::Weight).count();
        assert_eq!(net.trainable_names().len(), all_weights, "{arch}");
    }
}
