#!/usr/bin/env bash
# run.sh [SECONDS] [TARGET]: fuzzes TARGET for SECONDS (default 600):
# decode (the default), the packet decoder; or nodelist, the engine as a
# state machine (fuzz-nodelist.c: one node list driven by packets, timers
# and local calls), which starts from an empty corpus of its own.
#
# Installs what is missing on Debian-like systems (the build's packages as
# scripts/setup.sh does, then clang and its libFuzzer runtime, which Debian
# packages apart in libclang-rt-N-dev), configures a clang build in
# build-fuzz/ (once), builds the libFuzzer target and the seed generator,
# checks that fuzz/corpus/ is the generator's output (a stale corpus
# would seed the fuzzer, and tests/check-dissector.sh, with packets of an
# older format), copies it into build-fuzz/fuzz-work/corpus (the checked-in
# corpus is never modified) and runs the fuzzer there. Prints the number
# of executions at the end. Exits non-zero if the fuzzer found a crash, a
# leak or a mismatch (the input that triggered it is left in
# build-fuzz/fuzz-work/), or if the corpus is stale.
set -euo pipefail

secs="${1:-600}"
target="${2:-decode}"
case "$target" in
decode | nodelist) ;;
*)
    echo "fuzz: TARGET is decode or nodelist, not '$target'" >&2
    exit 2
    ;;
esac
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-fuzz"

# fuzzer_links: succeeds if clang can build a libFuzzer target here.
fuzzer_links() {
    local out
    out="$(mktemp -d "${TMPDIR:-/tmp}/peko-fuzz-probe-XXXXXX")"
    printf '%s\n' 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);' \
        'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return d && n; }' \
        >"$out/probe.c"
    local ok=0
    clang -fsanitize=fuzzer,address,undefined "$out/probe.c" -o "$out/probe" \
        >/dev/null 2>&1 || ok=1
    rm -rf "$out"
    return "$ok"
}

PEKO_SETUP_NO_RUN=1 source "$root/scripts/setup.sh"
peko_setup
if ! command -v clang >/dev/null 2>&1 || ! fuzzer_links; then
    # libclang-rt-dev is the runtime of Debian's default clang.
    mapfile -t missing < <(peko_setup_missing clang libclang-rt-dev)
    if [ "${#missing[@]}" -gt 0 ]; then
        peko_setup_install "${missing[@]}"
    fi
    if ! fuzzer_links; then
        echo "fuzz: clang cannot link a libFuzzer target (-fsanitize=fuzzer);" \
             "install clang and its runtime (Debian: apt-get install clang" \
             "libclang-rt-dev)" >&2
        exit 1
    fi
fi

if [ ! -f "$build/build.ninja" ]; then
    CC=clang meson setup "$build" "$root" -Dfuzz=enabled -Dtests=disabled
fi
meson compile -C "$build" fuzz-decode fuzz-nodelist make-corpus

work="$build/fuzz-work"
rm -rf "$work"
mkdir -p "$work/corpus" "$work/seeds"
"$build/fuzz/make-corpus" "$work/seeds"
if ! diff -r "$root/fuzz/corpus" "$work/seeds" >/dev/null; then
    echo "fuzz: fuzz/corpus/ is not what fuzz/make-corpus writes (the" \
         "encoder changed?); regenerate it:" >&2
    echo "  rm fuzz/corpus/* && build-fuzz/fuzz/make-corpus fuzz/corpus" >&2
    diff -rq "$root/fuzz/corpus" "$work/seeds" >&2 || true
    exit 1
fi
cp "$work/seeds"/* "$work/corpus/"

log="$work/fuzz.log"
status=0
if [ "$target" = nodelist ]; then
    # Its inputs are programs, not packets: no seeds of the decoder's.
    mkdir -p "$work/corpus-nodelist"
    "$build/fuzz/fuzz-nodelist" -max_total_time="$secs" -max_len=4096 \
        -print_final_stats=1 -artifact_prefix="$work/" \
        "$work/corpus-nodelist" >"$log" 2>&1 || status=$?
else
    "$build/fuzz/fuzz-decode" -max_total_time="$secs" -max_len=16384 \
        -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" \
        >"$log" 2>&1 || status=$?
fi

tail -n 25 "$log"
execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
echo "fuzz-$target: ${execs:-unknown} executions in at most ${secs} s"
if [ "$status" -ne 0 ]; then
    echo "fuzz-$target: FAILED (exit $status); see $log and $work/" >&2
fi
exit "$status"
