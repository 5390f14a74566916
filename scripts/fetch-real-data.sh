#!/usr/bin/env bash
# Fetches the real photos and ImageNet class names that taxa's real-data
# tests and the demo use, from Debian's archive, into an ignored cache:
#
#   tuxpaint-stamps-default  ~178 photos of animals and plants (PNG with alpha,
#                            GPL-2); scripts/data/tuxpaint-photo-stamps.csv
#                            lists which stamps are photos, with a coarse class
#   darknet                  imagenet.labels.list + imagenet.shortnames.list
#                            (ImageNet-1k's class names) and four real photos
#                            (dog, eagle, giraffe, horses); GPL-3+/MIT/WTFPL
#
# Usage: scripts/fetch-real-data.sh [CACHE_DIR]   (default: .cache/real-data,
# or $TAXA_REAL_DATA). Idempotent: a finished cache is left alone. Exits 0 when
# the data is there, 2 (with the reason) when it cannot be downloaded here.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${1:-${TAXA_REAL_DATA:-$ROOT/.cache/real-data}}"
CSV="$ROOT/scripts/data/tuxpaint-photo-stamps.csv"
STAMP="$CACHE/.complete"
DARKNET_FILES=(imagenet.labels.list imagenet.shortnames.list dog.jpg eagle.jpg giraffe.jpg horses.jpg)

say() { echo "fetch-real-data: $*" >&2; }
impossible() {
    say "cannot download the real data: $*"
    say "(the demo falls back to its synthetic field guide; the real-data tests need this data)"
    exit 2
}

if [ -f "$STAMP" ]; then
    say "already in $CACHE"
    exit 0
fi
command -v apt-get >/dev/null || impossible "apt-get not found (this needs a Debian-based system)"
command -v dpkg-deb >/dev/null || impossible "dpkg-deb not found"
mkdir -p "$CACHE/debs"

download() {
    # apt-get download needs no root once the package lists exist.
    local package="$1" log
    ls "$CACHE/debs/${package}"_*.deb >/dev/null 2>&1 && return 0
    local opts=()
    [ "$(id -u)" = 0 ] && opts=(-o APT::Sandbox::User=root)
    if ! log="$(cd "$CACHE/debs" && apt-get download "${opts[@]}" "$package" 2>&1)"; then
        if [ "$(id -u)" = 0 ] && echo "$log" | grep -q "Unable to locate package"; then
            say "apt lists lack $package; running apt-get update"
            apt-get update -qq >/dev/null 2>&1 || impossible "apt-get update failed (no network to the Debian archive?)"
            log="$(cd "$CACHE/debs" && apt-get download "${opts[@]}" "$package" 2>&1)" || impossible "apt-get download $package: $(echo "$log" | tail -1)"
        else
            impossible "apt-get download $package: $(echo "$log" | tail -1)"
        fi
    fi
    say "downloaded $(cd "$CACHE/debs" && ls "${package}"_*.deb)"
}

download tuxpaint-stamps-default
download darknet

# Only the files we use are unpacked (the stamps package is 230 MB unpacked).
extract() {
    local deb="$1" dest="$2" list="$3"
    mkdir -p "$dest"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dest" -T "$list" \
        || impossible "unpacking $(basename "$deb") failed (a file listed is missing from this version?)"
}

list="$(mktemp)"
trap 'rm -f "$list"' EXIT
{
    echo "./usr/share/doc/tuxpaint-stamps-default/copyright"
    tail -n +2 "$CSV" | cut -d, -f2 | sed 's|^|./|'
    tail -n +2 "$CSV" | cut -d, -f2 | sed 's|^|./|; s|\.png$|.txt|'
} >"$list"
extract "$CACHE"/debs/tuxpaint-stamps-default_*.deb "$CACHE/tuxpaint-stamps-default" "$list"

{
    echo "./usr/share/doc/darknet/copyright"
    for f in "${DARKNET_FILES[@]}"; do echo "./usr/share/darknet/data/$f"; done
} >"$list"
extract "$CACHE"/debs/darknet_*.deb "$CACHE/darknet" "$list"

photos=$(tail -n +2 "$CSV" | wc -l)
found=$(tail -n +2 "$CSV" | cut -d, -f2 | while read -r p; do [ -f "$CACHE/tuxpaint-stamps-default/$p" ] && echo; done | wc -l)
[ "$found" = "$photos" ] || impossible "only $found of $photos photo stamps were in the package"
labels="$CACHE/darknet/usr/share/darknet/data/imagenet.labels.list"
[ "$(wc -l <"$labels")" -ge 1000 ] || impossible "$labels has fewer than 1000 classes"

# The .debs are no longer needed once unpacked (161 MB).
rm -rf "$CACHE/debs"
date -u +%FT%TZ >"$STAMP"
say "$found photo stamps and ImageNet's class names in $CACHE"
