#!/usr/bin/env python3
"""taxa in the browser: time per photo in headless Chromium (the wasm build
of web/dist/, one thread, WebAssembly SIMD), with the browser test's harness
(tests/web/test_web.py: web/serve.py in-process, Debian's chromium and
chromedriver).

    python bench/web.py --dist web/dist --photos DIR [--runs 10] [--taxa target/release/taxa] [--json-out FILE]

Each photo is chosen in the page once to warm up (not counted), then --runs
times. The page measures with performance.now(): "classify" is around the
worker call (post the pixels, get the answer: what the page shows), "in
wasm" is inside the worker around the wasm call, "decode" is the browser's
decode to canvas pixels (createImageBitmap, drawImage, getImageData).
Native taxa (`taxa bench`, one thread, same bundle and photo, same runs)
is measured in the same run: "native" (preprocess, inference, top-k: what
the wasm call does) against "in wasm", and
"native total" (decode, preprocess, inference) against "classify".
Medians; prints a Markdown table.
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "web"))
import test_web as harness  # noqa: E402

PHOTOS = ["owl.jpg", "parrot.jpg", "bird.bmp", "cat_720p.jpg", "dragonfly.bmp"]
MODELS = {"dragonfly.bmp": "insect"}  # the rest: bird (when NATIVE.json does not say)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", default=str(harness.ROOT / "web" / "dist"))
    parser.add_argument("--photos", required=True)
    parser.add_argument("--names", nargs="*", default=PHOTOS, help="photo file names in --photos")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--native", help="NATIVE.json of the browser test: its model per photo")
    parser.add_argument("--taxa", default=str(harness.ROOT / "target" / "release" / "taxa"), help="native taxa for the same-run baseline")
    parser.add_argument("--json-out")
    args = parser.parse_args()
    native = json.loads(Path(args.native).read_text()) if args.native else {}
    photos = Path(args.photos).resolve()

    server = harness.Server(Path(args.dist).resolve()).start()
    profile = tempfile.mkdtemp(prefix="taxa-web-bench-")
    driver = harness.launch(profile)
    page = harness.Page(driver, server)
    rows = []
    try:
        page.open()
        browser = driver.capabilities.get("browserVersion", "?")
        for name in args.names:
            path = photos / name
            model = native.get(name, {}).get("model") or MODELS.get(name, "bird")
            page.choose_model(model)
            samples = []
            for i in range(args.runs + 1):
                state = page.classify(path)
                result = state.get("lastResult")
                if not result or result.get("file") != name:
                    raise SystemExit(f"{name}: {state.get('lastError') or state.get('status')}")
                if i:  # the first is warm-up
                    samples.append(result)
            top = samples[-1]["predictions"][0]
            bundle = Path(args.dist).resolve() / "models" / f"inat_{model}.onnx"
            bench = json.loads(subprocess.run(
                [args.taxa, "bench", "--model", str(bundle), "--image", str(path), "--runs", str(args.runs), "--json"],
                check=True, capture_output=True, text=True).stdout)
            rows.append({
                "photo": name, "pixels": f"{samples[-1]['width']}×{samples[-1]['height']}", "model": model,
                "classify_ms": statistics.median(s["ms"] for s in samples),
                "wasm_ms": statistics.median(s["workerMs"] for s in samples),
                "decode_ms": statistics.median(s["decodeMs"] for s in samples),
                "native_inference_ms": bench["preprocess_ms"] + bench["inference_ms"] + bench["postprocess_ms"],
                "native_total_ms": bench["decode_ms"] + bench["preprocess_ms"] + bench["inference_ms"] + bench["postprocess_ms"],
                "runs": len(samples), "top": f"{top['label']} {top['score']:.3f}",
            })
            print(f"{name}: {rows[-1]['classify_ms']:.1f} ms", file=sys.stderr, flush=True)
    finally:
        driver.quit()
        server.stop()

    print(f"\nHeadless Chromium {browser}, taxa wasm (+simd128, one thread); medians of {args.runs} runs after one warm-up.\n")
    print("| photo | pixels | model | classify (page, ms) | in wasm (ms) | browser decode (ms) | native (ms) | wasm / native | native total (ms) | top-1 |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        ratio = r["wasm_ms"] / r["native_inference_ms"]
        print(f"| {r['photo']} | {r['pixels']} | {r['model']} | {r['classify_ms']:.1f} | {r['wasm_ms']:.1f} | {r['decode_ms']:.1f} "
              f"| {r['native_inference_ms']:.1f} | {ratio:.2f}× | {r['native_total_ms']:.1f} | {r['top']} |")
    ratios = [r["wasm_ms"] / r["native_inference_ms"] for r in rows]
    print(f"\nMedian wasm / native ratio: {statistics.median(ratios):.2f}×")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"browser": browser, "runs": args.runs, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
