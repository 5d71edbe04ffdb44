#!/bin/sh
# check-explore.sh PEKO: `peko explore` end to end, on small clusters
# (docs/explore.md).
#
# - a few seeds in two workers pass (exit 0), and say so;
# - --seed S says what S drew, twice the same, and checks it;
# - a violation (the test-only --inject crash, which objects to any
#   crash) exits 1 and writes seed-S.ini, seed-S-shrunk.ini (one fault
#   left: the crash) and seed-S.txt; --replay of either file finds the
#   same violation again, with the same trace;
# - without --inject the replay of that file passes: the violation was
#   the injected one only;
# - bad command lines exit 2 with a precise message.
set -u
peko=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/peko-explore-XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# Seeds 4 to 6 over 16 to 20 nodes pass (they did when this was written:
# a seed is a case, so they always draw the same).
out=$("$peko" explore --seeds 4-6 --nodes 16-20 --jobs 2 -o "$work/a" 2>&1)
rc=$?
[ $rc -eq 0 ] || fail "seeds 4-6: exit $rc: $out"
echo "$out" | grep -q "^3 seeds explored in .*: 0 violations, 0 failed" ||
    fail "seeds 4-6: no summary: $out"

one=$("$peko" explore --seed 6 --nodes 16-20 -o "$work/a")
rc=$?
[ $rc -eq 0 ] || fail "seed 6: exit $rc: $one"
two=$("$peko" explore --seed 6 --nodes 16-20 -o "$work/a")
nowall() { echo "$1" | sed 's/, [0-9.]* s wall//'; }
[ "$(nowall "$one")" = "$(nowall "$two")" ] ||
    fail "seed 6 twice: $one / $two"
echo "$one" | grep -q "^seed 6: 17 nodes, digest" ||
    fail "seed 6: what it drew: $one"
echo "$one" | grep -q "every invariant held" || fail "seed 6: $one"

out=$("$peko" explore --seed 6 --nodes 16-20 --inject crash -o "$work/b")
rc=$?
[ $rc -eq 1 ] || fail "--inject crash: exit $rc: $out"
echo "$out" | grep -q "violates 'injected'" || fail "--inject crash: $out"
for f in seed-6.ini seed-6-shrunk.ini seed-6.txt; do
    [ -s "$work/b/$f" ] || fail "--inject crash: no $f"
done
grep -q "^# faults: 1$" "$work/b/seed-6-shrunk.ini" ||
    fail "the shrunk case keeps more than the crash:
$(cat "$work/b/seed-6-shrunk.ini")"
grep -q "crash nodes=" "$work/b/seed-6-shrunk.ini" ||
    fail "the shrunk case lost the crash"
for f in seed-6.ini seed-6-shrunk.ini; do
    out=$("$peko" explore --inject crash --replay "$work/b/$f")
    rc=$?
    [ $rc -eq 1 ] || fail "--replay $f: exit $rc: $out"
    echo "$out" | grep -q "violates 'injected'" || fail "--replay $f: $out"
done
# The file as drawn is seed 6 itself: the same run, the same trace.
trace1=$(echo "$one" | sed -n 's/.*trace \([0-9a-f]*\)$/\1/p' | head -1)
trace2=$("$peko" explore --replay "$work/b/seed-6.ini" |
    sed -n 's/.*trace \([0-9a-f]*\)$/\1/p')
[ -n "$trace1" ] && [ "$trace1" = "$trace2" ] ||
    fail "the replay file is not the seed's run: '$trace1' / '$trace2'"
out=$("$peko" explore --replay "$work/b/seed-6-shrunk.ini")
rc=$?
[ $rc -eq 0 ] || fail "the shrunk case without --inject: exit $rc: $out"

bad() {
    want=$1
    shift
    out=$("$peko" explore "$@" 2>&1)
    rc=$?
    [ $rc -eq 2 ] || fail "explore $*: exit $rc, expected 2: $out"
    echo "$out" | grep -q -- "$want" ||
        fail "explore $*: expected '$want' in: $out"
}
bad "--seeds (its B)" --seeds 5-3
bad "--seeds" --seeds x
bad "--seeds" --seeds 0
bad "give one of" --seeds 1-2 --seed 3
bad "--nodes (its MAX)" --nodes 20-10
bad "--nodes" --nodes 1
bad "--jobs" --jobs 0
bad "--inject" --inject nonsense
bad "--db records one run" --seeds 1-2 --db "$work/x.db"
bad "no-such.ini" --replay "$work/no-such.ini"

[ $failures -eq 0 ] || exit 1
echo "ok"
