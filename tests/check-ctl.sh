#!/bin/sh
# check-ctl.sh PEKO FORGE TRICKLE CHECK: the control socket of peko node
# in careless hands and against another local user (run/ctl-proto.h,
# run/ctl-server.h, docs/node.md). FORGE is tests/forge-heartbeat, TRICKLE
# tests/ctl-trickle.
#
# squat: without XDG_RUNTIME_DIR the default socket lives in a directory
#   of the user's own ($TMPDIR/peko-UID, 0700). An impostor listening at
#   the old shared path /tmp/peko-UID-PORT.sock neither stops the node
#   nor answers peko ctl; a private directory that is a symlink, open to
#   others, or (as root) owned by another user is refused by the node
#   (exit 1, nothing started) and by peko ctl;
# peer: (as root only) a node run by another user behind --control is
#   refused by peko ctl before its answer is printed (SO_PEERCRED);
# escape: one forged heartbeat whose name and data hold a line break,
#   terminal escape sequences and invalid UTF-8 adds one line to
#   `peko ctl get`, with those bytes shown as \xNN;
# bounded: 300 forged nodes with names of 4000 spaces (16 KB each in
#   the answer) make a get answer longer than the node's 4 MiB bound: it
#   is cut short and peko ctl says so;
# slow: 16 clients sending a byte every 4 s, which held every slot under
#   an idle timer, are closed by the connection deadline (10 s), after
#   which peko ctl is answered again.
set -u
peko=$1
forge=$2
trickle=$3
check=$4
dir=$(mktemp -d "${TMPDIR:-/tmp}/peko-ctl-XXXXXX")
chmod 755 "$dir"
pids=""
extra=""
cleanup() {
    for p in $pids; do
        kill -KILL "$p" 2>/dev/null
    done
    for f in $extra; do
        rm -rf "$f"
    done
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
failures=0
uid=$(id -u)

fail() {
    echo "FAIL: $*" >&2
    for f in "$dir"/*.err; do
        [ -s "$f" ] && { echo "--- $f"; cat "$f"; } >&2
    done
    failures=$((failures + 1))
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

# start NAME SOCKET PORT ARGS...: a node on PORT whose control socket is
# SOCKET; returns 1 when the port was taken (try another), and fails
# when the node exits for another reason.
start() {
    s_name=$1
    s_sock=$2
    s_port=$3
    shift 3
    "$peko" node --port "$s_port" "$@" >"$dir/$s_name.out" 2>"$dir/$s_name.err" &
    s_pid=$!
    pids="$pids $s_pid"
    if wait_until '[ -S "$s_sock" ] || ! kill -0 "$s_pid" 2>/dev/null' 100 &&
        [ -S "$s_sock" ]; then
        eval "pid_$s_name=$s_pid"
        return 0
    fi
    wait "$s_pid" 2>/dev/null
    grep -q "cannot bind" "$dir/$s_name.err" && return 1
    fail "node $s_name did not start"
    return 2
}

# A node on a free port, its control socket given.
start_node() { # NAME ARGS...
    n=$1
    shift
    base=$((20000 + ($$ * 13) % 20000))
    for attempt in 0 1 2 3 4 5 6 7; do
        port=$((base + attempt * 11))
        start "$n" "$dir/$n.sock" "$port" --control "$dir/$n.sock" "$@"
        case $? in
        0) eval "port_$n=$port"; return 0 ;;
        2) return 1 ;;
        esac
    done
    fail "no free port for node $n"
    return 1
}

case "$check" in
squat)
    tmp="$dir/tmp"
    mkdir "$tmp"
    chmod 1777 "$tmp"
    base=$((20000 + ($$ * 7) % 20000))
    ok=no
    for attempt in 0 1 2 3 4 5 6 7; do
        port=$((base + attempt * 11))
        port_imp=$((port + 1))
        # The impostor: a node of ours on another port, listening where
        # the default socket of `port` used to be.
        old="/tmp/peko-$uid-$port.sock"
        [ -e "$old" ] && continue
        extra="$extra $old"
        start impostor "$old" "$port_imp" --name IMPOSTOR --control "$old" ||
            continue
        env -u XDG_RUNTIME_DIR TMPDIR="$tmp" "$peko" node --port "$port" \
            --name REAL >"$dir/real.out" 2>"$dir/real.err" &
        pid_real=$!
        pids="$pids $pid_real"
        sock="$tmp/peko-$uid/peko-$port.sock"
        if wait_until '[ -S "$sock" ] || ! kill -0 "$pid_real" 2>/dev/null' 100 &&
            [ -S "$sock" ]; then
            ok=yes
            break
        fi
        grep -q "cannot bind" "$dir/real.err" || break
        kill -KILL "$pid_impostor" 2>/dev/null
    done
    [ "$ok" = yes ] ||
        fail "the node did not start beside an impostor at the old path"
    if [ "$ok" = yes ]; then
        mode=$(stat -c %a "$tmp/peko-$uid")
        [ "$mode" = 700 ] || fail "the private directory has mode $mode, not 700"
        got=$(env -u XDG_RUNTIME_DIR TMPDIR="$tmp" "$peko" ctl --port "$port" get 2>&1)
        echo "$got" | grep -q " $port REAL " ||
            fail "peko ctl --port did not reach the real node: $got"
        echo "$got" | grep -q IMPOSTOR &&
            fail "peko ctl --port printed the impostor's list: $got"
        kill -TERM "$pid_real"
        wait "$pid_real" 2>/dev/null
    fi

    # A private directory that is not private: refused by node and ctl.
    refused() { # WHAT: the node and ctl refuse $tmp/peko-UID as it is
        env -u XDG_RUNTIME_DIR TMPDIR="$tmp" "$peko" node --port "$port" \
            >"$dir/r.out" 2>"$dir/r.err" &
        p=$!
        pids="$pids $p"
        if wait_until '! kill -0 "$p" 2>/dev/null' 100; then
            wait "$p"
            status=$?
            [ "$status" -eq 1 ] || fail "$1: the node exited $status, expected 1"
            grep -q "refusing to use it" "$dir/r.err" ||
                fail "$1: the node did not say why: $(cat "$dir/r.err")"
        else
            fail "$1: the node started"
            kill -KILL "$p"
        fi
        env -u XDG_RUNTIME_DIR TMPDIR="$tmp" "$peko" ctl --port "$port" get \
            >"$dir/r.out" 2>"$dir/r.err"
        status=$?
        [ "$status" -eq 1 ] || fail "$1: peko ctl exited $status, expected 1"
        grep -q "refusing to use it" "$dir/r.err" ||
            fail "$1: peko ctl did not say why: $(cat "$dir/r.err")"
    }
    rm -rf "$tmp/peko-$uid"
    mkdir "$dir/elsewhere"
    ln -s "$dir/elsewhere" "$tmp/peko-$uid"
    refused "a symlink"
    rm -f "$tmp/peko-$uid"
    mkdir -m 777 "$tmp/peko-$uid"
    chmod 777 "$tmp/peko-$uid"
    refused "a directory open to all"
    if [ "$uid" -eq 0 ] && id nobody >/dev/null 2>&1; then
        chmod 700 "$tmp/peko-$uid"
        chown nobody "$tmp/peko-$uid"
        refused "another user's directory"
    fi
    ;;
peer)
    if [ "$uid" -ne 0 ] || ! command -v setpriv >/dev/null 2>&1 ||
        ! id nobody >/dev/null 2>&1; then
        echo "needs root, setpriv and a user nobody: skipped"
        exit 77
    fi
    shared="$dir/shared"
    mkdir "$shared"
    chmod 1777 "$shared"
    base=$((20000 + ($$ * 17) % 20000))
    ok=no
    for attempt in 0 1 2 3 4 5 6 7; do
        port=$((base + attempt * 11))
        setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
            "$peko" node --port "$port" --name THEIRS \
            --control "$shared/node.sock" >"$dir/theirs.out" 2>"$dir/theirs.err" &
        p=$!
        pids="$pids $p"
        if wait_until '[ -S "$shared/node.sock" ] || ! kill -0 "$p" 2>/dev/null' 100 &&
            [ -S "$shared/node.sock" ]; then
            ok=yes
            break
        fi
        grep -q "cannot bind" "$dir/theirs.err" || break
    done
    [ "$ok" = yes ] || fail "another user's node did not start"
    if [ "$ok" = yes ]; then
        chmod 666 "$shared/node.sock" 2>/dev/null
        got=$("$peko" ctl --control "$shared/node.sock" get 2>"$dir/ctl.err")
        status=$?
        [ "$status" -eq 1 ] || fail "peko ctl exited $status, expected 1"
        echo "$got" | grep -q THEIRS && fail "peko ctl printed another user's list"
        grep -q "not by you" "$dir/ctl.err" ||
            fail "peko ctl did not say why: $(cat "$dir/ctl.err")"
    fi
    ;;
escape)
    start_node a --name A || exit 1
    origin=$((port_a + 3))
    "$forge" "$port_a" "$origin" 'evil\x0a127.0.0.1 1 fake-node fake\x1b]0;owned\x07\x1b[2J' \
        'data\x0d\xff\xfe\xc2\x9b31m\xe2\x80\xaeok'
    wait_until '"$peko" ctl --control "$dir/a.sock" get 2>/dev/null | grep -q "^127\.0\.0\.1 $origin "' 50 ||
        fail "the forged node never appeared"
    "$peko" ctl --control "$dir/a.sock" get >"$dir/get.out" 2>"$dir/get.err"
    lines=$(wc -l <"$dir/get.out")
    [ "$lines" -eq 2 ] || fail "get printed $lines lines, expected 2: $(cat "$dir/get.out")"
    if LC_ALL=C grep -q "$(printf '[\001-\011\013-\037\177]')" "$dir/get.out"; then
        fail "get printed control characters: $(od -c "$dir/get.out" | head)"
    fi
    if LC_ALL=C grep -q "$(printf '[\200-\377]')" "$dir/get.out"; then
        fail "get printed bytes that are not ASCII (invalid UTF-8 or C1 controls)"
    fi
    grep -q -F 'evil\x0a127.0.0.1\x201\x20fake-node\x20fake\x1b]0;owned\x07\x1b[2J data\x0d\xff\xfe\xc2\x9b31m\xe2\x80\xaeok' "$dir/get.out" ||
        fail "the forged node is not shown escaped: $(cat "$dir/get.out")"
    ;;
bounded)
    start_node a --name A || exit 1
    # Spaces: each travels as \x20, four bytes, in the answer.
    name=$(head -c 4000 /dev/zero | tr '\000' ' ')
    "$forge" "$port_a" 30000 "$name" d 300
    wait_until '[ "$("$peko" ctl --control "$dir/a.sock" stats | sed -n "s/^engine.nodes_added //p")" -ge 250 ]' 100 ||
        fail "the forged nodes were not listed: $("$peko" ctl --control "$dir/a.sock" stats | grep nodes_added)"
    "$peko" ctl --control "$dir/a.sock" get >"$dir/get.out" 2>"$dir/get.err"
    status=$?
    [ "$status" -eq 0 ] || fail "get exited $status: $(cat "$dir/get.err")"
    left=$(sed -n 's/.*the list is truncated: \([0-9]*\) more nodes\{0,1\} not shown.*/\1/p' "$dir/get.err")
    [ -n "$left" ] && [ "$left" -ge 1 ] ||
        fail "no truncation said: $(cat "$dir/get.err")"
    lines=$(wc -l <"$dir/get.out")
    [ "$lines" -lt 301 ] || fail "get printed $lines nodes: not bounded"
    "$peko" ctl --control "$dir/a.sock" --raw get >"$dir/raw.out" 2>/dev/null
    bytes=$(wc -c <"$dir/raw.out")
    [ "$bytes" -le $((4 * 1024 * 1024 + 64)) ] ||
        fail "the answer is $bytes bytes, beyond the 4 MiB bound"
    grep -q " truncated=[0-9]*$" "$dir/raw.out" ||
        fail "the raw answer lacks its truncated=N field"
    ;;
slow)
    start_node a --name A || exit 1
    "$trickle" "$dir/a.sock" 16 4000 30 >"$dir/trickle.out" 2>&1 &
    tpid=$!
    pids="$pids $tpid"
    sleep 1
    # Every slot is held now: a request is turned away...
    "$peko" ctl --control "$dir/a.sock" get >"$dir/busy.out" 2>&1 &&
        echo "note: a request was answered while 16 clients trickled"
    # ... until the deadline closes them.
    wait "$tpid"
    status=$?
    [ "$status" -eq 0 ] ||
        fail "the trickling clients were not closed: $(cat "$dir/trickle.out")"
    "$peko" ctl --control "$dir/a.sock" get >"$dir/get.out" 2>&1 ||
        fail "peko ctl is not answered after the slow clients: $(cat "$dir/get.out")"
    grep -q "^127\.0\.0\.1 $port_a A " "$dir/get.out" ||
        fail "get after the slow clients: $(cat "$dir/get.out")"
    ;;
*)
    echo "check-ctl.sh: unknown check '$check'" >&2
    exit 2
    ;;
esac

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "ctl ($check): all checks passed"
