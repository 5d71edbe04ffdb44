#!/bin/sh
# check-dissector.sh PEKO LUA SCENARIO [CORPUS [WIRE-VERDICTS]]: the
# Wireshark dissector (tools/wireshark/peko.lua) against the simulator's
# captures and against malformed packets.
#
# - UDP: `peko sim SCENARIO --pcap` then tshark with the dissector: every
#   frame is peko, none malformed or with an expert error, and the count of
#   each message type equals the run database's delivered packets of that
#   type (traffic table);
# - TCP, signed: the same with protocol tcp and a secret key, and every MAC
#   verified with the key set in the dissector's preferences;
# - CORPUS (fuzz/corpus: valid packets of every type, swaps with and
#   without metadata, range and digest entries, IPv4 and IPv6, signed and
#   not): each valid packet dissects without an expert warning and every
#   signed one verifies under the corpus key; its truncations, bit flips,
#   one-byte extensions and body cuts (thousands of malformed packets)
#   always dissect as peko and never make a Lua error or an exception;
#   with WIRE-VERDICTS (tests/wire-verdicts.c), the engine's decoder
#   accepts every valid packet, tshark counts each message type as often
#   as the decoder, and the dissector flags exactly the mutations the
#   decoder rejects, naming the same reason (peko.reject), for a receiver
#   without keys and, re-signed, for one with the corpus key; the
#   rejections include every kind of malformed digest (reserved entry
#   flags, an entry's unknown address family, truncated entries, more
#   entries announced than present); framed TCP streams of the corpus cut
#   into 1-byte, 7-byte and 150-byte segments reassemble to every message.
#
# Exits 77 (skipped) when tshark, text2pcap or sqlite3 is missing.
set -u
peko=$1
lua=$2
scenario=$3
corpus=${4:-}
verdicts=${5:-}

for tool in tshark text2pcap sqlite3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP: $tool not installed"
        exit 77
    fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/peko-dissector-XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# tshark with the dissector and nothing from the user's configuration (a
# copy of peko.lua among the personal plugins would register twice).
# Replays are not judged unless asked (-o peko.replays:TRUE, which a later
# -o overrides): the corpus is one sender's packets with one number, and
# its mutations are each judged against the decoder, which knows nothing
# of other packets.
mkdir -p "$work/home"
ts() {
    HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config" \
        tshark -X "lua_script:$lua" -o peko.replays:FALSE "$@" \
        2>>"$work/tshark.err"
}

# The same errors filter for every capture: not peko, malformed, an expert
# error, a Lua error, or a packet its receiver would refuse as a replay.
bad_filter='!peko || _ws.malformed || _ws.expert.severity >= error || _ws.lua.error || peko.reject == "replay"'

# counts_from_tshark FILE TSHARK-OPTIONS...: "type|packets" lines, sorted,
# counting every message (a frame may carry several over TCP).
counts_from_tshark() {
    out=$1
    shift
    ts "$@" -T fields -e peko.type | tr ',' '\n' | sed '/^$/d' |
        awk '{ n[$1]++ }
             END {
                 name[1] = "heartbeat"; name[2] = "metadata"
                 name[3] = "swap_request"; name[4] = "swap_response"
                 name[5] = "challenge"; name[6] = "echo"
                 for (t in n) print (t in name ? name[t] : "type" t) "|" n[t]
             }' | sort >"$out"
}

counts_from_db() { # DB OUT
    sqlite3 "$1" "SELECT type, sum(packets) FROM traffic
                  WHERE outcome = 'delivered' GROUP BY type" | sort >"$2"
}

# check_sim NAME TSHARK-OPTIONS... -- PEKO-SIM-OPTIONS...
check_sim() {
    name=$1
    shift
    topts=""
    while [ "$1" != "--" ]; do
        topts="$topts $1"
        shift
    done
    shift
    pcap="$work/$name.pcap"
    db="$work/$name.db"
    if ! "$peko" sim "$scenario" --pcap "$pcap" --db "$db" "$@" \
            >"$work/$name.out" 2>&1; then
        fail "$name: peko sim failed"
        cat "$work/$name.out" >&2
        return
    fi
    # $topts unquoted: a list of single words.
    ts -r "$pcap" $topts -Y "$bad_filter || (peko.flags.mac == 1 && peko.mac.status != 1)" \
        >"$work/$name.bad"
    if [ -s "$work/$name.bad" ]; then
        fail "$name: $(wc -l <"$work/$name.bad") frames not peko, malformed or in error:"
        head -5 "$work/$name.bad" >&2
    fi
    # Counting needs no MAC verification: the same options less the key.
    counts_from_tshark "$work/$name.ts" -r "$pcap" $(echo $topts | sed 's/-o peko.key:[^ ]*//')
    counts_from_db "$db" "$work/$name.dbc"
    if ! cmp -s "$work/$name.ts" "$work/$name.dbc"; then
        fail "$name: per-type counts differ (tshark, then the database):"
        cat "$work/$name.ts" "$work/$name.dbc" >&2
    else
        echo "$name: tshark and the database agree:" $(cat "$work/$name.ts")
    fi
}

# UDP, the scenario as it is.
check_sim udp -o peko.replays:TRUE -- --seed 1

# TCP with a key: every MAC verified with the key in the preferences. The
# simulator's capture has no handshakes, so a new connection that happens
# to reuse an earlier one's ports looks to Wireshark like a
# retransmission, which TCP would not hand to the dissector: sequence
# analysis is turned off for this capture.
check_sim tcp -o tcp.analyze_sequence_numbers:FALSE -o peko.key:check-key \
    -o peko.replays:TRUE -- \
    --seed 1 --set engine.protocol=tcp --set engine.secret_key=check-key

# ------------------------------------------------------------------
# The corpus and its mutations.

# hexbytes FILE: the file's bytes as hex, one per line.
hexbytes() {
    od -An -v -tx1 "$1" | tr -s ' ' '\n' | sed '/^$/d'
}

# to_text2pcap: reads "packet-number hex-byte" lines, writes text2pcap's
# input (offsets restart at 0 for each packet).
to_text2pcap() {
    awk '
        !started || $1 != cur { if (started) flush(); started = 1; cur = $1; n = 0 }
        { b[n++] = $2 }
        END { if (started) flush() }
        function flush(   i, line) {
            for (i = 0; i < n; i += 16) {
                line = sprintf("%06x", i)
                for (j = i; j < n && j < i + 16; j++) line = line " " b[j]
                print line
            }
            print ""
        }'
}

if [ -n "$corpus" ] && [ -d "$corpus" ]; then
    : >"$work/valid.txt"
    : >"$work/mut.txt"
    : >"$work/mac.txt"
    : >"$work/stream.bytes"
    k=0
    for f in "$corpus"/*; do
        [ -f "$f" ] || continue
        k=$((k + 1))
        hexbytes "$f" >"$work/one.hex"
        awk -v p="$k" '{ print p, $1 }' "$work/one.hex" >>"$work/valid.txt"
        # Into mut: truncations to every shorter length (1 byte and up),
        # each byte with its top bit flipped, each byte plus one, one byte
        # appended, and body cuts: the body's last 1, 2, ... bytes dropped
        # with the header's body length to match (a signed packet keeps
        # its trailer), so that a field, a digest entry or the entry count
        # runs past the end of a body whose length is consistent. Into
        # mac: bad_mac for a receiver with the corpus key, whether or not
        # the key id still matches.
        awk -v p="$k" -v mac="$work/mac.txt" '
            { b[NR - 1] = $1 }
            END {
                n = NR; id = p * 100000
                for (len = 1; len < n; len++) {
                    id++
                    for (i = 0; i < len; i++) print id, b[i]
                }
                for (pos = 0; pos < n; pos++) {
                    for (m = 1; m <= 2; m++) {
                        id++
                        for (i = 0; i < n; i++) {
                            v = b[i]
                            if (i == pos) {
                                x = hex(v)
                                x = (m == 1) ? (x + 128) % 256 : (x + 1) % 256
                                v = sprintf("%02x", x)
                            }
                            print id, v
                        }
                    }
                }
                id++
                for (i = 0; i < n; i++) print id, b[i]
                print id, "00"
                body = ((hex(b[8]) * 256 + hex(b[9])) * 256 + hex(b[10])) * 256 + hex(b[11])
                for (cut = 1; cut <= body; cut++) {
                    id++
                    nb = body - cut
                    for (i = 0; i < 8; i++) print id, b[i]
                    print id, sprintf("%02x", int(nb / 16777216) % 256)
                    print id, sprintf("%02x", int(nb / 65536) % 256)
                    print id, sprintf("%02x", int(nb / 256) % 256)
                    print id, sprintf("%02x", nb % 256)
                    for (i = 12; i < 12 + nb; i++) print id, b[i]
                    for (i = 12 + body; i < n; i++) print id, b[i]
                }
                # Into mac: a signed packet with the last byte of its
                # MAC, its key id or its packet number changed, and no
                # new MAC.
                if (n < 56 || hex(b[4]) % 2 == 0) exit
                split((n - 1) " 5 " (n - 33), at, " ")
                for (j = 1; j <= 3; j++) {
                    id++
                    for (i = 0; i < n; i++) {
                        v = b[i]
                        if (i == at[j]) v = sprintf("%02x", (hex(v) + 1) % 256)
                        print id, v >> mac
                    }
                }
            }
            function hex(s,   i, c, r) {
                r = 0
                for (i = 1; i <= length(s); i++) {
                    c = index("0123456789abcdef", substr(s, i, 1)) - 1
                    r = r * 16 + c
                }
                return r
            }' "$work/one.hex" >>"$work/mut.txt"
        # The framed stream: a 4-byte big-endian length, then the packet.
        n=$(wc -l <"$work/one.hex")
        printf '%02x\n%02x\n%02x\n%02x\n' $((n >> 24 & 255)) \
            $((n >> 16 & 255)) $((n >> 8 & 255)) $((n & 255)) >>"$work/stream.bytes"
        cat "$work/one.hex" >>"$work/stream.bytes"
    done

    to_text2pcap <"$work/valid.txt" >"$work/valid.t2p"
    to_text2pcap <"$work/mut.txt" >"$work/mut.t2p"
    to_text2pcap <"$work/mac.txt" >"$work/mac.t2p"
    for set in valid mut mac; do
        text2pcap -q -u 8000,8000 "$work/$set.t2p" "$work/$set.pcap" >/dev/null 2>&1 ||
            fail "text2pcap ($set) failed"
    done

    # Valid packets: no expert item at warning level or above; with the
    # corpus key, every signed packet's MAC verified.
    ts -r "$work/valid.pcap" \
        -Y '!peko || _ws.malformed || _ws.expert.severity >= warning || _ws.lua.error' \
        >"$work/valid.bad"
    if [ -s "$work/valid.bad" ]; then
        fail "corpus: valid packets flagged:"
        head -5 "$work/valid.bad" >&2
    fi
    nvalid=$(ts -r "$work/valid.pcap" -Y peko | wc -l)
    [ "$nvalid" -eq "$k" ] || fail "corpus: $nvalid of $k packets dissected"
    nsigned=$(ts -r "$work/valid.pcap" -Y 'peko.flags.mac == 1' | wc -l)
    nverified=$(ts -r "$work/valid.pcap" -o peko.key:fuzz-secret \
        -Y 'peko.mac.status == 1' | wc -l)
    [ "$nsigned" -gt 0 ] && [ "$nverified" -eq "$nsigned" ] ||
        fail "corpus: $nverified of $nsigned signed packets verified"

    # Every valid packet is accepted by the receiver of its kind (unsigned
    # by one without keys, signed by one with the corpus key), and tshark
    # counts each message type as often as the decoder does.
    if [ -n "$verdicts" ]; then
        "$verdicts" "$work/valid.pcap" >"$work/valid.plain" &&
            "$verdicts" --key fuzz-secret "$work/valid.pcap" >"$work/valid.keyed" ||
            fail "wire-verdicts failed on the corpus"
        awk -F'\t' '
            NR == FNR { plain[$1] = $2; ptype[$1] = $3; next }
            {
                t = plain[$1] == "none" ? ptype[$1] : $3
                if (t == "-") { bad++; print "  frame " $1 ": " plain[$1] " / " $2 > "/dev/stderr" }
                else n[t]++
            }
            END {
                for (t in n) print t "|" n[t]
                exit bad > 0
            }' "$work/valid.plain" "$work/valid.keyed" | sort >"$work/valid.dec" ||
            fail "corpus: valid packets the decoder rejects"
        counts_from_tshark "$work/valid.ts" -r "$work/valid.pcap"
        if ! cmp -s "$work/valid.ts" "$work/valid.dec"; then
            fail "corpus: per-type counts differ (tshark, then the decoder):"
            cat "$work/valid.ts" "$work/valid.dec" >&2
        else
            echo "corpus: tshark and the decoder agree:" $(cat "$work/valid.ts")
        fi
    fi

    # Malformed packets: always peko, never a Lua error or an exception;
    # and the dissector flags (an expert item at warning level or above)
    # exactly the packets the engine's decoder rejects, and names the
    # decoder's reason (peko.reject). Three sets:
    # - plain: the mutations, for a receiver without keys. It rejects every
    #   signed packet as unexpected_mac before reading anything else,
    #   which the dissector without a key does not judge: those are left
    #   out;
    # - keyed: the mutations with their signed packets re-signed by
    #   wire-verdicts, so that their bodies get past the MAC, for a
    #   receiver with the corpus key;
    # - mac: signed packets with a bad MAC, for that receiver.
    nmut=$(grep -c '^$' "$work/mut.t2p")
    : >"$work/mut.faults"
    for set in plain keyed mac; do
        case $set in
        plain) key=""; skip=unexpected_mac; in=mut.pcap; pcap=mut.pcap; vopts=""
               kind="for a receiver without keys" ;;
        keyed) key=fuzz-secret; skip=-; in=mut.pcap; pcap=mut-keyed.pcap
               vopts="--key $key --resign $work/$pcap"
               kind="re-signed, for a receiver with the corpus key" ;;
        mac)   key=fuzz-secret; skip=-; in=mac.pcap; pcap=mac.pcap
               vopts="--key $key"
               kind="with a bad MAC, for a receiver with the corpus key" ;;
        esac
        if [ -n "$verdicts" ]; then
            # $vopts unquoted: a list of single words.
            "$verdicts" $vopts "$work/$in" >"$work/$set.verdicts" ||
                fail "wire-verdicts failed ($set)"
        elif [ "$set" = keyed ]; then
            pcap=mut.pcap
        fi
        ts -r "$work/$pcap" -o "peko.key:$key" -T fields -E 'aggregator=^' \
            -e frame.number -e peko.length -e _ws.lua.error \
            -e _ws.malformed.expert -e _ws.malformed.dissector_bug \
            -e _ws.expert.severity -e _ws.expert.message -e peko.reject \
            -e peko.reject.why >"$work/$set.fields"
        awk -F'\t' '$2 == "" || $3 != "" || $4 != "" || $5 != "" || $7 ~ /Dissector failure/' \
            "$work/$set.fields" >"$work/$set.bad"
        if [ -s "$work/$set.bad" ]; then
            fail "corpus: $(wc -l <"$work/$set.bad") malformed packets broke the dissector ($set):"
            head -5 "$work/$set.bad" >&2
        fi
        [ -n "$verdicts" ] || continue
        # Severity codes: warning 0x00600000, error 0x00800000.
        awk -F'\t' -v skip="$skip" -v kind="$kind" -v faults="$work/mut.faults" '
            NR == FNR { verdict[$1] = $2; next }
            verdict[$1] == skip { next }
            {
                worst = 0
                n = split($6, sev, "^")
                for (i = 1; i <= n; i++)
                    if (sev[i] + 0 > worst) worst = sev[i] + 0
                flagged = worst >= 6291456
                rejected = verdict[$1] != "none"
                said = $8 == "" ? "none" : $8
                total++
                if (flagged != rejected || said != verdict[$1]) {
                    bad++
                    if (bad <= 5)
                        print "  frame " $1 ": decoder " verdict[$1] ", dissector " said ": " ($7 == "" ? "nothing" : $7) > "/dev/stderr"
                    next
                }
                if (!rejected) next
                same++
                # Rejections for a fault in a digest, by the message of
                # the check that failed first (peko.reject.why).
                if ($9 ~ /^Entry [0-9]+ flags: reserved bits/) print "bad_entry_flags" >> faults
                if ($9 ~ /^Entry [0-9]+ address: address family/) print "bad_entry_address" >> faults
                if ($9 ~ /^Truncated: [Ee]ntry [0-9]+/) print "truncated_entry" >> faults
                if ($9 ~ /^Truncated: n_entries says/) print "too_many_entries" >> faults
            }
            END {
                printf "corpus: %d packets %s: the decoder rejects %d, the dissector flags the same %d, each for the same reason, and no other\n", total, kind, same, same
                exit bad > 0 || total == 0
            }' "$work/$set.verdicts" "$work/$set.fields" ||
            fail "corpus ($set): the dissector's verdicts and the decoder's differ"
    done

    # The malformed digests above must include every kind of fault.
    if [ -n "$verdicts" ]; then
        found=""
        for fault in bad_entry_flags bad_entry_address truncated_entry too_many_entries; do
            nf=$(grep -cx "$fault" "$work/mut.faults")
            [ "$nf" -gt 0 ] || fail "corpus: no mutation with the digest fault $fault"
            found="$found $fault $nf,"
        done
        echo "corpus: digest faults rejected alike by the decoder and the dissector:${found%,}"
    fi

    # Replays: a signed packet captured twice is judged a replay the
    # second time, and points at the first.
    one=$(ls "$corpus"/signed-heartbeat-v4)
    { hexbytes "$one" | awk '{ print 1, $1 }'
      hexbytes "$one" | awk '{ print 2, $1 }'; } | to_text2pcap >"$work/twice.t2p"
    text2pcap -q -u 8000,8000 "$work/twice.t2p" "$work/twice.pcap" >/dev/null 2>&1 ||
        fail "text2pcap (twice) failed"
    said=$(ts -r "$work/twice.pcap" -o peko.replays:TRUE -o peko.key:fuzz-secret \
        -T fields -e frame.number -e peko.reject -e peko.replay_of | tr '\t\n' ' ;')
    [ "$said" = "1  ;2 replay 1;" ] ||
        fail "replays: a packet captured twice is judged '$said'"
    echo "replays: the second copy of a signed packet is judged a replay of the first"

    # Framed TCP: the corpus as one stream, cut at several segment sizes.
    for seg in 1 7 150; do
        awk -v s="$seg" '{ print int((NR - 1) / s), $1 }' "$work/stream.bytes" |
            to_text2pcap >"$work/stream$seg.t2p"
        text2pcap -q -T 40000,8000 "$work/stream$seg.t2p" \
            "$work/stream$seg.pcap" >/dev/null 2>&1 ||
            fail "text2pcap (stream, $seg-byte segments) failed"
        got=$(ts -r "$work/stream$seg.pcap" -o peko.key:fuzz-secret \
                -T fields -e peko.type | tr ',' '\n' | sed '/^$/d' | wc -l)
        [ "$got" -eq "$k" ] ||
            fail "framed TCP, $seg-byte segments: $got of $k messages"
        ts -r "$work/stream$seg.pcap" \
            -Y '_ws.malformed || _ws.expert.severity >= warning || _ws.lua.error' \
            >"$work/stream$seg.bad"
        if [ -s "$work/stream$seg.bad" ]; then
            fail "framed TCP, $seg-byte segments: frames flagged:"
            head -5 "$work/stream$seg.bad" >&2
        fi
    done
fi

if [ "$failures" -ne 0 ]; then
    echo "tshark's messages:" >&2
    grep -v 'Running as user' "$work/tshark.err" | head -20 >&2
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "all dissector checks passed"
