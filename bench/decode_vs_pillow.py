"""Decode + preprocess for the ImageNet contract: taxa against Pillow's
per-image eval path (open, convert RGB, Resize 256, CenterCrop 224, ToTensor,
Normalize: torchvision's transforms on a PIL image), one core, interleaved.

Also the pixel cost of Pillow's own reduced decode (`Image.draft`) against its
full decode, on the same 224×224 model input, as a reference for taxa's.

Usage: python bench/decode_vs_pillow.py --example target/release/examples/decode_sized PHOTO.jpg [...] [--rounds 3 --runs 30]
"""
import argparse, io, json, statistics, subprocess, time

import numpy as np
import torch
from PIL import Image
from torchvision import transforms

torch.set_num_threads(1)
EVAL = transforms.Compose([
    transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
    transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
])
WINDOW = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])


def pillow_eval(data: bytes, draft: bool = False):
    image = Image.open(io.BytesIO(data))
    if draft:
        image.draft("RGB", (256, 256))
    return EVAL(image.convert("RGB"))


def pillow_window(data: bytes, draft: bool) -> np.ndarray:
    image = Image.open(io.BytesIO(data))
    if draft:
        image.draft("RGB", (256, 256))
    return np.asarray(WINDOW(image.convert("RGB")), dtype=np.float64)


def time_pillow(data: bytes, runs: int, draft: bool = False) -> float:
    for _ in range(3):
        pillow_eval(data, draft)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        pillow_eval(data, draft)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--example", required=True, help="taxa-core's decode_sized example")
    ap.add_argument("photos", nargs="+")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    for photo in args.photos:
        data = open(photo, "rb").read()
        full, drafted = pillow_window(data, False), pillow_window(data, True)
        diff = np.abs(full - drafted)
        pillow, pillow_draft, taxa = [], [], []
        for _ in range(args.rounds):
            pillow.append(time_pillow(data, args.runs))
            pillow_draft.append(time_pillow(data, args.runs, draft=True))
            out = subprocess.run([args.example, photo, str(args.runs)], check=True, capture_output=True, text=True).stdout
            taxa.append(json.loads(out))
        size = Image.open(photo).size
        print(f"## {photo} ({size[0]}×{size[1]})")
        print(f"Pillow eval path (full decode): {statistics.median(pillow):.2f} ms")
        print(f"Pillow eval path with draft():  {statistics.median(pillow_draft):.2f} ms; "
              f"window vs full decode: mean {diff.mean():.3f}, max {diff.max():.0f} (0–255)")
        for i, path in enumerate(taxa[0]["paths"]):
            total = statistics.median(r["paths"][i]["total_ms"] for r in taxa)
            dec = statistics.median(r["paths"][i]["decode_ms"] for r in taxa)
            pre = statistics.median(r["paths"][i]["preprocess_ms"] for r in taxa)
            print(f"taxa, reduction ≤ {path['max_reduction']} (used 1/{path['reduction']}): decode {dec:.2f} + preprocess {pre:.2f} = {total:.2f} ms; "
                  f"Pillow / taxa = {statistics.median(pillow) / total:.2f}×; "
                  f"window vs full decode: mean {path['mean_abs_diff']:.3f}, max {path['max_abs_diff']:.0f}")


if __name__ == "__main__":
    main()
