"""Run the matrix: cells are (line, variant, workload, run).

Builds run one after another in a builder thread (two kernel builds at once
on two cores only slow each other); as soon as a variant is built, its cells
are planned into chains (harness.plan) and queued (harness.scheduler), so
the first variant's VMs run while the next ones build (all but the race
controls, which wait for a quiet host).  Worker threads take chains from the
queue and run each in one VM (harness.chain), which judges its cells
(harness.judge).  A kernel report, a hang or a crash ends that VM: the cell
it happened in is judged, and the cells that had not started go back to the
queue as a new chain on a fresh VM.
"""
from __future__ import annotations

import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness import build as buildmod
from harness import chain as chainmod
from harness import guestbin, vm
from harness import plan as planmod
from harness import verdict as verdictmod
from harness.cell import Cell
from harness.errors import HarnessError, InfraError
from harness.host import LOCAL
from harness.scheduler import ChainQueue
from harness.settings import Settings
from harness.source import Variant
from harness.workload import Workload


@dataclass
class Outcome:
    verdicts: list
    builds: dict
    build_failures: dict
    accel: str
    seconds: float
    vms: list = field(default_factory=list)      # chain.VmSummary of every VM booted


def run(variants: list[Variant], workloads: list[Workload], s: Settings) -> Outcome:
    t0 = s.t0 = time.monotonic()
    say = s.progress
    host = s.host or LOCAL
    asked = workloads
    workloads = host.runnable(workloads, s.explicit)
    left_out = [w for w in asked if w not in workloads]
    left_why = host.left_out(left_out)
    queue = ChainQueue(s.jobs, s.shared_jobs,
                       lambda chain: planmod.chain_kind(chain, s.expectations))
    builds: dict[str, buildmod.Build] = {}
    failures: dict[str, str] = {}
    verdicts: list[verdictmod.Verdict] = []
    vms: list[chainmod.VmSummary] = []
    lock = threading.Lock()
    state = {"accel": s.accel, "error": None}
    vm_counter = iter(range(1, 1 << 30))

    for w in workloads:                      # compile the guest programs up front
        if w.program:
            guestbin.program(w.program)
        for extra in w.runs_with:
            guestbin.program(extra)

    def mine(v: Variant) -> list[Workload]:
        """The cells of this variant: its line's workloads, or --cell's."""
        return [w for w in planmod.line_workloads(v, workloads, s.explicit, say)
                if not s.cells or (v.name, w.name) in s.cells]

    def builder():
        try:
            for v in variants:
                broken = v.source.broken_why(v.name)
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
                for r in range(1, s.repeat + 1):
                    for chain in planmod.plan_chains([Cell(v, w, r) for w in mine(v)],
                                                     s.expectations):
                        queue.put(chain)
                    # a row this host cannot check is an INFRA cell, never gone
                    with lock:
                        for w in planmod.line_workloads(v, left_out, s.explicit, say):
                            verdicts.append(verdictmod.infra(Cell(v, w, r), left_why,
                                                             s.expectations))
        except BaseException as e:          # noqa: BLE001 - reported by the main thread
            state["error"] = e
        finally:
            queue.close()

    def _record_infra(v: Variant, why: str):
        with lock:
            for r in range(1, s.repeat + 1):
                for w in mine(v):
                    verdicts.append(verdictmod.infra(Cell(v, w, r), why, s.expectations))

    def worker():
        while state["error"] is None:
            chain = queue.get()
            if chain is None:
                return
            try:
                done = chainmod.run_chain(
                    chain, builds[chain[0].variant.key], s, host, state["accel"],
                    next(vm_counter), lambda: queue.release(chain),
                    planmod.LIGHT_NICE if queue.kind(chain) == planmod.LIGHT else 0,
                    queue.light_slot)
                judged, rest = done.verdicts, done.rest
                with lock:
                    vms.extend(done.vms)
            except HarnessError as e:
                judged = [verdictmod.infra(c, str(e), s.expectations) for c in chain]
                rest = ()
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
                queue.put(list(rest))
            queue.done_one(chain)

    threads = [threading.Thread(target=builder, daemon=True, name="builder")]
    # twice as many workers as VM slots: a worker whose chain's VM is over
    # judges its cells (power-cut checks: light VMs of their own, in the
    # queue's slots) while another runs the next chain
    threads += [threading.Thread(target=worker, daemon=True, name=f"vm-{i}")
                for i in range(2 * max(1, s.jobs, s.shared_jobs))]
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
    order = {Cell(v, w).key.group: i for i, (v, w) in
             enumerate((v, w) for v in variants for w in workloads)}
    verdicts.sort(key=lambda x: (order.get(x.key.group, 0), x.run))
    return Outcome(verdicts, builds, failures, state["accel"] or "none",
                   time.monotonic() - t0, sorted(vms, key=lambda m: m.name))


def _copy_build_log(b: buildmod.Build, v: Variant, outdir: Path) -> None:
    dst = outdir / f"build-{v.key}.log"
    if b.log.exists():
        shutil.copyfile(b.log, dst)
    else:
        dst.write_text(f"(build was cached: {b.dir})\n")
