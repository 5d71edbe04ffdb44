#!/usr/bin/env python3
"""check-bench-compare.py SCRIPT DATA: scripts/bench-compare.py on
hand-made figures (DATA/base.txt, DATA/new.txt, DATA/base.json):

  - the ratio of each figure, the median of a figure given three times,
    figures found on one side only;
  - a regression beyond the threshold flagged, in both directions
    (better=higher and better=lower), an improvement marked, a count
    (better=none) marked changed and never a regression;
  - the exit status: 0 without --fail-on-regression, 1 with it, 0 with a
    threshold wide enough, 2 for a bad threshold or command line;
  - meson's JSON log read as the plain lines it holds;
  - every kind of malformed BENCH line rejected with exit 2 and a message
    naming the file, the line and the fault.

The script is loaded once and its main() called per case (one Python
process: a fast test); two cases run it as a program, to check the exit
status a shell sees.
"""

import contextlib
import importlib.util
import io
import os
import re
import subprocess
import sys
import tempfile

script, data = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location("bench_compare", script)
bc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bc)

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


def run(*argv):
    """Returns (status, stdout, stderr) of main(argv)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = bc.main(list(argv))
        except SystemExit as e:  # argparse's errors
            status = e.code
    return status, out.getvalue(), err.getvalue()


def row(out, figure):
    for line in out.splitlines():
        if line.startswith(figure + " "):
            return line
    return None


def expect_row(out, figure, ratio, flag):
    """The row of figure shows ratio, and flag (a regex), or no flag at
    all when flag is None."""
    r = row(out, figure)
    if r is None:
        fail(f"no row for '{figure}' in:\n{out}")
        return
    if not re.search(rf"\s{re.escape(ratio)}(\s|$)", r):
        fail(f"'{figure}': ratio {ratio} expected in: {r}")
    if flag is None:
        if re.search(r"REGRESSION|improved|changed", r):
            fail(f"'{figure}': no flag expected in: {r}")
    elif not re.search(flag, r):
        fail(f"'{figure}': /{flag}/ expected in: {r}")


def expect_status(what, got, want, err=""):
    if got != want:
        fail(f"{what}: exit {got}, expected {want} {err.strip()}")


base = os.path.join(data, "base.txt")
new = os.path.join(data, "new.txt")
base_json = os.path.join(data, "base.json")

# Default threshold, 10 %.
status, out, err = run(base, new)
expect_status("default", status, 0, err)
expect_row(out, "bench-1000 deliveries_per_s", "0.800",
           r"REGRESSION \(-20\.0 %\)")
expect_row(out, "bench-1000 peak_rss_mib", "0.500", r"improved \(-50\.0 %\)")
expect_row(out, "bench-1000 deliveries", "1.000", "changed")
# The median of 4.2e6, 1e6 and 5e6 over 4e6.
expect_row(out, "evq-pending-1000000 holds_per_s", "1.050", None)
expect_row(out, "world-1000 run_wall_s", "1.075", None)
expect_row(out, "world-1000 events_per_s", "1.000", None)
expect_row(out, "recorder-default finish_ms", "1.000", None)
if "only in base" not in (row(out, "only-base x") or ""):
    fail("only-base x not reported as only in base")
if "only in new" not in (row(out, "only-new y") or ""):
    fail("only-new y not reported as only in new")
if "\n7 figures compared: 1 regressed and 1 improved beyond 10 %" not in out:
    fail(f"summary line missing in:\n{out}")

status, out, err = run(base, new, "--fail-on-regression")
expect_status("--fail-on-regression", status, 1, err)

# A wider threshold lets the 20 % pass; a narrower one catches the 7.5 %
# longer wall time (better=lower) and marks the 5 % faster queue.
status, out, err = run("--threshold", "25", "--fail-on-regression", base, new)
expect_status("--threshold 25", status, 0, err)
expect_row(out, "bench-1000 deliveries_per_s", "0.800", None)
expect_row(out, "bench-1000 peak_rss_mib", "0.500", "improved")
status, out, err = run("--threshold", "4", "--fail-on-regression", base, new)
expect_status("--threshold 4", status, 1, err)
expect_row(out, "world-1000 run_wall_s", "1.075", r"REGRESSION \(\+7\.5 %\)")
expect_row(out, "evq-pending-1000000 holds_per_s", "1.050", "improved")

for bad in ("-1", "100", "abc"):
    status, out, err = run("--threshold", bad, base, new)
    expect_status(f"--threshold {bad}", status, 2, err)
status, out, err = run(base)
expect_status("one file", status, 2, err)
status, out, err = run(base, new, "-o", "x.txt")
expect_status("-o without --run", status, 2, err)

# meson's JSON log holds the same figures as the text: every ratio 1.
status, out, err = run(base_json, base, "--fail-on-regression")
expect_status("JSON log", status, 0, err)
expect_row(out, "bench-1000 deliveries_per_s", "1.000", None)
if "\n8 figures compared: 0 regressed and 0 improved" not in out:
    fail(f"JSON log: summary line missing in:\n{out}")

with tempfile.TemporaryDirectory() as tmp:
    def write(name, text):
        path = os.path.join(tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    # Malformed lines, each after a good line: rejected with the file, its
    # line number (2) and the fault, on either side.
    good = "BENCH name=a metric=b value=1 unit=s better=lower reps=1\n"
    malformed = [
        ("BENCH", "missing name, metric, value, unit, better"),
        ("BENCH name=a metric=b unit=s better=lower", "missing value"),
        ("BENCH name=a metric=b value=fast unit=s better=lower",
         "value 'fast' is not a finite number"),
        ("BENCH name=a metric=b value=nan unit=s better=lower",
         "value 'nan' is not a finite number"),
        ("BENCH name=a metric=b value=1e999 unit=s better=lower",
         "value '1e999' is not a finite number"),
        ("BENCH name=a metric=b value=1 unit=s better=up",
         "better 'up' is not one of higher, lower, none"),
        ("BENCH name=a metric=b value=1 unit=s better=lower reps=0",
         "reps '0' is not a positive integer"),
        ("BENCH name=a metric=b value=1 unit=s better=lower reps=2.5",
         "reps '2.5' is not a positive integer"),
        ("BENCH name=a name=c metric=b value=1 unit=s better=lower",
         "'name' given twice"),
        ("BENCH name=a metric=b value=1 unit=s better=lower when=now",
         "unknown key 'when'"),
        ("BENCH name=bench 1000 metric=b value=1 unit=s better=lower",
         "'1000' is not KEY=VALUE"),
        ("BENCH name=Bench metric=b value=1 unit=s better=lower",
         "name 'Bench' is not a word"),
        ("BENCH name=a metric=b value= unit=s better=lower",
         "'value=' is not KEY=VALUE"),
    ]
    for line, why in malformed:
        bad = write("bad.txt", good + line + "\n")
        for argv in ((bad, new), (base, bad)):
            status, out, err = run(*argv)
            expect_status(f"'{line}'", status, 2, err)
            want = f"bad.txt:2: malformed BENCH line: {why}"
            if want not in err:
                fail(f"'{line}': '{want}' expected, got: {err.strip()}")
            if out:
                fail(f"'{line}': nothing expected on stdout, got: {out}")

    cases = [
        ("a unit that changes",
         write("units.txt", good +
               "BENCH name=a metric=b value=1 unit=ms better=lower\n"),
         "units.txt:2: a b given earlier with unit=s better=lower, here "
         "unit=ms"),
        ("no figures", write("empty.txt", "no figures here\n"),
         "empty.txt: no BENCH lines"),
        ("a missing file", os.path.join(tmp, "no-such.txt"),
         "no-such.txt: No such file"),
        ("a BENCH line in a JSON log",
         write("log.json", '{"name": "x", "stdout": "BENCH"}\n'),
         "log.json:1 (x, output line 1): malformed BENCH line"),
        ("a broken JSON log",
         write("broken.json", '{"name": "x", "stdout": ""}\n{not json\n'),
         "broken.json:2: not a meson JSON log record"),
    ]
    for what, path, want in cases:
        status, out, err = run(path, new)
        expect_status(what, status, 2, err)
        if want not in err:
            fail(f"{what}: '{want}' expected, got: {err.strip()}")

# As a program: the statuses a shell or CI sees.
for argv, want in (([base, new], 0),
                   ([base, new, "--fail-on-regression"], 1)):
    p = subprocess.run([sys.executable, script] + argv, capture_output=True,
                       text=True)
    expect_status(f"program {' '.join(argv[2:])}", p.returncode, want,
                  p.stderr)

if failures:
    print(f"{len(failures)} checks failed")
    sys.exit(1)
print("all checks passed")
