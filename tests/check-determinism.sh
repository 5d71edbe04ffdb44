#!/usr/bin/env bash
# check-determinism.sh PEKO SCENARIO_DIR: every shipped scenario, run twice
# with the same seed (malloc on huge pages and off), must give the same
# trace hash and the same recorded rows (wall-clock columns aside); runs
# with other seeds must give other hashes. Large scenarios are shrunk with
# --set so the check stays quick: determinism does not depend on size.
set -euo pipefail

peko="$1"
dir="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Scenario-specific overrides that keep each run to a second or so.
shrink() {
    case "$(basename "$1")" in
        bench-1000.ini|fanout.ini)
            echo "--set cluster.nodes=64 --set cluster.duration=40s" ;;
        strategies-scale.ini)
            echo "--set cluster.nodes=64 --set cluster.duration=100s" ;;
        partition-long.ini)
            echo "--set cluster.duration=170s" ;;
        digest-10000.ini)
            echo "--set cluster.nodes=64 --set cluster.duration=300s" ;;
        *) echo "" ;;
    esac
}

# dump DB: every recorded row except wall-clock columns, in key order.
dump() {
    sqlite3 "$1" <<'SQL'
SELECT scenario, params, seed, version, source, status, nodes, trace_hash,
       sim_time_us, events, deliveries, ground_truth FROM run;
SELECT * FROM node;
SELECT * FROM rumor;
SELECT * FROM infection;
SELECT * FROM traffic;
SELECT * FROM rejection;
SELECT * FROM membership;
SELECT * FROM metadata_version;
SELECT * FROM timeline;
SELECT * FROM node_state;
SELECT * FROM membership_change;
SQL
}

trace_of() {
    sqlite3 "$1" "SELECT trace_hash FROM run"
}

failed=0
checked=0
for scenario in "$dir"/*.ini; do
    name="$(basename "$scenario" .ini)"
    # shellcheck disable=SC2046
    set -- $(shrink "$scenario")
    declare -A seen_hash=()
    for seed in 1 2 3; do
        # The second run keeps malloc off huge pages (sim/mem.h): where
        # memory lies must not change a run either.
        "$peko" sim "$scenario" --seed "$seed" --db "$work/$name-$seed-a.db" \
            "$@" >/dev/null
        GLIBC_TUNABLES=glibc.malloc.hugetlb=0 "$peko" sim "$scenario" \
            --seed "$seed" --db "$work/$name-$seed-b.db" "$@" >/dev/null
        if ! cmp -s <(dump "$work/$name-$seed-a.db") <(dump "$work/$name-$seed-b.db"); then
            echo "FAIL $name seed $seed: two runs recorded different rows"
            diff <(dump "$work/$name-$seed-a.db") <(dump "$work/$name-$seed-b.db") | head -5
            failed=$((failed + 1))
        fi
        hash="$(trace_of "$work/$name-$seed-a.db")"
        if [ -n "${seen_hash[$hash]:-}" ]; then
            echo "FAIL $name: seeds ${seen_hash[$hash]} and $seed share trace $hash"
            failed=$((failed + 1))
        fi
        seen_hash[$hash]=$seed
        checked=$((checked + 1))
    done
    unset seen_hash
    echo "ok $name: same seed, same rows; seeds 1..3 give distinct traces"
done
echo "determinism: $checked scenario-seed pairs checked, $failed failures"
[ "$failed" -eq 0 ]
