#!/usr/bin/env bash
# check-plot.sh: renders a `peko plot` page with headless Chromium and
# checks that the screenshot shows something.
#
#   scripts/check-plot.sh PAGE.html [OUT.png]
#   scripts/check-plot.sh --db DB [--peko PEKO] [OUT.png]
#
# The first form screenshots an existing page; the second runs
# `peko plot DB -o DB.html` first (DB's name less .db, plus .html; PEKO
# defaults to peko on PATH, else build/cli/peko).
# OUT.png defaults to the page's path with .png. Chromium is installed with
# apt-get (through sudo when not root) only when missing.
#
# Exits 0 when the PNG exists and is not blank (more than one colour, and
# not almost all white); 1 when it is missing or blank; 2 for a bad
# command line.

set -euo pipefail

usage() {
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

page=""
db=""
peko=""
out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --db) [ $# -ge 2 ] || usage; db="$2"; shift 2 ;;
        --peko) [ $# -ge 2 ] || usage; peko="$2"; shift 2 ;;
        -h|--help) usage ;;
        -*) echo "check-plot: unknown option $1" >&2; usage ;;
        *)
            if [ -z "$db" ] && [ -z "$page" ]; then page="$1"
            elif [ -z "$out" ]; then out="$1"
            else echo "check-plot: unexpected argument $1" >&2; usage
            fi
            shift ;;
    esac
done
# With --db the one positional argument is the output.
if [ -n "$db" ] && [ -n "$page" ] && [ -z "$out" ]; then
    out="$page"
    page=""
fi
[ -n "$page" ] || [ -n "$db" ] || usage

if [ -n "$db" ]; then
    if [ -z "$peko" ]; then
        if command -v peko >/dev/null 2>&1; then
            peko="$(command -v peko)"
        else
            peko="$(dirname "$0")/../build/cli/peko"
        fi
    fi
    page="${db%.db}.html"
    "$peko" plot "$db" -o "$page"
fi
[ -f "$page" ] || { echo "check-plot: $page: no such file" >&2; exit 1; }
[ -n "$out" ] || out="${page%.html}.png"

find_chromium() {
    for name in chromium chromium-browser google-chrome; do
        if command -v "$name" >/dev/null 2>&1; then
            command -v "$name"
            return 0
        fi
    done
    return 1
}

fail() {
    echo "check-plot: $*" >&2
    exit 1
}

if ! browser="$(find_chromium)"; then
    as_root=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 ||
            fail "chromium is missing and sudo is not there: install it as root"
        as_root=(sudo)
    fi
    echo "check-plot: installing chromium" >&2
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq chromium >/dev/null
    browser="$(find_chromium)" || fail "chromium did not install"
fi

abs_page="$(cd "$(dirname "$page")" && pwd)/$(basename "$page")"
rm -f "$out"
# Chromium prints GPU and D-Bus complaints even when all is well: keep
# them out of the way unless the screenshot fails.
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! timeout 120 "$browser" --headless --disable-gpu --no-sandbox \
        --hide-scrollbars --screenshot="$out" --window-size=1280,4000 \
        "file://$abs_page" >"$log" 2>&1; then
    cat "$log" >&2
    fail "chromium failed"
fi
if [ ! -s "$out" ]; then
    cat "$log" >&2
    fail "no screenshot written to $out"
fi

# Blank: a single colour, or (nearly) nothing but white. Python reads the
# PNG with its standard library only; without Python, the file's size
# tells: a blank 1280x4000 screenshot compresses to a few kilobytes, a
# page of figures to hundreds.
if ! command -v python3 >/dev/null 2>&1; then
    size=$(wc -c <"$out")
    [ "$size" -ge 40000 ] || fail "$out looks blank ($size bytes)"
    echo "check-plot: $out: $size bytes, not blank (python3 missing: size only)"
    exit 0
fi
python3 - "$out" <<'EOF'
import struct, sys, zlib

path = sys.argv[1]
with open(path, "rb") as f:
    data = f.read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit(f"check-plot: {path} is not a PNG")
pos, idat, width, height, depth, ctype = 8, b"", 0, 0, 0, 0
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT":
        idat += body
    pos += 12 + length
if depth != 8 or ctype not in (2, 6):
    sys.exit(f"check-plot: {path}: unexpected PNG format (depth {depth}, type {ctype})")
bpp = 3 if ctype == 2 else 4
raw = zlib.decompress(idat)
stride = width * bpp
prev = bytearray(stride)
colours = set()
non_white = 0
pos = 0
sampled = ((height + 3) // 4) * ((width + 3) // 4)
enough = max(1, int(0.002 * sampled))
for y in range(height):
    # A page with content shows it near the top: stop decoding once it is
    # plainly not blank.
    if non_white >= enough and len(colours) >= 2:
        break
    f = raw[pos]
    line = bytearray(raw[pos + 1:pos + 1 + stride])
    pos += 1 + stride
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1:
            line[i] = (line[i] + a) & 255
        elif f == 2:
            line[i] = (line[i] + b) & 255
        elif f == 3:
            line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    prev = line
    if y % 4 == 0:
        for x in range(0, width, 4):
            px = bytes(line[x * bpp:x * bpp + 3])
            if len(colours) < 64:
                colours.add(px)
            if px != b"\xff\xff\xff":
                non_white += 1
if len(colours) < 2 or non_white < enough:
    sys.exit(f"check-plot: {path} looks blank ({len(colours)} colours, "
             f"{non_white} of {sampled} sampled pixels not white)")
print(f"check-plot: {path}: {width}x{height}, not blank")
EOF
