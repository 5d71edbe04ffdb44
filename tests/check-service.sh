#!/bin/sh
# check-service.sh PEKO UNIT MODE WORKDIR [SANITIZE]: `peko node` as a
# service
# (docs/node.md, "systemd"), one aspect per MODE, on 127.0.0.1:
#
#   notify    sd_notify: READY=1 once the control socket answers,
#             RELOADING=1 and READY=1 around a SIGHUP, STOPPING=1, the
#             watchdog at half of WATCHDOG_USEC (none for another pid), an
#             abstract socket, and a bad NOTIFY_SOCKET only warned about
#   journal   with JOURNAL_STREAM naming stderr, every line carries its
#             priority (<6> start, <5> a reload, <3> a refused one); with
#             another stream's, none does
#   rotate    a key rotation in three SIGHUP steps over key files: the two
#             nodes never reject a packet, keep talking, and then accept a
#             node with the new key only and refuse one with the old
#   sandbox   the unit's file system and privilege directives emulated
#             without systemd (a mount namespace with everything read-only
#             but the state and runtime directories, private /tmp and
#             /var/tmp, no home, an unprivileged user without capabilities
#             and with no_new_privs, umask 077): the node starts, serves
#             its control socket, talks, reloads its key file, records,
#             and cannot write elsewhere. Needs root (or user namespaces),
#             unshare and setpriv; else skipped (77)
#   syscalls  a node doing all it does (key file, a seed by name,
#             metrics, a recording, ctl, SIGHUP, SIGTERM) under strace:
#             every system call is in the unit's SystemCallFilter groups,
#             every socket of the unit's RestrictAddressFamilies, no
#             writable executable mapping (MemoryDenyWriteExecute), no
#             namespace (RestrictNamespaces). Needs strace and
#             systemd-analyze, and a build without sanitizers (SANITIZE
#             is meson's b_sanitize); else skipped (77)
#
# Files go in a temporary directory under WORKDIR. Every wait is bounded;
# ports are asked of the kernel and retried.
set -u
command -v python3 >/dev/null 2>&1 || { echo "check-service: no python3: skipped"; exit 77; }
exec python3 - "$@" <<'PY'
import os, re, shutil, signal, socket, sqlite3, stat, subprocess, sys
import tempfile, time, urllib.request

peko, unit, mode, workdir = sys.argv[1:5]
SKIP = 77
started = []  # every process this check started, to end them by pid

def say(*a):
    print("check-service %s:" % mode, *a, flush=True)

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def wait_for(what, pred, seconds=10):
    deadline = time.monotonic() + seconds
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("%s: not within %d s" % (what, seconds))
        time.sleep(0.05)

class Node:
    """A `peko node` on 127.0.0.1 with its control socket in `dir`."""
    def __init__(self, dir, name, args, env=None, prefix=(), stderr=None,
                 sock=None):
        self.name, self.dir = name, dir
        self.sock = sock or os.path.join(dir, name + ".sock")
        self.errpath = stderr or os.path.join(dir, name + ".err")
        for _ in range(8):
            self.port = free_port()
            with open(self.errpath, "wb") as err:
                self.proc = subprocess.Popen(
                    list(prefix) + [peko, "node", "--port", str(self.port),
                                    "--control", self.sock] + list(args),
                    stdout=subprocess.DEVNULL, stderr=err,
                    env=dict(os.environ, **(env or {})))
            started.append(self.proc)
            while not os.path.exists(self.sock):
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
            if self.proc.poll() is None:
                return
            if "cannot bind" not in self.err():
                raise AssertionError("node %s exited at start:\n%s"
                                     % (name, self.err()))
        raise AssertionError("node %s: no free port" % name)

    def err(self):
        with open(self.errpath, errors="replace") as f:
            return f.read()

    def ctl(self, *args):
        return subprocess.run([peko, "ctl", "--control", self.sock] + list(args),
                              capture_output=True, text=True, timeout=10)

    def stats(self):
        out = self.ctl("stats")
        assert out.returncode == 0, out.stderr
        return {k: int(v) for k, v in (l.split() for l in out.stdout.splitlines())}

    def lists(self, other):
        out = self.ctl("get").stdout
        return any(l.split()[:2] == ["127.0.0.1", str(other.port)]
                   for l in out.splitlines())

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=20)
        assert rc == 0, "node %s exited %d:\n%s" % (self.name, rc, self.err())

def write(path, text, mode=0o600):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)

def count(node, text):
    return node.err().count(text)

# ---------------------------------------------------------------- notify
def check_notify(dir):
    path = os.path.join(dir, "notify")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(path)
    ns.settimeout(10)

    def recv(skip_watchdog=True):
        while True:
            msg = ns.recv(4096).decode()
            if not (skip_watchdog and msg == "WATCHDOG=1"):
                return msg

    a = Node(dir, "a", ["--cycle", "100ms"],
             env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"})
    ready = recv()
    # Ready means answering: the control socket works at that moment.
    assert a.ctl("get").returncode == 0, "READY=1 before the control socket"
    fields = dict(l.split("=", 1) for l in ready.split("\n"))
    assert fields.get("READY") == "1", ready
    assert "127.0.0.1:%d over UDP" % a.port in fields.get("STATUS", ""), ready
    # The watchdog at half the interval: 100 ms; wait for three pings.
    pings = 0
    while pings < 3:
        pings += recv(skip_watchdog=False) == "WATCHDOG=1"
    a.signal(signal.SIGHUP)
    reloading = recv()
    assert re.fullmatch(r"RELOADING=1\nMONOTONIC_USEC=[0-9]+", reloading), reloading
    assert recv() == "READY=1"
    a.stop()
    assert recv() == "STOPPING=1"
    say("READY=1 with the control socket up, %d watchdog pings,"
        " RELOADING=1/READY=1 on SIGHUP, STOPPING=1" % pings)

    # An abstract socket; WATCHDOG_PID of another process: no pings.
    name = "peko-check-%d" % os.getpid()
    ab = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ab.bind("\0" + name)
    ab.settimeout(10)
    b = Node(dir, "b", ["--cycle", "100ms"],
             env={"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "100000",
                  "WATCHDOG_PID": "1"})
    assert ab.recv(4096).decode().startswith("READY=1\n")
    ab.settimeout(1.0)
    try:
        extra = ab.recv(4096)
        raise AssertionError("pinged for another pid's watchdog: %r" % extra)
    except socket.timeout:
        pass
    b.stop()

    # A NOTIFY_SOCKET that is no socket address: a warning, and it runs.
    c = Node(dir, "c", ["--cycle", "100ms"], env={"NOTIFY_SOCKET": "relative"})
    wait_for("the warning", lambda: "cannot notify" in c.err())
    assert c.ctl("get").returncode == 0
    c.stop()
    say("abstract socket, a foreign WATCHDOG_PID, a bad NOTIFY_SOCKET: as documented")

# --------------------------------------------------------------- journal
def check_journal(dir):
    keys = os.path.join(dir, "keys")
    write(keys, "journal-key\n")
    err = os.path.join(dir, "a.err")
    open(err, "w").close()
    st = os.stat(err)
    a = Node(dir, "a", ["--cycle", "100ms", "--key-file", keys],
             env={"JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino)},
             stderr=err)
    a.signal(signal.SIGHUP)
    wait_for("a reload", lambda: "keys reloaded" in a.err())
    write(keys, "# no key left\n")
    a.signal(signal.SIGHUP)
    wait_for("a refused reload", lambda: "keys unchanged" in a.err())
    a.stop()
    lines = a.err().splitlines()
    assert lines and all(re.match(r"<[0-7]>", l) for l in lines), lines
    assert lines[0].startswith("<6>peko node: 127.0.0.1:%d over UDP" % a.port), lines
    assert any(l.startswith("<5>peko node: SIGHUP: keys reloaded") for l in lines), lines
    assert any(l.startswith("<3>peko node: SIGHUP: key file") for l in lines), lines

    # Another stream's numbers, a's (as a child of a service inherits
    # them with its stderr sent elsewhere).
    b = Node(dir, "b", ["--cycle", "100ms"],
             env={"JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino)})
    b.stop()
    assert not any(l.startswith("<") for l in b.err().splitlines()), b.err()
    say("%d lines with priorities under JOURNAL_STREAM, none under another's"
        % len(lines))

# ---------------------------------------------------------------- rotate
def check_rotate(dir):
    ka, kb = os.path.join(dir, "a.keys"), os.path.join(dir, "b.keys")
    for k in (ka, kb):
        write(k, "old-key\n")
    common = ["--cycle", "100ms", "--timeout", "1s"]
    a = Node(dir, "a", common + ["--key-file", ka])
    b = Node(dir, "b", common + ["--key-file", kb,
                                 "--seeds", "localhost:%d" % a.port])
    wait_for("a lists b", lambda: a.lists(b))
    wait_for("b lists a", lambda: b.lists(a))
    # docs/node.md's three steps, each on both nodes before the next.
    steps = ["old-key\nnew-key\n", "new-key\nold-key\n", "new-key\n"]
    for i, text in enumerate(steps, 1):
        for n, k in ((a, ka), (b, kb)):
            write(k, text)
            n.signal(signal.SIGHUP)
            wait_for("step %d on %s" % (i, n.name),
                     lambda: count(n, "keys reloaded") == i)
    # Both sign and accept the new key only: they go on talking.
    heard = a.stats()["engine.received.heartbeat"]
    wait_for("heartbeats after the rotation",
             lambda: a.stats()["engine.received.heartbeat"] >= heard + 20)
    time.sleep(1.5)  # longer than the timeout: b would have expired
    assert a.lists(b) and b.lists(a)
    for n in (a, b):
        s = n.stats()
        assert s["engine.rejected.bad_mac"] == 0, (n.name, s)
        assert s["engine.nodes_expired"] == 0, (n.name, s)
    # A newcomer with the new key joins; one with the old key does not.
    c = Node(dir, "c", common + ["--secret-key", "new-key",
                                 "--seeds", "127.0.0.1:%d" % a.port])
    wait_for("a lists c", lambda: a.lists(c))
    d = Node(dir, "d", common + ["--secret-key", "old-key",
                                 "--seeds", "127.0.0.1:%d" % a.port])
    wait_for("a refuses d", lambda: a.stats()["engine.rejected.bad_mac"] >= 3)
    assert not a.lists(d), a.ctl("get").stdout + d.err()
    # d listed a, its seed, from the start: it gives up on a silent seed.
    wait_for("d drops a", lambda: not d.lists(a))
    for n in (a, b, c, d):
        n.stop()
    say("rotated in 3 SIGHUP steps: no packet rejected, no node expired;"
        " the new key joins, the old one is refused")

# --------------------------------------------------------------- sandbox
JAIL = r'''
set -eu
state="$1"; run="$2"; shift 2
# Held open: they may lie under /tmp, which is about to be replaced.
exec 3<"$state" 4<"$run"
# PrivateTmp=yes: private /tmp and /var/tmp.
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp
# StateDirectory= and RuntimeDirectory=: mounts of their own, at the same
# paths, left writable below.
mkdir -p "$state" "$run"
mount --no-canonicalize --bind /proc/self/fd/3 "$state"
mount --no-canonicalize --bind /proc/self/fd/4 "$run"
exec 3<&- 4<&-
# ProtectHome=yes: nothing to see there.
if [ -n "${JAIL_HOMES:-}" ]; then
    for h in /home /root /run/user; do
        [ -d "$h" ] && mount -t tmpfs -o mode=000 tmpfs "$h"
    done
fi
# ProtectSystem=strict: every other mount read-only.
awk '{ print $5 }' /proc/self/mountinfo | while read -r m; do
    m="$(printf '%b' "$(printf '%s' "$m" | sed 's/\\\([0-7][0-7][0-7]\)/\\0\1/g')")"
    case "$m" in
        "$state"|"$run"|/tmp|/var/tmp|/home|/root|/run/user|/proc|/proc/*|/dev|/dev/*|/sys|/sys/*) continue ;;
    esac
    mount -o remount,bind,ro "$m" 2>/dev/null ||
        mount -o remount,bind,ro,nosuid,nodev "$m" 2>/dev/null ||
        echo "jail: $m stays writable" >&2
done
if ( : >/jail-probe ) 2>/dev/null; then
    rm -f /jail-probe
    echo "jail: / is still writable" >&2
    exit 90
fi
# UMask=0077; DynamicUser=yes as an unprivileged user of its own;
# NoNewPrivileges=yes; CapabilityBoundingSet= empty.
umask 077
exec setpriv --reuid="$JAIL_UID" --regid="$JAIL_UID" --clear-groups \
    --no-new-privs --bounding-set=-all --inh-caps=-all -- "$@"
'''

def check_sandbox(dir):
    if shutil.which("unshare") is None or shutil.which("setpriv") is None:
        say("skipped: unshare or setpriv missing")
        sys.exit(SKIP)
    prefix = ["unshare", "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        prefix[1:1] = ["--user", "--map-root-user"]
    probe = subprocess.run(prefix + ["mount", "-t", "tmpfs", "tmpfs", dir],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        say("skipped: cannot make a mount namespace here (%s)"
            % probe.stderr.strip())
        sys.exit(SKIP)
    uid = 65534 if os.geteuid() == 0 else 0
    state, run = os.path.join(dir, "state"), os.path.join(dir, "run")
    for d in (state, run):
        os.mkdir(d, 0o700)
        os.chown(d, uid, uid) if os.geteuid() == 0 else None
    os.chmod(dir, 0o755)
    keys = os.path.join(state, "node.keys")
    write(keys, "jail-key\n")
    if os.geteuid() == 0:
        os.chown(keys, uid, uid)
    jail = os.path.join(dir, "jail.sh")
    write(jail, JAIL, 0o755)
    # Home directories hidden unless peko or this test lives in one.
    here = [os.path.realpath(p) for p in (peko, dir)]
    homes = not any(p.startswith(("/home/", "/root/", "/run/user/")) for p in here)
    env = {"JAIL_UID": str(uid), "JAIL_HOMES": "1" if homes else ""}
    jailed = prefix + ["sh", jail, state, run]
    pre = subprocess.run(jailed + ["true"], env=dict(os.environ, **env),
                         capture_output=True, text=True, timeout=30)
    if pre.returncode == 90:
        say("skipped: cannot make the root read-only here: " + pre.stderr.strip())
        sys.exit(SKIP)
    assert pre.returncode == 0, "the jail: " + pre.stderr
    partial = [l for l in pre.stderr.splitlines() if l.startswith("jail: ")]
    db = os.path.join(state, "node.db")
    args = ["--cycle", "100ms", "--timeout", "1s", "--key-file", keys,
            "--db", db, "--metrics", "0"]
    a = Node(dir, "a", args, env=env, prefix=jailed,
             sock=os.path.join(run, "control.sock"))
    b = Node(dir, "b", ["--cycle", "100ms", "--timeout", "1s", "--secret-key",
                        "jail-key", "--seeds", "127.0.0.1:%d" % a.port])
    wait_for("a lists b", lambda: a.lists(b))
    wait_for("b lists a", lambda: b.lists(a))
    assert b.ctl("publish", "from-outside").returncode == 0
    wait_for("a reads b's publish", lambda: a.ctl("read").stdout == "from-outside\n")
    # Metrics from inside the jail.
    url = re.search(r"metrics (http://\S+)", a.err()).group(1)
    with urllib.request.urlopen(url, timeout=10) as r:
        assert b"peko_members 2" in r.read()
    # The key file in the state directory reloads (a rotation's first step).
    write(keys, "jail-key\nnext-key\n")
    if os.geteuid() == 0:
        os.chown(keys, uid, uid)
    a.signal(signal.SIGHUP)
    wait_for("a reloads its key file", lambda: "keys reloaded" in a.err())
    a.stop()
    b.stop()
    assert not os.path.exists(a.sock), "the control socket is left behind"
    mode = stat.S_IMODE(os.stat(db).st_mode)
    assert mode & 0o077 == 0, "the recording is mode %o" % mode
    row = sqlite3.connect(db).execute(
        "SELECT source, status, nodes FROM run").fetchall()
    assert row == [("node", "complete", 1)], row
    traffic = sqlite3.connect(db).execute("SELECT count(*) FROM traffic").fetchone()
    assert traffic[0] > 0

    # Anywhere else is read-only: a recording in a directory open to all
    # (but outside the private /tmp) is refused, exit 1.
    refused = "not tried (the test directory is under /tmp)"
    if not os.path.realpath(dir).startswith(("/tmp/", "/var/tmp/")):
        open_dir = os.path.join(dir, "open")
        os.mkdir(open_dir)
        os.chmod(open_dir, 0o1777)
        outside = os.path.join(open_dir, "outside.db")
        r = subprocess.run(jailed + [peko, "node", "--port", str(free_port()),
                                     "--control", os.path.join(run, "c.sock"),
                                     "--db", outside],
                           env=dict(os.environ, **env), capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 1 and not os.path.exists(outside), \
            (r.returncode, r.stderr)
        refused = "refused"
    say("jailed node (uid %d, read-only but %s and %s, private /tmp%s):"
        " started, answered ctl and metrics, talked, reloaded its key file,"
        " recorded; a recording outside %s"
        % (uid, state, run, ", no homes" if homes else "", refused))
    for l in partial:
        say("not emulated: " + l[len("jail: "):])

# -------------------------------------------------------------- syscalls
def unit_values(key):
    values = []
    for line in open(unit):
        m = re.match(r"^%s=(.*)$" % key, line.strip())
        if m:
            values += m.group(1).split()
    return values

def syscall_groups():
    out = subprocess.run(["systemd-analyze", "syscall-filter"],
                         capture_output=True, text=True, check=True).stdout
    groups, current = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.split()[0], set())
        elif current is not None and line.strip() and not line.strip().startswith("#"):
            current.add(line.strip())
    return groups

def expand(name, groups, seen=None):
    seen = set() if seen is None else seen
    if not name.startswith("@"):
        return {name}
    if name in seen:
        return set()
    seen.add(name)
    out = set()
    for member in groups.get(name, ()):
        out |= expand(member, groups, seen)
    return out

def check_syscalls(dir):
    if len(sys.argv) > 5 and sys.argv[5] not in ("", "none"):
        say("skipped: a sanitized build (%s) makes system calls of its own,"
            " and LeakSanitizer does not run under ptrace" % sys.argv[5])
        sys.exit(SKIP)
    if shutil.which("strace") is None or shutil.which("systemd-analyze") is None:
        say("skipped: strace or systemd-analyze missing")
        sys.exit(SKIP)
    probe = subprocess.run(["strace", "-f", "-o", os.devnull, "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        say("skipped: strace cannot trace here (%s)" % probe.stderr.strip())
        sys.exit(SKIP)
    groups = syscall_groups()
    allowed, denied = set(), set()
    for v in unit_values("SystemCallFilter"):
        target = denied if v.startswith("~") else allowed
        target |= expand(v.lstrip("~"), groups)
    assert allowed, "no SystemCallFilter allow list in %s" % unit
    allowed -= denied
    families = set(unit_values("RestrictAddressFamilies"))
    assert families, "no RestrictAddressFamilies in %s" % unit

    keys = os.path.join(dir, "keys")
    write(keys, "trace-key\n")
    trace = os.path.join(dir, "trace")
    peer = Node(dir, "b", ["--cycle", "100ms", "--secret-key", "trace-key"])
    a = Node(dir, "a", ["--cycle", "100ms", "--key-file", keys,
                        "--db", os.path.join(dir, "a.db"), "--metrics", "0",
                        "--seeds", "localhost:%d" % peer.port],
             prefix=["strace", "-f", "-qq", "-o", trace])
    wait_for("a lists b", lambda: a.lists(peer))
    url = re.search(r"metrics (http://\S+)", a.err()).group(1)
    with urllib.request.urlopen(url, timeout=10) as r:
        r.read()
    assert a.ctl("publish", "traced").returncode == 0
    a.stats()
    # Signals go to peko, strace's child, not to strace.
    children = "/proc/%d/task/%d/children" % (a.proc.pid, a.proc.pid)
    node_pid = int(open(children).read().split()[0])
    os.kill(node_pid, signal.SIGHUP)
    wait_for("the reload", lambda: "keys reloaded" in a.err())
    os.kill(node_pid, signal.SIGTERM)
    assert a.proc.wait(timeout=30) == 0, a.err()
    peer.stop()

    used, problems = set(), []
    execs = 0
    for line in open(trace, errors="replace"):
        m = re.match(r"^\d+\s+([a-z0-9_]+)\((.*)", line)
        if not m:
            continue
        name, rest = m.groups()
        if name == "execve":
            execs += 1
            continue  # strace's own exec of peko, before any filter
        used.add(name)
        if name == "socket":
            fam = rest.split(",")[0]
            if fam not in families:
                problems.append("socket family %s: %s" % (fam, line.strip()))
        if name in ("mmap", "mprotect", "pkey_mprotect") and \
                "PROT_WRITE" in rest and "PROT_EXEC" in rest:
            problems.append("writable and executable: " + line.strip())
        if name in ("unshare", "setns") or (name.startswith("clone") and "CLONE_NEW" in rest):
            problems.append("a namespace: " + line.strip())
    assert execs == 1, "peko ran %d programs" % execs
    # Probes the node makes knowing the unit may deny them, and which it
    # takes a refusal of as "not available": adjtimex with no mode bits,
    # a read of the kernel's NTP state for the fleet recording (docs/
    # fleet.md); ProtectClock= denies it under the unit (EPERM), so a node
    # run there records no kernel clock estimate.
    probes = {"adjtimex", "clock_adjtime"}
    outside = sorted(used - allowed - probes)
    if outside:
        problems.append("system calls outside SystemCallFilter: " + ", ".join(outside))
    assert not problems, "\n".join(problems)
    say("%d distinct system calls, all in %s; sockets only of %s;"
        " no W+X mapping, no namespace"
        % (len(used), " ".join(unit_values("SystemCallFilter")), " ".join(sorted(families))))

checks = {"notify": check_notify, "journal": check_journal,
          "rotate": check_rotate, "sandbox": check_sandbox,
          "syscalls": check_syscalls}
if mode not in checks:
    print("check-service: unknown mode %s" % mode, file=sys.stderr)
    sys.exit(2)
def descendants(pid):
    try:
        kids = open("/proc/%d/task/%d/children" % (pid, pid)).read().split()
    except OSError:
        return []
    out = []
    for k in kids:
        out += descendants(int(k)) + [int(k)]
    return out

workdir = os.path.abspath(workdir)
os.makedirs(workdir, exist_ok=True)
dir = tempfile.mkdtemp(prefix="peko-service-", dir=workdir)
try:
    checks[mode](dir)
finally:
    # What is still running was started here: strace's child first.
    for p in started:
        if p.poll() is None:
            for pid in descendants(p.pid) + [p.pid]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            p.wait()
    shutil.rmtree(dir, ignore_errors=True)
PY
