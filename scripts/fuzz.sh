#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ (see RELIABILITY.md).
#   scripts/fuzz.sh                       every target, 600 s each, one after another
#   scripts/fuzz.sh decode_image 60       one target for 60 s
#   scripts/fuzz.sh decode_image 60 -- -dict=x.dict   extra libFuzzer flags after --
#   scripts/fuzz.sh regress               replays tests/fuzz-regressions/<target>/* once
#   scripts/fuzz.sh list
# Needs nightly and cargo-fuzz:
#   rustup toolchain install nightly --profile minimal && cargo install cargo-fuzz
# The dataset targets (inat_json, folder_layout) link libtorch: scripts/env.sh
# is sourced for them (set TAXA_VENV to reuse an existing venv).
# Crashes land in fuzz/artifacts/<target>/, the grown corpus in fuzz/corpus/<target>/,
# the log of each run in fuzz/logs/<target>.log.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CORE_TARGETS=(decode_image classify_bytes bundle_metadata model_load)
TRAINER_TARGETS=(inat_json folder_layout)

what="${1:-all}"
seconds="${2:-600}"
shift $(( $# < 2 ? $# : 2 ))
[ "${1:-}" = "--" ] && shift
extra=("$@")

if [ "$what" = list ]; then
    printf '%s\n' "${CORE_TARGETS[@]}" "${TRAINER_TARGETS[@]}"
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: needs cargo-fuzz on a nightly toolchain:" >&2
    echo "  rustup toolchain install nightly --profile minimal && cargo install cargo-fuzz" >&2
    exit 2
fi

# Nightly and sanitizer artifacts never mix with the workspace's stable build.
export CARGO_TARGET_DIR="$ROOT/fuzz/target"
scratch="$(mktemp -d "${TAXA_FUZZ_TMPBASE:-/dev/shm}/taxa-fuzz.XXXXXX" 2>/dev/null || mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
export TAXA_FUZZ_TMP="$scratch"
mkdir -p "$ROOT/fuzz/logs"
python3 "$ROOT/fuzz/make_seeds.py"

is_trainer_target() {
    local x
    for x in "${TRAINER_TARGETS[@]}"; do [ "$x" = "$1" ] && return 0; done
    return 1
}
known_target() {
    local x
    for x in "${CORE_TARGETS[@]}" "${TRAINER_TARGETS[@]}"; do [ "$x" = "$1" ] && return 0; done
    echo "fuzz.sh: unknown target '$1' (scripts/fuzz.sh list)" >&2
    return 1
}
torch_env_loaded=0
# The cargo-fuzz flags of target $1; for a trainer target, loads libtorch's
# environment (LIBTORCH_USE_PYTORCH for the build, LD_LIBRARY_PATH to run).
FLAGS=()
set_flags() {
    FLAGS=()
    if is_trainer_target "$1"; then
        if [ "$torch_env_loaded" = 0 ]; then
            # shellcheck source=/dev/null
            source "$ROOT/scripts/env.sh"
            torch_env_loaded=1
        fi
        FLAGS=(--features trainer)
    fi
}

run_target() {
    local t="$1"
    known_target "$t" || exit 2
    set_flags "$t"
    mkdir -p "$ROOT/fuzz/corpus/$t"
    local log="$ROOT/fuzz/logs/$t.log" rc
    echo "== $t: ${seconds}s, log $log" >&2
    # -fork=1: one fuzzing process at a time, restarted after a crash, so one
    # known crash does not end the run; every crash is saved in fuzz/artifacts.
    set +e
    (cd "$ROOT/fuzz" && nice -n 10 cargo +nightly fuzz run ${FLAGS[@]+"${FLAGS[@]}"} "$t" "corpus/$t" "seeds/$t" -- \
        -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 \
        -max_total_time="$seconds" -timeout=60 -rss_limit_mb=4096 ${extra[@]+"${extra[@]}"}) \
        > "$log" 2>&1
    rc=$?
    set -e
    grep -E '^(#[0-9]+: cov|INFO: -fork|==[0-9]+== ?ERROR|SUMMARY|taxa-fuzz: panic|error(\[|:))' "$log" | tail -5 >&2 || true
    summary "$t" "$log"
    return "$rc"
}

summary() {
    # The last status line of a fork-mode run: #EXECS: cov: C ft: F corp: N exec/s: R oom/timeout/crash: O/T/X time: Ss
    local t="$1" log="$2" last
    last="$(grep -E '^#[0-9]+: cov' "$log" | tail -1)"
    if [ -z "$last" ]; then
        echo "== $t: no status line; see $log" >&2
        return
    fi
    echo "$last" | awk -v t="$t" -v files="$(ls "$ROOT/fuzz/artifacts/$t" 2>/dev/null | wc -l)" '{
        execs = substr($1, 2) + 0; secs = $NF; for (i = 1; i < NF; i++) if ($i == "time:") secs = $(i + 1) + 0
        for (i = 1; i < NF; i++) { if ($i == "cov:") cov = $(i + 1); if ($i == "ft:") ft = $(i + 1); if ($i == "corp:") corp = $(i + 1); if ($i == "oom/timeout/crash:") otc = $(i + 1) }
        printf "== %s: %d executions in %d s (%.0f exec/s), cov %s, ft %s, corpus %s, oom/timeout/crash %s, files in fuzz/artifacts/%s: %d\n", t, execs, secs, execs / (secs > 0 ? secs : 1), cov, ft, corp, otc, t, files
    }' >&2
}

if [ "$what" = regress ]; then
    status=0
    for dir in "$ROOT"/tests/fuzz-regressions/*/; do
        t="$(basename "$dir")"
        known_target "$t" || exit 2
        set_flags "$t"
        echo "== replaying $dir" >&2
        (cd "$ROOT/fuzz" && nice -n 10 cargo +nightly fuzz run ${FLAGS[@]+"${FLAGS[@]}"} "$t" "$dir" -- -runs=0 ${extra[@]+"${extra[@]}"}) || status=1
    done
    exit "$status"
fi

if [ "$what" = all ]; then
    status=0
    for t in "${CORE_TARGETS[@]}" "${TRAINER_TARGETS[@]}"; do
        run_target "$t" || status=1
    done
    exit "$status"
fi
run_target "$what"
