#!/usr/bin/env bash
# Benchmarks against peers measured in the same run.
# Usage: bench/run.sh core | archs | training-throughput | frozen | decode | real-transfer [options]
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
cd "$TAXA_ROOT"
# shellcheck disable=SC2086
taxa_pip_install $TAXA_TEST_PY
cargo build --release --locked -p taxa-trainer --bin taxa
case "${1:-core}" in
    core) python bench/core_vs_onnxruntime.py --taxa target/release/taxa "${@:2}" ;;
    archs) python bench/architectures.py --taxa target/release/taxa "${@:2}" ;;
    training-throughput) python bench/training.py throughput --taxa target/release/taxa "${@:2}" ;;
    frozen) python bench/training.py frozen --taxa target/release/taxa "${@:2}" ;;
    decode) python bench/training.py decode --taxa target/release/taxa "${@:2}" ;;
    real-transfer) scripts/fetch-real-data.sh && python bench/real_transfer.py --taxa target/release/taxa "${@:2}" ;;
    *) echo "unknown benchmark: $1 (known: core, archs, training-throughput, frozen, decode, real-transfer)" >&2; exit 2 ;;
esac
