"""Per-architecture device numbers for taxa-exported bundles: tract (through
`taxa bench`) vs onnxruntime on the same file, single thread, batch 1,
plus file size and load time. Weights are torchvision's architectures with
seeded random values, 1000 classes; BatchNorm folded (taxa's default).

Run through bench/run.sh archs.
"""
import json
import os
import subprocess
import sys
import tempfile

from peers import bench_parser, ort_latency

FAMILIES = ["squeezenet1_1", "shufflenet_v2_x1_0", "alexnet", "densenet121", "resnext50_32x4d"]


def main():
    ap = bench_parser(runs=20)
    ap.add_argument("--archs", default=",".join(FAMILIES))
    args = ap.parse_args()
    import torch
    import torchvision

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for arch in args.archs.split(","):
            torch.manual_seed(0)
            weights = os.path.join(tmp, f"{arch}.pth")
            torch.save(getattr(torchvision.models, arch)(weights=None).state_dict(), weights)
            bundle = os.path.join(tmp, f"{arch}.onnx")
            subprocess.run([args.taxa, "export", "--arch", arch, "--weights", weights,
                            "--num-classes", "1000", "--out", bundle], check=True, capture_output=True)
            out = subprocess.run([args.taxa, "bench", "--model", bundle, "--runs", str(args.runs),
                                  "--warmup", "3", "--json"], check=True, capture_output=True, text=True)
            taxa = json.loads(out.stdout)
            ort_ms, ort_load = ort_latency(bundle, args.runs)
            rows.append({
                "arch": arch,
                "file_mb": os.path.getsize(bundle) / 1e6,
                "tract_ms": taxa["inference_ms"],
                "ort_ms": ort_ms,
                "tract_vs_ort": taxa["inference_ms"] / ort_ms,
                "taxa_end_to_end_ms": taxa["total_ms"],
                "end_to_end_vs_ort": taxa["total_ms"] / ort_ms,
                "tract_load_ms": taxa["load_ms"],
                "ort_load_ms": ort_load,
            })
            print(json.dumps(rows[-1]), file=sys.stderr)
    json.dump(rows, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
