#!/bin/sh
# check-readme-example.sh README EXAMPLE_C: the C program in README.md's
# "Real networks: libpeko" section is transport/example.c (from its first
# #include on), so the README's example is the one that is compiled.
set -eu
readme="$1"
example="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
awk '/^## Real networks: libpeko/ { in_section = 1 }
     in_section && /^```c$/ { in_code = 1; next }
     in_code && /^```$/ { exit }
     in_code { print }' "$readme" >"$tmp/readme.c"
sed -n '/^#include <peko-transport.h>/,$p' "$example" >"$tmp/example.c"
if ! cmp -s "$tmp/readme.c" "$tmp/example.c"; then
    echo "README.md's libpeko example differs from $example:" >&2
    diff "$tmp/readme.c" "$tmp/example.c" >&2 || true
    exit 1
fi
