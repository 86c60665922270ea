"""How fast the explorer judges cases, and how much of the alphabet a budget
covers.

    .venv/bin/python benchmarks/bench_explore.py --line 7.2 --variant shipped --cases 48
    .venv/bin/python benchmarks/bench_explore.py --coverage-only --rate 40

Runs the first N cases of the seeded plan (the whole alphabet, btrfs) on
one kernel with `harness explore --no-shrink`, then prints cases a minute
(wall clock, from the start of the first batch), the write and check VMs'
seconds per batch (median), images per case, and for budgets of 30 minutes
and a night (8 hours) the share of the alphabet's values and pairs the plan's
first cases at that rate cover.  The machine is noisy (2 cores, TCG): run it
on an idle host; the figures are medians of the batches of one run.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from harness import alphabet, generate  # noqa: E402
from harness.paths import cache_dir  # noqa: E402
from harness.exploration import pair_base  # noqa: E402


def coverage_at(rate: float, minutes: float, seed: int, fs: list[str]) -> dict:
    a = alphabet.load().restrict({"fs": fs})
    plan = generate.plan(a, seed, 3, 0, pair_base(a), cache=cache_dir() / "explore-plans")
    n = min(len(plan.cases), int(rate * minutes))
    cov = generate.coverage(a, list(plan.cases[:n]))
    return {"minutes": minutes, "cases": n, "plan": len(plan.cases),
            "values": f"{cov['values']}/{cov['values_all']}",
            "pairs": f"{cov['pairs']}/{cov['pairs_all']} "
                     f"({100 * cov['pairs'] / cov['pairs_all']:.0f} %)"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--line", default="7.2")
    ap.add_argument("--variant", default="shipped")
    ap.add_argument("--cases", type=int, default=48)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fs", default="btrfs")
    ap.add_argument("--coverage-only", action="store_true",
                    help="skip the run; use --rate cases a minute")
    ap.add_argument("--rate", type=float, default=None)
    args = ap.parse_args()
    fs = args.fs.split(",")
    rate = args.rate
    if not args.coverage_only:
        with tempfile.TemporaryDirectory() as tmp:
            cp = subprocess.run([sys.executable, "-m", "harness", "explore", "--line", args.line,
                                 "--variant", args.variant, "--cases", str(args.cases),
                                 "--seed", str(args.seed), "--fs", args.fs, "--no-shrink",
                                 "--results", tmp], cwd=REPO, capture_output=True, text=True)
            (run,) = [p for p in Path(tmp).iterdir() if p.is_dir()]
            s = json.loads((run / "summary.json").read_text())
            rows = [json.loads(ln) for ln in (run / "explore.jsonl").read_text().splitlines()]
            batches = [d for d in (run / "batches").iterdir() if d.is_dir()]
        rate = s["cases_per_minute"]
        print(f"{args.line} {args.variant}: {s['outcomes']} cases in {s['batches']} batches, "
              f"{rate} cases a minute (exit {cp.returncode})")
        verdicts = {v: sum(r["verdict"] == v for r in rows) for v in ("PASS", "FAIL", "INFRA")}
        cuts = [len(r["cuts"]) for r in rows]
        print(f"  verdicts {verdicts}; cut images a case: median {statistics.median(cuts)}")
        print(f"  batches: {len(batches)}; VM seconds in all {s['vm_seconds']}")
    if not rate:
        ap.error("--coverage-only needs --rate")
    for minutes in (30, 480):
        c = coverage_at(rate, minutes, args.seed, fs)
        print(f"  at {rate} cases a minute, {minutes} min: {c['cases']} of the plan's "
              f"{c['plan']} cases; values {c['values']}, pairs {c['pairs']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
