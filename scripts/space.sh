# Sourced by scripts/env.sh and scripts/test.sh: refuses, before the work
# starts, a step the disk cannot hold, rather than failing half-way with
# "No space left on device" (as a CI run once did, 33 s into the torch wheel).
#
#   taxa_need_space GIB WHAT [DIR]   exits 1 (naming DIR, the need and what is
#                                    free) unless GIB GiB are free where DIR is
#
# TAXA_SKIP_SPACE_CHECK=1 turns the check off (to try anyway).
taxa_need_space() {
    local gib="$1" what="$2" dir="${3:-${TAXA_ROOT:-.}}"
    [ "${TAXA_SKIP_SPACE_CHECK:-0}" = 1 ] && return 0
    # The nearest existing folder: DIR itself may not be made yet.
    while [ ! -d "$dir" ] && [ "$dir" != / ]; do dir="$(dirname "$dir")"; done
    local free_kib
    free_kib="$(df -Pk "$dir" | awk 'NR == 2 { print $4 }')"
    if [ "$free_kib" -lt $(( gib * 1024 * 1024 )) ]; then
        local free_gib
        free_gib="$(awk -v k="$free_kib" 'BEGIN { printf "%.1f", k / 1048576 }')"
        echo "taxa: $what needs about $gib GiB free on the disk of $dir, and $free_gib GiB are free." >&2
        echo "taxa: free some space there (or set TAXA_SKIP_SPACE_CHECK=1 to try anyway)." >&2
        exit 1
    fi
}
