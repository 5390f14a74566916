"""Minimal ONNX files for the nodes where tract 0.23.9 is slowest against
onnxruntime (BENCHMARKS.md, "What in tract 0.23.9 limits it"), one file per
pattern, and the time of each file's key node in both runtimes.

Each file is opset 17, batch 1, float32, seeded random weights, and is shaped
like an image classifier so `taxa bench` runs it as a plain ONNX file: input
`image` [1,3,S,S], where the pattern needs more channels a cheap 1×1 `lead`
Conv 3→C, the key node(s), then GlobalAveragePool + Flatten to logits [1,C]
(labels file with C lines beside it). The declared input size is the size
taxa preprocesses to (resize then centre crop to S×S), so the key node sees
the shapes below.

Timing, alternated per file and round: tract with `taxa bench --profile --json`
and TAXA_REWRITES=off (the file runs as written), onnxruntime with its own
profiler (one thread, default optimisations). The key node's time is the sum
of the nodes each runtime made of it (tract: pad, im2col, matmul, fused
activation; onnxruntime: the fused or NCHWc node); medians per round, then
the median of the rounds.

Usage: taskset -c 1 python bench/upstream_repros.py --taxa target/release/taxa
       [--runs 30] [--rounds 3] [--out target/upstream-repros]
"""
import json
import os
import statistics

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from node_profile import ort_nodes, tract_nodes
from peers import bench_parser

OPSET = 17


class Graph:
    """Nodes and seeded initializers for one model; every node's output is
    named after the node, so onnxruntime's renamed nodes (`<output>_nchwc`)
    still carry it."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits = [], []

    def const(self, name, array):
        self.inits.append(numpy_helper.from_array(np.asarray(array, dtype=np.float32), name))
        return name

    def conv(self, name, x, cin, cout, kernel, stride=1, pad=0, group=1):
        fan_in = cin // group * kernel * kernel
        w = self.rng.standard_normal((cout, cin // group, kernel, kernel)) * np.sqrt(2.0 / fan_in)
        b = self.rng.standard_normal(cout) * 0.1
        self.nodes.append(helper.make_node(
            "Conv", [x, self.const(name + ".weight", w), self.const(name + ".bias", b)], [name], name=name,
            kernel_shape=[kernel, kernel], strides=[stride, stride], pads=[pad] * 4, group=group))
        return name

    def op(self, op_type, name, inputs, **attrs):
        self.nodes.append(helper.make_node(op_type, inputs, [name], name=name, **attrs))
        return name

    def model(self, size, channels):
        """GlobalAveragePool + Flatten over the last output: logits [1,channels]."""
        last = self.nodes[-1].output[0]
        self.op("Flatten", "logits", [self.op("GlobalAveragePool", "pool", [last])], axis=1)
        graph = helper.make_graph(
            self.nodes, "repro", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, size, size])],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, channels])], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="taxa bench")
        model.ir_version = 8
        onnx.checker.check_model(model, full_check=True)
        return model


def stem(cout):
    g = Graph(seed=cout)
    g.conv("stem_conv", "image", 3, cout, 3, stride=2, pad=1)
    return g.model(224, cout)


def expand():
    g = Graph(seed=16)
    x = g.conv("lead", "image", 3, 16, 1)
    x = g.conv("expand_conv", x, 16, 96, 1)
    g.op("Clip", "expand_relu6", [x, g.const("relu6.min", 0.0), g.const("relu6.max", 6.0)])
    return g.model(112, 96)


def depthwise():
    g = Graph(seed=96)
    x = g.conv("lead", "image", 3, 96, 1)
    g.conv("dw_conv", x, 96, 96, 3, stride=2, pad=1, group=96)
    return g.model(112, 96)


def maxpool():
    g = Graph(seed=64)
    x = g.conv("lead", "image", 3, 64, 1)
    # torchvision's squeezenet1_1 (and taxa's export of it) has MaxPool 3×3/2, ceil_mode=1, pads 0;
    # at 111 the output is 55 with or without ceil_mode.
    g.op("MaxPool", "maxpool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[0] * 4, ceil_mode=1)
    return g.model(111, 64)


def concat_conv():
    """SqueezeNet's classifier: a Fire module's two expand branches
    concatenated, then Conv 512→1000 1×1 + Relu (tract splits the product
    over the concat: `concat-einsum`)."""
    g = Graph(seed=1000)
    x = g.conv("lead", "image", 3, 64, 1)
    e1 = g.op("Relu", "expand1x1_relu", [g.conv("expand1x1", x, 64, 256, 1)])
    e3 = g.op("Relu", "expand3x3_relu", [g.conv("expand3x3", x, 64, 256, 3, pad=1)])
    cat = g.op("Concat", "fire_concat", [e1, e3], axis=1)
    g.op("Relu", "final_relu", [g.conv("final_conv", cat, 512, 1000, 1)])
    return g.model(13, 1000)


# (file stem, builder, input size, key ONNX nodes, key shapes, the BENCHMARKS.md row it reproduces)
PATTERNS = [
    ("stem_conv_3to32_s2_224", lambda: stem(32), 224, ["stem_conv"],
     "Conv 3→32, 3×3/2, pads 1: [1,3,224,224] → [1,32,112,112]", "Lite0 stem `Conv_0`, 5.9×"),
    ("stem_conv_3to24_s2_224", lambda: stem(24), 224, ["stem_conv"],
     "Conv 3→24, 3×3/2, pads 1: [1,3,224,224] → [1,24,112,112]", "ShuffleNet stem `Conv_0`, 4.2×"),
    ("expand_1x1_16to96_relu6_112", expand, 112, ["expand_conv", "expand_relu6"],
     "Conv 16→96, 1×1 + Clip(0,6): [1,16,112,112] → [1,96,112,112]", "Lite0 first 1×1 expand + ReLU6, 5.0×"),
    ("depthwise_3x3_s2_96_112", depthwise, 112, ["dw_conv"],
     "Conv group 96, 3×3/2, pads 1: [1,96,112,112] → [1,96,56,56]", "Lite0 `Conv_7` depthwise, 4.2×"),
    ("maxpool_3x3_s2_ceil_64_111", maxpool, 111, ["maxpool"],
     "MaxPool 3×3/2, ceil_mode 1: [1,64,111,111] → [1,64,55,55]", "SqueezeNet `MaxPool_2` (no per-node ratio; with its 2 other pools 2.05–2.11 ms in tract)"),
    ("concat_conv_512to1000_relu_13", concat_conv, 13, ["final_conv", "final_relu"],
     "Concat of two [1,256,13,13] branches, then Conv 512→1000, 1×1 + Relu: → [1,1000,13,13]", "SqueezeNet `Conv_61` + Relu, 1.8×"),
]


def is_key(name, keys):
    return any(name == k or name.startswith(k + ".") or name.startswith(k + "_") for k in keys)


def tract_key(profile, keys):
    """(ms, the key nodes' names and ops, the kernel or operator tract chose
    for the slowest of them, that node's `info`)."""
    nodes = [n for n in profile["nodes"] if is_key(n["name"], keys)]
    if not nodes:
        raise SystemExit(f"tract's plan has no node named after {keys}: {[n['name'] for n in profile['nodes']]}")
    slowest = max(nodes, key=lambda n: n["median_ms"])
    mults = [i[len("Mult: "):] for i in slowest["info"] if i.startswith("Mult:")]
    kernel = "; ".join(mults) or slowest["op"]
    return (sum(n["median_ms"] for n in nodes), [f"{n['name']} ({n['op']})" for n in nodes], kernel,
            "; ".join(slowest["info"]))


def ort_key(rows, keys):
    nodes = [r for r in rows if is_key(r["node"], keys)]
    if not nodes:
        raise SystemExit(f"onnxruntime's profile has no node named after {keys}: {[r['node'] for r in rows]}")
    return sum(r["median_ms"] for r in nodes), [f"{r['node']} ({r['op']})" for r in nodes]


def main():
    ap = bench_parser(runs=30)
    ap.add_argument("--rounds", type=int, default=3, help="alternations of tract and onnxruntime per file")
    ap.add_argument("--out", default="target/upstream-repros", help="folder for the ONNX and labels files")
    ap.add_argument("--only", help="comma list of file stems to time (default: all)")
    args = ap.parse_args()
    patterns = [p for p in PATTERNS if not args.only or p[0] in args.only.split(",")]
    os.makedirs(args.out, exist_ok=True)
    files = []
    for stem_name, build, size, keys, shapes, source in patterns:
        path = os.path.join(args.out, stem_name + ".onnx")
        model = build()
        onnx.save(model, path)
        channels = model.graph.output[0].type.tensor_type.shape.dim[1].dim_value
        labels = os.path.join(args.out, stem_name + ".labels.txt")
        with open(labels, "w") as f:
            f.write("".join(f"class_{i}\n" for i in range(channels)))
        files.append((path, labels))

    results = []
    for (path, labels), (stem_name, _, size, keys, shapes, source) in zip(files, patterns):
        tract_ms, ort_ms, tract_total, ort_total = [], [], [], []
        for _ in range(args.rounds):
            profile = tract_nodes(args.taxa, path, args.runs, labels=labels, rewrites="off")
            ms, tract_parts, kernel, info = tract_key(profile, keys)
            tract_ms.append(ms)
            tract_total.append(profile["total_ms"])
            rows = ort_nodes(path, args.runs, size=size)
            ms, ort_parts = ort_key(rows, keys)
            ort_ms.append(ms)
            ort_total.append(sum(r["median_ms"] for r in rows))
        t, o = statistics.median(tract_ms), statistics.median(ort_ms)
        result = {"file": os.path.basename(path), "pattern": shapes, "reproduces": source,
                  "tract_ms": round(t, 3), "ort_ms": round(o, 3), "ratio": round(t / o, 2),
                  "tract_kernel": kernel, "tract_info": info, "tract_nodes": tract_parts, "ort_nodes": ort_parts,
                  "tract_rounds_ms": [round(v, 3) for v in tract_ms], "ort_rounds_ms": [round(v, 3) for v in ort_ms],
                  "tract_model_ms": round(statistics.median(tract_total), 3),
                  "ort_model_ms": round(statistics.median(ort_total), 3)}
        results.append(result)
        print(json.dumps(result, ensure_ascii=False), flush=True)

    load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else []
    print(f"\n{args.rounds} rounds × {args.runs} runs, one thread each; load average {' '.join(load)}\n")
    print("| file | key node(s) | tract ms (rounds) | onnxruntime ms (rounds) | ratio | tract kernel | in BENCHMARKS.md (whole model) |")
    print("|---|---|---:|---:|---:|---|---|")
    spread = lambda v: f"{min(v):.2f}–{max(v):.2f}"
    for r in results:
        print(f"| `{r['file']}` | {r['pattern']} | {r['tract_ms']:.2f} ({spread(r['tract_rounds_ms'])}) "
              f"| {r['ort_ms']:.2f} ({spread(r['ort_rounds_ms'])}) | {r['ratio']:.1f}× | `{r['tract_kernel']}` | {r['reproduces']} |")


if __name__ == "__main__":
    main()
