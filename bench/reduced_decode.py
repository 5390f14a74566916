"""The 1/4-scale JPEG decode against Pillow's `draft()` on real photos at
native resolution, in every chroma subsampling (issue 24).

Each photo is used as it is, and re-encoded by Pillow (quality 90) at 4:2:0,
4:2:2, 4:4:4 and grey; nothing is upscaled. For each, Pillow's full decode
and its `draft()` decode at 1/4 are written as PNGs, and
`core/examples/reduced_fidelity.rs` compares, through taxa's own resampling,
taxa's reduced decode with taxa's full decode and Pillow's draft with
Pillow's full decode, at each input size where a 1/4 decode needs no upscale.

Prints a table per margin band (the 1/4 image's short side over the resize)
and per subsampling, and writes every row as JSON (--out).

Usage: python bench/reduced_decode.py --example target/release/examples/reduced_fidelity PHOTO.jpg… [--sizes 64,96,128,224,240,260,299] [--out rows.json]
"""
import argparse, json, os, statistics, subprocess, tempfile

from PIL import Image

SUBSAMPLINGS = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}


def subsampling(path: str) -> str:
    image = Image.open(path)
    if image.mode == "L":
        return "grey"
    factors = [layer[1:3] for layer in image.layer]
    return {((1, 1), (1, 1), (1, 1)): "4:4:4", ((2, 1), (1, 1), (1, 1)): "4:2:2", ((2, 2), (1, 1), (1, 1)): "4:2:0"}.get(tuple(factors), f"other {factors}")


def variants(photo: str, work: str) -> list[str]:
    """The photo itself and its re-encodings, as JPEG files in `work`."""
    stem = os.path.splitext(os.path.basename(photo))[0]
    source = Image.open(photo)
    out = []
    original = os.path.join(work, f"{stem}.original.jpg")
    with open(photo, "rb") as src, open(original, "wb") as dst:
        dst.write(src.read())
    out.append(original)
    rgb = source.convert("RGB")
    for name, value in SUBSAMPLINGS.items():
        path = os.path.join(work, f"{stem}.{name.replace(':', '')}.jpg")
        rgb.save(path, quality=90, subsampling=value)
        out.append(path)
    grey = os.path.join(work, f"{stem}.grey.jpg")
    source.convert("L").save(grey, quality=90)
    out.append(grey)
    return out


def pillow_decodes(jpg: str) -> None:
    stem = jpg[: -len(".jpg")]
    image = Image.open(jpg)
    image.convert("RGB").save(f"{stem}.full.png")
    for r in (2, 4):
        draft = Image.open(jpg)
        w, h = draft.size
        draft.draft(draft.mode, (w // r, h // r))  # Pillow picks the scale from floor(size / request)
        if draft.size != (-(-w // r), -(-h // r)):
            raise SystemExit(f"{jpg}: draft() gave {draft.size}, not 1/{r} of {w}×{h}")
        draft.convert("RGB").save(f"{stem}.draft{r}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--example", required=True)
    parser.add_argument("--sizes", default="64,96,128,224,240,260,299")
    parser.add_argument("--out")
    parser.add_argument("photos", nargs="+")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        jpgs = [v for p in args.photos for v in variants(p, work)]
        kinds = {j: subsampling(j) for j in jpgs}
        for j in jpgs:
            pillow_decodes(j)
        result = subprocess.run([args.example, args.sizes, *jpgs], check=True, capture_output=True, text=True)
        rows = [json.loads(line) for line in result.stdout.splitlines()]
        for row in rows:
            row["subsampling"] = kinds[row["photo"]]
            row["photo"] = os.path.basename(row["photo"])
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=1)
    print(f"{len(rows)} (photo, size) pairs from {len(jpgs)} files ({len(args.photos)} photos)")
    bands = [(1.0, 1.5), (1.5, 2.0), (2.0, 3.0), (3.0, 1e9)]
    print("| scale | margin (reduced short side / resize) | subsampling | pairs | taxa reduced: mean (median, worst), max | Pillow draft: mean (median, worst), max | taxa ≤ draft |")
    print("|---|---|---|---:|---|---|---:|")
    for reduction, lo, hi, kind in [(r, lo, hi, k) for r in (4, 2) for lo, hi in bands for k in ["4:2:0", "4:2:2", "4:4:4", "grey", "all"]]:
            sel = [r for r in rows if r["reduction"] == reduction and lo <= r["margin"] < hi and (kind == "all" or r["subsampling"] == kind)]
            if not sel:
                continue
            t = [r["taxa_mean"] for r in sel]
            d = [r["draft_mean"] for r in sel]
            wins = sum(r["taxa_mean"] <= r["draft_mean"] for r in sel)
            band = f"{lo:g}–{hi:g}" if hi < 1e9 else f"≥ {lo:g}"
            print(
                f"| 1/{reduction} | {band} | {kind} | {len(sel)} | {statistics.median(t):.2f} ({max(t):.2f}), {max(r['taxa_max'] for r in sel)} "
                f"| {statistics.median(d):.2f} ({max(d):.2f}), {max(r['draft_max'] for r in sel)} | {wins}/{len(sel)} |"
            )
    used = [r for r in rows if r["used_reduction"] > 1 and r["used_reduction"] == r["reduction"]]
    if used:
        print(f"decode_image_sized reduced {len(used)} of {len(rows)} pairs: window vs full decode mean (median {statistics.median(r['used_mean'] for r in used):.2f}, "
              f"worst {max(r['used_mean'] for r in used):.2f}), max {max(r['used_max'] for r in used)}; "
              f"Pillow's draft on the same pairs: median {statistics.median(r['draft_mean'] for r in used):.2f}, worst {max(r['draft_mean'] for r in used):.2f}")
    else:
        print("decode_image_sized reduced none of these pairs (all decoded in full)")


if __name__ == "__main__":
    main()
