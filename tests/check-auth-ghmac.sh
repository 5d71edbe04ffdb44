#!/bin/sh
# check-auth-ghmac.sh ARCHIVE
#
# The keyring's HMAC is GLib's (engine/auth.c): the auth object of ARCHIVE
# (the built libpeko-engine.a) copies a keyed GHmac per packet
# (g_hmac_copy) and copies no bare SHA-256 state (g_checksum_copy), which
# only a hand-written HMAC needs. Exits 0 when that holds, 1 when not,
# 2 if the archive or nm is missing.
archive="$1"
nm="${NM:-nm}"
if [ ! -f "$archive" ] || ! command -v "$nm" >/dev/null 2>&1; then
    echo "auth-ghmac: usage: $0 libpeko-engine.a (needs nm)" >&2
    exit 2
fi
undefined="$("$nm" -u "$archive" | awk '
    /:$/ { member = $0; next }
    member ~ /auth[.]c[.]o:$/ && $1 == "U" { print $2 }')"
if [ -z "$undefined" ]; then
    echo "auth-ghmac: no auth object in $archive" >&2
    exit 2
fi
status=0
if ! printf '%s\n' "$undefined" | grep -qx 'g_hmac_copy'; then
    echo "auth-ghmac: auth.c does not copy a keyed GHmac per packet" >&2
    status=1
fi
if printf '%s\n' "$undefined" | grep -qx 'g_checksum_copy'; then
    echo "auth-ghmac: auth.c copies bare SHA-256 states: a hand-written HMAC" >&2
    status=1
fi
[ "$status" -eq 0 ] && echo "auth-ghmac: OK (GHmac keyed once per key, copied per packet)"
exit "$status"
