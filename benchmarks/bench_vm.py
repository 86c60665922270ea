#!/usr/bin/env python3
"""VM-side speed, with builds cached:

  boot -> workload start     median over every cell of the matrix
  deadlock -> verdict        base x extending: from the workload start (the
                             deadlocking write is its first syscall) to the
                             verdict; median of 5 runs
  whole default matrix       wall time of `harness run` (every variant x
                             every workload), builds cached
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def harness_run(args, out):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    t0 = time.monotonic()
    cp = subprocess.run([sys.executable, "-m", "harness", "run", "--results", str(out), *args],
                        cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.monotonic() - t0
    if cp.returncode not in (0, 1):
        sys.exit(f"harness run {' '.join(args)} failed ({cp.returncode}): {cp.stderr[-800:]}")
    run_dir = Path(cp.stdout.strip().splitlines()[-1].split("results: ", 1)[1])
    return wall, json.loads((run_dir / "result.json").read_text())


def main() -> None:
    out = Path(tempfile.mkdtemp(prefix="bench-vm-"))
    subprocess.run([sys.executable, "-m", "harness", "build"], cwd=REPO, check=True,
                   env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True)
    wall, doc = harness_run([], out)
    cells = doc["results"]
    boots = [c["timings"]["workload_start"] for c in cells if "workload_start" in c["timings"]]
    guest = [c["timings"]["guest_uptime_at_boot"] for c in cells
             if "guest_uptime_at_boot" in c["timings"]]
    dl = []
    for _ in range(5):
        _, one = harness_run(["--variant", "base", "--workload", "extending"], out)
        t = one["results"][0]["timings"]
        assert one["results"][0]["verdict"] == "FAIL", one["results"][0]
        dl.append(t["verdict"] - t["workload_start"])
    print(f"accelerator: {doc['accelerator']}, {os.cpu_count()} cores, "
          f"{len(cells)} cells, 2 VMs at a time")
    print(f"boot -> workload start: median {statistics.median(boots):.1f} s "
          f"(guest clock at init: {statistics.median(guest):.1f} s) (goal <= 8 s)")
    print(f"deadlock -> verdict (base x extending): median {statistics.median(dl):.1f} s "
          f"of 5 (goal <= 5 s; hung-task default would be 120 s)")
    print(f"whole default matrix, builds cached: {wall:.0f} s (goal <= 240 s); "
          f"as expected: {all(c['as_expected'] is not False for c in cells)}")


if __name__ == "__main__":
    main()
