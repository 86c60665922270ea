"""Plan and run the matrix: cells are (line, variant, workload, run).

Builds run one after another in a builder thread (two kernel builds at once
on two cores only slow each other); as soon as a variant is built, its cells
are queued, so the first variant's VMs run while the next ones build
(all but the race controls, which wait for a quiet host).  Each run of a
variant is a few chains of cells that one VM each runs in turn, each cell on
a fresh btrfs (kvm-xfstests style: boot once per chain, not once per cell).
A kernel report, a hang or a crash ends that VM: the cell it happened in is
judged, and the cells that had not started go back to the queue as a new
chain on a fresh VM.  Which VMs may run side by side: _Queue.
"""
from __future__ import annotations

import json
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness import build as buildmod
from harness import evidence as evidencemod
from harness import guestbin, guestroot, monitor, proc, vm
from harness import verdict as verdictmod
from harness.errors import HarnessError, InfraError
from harness.source import Variant
from harness.workload import DELAY, DISK, RAM, RAW, Workload

MAX_CELLS_PER_VM = 12


@dataclass(frozen=True)
class Cell:
    variant: Variant
    workload: Workload
    run: int = 1

    @property
    def line(self) -> str:
        return self.variant.line

    @property
    def id(self) -> str:
        """line-variant-workload-run: every file name and result key."""
        return f"{self.variant.key}-{self.workload.name}-{self.run}"


@dataclass
class Settings:
    outdir: Path
    cpus: int = vm.DEFAULT_CPUS
    jobs: int = 2
    repeat: int = 1
    accel: str | None = None
    host: object = None
    keep_images: bool = False
    fragments: list = field(default_factory=list)
    make_jobs: int | None = None
    expectations: bool = True        # judge against the line's claims
    mount_options: str | None = None  # instead of the line's (--mount-options)
    explicit: tuple = ()             # workloads asked for by name (never skipped)
    runner: str = "qemu"             # vm.RUNNERS: QEMU directly, or virtme-ng
    shared_jobs: int = 3             # VMs at a time in all: two light ones beside a heavy one
    progress: object = print
    t0: float = field(default_factory=time.monotonic)


@dataclass
class Outcome:
    verdicts: list
    builds: dict
    build_failures: dict
    accel: str
    seconds: float
    vms: list = field(default_factory=list)      # one summary per VM booted


HEAVY, LIGHT, QUIET = "heavy", "light", "quiet"
# A light VM's QEMU runs at this niceness (weight 110 against 1024): beside a
# heavy VM it takes a core only when the heavy one leaves it idle, so the
# heavy VM's timing (dm-delay's hold outlasting a submission, races) holds
# (measured: light VMs at the same priority made 1 in 64 "async" completions
# run inline on 6.12, twice in 3 matrices)
LIGHT_NICE = 10


def chain_kind(chain: list[Cell], expectations: bool) -> str:
    """How a chain's VM may share the host (see _Queue)."""
    if shareable(chain, expectations):
        return LIGHT
    if any(timing_fail(c, expectations) for c in chain):
        return QUIET
    return HEAVY


class _Queue:
    """Chains waiting for a VM, and how many are still to come.

    How chains share the host's two cores, by `chain_kind`:
    - quiet: a cell claimed to FAIL with a bug that needs its timing (a race
      control, a delay-ordered control) runs alone, and only once every
      build is done.  A race needs both vCPUs running at once; beside a
      kernel build (make -j2) or another VM they take turns on the cores,
      and the control stops failing (6.1's revert-race PASSed a 15 s
      fsync-race beside a 6.12 build, 2721 writes and 660 fsyncs);
    - light: a VM that is mostly a boot and a report, or mostly waiting:
      every cell claimed to FAIL with a bug that shows at its first write
      whatever the timing (`Bug.deterministic`: the seed's deadlock) or a
      workload that waits on dm-delay's timers or its power-cut check
      (`Workload.waits`); or a chain whose own VM is over and whose
      after-run check is all that is left (`lighten`);
    - heavy: the rest.  At most `jobs` heavy VMs at once (default one: two
      2-vCPU guests on two cores slow each other), and at most `shared_jobs`
      VMs in all (default 3), so light VMs run beside a heavy one.

    A free slot takes a heavy chain first, the longest (by `chain_seconds`)
    that may start; the light ones fill in beside it, and the quiet ones run
    when the host is free."""

    def __init__(self, jobs: int = 1, shared_jobs: int = 1, kind=lambda chain: HEAVY):
        self.chains: list = []
        self.cond = threading.Condition()
        self.pending = 0            # chains queued or running
        self.producing = True       # the builder may still add chains (and builds)
        self.jobs = max(1, jobs)
        self.slots = max(self.jobs, shared_jobs)
        self.kind = kind
        self.running: dict[int, str] = {}   # id(chain) -> kind

    def put(self, chain: list[Cell]) -> None:
        with self.cond:
            self.chains.append(chain)
            self.pending += 1
            self.cond.notify_all()

    def _may_start(self, chain: list[Cell]) -> bool:
        kinds = list(self.running.values())
        kind = self.kind(chain)
        if kind == QUIET:
            return not kinds and not self.producing
        if QUIET in kinds or len(kinds) >= self.slots:
            return False
        return kind == LIGHT or kinds.count(HEAVY) < self.jobs

    def get(self) -> list[Cell] | None:
        with self.cond:
            while True:
                if not self.chains and not self.producing and self.pending == 0:
                    return None
                ready = [c for c in self.chains if self._may_start(c)]
                if ready:
                    pick = max(ready, key=lambda c: (self.kind(c) == HEAVY, chain_seconds(c)))
                    self.chains.remove(pick)
                    self.running[id(pick)] = self.kind(pick)
                    return pick
                self.cond.wait(0.5)

    def lighten(self, chain: list[Cell]) -> None:
        """The chain's VM is over: what is left (after-run checks) is light."""
        with self.cond:
            if id(chain) in self.running:
                self.running[id(chain)] = LIGHT
                self.cond.notify_all()

    def done_one(self, chain: list[Cell]) -> None:
        with self.cond:
            self.pending -= 1
            self.running.pop(id(chain), None)
            self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.producing = False
            self.cond.notify_all()


def run(variants: list[Variant], workloads: list[Workload], s: Settings) -> Outcome:
    t0 = s.t0 = time.monotonic()
    say = s.progress
    host = s.host or vm.LOCAL
    queue = _Queue(s.jobs, s.shared_jobs, lambda chain: chain_kind(chain, s.expectations))
    builds: dict[str, buildmod.Build] = {}
    failures: dict[str, str] = {}
    verdicts: list[verdictmod.Verdict] = []
    vms: list[dict] = []
    lock = threading.Lock()
    state = {"accel": s.accel, "error": None}
    vm_counter = iter(range(1, 1 << 30))

    for w in workloads:                      # compile the guest programs up front
        if w.program:
            guestbin.program(w.program)
        for extra in w.runs_with:
            guestbin.program(extra)

    def builder():
        try:
            for v in variants:
                broken = dict(v.source.broken).get(v.name)
                if broken:
                    failures[v.key] = (f"control {v.name} could not be made on "
                                       f"{v.source.label}: {broken}")
                    _record_infra(v, failures[v.key])
                    continue
                try:
                    b = buildmod.build(v, s.fragments or None, s.make_jobs, progress=say)
                except InfraError as e:
                    failures[v.key] = str(e)
                    say(f"{v.key}: {e}")
                    _record_infra(v, str(e))
                    continue
                builds[v.key] = b
                _copy_build_log(b, v, s.outdir)
                host.put_kernel(b.bzimage)
                if state["accel"] is None:
                    state["accel"] = vm.choose_accel(b.bzimage, s.outdir, progress=say,
                                                     host=host, root_kind=b.root)
                    say(f"accelerator: {state['accel']}; {s.jobs} VM(s) at a time, "
                        f"{s.cpus} CPUs each")
                mine = _line_workloads(v, workloads, s)
                for r in range(1, s.repeat + 1):
                    for chain in plan_chains([Cell(v, w, r) for w in mine], s.expectations):
                        queue.put(chain)
        except BaseException as e:          # noqa: BLE001 - reported by the main thread
            state["error"] = e
        finally:
            queue.close()

    def _record_infra(v: Variant, why: str):
        with lock:
            for r in range(1, s.repeat + 1):
                for w in workloads:
                    verdicts.append(verdictmod.infra(Cell(v, w, r), why, s.expectations))

    def worker():
        while state["error"] is None:
            chain = queue.get()
            if chain is None:
                return
            try:
                judged, rest = _run_chain(chain, builds[chain[0].variant.key], s, host,
                                          state["accel"], next(vm_counter), vms,
                                          lambda: queue.lighten(chain),
                                          LIGHT_NICE if queue.kind(chain) == LIGHT else 0)
            except HarnessError as e:
                judged = [verdictmod.infra(c, str(e), s.expectations) for c in chain]
                rest = []
            except BaseException as e:      # noqa: BLE001
                state["error"] = e
                queue.done_one(chain)
                return
            with lock:
                verdicts.extend(judged)
                for v in judged:
                    say(f"  {v.id}: {v.verdict}{' ' + v.title if v.title else ''}"
                        f"{' (' + v.detail + ')' if v.verdict not in ('PASS', 'FAIL') else ''}")
            if rest:
                queue.put(rest)
            queue.done_one(chain)

    threads = [threading.Thread(target=builder, daemon=True, name="builder")]
    threads += [threading.Thread(target=worker, daemon=True, name=f"vm-{i}")
                for i in range(max(1, s.jobs, s.shared_jobs))]
    for t in threads:
        t.start()
    try:
        while any(t.is_alive() for t in threads):
            for t in threads:
                t.join(0.2)
            if state["error"] is not None:
                break
    except BaseException:
        state["error"] = state["error"] or KeyboardInterrupt()
        host.kill_all()
        raise
    if state["error"] is not None:
        host.kill_all()
        raise state["error"]
    order = {(v.key, w.name): i for i, (v, w) in
             enumerate((v, w) for v in variants for w in workloads)}
    verdicts.sort(key=lambda x: (order.get((f"{x.line}-{x.variant}", x.workload), 0), x.run))
    return Outcome(verdicts, builds, failures, state["accel"] or "none",
                   time.monotonic() - t0, sorted(vms, key=lambda x: x["name"]))


def _line_workloads(v: Variant, workloads: list[Workload], s: Settings) -> list[Workload]:
    """The workloads of the matrix this variant's line runs: a line may skip
    shapes that cannot exercise their path on it (its table says why), unless
    they were asked for by name (s.explicit)."""
    line = v.source.line
    if line is None or not line.skip_workloads:
        return workloads
    keep = [w for w in workloads if w.name not in line.skip_workloads
            or w.name in s.explicit]
    skipped = [w.name for w in workloads if w not in keep]
    if skipped and v.name == line.variants[0].name:
        s.progress(f"line {line.name}: not running {', '.join(skipped)}: {line.skip_why}")
    return keep


def plan_chains(cells: list[Cell], expectations: bool) -> list[list[Cell]]:
    """One variant run's cells as chains, one VM each, in three groups that
    share the host differently (see _Queue): a cell claimed to FAIL with a
    bug that shows only when timing allows (a race control) gets a chain of
    its own; the workloads whose VM mostly waits (`Workload.waits`) share
    chains of their own, unless claimed to FAIL; the rest share chains.  In
    each group the cells claimed to PASS share VMs (up to MAX_CELLS_PER_VM a
    VM), and the first cell claimed to FAIL ends the last of them; every
    further cell claimed to FAIL gets a VM of its own from the start, so
    that they run side by side instead of each waiting for the reboot after
    the one before.  A wrong claim costs a boot, never a verdict: the cells
    after an unexpected report still go to a fresh VM (see _stopping_cell)."""
    timed = [c for c in cells if timing_fail(c, expectations)]
    waiting = [c for c in cells if c.workload.waits and not _ends_vm(c, expectations)]
    others = [c for c in cells if c not in timed and c not in waiting]
    return (_plan_group(others, expectations) + _plan_group(waiting, expectations)
            + [[c] for c in timed])


def timing_fail(c: Cell, expectations: bool) -> bool:
    """The cell is claimed to FAIL with a bug that is not deterministic: it
    shows only if the race (or the delays) play out, on a quiet host."""
    claim = verdictmod.expectation(c, expectations)
    return (claim is not None and claim.verdict == verdictmod.FAIL
            and claim.bug is not None and not claim.bug.deterministic)


def _plan_group(cells: list[Cell], expectations: bool) -> list[list[Cell]]:
    ordered = _vm_order(cells, expectations)
    ending = [c for c in ordered if _ends_vm(c, expectations)]
    passing = ordered[:len(ordered) - len(ending)]
    chains = [passing[i:i + MAX_CELLS_PER_VM] for i in range(0, len(passing), MAX_CELLS_PER_VM)]
    if ending and chains and len(chains[-1]) < MAX_CELLS_PER_VM:
        chains[-1].append(ending.pop(0))
    return chains + [[c] for c in ending]


BOOT_SECONDS = 4.0          # a TCG boot to the first cell, and the VM's teardown


def chain_seconds(chain: list[Cell]) -> float:
    """What a chain is expected to take, for the queue's order only: a boot,
    each workload row's typical time, and the race shapes' duration."""
    total = BOOT_SECONDS
    for c in chain:
        line = c.variant.source.line
        total += c.workload.seconds
        if c.workload.race and line is not None:
            total += line.race_for(c.workload.name, c.variant.name)
    return total


def shareable(chain: list[Cell], expectations: bool) -> bool:
    """Every cell of the chain is light: claimed to FAIL with a bug that
    shows at its first write whatever the timing, or a workload whose VM
    mostly waits (not claimed to FAIL with a timing bug): its VM may share
    the host."""
    return bool(chain) and all(_light(c, expectations) for c in chain)


def _light(c: Cell, expectations: bool) -> bool:
    claim = verdictmod.expectation(c, expectations)
    if claim is not None and claim.verdict == verdictmod.FAIL and claim.bug is not None:
        return claim.bug.deterministic
    return c.workload.waits


def _ends_vm(c: Cell, expectations: bool) -> bool:
    claim = verdictmod.expectation(c, expectations)
    return claim is not None and claim.verdict == verdictmod.FAIL


def _vm_order(cells: list[Cell], expectations: bool) -> list[Cell]:
    """Cells claimed to PASS first, then those that may FAIL, then those
    claimed to FAIL: a kernel report ends its VM, so the cells after it need
    a fresh boot.  Only the order changes; a wrong claim costs a boot, never
    a verdict."""
    def rank(c: Cell) -> int:
        claim = verdictmod.expectation(c, expectations)
        return 0 if claim is None or claim.verdict == verdictmod.PASS else \
            2 if claim.verdict == verdictmod.FAIL else 1
    return sorted(cells, key=rank)


def _copy_build_log(b: buildmod.Build, v: Variant, outdir: Path) -> None:
    dst = outdir / f"build-{v.key}.log"
    if b.log.exists():
        shutil.copyfile(b.log, dst)
    else:
        dst.write_text(f"(build was cached: {b.dir})\n")


# ------------------------------------------------------------- one VM's chain

def plan_line(cell: Cell, command: list[str], dev: str | None, mount_options: str) -> str:
    device = {RAM: "ram", DISK: dev, DELAY: f"delay:{dev}", RAW: "none"}[cell.workload.device]
    opts = mount_options if cell.workload.uses_mount_options else ""
    return "|".join([cell.id, device, opts, " ".join(command)])


def _command(w: Workload, dev: str | None, where, line=None, variant=None) -> list[str]:
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


def _run_chain(chain: list[Cell], b: buildmod.Build, s: Settings, host, accel: str,
               number: int, vms: list, vm_over=lambda: None,
               nice: int = 0) -> tuple[list, list[Cell]]:
    """Boot one VM for `chain`; (verdicts of the cells it got to, cells to rerun).
    `vm_over()` is called once that VM is gone, before the cells are judged
    (their after-run checks may boot VMs of their own, light ones); `nice`:
    the VM's QEMU priority (LIGHT_NICE for a light chain)."""
    v0 = chain[0].variant
    mount_options = (s.mount_options if s.mount_options is not None else
                     v0.source.line.mount_options if v0.source.line else "")
    name = f"vm{number:03d}-{v0.key}-r{chain[0].run}"
    plan, disks, ctx, files = [], [], {}, []

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
                if host is not vm.LOCAL:
                    raise HarnessError(f"workload {cell.workload.name} needs its write log "
                                       "here; it cannot run with --remote")
                proc.run(["cp", "--sparse=always", "--reflink=auto", path, cdir / "fresh.img"],
                         timeout=120, what="copying the fresh image")
                log = str(cdir / "writes.log")
                Path(log).unlink(missing_ok=True)
                with open(log, "wb") as fh:
                    fh.truncate(1 << 30)
            disks.append(vm.Disk(path, log, cell.workload.disk))
            dev = vm.dev_name(len(disks) - 1, [d.kind for d in disks])
        ctx[cell.id] = {"disk": disks[-1] if dev else None, "dev": dev}
        plan.append(plan_line(cell, _command(cell.workload, dev, in_guest,
                                             v0.source.line, v0.name), dev, mount_options))
    started = time.monotonic()
    budget = sum(c.workload.progress_deadline + (
        v0.source.line.race_for(c.workload.name, v0.name) if v0.source.line else 0)
        for c in chain)
    r = vm.run(name, b.bzimage, plan, disks, s.outdir, accel, s.cpus,
               {c.id: c.workload.progress_deadline for c in chain}, budget, host=host,
               files=files, runner=s.runner, nice=nice, root_kind=b.root,
               tools=tools)
    if died_early(r) or hung_boot(r):
        # QEMU gone within seconds, before userspace, with nothing on the
        # console that says why (seen once in 60 boots of 6.12 under TCG),
        # or a boot that went silent (once in ~150, beside another VM): boot
        # once more; a kernel that cannot boot fails twice (INFRA, 125)
        what = (f"QEMU ended {r.times.get('end', 0):.1f} s into the boot" if r.reason == "eof"
                else f"the boot went silent for {monitor.BOOT_SILENCE:.0f} s")
        s.progress(f"{name}: {what} with no kernel report; booting once more")
        vms.append({"name": name, "console_log": r.console_log.name, "reason": r.reason,
                    "started": round(started - s.t0, 2), "judged": None, "cells": [],
                    "retried": True, "times": {k: round(x, 3) for k, x in r.times.items()}})
        name += "-again"
        r = vm.run(name, b.bzimage, plan, disks, s.outdir, accel, s.cpus,
                   {c.id: c.workload.progress_deadline for c in chain}, budget, host=host,
                   files=files, runner=s.runner, nice=nice, root_kind=b.root,
                   tools=tools)
    vm_over()
    ids = [c.id for c in chain]
    judged, rest = [], []
    stop_at = _stopping_cell(r, ids)
    summary = {"name": name, "console_log": r.console_log.name, "reason": r.reason,
               "started": round(started - s.t0, 2), "judged": None,
               "cells": [n for n in ids if n in r.cells], "guest": r.facts.to_json(),
               "times": {k: round(x, 3) for k, x in r.times.items()}}
    vms.append(summary)                     # (list.append is atomic: VMs run side by side)
    for k, cell in enumerate(chain):
        if stop_at is not None and k > stop_at:
            rest = chain[k:]                # after a report or a hang: a fresh VM
            break
        judged.append(_judge(cell, r, ids, b, s, host, accel, ctx[cell.id]))
    summary["judged"] = round(time.monotonic() - s.t0, 2)
    for cell in rest:
        shutil.rmtree(s.outdir / cell.id, ignore_errors=True)
    return judged, rest


def died_early(r: vm.VmRun, within: float = 30.0) -> bool:
    """QEMU exited before the guest reached userspace, soon, and the console
    holds no report (a panic or an oops would say why: that is a verdict)."""
    return (not r.booted and r.reason == "eof" and not r.findings and not r.fault
            and r.times.get("end", within) < within)


def hung_boot(r: vm.VmRun) -> bool:
    """The kernel printed, then nothing for monitor.BOOT_SILENCE seconds
    before userspace, and nothing on the console says why."""
    return not r.booted and r.reason == "boot-hung" and not r.findings and not r.fault


def _stopping_cell(r: vm.VmRun, ids: list[str]) -> int | None:
    """Index of the cell the VM stopped in (a report, a hang, a crash): it is
    judged; the cells after it, started or not, run again on a fresh kernel.
    None when the guest ran the whole plan, or never booted (all INFRA)."""
    if not r.booted or r.reason == "done":
        return None
    if r.report_cell in ids:
        return ids.index(r.report_cell)
    started = [ids.index(n) for n in r.cells if n in ids]
    return max(started) if started else 0


def _judge(cell: Cell, r: vm.VmRun, ids: list[str], b: buildmod.Build, s: Settings, host,
           accel: str, ctx: dict) -> verdictmod.Verdict:
    cdir = s.outdir / cell.id
    text = r.cell_text(cell.id)
    (cdir / "console.log").write_text(text, errors="replace")
    times = r.cells.get(cell.id)
    findings = r.cell_findings(cell.id, ids)
    ev = evidencemod.parse(text.splitlines() if times else [])
    disk = ctx["disk"]
    fsck = times.fsck if times else None
    clean_run = (times is not None and times.rc == 0 and not times.errors
                 and "end" in times.times and not findings)
    if clean_run and disk is not None and fsck is None and not cell.workload.log_writes:
        fsck = host.fsck(disk.path)
    after = None
    if clean_run and cell.workload.after and not r.facts.problem(s.cpus):
        try:
            after = _after(cell, r, b, s, accel, disk, cdir)
        except HarnessError as e:          # this cell's check could not be made
            after = {"verdict": verdictmod.ERROR, "detail": f"after-run check: {e}"}
        except Exception as e:             # a bug in the check: recorded, never a PASS
            import traceback
            after = {"verdict": verdictmod.ERROR,
                     "detail": f"harness fault, not a kernel verdict: after-run check of "
                               f"{cell.workload.name}: {type(e).__name__}: {e}",
                     "harness_fault": traceback.format_exc()}
    v = verdictmod.judge(cell, r, times, findings, ev, fsck, after, s.cpus, b, accel,
                         s.expectations)
    v.cell_dir = cell.id
    if v.verdict == verdictmod.PASS and not s.keep_images:
        for p in ("disk.img", "fresh.img", "writes.log"):
            (cdir / p).unlink(missing_ok=True)
        if disk is not None and host is not vm.LOCAL:
            host.remove(disk.path)
    else:
        _repro_kit(cell, r, b, cdir, v)
    return v


def _after(cell: Cell, r: vm.VmRun, b, s: Settings, accel: str, disk, cdir: Path) -> dict:
    """The workload row's after-run check (the power-cut replay)."""
    return cell.workload.after(cell, r, {
            "kernel": b.bzimage, "root_kind": b.root, "outdir": cdir, "accel": accel,
            "cpus": s.cpus,
            "nice": LIGHT_NICE,          # its VM runs once the cell's is over: light
            "disk": disk, "fresh": cdir / "fresh.img", "keep": s.keep_images,
            "mount_options": (s.mount_options if s.mount_options is not None else
                              cell.variant.source.line.mount_options
                              if cell.variant.source.line else "")})


def _repro_kit(cell: Cell, r: vm.VmRun, b: buildmod.Build, cdir: Path,
               v: verdictmod.Verdict) -> None:
    """What a kernel developer needs to rerun a cell that did not pass,
    without the harness or with `harness replay CELL_DIR`."""
    w = cell.workload
    if w.program and w.program.exists():
        shutil.copyfile(w.program, cdir / w.program.name)
    for extra in w.runs_with:
        shutil.copyfile(extra, cdir / extra.name)
    if (b.dir / ".config").exists():
        shutil.copyfile(b.dir / ".config", cdir / "config")
    plan = (r.console_log.with_suffix("").with_suffix(".plan"))
    line = next((ln for ln in plan.read_text().splitlines() if ln.startswith(cell.id + "|")),
                "") if plan.exists() else ""
    (cdir / "plan").write_text(line + "\n")
    qemu = r.console_log.with_suffix("").with_suffix(".qemu.sh")
    if qemu.exists():
        shutil.copyfile(qemu, cdir / "qemu.sh")
    patches = cdir / "patches"
    patches.mkdir(exist_ok=True)
    spec = cell.variant.source.line.variant(cell.variant.name) \
        if cell.variant.source.line and cell.variant.ref else None
    listing = []
    for how, paths in (("revert", spec.revert if spec else ()),
                       ("apply", spec.apply if spec else ()),
                       ("apply", tuple(p.path for p in cell.variant.extra))):
        for p in paths:
            shutil.copyfile(p, patches / p.name)
            listing.append(f"{how} {p.name}")
    (patches / "series").write_text("".join(x + "\n" for x in listing))
    (cdir / "cell.json").write_text(json.dumps({
        "cell": cell.id, "line": cell.line, "variant": cell.variant.name,
        "workload": w.name, "run": cell.run, "source": cell.variant.source.label,
        "source_kind": cell.variant.source.kind, "source_path": str(cell.variant.source.path),
        "source_version": cell.variant.source.version,
        "source_commit": b.commit, "build": str(b.dir), "config_hash": b.config_hash,
        "extra_patches": [str(p.path) for p in cell.variant.extra],
        "command": line.split("|", 3)[-1] if line else "", "verdict": v.verdict,
        "title": v.title, "cpus": r.facts.cpus_up, "accelerator": r.accel,
    }, indent=1) + "\n")
    (cdir / "README").write_text(
        f"{cell.id}: {v.verdict} {v.title or v.detail}\n\n"
        f"  harness replay {cdir}        # rerun exactly this cell (cached build)\n\n"
        "Without the harness: build the source commit below with `config`, then run\n"
        "qemu.sh (its -append names the plan file: make one holding the `plan` line,\n"
        "and give each cell a fresh `mkfs.btrfs` image as its disk).\n\n"
        f"source:  {cell.variant.source.label}\ncommit:  {b.commit}\n"
        f"patches: patches/series ({len(listing)} on top of the shipped tree)\n"
        f"command: {line.split('|', 3)[-1] if line else '?'}\n")
