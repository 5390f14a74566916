"""Each load-time graph rewrite (taxa_core::graph_rewrite) against none, per
architecture: tract inference medians from `taxa bench` with TAXA_REWRITES
set per variant, the variants interleaved in rounds; per round the ratio
variant / off, then the median of those ratios (the machine's load drifts
between rounds, the ratio within a round much less).

Usage (after bench/end_to_end.py's bundles exist, or any bundles):
  taskset -c 1 python bench/rewrites_ab.py --taxa target/release/taxa --image PHOTO B1.onnx B2.onnx ...
"""
import json
import os
import statistics

from peers import bench_parser, taxa_bench

VARIANTS = ["off", "maxpool", "stem", "concat", "maxpool,stem", "default"]


def inference_ms(taxa, bundle, image, runs, variant):
    return taxa_bench(taxa, bundle, image, runs, None if variant == "default" else variant)["inference_ms"]


def main():
    ap = bench_parser(runs=20)
    ap.add_argument("--image", required=True)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--variants", default=",".join(VARIANTS).replace(",", ";"),
                    help="TAXA_REWRITES values to compare, separated by ';' ('default': unset; 'off' is always measured)")
    ap.add_argument("bundles", nargs="+")
    args = ap.parse_args()
    variants = ["off"] + [v for v in args.variants.split(";") if v and v != "off"]
    for bundle in args.bundles:
        ratios = {v: [] for v in variants}
        times = {v: [] for v in variants}
        for _ in range(args.rounds):
            row = {v: inference_ms(args.taxa, bundle, args.image, args.runs, v) for v in variants}
            for v in variants:
                times[v].append(row[v])
                ratios[v].append(row[v] / row["off"])
        print(json.dumps({
            "bundle": os.path.basename(bundle),
            **{v: {"median_ms": round(statistics.median(times[v]), 3), "ratio_vs_off": round(statistics.median(ratios[v]), 3)} for v in variants},
        }), flush=True)


if __name__ == "__main__":
    main()
