//! The graph rewrites and kernels core applies at load (taxa_core::graph_rewrite,
//! taxa_core::kernels) against onnxruntime on the original, unrewritten file:
//! SqueezeNet 1.1, ShuffleNetV2 x1.0 and EfficientNet-Lite0, with the ONNX
//! rewrites arm64 uses (sliced stem, separable max pools) and with x86-64's
//! default (the kernels), through the classifier's own load path and through a
//! plain tract plan of the rewritten graph.

mod common;

use common::*;
use tch::{Device, Kind, Tensor, nn::VarStore};
use taxa_core::graph_rewrite::{self, Rewrite};
use taxa_core::kernels::Isa;
use taxa_core::kernels::ops::{Family, substitute};
use taxa_core::onnx_pb::ModelProto;
use taxa_core::{Classifier, PreprocessContract};
use taxa_trainer::export::{ExportOptions, export_onnx};
use taxa_trainer::models::{Network, spec_for};
use tract_onnx::prelude::*;

const SHAPE: [usize; 4] = [1, 3, 224, 224];

/// tract's logits for the rewritten graph, built as the classifier builds it;
/// also the names of the optimised plan's operators.
fn rewritten_logits(model: &ModelProto, input: &[f32], rewrites: &[Rewrite]) -> (Vec<f32>, Vec<String>) {
    let (rewritten, _) = graph_rewrite::rewrite(model, SHAPE, rewrites);
    let mut inference = tract_onnx::onnx().model_for_proto_model(&rewritten).unwrap();
    inference.set_input_fact(0, f32::fact(SHAPE).into()).unwrap();
    let mut typed = inference.into_typed().unwrap();
    graph_rewrite::insert_barriers(&mut typed).unwrap();
    substitute(&mut typed, &graph_rewrite::kernel_families(rewrites), Isa::detect()).unwrap();
    let optimised = typed.into_optimized().unwrap();
    let ops = optimised.nodes().iter().map(|n| n.op().name().to_string()).collect();
    let plan = optimised.into_runnable().unwrap();
    let x = tract_ndarray::ArrayD::from_shape_vec(&SHAPE[..], input.to_vec()).unwrap().into_tensor();
    let out = plan.run(tvec![x.into_tvalue()]).unwrap();
    (out[0].to_plain_array_view::<f32>().unwrap().iter().copied().collect(), ops)
}

fn max_relative_error(got: &[f32], want: &[f32]) -> f64 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().map(|v| v.abs() as f64).fold(1e-12, f64::max);
    got.iter().zip(want).map(|(a, b)| (*a as f64 - *b as f64).abs()).fold(0.0, f64::max) / scale
}

#[test]
fn rewritten_graphs_match_onnxruntime_on_the_original_file() {
    let dir = temp_dir();
    // Per architecture: the ONNX rewrites applied, and taxa's kernels in x86-64's default plan.
    let cases: [(&str, &[Rewrite], &[&str]); 3] = [
        ("squeezenet1_1", &[Rewrite::SlicedStem, Rewrite::SeparableMaxPool, Rewrite::SeparableMaxPool, Rewrite::SeparableMaxPool], &["TaxaDirectConv", "TaxaMaxPool"]),
        ("shufflenet_v2_x1_0", &[Rewrite::SeparableMaxPool], &["TaxaDirectConv", "TaxaMaxPool", "TaxaDepthwise"]),
        ("efficientnet_lite0", &[], &["TaxaDirectConv", "TaxaDepthwise"]),
    ];
    let onnx_rewrites = [Rewrite::SlicedStem, Rewrite::SeparableMaxPool];
    let kernels = [Family::Depthwise, Family::DirectConv, Family::MaxPool].map(Rewrite::Kernel);
    assert_eq!(graph_rewrite::kernel_families(graph_rewrite::DEFAULT).len(), 3, "x86-64's default has the three kernel families");
    for (i, (arch, expected, kernel_ops)) in cases.iter().enumerate() {
        let vs = VarStore::new(Device::Cpu);
        tch::manual_seed(300 + i as i64);
        let net = Network::new(&vs.root(), spec_for(arch, 1000).unwrap());
        randomise_batch_norm(&net, 400 + i as i64);
        let model = export_onnx(&net, &PreprocessContract::imagenet(), ExportOptions::default()).unwrap();

        let (_, applied) = graph_rewrite::rewrite(&model, SHAPE, &onnx_rewrites);
        let kinds: Vec<Rewrite> = applied.iter().map(|a| a.rewrite).collect();
        assert_eq!(&kinds, expected, "{arch}: {applied:?}");

        let input = Tensor::randn([1, 3, 224, 224], (Kind::Float, Device::Cpu));
        let onnx = dir.path().join(format!("{arch}.onnx"));
        std::fs::write(&onnx, prost::Message::encode_to_vec(&model)).unwrap();
        let inputs = dir.path().join(format!("{arch}.in.safetensors"));
        Tensor::write_safetensors(&[("b1", &input)], &inputs).unwrap();
        let outputs = dir.path().join(format!("{arch}.out.safetensors"));
        python(&["check-onnx", path_str(&onnx), path_str(&inputs), path_str(&outputs)]);
        let ort = Vec::<f32>::try_from(&tensor_from_safetensors(&outputs, "b1").flatten(0, -1)).unwrap();

        let x = Vec::<f32>::try_from(&input.flatten(0, -1)).unwrap();
        let (logits, ops) = rewritten_logits(&model, &x, &onnx_rewrites);
        let err = max_relative_error(&logits, &ort);
        eprintln!("{arch}: rewrites {kinds:?}, tract (rewritten) vs onnxruntime (original): relative error {err:e}");
        assert!(err <= 1e-5, "{arch}: relative error {err:e}");
        // The stem keeps its barrier through tract's optimiser (or tract would undo it).
        let barrier = ops.iter().any(|op| op == "TaxaBarrier");
        assert_eq!(barrier, kinds.contains(&Rewrite::SlicedStem), "{arch}: {ops:?}");

        let (logits, ops) = rewritten_logits(&model, &x, &kernels);
        let err = max_relative_error(&logits, &ort);
        eprintln!("{arch}: kernels, tract vs onnxruntime: relative error {err:e}");
        assert!(err <= 1e-5, "{arch}: with the kernels, relative error {err:e}");
        for op in *kernel_ops {
            assert!(ops.iter().any(|o| o == op), "{arch}: no {op} in {ops:?}");
        }

        // The classifier's load path (rewrites on by default) gives onnxruntime's probabilities.
        let labels: Vec<String> = (0..1000).map(|c| format!("class {c}")).collect();
        let classifier = Classifier::from_model_proto(model.clone(), Some(labels)).unwrap();
        let probabilities = classifier.infer(x.clone()).unwrap();
        let max = ort.iter().cloned().fold(f32::MIN, f32::max);
        let exp: Vec<f64> = ort.iter().map(|v| ((v - max) as f64).exp()).collect();
        let sum: f64 = exp.iter().sum();
        let want: Vec<f32> = exp.iter().map(|e| (e / sum) as f32).collect();
        let err = max_relative_error(&probabilities, &want);
        assert!(err <= 1e-5, "{arch}: classifier probabilities vs onnxruntime softmax: relative error {err:e}");
    }
}
