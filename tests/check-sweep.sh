#!/bin/sh
# check-sweep.sh PEKO SCENARIO: peko sweep, merge, report and compare end
# to end, on a small repeated scenario (tests/data/compare.ini).
#
# - a sweep records every repetition once; the same command again runs
#   nothing; an interrupted sweep keeps its finished runs and resumes;
# - two shards merged report exactly as one unsharded sweep, and merging a
#   shard again adds nothing;
# - compare exits 0 for a database against itself and against a re-run at
#   other seeds, 1 against a worse configuration (fan-out 1 instead of 3),
#   2 when nothing matches or a database is missing.
set -u
peko=$1
scenario=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/peko-sweep-XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

runs() { # DB: complete runs
    sqlite3 "$1" "SELECT count(*) FROM run WHERE status = 'complete'"
}

expect_status() { # WANT DESCRIPTION COMMAND...
    want=$1
    what=$2
    shift 2
    "$@" >"$work/out" 2>&1
    got=$?
    if [ "$got" -ne "$want" ]; then
        fail "$what: exit $got, expected $want"
        cat "$work/out" >&2
    fi
}

reps=$(sed -n 's/^repetitions *= *//p' "$scenario")

# A whole sweep, then the same command again.
expect_status 0 "sweep" "$peko" sweep "$scenario" -q --jobs 2 --db "$work/all.db"
[ "$(runs "$work/all.db")" -eq "$reps" ] || fail "sweep: $(runs "$work/all.db") runs, expected $reps"
expect_status 0 "sweep again" "$peko" sweep "$scenario" --jobs 2 --db "$work/all.db"
grep -q "$reps already recorded, 0 run now" "$work/out" || fail "sweep again re-ran runs: $(cat "$work/out")"
[ "$(runs "$work/all.db")" -eq "$reps" ] || fail "sweep again added runs"
[ -e "$work/all.db.sweep" ] && fail "the work directory was left behind"

# Shards, merged, report as the whole; a second merge adds nothing.
expect_status 0 "shard 1" "$peko" sweep "$scenario" -q --jobs 1 --shard 1/2 --db "$work/s1.db"
expect_status 0 "shard 2" "$peko" sweep "$scenario" -q --jobs 1 --shard 2/2 --db "$work/s2.db"
expect_status 0 "merge" "$peko" merge "$work/merged.db" "$work/s2.db" "$work/s1.db"
expect_status 0 "merge again" "$peko" merge "$work/merged.db" "$work/s1.db"
grep -q "0 runs copied" "$work/out" || fail "merging a shard twice copied runs: $(cat "$work/out")"
[ "$(runs "$work/merged.db")" -eq "$reps" ] || fail "merged: $(runs "$work/merged.db") runs, expected $reps"
"$peko" report --format csv "$work/all.db" >"$work/all.csv" || fail "report all"
"$peko" report --format csv "$work/merged.db" >"$work/merged.csv" || fail "report merged"
cmp -s "$work/all.csv" "$work/merged.csv" || {
    fail "merged shards report differently from the whole sweep"
    diff "$work/all.csv" "$work/merged.csv" >&2
}
"$peko" report "$work/all.db" >"$work/report.txt" || fail "report (text)"
"$peko" report --format json "$work/all.db" >"$work/report.json" || fail "report (json)"

# A shard recorded first is resumed by the whole sweep.
cp "$work/s1.db" "$work/resume.db"
expect_status 0 "resume after a shard" "$peko" sweep "$scenario" --jobs 2 --db "$work/resume.db"
half=$(runs "$work/s1.db")
grep -q "$half already recorded" "$work/out" || fail "resume did not skip the shard's runs: $(cat "$work/out")"
[ "$(runs "$work/resume.db")" -eq "$reps" ] || fail "resume: $(runs "$work/resume.db") runs"

# Interrupted by SIGINT once a run has been merged, then resumed. Larger
# runs (most of a second each on an idle machine, many under a sanitizer
# on a busy one) so the signal lands mid-sweep. The polling waits for the
# first run, not for a fixed time, and ends if the sweep does (at most
# 3000 polls of 0.1 s).
slow="--set cluster.nodes=300 --set cluster.duration=20s"
"$peko" sweep "$scenario" -q --jobs 1 --seed 500 $slow --db "$work/int.db" >"$work/int.out" 2>&1 &
pid=$!
i=0
while [ $i -lt 3000 ] && kill -0 $pid 2>/dev/null; do
    if [ -e "$work/int.db" ] && [ "$(runs "$work/int.db" 2>/dev/null || echo 0)" -ge 1 ]; then
        break
    fi
    sleep 0.1
    i=$((i + 1))
done
kill -INT $pid 2>/dev/null
wait $pid
status=$?
done_before=$(runs "$work/int.db")
if [ "$done_before" -lt "$reps" ]; then
    [ "$status" -eq 1 ] || fail "interrupted sweep exited $status, expected 1"
    grep -q "the same command resumes" "$work/int.out" || fail "no resume hint: $(cat "$work/int.out")"
fi
bad=$(sqlite3 "$work/int.db" "SELECT count(*) FROM run WHERE status <> 'complete'")
[ "$bad" -eq 0 ] || fail "an interrupted sweep left $bad unfinished runs in the database"
[ "$done_before" -lt "$reps" ] || fail "the sweep ended before the interrupt; the check proves nothing"
expect_status 0 "resume after an interrupt" "$peko" sweep "$scenario" --jobs 2 --seed 500 $slow --db "$work/int.db"
grep -q "$done_before already recorded" "$work/out" || fail "resume redid finished runs: $(cat "$work/out")"
[ "$(runs "$work/int.db")" -eq "$reps" ] || fail "resumed: $(runs "$work/int.db") runs"
dups=$(sqlite3 "$work/int.db" "SELECT count(*) FROM (SELECT 1 FROM run GROUP BY sweep_point, repetition HAVING count(*) > 1)")
[ "$dups" -eq 0 ] || fail "resume ran $dups points twice"

# The regression gate.
expect_status 0 "compare with itself" "$peko" compare "$work/all.db" "$work/all.db"
# A re-run at other seeds is judged the same, with 16 repetitions a
# side: with the file's 8, one side's sample can sit far enough from the
# median that the gate sees a change (measured: t50 against seeds 1 to 8,
# 4 of 12 other seed ranges, where 16 a side passed all 12).
sed 's/^repetitions *=.*/repetitions = 16/' "$scenario" >"$work/sixteen.ini"
expect_status 0 "sixteen repetitions" "$peko" sweep "$work/sixteen.ini" -q --db "$work/sixteen.db"
expect_status 0 "re-run at other seeds" "$peko" sweep "$work/sixteen.ini" -q --seed 100 --db "$work/other-seeds.db"
expect_status 0 "compare with a re-run at other seeds" "$peko" compare "$work/sixteen.db" "$work/other-seeds.db"
expect_status 0 "worse sweep" "$peko" sweep "$scenario" -q --set engine.amount=1 --db "$work/worse.db"
expect_status 1 "compare with fan-out 1" "$peko" compare "$work/all.db" "$work/worse.db"
grep -q "REGRESSION" "$work/out" || fail "no regression shown"
expect_status 1 "compare messages with fan-out 1 the other way" \
    "$peko" compare --metric messages_per_node "$work/worse.db" "$work/all.db"
expect_status 0 "improvement is no regression" "$peko" compare "$work/worse.db" "$work/all.db" --metric t50
expect_status 2 "compare with a missing database" "$peko" compare "$work/all.db" "$work/none.db"
expect_status 2 "compare with an unknown metric" "$peko" compare --metric speed "$work/all.db" "$work/all.db"
"$peko" sweep "$(dirname "$scenario")/../../scenarios/quickstart.ini" -q --db "$work/other.db" >/dev/null 2>&1 ||
    fail "quickstart sweep"
expect_status 2 "compare with nothing in common" "$peko" compare "$work/all.db" "$work/other.db"

# Usage errors.
expect_status 2 "sweep without --db" "$peko" sweep "$scenario"
expect_status 2 "sweep with a bad shard" "$peko" sweep "$scenario" --db "$work/x.db" --shard 3/2
expect_status 2 "sweep with bad jobs" "$peko" sweep "$scenario" --db "$work/x.db" --jobs 0
expect_status 2 "merge without inputs" "$peko" merge "$work/x.db"
expect_status 1 "merge a missing input" "$peko" merge "$work/x.db" "$work/none.db"
expect_status 2 "merge a file into itself" "$peko" merge "$work/all.db" "$work/all.db"
expect_status 2 "report with a bad format" "$peko" report --format xml "$work/all.db"
expect_status 1 "report of a missing file" "$peko" report "$work/none.db"
echo "not a database" >"$work/text.db"
expect_status 1 "report of a text file" "$peko" report "$work/text.db"
expect_status 1 "merge of a text file" "$peko" merge "$work/y.db" "$work/text.db"

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "sweep, merge, report and compare: all checks passed"
