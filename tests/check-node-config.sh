#!/bin/sh
# check-node-config.sh PEKO: peko node refuses a bad config file or flag
# with exit 2 and a message that says precisely what is wrong, without
# echoing bytes a terminal would act on (cli/node-config.c, docs/node.md):
# a key given twice, one setting under two spellings, a binary or
# non-UTF-8 file, a control character in a flag, a name and data that do
# not fit Size, a negative duration. A node that starts is a failure
# (each attempt is bounded by `timeout`, and listens on the loopback).
set -u
peko=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/peko-node-config-XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# refused PATTERN ARGS...: peko node ARGS exits 2 and says PATTERN
# (grep -E), printing nothing but printable ASCII and line breaks.
refused() {
    pattern=$1
    shift
    timeout 10 "$peko" node --addr 127.0.0.1 --control "$work/n.sock" "$@" \
        >"$work/out" 2>&1
    status=$?
    [ "$status" -eq 2 ] || fail "peko node $*: exit $status, expected 2: $(cat "$work/out")"
    grep -E -q -- "$pattern" "$work/out" ||
        fail "peko node $*: expected '$pattern', got: $(cat "$work/out")"
    if LC_ALL=C grep -q "$(printf '[\001-\011\013-\037\177-\377]')" "$work/out"; then
        fail "peko node $*: raw bytes echoed: $(od -c "$work/out" | head -5)"
    fi
}

cat >"$work/dup.ini" <<'INI'
[node]
port = 9
cycle = 1s
cycle = 2s
INI
refused "dup.ini: line 4: \[node\] cycle is given twice \(first on line 3\)" \
    --config "$work/dup.ini"

cat >"$work/alias.ini" <<'INI'
[node]
port = 9
cycle = 1s
Cycle = 2
INI
refused "\[node\] Cycle: the same setting as cycle" --config "$work/alias.ini"

printf '[node]\nport = 9\nname = \033[31mred\377\376\n' >"$work/binary.ini"
refused "binary.ini: line 3: not valid UTF-8" --config "$work/binary.ini"
printf '[node]\nport = 9\nname = \033[2Jwiped\n' >"$work/escape.ini"
refused "escape.ini: line 3: control character 0x1b" --config "$work/escape.ini"
head -c 3000 "$peko" >"$work/random.bin" # an ELF file
refused "random.bin: (line [0-9]+: (not valid UTF-8|control character 0x[0-9a-f]{2}|longer)|contains a NUL byte)" \
    --config "$work/random.bin"
refused "--name: contains the control character 0x1b" \
    --port 9 --name "$(printf 'a\033[2Jb')"
# GOption converts flags from the locale first and may refuse them itself.
refused "(--data: not valid UTF-8|Invalid byte sequence)" --port 9 --data "$(printf 'a\377b')"

name=$(head -c 20000 /dev/zero | tr '\000' n)
refused "--name and data take 20000 bytes, and a heartbeat of size 16384 with amount 3 has room for [0-9]+ bytes" \
    --port 9 --name "$name"
refused "--name and --data take [0-9]+ bytes, .* size 1024 " \
    --port 9 --size 1KiB --name "$(head -c 600 /dev/zero | tr '\000' n)" \
    --data "$(head -c 600 /dev/zero | tr '\000' d)"

refused "--cycle: a duration here cannot be negative: expected one from 1ms to 1 day, got '-1s'" \
    --port 9 --cycle=-1s
refused "--timeout: a duration here cannot be negative" --port 9 --timeout=-5s
cat >"$work/negative.ini" <<'INI'
[node]
port = 9
Cycle = -3
INI
refused "\[node\] Cycle: a duration here cannot be negative" \
    --config "$work/negative.ini"

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "node config: all checks passed"
