#!/usr/bin/env python3
"""Build speed of a kernel line's variants on this machine.

  cold:            the line's first variant, empty build tree and empty ccache
  further variant: each other variant (seeded from a finished build)
  no-op:           a variant that is already built (median of 3)
  --cold:          only the cold build (to pair two configs: farm-bench --vs)
  --profile:       only the cold build, with every compiler call timed (a
                   gcc shim first on PATH, behind ccache): where a cold
                   build's compile time goes, per directory

  benchmarks/bench_build.py [--line 5.10] [--in-place] [--cold | --profile]

By default it uses a private cache under a temporary directory (the source
is shared), so your builds and ccache are untouched; --in-place uses (and,
for the cold figure, first empties) the real build tree and ccache;
--keep-builds builds into the real build tree (they stay, for the runs that
follow) with a private, empty ccache: cold only if this line's builds with
today's config are not there yet."""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from harness import build, lines  # noqa: E402
from harness.paths import cache_dir  # noqa: E402


def timed(line: str, variant: str, env: dict, cold: bool = False) -> float:
    t0 = time.monotonic()
    cp = subprocess.run([sys.executable, "-m", "harness", "build", "--line", line,
                         "--variant", variant], cwd=REPO, env=env, capture_output=True,
                        text=True)
    dt = time.monotonic() - t0
    if cp.returncode != 0:
        sys.exit(f"build {variant} failed: {cp.stderr.strip()[-500:]}")
    if cold and ": cached in" in cp.stdout:
        sys.exit(f"{line} {variant} is already built with this config: no cold figure "
                 "(run without --keep-builds)")
    timed.phases[variant] = _phases(cp.stdout)
    return dt


timed.phases = {}


def _phases(stdout: str) -> dict:
    """Seconds per build phase, from the stamp next to the bzImage it names."""
    import json
    for tok in stdout.split():
        if tok.endswith("arch/x86/boot/bzImage"):
            stamp = Path(tok).parents[2] / build.STAMP
            if stamp.exists():
                return json.loads(stamp.read_text()).get("phases", {})
    return {}


# Times one compiler call: start and end (ns) and the object it writes, one
# line per call, appended (a line is far below PIPE_BUF, so the two make jobs
# never interleave within one).  `sh` and `date`: a Python shim would cost
# more than a compile's own start-up.
SHIM = """#!/bin/sh
t0=$(date +%s%N)
{gcc} "$@"; rc=$?
t1=$(date +%s%N)
out=; prev=
for a in "$@"; do [ "$prev" = -o ] && out=$a; prev=$a; done
echo "$t0 $t1 $out" >> {log}
exit $rc
"""


def compile_profile(log_lines, builds_root: str = "", depth: int = 2):
    """(total compiler seconds, calls, [(directory, seconds, calls)] largest
    first) from the shim's log.  Calls without an output file (`gcc
    --version`, option probes into /dev/null) are left out.  An absolute
    output under builds_root (kbuild names some that way) counts under its
    path in the build tree: the tree's own directory is dropped."""
    root = builds_root.rstrip("/") + "/" if builds_root else None
    total, calls, per = 0.0, 0, {}
    for line in log_lines:
        parts = line.split()
        if len(parts) < 3 or parts[2] == "/dev/null":
            continue
        secs = (int(parts[1]) - int(parts[0])) / 1e9
        out = parts[2]
        if root and out.startswith(root):
            out = out[len(root):].split("/", 1)[-1]
        d = "/".join(out.split("/")[:-1][:depth]) or "."
        got = per.setdefault(d, [0.0, 0])
        got[0] += secs
        got[1] += 1
        total += secs
        calls += 1
    rows = sorted(((d, s, n) for d, (s, n) in per.items()), key=lambda r: -r[1])
    return total, calls, rows


def profile(line: str, variant: str, env: dict, tmp: str) -> None:
    shim = Path(tmp, "shim")
    shim.mkdir()
    log = Path(tmp, "compile-times.log")
    gcc = shutil.which("gcc")
    if not gcc:
        sys.exit("gcc is not on PATH: run `make setup`")
    (shim / "gcc").write_text(SHIM.format(gcc=gcc, log=log))
    (shim / "gcc").chmod(0o755)
    env = dict(env, PATH=f"{shim}:{env.get('PATH', '')}")
    wall = timed(line, variant, env, cold=True)
    total, calls, rows = compile_profile(log.read_text().splitlines(),
                                         env.get("HARNESS_BUILDS", ""))
    cores = os.cpu_count() or 1
    print(f"line {line}: cold build ({variant}) {wall:.0f} s with every compiler call timed "
          f"(the shim adds a little)")
    print(f"compiler: {total:.0f} CPU-s in {calls} calls, {total / max(calls, 1):.2f} s a call; "
          f"on {cores} cores that alone is {total / cores:.0f} s of wall time")
    for d, secs, n in rows[:25]:
        print(f"  {secs:6.1f} s {n:5d} calls  {d}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--in-place", action="store_true")
    ap.add_argument("--keep-builds", action="store_true")
    ap.add_argument("--line", default="5.10")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--cold", action="store_true")
    args = ap.parse_args()
    if args.profile and (args.in_place or args.keep_builds):
        sys.exit("--profile builds cold in a private cache: drop --in-place/--keep-builds")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    subprocess.run([sys.executable, "-m", "harness", "fetch", "--line", args.line], cwd=REPO,
                   env=env, check=True, capture_output=True)
    variants = [v.name for v in lines.get(args.line).variants]
    tmp = None
    if args.in_place:
        shutil.rmtree(build.builds_root(), ignore_errors=True)
        shutil.rmtree(cache_dir() / "ccache", ignore_errors=True)
    else:
        tmp = tempfile.mkdtemp(prefix="bench-build-")
        env |= {"CCACHE_DIR": f"{tmp}/ccache"}
        if not args.keep_builds:
            env |= {"HARNESS_BUILDS": f"{tmp}/builds"}
    if args.profile:
        try:
            profile(args.line, variants[0], env, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    try:
        cold = timed(args.line, variants[0], env, cold=True)
        if not args.cold:
            further = {v: timed(args.line, v, env) for v in variants[1:]}
            noop = [timed(args.line, v, env) for v in variants[:3]]
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"line {args.line}: build cold ({variants[0]}, empty ccache): {cold:.0f} s "
          "(goal <= 300 s)")
    ph = timed.phases.get(variants[0]) or {}
    if ph:
        print("  of which " + ", ".join(f"{k} {v:.0f} s" for k, v in ph.items()))
    if args.cold:
        return
    print("build further variant: " + ", ".join(f"{v} {t:.0f} s" for v, t in further.items())
          + f", median {statistics.median(further.values()):.0f} s (goal <= 60 s)")
    print(f"build already built (no-op): median {statistics.median(noop):.1f} s of 3 "
          f"(goal <= 5 s)")
    print(f"machine: {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
