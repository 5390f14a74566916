#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/seeds/<target>/,
built from files already in the repository (tests/field-cases) plus small
synthetic bundles, iNaturalist JSON and folder listings. Standard library
only; run by scripts/fuzz.sh before each run (the output is not committed)."""

import hashlib
import json
import shutil
import sys
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
ROOT = FUZZ.parent
CASES = ROOT / "tests" / "field-cases"
OUT = FUZZ / "seeds"
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
MAX_SEED = 20_000  # bytes; bigger inputs only slow libFuzzer down

# Must match KEYS in fuzz_targets/bundle_metadata.rs.
KEYS = ["taxa.format_version", "taxa.labels", "taxa.taxonomy", "taxa.preprocess",
        "taxa.output", "taxa.architecture", "taxa.provenance"]


def put(target, name, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def slug(path):
    base = CASES if path.is_relative_to(CASES) else FUZZ
    return str(path.relative_to(base)).replace("/", "__")


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def with_metadata(model, props):
    """Appends ModelProto.metadata_props (field 14) entries; protobuf merges them."""
    extra = b"".join(field(14, field(1, k.encode()) + field(2, v.encode())) for k, v in props)
    return model + extra


def contract(resize=256, crop=224, layout="nchw", order="rgb", interpolation="bilinear"):
    return {
        "resize": {"policy": "shorter_side", "size": resize},
        "crop": {"policy": "center", "width": crop, "height": crop},
        "interpolation": interpolation,
        "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225],
        "channel_order": order,
        "layout": layout,
        "value_scale": 255.0,
    }


def metadata(labels, preprocess=None, output="logits", taxonomy=True, provenance=True):
    props = [("taxa.format_version", "1"), ("taxa.labels", json.dumps(labels)),
             ("taxa.preprocess", json.dumps(preprocess or contract())), ("taxa.output", json.dumps(output)),
             ("taxa.architecture", "shufflenet_v2_x1_0")]
    if taxonomy:
        props.append(("taxa.taxonomy", json.dumps([
            {"kingdom": "Animalia", "genus": label.split()[0], "species": label, "common_name": f"{label} (common)"}
            for label in labels])))
    if provenance:
        props.append(("taxa.provenance", json.dumps({
            "dataset": "synthetic", "epochs": 3, "val_top1_error": 0.25, "val_top5_error": 0.0625,
            "extra": {"mode": "frozen", "seed": "7"}})))
    return props


def split_form(props):
    values = dict(props)
    return b"\xff".join(values.get(k, "").encode() for k in KEYS)


# Small JPEGs that take the reduced decode (not 4:2:0, 72 px and up) and
# carry EXIF orientation beside XMP: the field cases' JPEGs are all 4:2:0.
EXTRA = FUZZ / "extra_seeds"


def images():
    seen = set()
    for path in sorted(CASES.rglob("*")) + sorted(EXTRA.glob("*")):
        if path.suffix.lower() in IMAGE_EXTS and path.is_file() and path.stat().st_size <= MAX_SEED:
            data = path.read_bytes()
            digest = hashlib.sha1(data).hexdigest()
            if digest not in seen:
                seen.add(digest)
                yield path, data


def models():
    """(path, bytes, label count) of every ONNX file with a labels file beside it."""
    seen = set()
    for path in sorted(CASES.rglob("*.onnx")):
        digest = hashlib.sha1(path.read_bytes()).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        labels = sorted(path.parent.glob("*labels*.txt"))
        names = {"probe_grid4.onnx": "probe_grid4_labels.txt"}
        chosen = [p for p in labels if p.name == names.get(path.name)] or [p for p in labels if "grid4" not in p.name]
        count = len([l for l in chosen[0].read_text().splitlines() if l.strip()]) if chosen else 3
        yield path, path.read_bytes(), count


def listing(root):
    lines = []
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        lines.append(rel + "/" if p.is_dir() else rel)
    return "\n".join(lines).encode()


def main():
    if OUT.exists():
        shutil.rmtree(OUT)

    for path, data in images():
        put("decode_image", slug(path), data)
        put("classify_bytes", slug(path), data)

    variants = [
        ("default", metadata(["Rana temporaria", "Rana arvalis", "Bufo bufo"])),
        ("plain_labels", metadata(["a", "b", "c"], taxonomy=False, provenance=False)),
        ("probabilities_nhwc", metadata(["x y", "z w", "q r"], contract(342, 299, "nhwc", "bgr"), "probabilities")),
        ("stretch_none", metadata(["a b", "c d", "e f"], {**contract(), "resize": {"policy": "stretch", "width": 64, "height": 48},
                                                          "crop": {"policy": "none"}, "interpolation": "lanczos3"})),
    ]
    for name, props in variants:
        put("bundle_metadata", f"split_{name}", split_form(props))
    for path, data, count in models():
        put("bundle_metadata", slug(path), data)
        if count > 255:  # model_load reads the label count from one byte; these probes output every pixel
            continue
        put("model_load", slug(path), bytes([count]) + data)
        labels = [f"Genus species{i}" for i in range(count)]
        bundle = with_metadata(data, metadata(labels))
        put("bundle_metadata", slug(path) + "__bundle", bundle)
        put("model_load", slug(path) + "__bundle", b"\x80" + bundle)
        put("model_load", slug(path) + "__bundle_relabelled", bytes([count]) + bundle)

    inat = [
        ("inat2019", CASES / "batchnorm-last-batch-of-one/inat2019_tiny/train2019.json",
         CASES / "batchnorm-last-batch-of-one/inat2019_tiny/val2019.json"),
        ("inat2021", CASES / "inat-2021-layout/inat2021_tiny/train.json", CASES / "inat-2021-layout/inat2021_tiny/val.json"),
        ("inat2021_mini", CASES / "inat-2021-layout/inat2021_tiny/train_mini.json", None),
    ]
    for name, train, val in inat:
        put("inat_json", name, train.read_bytes() + (b"\0" + val.read_bytes() if val else b""))
    cats = [{"id": 3, "name": "Rana temporaria", "kingdom": "Animalia", "phylum": "Chordata", "class": "Amphibia",
             "order": "Anura", "family": "Ranidae", "genus": "Rana", "common_name": "Common frog"},
            {"id": 1, "name": "Bellis perennis", "supercategory": "Plantae"}]
    images_ = [{"id": i, "file_name": f"train/{i % 2}/{i}.jpg", "width": 48, "height": 40} for i in range(1, 7)]
    annotations = [{"id": i, "image_id": i, "category_id": 3 if i % 2 else 1} for i in range(1, 7)]
    tiny = {"images": images_, "annotations": annotations, "categories": cats}
    put("inat_json", "synthetic", json.dumps(tiny).encode())
    put("inat_json", "synthetic_val", json.dumps(tiny).encode() + b"\0" + json.dumps({**tiny, "images": images_[:2],
                                                                                           "annotations": annotations[:2]}).encode())
    put("inat_json", "synthetic_2017", json.dumps({"images": images_[:2], "annotations": annotations[:2],
                                                   "categories": [{"id": 3, "name": "Rana temporaria", "supercategory": "Amphibia"},
                                                                  {"id": 1, "name": "Bellis perennis", "supercategory": "Plantae"}]}).encode())

    for name, folder in [("tiff_planar", CASES / "tiff-planar-panic/train_folder"),
                         ("truncated", CASES / "truncated-jpeg-silent/train_folder"),
                         ("data224", CASES / "training-crop-drops-images/data224"),
                         ("inat2021_train", CASES / "inat-2021-layout/inat2021_tiny/train")]:
        put("folder_layout", name, listing(folder))
    put("folder_layout", "mixed", b"Rana temporaria/1.JPG\nRana temporaria/2.jpeg\nRana temporaria/notes.txt\n"
        b"Bufo bufo/a.TiFF\nBufo bufo/nested/b.jpg\nBufo bufo/dir.png/\nempty/\n.hidden/x.webp\nloose.jpg\n"
        b"caf\xe9/c.png\n")

    counts = {d.name: len(list(d.iterdir())) for d in sorted(OUT.iterdir())}
    print("seeds: " + ", ".join(f"{k} {v}" for k, v in counts.items()), file=sys.stderr)


if __name__ == "__main__":
    main()
