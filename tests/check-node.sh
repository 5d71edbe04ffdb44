#!/bin/sh
# check-node.sh PEKO: two `peko node` processes on 127.0.0.1 find each
# other; `peko ctl` publishes on one and reads on the other; bad control
# requests get errors; SIGHUP reloads keys; SIGTERM stops both cleanly,
# removing their control sockets and finishing the recording. Every wait
# is bounded; ports are picked at random and retried if taken.
set -u

peko="$1"
dir="$(mktemp -d)"
pid_a=""
pid_b=""

cleanup() {
    for p in $pid_a $pid_b; do
        kill -KILL "$p" 2>/dev/null
    done
    rm -rf "$dir"
}
trap cleanup EXIT

fail() {
    echo "check-node: $*" >&2
    for f in "$dir"/*.err; do
        [ -f "$f" ] && { echo "--- $f"; cat "$f"; } >&2
    done
    exit 1
}

# wait_for SECONDS COMMAND...: retries COMMAND every 0.1 s until it
# succeeds; fails after SECONDS.
wait_for() {
    tries=$(($1 * 10))
    shift
    while [ "$tries" -gt 0 ]; do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
        tries=$((tries - 1))
    done
    return 1
}

lists() { # SOCKET PORT: the node at SOCKET lists 127.0.0.1:PORT
    "$peko" ctl --control "$1" get | grep -q "^127\.0\.0\.1 $2 "
}

reads() { # SOCKET TEXT: the node at SOCKET holds TEXT as metadata
    [ "$("$peko" ctl --control "$1" read)" = "$2" ]
}

# start NAME PORT ARGS...: starts a node, waits for its control socket;
# returns 1 if its port was taken (so the caller tries another).
start() {
    name="$1"
    port="$2"
    shift 2
    "$peko" node --port "$port" --control "$dir/$name.sock" "$@" \
        >"$dir/$name.out" 2>"$dir/$name.err" &
    pid=$!
    tries=100
    while [ ! -S "$dir/$name.sock" ]; do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"
            if grep -q "cannot bind" "$dir/$name.err"; then
                return 1
            fi
            fail "node $name exited at start"
        fi
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || fail "node $name: no control socket after 10 s"
        sleep 0.1
    done
    eval "pid_$name=$pid"
    return 0
}

# Node a from a config file (pekonode's fields, units, a recording).
cat >"$dir/a.ini" <<INI
[node]
name = A
data = a-data
cycle = 100ms
timeout = 1s
secret_key = check-node-key
is_print = true
db = $dir/a.db
INI

base=$((20000 + $$ % 20000))
started=no
for attempt in 0 1 2 3 4 5 6 7; do
    port_a=$((base + attempt * 7))
    port_b=$((port_a + 1))
    if start a "$port_a" --config "$dir/a.ini"; then
        if start b "$port_b" --name B --data b-data --cycle 100ms \
            --timeout 1s --secret-key check-node-key \
            --seeds "127.0.0.1:$port_a"; then
            started=yes
            break
        fi
        kill -TERM "$pid_a"
        wait "$pid_a"
        pid_a=""
    fi
done
[ "$started" = yes ] || fail "no free pair of ports"

wait_for 10 lists "$dir/a.sock" "$port_b" || fail "a never listed b"
wait_for 10 lists "$dir/b.sock" "$port_a" || fail "b never listed a"
"$peko" ctl --control "$dir/b.sock" get | grep -q "^127\.0\.0\.1 $port_a A a-data$" ||
    fail "b does not show a's name and data"

out="$("$peko" ctl --control "$dir/a.sock" publish "hello, peko")" ||
    fail "publish failed"
[ "$out" = "published version 1" ] || fail "publish said '$out'"
wait_for 10 reads "$dir/b.sock" "hello, peko" || fail "b never read the publish"

# Exit statuses: a usage error is 2, no node is 1.
"$peko" ctl --control "$dir/a.sock" frobnicate >/dev/null 2>&1
[ $? -eq 2 ] || fail "an unknown ctl command did not exit 2"
"$peko" ctl --control "$dir/none.sock" get >/dev/null 2>&1
[ $? -eq 1 ] || fail "ctl with no node did not exit 1"

# Bad requests straight on the socket: an error each, and the node lives.
if command -v python3 >/dev/null 2>&1; then
    python3 - "$dir/a.sock" <<'PY' || fail "bad requests were not answered with ERR"
import socket, sys
def ask(data):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(sys.argv[1])
    s.sendall(data)
    answer = b""
    while not answer.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        answer += chunk
    s.close()
    return answer
assert ask(b"frobnicate\n").startswith(b"ERR "), "unknown"
assert ask(b"get extra\n").startswith(b"ERR "), "argument"
assert ask(b"publish \\xZZ\n").startswith(b"ERR "), "escape"
assert ask(b"\n").startswith(b"ERR "), "empty"
assert ask(b"x" * (1 << 20)).startswith(b"ERR "), "too long"
assert ask(b"\x00\xff\r\n").startswith(b"ERR "), "binary"
assert ask(b"help\n").startswith(b"OK "), "help"
PY
fi
"$peko" ctl --control "$dir/a.sock" stats | grep -q '^engine.received.heartbeat [1-9]' ||
    fail "stats show no heartbeats received"

# stop and start: pekonode's Stop and Start.
"$peko" ctl --control "$dir/a.sock" stop || fail "stop failed"
"$peko" ctl --control "$dir/a.sock" start || fail "start failed"

# SIGHUP reloads the keys from a's file.
kill -HUP "$pid_a"
wait_for 5 grep -q "keys reloaded" "$dir/a.err" || fail "SIGHUP did not reload keys"
wait_for 5 lists "$dir/b.sock" "$port_a" || fail "b lost a after the reload"

kill -TERM "$pid_a" "$pid_b"
wait "$pid_a"
status_a=$?
wait "$pid_b"
status_b=$?
pid_a=""
pid_b=""
[ "$status_a" -eq 0 ] && [ "$status_b" -eq 0 ] ||
    fail "nodes exited with $status_a and $status_b after SIGTERM"
[ ! -e "$dir/a.sock" ] && [ ! -e "$dir/b.sock" ] ||
    fail "a control socket is left behind"
grep -q '\[\[Join\]: {127.0.0.1 '"$port_a"' A a-data}\]' "$dir/a.out" ||
    fail "a printed no [Join] line"
grep -q "recorded into $dir/a.db" "$dir/a.err" || fail "a did not record"
if command -v sqlite3 >/dev/null 2>&1; then
    row="$(sqlite3 "$dir/a.db" "SELECT source, status, nodes FROM run")"
    [ "$row" = "node|complete|1" ] || fail "a's run row is '$row'"
fi
echo "check-node: two nodes on ports $port_a and $port_b: joined, published, read, stopped"
