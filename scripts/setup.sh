#!/usr/bin/env bash
# setup.sh: installs what peko needs to build and test, on Debian-like
# systems, and nothing else.
#
# Called by scripts/run-main.sh and scripts/run-tests.sh; can also be run or
# sourced by hand. Checks each package with dpkg-query first, so when all are
# present it installs nothing, touches no network and returns at once.
# Otherwise it runs `apt-get update` once and installs only the missing ones,
# non-interactively, through sudo when not root.
#
# PEKO_SETUP_DRY_RUN=1 prints what would be installed and changes nothing.
#
# Exits (or, when sourced, returns) non-zero with a message on stderr if
# apt-get is absent or fails.

# Packages the build and the tests need. "build-essential" also counts as
# present when gcc is installed on its own.
PEKO_SETUP_PACKAGES=(
    build-essential
    pkg-config
    meson
    ninja-build
    libglib2.0-dev
    libsqlite3-dev
    libpcap-dev
    libsoup-3.0-dev
    libcriterion-dev
    sqlite3
    tshark
    parallel  # GNU parallel: the README's sharded sweep, run by a test
)

# peko_setup_is_installed PKG: succeeds if dpkg reports PKG as installed.
peko_setup_is_installed() {
    local status
    status="$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" || return 1
    [ "$status" = "install ok installed" ]
}

# peko_setup_missing PKG...: prints the packages among PKG... that are not
# installed, one per line. One dpkg-query call for all of them.
peko_setup_missing() {
    local installed pkg
    # gcc is asked about too, as a stand-in for build-essential.
    installed="$(dpkg-query -W -f='${Package} ${Status}\n' "$@" gcc 2>/dev/null \
                 | awk '$2 == "install" && $3 == "ok" && $4 == "installed" { print $1 }')"
    for pkg in "$@"; do
        grep -qxF -- "$pkg" <<<"$installed" && continue
        [ "$pkg" = build-essential ] && grep -qxF gcc <<<"$installed" && continue
        printf '%s\n' "$pkg"
    done
}

# peko_setup_install PKG...: installs PKG... with apt-get (update once, then
# install). Returns non-zero with a message if that is not possible.
peko_setup_install() {
    local -a sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "setup: not root and sudo not found; install as root: apt-get install $*" >&2
            return 1
        fi
        # sudo may ask for a password on a terminal; never elsewhere.
        if [ -t 0 ]; then sudo=(sudo); else sudo=(sudo -n); fi
        sudo+=(env DEBIAN_FRONTEND=noninteractive)
    fi
    local -a apt=("${sudo[@]}" apt-get -q -y
                  -o Dpkg::Options::=--force-confdef
                  -o Dpkg::Options::=--force-confold)

    echo "setup: installing: $*" >&2
    # tshark's package asks whether non-root users may capture; answer no
    # beforehand (the tests only read capture files).
    if printf '%s\n' "$@" | grep -qx tshark && command -v debconf-set-selections >/dev/null 2>&1; then
        echo "wireshark-common wireshark-common/install-setuid boolean false" |
            "${sudo[@]}" debconf-set-selections
    fi
    if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" update; then
        echo "setup: 'apt-get update' failed" >&2
        return 1
    fi
    if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install --no-install-recommends "$@"; then
        echo "setup: 'apt-get install $*' failed" >&2
        return 1
    fi
}

# peko_setup: the whole job. Returns 0 when everything is installed.
peko_setup() {
    if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        # Not Debian-like. Fine if the tools are already there (the build
        # itself will say what is missing); otherwise say what is needed.
        echo "setup: apt-get/dpkg-query not found: this script only supports Debian-like systems." >&2
        echo "setup: install by hand: a C compiler, pkg-config, meson, ninja, GLib >= 2.66, SQLite 3 (library and sqlite3 tool), libpcap, libsoup 3, Criterion" >&2
        return 1
    fi

    local -a missing
    mapfile -t missing < <(peko_setup_missing "${PEKO_SETUP_PACKAGES[@]}")
    [ "${#missing[@]}" -eq 0 ] && return 0

    if [ -n "${PEKO_SETUP_DRY_RUN:-}" ] && [ "${PEKO_SETUP_DRY_RUN}" != 0 ]; then
        echo "setup: would install: ${missing[*]}"
        return 0
    fi
    peko_setup_install "${missing[@]}" || return 1

    # Check again: apt-get may succeed without installing (held packages).
    mapfile -t missing < <(peko_setup_missing "${missing[@]}")
    if [ "${#missing[@]}" -ne 0 ]; then
        echo "setup: still missing after apt-get: ${missing[*]}" >&2
        return 1
    fi
}

# Run when executed; only define the functions when sourced with
# PEKO_SETUP_NO_RUN set (used to test them one by one).
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -uo pipefail
    peko_setup
    exit $?
elif [ -z "${PEKO_SETUP_NO_RUN:-}" ]; then
    peko_setup
fi
