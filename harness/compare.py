"""`harness compare RUN_A RUN_B`: what changed between two runs (e.g. last
night and tonight): new failures, fixed cells, changed titles, timing
changes.  Exit 1 when B has a regression, else 0.

Cells judged against a line's claims (result.json's `as_expected`) are
compared by their claims: a claim that held in A and not in B is a
regression whatever the verdicts (a positive control that stopped failing
is the harness going blind, not a fix), and a control that fails with
another title of its bug's family is only a change of first symptom.
Cells without claims (a user's tree) are compared by verdict: a PASS that
is no longer one, a FAIL with a new title or one that became ERROR, INFRA
or UNPROVEN (the bug can no longer be seen) is a regression.  A cell of A
missing from B is always one."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from harness.cell import CellKey
from harness.errors import HarnessError

TIMING_KEYS = ("boot", "workload_start", "verdict")
SLOWER = 1.5          # a timing this many times slower (and >= 2 s more) is reported


@dataclass
class Change:
    cell: str
    what: str          # new-failure | fixed | title-changed | verdict-changed | claim-broken |
                       # claim-restored | other-symptom | new-cell | gone | slower | faster
    before: str
    after: str

    @property
    def regression(self) -> bool:
        """A cell of A that B did not run is a regression too: its claim went
        unchecked (a crashed VM, a dropped workload), which is never fine."""
        return self.what in ("new-failure", "title-changed", "verdict-changed",
                             "claim-broken", "gone")


def load(run: str | Path) -> dict[str, dict]:
    p = Path(run)
    f = p / "result.json" if p.is_dir() else p
    try:
        doc = json.loads(f.read_text())
    except (OSError, ValueError) as e:
        raise HarnessError(f"{run}: not a results folder or result.json ({e})")
    return {CellKey.of(r).path: r for r in doc.get("results", [])}


def _state(r: dict) -> str:
    return r["verdict"] + (f": {r['title']}" if r.get("title") else "")


def _claim_change(ra: dict, rb: dict) -> str | None:
    """For cells both runs judged against a claim ("" when nothing changed);
    None when either run had no claim for the cell."""
    ha, hb = ra.get("as_expected"), rb.get("as_expected")
    if ha is None or hb is None:
        return None
    if ha and not hb:
        return "claim-broken"
    if hb and not ha:
        return "claim-restored"
    if ra["verdict"] == rb["verdict"] == "FAIL" and ra.get("title") != rb.get("title"):
        return "other-symptom" if hb else "title-changed"
    if ra["verdict"] != rb["verdict"]:
        return "verdict-changed" if not hb else "other-symptom"
    return ""


def _verdict_change(ra: dict, rb: dict) -> str | None:
    va, vb = ra["verdict"], rb["verdict"]
    if va == "PASS" and vb != "PASS":
        return "new-failure"
    if va != "PASS" and vb == "PASS":
        return "fixed"
    if va == vb == "FAIL" and ra.get("title") != rb.get("title"):
        return "title-changed"
    if va == "FAIL" and vb != "FAIL":
        return "verdict-changed"
    return None


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
        change = _claim_change(ra, rb)
        if change is None:                  # no claims: by verdict
            change = _verdict_change(ra, rb)
        if change:
            out.append(Change(cell, change, _state(ra), _state(rb)))
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
