"""From what a VM run showed to one verdict per (variant, workload), and
whether it is what the matrix expected."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from harness.errors import EXIT_BUG, EXIT_OK, EXIT_SKIP
from harness.kernel_reports import bugs

PASS, FAIL, ERROR, INFRA = "PASS", "FAIL", "ERROR", "INFRA"


@dataclass(frozen=True)
class Expectation:
    verdict: str                  # PASS or FAIL
    title: str | None = None      # regex the FAIL title must match
    why: str = ""

    def matches(self, verdict: str, title: str | None) -> bool:
        if verdict != self.verdict:
            return False
        return self.title is None or bool(title and re.search(self.title, title))

    def __str__(self) -> str:
        return self.verdict + (f" /{self.title}/" if self.title else "")


# The default matrix's claims, as measured on 5.10.223 under TCG.  A cell
# that is not listed is not checked (shown as "-"): base x libaio/io_uring
# deadlock only when the AIO completion runs in the submitting task, which
# depends on timing; both outcomes were seen.  Everything on `fixed` passes.
DEADLOCK = r"^possible deadlock in btrfs_sync_file$"
_SYNC_REENTRY = "iomap_dio_complete -> generic_write_sync -> btrfs_sync_file under i_rwsem/dio_sem"
DEFAULT_EXPECTATIONS: dict[tuple[str, str], Expectation] = {
    ("base", "extending"): Expectation(FAIL, DEADLOCK, "recursive i_rwsem: " + _SYNC_REENTRY),
    ("base", "overwrite"): Expectation(FAIL, DEADLOCK, "dio_sem read held, fsync wants write"),
    ("base", "rwf-dsync"): Expectation(FAIL, DEADLOCK, "RWF_DSYNC sets IOCB_DSYNC too"),
    ("base", "unaligned"): Expectation(FAIL, DEADLOCK, "the direct write after the fallback"),
    ("base", "fsync-race"): Expectation(PASS, None, "no O_DSYNC: nothing re-enters fsync"),
    ("base", "durability"): Expectation(FAIL, DEADLOCK, "its psync phase deadlocks first"),
    ("workaround", "unaligned"): Expectation(
        FAIL, r"^BTRFS: assertion failed in btrfs_reserve_data_bytes$",
        "the BTRFS_DIO_SYNC_STUB leaked in current->journal_info"),
    **{(v, w): Expectation(PASS, None, "0001 alone handles aligned writes")
       for v in ("workaround", "nosync")
       for w in ("extending", "overwrite", "libaio", "io_uring", "rwf-dsync", "fsync-race")},
    ("workaround", "durability"): Expectation(PASS, None, "->end_io syncs async completions"),
    ("nosync", "unaligned"): Expectation(
        FAIL, r"^BTRFS: assertion failed in btrfs_reserve_data_bytes$", "as on workaround"),
    ("nosync", "durability"): Expectation(
        FAIL, r"^lost O_DSYNC write after power cut \((libaio|uring)(, (libaio|uring))?\)$",
        "the async completion skips the sync: acknowledged AIO writes are lost"),
}
FIXED_EXPECTATION = Expectation(PASS, None, "as shipped: both patches applied")
NO_BUG = Expectation(PASS, None, "no kernel bug expected")


def expectation_for(variant: str, workload: str, default_matrix: bool) -> Expectation | None:
    if not default_matrix:
        return NO_BUG
    if variant == "fixed":
        return FIXED_EXPECTATION
    return DEFAULT_EXPECTATIONS.get((variant, workload))


@dataclass
class Verdict:
    variant: str
    workload: str
    verdict: str
    title: str | None = None
    frame: str | None = None
    kind: str | None = None
    report: str = ""
    detail: str = ""
    expected: Expectation | None = None
    timings: dict = field(default_factory=dict)
    console_log: str | None = None
    findings: list = field(default_factory=list)
    commit: str = ""
    config_hash: str = ""
    accel: str = ""
    extra: dict = field(default_factory=dict)     # e.g. the durability check's figures

    @property
    def as_expected(self) -> bool | None:
        return None if self.expected is None else self.expected.matches(self.verdict, self.title)


def judge(run) -> tuple[str, str | None, str | None, str | None, str, str]:
    """(verdict, title, frame, kind, report, detail) for a vm.VmRun."""
    found = bugs(run.findings)
    if found:
        f = found[0]
        detail = f"{len(found)} distinct report(s)" + (
            "; corrupted report" if f.corrupted else "")
        return FAIL, f.title, f.frame, f.kind, f.report, detail
    if "booted" not in run.times:
        return INFRA, None, None, None, "", (f"kernel did not reach userspace ({run.reason})"
                                             + (f": {run.tail}" if run.tail else ""))
    if run.reason in ("no-progress", "deadline"):
        blocked = next((f for f in run.findings if f.kind == "blocked-tasks" and f.frame), None)
        title = (f"no progress: task blocked in {blocked.frame}" if blocked
                 else "no progress (no kernel report)")
        return (FAIL, title, blocked.frame if blocked else None, "no-progress",
                blocked.report if blocked else "",
                f"workload printed no progress for its deadline ({run.reason})")
    if run.errors:
        return ERROR, None, None, None, "", "; ".join(run.errors)[:500]
    if run.rc not in (0, None) or run.done_rc not in (0, None):
        return ERROR, None, None, None, "", f"workload exited {run.rc if run.rc is not None else run.done_rc}"
    if run.reason != "done":
        return ERROR, None, None, None, "", f"VM ended before the workload finished ({run.reason})"
    if run.fsck:
        return ERROR, None, None, None, "", f"btrfs check: {run.fsck}"
    return PASS, None, None, None, "", ""


def exit_code(verdicts: list[Verdict]) -> int:
    """0: all as expected; 125: something could not be built/booted (bisect
    skips); 1: a kernel bug where none was expected, or any other surprise."""
    if any(v.verdict == INFRA for v in verdicts):
        return EXIT_SKIP
    if any(v.as_expected is False for v in verdicts):
        return EXIT_BUG
    return EXIT_OK
