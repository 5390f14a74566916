"""`taxa import` on the iNaturalist bird model: size, load and inference time
of the bundle (8-bit weights, the default; float32 weights; the QDQ rewrites
at load off), against LiteRT (ai-edge-litert, XNNPACK) running the original
uint8 .tflite, one thread each, in the same run. Prints Markdown tables.

Run through bench/run.sh inat-import [--runs 30] [--rounds 3].
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np
from ai_edge_litert.interpreter import Interpreter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = "mobilenet_v2_1.0_224_inat_bird_quant.tflite"


def taxa_bench(taxa, bundle, photo, runs, env=None):
    out = subprocess.run([taxa, "bench", "--model", bundle, "--image", photo, "--runs", str(runs), "--json"],
                         check=True, capture_output=True, text=True, env={**os.environ, **(env or {})}).stdout
    return json.loads(out)


def litert(path, runs, num_threads=1):
    """(interpreter creation + allocate_tensors ms, median set_tensor + invoke
    ms on a seeded uint8 input after one warm-up invoke)."""
    started = time.perf_counter()
    interpreter = Interpreter(model_path=path, num_threads=num_threads)
    interpreter.allocate_tensors()
    load_ms = (time.perf_counter() - started) * 1e3
    inp = interpreter.get_input_details()[0]
    x = np.random.default_rng(0).integers(0, 256, inp["shape"], dtype=np.uint8)
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        times.append((time.perf_counter() - t) * 1e3)
    return load_ms, statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--taxa", required=True)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--models", default=os.environ.get("TAXA_INAT_MODELS_DIR", os.path.join(ROOT, ".cache/inat-models")))
    args = ap.parse_args()
    tflite = os.path.join(args.models, MODEL)
    photo = os.path.join(args.models, "owl.jpg")
    with tempfile.TemporaryDirectory() as tmp:
        quantized, floats = os.path.join(tmp, "bird.onnx"), os.path.join(tmp, "bird-f32.onnx")
        subprocess.run([args.taxa, "import", tflite, "--out", quantized], check=True, capture_output=True)
        subprocess.run([args.taxa, "import", tflite, "--float-weights", "--out", floats], check=True, capture_output=True)
        variants = [
            ("bundle, 8-bit weights (default)", quantized, None),
            ("bundle, float32 weights", floats, None),
            ("bundle, 8-bit weights, QDQ rewrites off", quantized, {"TAXA_REWRITES": "maxpool,stem"}),
        ]
        rows = {name: [] for name, *_ in variants}
        peer = []
        for _ in range(args.rounds):
            for name, bundle, env in variants:
                r = taxa_bench(args.taxa, bundle, photo, args.runs, env)
                rows[name].append((r["load_ms"], r["inference_ms"], r["total_ms"]))
            peer.append(litert(tflite, args.runs))
        sizes = {name: os.path.getsize(bundle) for name, bundle, _ in variants}
    lite_load = statistics.median(p[0] for p in peer)
    lite_infer = statistics.median(p[1] for p in peer)
    print(f"{MODEL} ({os.path.getsize(tflite):,} bytes); owl.jpg; {args.rounds} rounds × {args.runs} runs, one thread; medians\n")
    print("| runtime | file bytes | load (ms) | inference (ms) | inference / LiteRT |")
    print("|---|---:|---:|---:|---:|")
    for name, values in rows.items():
        load = statistics.median(v[0] for v in values)
        infer = statistics.median(v[1] for v in values)
        print(f"| taxa: {name} | {sizes[name]:,} | {load:.1f} | {infer:.2f} | {infer / lite_infer:.2f}× |")
    print(f"| LiteRT 2.3 (XNNPACK), the .tflite | {os.path.getsize(tflite):,} | {lite_load:.1f} | {lite_infer:.2f} | 1.00× |")


if __name__ == "__main__":
    main()
