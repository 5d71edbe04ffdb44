#!/usr/bin/env bash
# run-main.sh [ARGS...]: installs what is missing (scripts/setup.sh),
# configures build/ on first use, compiles, and runs peko's main job with
# ARGS. Later runs only compile what changed; meson reconfigures by itself
# when a meson.build changes. See docs/building.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

"$root/scripts/setup.sh"

# meson regenerates build/ by itself when a meson.build changes; every
# source and test is named in one, so nothing else can go unnoticed.
if [ ! -f build/meson-private/coredata.dat ]; then
    meson setup build --buildtype=debugoptimized
fi
meson compile -C build

# ---- main job -------------------------------------------------------------
# The quickstart scenario in the simulator, with its convergence report.
# Arguments go to `peko sim` (--seed N, --db FILE, --pcap FILE, --set K=V).
exec build/cli/peko sim scenarios/quickstart.ini "$@"
