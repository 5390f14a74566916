#!/usr/bin/env bash
# Builds and tests taxa for the phones' instruction sets on this x86-64 machine.
#
#   scripts/cross.sh setup             apt-get the cross toolchains and qemu, rustup the targets
#   scripts/cross.sh arm64-test        taxa-core's test suite for aarch64-unknown-linux-gnu, run under qemu
#   scripts/cross.sh arm64-parity      x86-64 vs arm64 probabilities: exported architectures on real photos
#   scripts/cross.sh android [ABI..]   taxa-ffi's static library, `mobile` profile or $TAXA_MOBILE_PROFILE (default ABI: aarch64-linux-android;
#                                      also armv7-linux-androideabi, x86_64-linux-android)
#   scripts/cross.sh ios               taxa-ffi's static library for aarch64-apple-ios, without Xcode
#   scripts/cross.sh size              stripped arm64 shared library (stands in for Android's .so) and static library sizes
#   scripts/cross.sh size-speed [MODEL.onnx..]
#                                      the `mobile` profile's opt-level weighed: arm64 .so size and the device
#                                      path's median time under qemu, per level (TAXA_OPT_LEVELS, default "3 s z")
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
# The phone libraries' cargo profile: `mobile` (fat LTO, what ships), or
# `mobile-check` (unoptimised: that they build, for the test command).
MOBILE_PROFILE="${TAXA_MOBILE_PROFILE:-mobile}"

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
    # The phone libraries' codecs (JPEG, PNG, WebP; no default features):
    # core's unit tests again, which check that a left-out format is named.
    cargo test --release --locked -p taxa-core --target "$ARM64" --no-default-features --lib
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
    local lines=() line m count photo n=0
    mapfile -t lines < <(python3 "$ROOT/scripts/cross_parity.py" models "$work" "$ROOT/target/release/taxa")
    [ ${#lines[@]} -gt 0 ] || { say "no models to compare (above)"; exit 1; }
    # qemu emulates one arm64 core per process, some 50× slower than native:
    # the arm64 side is one run per (model, photo), TAXA_PARITY_JOBS (default:
    # the CPU count) at a time, each into its own file.
    local jobs="${TAXA_PARITY_JOBS:-$(nproc)}" scored="$work/aarch64-runs"
    rm -rf "$scored"
    mkdir -p "$scored"
    : >"$work/x86_64.jsonl"
    : >"$scored/runs"
    for line in "${lines[@]}"; do
        read -r m count <<<"$line"
        [ -f "$m" ] || { say "the model export failed (above): no $m"; exit 1; }
        local use=("${photos[@]}")
        [ "$count" = all ] || use=("${photos[@]:0:$count}")
        say "scoring $(basename "$m") on ${#use[@]} photos (x86-64)"
        "$ROOT/target/release/examples/probabilities" "$m" "${use[@]}" >>"$work/x86_64.jsonl"
        for photo in "${use[@]}"; do
            n=$((n + 1))
            printf '%s\0%s\0%s\0' "$m" "$photo" "$scored/$(printf %03d "$n").jsonl" >>"$scored/runs"
        done
    done
    say "scoring the same $n (model, photo) pairs on arm64 under qemu, $jobs at a time"
    # xargs exits non-zero if any run does.
    xargs -0 -n 3 -P "$jobs" sh -c 'qemu-aarch64 -L /usr/aarch64-linux-gnu "$0" "$1" "$2" >"$3"' \
        "$ROOT/target/$ARM64/release/examples/probabilities" <"$scored/runs" \
        || { say "an arm64 scoring run failed (above)"; exit 1; }
    cat "$scored"/*.jsonl >"$work/aarch64.jsonl"
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
        cargo rustc --profile "$MOBILE_PROFILE" --locked -p taxa-ffi --lib --no-default-features --target "$abi" --crate-type staticlib
        say "$abi: target/$abi/$MOBILE_PROFILE/libtaxa_ffi.a, $(du -h "target/$abi/$MOBILE_PROFILE/libtaxa_ffi.a" | cut -f1), $((SECONDS - start)) s"
    done
}

ios() {
    setup aarch64-apple-ios
    clang_env aarch64-apple-ios "arm64-apple-ios$IOS_MIN"
    # The cc crate asks xcrun for an SDK unless SDKROOT is set; tract's C
    # sources need no SDK headers, so any folder will do.
    export SDKROOT="${SDKROOT:-$ROOT/target/no-ios-sdk}"
    mkdir -p "$SDKROOT"
    # Otherwise cc asks xcrun for the SDK's version.
    export IPHONEOS_DEPLOYMENT_TARGET="$IOS_MIN.0"
    local start=$SECONDS
    cargo rustc --profile "$MOBILE_PROFILE" --locked -p taxa-ffi --lib --no-default-features --target aarch64-apple-ios --crate-type staticlib
    say "aarch64-apple-ios: target/aarch64-apple-ios/$MOBILE_PROFILE/libtaxa_ffi.a, $(du -h "target/aarch64-apple-ios/$MOBILE_PROFILE/libtaxa_ffi.a" | cut -f1), $((SECONDS - start)) s"
}

size() {
    setup
    arm64_env
    local start=$SECONDS
    cargo rustc --profile mobile --locked -p taxa-ffi --lib --no-default-features --target "$ARM64" --crate-type cdylib
    local so="target/$ARM64/mobile/libtaxa_ffi.so"
    aarch64-linux-gnu-strip -o "$so.stripped" "$so"
    printf '%s\t%s\n' "$ARM64 cdylib (stripped)" "$(stat -c %s "$so.stripped")"
    local a
    for a in target/*/mobile/libtaxa_ffi.a; do
        [ -f "$a" ] && printf '%s\t%s\n' "$(basename "$(dirname "$(dirname "$a")")") staticlib" "$(stat -c %s "$a")"
    done
    say "size build: $((SECONDS - start)) s"
}

# Each opt-level's library and the device_path example (bindings/examples),
# then the examples timed on the same models and photo, interleaved, two
# rounds; the table is each level's median against opt-level 3's.
size_speed() {
    setup
    arm64_env
    local out="$ROOT/target/size-speed" start=$SECONDS levels level models=("$@")
    read -ra levels <<<"${TAXA_OPT_LEVELS:-3 s z}"
    if [ ${#models[@]} -eq 0 ]; then
        local m
        for m in squeezenet1_1 shufflenet_v2_x1_0 efficientnet_lite0; do
            [ -f "$ROOT/target/cross-parity/$m.onnx" ] && models+=("$ROOT/target/cross-parity/$m.onnx")
        done
        [ ${#models[@]} -gt 0 ] || { say "no models given and none in target/cross-parity (run scripts/cross.sh arm64-parity)"; exit 2; }
    fi
    local photo="${TAXA_REAL_DATA:-$ROOT/.cache/real-data}/darknet/usr/share/darknet/data/dog.jpg"
    [ -f "$photo" ] || { say "no photo at $photo (run scripts/fetch-real-data.sh)"; exit 2; }
    mkdir -p "$out"
    : >"$out/sizes.tsv"
    for level in "${levels[@]}"; do
        say "opt-level $level: library and device_path example"
        # All of the lib's crate types (not `cargo rustc --crate-type cdylib`):
        # the rlib makes cargo build the dependencies as objects and bitcode,
        # the form the example links too, so one dependency build serves both.
        CARGO_PROFILE_MOBILE_OPT_LEVEL="$level" cargo build --profile mobile --locked -p taxa-ffi --lib --no-default-features --target "$ARM64"
        aarch64-linux-gnu-strip -o "$out/libtaxa_ffi-$level.so" "target/$ARM64/mobile/libtaxa_ffi.so"
        printf '%s\t%s\n' "$level" "$(stat -c %s "$out/libtaxa_ffi-$level.so")" >>"$out/sizes.tsv"
        CARGO_PROFILE_MOBILE_OPT_LEVEL="$level" cargo build --profile mobile --locked -p taxa-ffi --no-default-features --example device_path --target "$ARM64"
        cp "target/$ARM64/mobile/examples/device_path" "$out/device_path-$level"
    done
    : >"$out/times.jsonl"
    local round model
    # qemu runs tract's NEON kernels slowly (about 20 s a SqueezeNet run): 2 rounds of 3.
    for round in 1 2; do
        for model in "${models[@]}"; do
            for level in "${levels[@]}"; do
                say "round $round: $(basename "$model") at opt-level $level (qemu)"
                qemu-aarch64 -L /usr/aarch64-linux-gnu "$out/device_path-$level" "$model" "$photo" 3 \
                    | python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); d["level"]=sys.argv[1]; print(json.dumps(d))' "$level" >>"$out/times.jsonl"
            done
        done
    done
    python3 - "$out/sizes.tsv" "$out/times.jsonl" <<'PY'
import json, statistics, sys
from collections import defaultdict
sizes = dict(line.split("\t") for line in open(sys.argv[1]).read().splitlines())
times = defaultdict(list)
for line in open(sys.argv[2]):
    d = json.loads(line)
    times[(d["model"].rsplit("/", 1)[-1], d["level"])].append(d["median_ms"])
levels = list(sizes)
print("| opt-level | stripped .so (bytes) | " + " | ".join(f"{m} ms (vs 3)" for m in sorted({m for m, _ in times})) + " |")
print("|---|---:|" + "---:|" * len({m for m, _ in times}))
for level in levels:
    cells = []
    for model in sorted({m for m, _ in times}):
        t = statistics.median(times[(model, level)])
        base = statistics.median(times[(model, levels[0])])
        cells.append(f"{t:.1f} ({t / base:.2f}×)")
    print(f"| {level} | {int(sizes[level]):,} | " + " | ".join(cells) + " |")
PY
    say "size-speed: $((SECONDS - start)) s"
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
    size-speed) size_speed "$@" ;;
    *) sed -n '2,13p' "$0" >&2; exit 2 ;;
esac
