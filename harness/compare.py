"""`harness compare RUN_A RUN_B`: what changed between two runs (e.g. last
night and tonight): new failures, fixed cells, changed titles, timing
changes.  Exit 1 when B has a regression (a cell that was PASS in A is not,
fails with a new title, or is missing from B), else 0."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError

TIMING_KEYS = ("boot", "workload_start", "verdict")
SLOWER = 1.5          # a timing this many times slower (and >= 2 s more) is reported


@dataclass
class Change:
    cell: str
    what: str          # new-failure | fixed | title-changed | new-cell | gone | slower | faster
    before: str
    after: str

    @property
    def regression(self) -> bool:
        """A cell of A that B did not run is a regression too: its claim went
        unchecked (a crashed VM, a dropped workload), which is never fine."""
        return self.what in ("new-failure", "title-changed", "gone")


def load(run: str | Path) -> dict[str, dict]:
    p = Path(run)
    f = p / "result.json" if p.is_dir() else p
    try:
        doc = json.loads(f.read_text())
    except (OSError, ValueError) as e:
        raise HarnessError(f"{run}: not a results folder or result.json ({e})")
    # results from before kernel lines were 5.10 and had one run per cell
    return {f"{r.get('line', '5.10')}/{r['variant']}/{r['workload']}/{r.get('run', 1)}": r
            for r in doc.get("results", [])}


def _state(r: dict) -> str:
    return r["verdict"] + (f": {r['title']}" if r.get("title") else "")


def compare(a: dict[str, dict], b: dict[str, dict]) -> list[Change]:
    out = []
    for cell in sorted(set(a) | set(b)):
        ra, rb = a.get(cell), b.get(cell)
        if ra is None:
            out.append(Change(cell, "new-cell", "-", _state(rb)))
            continue
        if rb is None:
            out.append(Change(cell, "gone", _state(ra), "-"))
            continue
        va, vb = ra["verdict"], rb["verdict"]
        if va == "PASS" and vb != "PASS":
            out.append(Change(cell, "new-failure", _state(ra), _state(rb)))
        elif va != "PASS" and vb == "PASS":
            out.append(Change(cell, "fixed", _state(ra), _state(rb)))
        elif va == vb == "FAIL" and ra.get("title") != rb.get("title"):
            out.append(Change(cell, "title-changed", _state(ra), _state(rb)))
        for k in TIMING_KEYS:
            ta, tb = ra.get("timings", {}).get(k), rb.get("timings", {}).get(k)
            if ta and tb and abs(tb - ta) >= 2.0 and (tb / ta >= SLOWER or ta / tb >= SLOWER):
                out.append(Change(cell, "slower" if tb > ta else "faster",
                                  f"{k} {ta:.1f} s", f"{k} {tb:.1f} s"))
    return out


def cmd(run_a: str, run_b: str, as_json: bool = False) -> int:
    changes = compare(load(run_a), load(run_b))
    if as_json:
        print(json.dumps([c.__dict__ | {"regression": c.regression} for c in changes], indent=1))
    elif not changes:
        print("no changes")
    else:
        for c in changes:
            flag = "REGRESSION " if c.regression else ""
            print(f"{flag}{c.what:13} {c.cell:28} {c.before}  ->  {c.after}")
    regressions = sum(c.regression for c in changes)
    if not as_json:
        print(f"{regressions} regression(s), {sum(c.what == 'fixed' for c in changes)} fixed")
    return 1 if regressions else 0
