#!/usr/bin/env python3
"""Build speed of the default source's variants on this machine.

  cold:            first variant (base), empty build tree and empty ccache
  further variant: workaround, then fixed (seeded from a finished build)
  no-op:           a variant that is already built (median of 3)

By default it uses a private cache under a temporary directory (the source
is shared), so your builds and ccache are untouched; --in-place uses (and,
for the cold figure, first empties) the real build tree and ccache."""
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
from harness import build  # noqa: E402
from harness.paths import cache_dir  # noqa: E402


def timed(variant: str, env: dict) -> float:
    t0 = time.monotonic()
    cp = subprocess.run([sys.executable, "-m", "harness", "build", "--variant", variant],
                        cwd=REPO, env=env, capture_output=True, text=True)
    dt = time.monotonic() - t0
    if cp.returncode != 0:
        sys.exit(f"build {variant} failed: {cp.stderr.strip()[-500:]}")
    return dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--in-place", action="store_true")
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    subprocess.run([sys.executable, "-m", "harness", "fetch"], cwd=REPO, env=env, check=True,
                   capture_output=True)
    tmp = None
    if args.in_place:
        shutil.rmtree(build.builds_root(), ignore_errors=True)
        shutil.rmtree(cache_dir() / "ccache", ignore_errors=True)
    else:
        tmp = tempfile.mkdtemp(prefix="bench-build-")
        env |= {"HARNESS_BUILDS": f"{tmp}/builds", "CCACHE_DIR": f"{tmp}/ccache"}
    try:
        cold = timed("base", env)
        further = [timed("workaround", env), timed("fixed", env)]
        noop = [timed(v, env) for v in ("base", "workaround", "fixed")]
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"build cold (base, empty ccache): {cold:.0f} s (goal <= 360 s)")
    print(f"build further variant: workaround {further[0]:.0f} s, fixed {further[1]:.0f} s, "
          f"median {statistics.median(further):.0f} s (goal <= 90 s)")
    print(f"build already built (no-op): median {statistics.median(noop):.1f} s of 3 "
          f"(goal <= 5 s)")
    print(f"machine: {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
