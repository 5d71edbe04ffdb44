#!/usr/bin/env bash
# check-engine-purity.sh ARCHIVE [ENGINE_SRC_DIR]
#
# Keeps the engine's one rule (DESIGN.md section 1): libpeko never reads a
# clock, draws a random number, opens a socket, sleeps or touches a main
# loop; it does all of that through its peko_env.
#
# Two checks:
#   1. the symbols ARCHIVE (the built libpeko-engine.a) leaves undefined,
#      from `nm -u`: none may be a forbidden function;
#   2. the engine's sources (ENGINE_SRC_DIR, default ../engine next to this
#      script), comments and string literals stripped: no call to one.
# The first is the real check; the second catches calls that a macro or an
# unused static function hides from the linker, and points at the line.
#
# Prints every offending symbol and line and exits 1; prints one OK line and
# exits 0 when both are clean. Exits 2 if the archive or the sources are
# missing or nm fails.
set -uo pipefail

# Forbidden functions, as extended regular expressions matched against the
# whole name. Symbols are compared after dropping leading underscores and a
# trailing "64" or "_chk" (glibc's __clock_gettime64, __recv_chk, ...).
forbidden=(
    # clocks
    'time' 'clock_gettime' 'clock_getres' 'gettimeofday' 'clock' 'ftime'
    'timespec_get' 'localtime.*' 'gmtime.*'
    'g_get_monotonic_time' 'g_get_real_time' 'g_get_current_time'
    'g_date_time_new_now.*' 'g_timer_.*'
    # randomness
    'rand' 'rand_r' 'random' 'random_r' 'srand' 'srandom' 'srandom_r'
    'initstate(_r)?' 'setstate(_r)?'
    '[dejlmn]rand48(_r)?' 'srand48(_r)?' 'seed48(_r)?' 'lcong48(_r)?'
    'getrandom' 'getentropy' 'arc4random.*'
    'g_random_.*' 'g_rand_.*'
    # sockets and name lookups (which open sockets)
    'socket' 'socketpair' 'bind' 'connect' 'listen' 'accept' 'accept4'
    'send' 'sendto' 'sendmsg' 'sendmmsg' 'recv' 'recvfrom' 'recvmsg' 'recvmmsg'
    'select' 'pselect' 'poll' 'ppoll' 'epoll_.*'
    'getaddrinfo' 'gethostbyname.*'
    'g_socket_.*'
    # sleeping and main loops
    'sleep' 'usleep' 'nanosleep' 'clock_nanosleep' 'g_usleep'
    'g_main_.*' 'g_timeout_add.*' 'g_idle_add.*' 'g_source_.*'
    'g_io_add_watch.*' 'g_child_watch_.*'
)
alternation="$(IFS='|'; echo "${forbidden[*]}")"
symbol_re="^(${alternation})\$"

archive="${1:-}"
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src_dir="${2:-$script_dir/../engine}"
nm="${NM:-nm}"

if [ -z "$archive" ]; then
    echo "usage: $0 path/to/libpeko-engine.a [engine-source-dir]" >&2
    exit 2
fi
if [ ! -f "$archive" ]; then
    echo "engine-purity: $archive not found: build the engine first (meson compile -C build)" >&2
    exit 2
fi
if ! command -v "$nm" >/dev/null 2>&1; then
    echo "engine-purity: '$nm' not found (binutils)" >&2
    exit 2
fi
if ! compgen -G "$src_dir/*.c" >/dev/null; then
    echo "engine-purity: no engine sources in $src_dir" >&2
    exit 2
fi

bad=0

# 1. Undefined symbols of the archive. nm prints "member.o:" headers and
#    "U name" lines; remember the member to say where a symbol comes from.
if ! nm_out="$("$nm" -u "$archive" 2>&1)"; then
    echo "engine-purity: $nm -u $archive failed:" >&2
    printf '%s\n' "$nm_out" >&2
    exit 2
fi
if grep -q 'plugin needed' <<<"$nm_out"; then
    echo "engine-purity: $archive holds LTO objects; run with NM=gcc-nm" >&2
    exit 2
fi
hits="$(awk -v re="$symbol_re" '
    /:$/ { member = substr($0, 1, length($0) - 1); next }
    $1 == "U" || $1 == "w" || $1 == "v" {
        name = $2
        sub(/@.*/, "", name)          # symbol version, if any
        base = name
        sub(/^_+/, "", base)
        sub(/_chk$/, "", base)
        sub(/64$/, "", base)
        if (name ~ re || base ~ re)
            printf "engine-purity: %s: references %s\n", member, name
    }' <<<"$nm_out")"
if [ -n "$hits" ]; then
    printf '%s\n' "$hits"
    bad=1
fi

# 2. Calls in the sources: "name(" not preceded by an identifier character,
#    "." or "->" (so env->send(...) and peko__send(...) are fine). Comments
#    and string/char literals are blanked first, keeping line numbers.
for f in "$src_dir"/*.c "$src_dir"/*.h; do
    [ -f "$f" ] || continue
    hits="$(awk -v re="(^|[^A-Za-z0-9_.>])(${alternation})[ \t]*[(]" -v file="$f" -v sq="'" '
        BEGIN { in_comment = 0 }
        {
            line = $0; out = ""; i = 1; n = length(line)
            while (i <= n) {
                c = substr(line, i, 1); c2 = substr(line, i, 2)
                if (in_comment) {
                    if (c2 == "*/") { in_comment = 0; i += 2 } else i++
                    continue
                }
                if (c2 == "/*") { in_comment = 1; i += 2; out = out " "; continue }
                if (c2 == "//") break
                if (c == "\"" || c == sq) {
                    q = c; i++
                    while (i <= n && substr(line, i, 1) != q) {
                        if (substr(line, i, 1) == "\\") i++
                        i++
                    }
                    i++; out = out q q; continue
                }
                out = out c; i++
            }
            if (out ~ re) {
                m = out; sub(/^[ \t]+/, "", m)
                printf "engine-purity: %s:%d: %s\n", file, NR, m
            }
        }' "$f")"
    if [ -n "$hits" ]; then
        printf '%s\n' "$hits"
        bad=1
    fi
done

if [ "$bad" -ne 0 ]; then
    echo "engine-purity: FAILED: the engine must reach clocks, randomness, sockets and loops only through peko_env" >&2
    exit 1
fi
echo "engine-purity: OK ($(basename "$archive"): no clock, random, socket, sleep or main-loop calls)"
