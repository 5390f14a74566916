#!/usr/bin/env bash
# The web app: builds the static site into web/dist/ (index.html at its root),
# or serves it on localhost for a test.
#
#   scripts/web.sh            build web/dist/ (the same as `scripts/web.sh build`)
#   scripts/web.sh serve [PORT]   build, then serve web/dist/ on http://localhost:PORT (default 8080)
#
# What it does, from a fresh clone with Rust and Python 3:
#   1. the wasm32 target (rustup) and wasm-bindgen's CLI at the version web/wasm
#      uses (cargo install --locked, into target/tools);
#   2. taxa-wasm (web/wasm) for wasm32-unknown-unknown with SIMD (+simd128),
#      release profile `web` (size-optimised), then wasm-bindgen (no-modules,
#      for a classic Web Worker);
#   3. the inference-only `taxa` (no libtorch) imports iNaturalist's bird and
#      insect models (scripts/fetch-inat-models.sh: ../shared, else the pinned
#      URLs) into the site's models/;
#   4. the page, worker, service worker and manifest from web/site/, with a
#      build id (a hash of every file) that names the service worker's cache.
#
# Put web/dist/ on any static HTTPS host (a service worker, the camera and
# installing need a secure context: HTTPS, or localhost). Serve .wasm as
# application/wasm.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
WASM_BINDGEN_VERSION="0.2.129"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
TOOLS="$TARGET_DIR/tools"
DIST="$ROOT/web/dist"
say() { echo "web: $*" >&2; }

build() {
    if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
        say "adding the wasm32-unknown-unknown target"
        rustup target add wasm32-unknown-unknown
    fi
    if [ "$("$TOOLS/bin/wasm-bindgen" --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
        say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION into $TOOLS (first run only)"
        cargo install --locked --quiet --root "$TOOLS" wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
    fi
    say "building taxa-wasm (wasm32, +simd128)"
    RUSTFLAGS="-C target-feature=+simd128" cargo build --locked --profile web -p taxa-wasm --target wasm32-unknown-unknown
    local wasm="$TARGET_DIR/wasm32-unknown-unknown/web/taxa_wasm.wasm"
    local staging="$TARGET_DIR/web-staging"
    rm -rf "$staging" && mkdir -p "$staging/models"
    "$TOOLS/bin/wasm-bindgen" --target no-modules --no-typescript --out-dir "$staging" "$wasm"

    say "importing the default models with the inference-only taxa"
    # The same build as scripts/check-lite.sh's (free after it), kept aside:
    # the full build writes the same path.
    cargo build --locked --release -p taxa-trainer -p taxa-ffi -p taxa-uniffi-bindgen --no-default-features --bins --examples
    local taxa="$TOOLS/taxa-lite"
    mkdir -p "$TOOLS" && cp "$TARGET_DIR/release/taxa" "$taxa"
    scripts/fetch-inat-models.sh
    local models="${TAXA_INAT_CACHE:-$ROOT/.cache/inat-models}"
    local source="Coral test data (github.com/google-coral/test_data), MobileNetV2 trained on iNaturalist 2017"
    for kind in bird insect; do
        "$taxa" import "$models/mobilenet_v2_1.0_224_inat_${kind}_quant.tflite" --out "$staging/models/inat_${kind}.onnx" \
            --source "$source" --license Apache-2.0 >/dev/null
    done

    cp -r web/site/. "$staging/"
    # The build id: a hash of every file the site serves, so a new build
    # replaces the cached files (service worker cache `taxa-<id>`).
    local id
    id="$(cd "$staging" && find . -type f ! -name 'build.json' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)"
    printf '{"build": "%s"}\n' "$id" >"$staging/build.json"
    sed -i "s/__TAXA_BUILD__/$id/g" "$staging/sw.js"
    rm -rf "$DIST"
    mv "$staging" "$DIST"
    say "built $DIST (build $id, $(du -sh "$DIST" | cut -f1)): wasm $(stat -c %s "$DIST/taxa_wasm_bg.wasm") bytes"
}

case "${1:-build}" in
    build) build ;;
    serve)
        build
        port="${2:-8080}"
        say "serving $DIST on http://localhost:$port (Ctrl-C stops it)"
        exec python3 "$ROOT/web/serve.py" "$DIST" "$port"
        ;;
    *) echo "usage: scripts/web.sh [build | serve [PORT]]" >&2; exit 2 ;;
esac
