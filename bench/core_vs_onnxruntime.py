"""taxa-core end to end (800x800 JPEG -> top-5, one thread) vs onnxruntime
model-only latency (intra_op_num_threads=1) on the same SqueezeNet 1.1 ONNX.

Run through bench/run.sh, which builds taxa and sets up the environment.
Both sides are measured in the same run, in alternating rounds; medians.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

from peers import bench_parser, ort_median_ms, ort_session


def export_squeezenet(path):
    import torch
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.squeezenet1_1(weights=None, num_classes=1000).eval()
    x = torch.randn(1, 3, 224, 224)
    torch.onnx.export(
        model, (x,), path, opset_version=17, dynamo=False,
        input_names=["image"], output_names=["logits"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
    )


def photo_jpeg(path):
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:800, 0:800].astype(np.float32)
    base = np.stack([60 + 0.15 * xx, 90 + 0.12 * yy, 40 + 0.1 * (800 - xx)], axis=-1)
    noise = rng.normal(0, 12, size=base.shape)
    Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(path, quality=90)


def ort_model_only(model_path, runs):
    x = np.random.default_rng(1).standard_normal((1, 3, 224, 224), dtype=np.float32)
    return ort_median_ms(ort_session(model_path), x, runs)


def main():
    ap = bench_parser(runs=50)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "squeezenet1_1.onnx")
        labels = os.path.join(tmp, "labels.txt")
        photo = os.path.join(tmp, "photo.jpg")
        export_squeezenet(model)
        with open(labels, "w") as f:
            f.write("\n".join(f"class {i}" for i in range(1000)))
        photo_jpeg(photo)
        ort_ms, taxa_reports = [], []
        for _ in range(args.rounds):
            ort_ms.append(ort_model_only(model, args.runs))
            out = subprocess.run(
                [args.taxa, "bench", "--model", model, "--labels", labels, "--image", photo,
                 "--runs", str(args.runs), "--json"],
                check=True, capture_output=True, text=True,
            )
            taxa_reports.append(json.loads(out.stdout))
    med = lambda key: statistics.median(r[key] for r in taxa_reports)
    result = {
        "onnxruntime_version": __import__("onnxruntime").__version__,
        "ort_model_only_ms": statistics.median(ort_ms),
        "taxa_total_ms": med("total_ms"),
        "taxa_decode_ms": med("decode_ms"),
        "taxa_preprocess_ms": med("preprocess_ms"),
        "taxa_inference_ms": med("inference_ms"),
        "taxa_postprocess_ms": med("postprocess_ms"),
        "taxa_load_ms": med("load_ms"),
    }
    result["ratio_end_to_end_vs_ort"] = result["taxa_total_ms"] / result["ort_model_only_ms"]
    result["ratio_inference_vs_ort"] = result["taxa_inference_ms"] / result["ort_model_only_ms"]
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
