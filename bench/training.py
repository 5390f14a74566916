"""Training-side benchmarks, each against its peer in the same run (medians).

  throughput  images/s per step (forward, backward, SGD) on synthetic in-memory
              batches: `taxa train-bench` vs PyTorch + torchvision, alternating
              rounds. On CUDA both use channels-last and bf16 autocast.
  frozen      10 frozen-mode epochs with the feature cache vs recomputing the
              backbone every epoch (`taxa train`, same data and seed).
  decode      JPEG decode + resize/crop to the model input, images/s on one
              core: taxa-core (`taxa bench` stages) vs Pillow.

Run through bench/run.sh training-throughput | frozen | decode.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from peers import bench_parser

HEADS = {
    "alexnet": "classifier.6",
    "densenet121": "classifier",
    "squeezenet1_1": "classifier.1",
    "shufflenet_v2_x1_0": "fc",
    "resnext50_32x4d": "fc",
}


def torch_throughput(arch, mode, batch, size, steps, warmup, device):
    import torch
    import torchvision

    model = getattr(torchvision.models, arch)(weights=None).to(device)
    x = torch.randn(batch, 3, size, size, device=device)
    y = torch.randint(0, 1000, (batch,), device=device)
    cuda = device == "cuda"
    if cuda:
        model = model.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    head = model.get_submodule(HEADS[arch])
    if mode == "frozen":
        for p in model.parameters():
            p.requires_grad_(False)
        for p in head.parameters():
            p.requires_grad_(True)
        model.eval()
        head.train()
    else:
        model.train()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9, weight_decay=1e-4)
    times = []
    for step in range(warmup + steps):
        t = time.perf_counter()
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=cuda):
            loss = torch.nn.functional.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()
        if step >= warmup:
            times.append(time.perf_counter() - t)
    return batch / statistics.median(times)


def taxa_throughput(taxa, arch, mode, batch, size, steps, warmup, device):
    out = subprocess.run([taxa, "train-bench", "--arch", arch, "--mode", mode, "--batch-size", str(batch),
                          "--input-size", str(size), "--steps", str(steps), "--warmup", str(warmup),
                          "--device", device, "--json"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)["images_per_second"]


def throughput(args):
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    batch = args.batch or (256 if device == "cuda" else 8)
    size = args.size or (224 if device == "cuda" else 112)
    rows = []
    for arch in args.archs.split(","):
        for mode in ["finetune", "frozen"]:
            ours, theirs = [], []
            for _ in range(args.rounds):
                ours.append(taxa_throughput(args.taxa, arch, mode, batch, size, args.steps, 2, device))
                theirs.append(torch_throughput(arch, mode, batch, size, args.steps, 2, device))
            row = {"arch": arch, "mode": mode, "device": device, "batch": batch, "size": size,
                   "taxa_images_per_s": statistics.median(ours), "pytorch_images_per_s": statistics.median(theirs)}
            row["ratio"] = row["taxa_images_per_s"] / row["pytorch_images_per_s"]
            print(json.dumps(row), file=sys.stderr)
            rows.append(row)
    return rows


def frozen(args):
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "synth")
        subprocess.run([args.taxa, "synth", "--out", data, "--json"], check=True, capture_output=True)
        common = ["train", "--inat", data, "--official-val", "--arch", args.frozen_arch, "--input-size", "64",
                  "--device", "cpu", "--no-augment", "--json", "--cache-dir", os.path.join(tmp, "cache")]
        base = os.path.join(tmp, "base")
        subprocess.run([args.taxa, *common, "--epochs", "1", "--out", base], check=True, capture_output=True)
        weights = os.path.join(base, "checkpoint-1.safetensors")
        seconds = {}
        for name, extra in [("feature_cache", []), ("recompute", ["--no-feature-cache"])]:
            t = time.perf_counter()
            subprocess.run([args.taxa, *common, "--mode", "frozen", "--weights", weights, "--epochs", "10",
                            "--out", os.path.join(tmp, name), *extra], check=True, capture_output=True)
            seconds[name] = time.perf_counter() - t
    return {"arch": args.frozen_arch, "epochs": 10, **{f"{k}_seconds": v for k, v in seconds.items()},
            "ratio": seconds["feature_cache"] / seconds["recompute"]}


def decode(args):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        photo = os.path.join(tmp, "photo.jpg")
        yy, xx = np.mgrid[0:600, 0:800].astype(np.float32)
        base = np.stack([60 + 0.15 * xx, 90 + 0.12 * yy, 40 + 0.1 * (800 - xx)], axis=-1)
        Image.fromarray(np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)).save(photo, quality=90)
        # Pillow: what a torchvision data loader does per image (Resize(256), CenterCrop(224)).
        times = []
        for i in range(args.runs + 5):
            t = time.perf_counter()
            img = Image.open(photo).convert("RGB")
            w, h = img.size
            img = img.resize((int(256 * w / h), 256), Image.BILINEAR)
            left = (img.size[0] - 224) // 2
            np.asarray(img.crop((left, 16, left + 224, 240)))
            if i >= 5:
                times.append(time.perf_counter() - t)
        pillow_ms = statistics.median(times) * 1000
        # taxa: the same work through taxa-core, one thread (`taxa bench` stages).
        model = os.path.join(tmp, "m.onnx")
        subprocess.run([args.taxa, "export", "--arch", "squeezenet1_1", "--weights", args.weights,
                        "--num-classes", "10", "--out", model], check=True, capture_output=True)
        out = subprocess.run([args.taxa, "bench", "--model", model, "--image", photo, "--runs", str(args.runs), "--json"],
                             check=True, capture_output=True, text=True)
        report = json.loads(out.stdout)
        taxa_ms = report["decode_ms"] + report["preprocess_ms"]
    return {"image": "800x600 JPEG q90", "pillow_ms": pillow_ms, "taxa_ms": taxa_ms,
            "pillow_images_per_s": 1000 / pillow_ms, "taxa_images_per_s": 1000 / taxa_ms, "ratio": pillow_ms / taxa_ms}


def main():
    ap = bench_parser(runs=50)
    ap.add_argument("what", choices=["throughput", "frozen", "decode"])
    ap.add_argument("--archs", default=",".join(HEADS))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--size", type=int)
    ap.add_argument("--frozen-arch", default="shufflenet_v2_x0_5")
    ap.add_argument("--weights", help="decode: any squeezenet1_1 state dict (made if absent)")
    args = ap.parse_args()
    if args.what == "decode" and not args.weights:
        import torch
        import torchvision

        args.weights = os.path.join(tempfile.mkdtemp(), "squeezenet1_1.pth")
        torch.save(torchvision.models.squeezenet1_1(weights=None).state_dict(), args.weights)
    result = {"throughput": throughput, "frozen": frozen, "decode": decode}[args.what](args)
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
