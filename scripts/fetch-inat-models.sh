#!/usr/bin/env bash
# Fetches the real iNaturalist species classifiers and photos that `taxa
# import`'s tests, the demo and the web app use (Coral's public test data,
# Apache-2.0: MobileNetV2 bird and insect models, quantised TFLite, with
# their label files and six real photos) into an ignored cache.
#
# Where from, in order: $TAXA_INAT_MODELS (a folder holding the files), the
# project's shared folder ../shared/inat-models beside the clone, else the
# pinned upstream URLs. Every file is checked against the SHA-256 sums kept in
# scripts/data/inat-models.sha256, whichever source it came from.
#
# Usage: scripts/fetch-inat-models.sh [CACHE_DIR]   (default .cache/inat-models,
# or $TAXA_INAT_CACHE). Idempotent. Exits 0 when the files are there, 2 (with
# the reason) when they cannot be had.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${1:-${TAXA_INAT_CACHE:-$ROOT/.cache/inat-models}}"
SUMS="$ROOT/scripts/data/inat-models.sha256"
UPSTREAM="https://github.com/google-coral/test_data/raw/104342d2d3480b3e66203073dac24f4e2dbb4c41"

say() { echo "fetch-inat-models: $*" >&2; }

verified() { (cd "$CACHE" && sha256sum --quiet --check "$SUMS") >/dev/null 2>&1; }

mkdir -p "$CACHE"
if verified; then
    say "already in $CACHE"
    exit 0
fi
files=($(awk '{print $2}' "$SUMS"))
source_dir=""
for candidate in "${TAXA_INAT_MODELS:-}" "$ROOT/../shared/inat-models"; do
    if [ -n "$candidate" ] && [ -f "$candidate/${files[0]}" ]; then
        source_dir="$candidate"
        break
    fi
done
for name in "${files[@]}"; do
    if [ -n "$source_dir" ]; then
        cp "$source_dir/$name" "$CACHE/$name.part"
    elif ! curl -fsSL --retry 2 -o "$CACHE/$name.part" "$UPSTREAM/$name"; then
        rm -f "$CACHE/$name.part"
        say "cannot download $UPSTREAM/$name, and no local copy: set TAXA_INAT_MODELS to a folder holding the files"
        exit 2
    fi
    mv "$CACHE/$name.part" "$CACHE/$name"
done
if ! verified; then
    say "the files in $CACHE do not match scripts/data/inat-models.sha256:"
    (cd "$CACHE" && sha256sum --check "$SUMS" 2>&1 | grep -v ': OK$' >&2) || true
    exit 2
fi
say "copied ${#files[@]} files into $CACHE from ${source_dir:-$UPSTREAM}"
