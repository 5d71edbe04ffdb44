#!/bin/sh
# check-metrics.sh PEKO NODE_MD: `peko node --metrics` on 127.0.0.1.
# Two nodes talk (a key, a publish); a scrape of node a, taken between
# two `peko ctl stats`, holds every key `stats` shows under the metric
# docs/node.md's table names, with the same value (a value that moved
# between the two `stats` must lie between them; with a one-minute cycle
# nothing moves, and the check retries until one round is quiet). Also:
# OpenMetrics by Accept, HEAD, 404 and 405, the connection bound, the idle
# timeout, and a bare port bound on the loopback. Skipped (77) without
# python3, which parses the text. Every wait is bounded.
set -u

peko="$1"
doc="$2"
command -v python3 >/dev/null 2>&1 || { echo "check-metrics: no python3: skipped"; exit 77; }
dir="$(mktemp -d)"
pid_a=""
pid_b=""

cleanup() {
    for p in $pid_a $pid_b; do
        kill -KILL "$p" 2>/dev/null
    done
    rm -rf "$dir"
}
trap cleanup EXIT

fail() {
    echo "check-metrics: $*" >&2
    for f in "$dir"/*.err; do
        [ -f "$f" ] && { echo "--- $f"; cat "$f"; } >&2
    done
    exit 1
}

# start NAME PORT ARGS...: as in check-node.sh; 1 if the port was taken.
start() {
    name="$1"
    port="$2"
    shift 2
    "$peko" node --port "$port" --control "$dir/$name.sock" "$@" \
        >"$dir/$name.out" 2>"$dir/$name.err" &
    pid=$!
    tries=100
    while [ ! -S "$dir/$name.sock" ]; do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"
            grep -q "cannot bind" "$dir/$name.err" && return 1
            fail "node $name exited at start"
        fi
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || fail "node $name: no control socket after 10 s"
        sleep 0.1
    done
    eval "pid_$name=$pid"
    return 0
}

base=$((20000 + ($$ * 7) % 20000))
started=no
for attempt in 0 1 2 3 4 5 6 7; do
    port_a=$((base + attempt * 11))
    port_b=$((port_a + 1))
    if start a "$port_a" --cycle 1min --secret-key metrics-key --metrics 0; then
        if start b "$port_b" --cycle 1min --secret-key metrics-key \
            --seeds "127.0.0.1:$port_a"; then
            started=yes
            break
        fi
        kill -TERM "$pid_a"
        wait "$pid_a"
        pid_a=""
    fi
done
[ "$started" = yes ] || fail "no free pair of ports"

# A bare port binds the loopback: the start line says where.
url="$(sed -n 's|.*metrics \(http://127\.0\.0\.1:[0-9]*/metrics\)$|\1|p' "$dir/a.err")"
[ -n "$url" ] || fail "a's start line names no metrics URL on 127.0.0.1"

"$peko" ctl --control "$dir/a.sock" publish scrape-me >/dev/null || fail "publish failed"

python3 - "$peko" "$dir/a.sock" "$url" "$doc" "$dir/b.sock" <<'PY' || fail "the scrape disagrees (above)"
import re, socket, subprocess, sys, time, urllib.error, urllib.request

peko, sock, url, doc, sock_b = sys.argv[1:6]
host, port = re.match(r"http://([0-9.]+):([0-9]+)/", url).groups()
port = int(port)

def stats(s=sock):
    out = subprocess.run([peko, "ctl", "--control", s, "stats"],
                         check=True, capture_output=True, text=True).stdout
    return {k: int(v) for k, v in (l.split(" ") for l in out.splitlines())}

def scrape(accept=None, method="GET", path="/metrics"):
    req = urllib.request.Request("http://%s:%d%s" % (host, port, path),
                                 method=method)
    if accept:
        req.add_header("Accept", accept)
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) ([0-9]+)$')

def parse(text):
    samples, families = {}, set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            families.add(line.split(" ")[2])
        elif line.startswith("#"):
            continue
        else:
            m = SAMPLE.match(line)
            assert m, "not a sample line: %r" % line
            assert m.group(1) not in samples, "twice: " + m.group(1)
            samples[m.group(1)] = int(m.group(2))
    return samples, families

# docs/node.md's table: `ctl key` | `metric` | type. Upper-case words
# are placeholders (TYPE, REASON) that stand for the same text in both.
rows = []
for line in open(doc, encoding="utf-8"):
    m = re.match(r'^\| (`[^`]+`|—) \| `([^`]+)` \| ([a-z]+)', line)
    if m and m.group(2).startswith("peko_"):
        rows.append((m.group(1).strip("`"), m.group(2), m.group(3)))
assert len(rows) > 40, "the table in %s has %d rows" % (doc, len(rows))

def metric_of(key):
    found = []
    for ctl, metric, kind in rows:
        if ctl == "—":
            continue
        holes = re.findall(r"[A-Z]+", ctl)
        pattern = "^" + re.sub(r"[A-Z]+", "([a-z_]+)", re.escape(ctl)) + "$"
        m = re.match(pattern, key)
        if m:
            name = metric
            for hole, value in zip(holes, m.groups()):
                name = name.replace(hole, value)
            found.append((name, kind))
    assert len(found) == 1, "ctl key %s: %d rows of the table" % (key, len(found))
    return found[0]

# 1. Every ctl key is in the scrape with its value: quiet rounds only.
for attempt in range(10):
    before = stats()
    _, ctype, text = scrape()
    after = stats()
    samples, families = parse(text)
    moved = [k for k in before if before[k] != after.get(k)]
    assert set(before) == set(after)
    for key in before:
        name, kind = metric_of(key)
        assert name in samples, "ctl %s: no %s in the scrape" % (key, name)
        v = samples[name]
        if kind == "counter":
            assert before[key] <= v <= after[key], \
                "%s: ctl %d then %d, scrape %d" % (name, before[key], after[key], v)
    if not moved:
        for key in before:
            name, _ = metric_of(key)
            assert samples[name] == before[key], \
                "%s = %d, ctl %s = %d" % (name, samples[name], key, before[key])
        break
    time.sleep(0.5)
else:
    raise AssertionError("counters moved in every round: " + ", ".join(moved))
assert ctype.startswith("text/plain; version=0.0.4"), ctype
assert before["engine.received.heartbeat"] >= 1, before
assert before["node.members"] == 2 and before["node.metadata_version"] == 1, before
print("check-metrics: %d ctl keys, every one the same in a scrape of %d samples"
      % (len(before), len(samples)))

# 2. Every family of the scrape is in the table, and nothing else is.
documented = {re.sub(r"\{.*", "", m) for _, m, _ in rows}
for f in families:
    assert f in documented, "family %s is not in %s" % (f, doc)
for name in samples:
    assert re.sub(r"\{.*", "", name) in documented, name
assert "peko_node_start_time_seconds" in samples
assert any(n.startswith("peko_build_info{") for n in samples)

# 3. OpenMetrics when asked first, as Prometheus asks.
status, ctype, om = scrape("application/openmetrics-text;version=1.0.0,"
                           "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
assert ctype.startswith("application/openmetrics-text; version=1.0.0"), ctype
assert om.endswith("# EOF\n"), om[-40:]
assert "# TYPE peko_engine_sent_packets counter" in om
assert "# UNIT peko_engine_sent_bytes bytes" in om
assert "# TYPE peko_build info" in om
# Text asked first: text.
_, ctype, _ = scrape("text/plain;version=0.0.4,application/openmetrics-text;q=0.5")
assert ctype.startswith("text/plain"), ctype

# 4. HEAD, other paths, other methods.
status, _, body = scrape(method="HEAD")
assert status == 200 and body == "", (status, body[:40])
for path, method, want in (("/", "GET", 404), ("/metricsx", "GET", 404),
                           ("/metrics", "POST", 405), ("/metrics", "PUT", 405)):
    try:
        scrape(method=method, path=path)
        raise AssertionError("%s %s answered 200" % (method, path))
    except urllib.error.HTTPError as e:
        assert e.code == want, "%s %s: %d" % (method, path, e.code)

# 5. Garbage is answered 400 or dropped, and the node lives on.
g = socket.create_connection((host, port), timeout=10)
g.sendall(b"\x00\xff\r\n\r\n" + b"x" * 100000 + b"\r\n\r\n")
try:
    g.recv(100)
except OSError:
    pass
g.close()
assert scrape()[0] == 200

# 6. At most 16 connections at once: the 17th is closed unanswered, and a
# place is free again once one closes.
opened = time.monotonic()
idle = [socket.create_connection((host, port), timeout=30) for _ in range(16)]
time.sleep(0.5)
extra = socket.create_connection((host, port), timeout=10)
extra.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
try:
    got = extra.recv(100)
except ConnectionResetError:
    got = b""
assert got == b"", "the 17th connection was answered: %r" % got[:40]
extra.close()
idle.pop().close()
deadline = time.monotonic() + 10
while True:
    try:
        assert scrape()[0] == 200
        break
    except (urllib.error.URLError, ConnectionError, AssertionError):
        if time.monotonic() > deadline:
            raise
        time.sleep(0.2)

# 7. A silent connection is closed (after 10 s; waited for up to 30).
for s in idle:
    s.settimeout(30)
    assert s.recv(100) == b"", "a silent connection got bytes"
    s.close()
# Not before the timeout (a busy machine only makes this later).
waited = time.monotonic() - opened
assert waited >= 9, "silent connections were closed after %.1f s" % waited

# The other node answers ctl as before; no metrics there.
assert stats(sock_b)["node.members"] == 2
print("check-metrics: OpenMetrics, HEAD, 404, 405, bounds and idle timeout as documented")
PY

kill -TERM "$pid_a" "$pid_b"
wait "$pid_a"
status_a=$?
wait "$pid_b"
status_b=$?
pid_a=""
pid_b=""
[ "$status_a" -eq 0 ] && [ "$status_b" -eq 0 ] ||
    fail "nodes exited with $status_a and $status_b after SIGTERM"
