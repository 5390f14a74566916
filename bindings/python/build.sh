#!/usr/bin/env bash
# Builds the taxa_ffi Python package (generated UniFFI module + native
# library) into bindings/python/taxa_ffi, then a wheel into bindings/python/dist.
#   bindings/python/build.sh && pip install bindings/python/dist/taxa_ffi-*.whl
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"
cargo build --release --locked -p taxa-ffi --features bindgen
case "$(uname -s)" in
    Darwin) LIB=libtaxa_ffi.dylib ;;
    *) LIB=libtaxa_ffi.so ;;
esac
rm -rf "$HERE/taxa_ffi" "$HERE/build" "$HERE/dist"
mkdir -p "$HERE/taxa_ffi"
target/release/uniffi-bindgen generate --library "target/release/$LIB" --language python --out-dir "$HERE/generated"
mv "$HERE/generated/taxa_ffi.py" "$HERE/taxa_ffi/__init__.py"
rm -rf "$HERE/generated"
cp "target/release/$LIB" "$HERE/taxa_ffi/"
strip "$HERE/taxa_ffi/$LIB" 2>/dev/null || true
python3 -m pip wheel --no-deps --wheel-dir "$HERE/dist" "$HERE"
ls "$HERE"/dist/*.whl
