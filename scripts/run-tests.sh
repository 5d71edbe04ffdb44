#!/usr/bin/env bash
# run-tests.sh: installs what is missing (scripts/setup.sh), then builds and
# runs every test in two configurations:
#
#   build/       debugoptimized, -Dwerror=true -Dtests=enabled
#   build-asan/  the same plus AddressSanitizer and UndefinedBehaviorSanitizer,
#                with leak detection; any report fails the test
#
# Ends with one line "tests: N passed, M failed" over both configurations
# and exits non-zero if anything failed (a configuration that does not set
# up or compile counts as one failure). See docs/building.md.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! "$root/scripts/setup.sh"; then
    echo "run-tests: setup failed" >&2
    exit 1
fi

passed=0
failed=0

# ensure_configured DIR OPTION...: sets up DIR with the given -D options,
# or reconfigures it if it exists (say, build/ made by run-main.sh, whose
# options differ). Incremental builds survive this.
ensure_configured() {
    local dir="$1"; shift
    if [ -f "$dir/meson-private/coredata.dat" ]; then
        meson setup --reconfigure "$dir" "$@"
    else
        meson setup "$dir" --buildtype=debugoptimized "$@"
    fi
}

# count_results LOG: prints "PASSED FAILED" from a meson testlog.json (one
# JSON object per line). Skipped tests count as neither.
count_results() {
    python3 - "$1" <<'PY'
import json, sys
ok = bad = 0
with open(sys.argv[1], encoding="utf-8", errors="replace") as log:
    for line in log:
        line = line.strip()
        if not line:
            continue
        result = json.loads(line).get("result")
        if result in ("OK", "EXPECTEDFAIL"):
            ok += 1
        elif result != "SKIP":
            bad += 1
print(ok, bad)
PY
}

# run_config DIR OPTION...: configures, compiles and tests DIR; adds to the
# totals.
run_config() {
    local dir="$1"; shift
    local log="$dir/meson-logs/testlog.json"

    echo "== $dir: configure and compile"
    if ! ensure_configured "$dir" "$@"; then
        echo "run-tests: $dir: meson setup failed" >&2
        failed=$((failed + 1))
        return
    fi
    if ! meson compile -C "$dir"; then
        echo "run-tests: $dir: compile failed" >&2
        failed=$((failed + 1))
        return
    fi

    echo "== $dir: test"
    rm -f "$log"
    local rc=0
    meson test -C "$dir" --print-errorlogs "${test_args[@]}" || rc=$?

    local ok=0 bad=0
    if [ -f "$log" ]; then
        read -r ok bad < <(count_results "$log")
    fi
    if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
        echo "run-tests: $dir: meson test failed (exit $rc)" >&2
        bad=1
    fi
    passed=$((passed + ok))
    failed=$((failed + bad))
}

test_args=()
run_config build -Dwerror=true -Dtests=enabled

# Sanitizers. abort_on_error=1 matters: Criterion runs each test in a child
# process, and a leak found when that child exits only fails the suite if
# the child dies of a signal (with ASan's default exit status Criterion
# would count the test as passed). b_lundef=false is required with
# b_sanitize. scripts/lsan.supp, if it ever exists, is for leaks inside
# Criterion itself only, never for ours.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
if [ -f "$root/scripts/lsan.supp" ]; then
    export LSAN_OPTIONS="suppressions=$root/scripts/lsan.supp:print_suppressions=0"
fi
test_args=(--timeout-multiplier=3)
run_config build-asan -Db_sanitize=address,undefined -Db_lundef=false \
    -Dwerror=true -Dtests=enabled

echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
