#!/usr/bin/env python3
"""calibrate-budget.py: measures the peak memory of the runs that calibrate
the memory estimate (the table in tests/test-budget.c) and prints, for each,
the peak in KiB beside the table's and their ratio.

Usage: scripts/calibrate-budget.py PEKO [--only TEXT] [--write]
  PEKO        a release build of peko (build/cli/peko)
  --only T    measure only the rows whose name contains T
  --write     put the measured peaks into tests/test-budget.c

The rows are read from tests/test-budget.c itself, so the test and this
script cannot drift apart; a synthetic row's scenario is built the way the
test's calibration() builds it. Peaks are the maximum resident set that
/usr/bin/time -v reports (docs/simulator.md, "Memory"). Runs go one at a
time: they are measured for memory, not time, but several at once could
push one another out of memory.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEST = os.path.join(ROOT, "tests", "test-budget.c")

# One row: {"what", nodes, "duration"|NULL, "stagger"|NULL, "engine"|NULL,
#           "shipped"|NULL, "set"|NULL, peak}
TOKEN = r'(?:"(?:[^"\\]|\\.)*"(?:\s*"(?:[^"\\]|\\.)*")*|NULL|\d+)'
ROW = re.compile(r"\{\s*" + r"\s*,\s*".join([TOKEN] * 8) + r"\s*\}")
FIELD = re.compile(TOKEN)


def c_value(token):
    if token == "NULL":
        return None
    if token[0] == '"':
        parts = re.findall(r'"((?:[^"\\]|\\.)*)"', token)
        return "".join(parts).encode().decode("unicode_escape")
    return int(token)


def read_rows(source):
    start = source.index("static const calibrated table[] = {")
    end = source.index("};", start)
    rows = []
    for m in ROW.finditer(source, start, end):
        values = [c_value(t) for t in FIELD.findall(m.group(0))]
        what, nodes, duration, stagger, engine, shipped, set_, peak = values
        rows.append(dict(what=what, nodes=nodes, duration=duration,
                         stagger=stagger, engine=engine, shipped=shipped,
                         set=set_, peak=peak, span=m.span()))
    return rows


def calibration(row):
    # The same text as calibration() in tests/test-budget.c.
    return ("[cluster]\nnodes = %u\nduration = %s\nseed = 1\n"
            "stagger = %s\n[engine]\n%s\n[network]\nlatency = 1ms\n"
            % (row["nodes"], row["duration"], row["stagger"], row["engine"]))


def measure(peko, row):
    with tempfile.TemporaryDirectory() as tmp:
        args = [peko, "sim", "--max-memory", "0"]
        if row["shipped"]:
            path = os.path.join(ROOT, "scenarios", row["shipped"])
            for s in (row["set"] or "").split():
                args += ["--set", s]
        else:
            path = os.path.join(tmp, "budget.ini")
            with open(path, "w") as f:
                f.write(calibration(row))
        args.append(path)
        out = subprocess.run(["/usr/bin/time", "-v"] + args, cwd=tmp,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
    if out.returncode != 0:
        sys.exit("calibrate-budget: %s: peko exited %d\n%s"
                 % (row["what"], out.returncode, out.stderr[-2000:]))
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr)
    return int(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("peko")
    ap.add_argument("--only")
    ap.add_argument("--write", action="store_true")
    a = ap.parse_args()
    if not os.access(a.peko, os.X_OK):
        sys.exit("calibrate-budget: %s is not an executable" % a.peko)
    source = open(TEST, encoding="utf-8").read()
    rows = read_rows(source)
    if not rows:
        sys.exit("calibrate-budget: no rows found in %s" % TEST)
    measured = {}
    print("%-36s %10s %10s %6s" % ("run", "table KiB", "now KiB", "ratio"))
    for row in rows:
        if a.only and a.only not in row["what"]:
            continue
        kib = measure(a.peko, row)
        measured[row["what"]] = kib
        print("%-36s %10d %10d %6.3f" % (row["what"], row["peak"], kib,
                                         kib / row["peak"]), flush=True)
    if a.write:
        # Replace each row's last number, from the end so spans hold.
        for row in reversed(rows):
            if row["what"] not in measured:
                continue
            lo, hi = row["span"]
            text = source[lo:hi]
            text = re.sub(r"\d+(\s*\})$", lambda m: "%d%s" % (
                measured[row["what"]], m.group(1)), text)
            source = source[:lo] + text + source[hi:]
        with open(TEST, "w", encoding="utf-8") as f:
            f.write(source)
        print("calibrate-budget: wrote %d peaks into %s" % (len(measured), TEST))


if __name__ == "__main__":
    main()
