#!/usr/bin/env bash
# stress-tests.sh: the test command, several times in a row, while other
# processes keep every core busy: a test that fails only when the machine
# is slow is a bug in the test, and this is how one is found before CI
# finds it (docs/building.md, "Tests on a busy machine").
#
# Usage: scripts/stress-tests.sh [--runs N] [--hogs K] [--log-dir DIR]
#   --runs N     runs of scripts/run-tests.sh, stopping at the first that
#                fails (default 10)
#   --hogs K     busy loops beside the tests, at the tests' priority
#                (default: the number of online cores)
#   --log-dir D  where each run's output goes (default: stress-logs/)
# Exits 0 if every run passed, 1 at the first failure (its log named),
# 2 on bad arguments. The busy loops end with the script, also on Ctrl-C.
set -uo pipefail

usage() {
    sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'
}

runs=10
hogs="$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log_dir="$root/stress-logs"

is_count() {
    case "$1" in
        ''|*[!0-9]*) return 1 ;;
    esac
    [ "$1" -ge "$2" ] && [ "$1" -le 1000 ]
}

while [ $# -gt 0 ]; do
    case "$1" in
        --runs)
            is_count "${2:-}" 1 || { echo "stress-tests: --runs wants 1 to 1000, not '${2:-}'" >&2; exit 2; }
            runs="$2"; shift 2 ;;
        --hogs)
            is_count "${2:-}" 0 || { echo "stress-tests: --hogs wants 0 to 1000, not '${2:-}'" >&2; exit 2; }
            hogs="$2"; shift 2 ;;
        --log-dir)
            [ -n "${2:-}" ] || { echo "stress-tests: --log-dir wants a directory" >&2; exit 2; }
            log_dir="$2"; shift 2 ;;
        -h|--help)
            usage; exit 0 ;;
        *)
            echo "stress-tests: unknown argument '$1'" >&2
            echo "Try 'scripts/stress-tests.sh --help' for more information." >&2
            exit 2 ;;
    esac
done

mkdir -p "$log_dir" || exit 2

hog_pids=()
stop_hogs() {
    for pid in "${hog_pids[@]}"; do
        kill "$pid" 2>/dev/null
    done
    wait 2>/dev/null
}
trap 'stop_hogs; exit 130' INT TERM
trap stop_hogs EXIT

for _ in $(seq 1 "$hogs"); do
    # A busy loop with no output and no end but the kill above.
    bash -c 'while :; do :; done' &
    hog_pids+=("$!")
done
echo "stress-tests: $runs runs of scripts/run-tests.sh beside $hogs busy loops; logs in $log_dir"

for run in $(seq 1 "$runs"); do
    log="$log_dir/run-$run.log"
    start=$(date +%s)
    "$root/scripts/run-tests.sh" >"$log" 2>&1
    rc=$?
    summary="$(grep -E '^tests: ' "$log" | tail -1)"
    load="$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "run $run: ${summary:-no summary} (exit $rc, $(( $(date +%s) - start )) s, load $load)"
    if [ "$rc" -ne 0 ]; then
        echo "stress-tests: run $run failed: $log" >&2
        exit 1
    fi
done
echo "stress-tests: $runs of $runs runs passed"
