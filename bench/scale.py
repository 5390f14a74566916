"""The training pipeline at growing dataset sizes (issue 13), on CPU.

For each size: `taxa synth --counts study` (the study's Table 1 shape; the
species count sets the size: 38 ≈ 10k photos, 189 ≈ 50k, 1010 = the study's
268k), then one `taxa train` run: load (JSON), prune at 100, split, cache
build, frozen ShuffleNetV2 x0.5 (random torchvision weights) at a small
input: backbone features once, one head epoch, evaluation and report.
Per-stage seconds, images/s and peak memory come from the run's own stage
timings (`stages` in `taxa train --json`; peak = VmHWM, reset per stage);
the whole process is also run under `/usr/bin/time -v`.

Run through bench/run.sh scale [--species 38,189,1010] [--input-size 32].
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time


def timed(cmd, env=None):
    """Runs cmd under /usr/bin/time -v: (stdout, wall seconds, max RSS MiB)."""
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{p.stderr[-3000:]}")
    rss = next(int(l.split()[-1]) for l in p.stderr.splitlines() if "Maximum resident set size" in l) / 1024
    return p.stdout, wall, rss


def weights(path):
    if not os.path.exists(path):
        import torch
        import torchvision

        torch.manual_seed(0)
        torch.save(torchvision.models.shufflenet_v2_x0_5().state_dict(), path)
    return path


def one_size(taxa, work, species, args):
    data = os.path.join(work, f"synth-{species}")
    if not os.path.exists(os.path.join(data, "val2019.json")):
        shutil.rmtree(data, ignore_errors=True)
        out, wall, rss = timed([taxa, "synth", "--counts", "study", "--species", str(species), "--size", str(args.image_size), "--out", data, "--json"])
        synth = json.loads(out)
        synth.update(wall=wall, max_rss_mib=rss)
    else:
        synth = None
    cache = os.path.join(work, f"cache-{species}")
    run = os.path.join(work, f"run-{species}")
    shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(run, ignore_errors=True)
    cmd = [taxa, "train", "--inat", os.path.join(data, "train2019.json"), "--arch", "shufflenet_v2_x0_5", "--mode", "frozen",
           "--weights", weights(os.path.join(work, "shufflenet_v2_x0_5-random.pth")), "--input-size", str(args.input_size),
           "--epochs", "1", "--batch-size", str(args.batch_size), "--min-images-per-class", "100", "--device", "cpu",
           "--cache-dir", cache, "--out", run, "--json"]
    out, wall, rss = timed(cmd)
    report = json.loads(out)
    images = report["train_images"] + report["val_images"]
    return {"species": species, "images": images, "synth": synth, "wall": wall, "max_rss_mib": rss, "stages": report["stages"], "command": " ".join(cmd)}


def table(results):
    """Per stage and size: wall s, images/s, CPU µs per image (process CPU
    time, all threads: robust to other load on the machine), peak MiB; the
    last column compares CPU time per image at the largest and smallest size."""
    stages = [s["stage"] for s in results[0]["stages"]]
    head = "| stage | " + " | ".join(f"{r['images']:,} images: wall s · img/s · CPU µs/img · peak MiB (anon MiB at end)" for r in results)
    head += f" | CPU µs/img, {results[-1]['images']:,} / {results[0]['images']:,} |"
    lines = [head, "|---|" + "---:|" * (len(results) + 1)]
    for name in stages:
        cells, per_image, cpu = [], [], []
        for r in results:
            s = next(x for x in r["stages"] if x["stage"] == name)
            us = s["cpu_seconds"] / s["images"] * 1e6 if s["images"] else None
            per_image.append(us)
            cpu.append(s["cpu_seconds"])
            rate = f"{s['images_per_second']:,.0f}" if s["images"] else "—"
            cells.append(f"{s['seconds']:.2f} · {rate} · {us:.1f} · {s['peak_rss_mib']:.0f} ({s['anon_rss_mib']:.0f})" if us is not None else f"{s['seconds']:.2f} · — · CPU {s['cpu_seconds']:.2f} s · {s['peak_rss_mib']:.0f} ({s['anon_rss_mib']:.0f})")
        if per_image[0] and per_image[-1]:
            ratio = f"{per_image[-1] / per_image[0]:.2f}×"
        else:
            ratio = f"{cpu[-1] / max(cpu[0], 1e-9):.2f}× (CPU s, not per image)"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {ratio} |")
    lines.append("| whole run (`/usr/bin/time -v`) | " + " | ".join(f"{r['wall']:.1f} s · max RSS {r['max_rss_mib']:.0f} MiB" for r in results) + " | |")
    synth = [r for r in results if r["synth"]]
    if synth:
        lines.append("| `taxa synth` | " + " | ".join(f"{r['synth']['wall']:.1f} s · {r['synth']['images_per_second']:,.0f} img/s · max RSS {r['synth']['max_rss_mib']:.0f} MiB" if r["synth"] else "reused" for r in results) + " | |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--taxa", required=True)
    ap.add_argument("--species", default="38,189,1010", help="species per size (38 ≈ 10k photos, 189 ≈ 50k, 1010 = 268k)")
    ap.add_argument("--image-size", type=int, default=32, help="synthetic photo side, pixels")
    ap.add_argument("--input-size", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--work", default="target/bench-scale")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    results = []
    for species in [int(s) for s in args.species.split(",")]:
        r = one_size(args.taxa, args.work, species, args)
        print(f"{r['images']} images: {r['wall']:.1f} s, max RSS {r['max_rss_mib']:.0f} MiB", file=sys.stderr, flush=True)
        results.append(r)
    with open(os.path.join(args.work, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(f"command: {results[0]['command']}\n")
    print(table(results))


if __name__ == "__main__":
    main()
