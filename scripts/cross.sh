#!/usr/bin/env bash
# Builds and tests taxa for the phones' instruction sets on this x86-64 machine.
#
#   scripts/cross.sh setup             apt-get the cross toolchains and qemu, rustup the targets
#   scripts/cross.sh arm64-test        taxa-core's test suite for aarch64-unknown-linux-gnu, run under qemu
#   scripts/cross.sh arm64-parity      x86-64 vs arm64 probabilities: exported architectures on real photos
#   scripts/cross.sh android [ABI..]   taxa-ffi's static library, `mobile` profile (default ABI: aarch64-linux-android;
#                                      also armv7-linux-androideabi, x86_64-linux-android)
#   scripts/cross.sh ios               taxa-ffi's static library for aarch64-apple-ios, without Xcode
#   scripts/cross.sh size              stripped arm64 shared library (stands in for Android's .so) and static library sizes
#
# No Android NDK or Xcode is needed: Debian's clang (--target=...) compiles and
# assembles tract's arm64 kernels, and llvm-ar archives them. Linking an
# Android .so needs the NDK (android/build-rust.sh); the aarch64 Linux .so
# built here stands in for it when measuring size.
# Every step shares target/ with the host build, so the host-side build
# scripts and proc-macros are compiled once.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
say() { echo "cross: $*" >&2; }

ARM64=aarch64-unknown-linux-gnu
ANDROID_API=24
IOS_MIN=13

setup() {
    local packages=() p
    for p in gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user clang llvm; do
        dpkg -s "$p" >/dev/null 2>&1 || packages+=("$p")
    done
    if [ ${#packages[@]} -gt 0 ]; then
        local sudo=()
        [ "$(id -u)" = 0 ] || sudo=(sudo)
        say "installing ${packages[*]}"
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
    fi
    local installed
    installed="$(rustup target list --installed)"
    for t in "$ARM64" aarch64-linux-android "$@"; do
        grep -qx "$t" <<<"$installed" || rustup target add "$t"
    done
}

arm64_env() {
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
    export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
    export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
}

# clang as the C compiler and assembler of target $1 (a Rust triple), for $2 (clang's triple).
clang_env() {
    local var="${1//-/_}"
    export "CC_$var=clang" "AR_$var=llvm-ar" "CFLAGS_$var=--target=$2"
}

arm64_test() {
    setup
    arm64_env
    local start=$SECONDS
    cargo test --release --locked -p taxa-core --target "$ARM64"
    say "arm64 core tests under qemu: $((SECONDS - start)) s (build included)"
}

# Random-initialised torchvision weights (seeded), EfficientNet-Lite0's
# ImageNet weights, each exported by `taxa export`; then both builds of
# core's `probabilities` example on the same photos.
arm64_parity() {
    setup
    # taxa export links libtorch; the models step needs torchvision.
    # shellcheck source=/dev/null
    source "$ROOT/scripts/env.sh"
    arm64_env
    local work="$ROOT/target/cross-parity" start=$SECONDS
    mkdir -p "$work"
    local data="${TAXA_REAL_DATA:-$ROOT/.cache/real-data}"
    [ -f "$data/.complete" ] || { say "no real photos in $data (run scripts/fetch-real-data.sh)"; exit 2; }
    local photos=()
    mapfile -t photos < <(python3 "$ROOT/scripts/cross_parity.py" photos "$data")
    # The host build with scripts/test.sh's feature set (a different set
    # would compile tract again); the arm64 one with arm64-test's.
    cargo build --release --locked --workspace --bins --example probabilities
    cargo build --release --locked -p taxa-core --example probabilities --target "$ARM64"
    local lines=() line m count
    mapfile -t lines < <(python3 "$ROOT/scripts/cross_parity.py" models "$work" "$ROOT/target/release/taxa")
    [ ${#lines[@]} -gt 0 ] || { say "no models to compare (above)"; exit 1; }
    : >"$work/x86_64.jsonl"
    : >"$work/aarch64.jsonl"
    for line in "${lines[@]}"; do
        read -r m count <<<"$line"
        [ -f "$m" ] || { say "the model export failed (above): no $m"; exit 1; }
        local use=("${photos[@]}")
        [ "$count" = all ] || use=("${photos[@]:0:$count}")
        say "scoring $(basename "$m") on ${#use[@]} photos (x86-64, then arm64 under qemu)"
        "$ROOT/target/release/examples/probabilities" "$m" "${use[@]}" >>"$work/x86_64.jsonl"
        qemu-aarch64 -L /usr/aarch64-linux-gnu "$ROOT/target/$ARM64/release/examples/probabilities" "$m" "${use[@]}" >>"$work/aarch64.jsonl"
    done
    python3 "$ROOT/scripts/cross_parity.py" compare "$work/x86_64.jsonl" "$work/aarch64.jsonl"
    say "arm64 parity: $((SECONDS - start)) s"
}

android() {
    local abis=("$@")
    [ ${#abis[@]} -gt 0 ] || abis=(aarch64-linux-android)
    setup "${abis[@]}"
    local abi clang_triple start
    for abi in "${abis[@]}"; do
        case "$abi" in
            aarch64-linux-android) clang_triple="aarch64-linux-android$ANDROID_API" ;;
            armv7-linux-androideabi) clang_triple="armv7a-linux-androideabi$ANDROID_API" ;;
            x86_64-linux-android) clang_triple="x86_64-linux-android$ANDROID_API" ;;
            i686-linux-android) clang_triple="i686-linux-android$ANDROID_API" ;;
            *) say "unknown Android ABI '$abi'"; exit 2 ;;
        esac
        clang_env "$abi" "$clang_triple"
        start=$SECONDS
        # Only the static library: the cdylib needs the NDK's linker.
        cargo rustc --profile mobile --locked -p taxa-ffi --lib --target "$abi" --crate-type staticlib
        say "$abi: target/$abi/mobile/libtaxa_ffi.a, $(du -h "target/$abi/mobile/libtaxa_ffi.a" | cut -f1), $((SECONDS - start)) s"
    done
}

ios() {
    setup aarch64-apple-ios
    clang_env aarch64-apple-ios "arm64-apple-ios$IOS_MIN"
    # The cc crate asks xcrun for an SDK unless SDKROOT is set; tract's C
    # sources need no SDK headers, so any folder will do.
    export SDKROOT="${SDKROOT:-$ROOT/target/no-ios-sdk}"
    mkdir -p "$SDKROOT"
    local start=$SECONDS
    cargo rustc --profile mobile --locked -p taxa-ffi --lib --target aarch64-apple-ios --crate-type staticlib
    say "aarch64-apple-ios: target/aarch64-apple-ios/mobile/libtaxa_ffi.a, $(du -h target/aarch64-apple-ios/mobile/libtaxa_ffi.a | cut -f1), $((SECONDS - start)) s"
}

size() {
    setup
    arm64_env
    local start=$SECONDS
    cargo rustc --profile mobile --locked -p taxa-ffi --lib --target "$ARM64" --crate-type cdylib
    local so="target/$ARM64/mobile/libtaxa_ffi.so"
    aarch64-linux-gnu-strip -o "$so.stripped" "$so"
    printf '%s\t%s\n' "$ARM64 cdylib (stripped)" "$(stat -c %s "$so.stripped")"
    local a
    for a in target/*/mobile/libtaxa_ffi.a; do
        [ -f "$a" ] && printf '%s\t%s\n' "$(basename "$(dirname "$(dirname "$a")")") staticlib" "$(stat -c %s "$a")"
    done
    say "size build: $((SECONDS - start)) s"
}

what="${1:-}"
shift || true
case "$what" in
    setup) setup "$@" ;;
    arm64-test) arm64_test ;;
    arm64-parity) arm64_parity ;;
    android) android "$@" ;;
    ios) ios ;;
    size) size ;;
    *) sed -n '2,10p' "$0" >&2; exit 2 ;;
esac
