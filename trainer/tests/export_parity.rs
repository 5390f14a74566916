//! The ONNX written by `taxa export` against the tch model it came from:
//! in tract (what phones run), in onnxruntime, and under onnx.checker.

mod common;

use std::process::Command;

use common::*;
use tch::{Device, Kind, Tensor, nn::VarStore};
use taxa_core::PreprocessContract;
use taxa_core::onnx_pb::ModelProto;
use taxa_trainer::export::{ExportOptions, export_onnx};
use taxa_trainer::models::{Network, architecture_names, spec_for};
use tract_onnx::prelude::*;

fn random_network(vs: &VarStore, arch: &str, classes: i64, seed: i64) -> Network {
    tch::manual_seed(seed);
    let net = Network::new(&vs.root(), spec_for(arch, classes).unwrap());
    randomise_batch_norm(&net, seed + 1);
    net
}

fn tract_logits(model: &ModelProto, input: &Tensor) -> Tensor {
    let shape: Vec<usize> = input.size().iter().map(|d| *d as usize).collect();
    let plan = tract_onnx::onnx()
        .model_for_proto_model(model)
        .unwrap()
        .with_input_fact(0, f32::fact(&shape).into())
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let data = Vec::<f32>::try_from(&input.flatten(0, -1)).unwrap();
    let x = tract_ndarray::ArrayD::from_shape_vec(shape, data).unwrap().into_tensor();
    let out = plan.run(tvec![x.into_tvalue()]).unwrap();
    let view = out[0].to_plain_array_view::<f32>().unwrap();
    let dims: Vec<i64> = view.shape().iter().map(|d| *d as i64).collect();
    Tensor::from_slice(&view.iter().copied().collect::<Vec<_>>()).view(dims.as_slice())
}

/// Small inputs keep the suite fast (AlexNet's 6×6 pool then spreads a 1×1 map).
const SMALL_INPUT: u32 = 64;

#[test]
fn every_architecture_exports_and_matches_tch_in_tract() {
    for (i, arch) in architecture_names().enumerate() {
        let vs = VarStore::new(Device::Cpu);
        let net = random_network(&vs, arch, 10, 100 + i as i64);
        let size = SMALL_INPUT;
        let model = export_onnx(&net, &PreprocessContract::imagenet_sized(size), ExportOptions::default()).unwrap();
        let opset = model.opset_import[0].version;
        assert!(opset >= 13, "{arch}: opset {opset}");
        let input = Tensor::randn([1, 3, size as i64, size as i64], (Kind::Float, Device::Cpu));
        let expected = tch::no_grad(|| net.forward_t(&input, false));
        let err = relative_error(&tract_logits(&model, &input), &expected);
        assert!(err <= 1e-4, "{arch}: tract vs tch relative error {err:e}");
    }
}

#[test]
fn families_agree_in_tract_and_onnxruntime_at_batch_1_and_4() {
    let dir = temp_dir();
    let cases = [
        ("alexnet", true),
        ("densenet121", true),
        ("squeezenet1_1", true),
        ("squeezenet1_1", false),
        ("shufflenet_v2_x1_0", true),
        ("shufflenet_v2_x1_0", false),
        ("resnext50_32x4d", true),
        ("mobilenet_v2", true),
        ("mobilenet_v2_tf", false),
    ];
    for (i, (arch, fold)) in cases.iter().enumerate() {
        let vs = VarStore::new(Device::Cpu);
        let net = random_network(&vs, arch, 10, 200 + i as i64);
        let model = export_onnx(&net, &PreprocessContract::imagenet(), ExportOptions { fold_batch_norm: *fold }).unwrap();
        let b1 = Tensor::randn([1, 3, 224, 224], (Kind::Float, Device::Cpu));
        let b4 = Tensor::randn([4, 3, 224, 224], (Kind::Float, Device::Cpu));
        let (e1, e4) = tch::no_grad(|| (net.forward_t(&b1, false), net.forward_t(&b4, false)));
        for (input, expected, batch) in [(&b1, &e1, 1), (&b4, &e4, 4)] {
            let err = relative_error(&tract_logits(&model, input), expected);
            assert!(err <= 1e-4, "{arch} fold={fold} batch {batch}: tract relative error {err:e}");
        }

        let onnx = dir.path().join(format!("{arch}-{fold}.onnx"));
        std::fs::write(&onnx, prost::Message::encode_to_vec(&model)).unwrap();
        let inputs = dir.path().join(format!("{arch}-{fold}.in.safetensors"));
        Tensor::write_safetensors(&[("b1", &b1), ("b4", &b4)], &inputs).unwrap();
        let outputs = dir.path().join(format!("{arch}-{fold}.out.safetensors"));
        let report = python(&["check-onnx", path_str(&onnx), path_str(&inputs), path_str(&outputs)]);
        assert!(report.contains("\"checked\": true"), "{report}");
        for (name, expected) in [("b1", &e1), ("b4", &e4)] {
            let got = tensor_from_safetensors(&outputs, name);
            let err = relative_error(&got, expected);
            assert!(err <= 1e-4, "{arch} fold={fold} {name}: onnxruntime relative error {err:e}");
        }
    }
}

#[test]
fn export_then_classify_gives_the_tch_top5() {
    let dir = temp_dir();
    let vs = VarStore::new(Device::Cpu);
    let net = random_network(&vs, "shufflenet_v2_x0_5", 20, 300);
    // Trained heads give moderate logits; random ones saturate softmax into ties.
    tch::no_grad(|| {
        let mut fc = net.param("fc.weight").unwrap().shallow_clone();
        let _ = fc.g_mul_scalar_(0.01);
    });
    let weights = dir.path().join("w.safetensors");
    taxa_trainer::weights::save_safetensors(&net, &weights, None).unwrap();
    let bundle = dir.path().join("shuffle.onnx");
    let taxa = env!("CARGO_BIN_EXE_taxa");
    let out = Command::new(taxa)
        .args(["export", "--arch", "shufflenet_v2_x0_5", "--weights", path_str(&weights), "--num-classes", "20"])
        .args(["--out", path_str(&bundle), "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // A photo-like image, through core's decoder and preprocessing for tch.
    let photo = dir.path().join("photo.png");
    image::RgbImage::from_fn(300, 200, |x, y| image::Rgb([(x % 256) as u8, (y * 3 % 256) as u8, ((x * y) % 251) as u8])).save(&photo).unwrap();
    let contract = PreprocessContract::imagenet();
    let rgb = taxa_core::decode_image_file(&photo, &Default::default()).unwrap();
    let pixels = taxa_core::PixelsRef::try_from(&rgb).unwrap();
    let input = Tensor::from_slice(&contract.apply(pixels).unwrap()).view([1, 3, 224, 224]);
    let logits = tch::no_grad(|| net.forward_t(&input, false)).squeeze_dim(0);
    let expected: Vec<i64> = Vec::try_from(&logits.argsort(0, true).narrow(0, 0, 5)).unwrap();
    let probabilities = logits.softmax(0, Kind::Float);

    let out = Command::new(taxa).args(["classify", "--model", path_str(&bundle), path_str(&photo), "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let results: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got: Vec<i64> = results[0]["predictions"].as_array().unwrap().iter().map(|p| p["class_index"].as_i64().unwrap()).collect();
    assert_eq!(got, expected);
    for p in results[0]["predictions"].as_array().unwrap() {
        let tch_score = probabilities.double_value(&[p["class_index"].as_i64().unwrap()]);
        let score = p["score"].as_f64().unwrap();
        assert!((score - tch_score).abs() <= 1e-4 * tch_score.max(1e-3), "{p}: tch {tch_score}");
    }

    // Fewer classes than the weights' head: a fresh head, and the CLI says so.
    let small = dir.path().join("small.onnx");
    let out = Command::new(taxa)
        .args(["export", "--arch", "shufflenet_v2_x0_5", "--weights", path_str(&weights), "--num-classes", "3"])
        .args(["--out", path_str(&small)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fresh 3-class head"), "{}", String::from_utf8_lossy(&out.stderr));
    let info = Command::new(taxa).args(["inspect", path_str(&small), "--json"]).output().unwrap();
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(info["classes"], 3);
    assert_eq!(info["architecture"], "shufflenet_v2_x0_5");
}
