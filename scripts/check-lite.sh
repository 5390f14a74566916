#!/usr/bin/env bash
# The inference-only CLI (`taxa-trainer --no-default-features`): builds it in
# an environment without libtorch (no LIBTORCH*, no LD_LIBRARY_PATH, no venv
# on PATH), checks that nothing in its dependency tree or its binary is
# libtorch, and classifies the toy bundle's photos with it. Fails if libtorch
# sneaks back into the no-train build. Run by scripts/test.sh; runs alone too.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# PATH without the project's venv (scripts/env.sh prepends it).
clean_path="$(printf '%s' "$PATH" | tr ':' '\n' | grep -v -x -F "${TAXA_VENV:-$root/.venv}/bin" | paste -sd: -)"
clean=(env -u LIBTORCH -u LIBTORCH_USE_PYTORCH -u LIBTORCH_INCLUDE -u LIBTORCH_LIB -u LD_LIBRARY_PATH
       -u TAXA_TORCH_LIB -u VIRTUAL_ENV PATH="$clean_path")
target="${CARGO_TARGET_DIR:-$root/target}"

if "${clean[@]}" cargo tree --locked -p taxa-trainer --no-default-features -e normal | grep -i -E 'tch|torch'; then
    echo "check-lite: libtorch is in the no-train dependency tree (above)" >&2
    exit 1
fi
# taxa-ffi and uniffi-bindgen are built alongside only so that shared
# dependencies (serde_json) get the same features as in the main build below:
# tract and the other heavy crates are then compiled once for both builds.
"${clean[@]}" cargo build --release --locked -p taxa-trainer -p taxa-ffi -p taxa-uniffi-bindgen --no-default-features --bins --examples
if ldd "$target/release/taxa" | grep -i torch; then
    echo "check-lite: the no-train taxa links libtorch (above)" >&2
    exit 1
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"${clean[@]}" "$target/release/examples/toy_bundle" "$out" >/dev/null
"${clean[@]}" "$target/release/taxa" classify --model "$out/toy.onnx" "$out"/photos/*.jpg --json >"$out/results.json"
# Six photos, each one's top-1 in the photo's genus (the two Rana frogs are
# meant to be confused with each other: the roll-up answers "Rana").
python3 - "$out/results.json" <<'PY' || { echo "check-lite: unexpected classifications:" >&2; cat "$out/results.json" >&2; exit 1; }
import json, pathlib, sys
results = json.load(open(sys.argv[1]))
assert len(results) == 6, len(results)
for r in results:
    genus = pathlib.Path(r["image"]).name.split("_")[0]
    assert r["predictions"][0]["taxonomy"]["genus"].lower() == genus, r
PY
if "${clean[@]}" "$target/release/taxa" train --help >/dev/null 2>"$out/err"; then
    echo "check-lite: the no-train taxa accepts \`train\`" >&2
    exit 1
fi
grep -q 'needs the `train` feature' "$out/err"
echo "check-lite: inference-only taxa built without libtorch and classified 6 photos"
