#!/usr/bin/env bash
# The README's main command: builds taxa and runs it on the built-in default.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$TAXA_ROOT"
cargo build --release --locked -p taxa-trainer --bin taxa
exec target/release/taxa demo "$@"
