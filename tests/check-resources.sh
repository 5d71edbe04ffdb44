#!/bin/sh
# check-resources.sh PEKO CHECK: a simulated run is bounded in memory and
# in the time a stop request takes (run/budget.h, docs/simulator.md).
#
# stop: a run whose slices of virtual time each take minutes of wall time
#   (100 nodes, a 10 ms cycle, a week: a slice is 605 s of it), sent
#   SIGINT once it runs, ends within 10 s (it takes well under one; the
#   bound is for a busy machine), exits 1 and leaves its run recorded as
#   incomplete;
# refused: a run estimated beyond --max-memory, or beyond what the
#   machine has (16,777,214 nodes), is refused with exit 2, says what it
#   would need, and creates no database; --max-memory 0 turns the check
#   off; a bad --max-memory is a usage error;
# sweep: a sweep with a point beyond --max-memory is refused with exit 2
#   before its database or work directory exist.
#
# Every wait is a bounded polling loop.
set -u
peko=$1
check=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/peko-resources-XXXXXX")
pid=""
cleanup() {
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

if ! command -v sqlite3 >/dev/null 2>&1; then
    echo "sqlite3 missing: skipped"
    exit 77
fi

# Polls the shell condition $1 every 0.1 s for at most $2 tenths.
wait_until() {
    i=0
    while [ "$i" -lt "$2" ]; do
        if eval "$1"; then
            return 0
        fi
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

runs() { # DB CONDITION: how many runs of the database meet it
    n=$(sqlite3 "$1" "SELECT count(*) FROM run WHERE $2" 2>/dev/null)
    echo "${n:-0}"
}

cat >"$work/small.ini" <<'INI'
[cluster]
nodes = 200
duration = 10s
INI

case "$check" in
stop)
    # A week of 10 ms cycles: no heartbeat traced, or the recorder's
    # traced rumors alone (one a cycle) would be estimated at 8 GiB.
    cat >"$work/long.ini" <<'INI'
[cluster]
nodes = 100
duration = 168h
heartbeat_sample = none
[engine]
dissemination = digest
cycle = 10ms
INI
    db="$work/long.db"
    "$peko" sim "$work/long.ini" --db "$db" >"$work/long.out" 2>&1 &
    pid=$!
    wait_until '[ "$(runs "$db" "status = '\''running'\''")" -eq 1 ]' 300 ||
        fail "the run never started: $(cat "$work/long.out")"
    sleep 1 # inside the event loop, in its first slice
    kill -INT "$pid"
    if wait_until '! kill -0 "$pid" 2>/dev/null' 100; then
        wait "$pid"
        status=$?
        pid=""
        [ "$status" -eq 1 ] ||
            fail "the interrupted run exited $status, expected 1: $(cat "$work/long.out")"
        [ "$(runs "$db" "status = 'incomplete'")" -eq 1 ] ||
            fail "no incomplete run recorded: $(sqlite3 "$db" 'SELECT status FROM run' 2>&1)"
    else
        fail "the run was still going 10 s after SIGINT"
    fi
    ;;
refused)
    # Beyond --max-memory: exit 2, the estimate and the limit said, no
    # database.
    "$peko" sim "$work/small.ini" --max-memory 1MiB --db "$work/a.db" \
        >"$work/a.out" 2>&1
    status=$?
    [ "$status" -eq 2 ] || fail "--max-memory 1MiB: exit $status, expected 2"
    grep -q "needs about .* --max-memory allows 1.0 MiB" "$work/a.out" ||
        fail "--max-memory 1MiB: the message lacks the estimate: $(cat "$work/a.out")"
    [ -e "$work/a.db" ] && fail "--max-memory 1MiB: a database was created"

    # Beyond the machine (an estimate of terabytes): exit 2 before any
    # allocation, whatever the machine. Under a 4 GiB address-space limit,
    # which the check counts as what is available: a peko that tried
    # would fail there instead of taking the machine's memory.
    cat >"$work/huge.ini" <<'INI'
[cluster]
nodes = 16777214
duration = 1s
INI
    # A sanitizer build cannot start under an address-space limit (its
    # shadow memory is terabytes of reservation): there, without one.
    if ldd "$peko" 2>/dev/null | grep -q 'libasan'; then
        "$peko" sim "$work/huge.ini" --db "$work/b.db" >"$work/b.out" 2>&1
    else
        (ulimit -v 4194304 && exec "$peko" sim "$work/huge.ini" --db "$work/b.db") \
            >"$work/b.out" 2>&1
    fi
    status=$?
    [ "$status" -eq 2 ] ||
        fail "16777214 nodes: exit $status, expected 2: $(cat "$work/b.out")"
    grep -q "needs about .* TiB .* available" "$work/b.out" ||
        fail "16777214 nodes: the message lacks the estimate: $(cat "$work/b.out")"
    [ -e "$work/b.db" ] && fail "16777214 nodes: a database was created"

    # --max-memory 0: no check.
    "$peko" sim "$work/small.ini" --max-memory 0 --db "$work/c.db" \
        >"$work/c.out" 2>&1
    status=$?
    [ "$status" -eq 0 ] || fail "--max-memory 0: exit $status: $(cat "$work/c.out")"
    [ "$(runs "$work/c.db" "status = 'complete'")" -eq 1 ] ||
        fail "--max-memory 0: no complete run"

    "$peko" sim "$work/small.ini" --max-memory lots >"$work/d.out" 2>&1
    status=$?
    [ "$status" -eq 2 ] || fail "--max-memory lots: exit $status, expected 2"
    grep -q -- "--max-memory" "$work/d.out" ||
        fail "--max-memory lots: no message naming the option: $(cat "$work/d.out")"
    ;;
sweep)
    cat >"$work/sweep.ini" <<'INI'
[cluster]
nodes = 20
duration = 10s
[sweep]
cluster.nodes = 20, 20000
repetitions = 1
INI
    db="$work/sweep.db"
    "$peko" sweep "$work/sweep.ini" -q --jobs 1 --max-memory 256MiB \
        --db "$db" >"$work/sweep.out" 2>&1
    status=$?
    [ "$status" -eq 2 ] ||
        fail "a sweep with a point beyond --max-memory: exit $status, expected 2: $(cat "$work/sweep.out")"
    grep -q "cluster.nodes=20000: .*needs about" "$work/sweep.out" ||
        fail "the sweep's refusal does not name the point: $(cat "$work/sweep.out")"
    [ -e "$db" ] && fail "the refused sweep created its database"
    [ -e "$db.sweep" ] && fail "the refused sweep created its work directory"
    ;;
*)
    echo "check-resources.sh: unknown check '$check'" >&2
    exit 2
    ;;
esac

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "resources ($check): all checks passed"
