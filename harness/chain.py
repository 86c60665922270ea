"""One VM's chain: boot a kernel once, run a chain of cells in it (each on
a fresh btrfs), and hand each cell it got to harness.judge.  A kernel
report, a hang or a crash ends the VM: the cell it happened in is judged,
and the cells after it come back as the rest of the chain, for a fresh VM.
"""
from __future__ import annotations

import shutil
import time
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness import build as buildmod
from harness import guestbin, guestroot, monitor, proc, vm
from harness import judge as judgemod
from harness.cell import Cell, PlanLine
from harness.settings import Settings
from harness.workload import DELAY, DISK, RAM, RAW, Workload


@dataclass(frozen=True)
class VmSummary:
    """One VM as result.json lists it."""
    name: str
    console_log: str
    reason: str
    started: float                  # seconds after the run started
    cells: tuple[str, ...] = ()     # the cells it got to
    guest: dict = field(default_factory=dict)
    times: dict = field(default_factory=dict)
    judged: float | None = None     # when its cells had been judged
    retried: bool = False           # a boot that died early, booted once more

    def to_json(self) -> dict:
        out = {"name": self.name, "console_log": self.console_log, "reason": self.reason,
               "started": self.started, "judged": self.judged, "cells": list(self.cells),
               "times": self.times}
        if self.guest:
            out["guest"] = self.guest
        if self.retried:
            out["retried"] = True
        return out


@dataclass(frozen=True)
class ChainResult:
    verdicts: tuple                 # harness.verdict.Verdict of each cell judged
    rest: tuple[Cell, ...]          # cells to run again on a fresh VM
    vms: tuple[VmSummary, ...]      # the VMs it booted


def plan_line(cell: Cell, command: list[str], dev: str | None, mount_options: str) -> PlanLine:
    device = {RAM: "ram", DISK: dev, DELAY: f"delay:{dev}", RAW: "none"}[cell.workload.device]
    opts = mount_options if cell.workload.uses_mount_options else ""
    return PlanLine(cell.id, device, opts, " ".join(command))


def command(w: Workload, dev: str | None, where, line=None, variant=None) -> list[str]:
    """The workload row's command line in the guest: `where(host_file)` is
    the file's guest path (and puts it in the guest root)."""
    args = []
    for a in w.args:
        if a == "{race_seconds}":
            args.append(f"{line.race_for(w.name, variant):g}" if line else "4")
        elif a == "{dev}":
            args.append(dev or "")
        elif isinstance(a, Path):               # a file the guest reads (a fio job)
            args.append(where(a))
        elif a.startswith("{bin:") and a.endswith("}"):
            name = a[5:-1]
            src = next(p for p in w.runs_with if p.stem == name)
            args.append(where(guestbin.program(src)))
        else:
            args.append(a)
    if w.program is None:
        return args
    return [where(guestbin.program(w.program)), *args]


def died_early(r: vm.VmRun, within: float = 30.0) -> bool:
    """QEMU exited before the guest reached userspace, soon, and the console
    holds no report (a panic or an oops would say why: that is a verdict)."""
    return (not r.booted and r.reason == "eof" and not r.findings and not r.fault
            and r.times.get("end", within) < within)


def hung_boot(r: vm.VmRun) -> bool:
    """The kernel printed, then nothing for monitor.BOOT_SILENCE seconds
    before userspace, and nothing on the console says why."""
    return not r.booted and r.reason == "boot-hung" and not r.findings and not r.fault


def stopping_cell(r: vm.VmRun, ids: list[str]) -> int | None:
    """Index of the cell the VM stopped in (a report, a hang, a crash): it is
    judged; the cells after it, started or not, run again on a fresh kernel.
    None when the guest ran the whole plan, or never booted (all INFRA)."""
    if not r.booted or r.reason == "done":
        return None
    if r.report_cell in ids:
        return ids.index(r.report_cell)
    started = [ids.index(n) for n in r.cells if n in ids]
    return max(started) if started else 0


def _summary(name: str, r: vm.VmRun, started: float, t0: float, ids: list[str] = (),
             retried: bool = False) -> VmSummary:
    return VmSummary(name, r.console_log.name, r.reason, round(started - t0, 2),
                     tuple(n for n in ids if n in r.cells),
                     r.facts.to_json() if not retried else {},
                     {k: round(x, 3) for k, x in r.times.items()}, retried=retried)


def run_chain(chain: list[Cell], b: buildmod.Build, s: Settings, host, accel: str,
              number: int, vm_over=lambda: None, nice: int = 0,
              check_slot=nullcontext) -> ChainResult:
    """Boot one VM for `chain`; judge the cells it got to.  `vm_over()` is
    called once that VM is gone, before the cells are judged (their
    after-run checks may boot VMs of their own, light ones, each inside
    `check_slot()`); `nice`: the VM's QEMU priority (plan.LIGHT_NICE for a
    light chain)."""
    v0 = chain[0].variant
    line = v0.source.line
    mount_options = (s.mount_options if s.mount_options is not None else
                     line.mount_options if line else "")
    name = f"vm{number:03d}-{v0.key}-r{chain[0].run}"
    plan, disks, files = [], [], []
    cell_disks: dict[str, vm.Disk | None] = {}

    def in_guest(program: Path) -> str:
        files.append(program)
        return guestroot.guest_path(program)

    tools = tuple(sorted({t for c in chain for t in c.workload.tools}))
    for cell in chain:
        cdir = s.outdir / cell.id
        cdir.mkdir(parents=True, exist_ok=True)
        dev = None
        if cell.workload.device != RAM:
            path = host.make_disk(cdir, "disk.img")
            log = None
            if cell.workload.log_writes:
                host.runnable([cell.workload], (cell.workload.name,))   # one clear error
                proc.run(["cp", "--sparse=always", "--reflink=auto", path, cdir / "fresh.img"],
                         timeout=120, what="copying the fresh image")
                log = str(cdir / "writes.log")
                Path(log).unlink(missing_ok=True)
                with open(log, "wb") as fh:
                    fh.truncate(1 << 30)
            disks.append(vm.Disk(path, log, cell.workload.disk))
            dev = vm.dev_name(len(disks) - 1, [d.kind for d in disks])
        cell_disks[cell.id] = disks[-1] if dev else None
        plan.append(plan_line(cell, command(cell.workload, dev, in_guest, line, v0.name), dev,
                              mount_options).encode())
    started = time.monotonic()
    budget = sum(c.workload.progress_deadline + (
        line.race_for(c.workload.name, v0.name) if line else 0) for c in chain)
    deadlines = {c.id: c.workload.progress_deadline for c in chain}

    def boot(vm_name: str) -> vm.VmRun:
        how = vm.Boot(b.bzimage, accel, s.cpus, b.root, s.runner, host, nice, tuple(files),
                      tools)
        return vm.run(vm_name, how, plan, disks, s.outdir, deadlines, budget)

    r, vms = boot(name), []
    if died_early(r) or hung_boot(r):
        # QEMU gone within seconds, before userspace, with nothing on the
        # console that says why (seen once in 60 boots of 6.12 under TCG),
        # or a boot that went silent (once in ~150, beside another VM): boot
        # once more; a kernel that cannot boot fails twice (INFRA, 125)
        what = (f"QEMU ended {r.times.get('end', 0):.1f} s into the boot" if r.reason == "eof"
                else f"the boot went silent for {monitor.BOOT_SILENCE:.0f} s")
        s.progress(f"{name}: {what} with no kernel report; booting once more")
        vms.append(_summary(name, r, started, s.t0, retried=True))
        name += "-again"
        r = boot(name)
    vm_over()
    ids = [c.id for c in chain]
    stop_at = stopping_cell(r, ids)
    upto = len(chain) if stop_at is None else stop_at + 1
    rest = tuple(chain[upto:])              # after a report or a hang: a fresh VM
    judged = [judgemod.judge_cell(cell, r, ids, b, s, host, accel, cell_disks[cell.id],
                                  check_slot) for cell in chain[:upto]]
    vms.append(replace(_summary(name, r, started, s.t0, ids),
                       judged=round(time.monotonic() - s.t0, 2)))
    for cell in rest:
        shutil.rmtree(s.outdir / cell.id, ignore_errors=True)
    return ChainResult(tuple(judged), rest, tuple(vms))
