#!/bin/sh
# check-sweep-lock.sh PEKO SCENARIO CHECK: a sweep's database has one
# writer, and a sweep's workers end with it (run/sweep.c).
#
# second: while a sweep runs, the same command again is refused (exit 1,
#   "another peko sweep is writing this database") and leaves the running
#   sweep alone: its lock stays, and it finishes with every run complete
#   and its work directory removed;
# killed: once the sweep's main process is killed (SIGKILL: no handler
#   runs), its workers end too, within 10 s (a generous bound: they are
#   sent a signal at once), and the same command is admitted again.
#
# Every wait is a bounded polling loop; nothing depends on how fast the
# machine is, except that the slow runs must outlast the checks (each
# check says when they did not, and fails: it would prove nothing).
set -u
peko=$1
scenario=$2
check=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/peko-sweep-lock-XXXXXX")
pids=""
cleanup() {
    for p in $pids; do
        kill -KILL "$p" 2>/dev/null
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

if ! command -v sqlite3 >/dev/null 2>&1 || ! command -v ps >/dev/null 2>&1; then
    echo "sqlite3 or ps missing: skipped"
    exit 77
fi

runs() { # DB CONDITION: how many runs of the database meet it (0: none)
    n=$(sqlite3 "$1" "SELECT count(*) FROM run WHERE $2" 2>/dev/null)
    echo "${n:-0}"
}

# Whether process $1 still runs (a zombie waiting to be reaped does not).
alive() {
    state=$(ps -o stat= -p "$1" 2>/dev/null)
    [ -n "$state" ] && [ "${state#Z}" = "$state" ]
}

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

reps=$(sed -n 's/^repetitions *= *//p' "$scenario")
db="$work/runs.db"

case "$check" in
second)
    # Runs of most of a second each, one at a time: the sweep runs for
    # a few seconds. One shard of three keeps it short (points 1, 4, 7).
    slow="--set cluster.nodes=300 --set cluster.duration=20s --shard 1/3"
    want=$(((reps + 2) / 3))
    "$peko" sweep "$scenario" -q --jobs 1 $slow --db "$db" >"$work/first.out" 2>&1 &
    first=$!
    pids="$first"
    wait_until 'ls "$db.sweep"/point-*.db >/dev/null 2>&1' 200 ||
        fail "the first sweep never started a worker"
    "$peko" sweep "$scenario" -q --jobs 1 $slow --db "$db" >"$work/second.out" 2>&1
    status=$?
    [ "$status" -eq 1 ] ||
        fail "the second sweep exited $status, expected 1: $(cat "$work/second.out")"
    grep -q "another peko sweep is writing this database" "$work/second.out" ||
        fail "the second sweep did not say why: $(cat "$work/second.out")"
    alive "$first" ||
        fail "the first sweep ended before the second was refused; the check proves nothing"
    [ -e "$db.sweep/lock" ] ||
        fail "the refused sweep removed the running sweep's lock"
    wait "$first"
    status=$?
    [ "$status" -eq 0 ] || fail "the first sweep exited $status: $(cat "$work/first.out")"
    [ "$(runs "$db" "status = 'complete'")" -eq "$want" ] ||
        fail "$(runs "$db" "status = 'complete'") complete runs, expected $want"
    [ "$(runs "$db" "status <> 'complete'")" -eq 0 ] ||
        fail "$(runs "$db" "status <> 'complete'") unfinished runs in the database"
    [ -e "$db.sweep" ] && fail "the work directory was left behind"
    ;;
killed)
    # Runs far longer than the check waits: a worker that is not stopped
    # is still there at the end of the bound.
    slow="--set cluster.nodes=1000 --set cluster.duration=600s"
    "$peko" sweep "$scenario" -q --jobs 2 $slow --db "$db" >"$work/killed.out" 2>&1 &
    main=$!
    pids="$main"
    wait_until '[ "$(ps -o pid= --ppid "$main" | wc -l)" -ge 2 ]' 200 ||
        fail "the sweep never started its two workers"
    workers=$(ps -o pid= --ppid "$main")
    pids="$main $workers"
    kill -KILL "$main"
    wait "$main" 2>/dev/null
    any_alive() {
        for w in $workers; do
            alive "$w" && return 0
        done
        return 1
    }
    wait_until '! any_alive' 100 ||
        fail "the workers of a killed sweep still run 10 s later:" $workers
    "$peko" sweep "$scenario" -q --jobs 2 --db "$db" >"$work/again.out" 2>&1
    status=$?
    [ "$status" -eq 0 ] ||
        fail "the same sweep again exited $status: $(cat "$work/again.out")"
    [ "$(runs "$db" "status = 'complete'")" -eq "$reps" ] ||
        fail "again: $(runs "$db" "status = 'complete'") complete runs, expected $reps"
    ;;
*)
    echo "check-sweep-lock.sh: unknown check '$check'" >&2
    exit 2
    ;;
esac

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "sweep lock ($check): all checks passed"
