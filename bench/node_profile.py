"""Per-node times, tract (`taxa bench --profile`) against onnxruntime's own
profiler (SessionOptions.enable_profiling, one thread), on the same bundle,
alternating; medians per node over the runs. Prints the slowest tract nodes
and onnxruntime's slowest nodes, with shapes, as JSON lines.

Usage: taskset -c 1 python bench/node_profile.py --taxa target/release/taxa B.onnx [--runs 30]
"""
import collections
import json
import os
import statistics
import subprocess
import tempfile

import numpy as np

from peers import bench_parser


def tract_nodes(taxa, model, runs, labels=None, rewrites=None):
    """`taxa bench --profile --json` on `model` (a bundle, or a plain ONNX
    file with `labels`); `rewrites` sets TAXA_REWRITES (None: as inherited).
    Returns the JSON's `profile`: `total_ms` and `nodes` (name, op, info,
    shapes, median_ms), slowest first."""
    env = dict(os.environ)
    if rewrites is not None:
        env["TAXA_REWRITES"] = rewrites
    cmd = [taxa, "bench", "--model", model, "--runs", str(runs), "--profile", "--json"]
    if labels is not None:
        cmd += ["--labels", labels]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout)["profile"]


def ort_nodes(bundle, runs, size=224):
    """onnxruntime's per-node medians (ms, one thread, its profiler) on a
    seeded [1,3,size,size] input, slowest first."""
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.enable_profiling = True
        opts.profile_file_prefix = os.path.join(tmp, "ort")
        sess = ort.InferenceSession(bundle, opts, providers=["CPUExecutionProvider"])
        x = np.random.default_rng(1).standard_normal((1, 3, size, size), dtype=np.float32)
        for _ in range(3 + runs):
            sess.run(None, {"image": x})
        events = json.load(open(sess.end_profiling()))
    times = collections.defaultdict(list)
    info = {}
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            name = e["name"][: -len("_kernel_time")]
            times[name].append(e["dur"] / 1000)
            args = e.get("args", {})
            info[name] = {"op": args.get("op_name"), "inputs": [list(s.values())[0] for s in args.get("input_type_shape", [])],
                          "outputs": [list(s.values())[0] for s in args.get("output_type_shape", [])]}
    rows = [{"node": n, **info[n], "median_ms": statistics.median(t[3:] or t)} for n, t in times.items()]
    return sorted(rows, key=lambda r: -r["median_ms"])


def main():
    ap = bench_parser(runs=30)
    ap.add_argument("--top", type=int, default=8)
    ap.add_argument("bundle")
    args = ap.parse_args()
    tract = tract_nodes(args.taxa, args.bundle, args.runs)
    ort = ort_nodes(args.bundle, args.runs)
    print(json.dumps({"bundle": os.path.basename(args.bundle), "tract_total_ms": round(tract["total_ms"], 3),
                      "ort_total_ms": round(sum(r["median_ms"] for r in ort), 3)}))
    for n in tract["nodes"][: args.top]:
        mult = next((i for i in n["info"] if i.startswith("Mult")), "")
        print(json.dumps({"runtime": "tract", "node": n["name"], "op": n["op"], "ms": round(n["median_ms"], 3),
                          "inputs": n["input_shapes"], "outputs": n["output_shapes"], "kernel": mult}))
    for r in ort[: args.top]:
        print(json.dumps({"runtime": "onnxruntime", **{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}}))


if __name__ == "__main__":
    main()
