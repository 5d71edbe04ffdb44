#!/usr/bin/env bash
# netns-fleet.sh: a fleet of real `peko node` processes on this machine,
# each in its own network namespace, measured like a simulated run
# (docs/fleet.md).
#
#   scripts/netns-fleet.sh [options] N
#
# Makes a bridge and N namespaces joined to it by veth pairs (addresses
# 10.77.0.0/16), starts a `peko node` in each (UDP, a key, 1 s cycle,
# seeded with node 0, recording with --db and one --run-label), publishes
# once through `peko ctl`, stops them, merges their recordings into one
# run (`peko merge --fleet`) and prints its report. Then it runs the same
# scenario in `peko sim` (its latency the one-way delay the fleet's own
# swaps measured) and compares the two with `peko compare`, and prints
# t50/t90/t99/t100 of the publish side by side.
#
# Options:
#   -o DIR        keep the recordings, logs and scenario in DIR (default: a
#                 temporary directory, removed at the end)
#   -d SECONDS    run length (default: the publish time + 15)
#   -p SECONDS    publish this long after the first node started (default:
#                 10 + N / 5: starting a node in a namespace takes about
#                 150 ms here, and the cluster must settle first)
#   -r RUNS       fleet runs, each with fresh nodes (default 1)
#   -s SEEDS      simulated runs to compare with (default 5)
#   -t PCT        tolerance on the medians (default 25)
#   -m MODE       dissemination: rumor (default), classic or digest (for
#                 large fleets: rumor sends every heartbeat to every node)
#   --peko PATH   the peko program (default: $PEKO, or build/cli/peko)
#   --check       exit 1 when a median of t50/t90/t99 differs from the
#                 simulator's by more than the tolerance
#
# Needs root (namespaces, a bridge), `ip` with netns support and sqlite3.
# Without them it says what is missing and exits 77 (a skipped test).
# Everything it makes (namespaces, veth pairs, the bridge, processes) it
# removes on exit, Ctrl-C and errors alike; it touches nothing else.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
peko="${PEKO:-$root/build/cli/peko}"
work=""
duration=""
publish_at=""
sim_seeds=5
runs=1
tolerance=25
mode=rumor
check=0
n=""

die() { echo "netns-fleet: $*" >&2; exit 1; }
skip() { echo "netns-fleet: $*: skipped" >&2; exit 77; }
usage() { sed -n '2,/^set /p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

posint() { # posint NAME VALUE MAX
    case "$2" in ''|*[!0-9]*) die "$1: expected a whole number, got '$2'";; esac
    [ "$2" -ge 1 ] && [ "$2" -le "$3" ] || die "$1: expected 1 to $3, got $2"
}

while [ $# -gt 0 ]; do
    case "$1" in
        -o) work="${2:?-o needs a directory}"; shift 2 ;;
        -d) duration="${2:-}"; shift 2 ;;
        -p) publish_at="${2:-}"; shift 2 ;;
        -s) sim_seeds="${2:-}"; shift 2 ;;
        -r) runs="${2:-}"; shift 2 ;;
        -t) tolerance="${2:-}"; shift 2 ;;
        -m) mode="${2:-}"; shift 2 ;;
        --peko) peko="${2:?--peko needs a path}"; shift 2 ;;
        --check) check=1; shift ;;
        -h|--help) usage ;;
        -*) echo "netns-fleet: unknown option $1" >&2; usage ;;
        *) [ -z "$n" ] || usage; n="$1"; shift ;;
    esac
done
[ -n "$n" ] || usage
case "$mode" in
    rumor|classic|digest) ;;
    *) die "-m: expected rumor, classic or digest, got '$mode'" ;;
esac
posint N "$n" 1000
[ -n "$publish_at" ] || publish_at=$(( 10 + n / 5 ))
[ -n "$duration" ] || duration=$(( publish_at + 15 ))
posint -d "$duration" 3600
posint -p "$publish_at" 3600
posint -s "$sim_seeds" 100
posint -r "$runs" 100
posint -t "$tolerance" 1000
[ "$publish_at" -lt "$duration" ] || die "-p $publish_at: the publish must come before the end (-d $duration)"
[ "$n" -ge 2 ] || die "N: a fleet needs at least 2 nodes"
[ -x "$peko" ] || die "$peko: no peko program there (build it, or give --peko)"

# What the machine must offer, checked before anything is made.
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces and a bridge); run it as root"
command -v ip >/dev/null || skip "needs the ip program (iproute2)"
command -v sqlite3 >/dev/null || skip "needs the sqlite3 program"

tag="pf$$"                    # prefix of every name this run makes
bridge="${tag}br"
namespaces=()
pids=()
made_bridge=0
temp_work=""

cleanup() {
    trap - EXIT INT TERM
    local pid
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${pids[@]}"; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    local ns
    for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null; done
    [ "$made_bridge" = 1 ] && ip link del "$bridge" 2>/dev/null
    [ -n "$temp_work" ] && rm -rf "$temp_work"
    return 0
}
trap cleanup EXIT
trap 'echo "netns-fleet: interrupted, cleaning up" >&2; exit 130' INT TERM

if ! err=$(ip netns add "${tag}probe" 2>&1); then
    skip "cannot make network namespaces here ($err)"
fi
namespaces+=("${tag}probe")
ip netns del "${tag}probe" && namespaces=()

if [ -z "$work" ]; then
    work="$(mktemp -d "${TMPDIR:-/tmp}/netns-fleet.XXXXXX")" || die "cannot make a work directory"
    temp_work="$work"
else
    mkdir -p "$work" || die "cannot make $work"
fi
label="fleet-$n.ini"          # the scenario's name: compare matches on it
rm -f "$work"/node-*.db* "$work"/node-*.log "$work/fleet.db"* "$work/sim.db"*

addr_of() { echo "10.77.$(( $1 / 250 )).$(( $1 % 250 + 1 ))"; }
# Node i's MAC address: locally administered, from its index.
mac_of() { printf '02:77:00:00:%02x:%02x\n' $(( $1 / 256 )) $(( $1 % 256 )); }

ip link add "$bridge" type bridge || die "cannot make the bridge $bridge"
made_bridge=1
ip link set "$bridge" up || die "cannot bring $bridge up"
for ((i = 0; i < n; i++)); do
    ns="${tag}n$i"
    ip netns add "$ns" || die "cannot make namespace $ns"
    namespaces+=("$ns")
    ip link add "${tag}v$i" type veth peer name eth0 address "$(mac_of "$i")" netns "$ns" &&
        ip link set "${tag}v$i" master "$bridge" up &&
        ip -n "$ns" addr add "$(addr_of "$i")/16" dev eth0 &&
        ip -n "$ns" link set eth0 up &&
        ip -n "$ns" link set lo up || die "cannot wire namespace $ns"
done
# Every node's neighbours, given as permanent entries: the kernel's ARP
# table is shared by all namespaces and holds gc_thresh3 (1,024) learnt
# entries in all, which N (N - 1) would overflow from about 33 nodes on;
# permanent entries are not counted against it, and no ARP is needed.
for ((j = 0; j < n; j++)); do
    echo "neigh replace $(addr_of "$j") lladdr $(mac_of "$j") dev eth0 nud permanent"
done > "$work/neigh.all"
for ((i = 0; i < n; i++)); do
    # All but its own line (line i + 1).
    sed "$((i + 1))d" "$work/neigh.all" > "$work/neigh.batch"
    ip -n "${tag}n$i" -batch "$work/neigh.batch" || die "cannot give namespace ${tag}n$i its neighbours"
done
rm -f "$work/neigh.all" "$work/neigh.batch"

umask 077
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/keys"
echo >> "$work/keys"
port=7946

# run_fleet R: starts the nodes, publishes once, stops them and merges
# their recordings (node-R-I.db) into fleet.db as one run.
run_fleet() {
    local r=$1 i seed status
    start_ns=$(date +%s%N)
    for ((i = 0; i < n; i++)); do
        seed="$(addr_of 0):$port"
        [ "$i" = 0 ] && seed="$(addr_of 1):$port"
        rm -f "$work/ctl-$i.sock"
        ip netns exec "${tag}n$i" "$peko" node --addr "$(addr_of "$i")" \
            --port "$port" --key-file "$work/keys" --cycle 1s --seeds "$seed" \
            --dissemination "$mode" \
            --db "$work/node-$r-$i.db" --run-label "$label" \
            --control "$work/ctl-$i.sock" --seed $((r * n + i + 1)) \
            2> "$work/node-$r-$i.log" &
        pids+=($!)
    done
    started_ns=$(date +%s%N)
    stagger_ms=$(( (started_ns - start_ns) / 1000000 + 1 ))

    # Every node ready (its control socket answers) within 20 s.
    for ((i = 0; i < n; i++)); do
        for _ in $(seq 100); do
            [ -S "$work/ctl-$i.sock" ] && break
            kill -0 "${pids[$i]}" 2>/dev/null || { cat "$work/node-$r-$i.log" >&2; die "node $i exited"; }
            sleep 0.2
        done
        [ -S "$work/ctl-$i.sock" ] || die "node $i did not start within 20 s (see $work/node-$r-$i.log)"
    done
    echo "netns-fleet: run $r: $n nodes started in ${stagger_ms} ms, in namespaces ${tag}n0.. on bridge $bridge"
    # The publish must find a settled cluster, as the simulated one does.
    [ $(( ($(date +%s%N) - start_ns) / 1000000 + 3000 )) -le $(( publish_at * 1000 )) ] ||
        die "the nodes were ready less than 3 s before the publish: give a later -p (and -d)"

    # The host's cost of a packet, measured between a second before the
    # publish (after start-up's own work) and the end of the run.
    sleep_until "$((publish_at - 1))"
    read -r ticks0 received0 < <(host_sample)
    sleep_until "$publish_at"
    "$peko" ctl --control "$work/ctl-0.sock" publish "fleet hello" >/dev/null ||
        die "the publish through node 0's control socket failed"
    sleep_until "$duration"
    read -r ticks1 received1 < <(host_sample)
    cpu_ticks=$((cpu_ticks + ticks1 - ticks0))
    cpu_packets=$((cpu_packets + received1 - received0))

    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    status=0
    for ((i = 0; i < n; i++)); do
        wait "${pids[$i]}" || { echo "netns-fleet: node $i exited $? (see $work/node-$r-$i.log)" >&2; status=1; }
    done
    pids=()
    [ "$status" = 0 ] || die "a node failed"
    "$peko" merge --fleet "$work/fleet.db" "$work"/node-"$r"-*.db || die "the merge of run $r failed"
}

# host_sample: the CPU time (clock ticks) the nodes have used so far, and
# the datagrams they have received, summed over the nodes.
host_sample() {
    local i ticks=0 received=0 t r
    for ((i = 0; i < n; i++)); do
        # utime and stime, fields 14 and 15 (the name, field 2, has no
        # spaces: it is "peko").
        t=$(awk '{ print $14 + $15 }' "/proc/${pids[$i]}/stat" 2>/dev/null) || t=0
        r=$("$peko" ctl --control "$work/ctl-$i.sock" stats 2>/dev/null |
            awk '$1 == "transport.received" { print $2 }')
        ticks=$((ticks + ${t:-0}))
        received=$((received + ${r:-0}))
    done
    echo "$ticks $received"
}

sleep_until() { # sleep_until SECONDS: since the run's first node started
    local now_ns left_ms
    now_ns=$(date +%s%N)
    left_ms=$(( $1 * 1000 - (now_ns - start_ns) / 1000000 ))
    [ "$left_ms" -gt 0 ] && sleep "$(( left_ms / 1000 )).$(printf %03d $(( left_ms % 1000 )))"
    return 0
}

echo "netns-fleet: recording into $work"
cpu_ticks=0
cpu_packets=0
first_stagger_ms=""
for ((r = 1; r <= runs; r++)); do
    run_fleet "$r"
    [ -n "$first_stagger_ms" ] || first_stagger_ms=$stagger_ms
done
stagger_ms=$first_stagger_ms
echo
"$peko" report "$work/fleet.db"

# The simulator's network: the one-way delays the nodes' swaps measured
# (half their round trip: the error bound of each offset), as a
# log-normal of their median and the spread of their logarithms.
read -r lat_us lat_sigma < <(for f in "$work"/node-*.db; do
        sqlite3 "$f" "SELECT error_us FROM clock_offset WHERE source = 'swap' AND error_us > 0"
    done | sort -n | awk '{ v[NR] = $1; l = log($1); s += l; q += l * l }
        END { if (NR < 2) { print 1000, 0; exit }
              m = s / NR; sd = sqrt(q / NR - m * m); if (sd > 10) sd = 10
              printf "%d %.3f\n", v[int((NR + 1) / 2)], sd }')
# The simulator's host: what a received datagram cost the nodes in CPU
# time (their sends, timers and recording included), on as many cores as
# this machine has. During a publish every node wakes within a few
# milliseconds and their handling is serialized over these cores; the
# simulator's nodes would otherwise each have a processor of their own
# (docs/fleet.md, "The host").
hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
cores=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
cost_us=0
[ "$cpu_packets" -gt 0 ] && cost_us=$(( cpu_ticks * 1000000 / hz / cpu_packets ))
host_lines=""
[ "$cost_us" -gt 0 ] && host_lines="processing = ${cost_us}us
host_cores = $cores"
cat > "$work/$label" <<EOF
# The netns fleet of scripts/netns-fleet.sh, as a scenario: $n nodes
# started over ${stagger_ms} ms, each given node 0 (node 0 node 1), a key,
# a 1 s cycle; one publish from node 0. The latency is the one-way delay
# the fleet's swaps measured: their median, and the spread of their logs;
# the processing, the CPU time a received datagram cost the nodes, on
# this machine's cores.
[cluster]
nodes = $n
duration = ${duration}s
stagger = ${stagger_ms}ms
seeds = 1
heartbeat_sample = all
sample_interval = 100ms

[engine]
cycle = 1s
dissemination = $mode
secret_key = fleet

[network]
latency = lognormal(median=${lat_us}us, sigma=${lat_sigma}, cap=1s)
$host_lines

[timeline]
hello = ${publish_at}s publish node=0 data="fleet hello"
EOF
for ((s = 1; s <= sim_seeds; s++)); do
    "$peko" sim "$work/$label" --seed "$s" --db "$work/sim.db" >/dev/null ||
        die "peko sim failed (seed $s)"
done
echo
echo "peko compare sim.db fleet.db (simulator: $sim_seeds seeds, latency lognormal(median ${lat_us} us, sigma ${lat_sigma}), processing ${cost_us} us a packet on $cores cores):"
"$peko" compare --tolerance "$tolerance%" --metric t50,t90,t99,t100 \
    "$work/sim.db" "$work/fleet.db"
echo

# The publish's times, side by side: the fleet's, and the median of the
# simulated runs'.
metadata_t() { # metadata_t DB COLUMN: one line per run
    sqlite3 "$1" "SELECT coalesce($2, -1) FROM rumor_summary s JOIN run r USING (run_id)
                  WHERE s.kind = 'metadata' AND r.status = 'complete' ORDER BY run_id"
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print -1 }'; }
outside=0
printf '%-6s %12s %12s %9s\n' metric "fleet (ms)" "sim (ms)" change
for m in t50 t90 t99 t100; do
    f=$(metadata_t "$work/fleet.db" "${m}_us" | median)
    s=$(metadata_t "$work/sim.db" "${m}_us" | median)
    line=$(awk -v f="$f" -v s="$s" -v tol="$tolerance" -v m="$m" 'BEGIN {
        if (f < 0 || s < 0) { printf "%-6s %12s %12s %9s\n", m, (f < 0 ? "never" : f / 1e3), (s < 0 ? "never" : s / 1e3), "-"; exit (f < 0) != (s < 0) }
        c = s > 0 ? 100 * (f - s) / s : 0
        printf "%-6s %12.3f %12.3f %+8.1f%%\n", m, f / 1e3, s / 1e3, c
        exit (c > tol || c < -tol) }')
    st=$?
    echo "$line"
    if [ "$st" != 0 ] && [ "$m" != t100 ]; then outside=1; fi
done
# Membership: the first sample at which all N nodes ran and every one
# listed all the others.
full_sql="SELECT coalesce((SELECT min(m.t_us) FROM membership m WHERE
            m.run_id = r.run_id AND m.live = r.nodes AND m.complete = r.nodes), -1)
          FROM run r WHERE r.status = 'complete' ORDER BY r.run_id"
f=$(sqlite3 "$work/fleet.db" "$full_sql" | median)
s=$(sqlite3 "$work/sim.db" "$full_sql" | median)
awk -v f="$f" -v s="$s" 'BEGIN { printf "%-6s %12.1f %12.1f %+8.1f%%  (all %s nodes listing all others)\n", "member", f / 1e3, s / 1e3, (s > 0 ? 100 * (f - s) / s : 0), "'"$n"'" }'
conv=$(sqlite3 "$work/fleet.db" "$full_sql" | awk '{ printf "%s%.1f", (NR > 1 ? ", " : ""), $1 / 1e6 }')
echo "fleet membership: all $n nodes listed all $((n - 1)) others from (s, by run): ${conv}"
if [ -n "$temp_work" ]; then
    echo "(recordings removed: give -o DIR to keep them)"
else
    echo "recordings, logs and scenario in $work"
fi
if [ "$outside" = 1 ]; then
    echo "netns-fleet: a median of t50/t90/t99 differs from the simulator's by more than $tolerance %" >&2
    [ "$check" = 1 ] && exit 1
fi
exit 0
