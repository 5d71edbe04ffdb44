#!/bin/sh
# check-slurm.sh PEKO SLURM_DIR SCENARIO: contrib/slurm without Slurm
# (none runs on the machines that build peko). Checks:
# - every script parses (bash -n) and, when shellcheck is installed,
#   passes it;
# - the array task script, run by hand as tasks 1..4 of a 4-task array
#   (the SLURM_* variables sbatch would set), then the merge script, give
#   a database whose report equals the unsharded sweep's;
# - submit.sh, against a stand-in sbatch that logs its arguments, submits
#   the array and then the merge depending on it (afterok).
# What is not checked: sbatch's own parsing of the #SBATCH lines, and
# running on a real cluster.
set -eu
peko="$1"
# Absolute: the example runs in a directory of its own.
case "$peko" in /*) ;; *) peko="$PWD/$peko" ;; esac
dir="$2"
scenario="$3"
work="$(mktemp -d "${TMPDIR:-/tmp}/peko-slurm-XXXXXX")"
trap 'rm -rf "$work"' EXIT INT TERM

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

for f in "$dir"/peko-shard.sbatch "$dir"/peko-merge.sbatch "$dir"/submit.sh; do
    bash -n "$f" || fail "$f does not parse"
    if command -v shellcheck >/dev/null 2>&1; then
        shellcheck "$f" || fail "shellcheck: $f"
    fi
done
command -v shellcheck >/dev/null 2>&1 || echo "note: shellcheck not installed"

# The array, task by task.
for i in 1 2 3 4; do
    SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_COUNT=4 SLURM_ARRAY_TASK_MIN=1 \
        SLURM_ARRAY_TASK_MAX=4 SLURM_CPUS_PER_TASK=1 PEKO="$peko" \
        bash "$dir/peko-shard.sbatch" "$scenario" "$work/parts" \
        >"$work/task-$i.txt" 2>&1 || fail "task $i: $(cat "$work/task-$i.txt")"
done
[ "$(find "$work/parts" -name 'part-*.db' | wc -l)" = 4 ] ||
    fail "not four part databases"
# A task outside an array is refused.
if PEKO="$peko" bash "$dir/peko-shard.sbatch" "$scenario" "$work/parts" \
    >/dev/null 2>&1; then
    fail "the task script ran outside a job array"
fi
PEKO="$peko" bash "$dir/peko-merge.sbatch" "$work/parts" "$work/merged.db" \
    >"$work/merge.txt" 2>&1 || fail "merge: $(cat "$work/merge.txt")"
[ -s "$work/merged.db.report.txt" ] || fail "no report written"

"$peko" sweep "$scenario" -q --jobs 2 --db "$work/whole.db" >/dev/null ||
    fail "the unsharded sweep failed"
"$peko" report --format csv "$work/whole.db" >"$work/whole.csv"
"$peko" report --format csv "$work/merged.db" >"$work/merged.csv"
if ! cmp -s "$work/whole.csv" "$work/merged.csv"; then
    diff "$work/whole.csv" "$work/merged.csv" >&2 || true
    fail "the array's merged report differs from the unsharded sweep's"
fi

# submit.sh against a stand-in sbatch.
mkdir "$work/bin"
cat >"$work/bin/sbatch" <<'STUB'
#!/bin/sh
echo "$*" >>"$SBATCH_LOG"
case "$*" in *--parsable*) echo "4242;cluster" ;; *) echo "Submitted batch job 4243" ;; esac
STUB
chmod +x "$work/bin/sbatch"
PATH="$work/bin:$PATH" SBATCH_LOG="$work/sbatch.log" \
    bash "$dir/submit.sh" "$scenario" 4 "$work/out" "$work/o.db" >/dev/null ||
    fail "submit.sh failed"
sed -n 1p "$work/sbatch.log" | grep -q -- "--array=1-4 .*peko-shard.sbatch $scenario $work/out" ||
    fail "the array was not submitted as expected: $(cat "$work/sbatch.log")"
sed -n 2p "$work/sbatch.log" | grep -q -- "--dependency=afterok:4242 .*peko-merge.sbatch $work/out $work/o.db" ||
    fail "the merge was not submitted after the array: $(cat "$work/sbatch.log")"
if bash "$dir/submit.sh" "$scenario" x "$work/out" "$work/o.db" 2>/dev/null; then
    fail "submit.sh took a bad shard count"
fi
echo "ok: the Slurm scripts parse, shard, merge and submit as documented"
