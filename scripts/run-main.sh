#!/usr/bin/env bash
# run-main.sh [ARGS...]: installs what is missing (scripts/setup.sh),
# configures build/ on first use, compiles, and runs peko's main job with
# ARGS. Later runs only compile what changed; meson reconfigures by itself
# when a meson.build changes. See docs/building.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

"$root/scripts/setup.sh"

# meson regenerates build/ by itself when a meson.build changes, but not
# when a file that a meson.build only tests for (fs.exists) appears or goes,
# such as a new directory's meson.build. So remember which build files the
# tree has and reconfigure when that list changes.
tree="$(find . -type d \( -name .git -o -name 'build*' \) -prune -o -type f \
        \( -name meson.build -o -name meson_options.txt -o -name '*.c' \
           -o -name '*.h' -o -name '*.sh' \) -print | LC_ALL=C sort | cksum)"
if [ ! -f build/meson-private/coredata.dat ]; then
    meson setup build --buildtype=debugoptimized
elif [ "$(cat build/peko-tree.sum 2>/dev/null)" != "$tree" ]; then
    meson setup --reconfigure build
fi
printf '%s\n' "$tree" > build/peko-tree.sum
meson compile -C build

# ---- main job -------------------------------------------------------------
# The quickstart scenario in the simulator, with its convergence report.
# Arguments go to `peko sim` (--seed N, --db FILE, --pcap FILE, --set K=V).
exec build/cli/peko sim scenarios/quickstart.ini "$@"
