#!/bin/sh
# check-testbed.sh PEKO DATA_DIR CHECK [ARGS...]: `peko testbed` end to
# end on the loopback, one check per call (meson runs them side by side;
# each takes the scenario's duration in real time, 10 to 12 s):
#
#   basic      tests/data/testbed.ini runs to its end (exit 0), `peko
#              report` reads the database (exit 0), the run is recorded
#              as complete with source 'testbed', infection rows, and the
#              publish reached all 16 nodes;
#   faults     tests/data/testbed-faults.ini (crash/restart, pause/resume,
#              stop/start, a late join, a partition and its heal, 2 %
#              loss) still converges: the last publish reaches every node
#              and the last membership sample is complete; ARGS are more
#              options (--set engine.protocol=tcp);
#   capture    with --capture the traffic table gets 'captured' rows and
#              the reconciliation has nothing unexplained (skipped, 77,
#              without CAP_NET_RAW);
#   interrupt  SIGINT once the run is under way: exit 1, the run
#              recorded as incomplete; ARGS are more options (--workers 2:
#              SIGINT to the coordinator only, which stops its workers);
#   workers    tests/data/testbed-faults.ini with --workers 2: one run,
#              complete, every node converged and reached by the last
#              publish, each worker's lateness in the report, no worker
#              left behind;
#   worker-death  --workers 2, one worker killed (SIGKILL) once the run is
#              under way: exit 1, a message naming it and how it died, no
#              run recorded, the other worker gone too.
set -eu

peko="$1"
data="$2"
check="$3"
shift 3
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fail() {
    echo "FAIL: $*"
    exit 1
}

q() {
    sqlite3 "$work/t.db" "$1"
}

case "$check" in
basic)
    "$peko" testbed "$data/testbed.ini" --db "$work/t.db" "$@" \
        >"$work/out.txt" || fail "peko testbed exited $?"
    cat "$work/out.txt"
    "$peko" report "$work/t.db" >"$work/report.txt" ||
        fail "peko report exited $?"
    [ "$(q "SELECT source || ' ' || status FROM run")" = "testbed complete" ] ||
        fail "run not recorded as a complete testbed run"
    [ "$(q "SELECT count(*) > 0 FROM infection")" = 1 ] ||
        fail "no infection rows"
    [ "$(q "SELECT infected FROM rumor_summary WHERE kind = 'metadata'")" = 16 ] ||
        fail "the publish did not reach all 16 nodes"
    [ "$(q "SELECT count(*) FROM node WHERE addr LIKE '127.0.0.1:%'")" = 16 ] ||
        fail "nodes not registered with their loopback addresses"
    [ "$(q "SELECT count(*) FROM membership")" -ge 9 ] ||
        fail "membership samples missing"
    echo "ok: basic run recorded and reported"
    ;;
faults)
    "$peko" testbed "$data/testbed-faults.ini" --db "$work/t.db" "$@" \
        >"$work/out.txt" || fail "peko testbed exited $?"
    cat "$work/out.txt"
    "$peko" report "$work/t.db" >/dev/null || fail "peko report exited $?"
    [ "$(q "SELECT count(*) FROM timeline")" = 13 ] ||
        fail "not every timeline event was recorded"
    last="$(q "SELECT infected FROM rumor_summary WHERE kind = 'metadata'
               ORDER BY created_us DESC LIMIT 1")"
    [ "$last" = 16 ] || fail "the last publish reached $last nodes, not 16"
    sample="$(q "SELECT live || ' ' || complete FROM membership ORDER BY sample DESC LIMIT 1")"
    [ "$sample" = "16 16" ] || fail "last membership sample: live, complete = $sample"
    [ "$(q "SELECT count(*) FROM traffic WHERE outcome = 'partitioned'")" -gt 0 ] ||
        fail "no partitioned drops recorded"
    [ "$(q "SELECT count(*) FROM traffic WHERE outcome = 'node_down'")" -gt 0 ] ||
        fail "no drops at crashed nodes recorded"
    echo "ok: faults applied and the cluster converged"
    ;;
capture)
    if ! "$peko" testbed "$data/testbed.ini" --db "$work/t.db" \
        --capture "$work/t.pcap" "$@" >"$work/out.txt" 2>"$work/err.txt"; then
        cat "$work/err.txt"
        if grep -q "not permitted" "$work/err.txt"; then
            echo "skip: no CAP_NET_RAW"
            exit 77
        fi
        fail "peko testbed --capture failed"
    fi
    cat "$work/out.txt"
    [ -s "$work/t.pcap" ] || fail "no pcap written"
    [ "$(q "SELECT count(*) FROM traffic WHERE outcome = 'captured'")" -ge 3 ] ||
        fail "no captured rows by type"
    grep -q " 0 unexplained" "$work/out.txt" ||
        fail "the capture does not reconcile with the engines' counters"
    echo "ok: capture recorded and reconciled"
    ;;
interrupt)
    "$peko" testbed "$data/testbed.ini" --db "$work/t.db" "$@" \
        >"$work/out.txt" 2>&1 &
    pid=$!
    # Interrupt once the run is under way (its row says 'running', or
    # the workers said they started), not after a fixed time that a busy
    # machine may need just to start it. At most 300 tries of 0.1 s; the
    # run itself lasts 10 s.
    tries=300
    until [ "$(q "SELECT count(*) FROM run WHERE status = 'running'" \
               2>/dev/null)" = 1 ] ||
        grep -q "workers started" "$work/out.txt"; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] && kill -0 "$pid" 2>/dev/null ||
            fail "the run never started: $(cat "$work/out.txt")"
        sleep 0.1
    done
    sleep 1
    kill -INT "$pid"
    status=0
    wait "$pid" || status=$?
    cat "$work/out.txt"
    [ "$status" = 1 ] || fail "interrupted testbed exited $status, not 1"
    [ "$(q "SELECT status FROM run")" = incomplete ] ||
        fail "interrupted run not recorded as incomplete"
    echo "ok: interrupt recorded as incomplete"
    ;;
workers)
    "$peko" testbed "$data/testbed-faults.ini" --db "$work/t.db" --workers 2 \
        "$@" >"$work/out.txt" 2>"$work/err.txt" ||
        fail "peko testbed --workers 2 exited $?: $(cat "$work/err.txt")"
    cat "$work/out.txt" "$work/err.txt"
    "$peko" report "$work/t.db" >/dev/null || fail "peko report exited $?"
    [ "$(q "SELECT count(*) || ' ' || status || ' ' || nodes FROM run")" = \
        "1 complete 16" ] || fail "not one complete run of 16 nodes"
    [ "$(q "SELECT count(*) FROM timeline")" = 13 ] ||
        fail "the timeline was not recorded once"
    last="$(q "SELECT infected FROM rumor_summary WHERE kind = 'metadata'
               ORDER BY created_us DESC LIMIT 1")"
    [ "$last" = 16 ] || fail "the last publish reached $last nodes, not 16"
    sample="$(q "SELECT live || ' ' || complete FROM membership ORDER BY sample DESC LIMIT 1")"
    [ "$sample" = "16 16" ] || fail "last membership sample: live, complete = $sample"
    [ "$(q "SELECT count(DISTINCT node_id) FROM infection")" = 16 ] ||
        fail "infections not recorded at every node"
    [ "$(q "SELECT count(*) FROM infection WHERE t_us < 0")" = 0 ] ||
        fail "infections before their rumor's creation"
    [ "$(q "SELECT count(*) FROM traffic WHERE outcome = 'node_down'")" -gt 0 ] ||
        fail "no drops at crashed nodes recorded"
    grep -q "2 workers, timeline at most" "$work/out.txt" ||
        fail "no lateness per worker in the report"
    pids="$(sed -n 's/.*workers started, pids //p' "$work/err.txt")"
    [ -n "$pids" ] || fail "the workers' pids were not given"
    for p in $pids; do
        ! kill -0 "$p" 2>/dev/null || fail "worker $p still running"
    done
    echo "ok: two workers, one run, converged"
    ;;
worker-death)
    "$peko" testbed "$data/testbed.ini" --db "$work/t.db" --workers 2 "$@" \
        >"$work/out.txt" 2>"$work/err.txt" &
    pid=$!
    tries=300
    until grep -q "workers started" "$work/err.txt"; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] && kill -0 "$pid" 2>/dev/null ||
            fail "the workers never started: $(cat "$work/err.txt")"
        sleep 0.1
    done
    set -- $(sed -n 's/.*workers started, pids //p' "$work/err.txt")
    [ $# = 2 ] || fail "not two worker pids: $*"
    sleep 1
    kill -KILL "$2"
    status=0
    wait "$pid" || status=$?
    cat "$work/out.txt" "$work/err.txt"
    [ "$status" = 1 ] || fail "testbed with a dead worker exited $status, not 1"
    grep -q "worker 1 (pid $2, nodes 8-15) died.*signal 9" "$work/err.txt" ||
        fail "the dead worker is not named with its signal"
    [ "$(q "SELECT count(*) FROM run" 2>/dev/null || echo 0)" = 0 ] ||
        fail "a run was recorded despite the dead worker"
    sleep 0.2
    ! kill -0 "$1" 2>/dev/null || fail "worker $1 outlived the run"
    echo "ok: a dead worker fails the run cleanly"
    ;;
*)
    fail "unknown check '$check'"
    ;;
esac
