#!/usr/bin/env bash
# Benchmarks against peers measured in the same run. Usage: bench/run.sh core
set -euo pipefail
export TAXA_PY_EXTRAS="torchvision==0.26.0 onnxruntime onnx pillow numpy"
source "$(dirname "$0")/../scripts/env.sh"
cd "$TAXA_ROOT"
cargo build --release --locked -p taxa-trainer --bin taxa
case "${1:-core}" in
    core) python bench/core_vs_onnxruntime.py --taxa target/release/taxa "${@:2}" ;;
    *) echo "unknown benchmark: $1 (known: core)" >&2; exit 2 ;;
esac
