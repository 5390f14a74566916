//! Training and the device read a photo the same way under any contract: a
//! tiny network trained for a few steps on the trainer's batches under a BGR
//! and under an NHWC contract, evaluated by the trainer, exported, and run by
//! core's `Classifier` on the same photos: the same top-1 on every photo and
//! probabilities within 1e-4.

use image::{Rgb, RgbImage};
use rand::{Rng, SeedableRng, rngs::StdRng};
use tch::{Device, Kind, Tensor, nn::VarStore};
use taxa_core::preprocess::{ChannelOrder, Layout};
use taxa_core::{BundleMetadata, Classifier, ClassifyOptions, OutputKind, PixelsRef, PreprocessContract, bundle};
use taxa_trainer::export::{ExportOptions, export_onnx};
use taxa_trainer::models::{Conv2dConfig, NetSpec, Network, SpecBuilder};
use taxa_trainer::train::{Optimizer, OptimizerKind, batch_input, network_input};

const CLASSES: i64 = 3;

/// conv → BN → ReLU → pool → linear: enough to make every channel count.
fn tiny() -> NetSpec {
    let (mut b, x) = SpecBuilder::new();
    let x = b.conv_bn("conv", "bn", x, Conv2dConfig::new(3, 8, 3).stride(2).padding(1), true);
    let x = b.adaptive_avg_pool(x, 1);
    let x = b.flatten(x);
    b.linear("fc", x, 8, CLASSES);
    b.finish("tiny", "fc", CLASSES)
}

/// Photos whose class is their dominant colour (red, green, blue), with
/// noise, of assorted sizes (the contract resizes and crops them).
fn photos() -> Vec<(RgbImage, i64)> {
    let mut rng = StdRng::seed_from_u64(5);
    (0..12)
        .map(|i| {
            let class = i % CLASSES;
            let (w, h) = (rng.random_range(40..80), rng.random_range(40..80));
            let image = RgbImage::from_fn(w, h, |_, _| {
                let mut px = [0u8; 3];
                for (c, v) in px.iter_mut().enumerate() {
                    let base = if c as i64 == class { 170.0 } else { 70.0 };
                    *v = (base + rng.random_range(-60.0..60.0f32)).clamp(0.0, 255.0) as u8;
                }
                Rgb(px)
            });
            (image, class)
        })
        .collect()
}

fn agree_under(contract: PreprocessContract) {
    let photos = photos();
    let (w, h) = contract.input_size().unwrap();
    // What the trainer's image cache holds: core's resize and crop, 8-bit.
    let pixels: Vec<u8> = photos.iter().flat_map(|(image, _)| contract.resize_to_input(PixelsRef::try_from(image).unwrap()).unwrap().0).collect();
    let n = photos.len();
    let input = batch_input(&pixels, n, w, h, &contract, Device::Cpu);
    match contract.layout {
        Layout::Nchw => assert_eq!(input.size(), [n as i64, 3, h as i64, w as i64]),
        Layout::Nhwc => assert_eq!(input.size(), [n as i64, h as i64, w as i64, 3]),
    }
    let x = network_input(input, contract.layout);
    let targets = Tensor::from_slice(&photos.iter().map(|(_, c)| *c).collect::<Vec<_>>());

    tch::manual_seed(1);
    let vs = VarStore::new(Device::Cpu);
    let net = Network::new(&vs.root(), tiny());
    let params: Vec<(String, Tensor)> = net.trainable_names().into_iter().map(|n| (n.clone(), net.param(&n).unwrap().shallow_clone())).collect();
    let mut optimizer = Optimizer::new(OptimizerKind::Sgd, 0.9, 1e-4);
    let mut losses = Vec::new();
    for _ in 0..8 {
        let loss = net.forward_t(&x, true).cross_entropy_for_logits(&targets);
        losses.push(loss.double_value(&[]));
        loss.backward();
        optimizer.step(&params, 0.1);
    }
    assert!(losses.last().unwrap() < &losses[0], "training moved: {losses:?}");

    // The trainer's evaluation: softmax over the evaluation-mode logits.
    let trainer: Vec<Vec<f32>> = {
        let probabilities = tch::no_grad(|| net.forward_t(&x, false)).softmax(1, Kind::Float);
        (0..n as i64).map(|i| Vec::<f32>::try_from(&probabilities.get(i)).unwrap()).collect()
    };

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.onnx");
    let metadata = BundleMetadata {
        labels: vec!["red".into(), "green".into(), "blue".into()],
        taxonomy: None,
        preprocess: contract.clone(),
        output: OutputKind::Logits,
        architecture: Some("tiny".into()),
        provenance: None,
        non_taxa: Vec::new(),
    };
    bundle::write_bundle(&path, export_onnx(&net, &contract, ExportOptions::default()).unwrap(), &metadata).unwrap();
    let classifier = Classifier::load(&path).unwrap();
    let options = ClassifyOptions { top_k: CLASSES as usize, ..Default::default() };
    for (i, (image, _)) in photos.iter().enumerate() {
        let device = classifier.classify_rgb(image, &options).unwrap();
        let expected = &trainer[i];
        let top1 = (0..expected.len()).max_by(|&a, &b| expected[a].total_cmp(&expected[b])).unwrap();
        assert_eq!(device.predictions[0].class_index, top1, "photo {i}: top-1");
        for p in &device.predictions {
            assert!((p.score - expected[p.class_index]).abs() < 1e-4, "photo {i}, class {}: device {} vs trainer {}", p.class_index, p.score, expected[p.class_index]);
        }
    }
}

#[test]
fn training_and_the_device_agree_under_a_bgr_contract() {
    agree_under(PreprocessContract { channel_order: ChannelOrder::Bgr, ..PreprocessContract::imagenet_sized(32) });
}

#[test]
fn training_and_the_device_agree_under_an_nhwc_contract() {
    agree_under(PreprocessContract { layout: Layout::Nhwc, ..PreprocessContract::imagenet_sized(32) });
}

#[test]
fn the_batch_builder_follows_the_channel_order() {
    // One pure-red pixel: under BGR the model's channel 2 is the red one.
    let rgb = PreprocessContract::imagenet_sized(32);
    let bgr = PreprocessContract { channel_order: ChannelOrder::Bgr, ..rgb.clone() };
    let red: Vec<u8> = [255u8, 0, 0].repeat(32 * 32);
    let a = batch_input(&red, 1, 32, 32, &rgb, Device::Cpu);
    let b = batch_input(&red, 1, 32, 32, &bgr, Device::Cpu);
    let channel = |t: &Tensor, c: i64| t.get(0).get(c).mean(Kind::Float).double_value(&[]);
    assert!((channel(&a, 0) - channel(&b, 2)).abs() < 1e-6);
    assert!((channel(&a, 2) - channel(&b, 0)).abs() < 1e-6);
    assert!(channel(&a, 0) > 2.0 && channel(&b, 0) < -1.0, "red is high in R, blue is low");
}
