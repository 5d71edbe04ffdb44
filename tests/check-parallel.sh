#!/bin/sh
# check-parallel.sh PEKO README SCENARIO: the README's sweep sharded with
# GNU parallel, run as written except for what needs other machines:
# `--sshlogin` becomes local job slots (-j 2), and the options that copy
# files to and from remote hosts (--transferfile, --return, --cleanup)
# are dropped. The scenario is SCENARIO (small) instead of
# scenarios/fanout.ini. Its merged report must equal the report of the
# same sweep run unsharded. Skipped (77) without GNU parallel (Debian's
# `parallel`, in scripts/setup.sh).
set -eu
peko="$1"
# Absolute: the example runs in a directory of its own.
case "$peko" in /*) ;; *) peko="$PWD/$peko" ;; esac
readme="$2"
scenario="$3"
if ! command -v parallel >/dev/null 2>&1 ||
    ! parallel --version 2>/dev/null | grep -q "GNU parallel"; then
    echo "skip: GNU parallel is not installed"
    exit 77
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/peko-parallel-XXXXXX")"
trap 'rm -rf "$work"' EXIT INT TERM

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# The README's block: the ```sh block after "A sweep spread over
# machines with GNU parallel".
awk '/^A sweep spread over machines with GNU parallel/ { found = 1 }
     found && /^```sh$/ { code = 1; next }
     code && /^```$/ { exit }
     code { print }' "$readme" >"$work/readme.sh"
grep -q "^parallel --sshlogin" "$work/readme.sh" ||
    fail "no GNU parallel example found in $readme"
grep -q "peko merge" "$work/readme.sh" || fail "the example merges nothing"

# Local job slots instead of remote hosts; this build's peko; the small
# scenario. The commands are otherwise the README's. "$PEKO" is left for
# the example's shell to expand.
# shellcheck disable=SC2016
sed -e 's|--sshlogin [^ ]*|-j 2|' \
    -e 's|--transferfile [^ ]*||' -e 's|--return [^ ]*||' \
    -e 's|--cleanup||' \
    -e "s|scenarios/fanout.ini|$scenario|g" \
    -e 's/\(^\|[ (]\)peko \(sweep\|merge\|report\)/\1"$PEKO" \2/g' \
    "$work/readme.sh" >"$work/local.sh"
echo "--- the README's example, on local job slots:"
cat "$work/local.sh"
cd "$work"
# Its last line is the report; the lines before make it.
# shellcheck disable=SC2016
tail -n 1 local.sh | grep -q '"$PEKO" report' ||
    fail "the example does not end with its report"
sed '$d' local.sh >make.sh
tail -n 1 local.sh >report.sh
PEKO="$peko" sh -eu ./make.sh >"$work/make.txt" 2>&1 ||
    fail "the example failed: $(cat "$work/make.txt")"
PEKO="$peko" sh -eu ./report.sh >"$work/sharded.txt" 2>"$work/err.txt" ||
    fail "the example's report failed: $(cat "$work/err.txt")"
[ -s fanout.db ] || fail "the example merged nothing into fanout.db"
ls part-*.db >/dev/null 2>&1 || fail "no shard databases"

"$peko" sweep "$scenario" -q --jobs 2 --db "$work/whole.db" >/dev/null ||
    fail "the unsharded sweep failed"
"$peko" report "$work/whole.db" >"$work/whole.txt" || fail "report whole"
"$peko" report --format csv "$work/whole.db" >"$work/whole.csv"
"$peko" report --format csv fanout.db >"$work/sharded.csv"
# The README's last command printed the merged report: as the whole's,
# but for the file names.
sed 's|[^ ]*\.db|DB|g' "$work/whole.txt" >"$work/a.txt"
sed 's|[^ ]*\.db|DB|g' "$work/sharded.txt" >"$work/b.txt"
if ! cmp -s "$work/whole.csv" "$work/sharded.csv"; then
    diff "$work/whole.csv" "$work/sharded.csv" >&2 || true
    fail "the sharded sweep's report differs from the unsharded one (csv)"
fi
if ! cmp -s "$work/a.txt" "$work/b.txt"; then
    diff "$work/a.txt" "$work/b.txt" >&2 || true
    fail "the sharded sweep's report differs from the unsharded one"
fi
echo "ok: the README's sharded sweep reports as the unsharded one"
