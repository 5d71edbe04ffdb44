#!/bin/sh
# check-install.sh MESON BUILD_DIR EXAMPLE_C SANITIZE
#
# Installs the build into a temporary destdir, compiles the README's
# example against the installed libpeko with pkg-config, as a user would,
# and runs it for a second on a free port. Exits 77 (skipped) when no C
# compiler or pkg-config is available.
set -eu

meson="$1"
build="$2"
example="$3"
sanitize="${4:-none}"

cc="${CC:-}"
if [ -z "$cc" ]; then
    for c in cc gcc clang; do
        if command -v "$c" >/dev/null 2>&1; then cc="$c"; break; fi
    done
fi
if [ -z "$cc" ] || ! command -v pkg-config >/dev/null 2>&1; then
    echo "check-install: no C compiler or pkg-config: skipped"
    exit 77
fi

dest="$(mktemp -d)"
trap 'rm -rf "$dest"' EXIT

"$meson" install -C "$build" --no-rebuild --destdir "$dest" --quiet \
    >"$dest/install.log" 2>&1 || { cat "$dest/install.log"; exit 1; }

pc="$(find "$dest" -name peko.pc | head -n 1)"
if [ -z "$pc" ]; then
    echo "check-install: peko.pc was not installed" >&2
    exit 1
fi
for h in peko.h peko-transport.h; do
    if [ -z "$(find "$dest" -path "*/include/peko/$h")" ]; then
        echo "check-install: include/peko/$h was not installed" >&2
        exit 1
    fi
done

# The .pc file names the real prefix: a copy of it points into dest (a
# sysroot or --define-variable would move glib's paths too).
mkdir "$dest/pkgconfig"
prefix="$(sed -n 's/^prefix=//p' "$pc")"
sed "s|^prefix=.*|prefix=$dest$prefix|" "$pc" >"$dest/pkgconfig/peko.pc"
PKG_CONFIG_PATH="$dest/pkgconfig"
export PKG_CONFIG_PATH
flags="$(pkg-config --cflags --libs peko)"
extra=""
if [ "$sanitize" != "none" ]; then
    extra="-fsanitize=$sanitize"
fi
# shellcheck disable=SC2086
"$cc" -std=gnu17 -Wall -Werror $extra -o "$dest/example" "$example" $flags

libdir="$(dirname "$(find "$dest" -name 'libpeko.so*' | head -n 1)")"
LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    "$dest/example" 0 1 >"$dest/out.txt"
cat "$dest/out.txt"
grep -q '^test metadata$' "$dest/out.txt"
grep -q '\[\[Join\]: {127.0.0.1 ' "$dest/out.txt"
grep -q '^127.0.0.1 9999 Hello test-data$' "$dest/out.txt"
echo "check-install: installed libpeko builds and runs the example"
