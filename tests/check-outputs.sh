#!/bin/sh
# check-outputs.sh PEKO SCENARIO: a command never writes over one of its
# own inputs or outputs (cli_check_paths, cli/cli.h). Each clash below,
# however the two paths are spelled (the same name, ./name, dir/../name,
# a symlink, a hard link; files that exist and files that do not yet),
# exits 2 before anything is written: the files that existed are
# unchanged and no new file appears.
set -u
peko=$1
scenario=$2
# The checks run inside their own directory: absolute paths first.
case "$peko" in /*) ;; *) peko="$PWD/$peko" ;; esac
case "$scenario" in /*) ;; *) scenario="$PWD/$scenario" ;; esac
work=$(mktemp -d "${TMPDIR:-/tmp}/peko-outputs-XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

cd "$work" || exit 1
mkdir sub
cp "$scenario" q.ini
"$peko" sim q.ini --db runs.db >/dev/null 2>&1 || {
    echo "could not record a run to start from" >&2
    exit 1
}
ln -s runs.db link.db
ln runs.db hard.db
ln -s q.ini link.ini
sum() { cksum runs.db q.ini | tr '\n' ' '; }
before=$(sum)
listing() { ls -A | tr '\n' ' '; }
files=$(listing)

# refused ARGS...: peko ARGS exits 2, says "same file", writes nothing.
refused() {
    "$peko" "$@" >out.txt 2>&1
    status=$?
    [ "$status" -eq 2 ] || fail "peko $*: exit $status, expected 2: $(cat out.txt)"
    grep -q "are the same file" out.txt ||
        fail "peko $*: no message naming the clash: $(cat out.txt)"
    rm -f out.txt
    [ "$(sum)" = "$before" ] || fail "peko $*: an input changed"
    [ "$(listing)" = "$files" ] ||
        fail "peko $*: files changed: $(listing) (was: $files)"
}

refused plot runs.db -o runs.db
refused plot runs.db -o ./runs.db
refused plot runs.db -o sub/../runs.db
refused plot link.db -o runs.db
refused plot runs.db -o hard.db
refused sim q.ini --db runs.db --pcap runs.db
refused sim q.ini --db runs.db --pcap ./link.db
refused sim q.ini --db new.db --pcap sub/../new.db
refused sim q.ini --db q.ini
refused sim q.ini --pcap link.ini
refused sim link.ini --db sub/../q.ini
refused testbed q.ini --db new.db --capture ./new.db
refused testbed q.ini --db q.ini
refused sweep q.ini --db ./q.ini
refused merge runs.db link.db
refused merge new.db sim.db ./new.db
cat >node.ini <<'INI'
[node]
port = 9
INI
files=$(listing)
refused node --config node.ini --db node.ini
refused node --port 9 --db n.db --control ./n.db

# Different files stay allowed: the page is written.
"$peko" plot runs.db -o sub/runs.html >/dev/null 2>&1 ||
    fail "peko plot runs.db -o sub/runs.html failed"
[ -s sub/runs.html ] || fail "no page written to sub/runs.html"

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "outputs: all checks passed"
