#!/bin/sh
# check-node-params.sh PEKO: a `peko node --db` run and a `peko testbed`
# run with the same engine settings (fan-out 2, cycle 200 ms, classic
# dissemination) record their parameters in one shape ($.engine.amount,
# $.engine.cycle_us, $.engine.dissemination ...), so `peko report` shows
# both with the same fan-out, cycle and mode, none of them missing.
# Every wait is bounded; the node's port is picked at random and retried
# if taken.
set -u

peko="$1"
dir="$(mktemp -d)"
pid=""

cleanup() {
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT

fail() {
    echo "check-node-params: $*" >&2
    for f in "$dir"/*.err; do
        [ -f "$f" ] && { echo "--- $f"; cat "$f"; } >&2
    done
    exit 1
}

engine="--amount 2 --cycle 200ms --dissemination classic"

# The node: started, given time to record its start, stopped by SIGTERM.
base=$((20000 + $$ % 20000))
started=no
for attempt in 0 1 2 3 4 5 6 7; do
    port=$((base + attempt * 11))
    rm -f "$dir/node.db"
    # shellcheck disable=SC2086
    "$peko" node --port "$port" --control "$dir/node.sock" $engine \
        --db "$dir/node.db" >"$dir/node.out" 2>"$dir/node.err" &
    pid=$!
    tries=300
    while [ ! -S "$dir/node.sock" ] && kill -0 "$pid" 2>/dev/null &&
        [ "$tries" -gt 0 ]; do
        sleep 0.1
        tries=$((tries - 1))
    done
    if [ -S "$dir/node.sock" ]; then
        started=yes
        break
    fi
    wait "$pid"
    pid=""
    grep -q "cannot bind" "$dir/node.err" || fail "the node did not start"
done
[ "$started" = yes ] || fail "no free port"
# Answering on its socket, the node runs its loop: SIGTERM stops it
# cleanly from then on.
tries=100
until "$peko" ctl --control "$dir/node.sock" get >/dev/null 2>&1; do
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || fail "the node never answered on its socket"
    sleep 0.1
done
kill -TERM "$pid"
wait "$pid" || fail "the node exited with $? after SIGTERM"
pid=""

# The testbed: the same engine settings; no latency, so the report's
# round is the cycle for both.
cat >"$dir/same.ini" <<INI
[cluster]
nodes = 2
duration = 1s

[engine]
amount = 2
cycle = 200ms
dissemination = classic

[network]
latency = 0ms
INI
"$peko" testbed "$dir/same.ini" --db "$dir/testbed.db" >"$dir/testbed.out" \
    2>"$dir/testbed.err" || fail "peko testbed exited $?"

# What the report says of each run's configuration, after its name and
# size: "fan-out 2, classic mode, round 200.0 ms (cycle), ...".
shown() {
    "$peko" report "$1" >"$dir/report.txt" 2>>"$dir/report.err" ||
        fail "peko report $1 exited $?"
    sed -n 's/^.*: 1 run, [0-9]* nodes*, //p' "$dir/report.txt" | head -n 1
}
node_shows="$(shown "$dir/node.db")"
testbed_shows="$(shown "$dir/testbed.db")"
case "$node_shows" in
"fan-out 2, classic mode, round 200.0 ms (cycle)"*) ;;
*) fail "peko report shows the node run as '$node_shows'" ;;
esac
[ "$node_shows" = "$testbed_shows" ] ||
    fail "node run: '$node_shows'; testbed run: '$testbed_shows'"

# The recorded parameters themselves, where sqlite3 is at hand.
if command -v sqlite3 >/dev/null 2>&1; then
    q='SELECT json_extract(params, "$.engine.amount") || " " ||
              json_extract(params, "$.engine.cycle_us") || " " ||
              json_extract(params, "$.engine.dissemination") FROM run'
    [ "$(sqlite3 "$dir/node.db" "$q")" = "2 200000 classic" ] ||
        fail "node run params: $(sqlite3 "$dir/node.db" 'SELECT params FROM run')"
    [ "$(sqlite3 "$dir/testbed.db" "$q")" = "2 200000 classic" ] ||
        fail "testbed run params: $(sqlite3 "$dir/testbed.db" 'SELECT params FROM run')"
fi
echo "check-node-params: node and testbed runs reported alike: $node_shows"
