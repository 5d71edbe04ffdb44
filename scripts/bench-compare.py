#!/usr/bin/env python3
"""bench-compare.py: compare two builds' benchmark figures.

Every benchmark (`meson test -C BUILD --benchmark`, tests/bench-*.c) prints
one line per figure:

    BENCH name=CASE metric=WHAT value=NUMBER unit=UNIT better=DIR reps=N

(tests/bench.h). This script reads two sets of such lines and prints, per
figure, the base value, the new value and their ratio new/base, flagging
a change in the bad direction beyond a threshold as a REGRESSION.

Usage:
  bench-compare.py [--threshold PCT] [--fail-on-regression] BASE NEW
      BASE and NEW are files of BENCH lines (what --run writes, or the
      saved output of the benchmarks), or meson's JSON logs of benchmark
      runs (BUILD/meson-logs/testlog.json after `meson test --benchmark`).
      Other lines are ignored; a line that starts with "BENCH " but is not
      a well-formed figure is an error. A figure given several times in
      one file (say, the outputs of three runs put together) counts as
      the median of its values.
  bench-compare.py --run BUILD [-o FILE] [BENCHMARK...]
      Runs the benchmarks of the build directory BUILD (all, or those
      named) and writes their BENCH lines to FILE (default
      BUILD/bench-results.txt).
  bench-compare.py --build REV_A REV_B [--buildtype T] [--keep]
                   [--threshold PCT] [--fail-on-regression] [BENCHMARK...]
      Checks out the two revisions side by side (git worktree, in a
      temporary directory), builds each, runs each benchmark on both in
      turn (A B, then B A, so a change in the machine's load hits both
      alike), saves the figures next to the builds and compares them.
      Both revisions must have this benchmark suite.

A figure regresses when it moves in its bad direction by more than the
threshold (default 10 %): better=higher, new < base * (1 - t);
better=lower, new > base * (1 + t). better=none figures (counts that say
the work was the same) are only marked "changed" when they differ.

Exit status: 0; 1 with --fail-on-regression when a figure regressed, or
when --run or --build could not build or run the benchmarks; 2 for a bad
command line or a malformed input.
"""

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

WORD = re.compile(r"^[a-z0-9_.-]+$")
KEYS_REQUIRED = ("name", "metric", "value", "unit", "better")
KEYS = KEYS_REQUIRED + ("reps",)
DIRECTIONS = ("higher", "lower", "none")


class InputError(Exception):
    """A malformed input: its message says where and why."""


class Figure:
    __slots__ = ("name", "metric", "unit", "better", "values")

    def __init__(self, name, metric, unit, better):
        self.name = name
        self.metric = metric
        self.unit = unit
        self.better = better
        self.values = []

    def value(self):
        return statistics.median(self.values)


def parse_line(line, where):
    """Parses one BENCH line into a dict; raises InputError."""
    fields = {}
    tokens = line.split()
    if not tokens or tokens[0] != "BENCH":
        raise InputError(f"{where}: malformed BENCH line: does not start "
                         f"with 'BENCH ': {line!r}")
    for token in tokens[1:]:
        key, eq, val = token.partition("=")
        if not eq or not key or not val:
            raise InputError(f"{where}: malformed BENCH line: '{token}' is "
                             f"not KEY=VALUE: {line!r}")
        if key not in KEYS:
            raise InputError(f"{where}: malformed BENCH line: unknown key "
                             f"'{key}': {line!r}")
        if key in fields:
            raise InputError(f"{where}: malformed BENCH line: '{key}' given "
                             f"twice: {line!r}")
        fields[key] = val
    missing = [k for k in KEYS_REQUIRED if k not in fields]
    if missing:
        raise InputError(f"{where}: malformed BENCH line: missing "
                         f"{', '.join(missing)}: {line!r}")
    for key in ("name", "metric"):
        if not WORD.match(fields[key]):
            raise InputError(f"{where}: malformed BENCH line: {key} "
                             f"'{fields[key]}' is not a word of "
                             f"[a-z0-9_.-]: {line!r}")
    try:
        value = float(fields["value"])
    except ValueError:
        value = None
    if value is None or not math.isfinite(value):
        raise InputError(f"{where}: malformed BENCH line: value "
                         f"'{fields['value']}' is not a finite number: "
                         f"{line!r}")
    fields["value"] = value
    if fields["better"] not in DIRECTIONS:
        raise InputError(f"{where}: malformed BENCH line: better "
                         f"'{fields['better']}' is not one of "
                         f"{', '.join(DIRECTIONS)}: {line!r}")
    reps = fields.get("reps", "1")
    if not reps.isdigit() or int(reps) < 1:
        raise InputError(f"{where}: malformed BENCH line: reps '{reps}' is "
                         f"not a positive integer: {line!r}")
    fields["reps"] = int(reps)
    return fields


def text_sources(path):
    """Yields (where, line) for every line of path's benchmark output: the
    file itself, or the "stdout" of each record of a meson JSON log."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise InputError(f"{path}: {e.strerror}") from None
    first = next((l for l in lines if l.strip()), "")
    if not first.lstrip().startswith("{"):
        for number, line in enumerate(lines, 1):
            yield f"{path}:{number}", line
        return
    for number, record in enumerate(lines, 1):
        if not record.strip():
            continue
        try:
            obj = json.loads(record)
        except json.JSONDecodeError as e:
            raise InputError(f"{path}:{number}: not a meson JSON log "
                             f"record: {e.msg}") from None
        out = obj.get("stdout") if isinstance(obj, dict) else None
        if not isinstance(out, str):
            continue
        test = obj.get("name", "?")
        for k, line in enumerate(out.splitlines(), 1):
            yield f"{path}:{number} ({test}, output line {k})", line


def read_figures(path):
    """Returns {(name, metric): Figure} from path; raises InputError."""
    figures = {}
    for where, line in text_sources(path):
        if line != "BENCH" and not line.startswith("BENCH "):
            continue
        f = parse_line(line, where)
        key = (f["name"], f["metric"])
        fig = figures.get(key)
        if fig is None:
            fig = figures[key] = Figure(f["name"], f["metric"], f["unit"],
                                        f["better"])
        elif (fig.unit, fig.better) != (f["unit"], f["better"]):
            raise InputError(f"{where}: {f['name']} {f['metric']} given "
                             f"earlier with unit={fig.unit} "
                             f"better={fig.better}, here unit={f['unit']} "
                             f"better={f['better']}")
        fig.values.append(f["value"])
    if not figures:
        raise InputError(f"{path}: no BENCH lines")
    return figures


def fmt(v):
    """A value as people read it: counts exactly, large rates without
    decimals, the rest to 4 significant digits."""
    if abs(v) >= 1e15:
        return f"{v:.4e}"
    if v == int(v):
        return str(int(v))
    if abs(v) >= 1e4:
        return f"{v:.0f}"
    return f"{v:.4g}"


def compare(base, new, threshold, out=None):
    """Prints the comparison (to out, default stdout); returns the number
    of regressions."""
    out = out or sys.stdout
    keys = list(base)
    keys += [k for k in new if k not in base]
    rows = []
    regressions = improvements = 0
    for key in keys:
        b, n = base.get(key), new.get(key)
        label = f"{key[0]} {key[1]}"
        if b is None or n is None:
            have = b or n
            side = "only in base" if n is None else "only in new"
            rows.append((label, fmt(have.value()) if b else "-",
                         fmt(have.value()) if n else "-", "", have.unit,
                         side))
            continue
        if (b.unit, b.better) != (n.unit, n.better):
            rows.append((label, fmt(b.value()), fmt(n.value()), "",
                         f"{b.unit}/{n.unit}", "units or direction differ"))
            continue
        bv, nv = b.value(), n.value()
        if bv == 0:
            ratio = 1.0 if nv == 0 else None
        else:
            ratio = nv / bv
        status = ""
        if ratio is None:
            status = "base is 0"
        elif b.better == "none":
            status = "changed" if nv != bv else ""
        else:
            worse = ratio < 1 - threshold if b.better == "higher" \
                else ratio > 1 + threshold
            better = ratio > 1 + threshold if b.better == "higher" \
                else ratio < 1 - threshold
            if worse:
                regressions += 1
                status = f"REGRESSION ({(ratio - 1) * 100:+.1f} %)"
            elif better:
                improvements += 1
                status = f"improved ({(ratio - 1) * 100:+.1f} %)"
        rows.append((label, fmt(bv), fmt(nv),
                     "n/a" if ratio is None else f"{ratio:.3f}", b.unit,
                     status))
    head = ("figure", "base", "new", "new/base", "unit", "")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(5)]
    for r in [head] + rows:
        line = (f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  "
                f"{r[2]:>{widths[2]}}  {r[3]:>{widths[3]}}  "
                f"{r[4]:<{widths[4]}}  {r[5]}")
        print(line.rstrip(), file=out)
    compared = sum(1 for k in keys if k in base and k in new)
    print(f"{compared} figures compared: {regressions} regressed and "
          f"{improvements} improved beyond {threshold * 100:g} %", file=out)
    return regressions


# ---- running benchmarks ------------------------------------------------

def list_benchmarks(build):
    out = subprocess.run(["meson", "test", "-C", build, "--benchmark",
                          "--list"], check=True, capture_output=True,
                         text=True).stdout
    names = []
    for line in out.splitlines():
        # "project:suite / name" (or "project / name"); ninja's chatter
        # has no " / ".
        if " / " in line:
            names.append(line.rsplit(" / ", 1)[1].strip())
    return names


def run_benchmarks(build, names, out_path):
    """Runs the named benchmarks of build (all if names is empty), appends
    their BENCH lines to out_path; returns True when all passed or were
    skipped."""
    log_base = "bench-compare"
    cmd = ["meson", "test", "-C", build, "--benchmark", "--verbose",
           "--logbase", log_base] + list(names)
    rc = subprocess.run(cmd).returncode
    log = os.path.join(build, "meson-logs", log_base + ".json")
    lines = []
    if os.path.exists(log):
        for _, line in text_sources(log):
            if line == "BENCH" or line.startswith("BENCH "):
                lines.append(line)
    with open(out_path, "a", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")
    if rc != 0:
        print(f"bench-compare: benchmarks of {build} failed (meson test "
              f"exit {rc}); see {log}", file=sys.stderr)
    return rc == 0


def git(*args, cwd=None):
    return subprocess.run(["git"] + list(args), cwd=cwd, check=True,
                          capture_output=True, text=True).stdout.strip()


def build_and_compare(args):
    root = git("rev-parse", "--show-toplevel",
               cwd=os.path.dirname(os.path.abspath(__file__)))
    revs = args.build
    commits = []
    for rev in revs:
        try:
            commits.append(git("rev-parse", "--verify", rev + "^{commit}",
                               cwd=root))
        except subprocess.CalledProcessError:
            print(f"bench-compare: '{rev}' is not a revision of {root}",
                  file=sys.stderr)
            return 2
    tmp = tempfile.mkdtemp(prefix="peko-bench-")
    trees = [os.path.join(tmp, side) for side in ("a", "b")]
    results = [os.path.join(tmp, f"{side}.txt") for side in ("a", "b")]
    status = 0
    try:
        for rev, commit, tree in zip(revs, commits, trees):
            print(f"== {rev} ({commit[:12]}) in {tree}", flush=True)
            git("worktree", "add", "--detach", tree, commit, cwd=root)
            build = os.path.join(tree, "build")
            subprocess.run(["meson", "setup", build,
                            f"--buildtype={args.buildtype}",
                            "-Dtests=enabled"], check=True)
            subprocess.run(["meson", "compile", "-C", build, "-j", "2"],
                           check=True)
        builds = [os.path.join(t, "build") for t in trees]
        have = [list_benchmarks(b) for b in builds]
        names = args.benchmarks or \
            have[0] + [n for n in have[1] if n not in have[0]]
        ok = True
        for i, name in enumerate(names):
            order = (0, 1) if i % 2 == 0 else (1, 0)
            for side in order:
                if args.benchmarks or name in have[side]:
                    print(f"== {name} on {revs[side]}", flush=True)
                    ok &= run_benchmarks(builds[side], [name],
                                         results[side])
        figures = [read_figures(r) for r in results]
        print(f"base {revs[0]}: {results[0]}\nnew  {revs[1]}: {results[1]}")
        regressions = compare(figures[0], figures[1], args.threshold / 100)
        if not ok:
            status = 1
        elif regressions and args.fail_on_regression:
            status = 1
    except subprocess.CalledProcessError as e:
        print(f"bench-compare: {' '.join(e.cmd)} failed (exit "
              f"{e.returncode})", file=sys.stderr)
        status = 1
    except InputError as e:
        print(f"bench-compare: {e}", file=sys.stderr)
        status = 1
    finally:
        for tree in trees:
            if os.path.isdir(tree):
                subprocess.run(["git", "worktree", "remove", "--force",
                                tree], cwd=root)
        if args.keep:
            print(f"figures kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return status


def main(argv=None):
    p = argparse.ArgumentParser(
        description="Compare two builds' benchmark figures (BENCH lines).",
        epilog="See the comment at the top of this script and "
               "docs/simulator.md (Benchmarks).")
    p.add_argument("files", nargs="*", metavar="BASE NEW",
                   help="two files of BENCH lines or meson JSON logs")
    p.add_argument("--threshold", type=float, default=10.0, metavar="PCT",
                   help="flag changes in the bad direction beyond PCT %% "
                        "(default 10)")
    p.add_argument("--fail-on-regression", action="store_true",
                   help="exit 1 when a figure regressed")
    p.add_argument("--run", metavar="BUILD",
                   help="run BUILD's benchmarks and save their BENCH lines")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="with --run: where to write (default "
                        "BUILD/bench-results.txt)")
    p.add_argument("--build", nargs=2, metavar=("REV_A", "REV_B"),
                   help="build two revisions side by side and compare")
    p.add_argument("--buildtype", default="debugoptimized",
                   help="with --build: meson build type (default "
                        "debugoptimized)")
    p.add_argument("--keep", action="store_true",
                   help="with --build: keep the result files")
    args = p.parse_args(argv)
    if not 0 <= args.threshold < 100:
        p.error(f"--threshold {args.threshold:g}: expected 0 to 100 "
                f"(exclusive)")

    if args.run and args.build:
        p.error("--run and --build exclude each other")
    if args.run:
        args.benchmarks = args.files
        out = args.output or os.path.join(args.run, "bench-results.txt")
        open(out, "w").close()
        ok = run_benchmarks(args.run, args.benchmarks, out)
        print(f"figures written to {out}")
        return 0 if ok else 1
    if args.build:
        args.benchmarks = args.files
        return build_and_compare(args)
    if args.output or args.keep:
        p.error("-o and --keep go with --run and --build")
    if len(args.files) != 2:
        p.error("expected two files, BASE and NEW")
    try:
        base = read_figures(args.files[0])
        new = read_figures(args.files[1])
    except InputError as e:
        print(f"bench-compare: {e}", file=sys.stderr)
        return 2
    regressions = compare(base, new, args.threshold / 100)
    return 1 if regressions and args.fail_on_regression else 0


if __name__ == "__main__":
    sys.exit(main())
