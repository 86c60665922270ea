"""From what a VM showed of one cell to its verdict, and whether it is what
the line's table claims (harness/lines/*.toml).

  PASS      the workload finished, its data verified, btrfs check is clean, no
            kernel report, and the kernel-side evidence shows the path the
            workload claims (direct IO, inline/async completions, a race)
  FAIL      a kernel report (its syzkaller-style title), a hang with no report,
            or a failed after-run check (lost writes after a power cut)
  UNPROVEN  everything passed, but the evidence contradicts the claim: a
            "direct" write that went buffered, completions that ran elsewhere,
            a race that could not happen.  Never a PASS.
  ERROR     the workload failed, its data did not verify, or btrfs check complained
  INFRA     the kernel could not be built or booted, or the guest is not what the
            cell needs (fewer CPUs than asked, a kernel that is not preemptible)
"""
from __future__ import annotations

from dataclasses import dataclass, field

from harness import evidence as evidencemod
from harness.afterrun import AfterResult
from harness.cell import CellKey
from harness import taint as taintmod
from harness.errors import EXIT_BUG, EXIT_OK, EXIT_SKIP, EXIT_USAGE
from harness.kernel_reports import bugs
from harness.lines import Claim

PASS, FAIL, ERROR, INFRA, UNPROVEN = "PASS", "FAIL", "ERROR", "INFRA", "UNPROVEN"
NO_BUG = Claim(PASS, None, "your tree: no kernel bug expected")


@dataclass
class Verdict:
    line: str
    variant: str
    workload: str
    run: int
    verdict: str
    title: str | None = None
    frame: str | None = None
    kind: str | None = None
    report: str = ""
    detail: str = ""
    expected: Claim | None = None
    timings: dict = field(default_factory=dict)
    console_log: str | None = None
    findings: list = field(default_factory=list)
    commit: str = ""
    config_hash: str = ""
    accel: str = ""
    evidence: dict = field(default_factory=dict)
    facts: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)      # e.g. the power-cut check's figures
    cell_dir: str | None = None
    source: str = ""
    taint: dict = field(default_factory=dict)      # taint.Taint.to_json() of the cell
    # which oracles ran and what each concluded, and which the cell's row
    # needed that did not run, with why: {"ran": {...}, "missing": {...}}
    oracles: dict = field(default_factory=dict)

    @property
    def key(self) -> CellKey:
        return CellKey(self.line, self.variant, self.workload, self.run)

    @property
    def id(self) -> str:
        return self.key.id

    @property
    def as_expected(self) -> bool | None:
        return None if self.expected is None else self.expected.matches(self.verdict, self.title)


def expectation(cell, expectations: bool = True) -> Claim | None:
    """The line's claim for the cell; on a tree of no line (or with
    expectations off: a user's tree) every cell is expected to PASS."""
    line = cell.variant.source.line
    if not expectations or line is None or cell.variant.ref is None:
        return NO_BUG
    if cell.variant.extra:
        return NO_BUG
    return line.claim(cell.variant.name, cell.workload.name)


def _base(cell, verdict: str, expectations: bool, **kw) -> Verdict:
    return Verdict(cell.line, cell.variant.label, cell.workload.name, cell.run, verdict,
                   expected=expectation(cell, expectations), source=cell.variant.source.label,
                   **kw)


def infra(cell, why: str, expectations: bool = True) -> Verdict:
    return _base(cell, INFRA, expectations, detail=why)


def judge(cell, r, times, findings, ev: evidencemod.Evidence, fsck: str | None,
          after: AfterResult | None, cpus: int, b, accel: str,
          expectations: bool = True) -> Verdict:
    """The verdict of one cell of VM run `r` (times: its monitor.CellTimes,
    findings: the reports that belong to it)."""
    found = bugs(findings)
    t = times.times if times else {}
    timings = {"boot": r.times.get("booted"), "start": t.get("start"),
               "workload_start": t.get("workload_start"),
               "first_report": t.get("first_report") or (
                   r.times.get("first_report") if found else None),
               "verdict": (r.times.get("verdict") if found or "end" not in t
                           else t.get("end")),
               "guest_uptime_at_boot": r.times.get("guest_uptime_at_boot")}
    common = dict(timings={k: round(x, 3) for k, x in timings.items() if x is not None},
                  console_log=f"{cell.id}/console.log", findings=found, commit=b.commit,
                  config_hash=b.config_hash, accel=accel, evidence=ev.to_json(),
                  facts=r.facts.to_json(),
                  extra=after.to_json() if isinstance(after, AfterResult) else {},
                  taint=times.taint.to_json() if times and times.taint else {})

    def out(verdict, title=None, frame=None, kind=None, report="", detail=""):
        return _base(cell, verdict, expectations, title=title, frame=frame, kind=kind,
                     report=report, detail=detail, **common)


    if getattr(r, "fault", None):
        where = r.fault.splitlines()[0]
        last = r.fault.strip().splitlines()[-1]
        v = out(ERROR, detail=f"harness fault, not a kernel verdict: {where} {last}")
        v.extra = {**v.extra, "harness_fault": r.fault}
        return v
    if found and not r.booted:
        # the kernel reported before userspace: this kernel could not be
        # booted, so no cell of it was tested (a bisect skips it); the
        # report keeps its title and text
        f = found[0]
        return out(INFRA, f.title, f.frame, f.kind, f.report,
                   f"kernel did not reach userspace ({r.reason}): {f.title}")
    if found:
        f = found[0]
        detail = f"{len(found)} distinct report(s)" + ("; corrupted report" if f.corrupted
                                                       else "")
        return out(FAIL, f.title, f.frame, f.kind, f.report, detail)
    if not r.booted:
        return out(INFRA, detail=f"kernel did not reach userspace ({r.reason})"
                   + (f": {r.tail}" if r.tail else ""))
    problem = r.facts.problem(cpus)
    if problem:
        return out(INFRA, detail=problem)
    if times is None:
        return out(ERROR, detail="; ".join(r.errors)[:300] or
                   f"the VM ended before the cell started ({r.reason})")
    if r.reason in ("no-progress", "deadline") and "end" not in t:
        blocked = next((f for f in findings if f.kind == "blocked-tasks" and f.frame), None)
        title = (f"no progress: task blocked in {blocked.frame}" if blocked
                 else "no progress (no kernel report)")
        return out(FAIL, title, blocked.frame if blocked else None, "no-progress",
                   blocked.report if blocked else "",
                   f"the workload printed no progress for its deadline ({r.reason})")
    if times.taint and times.taint.new:
        # the kernel says it reported something; the parser saw nothing
        new = times.taint.new
        return out(FAIL, f"kernel tainted ({taintmod.letters(new)}) with no recognised report",
                   None, "taint", "",
                   f"taint {times.taint.before} -> {times.taint.after} in this cell "
                   f"({taintmod.meaning(new)}), and no report the parser knows: see its "
                   "console.log")
    if times.errors:
        return out(ERROR, detail="; ".join(times.errors)[:500])
    if "end" not in t:
        return out(ERROR, detail=f"the VM ended before the cell finished ({r.reason})")
    if times.taint is None:         # silence is not an untainted kernel
        return out(ERROR, detail="the guest gave no taint reading for the cell")
    if times.rc is None:            # silence is not an exit code
        return out(ERROR, detail="the workload's exit code is missing")
    if times.rc != 0:
        return out(ERROR, detail=f"workload exited {times.rc}")
    if fsck:
        return out(ERROR, detail=f"btrfs check: {fsck}")
    if after is not None and not isinstance(after, AfterResult):
        return out(ERROR, detail="the after-run check gave no verdict")
    if after is not None and after.verdict != PASS:
        return out(after.verdict, after.title, None, after.kind, after.report, after.detail)
    ran, missing = oracles_of(cell, times, fsck, after, ev)
    common["oracles"] = {"ran": ran, "missing": missing}
    if missing:
        # a PASS with a check its row needs that did not run is no PASS
        what, why = next(iter(missing.items()))
        return out(ERROR, detail=f"the {what} check the row needs did not run: {why}")
    bug = evidencemod.missing_sync(cell.workload, ev)
    if bug:
        return out(FAIL, bug, None, "evidence", "",
                   f"{ev.stats.get('writes')} O_DSYNC writes, syncs "
                   f"{ev.sync_inline} inline / {ev.sync_async} async: "
                   "the kernel-side evidence shows no sync for writes that needed one")
    problems = evidencemod.check(cell.workload, ev)
    if problems:
        return out(UNPROVEN, detail="; ".join(problems))
    return out(PASS, detail="; ".join(x for x in (after.detail if after else "",
                                                  ev.summary()) if x))


def oracles_of(cell, times, fsck, after, ev: evidencemod.Evidence) -> tuple[dict, dict]:
    """What each oracle of a clean cell concluded, and the ones its row
    needs that gave nothing (the row's after-run check above all)."""
    ran = {"exit": f"rc={times.rc}", "kernel": "no report",
           "taint": "nothing new" if times.taint and not times.taint.new else "?"}
    missing = {}
    if fsck is not None:
        ran["fsck"] = fsck or "clean"
    if ev.available:
        ran["evidence"] = ev.summary() or "available"
    if cell.workload.after is not None:
        if after is None:
            missing["power-cut"] = ("the after-run check was not made (the cell's run was not "
                                    "clean, or the guest was not what it needs)")
        else:
            ran["power-cut"] = after.detail or after.verdict
    return ran, missing


def exit_code(verdicts: list[Verdict]) -> int:
    """0: all as expected; 125: something could not be built/booted (bisect
    skips); 1: a kernel bug where none was expected, or any other surprise.
    A run of no cells tested nothing: 2 (what was asked for holds no cell),
    never 0."""
    if not verdicts:
        return EXIT_USAGE
    # a surprise the kernel showed outranks a cell that could not run: a
    # bisect must not skip a commit that does show the regression
    if any(v.as_expected is False and v.verdict != INFRA for v in verdicts):
        return EXIT_BUG
    if any(v.verdict == INFRA for v in verdicts):
        return EXIT_SKIP
    if any(v.as_expected is False for v in verdicts):
        return EXIT_BUG
    return EXIT_OK
