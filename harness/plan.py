"""Which cells share a VM, and how a VM may share the host.

One variant run's cells become chains, one VM each (kvm-xfstests style:
boot once per chain, each cell on a fresh btrfs), in the order that costs
the fewest boots: a kernel report ends its VM.  Each chain has a kind that
says how its VM may share the host's two cores (harness.scheduler):
heavy, light (mostly a boot and a report, or waiting), or quiet (a race
control, alone once every build is done).  Pure functions of the cells and
the line's claims.
"""
from __future__ import annotations

from harness import lines as linesmod
from harness import verdict as verdictmod
from harness.cell import Cell

MAX_CELLS_PER_VM = 12
HEAVY, LIGHT, QUIET = "heavy", "light", "quiet"
# A light VM's QEMU runs at this niceness (weight 110 against 1024): beside a
# heavy VM it takes a core only when the heavy one leaves it idle, so the
# heavy VM's timing (dm-delay's hold outlasting a submission, races) holds
# (measured: light VMs at the same priority made 1 in 64 "async" completions
# run inline on 6.12, twice in 3 matrices)
LIGHT_NICE = 10
BOOT_SECONDS = 4.0          # a TCG boot to the first cell, and the VM's teardown


def line_workloads(v, workloads: list, explicit: tuple = (), progress=print) -> list:
    """The workloads of the matrix this variant's line runs: a line may skip
    shapes that cannot exercise their path on it (its table says why), unless
    they were asked for by name (`explicit`)."""
    line = v.source.line
    if line is None or not line.skip_workloads:
        return workloads
    keep = [w for w in workloads if w.name not in line.skip_workloads or w.name in explicit]
    skipped = [w.name for w in workloads if w not in keep]
    if skipped and v.name == line.variants[0].name:
        progress(f"line {line.name}: not running {', '.join(skipped)}: {line.skip_why}")
    return keep


def chain_kind(chain: list[Cell], expectations: bool) -> str:
    """How a chain's VM may share the host (see harness.scheduler.ChainQueue)."""
    if shareable(chain, expectations):
        return LIGHT
    if any(timing_fail(c, expectations) for c in chain):
        return QUIET
    return HEAVY


def plan_chains(cells: list[Cell], expectations: bool) -> list[list[Cell]]:
    """One variant run's cells as chains, one VM each, in three groups that
    share the host differently (see harness.scheduler.ChainQueue): a cell claimed to FAIL with a
    bug that shows only when timing allows (a race control) gets a chain of
    its own; the workloads whose VM mostly waits (`Workload.waits`) share
    chains of their own, unless claimed to FAIL with a kernel report; the
    rest share chains.  In each group the cells claimed to PASS (or to FAIL
    by the harness's own finding, which leaves the kernel running: _ends_vm)
    share VMs (up to MAX_CELLS_PER_VM a VM), and the first cell claimed to
    FAIL with a kernel report ends the last of them; every further one gets
    a VM of its own from the start, so
    that they run side by side instead of each waiting for the reboot after
    the one before.  A wrong claim costs a boot, never a verdict: the cells
    after an unexpected report still go to a fresh VM (see harness.chain.stopping_cell)."""
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
    """The cell is claimed to FAIL with a kernel report (a bug of the line's
    table without `kernel_report = false`): its VM ends there.  A FAIL the
    harness finds itself (an acknowledged write lost at a power cut, a sync
    the evidence never saw) leaves the kernel running: such a cell shares
    its VM like one claimed to PASS."""
    claim = verdictmod.expectation(c, expectations)
    return (claim is not None and claim.verdict == verdictmod.FAIL
            and (claim.bug is None or claim.bug.kernel_report))


def _vm_order(cells: list[Cell], expectations: bool) -> list[Cell]:
    """Cells claimed to PASS first, then those that may FAIL, then those
    claimed to FAIL: a kernel report ends its VM, so the cells after it need
    a fresh boot.  Only the order changes; a wrong claim costs a boot, never
    a verdict."""
    def rank(c: Cell) -> int:
        claim = verdictmod.expectation(c, expectations)
        if _ends_vm(c, expectations):
            return 2
        return 1 if claim is not None and claim.verdict == linesmod.MAY else 0
    return sorted(cells, key=rank)
