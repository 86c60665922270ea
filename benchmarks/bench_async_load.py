#!/usr/bin/env python3
"""How often an async shape's completion runs inline under host load, per
dm-delay write delay.  Prints, for each delay (paired: the runs interleave,
so the host's noise hits every delay alike):

  cells held       cell runs whose claim held (PASS, or the claimed FAIL)
  inline           write completions that ran in the submitter, summed over
                   the runs (an async claim wants 0; a cell that deadlocked
                   has no counts and adds one)
  wall             seconds of its `harness run`s (what the delay costs)

The async shapes (i libaio-async, j io_uring-async) rest on dm-delay holding
every write until the submitter has left ->write_iter.  Under TCG a host that
preempts the submitting vCPU for longer than the delay lets a completion run
inline: on 5.10 base that is the seed's deadlock (a FAIL where PASS is
claimed), elsewhere an UNPROVEN cell.  Measured 2026-12-03 (2 host cores, two
busy host tasks, 5.10 base and workaround, --repeat 3 --rounds 2): 10 ms
23/24 held (1 inline completion), 375 s; 100 ms 24/24 (0 inline), 391 s.
(A first unpaired try with --repeat 3: 10 ms 10/12, 100 ms 12/12.)

  benchmarks/bench_async_load.py [--line 5.10] [--variants base,workaround]
      [--delays 10,100] [--repeat 3] [--burners 2]
"""
import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_vm import harness   # this folder is on sys.path when run as a script

REPO = Path(__file__).resolve().parent.parent


def run(line, variants, delay, repeat, out):
    args = ["--line", line, "--workload", "i", "--workload", "j", "--repeat", str(repeat),
            "--shared-jobs", "1", *sum((["--variant", v] for v in variants), [])]
    kargs = f"{os.environ.get('HARNESS_KERNEL_ARGS', '')} HARNESS_DELAY_MS={delay}".strip()
    wall, doc, _ = harness(args, out, HARNESS_KERNEL_ARGS=kargs)
    return wall, doc["results"]


def inline(cell) -> int:
    """Inline completions of one cell, from its evidence (a deadlocked cell
    has none recorded: count it as one, the completion that deadlocked)."""
    detail = cell.get("detail") or ""
    if "completions " in detail:
        return int(detail.split("completions ", 1)[1].split(" inline", 1)[0])
    if " of " in detail and "ran inline" in detail:
        return int(detail.split(" of ", 1)[0])
    return 0 if cell["as_expected"] else 1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--line", default="5.10")
    ap.add_argument("--variants", default="base,workaround")
    ap.add_argument("--delays", default="10,100")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=1, help="interleaved rounds per delay")
    ap.add_argument("--burners", type=int, default=2, help="busy host tasks during the runs")
    a = ap.parse_args()
    delays = [int(d) for d in a.delays.split(",")]
    variants = a.variants.split(",")
    out = Path(tempfile.mkdtemp(prefix="bench-async-"))
    subprocess.run([sys.executable, "-m", "harness", "build", "--line", a.line,
                    *sum((["--variant", v] for v in variants), [])], cwd=REPO, check=True,
                   env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True)
    burn = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(a.burners)]
    cells = {d: [] for d in delays}
    walls = {d: 0.0 for d in delays}
    try:
        for _ in range(a.rounds):
            for d in delays:
                wall, cs = run(a.line, variants, d, a.repeat, out)
                cells[d] += cs
                walls[d] += wall
    finally:
        for p in burn:
            p.kill()
    print(f"line {a.line}, variants {a.variants}, workloads libaio-async and io_uring-async, "
          f"{os.cpu_count()} host cores, {a.burners} busy host tasks, --repeat {a.repeat} "
          f"x {a.rounds} round(s), interleaved")
    for d in delays:
        cs = cells[d]
        held = sum(1 for c in cs if c["as_expected"])
        print(f"delay {d:4d} ms: cells held {held}/{len(cs)}, inline "
              f"{sum(inline(c) for c in cs)}, wall {walls[d]:.0f} s")


if __name__ == "__main__":
    main()
