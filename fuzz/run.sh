#!/usr/bin/env bash
# run.sh [SECONDS]: fuzzes the packet decoder for SECONDS (default 600).
#
# Configures a clang build in build-fuzz/ (once), builds the libFuzzer
# target, copies fuzz/corpus/ plus freshly generated seeds into
# build-fuzz/fuzz-work/corpus (the checked-in corpus is never modified) and
# runs the fuzzer there. Prints the number of executions at the end. Exits
# non-zero if the fuzzer found a crash, a leak or a mismatch; the input that
# triggered it is left in build-fuzz/fuzz-work/.
set -euo pipefail

secs="${1:-600}"
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-fuzz"

if [ ! -f "$build/build.ninja" ]; then
    CC=clang meson setup "$build" "$root" -Dfuzz=true -Dtests=disabled
fi
meson compile -C "$build" fuzz-decode make-corpus

work="$build/fuzz-work"
rm -rf "$work"
mkdir -p "$work/corpus"
cp "$root"/fuzz/corpus/* "$work/corpus/"
"$build/fuzz/make-corpus" "$work/corpus"

log="$work/fuzz.log"
status=0
"$build/fuzz/fuzz-decode" -max_total_time="$secs" -max_len=16384 \
    -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" \
    >"$log" 2>&1 || status=$?

tail -n 25 "$log"
execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
echo "fuzz-decode: ${execs:-unknown} executions in at most ${secs} s"
if [ "$status" -ne 0 ]; then
    echo "fuzz-decode: FAILED (exit $status); see $log and $work/" >&2
fi
exit "$status"
