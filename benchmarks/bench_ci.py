#!/usr/bin/env python3
"""What `make test` costs on a fresh machine, by phase: the suite run from
an empty cache (HARNESS_CACHE a new directory: no sources, no builds, no
ccache, no guest root), the host's packages and the venv already there.

  benchmarks/bench_ci.py [--cache DIR] [--keep] [-- PYTEST ARGS...]

Runs the suite as `make test` does (its session fetches the line sources
in the background, tests/conftest.py) and prints, in seconds:

  sources        each line's fetch (download, unpack, record as git
                 commits, variants: src/*/.git/harness-fetch.json); they
                 overlap the suite, so they are not added to the total
  cold builds    the first build of each line (harness-build.json, cold)
  further builds every other build (variants seeded from a line's first)
  VM tests       the test files that boot kernels, builds taken out
  the rest       every other test file (unit tests, the parser corpus)
  make coverage  make test's second step, the coverage floors
  total          suite + coverage, wall clock
  host idle      the share of the two cores nobody used during the suite
                 (/proc/stat): what overlapping more could still win

and the ten slowest test files.  Builds run inside the VM tests (a fixture
builds what its cells need), so the VM figure is their wall time minus the
builds.  Re-measure whenever cells, lines or disk kinds are added; the
README's figure comes from here.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# the test files that build and boot kernels
VM_TESTS = {"test_matrix", "test_lines_vm", "test_writethrough_vm", "test_vm", "test_bisect",
            "test_accel", "test_remote", "test_cli", "test_guestroot", "test_verdict",
            "test_matrix_plan", "test_build", "test_bench_build", "test_git_source"}


def cpu_times() -> tuple[int, int]:
    """(idle, total) jiffies of the host since boot."""
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return f[3] + f[4], sum(f[:8])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", help="an empty directory to use (default: a new one)")
    ap.add_argument("--keep", action="store_true", help="keep the cache afterwards")
    ap.add_argument("pytest", nargs="*", help="more pytest arguments (after --)")
    args = ap.parse_args()
    cache = Path(args.cache) if args.cache else Path(tempfile.mkdtemp(prefix="bench-ci-"))
    cache.mkdir(parents=True, exist_ok=True)
    if any(cache.iterdir()):
        print(f"bench_ci: {cache} is not empty: the figure is for an empty cache",
              file=sys.stderr)
        return 2
    env = dict(os.environ, HARNESS_CACHE=str(cache), CI="1")
    py = str(REPO / ".venv" / "bin" / "python")
    t0 = time.monotonic()
    junit = cache / "junit.xml"
    idle0 = cpu_times()
    cp = subprocess.run([py, "-m", "pytest", "-ra", "-q", "-m", "not lines", "tests",
                         f"--junitxml={junit}",
                         *args.pytest], cwd=REPO, env=env)
    suite = time.monotonic() - t0
    idle1 = cpu_times()
    idle = (idle1[0] - idle0[0]) / max(1, idle1[1] - idle0[1])
    t = time.monotonic()            # make test's second step: the coverage floors
    cov = subprocess.run(["make", "--no-print-directory", "coverage"], cwd=REPO, env=env,
                         capture_output=True, text=True)
    coverage = time.monotonic() - t
    total = time.monotonic() - t0

    sources = {}
    for f in sorted((cache / "src").glob("*/.git/harness-fetch.json")):
        d = json.loads(f.read_text())
        sources[d["line"]] = d["seconds"]
    # a source that is there with no record of its fetch: the figure would
    # be short without saying so
    unrecorded = [r.parent.parent.name
                  for r in sorted((cache / "src").glob("*/.git/harness-ready"))
                  if not (r.parent / "harness-fetch.json").exists()]
    cold, further = [], []
    for f in sorted((cache / "builds").glob("*/harness-build.json")):
        b = json.loads(f.read_text())
        (cold if b.get("cold") else further).append((f.parent.name, b["seconds"]))
    per_file: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    if junit.exists():
        for case in ET.parse(junit).getroot().iter("testcase"):
            name = case.get("classname", "").split(".")[-1] or case.get("file", "?")
            per_file[name] += float(case.get("time", 0))
            counts[name] += 1
    builds = sum(s for _, s in cold) + sum(s for _, s in further)
    vm = sum(s for n, s in per_file.items() if n in VM_TESTS)
    rest = sum(s for n, s in per_file.items() if n not in VM_TESTS)

    print(f"bench_ci: make test's suite from an empty cache ({cache}), exit {cp.returncode}")
    print(f"  sources         {sum(sources.values()):7.0f} s  "
          + ", ".join(f"{k} {v:.0f}" for k, v in sources.items())
          + "  (in the background: not added)"
          + (f"; no fetch record: {', '.join(unrecorded)}" if unrecorded else ""))
    print(f"  cold builds     {sum(s for _, s in cold):7.0f} s  {len(cold)} builds: "
          + ", ".join(f"{n.rsplit('-', 1)[0]} {s:.0f}" for n, s in cold))
    print(f"  further builds  {sum(s for _, s in further):7.0f} s  {len(further)} builds")
    print(f"  VM tests        {max(vm - builds, 0):7.0f} s  (their {vm:.0f} s less the builds)")
    print(f"  the rest        {rest:7.0f} s")
    print(f"  make coverage   {coverage:7.0f} s  (exit {cov.returncode})")
    print(f"  total           {total:7.0f} s  ({total / 60:.1f} min; the suite alone "
          f"{suite / 60:.1f} min)")
    print(f"  host idle       {idle:7.1%}  of the suite's CPU time")
    print("  slowest test files:")
    for n, s in sorted(per_file.items(), key=lambda x: -x[1])[:10]:
        print(f"    {s:7.0f} s  {n} ({counts[n]} tests)")
    if not args.keep and not args.cache:
        shutil.rmtree(cache, ignore_errors=True)
    return cp.returncode or cov.returncode


if __name__ == "__main__":
    sys.exit(main())
