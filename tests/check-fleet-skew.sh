#!/bin/sh
# check-fleet-skew.sh PEKO: three `peko node` processes on 127.0.0.1
# recording one deployment, node c with its clock skewed 3 s ahead by the
# transport's test hook ($PEKO_TEST_WALL_SKEW_US). a publishes; after
# `peko merge --fleet`, every node's estimated offset to the reference
# must be its true skew within the error bound it states, and the
# publish's infection times must be corrected (under 1 s, where merging
# on the raw clocks puts c's 3 s late; the runs last longer than the skew,
# or the raw merge would refuse them as not overlapping). Exit 77 without sqlite3.
set -u

peko="$1"
command -v sqlite3 >/dev/null || { echo "check-fleet-skew: no sqlite3: skipped"; exit 77; }
dir="$(mktemp -d)"
pids=""
skew=3000000

cleanup() {
    for p in $pids; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$dir"
}
trap cleanup EXIT

fail() {
    echo "check-fleet-skew: $*" >&2
    for f in "$dir"/*.err; do
        [ -f "$f" ] && { echo "--- $f"; cat "$f"; } >&2
    done
    exit 1
}

wait_for() { # SECONDS COMMAND...
    tries=$(($1 * 10))
    shift
    while [ "$tries" -gt 0 ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
        tries=$((tries - 1))
    done
    return 1
}

# start NAME PORT ARGS...: returns 1 if the port was taken.
start() {
    name="$1"; port="$2"; shift 2
    "$peko" node --port "$port" --control "$dir/$name.sock" --cycle 100ms \
        --secret-key fleet-key --db "$dir/$name.db" --run-label skew "$@" \
        >/dev/null 2>"$dir/$name.err" &
    pid=$!
    tries=100
    while [ ! -S "$dir/$name.sock" ]; do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"
            grep -q "cannot bind" "$dir/$name.err" && return 1
            fail "node $name exited at start"
        fi
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || fail "node $name: no control socket after 10 s"
        sleep 0.1
    done
    pids="$pids $pid"
    return 0
}

stop_all() {
    for p in $pids; do kill -TERM "$p"; done
    for p in $pids; do wait "$p" || fail "a node exited $?"; done
    pids=""
}

base=$((30000 + $$ % 20000))
started=no
for attempt in 0 1 2 3 4 5 6 7; do
    pa=$((base + attempt * 7)); pb=$((pa + 1)); pc=$((pa + 2))
    if start a "$pa" && start b "$pb" --seeds "127.0.0.1:$pa" &&
        PEKO_TEST_WALL_SKEW_US=$skew start c "$pc" --seeds "127.0.0.1:$pa"; then
        started=yes
        break
    fi
    for p in $pids; do kill -TERM "$p"; wait "$p"; done
    pids=""
    rm -f "$dir"/*.db*
done
[ "$started" = yes ] || fail "no three free ports"
grep -q "skewed by $skew us" "$dir/c.err" || fail "node c does not say it is skewed"

lists_all() { # SOCKET: the node lists the two others
    [ "$("$peko" ctl --control "$1" get | wc -l)" -ge 3 ]
}
for n in a b c; do
    wait_for 10 lists_all "$dir/$n.sock" || fail "node $n never listed the others"
done
# A few cycles of swaps: offsets measured both ways.
sleep 1
"$peko" ctl --control "$dir/a.sock" publish "skewed" >/dev/null || fail "publish"
reads() { [ "$("$peko" ctl --control "$1" read)" = skewed ]; }
for n in b c; do
    wait_for 10 reads "$dir/$n.sock" || fail "node $n never got the publish"
done
sleep 3.5
stop_all

"$peko" merge --fleet "$dir/fleet.db" "$dir/a.db" "$dir/b.db" "$dir/c.db" \
    >"$dir/merge.out" 2>"$dir/merge.err" || { cat "$dir/merge.err" >&2; fail "merge --fleet"; }
cat "$dir/merge.out"

q() { sqlite3 "$dir/fleet.db" "$1"; }
[ "$(q "SELECT nodes FROM run")" = 3 ] || fail "the merged run does not have 3 nodes"
# Every node's true skew: c's is $skew, the others' 0.
truth="CASE WHEN n.addr = '127.0.0.1:$pc' THEN $skew ELSE 0 END"
reft="(SELECT CASE WHEN m.addr = '127.0.0.1:$pc' THEN $skew ELSE 0 END
        FROM node m WHERE m.run_id = c.run_id AND m.node_id = c.reference)"
bad=$(q "SELECT n.addr || ': offset ' || c.offset_us || ' +- ' || c.error_us
           || ', true ' || ($truth - $reft)
         FROM clock_correction c JOIN node n USING (run_id, node_id)
         WHERE abs(c.offset_us - ($truth - $reft)) > c.error_us")
[ -z "$bad" ] || fail "offsets outside their bounds: $bad"
q "SELECT n.addr, c.offset_us, c.error_us FROM clock_correction c
   JOIN node n USING (run_id, node_id)"
bound=$(q "SELECT max(error_us) FROM clock_correction")
[ "$bound" -lt 100000 ] || fail "an error bound of $bound us on the loopback"

# The publish reached all three within a second on the common clock.
t100=$(q "SELECT t100_us FROM rumor_summary WHERE kind = 'metadata'")
[ -n "$t100" ] && [ "$t100" -lt 1000000 ] || fail "publish t100 '$t100' us: not corrected"
# Without correction c's receipt is 3 s late.
"$peko" merge --fleet --common-clock "$dir/raw.db" "$dir/a.db" "$dir/b.db" \
    "$dir/c.db" >/dev/null || fail "merge --common-clock"
raw=$(sqlite3 "$dir/raw.db" "SELECT i.t_us FROM infection i JOIN rumor r
        USING (run_id, rumor_id) JOIN node n ON n.run_id = i.run_id AND
        n.node_id = i.node_id WHERE r.kind = 'metadata' AND
        n.addr = '127.0.0.1:$pc'")
[ -n "$raw" ] && [ "$raw" -gt 2500000 ] || fail "uncorrected, c's receipt is at '$raw' us"

# Refusals: a node merged twice, and another label.
"$peko" merge --fleet "$dir/x.db" "$dir/a.db" "$dir/a.db" 2>"$dir/dup.err" && fail "a doubled input merged"
"$peko" merge --fleet --run-label other "$dir/x.db" "$dir/a.db" 2>"$dir/lbl.err" && fail "another label merged"
grep -q "different deployments" "$dir/lbl.err" || { cat "$dir/lbl.err" >&2; fail "label refusal says why"; }
echo "check-fleet-skew: ok (t100 $t100 us corrected, $raw us raw; bound $bound us)"
exit 0
