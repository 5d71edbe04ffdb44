#!/bin/sh
# check-dist.sh PEKO DIST SETUP_SH: what can be checked of dist/ without
# systemd running, a container engine or a cluster (docs/node.md says
# what is not):
#
#   systemd     systemd-analyze verify finds nothing to say about the unit
#               (its ExecStart pointed at the built peko), and systemd-
#               analyze security rates its exposure 2.0 or less
#   container   the Containerfile's runtime stage installs the package of
#               every shared library peko needs (libc6 aside, in every
#               Debian image), its build stage every -dev package
#               scripts/setup.sh installs but Criterion's, and its
#               entrypoint is where its install puts peko
#   kubernetes  the manifests parse (PyYAML), and hang together: a
#               headless Service that lists starting pods, the StatefulSet
#               naming it, the seed its DNS name, ports, volumes, variables
#               and paths that agree
#
# A part whose tool is missing (systemd-analyze, objdump and dpkg, PyYAML)
# says so and is skipped; when all are, the test is (77).
set -u
peko="$1"
dist="$2"
setup="$3"
command -v python3 >/dev/null 2>&1 || { echo "check-dist: no python3: skipped"; exit 77; }
exec python3 - "$peko" "$dist" "$setup" <<'PY'
import os, re, shlex, shutil, subprocess, sys, tempfile

peko, dist, setup = sys.argv[1:4]
done, skipped = [], []

def say(*a):
    print("check-dist:", *a, flush=True)

# ---------------------------------------------------------------- systemd
def check_systemd():
    if shutil.which("systemd-analyze") is None:
        skipped.append("systemd (no systemd-analyze)")
        return
    unit = os.path.join(dist, "systemd", "peko-node.service")
    text = open(unit).read()
    assert "/usr/local/bin/peko " in text, "ExecStart is not /usr/local/bin/peko"
    with tempfile.TemporaryDirectory() as d:
        copy = os.path.join(d, "peko-node.service")
        with open(copy, "w") as f:
            f.write(text.replace("/usr/local/bin/peko ",
                                 os.path.abspath(peko) + " "))
        r = subprocess.run(["systemd-analyze", "verify", copy],
                           capture_output=True, text=True)
        said = (r.stdout + r.stderr).strip()
        assert r.returncode == 0 and said == "", "verify: %s" % said
        # The threshold is in tenths: 20 is an exposure of 2.0.
        r = subprocess.run(["systemd-analyze", "security", "--offline=yes",
                            "--threshold=20", copy],
                           capture_output=True, text=True)
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", r.stdout)
        assert m, r.stdout + r.stderr
        assert r.returncode == 0, "exposure %s above 2.0" % m.group(1)
    done.append("systemd (verify clean, exposure %s)" % m.group(1))

# -------------------------------------------------------------- container
def stage_packages(text):
    """The packages each stage's apt-get install names, by stage."""
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    out = []
    for st in stages:
        joined = st.replace("\\\n", " ")
        pk = set()
        for m in re.finditer(r"apt-get install ([^&\n]*)", joined):
            pk |= {w for w in m.group(1).split() if not w.startswith("-")}
        out.append(pk)
    return out

def check_container():
    if shutil.which("objdump") is None or shutil.which("dpkg") is None:
        skipped.append("container (no objdump or dpkg)")
        return
    text = open(os.path.join(dist, "container", "Containerfile")).read()
    stages = stage_packages(text)
    assert len(stages) == 2, "%d stages" % len(stages)
    build, run = stages
    needed = re.findall(r"NEEDED\s+(\S+)", subprocess.run(
        ["objdump", "-p", peko], capture_output=True, text=True,
        check=True).stdout)
    ldd = subprocess.run(["ldd", peko], capture_output=True, text=True).stdout
    for lib in needed:
        m = re.search(r"^\s*%s => (\S+)" % re.escape(lib), ldd, re.M)
        assert m, "ldd does not find %s" % lib
        path = os.path.realpath(m.group(1))
        r = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
        if r.returncode != 0:  # merged /usr: dpkg knows the other path
            alt = path[4:] if path.startswith("/usr/") else "/usr" + path
            r = subprocess.run(["dpkg", "-S", alt], capture_output=True, text=True)
        assert r.returncode == 0, "no package holds %s" % path
        pkg = r.stdout.split(":")[0]
        if pkg == "libc6":
            continue
        assert pkg in run, "%s (%s) is not installed by the runtime stage" % (lib, pkg)
    wanted = set(re.search(r"PEKO_SETUP_PACKAGES=\(([^)]*)\)", open(setup).read(),
                           re.S).group(1).split())
    for pkg in wanted:
        if pkg.endswith("-dev") and pkg != "libcriterion-dev":
            assert pkg in build, "%s is not installed by the build stage" % pkg
    for pkg in ("build-essential", "pkg-config", "meson", "ninja-build"):
        assert pkg in build, pkg
    entry = re.search(r'^ENTRYPOINT \["([^"]+)"', text, re.M).group(1)
    assert "--prefix=/usr" in text and entry == "/usr/bin/peko", entry
    done.append("container (%d libraries: %s)" % (len(needed), " ".join(sorted(run))))

# ------------------------------------------------------------- kubernetes
def check_kubernetes():
    try:
        import yaml
    except ImportError:
        skipped.append("kubernetes (no PyYAML for python3)")
        return
    path = os.path.join(dist, "kubernetes", "peko.yaml")
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    kinds = {d["kind"]: d for d in docs}
    svc, sts = kinds["Service"], kinds["StatefulSet"]
    secret = kinds.get("Secret")
    assert svc["spec"]["clusterIP"] == "None", "the Service is not headless"
    assert svc["spec"].get("publishNotReadyAddresses") is True
    assert sts["spec"]["serviceName"] == svc["metadata"]["name"]
    labels = sts["spec"]["template"]["metadata"]["labels"]
    assert sts["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert svc["spec"]["selector"].items() <= labels.items()
    pod = sts["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    args = c["args"]
    opt = {args[i]: args[i + 1] for i in range(0, len(args) - 1)
           if args[i].startswith("--")}
    env = {e["name"] for e in c.get("env", [])}
    for var in re.findall(r"\$\(([A-Z_]+)\)", " ".join(args)):
        assert var in env, "$(%s) is not defined" % var
    port = int(opt["--port"])
    ports = {p["name"]: p for p in c["ports"]}
    sports = {p["name"]: p for p in svc["spec"]["ports"]}
    assert ports["gossip"]["containerPort"] == port == sports["gossip"]["port"]
    assert ports["gossip"]["protocol"] == sports["gossip"]["protocol"] == "UDP"
    mport = int(opt["--metrics"].rsplit(":", 1)[1])
    assert ports["metrics"]["containerPort"] == mport == sports["metrics"]["port"]
    # The seed: the Service's own DNS name, at the gossip port.
    seed = opt["--seeds"]
    assert re.fullmatch(r"%s\.\$\(POD_NAMESPACE\)\.svc\.cluster\.local:%d"
                        % (svc["metadata"]["name"], port), seed), seed
    # Volumes mounted exist; files the node uses lie in them.
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    vols = {v["name"] for v in pod["volumes"]} | \
           {t["metadata"]["name"] for t in sts["spec"].get("volumeClaimTemplates", [])}
    assert set(mounts.values()) <= vols, (mounts, vols)
    def mounted(p):
        return any(p.startswith(m.rstrip("/") + "/") for m in mounts)
    for flag in ("--key-file", "--db"):
        assert mounted(opt[flag]), "%s %s is on no volume" % (flag, opt[flag])
    probe = c["readinessProbe"]["exec"]["command"]
    control = probe[probe.index("--control") + 1]
    assert mounted(control)
    entry = open(os.path.join(dist, "container", "Containerfile")).read()
    assert '"--control", "%s"' % control in entry, "the image's control socket differs"
    if secret:
        key_mount = [m for m in c["volumeMounts"] if opt["--key-file"].startswith(m["mountPath"])][0]
        vol = [v for v in pod["volumes"] if v["name"] == key_mount["name"]][0]
        assert vol["secret"]["secretName"] == secret["metadata"]["name"]
        assert os.path.basename(opt["--key-file"]) in secret["stringData"]
    # The key file and the engine settings as peko reads them.
    with tempfile.TemporaryDirectory() as d:
        if secret:
            kf = os.path.join(d, "node.keys")
            open(kf, "w").write(secret["stringData"][os.path.basename(opt["--key-file"])])
            r = subprocess.run([peko, "node", "--port", "1", "--key-file", kf,
                                "--cycle", opt["--cycle"], "--metrics", "x:y"],
                               capture_output=True, text=True, timeout=30)
            # The bad --metrics stops it before anything starts; what
            # comes before it (the key file, the cycle) passed.
            assert r.returncode == 2 and "--metrics" in r.stderr, r.stderr
    done.append("kubernetes (%s)" % ", ".join(d["kind"] for d in docs))

for part in (check_systemd, check_container, check_kubernetes):
    part()
for s in skipped:
    say("skipped:", s)
for d in done:
    say("checked:", d)
sys.exit(0 if done else 77)
PY
