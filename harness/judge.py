"""Judging one cell of a VM run: its console slice, its reports, its
evidence, the guest's fsck or the host's, its after-run check (a row's
`Workload.after`, given a typed harness.afterrun.AfterContext), then
harness.verdict.judge; a cell that did not pass leaves a reproducer kit
(harness.kit), one that passed leaves no disk images."""
from __future__ import annotations

import traceback
from contextlib import nullcontext

from harness import build as buildmod
from harness import evidence as evidencemod
from harness import kit, vm
from harness import verdict as verdictmod
from harness.afterrun import AfterContext, AfterResult
from harness.cell import Cell
from harness.errors import HarnessError
from harness.kernel_reports import bugs
from harness.plan import LIGHT_NICE
from harness.settings import Settings


def judge_cell(cell: Cell, r: vm.VmRun, ids: list[str], b: buildmod.Build, s: Settings,
               host, accel: str, disk: vm.Disk | None,
               check_slot=nullcontext) -> verdictmod.Verdict:
    cdir = s.outdir / cell.id
    text = r.cell_text(cell.id)
    (cdir / "console.log").write_text(text, errors="replace")
    times = r.cells.get(cell.id)
    findings = r.cell_findings(cell.id, ids)
    ev = evidencemod.parse(text.splitlines() if times else [])
    fsck = times.fsck if times else None
    # an informational finding (the blocked-tasks dump) is no reason to skip
    # the cell's checks: only a kernel bug report is
    clean_run = (times is not None and times.rc == 0 and not times.errors
                 and "end" in times.times and not bugs(findings))
    if clean_run and disk is not None and fsck is None and not cell.workload.log_writes:
        fsck = host.fsck(disk.path)
    after = None
    if clean_run and cell.workload.after and not r.facts.problem(s.cpus):
        after = _after(cell, r, AfterContext(
            kernel=b.bzimage, root_kind=b.root, outdir=cdir, accel=accel,
            nice=LIGHT_NICE,            # its VM runs once the cell's is over: light
            disk=disk, fresh=cdir / "fresh.img", keep=s.keep_images,
            mount_options=(s.mount_options if s.mount_options is not None else
                           cell.variant.source.line.mount_options
                           if cell.variant.source.line else ""),
            slot=check_slot))
    v = verdictmod.judge(cell, r, times, findings, ev, fsck, after, s.cpus, b, accel,
                         s.expectations)
    v.cell_dir = cell.id
    if v.verdict == verdictmod.PASS and not s.keep_images:
        for p in ("disk.img", "fresh.img", "writes.log"):
            (cdir / p).unlink(missing_ok=True)
        if disk is not None:
            host.remove(disk.path)
    else:
        kit.write(cell, r, b, cdir, v, s.cpus)
    return v


def _after(cell: Cell, r: vm.VmRun, ctx: AfterContext) -> AfterResult:
    """The workload row's after-run check (the power-cut replay); a check
    that could not be made is ERROR, one that broke is the harness's fault
    (ERROR with its traceback), never a PASS."""
    try:
        return cell.workload.after(cell, r, ctx)
    except HarnessError as e:              # this cell's check could not be made
        return AfterResult(verdictmod.ERROR, detail=f"after-run check: {e}")
    except Exception as e:                 # a bug in the check
        return AfterResult(verdictmod.ERROR,
                           detail=f"harness fault, not a kernel verdict: after-run check of "
                                  f"{cell.workload.name}: {type(e).__name__}: {e}",
                           fault=traceback.format_exc())
