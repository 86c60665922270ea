#!/usr/bin/env python3
"""VM-side speed, builds cached, 2-vCPU SMP+PREEMPT guests under this host's
accelerator.  Prints:

  boot -> workload start   median over the VMs of the matrix run (QEMU start
                           to the first cell's workload start)
  deadlock -> verdict      base x extending alone in its VM: QEMU start to the
                           verdict (the lockdep burst is out); median of 5 runs,
                           one VM at a time (--shared-jobs 1: the latency of one
                           VM, not the throughput of two)
  line's matrix            wall time of `harness run --line L` (every variant x
                           every workload, the default scheduling), median of
                           --runs runs, and whether every claim held in each

  benchmarks/bench_vm.py [--line 5.10] [--jobs 1] [--runs 1]
  benchmarks/bench_vm.py --runners qemu,vng [--line 5.10]

With --runners, only the two boot figures, for each runner in one run
(interleaved, 5 VMs each): boot -> workload start of the shipped/fixed
kernel's extending cell, and deadlock -> verdict.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEADLOCK = {"5.10": ("base", "extending")}      # lines without one use their re-break
DEADLOCK_DEFAULT = ("rebreak", "extending")


def harness(args, out, **env_extra):
    """`harness run --results OUT ARGS` -> (wall seconds, result.json, exit code)."""
    env = dict(os.environ, PYTHONPATH=str(REPO), **env_extra)
    t0 = time.monotonic()
    cp = subprocess.run([sys.executable, "-m", "harness", "run", "--results", str(out), *args],
                        cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.monotonic() - t0
    if cp.returncode not in (0, 1):
        sys.exit(f"harness run {' '.join(args)} failed ({cp.returncode}): {cp.stderr[-800:]}")
    run_dir = Path(cp.stdout.strip().splitlines()[-1].split("results: ", 1)[1])
    return wall, json.loads((run_dir / "result.json").read_text()), cp.returncode


PASSING = {"5.10": "fixed"}                      # lines without one use "shipped"


def runners(line: str, names: list[str], out: Path, n: int = 5) -> None:
    """Boot figures per runner, the runs interleaved so machine noise hits
    every runner alike."""
    variant, workload = DEADLOCK.get(line, DEADLOCK_DEFAULT)
    passing = PASSING.get(line, "shipped")
    starts = {r: [] for r in names}
    verdicts = {r: [] for r in names}
    for _ in range(n):
        for r in names:
            _, doc, _ = harness(["--line", line, "--variant", passing, "--workload", workload,
                                 "--runner", r], out)
            (cell,) = doc["results"]
            assert cell["verdict"] == "PASS", (r, cell["verdict"], cell.get("detail"))
            starts[r].append(cell["timings"]["workload_start"])
            _, doc, _ = harness(["--line", line, "--variant", variant, "--workload", workload,
                                 "--runner", r], out)
            (cell,) = doc["results"]
            assert cell["verdict"] == "FAIL", (r, cell["verdict"], cell.get("detail"))
            verdicts[r].append(cell["timings"]["verdict"])
    print(f"line {line}: {os.cpu_count()} host cores, {n} runs per runner and figure, "
          "interleaved")
    for r in names:
        print(f"runner {r}: boot -> workload start median {statistics.median(starts[r]):.1f} s "
              f"({passing} x {workload}); deadlock -> verdict median "
              f"{statistics.median(verdicts[r]):.1f} s ({variant} x {workload})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--line", default="5.10")
    ap.add_argument("--jobs", default="1")
    ap.add_argument("--runs", type=int, default=1, help="matrix runs (median wall time)")
    ap.add_argument("--runners", help="comma list, e.g. qemu,vng: boot figures per runner only")
    a = ap.parse_args()
    out = Path(tempfile.mkdtemp(prefix="bench-vm-"))
    subprocess.run([sys.executable, "-m", "harness", "build", "--line", a.line], cwd=REPO,
                   check=True, env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True)
    if a.runners:
        runners(a.line, a.runners.split(","), out)
        return
    runs = [harness(["--line", a.line, "--jobs", a.jobs], out) for _ in range(a.runs)]
    walls = [w for w, _, _ in runs]
    wall, doc, rc = sorted(runs, key=lambda x: x[0])[len(runs) // 2]
    starts = []
    for vm in doc["vms"]:
        first = next((r for r in doc["results"] if r["id"] == (vm["cells"] or [None])[0]), None)
        if first and "workload_start" in first["timings"]:
            starts.append(first["timings"]["workload_start"])
    variant, workload = DEADLOCK.get(a.line, DEADLOCK_DEFAULT)
    _, one, _ = harness(["--line", a.line, "--variant", variant, "--workload", workload,
                         "--repeat", "5", "--shared-jobs", "1"], out)
    dl = [r["timings"]["verdict"] for r in one["results"] if r["verdict"] == "FAIL"]
    assert len(dl) == 5, [r["verdict"] for r in one["results"]]
    print(f"line {a.line}: accelerator {doc['accelerator']}, {os.cpu_count()} host cores, "
          f"{doc['cpus']} CPUs per guest, {a.jobs} heavy VM(s) at a time, light ones "
          "beside (harness run's default --shared-jobs)")
    print(f"boot -> workload start: median {statistics.median(starts):.1f} s over "
          f"{len(starts)} VMs")
    print(f"deadlock -> verdict ({variant} x {workload}, from QEMU start): median "
          f"{statistics.median(dl):.1f} s of 5 (goal <= 5 s)")
    cells = len(doc["results"])
    held = ", ".join(f"{sum(1 for r in d['results'] if r['as_expected'])}/{cells}"
                     for _, d, _ in runs)
    times = ", ".join(f"{w:.0f}" for w in walls)
    codes = ", ".join(str(c) for _, _, c in runs)
    print(f"line {a.line} matrix, builds cached: median {wall:.0f} s of {len(runs)} "
          f"({times} s) for {cells} cells in {len(doc['vms'])} VMs; as claimed: {held}; "
          f"exit {codes}")


if __name__ == "__main__":
    main()
