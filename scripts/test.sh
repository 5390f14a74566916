#!/usr/bin/env bash
# The README's test command, and what CI runs: every test in the project.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$TAXA_ROOT"
# shellcheck disable=SC2086
taxa_pip_install $TAXA_TEST_PY
# Real photos and ImageNet's class names from Debian, for the real-data tests.
scripts/fetch-real-data.sh
# `taxa` without the `train` feature, in an environment without libtorch.
# First, so the full build below leaves the full `taxa` in target/release.
scripts/check-lite.sh
# Release: tract inference and image decoding are too slow unoptimised.
# The bindings tests drive the host-built library and uniffi-bindgen; the
# same features for both commands means one build, not two.
cargo build --release --locked -p taxa-ffi --features bindgen
cargo test --release --locked --workspace --features taxa-ffi/bindgen "$@"
