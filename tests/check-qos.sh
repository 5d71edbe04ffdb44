#!/bin/sh
# check-qos.sh PEKO SCENARIOS DATA: the failure detector's figures end to
# end, through the command line (docs/analysis.md, "The failure detector").
#
# - a shipped scenario whose nodes crash (SCENARIOS/churn.ini): `peko
#   report` shows a detection time and 0 wrong removals, in its text and
#   in its JSON;
# - DATA/qos.ini, small, at three seeds: no wrong removal either; with
#   half the packets lost its nodes remove live nodes, and `peko compare`
#   of the two fails the gate on wrong_removals, a count that was zero,
#   though three runs a side are too few for any test; a set compared
#   with itself passes;
# - a database of schema 2 (before these rows) is refused by report with
#   the merge that upgrades it, and once merged reports no failure
#   detector figures for its old runs (nothing was recorded of them).
set -u
peko=$1
scenarios=$2
data=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/peko-qos-XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
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

expect_in() { # FILE PATTERN DESCRIPTION
    grep -Eq -- "$2" "$1" || { fail "$3: no '$2' in:"; cat "$1" >&2; }
}

# A shipped scenario with crashes.
expect_status 0 "sim churn.ini" "$peko" sim "$scenarios/churn.ini" --db "$work/churn.db"
expect_status 0 "report churn.db" "$peko" report "$work/churn.db"
cp "$work/out" "$work/churn.txt"
expect_in "$work/churn.txt" "failure detector: 30 silences \(30 crashes" "churn report"
expect_in "$work/churn.txt" "detection: median [0-9.]+ s, p99 [0-9.]+ s; 30 detected" "churn report"
expect_in "$work/churn.txt" "wrong removals: 0 of [1-9][0-9]* removals" "churn report"
expect_in "$work/churn.txt" "^  detection  +[0-9.]+ s" "churn metric table"
expect_status 0 "report churn.db as JSON" "$peko" report --format json "$work/churn.db"
cp "$work/out" "$work/churn.json"
expect_in "$work/churn.json" '"failure_detector":\{"runs":1,"silences":30,' "churn JSON"
expect_in "$work/churn.json" '"detection_median_s":[0-9]' "churn JSON"
expect_in "$work/churn.json" '"wrong_removals":0,' "churn JSON"
expect_in "$work/churn.json" '"wrong_removals":\{"unit":"removals","n":1,' "churn JSON metrics"

# A small scenario at three seeds, then with 70 % of the packets lost:
# rumor's asks about stale entries keep every live node listed at half
# the packets lost, so it takes more to make the detector err.
for seed in 1 2 3; do
    expect_status 0 "sim qos.ini seed $seed" \
        "$peko" sim "$data/qos.ini" --seed "$seed" --db "$work/base.db"
    expect_status 0 "sim qos.ini lossy seed $seed" \
        "$peko" sim "$data/qos.ini" --seed "$seed" --set network.loss=0.7 \
        --db "$work/lossy.db"
done
expect_status 0 "report base.db" "$peko" report "$work/base.db"
expect_in "$work/out" "wrong removals: 0 of" "base report"
expect_in "$work/out" "detection: median [0-9.]+ s" "base report"
expect_status 0 "report lossy.db" "$peko" report "$work/lossy.db"
expect_in "$work/out" "wrong removals: [1-9][0-9]* of" "lossy report"
expect_status 0 "compare base with itself" "$peko" compare "$work/base.db" "$work/base.db"
expect_in "$work/out" "wrong_removals .* same" "compare with itself"
expect_status 1 "compare base with lossy" \
    "$peko" compare --metric wrong_removals "$work/base.db" "$work/lossy.db"
expect_in "$work/out" "wrong_removals .*REGRESSION \(none in base" "compare with lossy"
expect_status 1 "compare base with lossy, default metrics" \
    "$peko" compare "$work/base.db" "$work/lossy.db"
expect_in "$work/out" "wrong_removals .*REGRESSION" "default compare"
expect_status 0 "compare the other way on the rate" \
    "$peko" compare --metric wrong_removal_rate "$work/lossy.db" "$work/base.db"
expect_status 0 "compare detection and cost" \
    "$peko" compare --metric detection,detection_p99,packets_per_node_cycle,bytes_per_node_cycle \
    "$work/base.db" "$work/base.db"

# A database of schema 2: refused by report, merged, then without figures.
cp "$work/base.db" "$work/v2.db"
sqlite3 "$work/v2.db" "DROP VIEW node_down; DROP TABLE node_state;
    DROP TABLE membership_change; ALTER TABLE run DROP COLUMN ground_truth;
    PRAGMA user_version = 2;" || fail "making a schema 2 file"
expect_status 1 "report of schema 2" "$peko" report "$work/v2.db"
expect_in "$work/out" "peko merge" "report of schema 2"
expect_status 0 "merge schema 2" "$peko" merge "$work/v3.db" "$work/v2.db"
expect_status 0 "report of merged schema 2" "$peko" report "$work/v3.db"
if grep -Eq "failure detector|wrong_removals" "$work/out"; then
    fail "old runs show failure detector figures"
    cat "$work/out" >&2
fi

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "failure detector figures: all checks passed"
