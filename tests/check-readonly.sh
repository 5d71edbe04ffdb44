#!/bin/sh
# check-readonly.sh PEKO SCENARIO: the commands that read databases open
# them read-only and write nothing beside them (analysis/db.h,
# ana__db_open_ro); a damaged database is refused before a run is
# written into it.
#
# - peko sim, then report, plot, compare and merge (as an input) of its
#   database leave no -wal or -shm file beside it;
# - the same commands work on a database in a directory the user cannot
#   write (run as nobody when the check runs as root, who may write
#   anywhere), and leave that directory as it was;
# - peko sim --db on a damaged database (a page overwritten) exits 1,
#   says it is damaged and leaves the file byte for byte as it was.
set -u
peko=$1
scenario=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/peko-readonly-XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

if ! command -v sqlite3 >/dev/null 2>&1; then
    echo "sqlite3 missing: skipped"
    exit 77
fi

chmod 755 "$work"
mkdir "$work/ro" "$work/out"
db="$work/ro/runs.db"
"$peko" sim "$scenario" --db "$db" >/dev/null 2>&1 || {
    echo "could not record a run to start from" >&2
    exit 1
}
sidecars() { ls "$work/ro" | grep -E -- '-(wal|shm|journal)$'; }
[ -z "$(sidecars)" ] || fail "peko sim left $(sidecars) beside its database"

# The readers, in a directory they may write: nothing left beside it.
"$peko" report "$db" >/dev/null 2>&1 || fail "report failed"
"$peko" plot "$db" -o "$work/out/a.html" >/dev/null 2>&1 || fail "plot failed"
"$peko" compare "$db" "$db" >/dev/null 2>&1 || fail "compare failed"
"$peko" merge "$work/out/m.db" "$db" >/dev/null 2>&1 || fail "merge failed"
[ -z "$(sidecars)" ] || fail "the readers left $(sidecars) beside the database"

# A directory the user cannot write.
chmod 555 "$work/ro"
chmod 444 "$db"
chmod 777 "$work/out"
as_user=""
if [ "$(id -u)" -eq 0 ]; then
    if command -v setpriv >/dev/null 2>&1 && id nobody >/dev/null 2>&1 &&
        setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
            test -x "$peko"; then
        as_user="setpriv --reuid=nobody --regid=$(id -g nobody) --clear-groups"
    else
        echo "root without a way to run as nobody: the read-only directory part is skipped"
    fi
fi
if [ "$(id -u)" -ne 0 ] || [ -n "$as_user" ]; then
    before=$(ls -A "$work/ro")
    for cmd in "report $db" "plot $db -o $work/out/b.html" \
        "compare $db $db" "merge $work/out/n.db $db"; do
        # shellcheck disable=SC2086
        $as_user "$peko" $cmd >"$work/out/cmd.txt" 2>&1 ||
            fail "peko $cmd in a read-only directory: $(cat "$work/out/cmd.txt")"
    done
    [ "$(ls -A "$work/ro")" = "$before" ] ||
        fail "the read-only directory changed: $(ls -A "$work/ro")"
fi
chmod 755 "$work/ro"
chmod 644 "$db"

# A damaged database: the cell pointers of a table's page (the third)
# overwritten with 0xff, pointing past the page.
bad="$work/out/bad.db"
cp "$db" "$bad"
head -c 2000 /dev/zero | tr '\000' '\377' |
    dd of="$bad" bs=1 seek=8200 conv=notrunc 2>/dev/null
cp "$bad" "$work/out/bad.orig"
"$peko" sim "$scenario" --db "$bad" >"$work/out/bad.txt" 2>&1
status=$?
[ "$status" -eq 1 ] || fail "sim on a damaged database: exit $status, expected 1"
grep -q "damaged" "$work/out/bad.txt" ||
    fail "sim on a damaged database: no reason given: $(cat "$work/out/bad.txt")"
cmp -s "$bad" "$work/out/bad.orig" ||
    fail "sim wrote into the damaged database"

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "readonly: all checks passed"
