#!/usr/bin/env python3
"""Bisect speed: the 17-commit history of tests/bisect_history.py (one
commit that does not build, one culprit that brings the deadlock back) on
top of the default source, bisected with `harness bisect`.  Prints the time
of each step (incremental build + boot + workload) and of the whole bisect.
Builds of the history's commits are cached like any other, so this is cold
only the first time it runs on a machine."""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
from bisect_history import cleanup, make_history  # noqa: E402

from harness import lines, source  # noqa: E402


def main() -> None:
    src = source.resolve(line=lines.get("5.10"), progress=lambda m: None)
    good, bad, culprit = make_history(src.path)
    out = Path(tempfile.mkdtemp(prefix="bench-bisect-"))
    try:
        t0 = time.monotonic()
        cp = subprocess.run([sys.executable, "-m", "harness", "bisect", "--kernel-tree",
                             str(src.path), "--good", good, "--bad", bad, "--workload",
                             "extending", "--results", str(out), "--reset"],
                            cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)),
                            capture_output=True, text=True)
        wall = time.monotonic() - t0
    finally:
        cleanup(src.path)
    if cp.returncode != 0:
        sys.exit(f"bisect failed: {cp.stdout[-1500:]} {cp.stderr[-1500:]}")
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    steps = [json.loads(ln) for ln in (run_dir / "bisect-steps.jsonl").read_text().splitlines()]
    found = json.loads((run_dir / "bisect.json").read_text())["culprit"]
    times = [s["seconds"] for s in steps]
    print(f"bisect: {len(steps)} steps over 17 commits, culprit "
          f"{'found' if found == culprit else 'MISSED'} ({found[:12] if found else None})")
    for s in steps:
        print(f"  step {s['commit'][:12]} {s['decision']:7} {s['seconds']:5.0f} s  {s['subject']}")
    print(f"one step (incremental build + boot + workload): median {statistics.median(times):.0f} s,"
          f" max {max(times):.0f} s (goal <= 90 s)")
    print(f"whole bisect: {wall:.0f} s (goal <= 600 s)")


if __name__ == "__main__":
    main()
