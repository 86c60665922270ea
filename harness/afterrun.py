"""What a workload row's after-run check (`Workload.after`, the power-cut
replay of harness.durability) is given and gives back: a typed hand-off
between the chain runner and the check, and between the check and the
verdict."""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import Callable, ContextManager


@dataclass(frozen=True)
class AfterContext:
    """The cell's VM is over; what its check needs to boot one of its own."""
    kernel: Path                    # the bzImage the cell ran
    root_kind: str                  # harness.guestroot.ROOTS: how that kernel gets its root
    outdir: Path                    # the cell's folder
    accel: str                      # (its CPUs are the check's own: durability.CHECK_CPUS)
    nice: int                       # the check VM's QEMU priority (it shares the host)
    disk: object                    # harness.vm.Disk the cell wrote, with its write log
    fresh: Path                     # the cell's image as mkfs.btrfs left it
    keep: bool                      # keep the rebuilt images (--keep-images)
    mount_options: str              # the line's btrfs mount options
    # held around each VM the check boots: the scheduler's light slot
    # (harness.scheduler.ChainQueue.light_slot), so checks share the host
    # as light VMs do
    slot: Callable[[], ContextManager] = field(default=nullcontext, compare=False)


@dataclass(frozen=True)
class AfterResult:
    """The check's verdict (PASS, FAIL, ERROR, INFRA), title, detail and
    kind, and its figures (result.json keeps them under the workload's name)."""
    verdict: str
    _: KW_ONLY                      # the rest by name: a figure is never taken for a title
    title: str | None = None
    detail: str = ""
    kind: str | None = None
    report: str = ""                # what the check saw that the verdict quotes
    figures: dict = field(default_factory=dict)
    fault: str | None = None        # a harness bug in the check: its traceback

    def to_json(self) -> dict:
        out = {**self.figures, "verdict": self.verdict, "title": self.title,
               "detail": self.detail, "kind": self.kind}
        if self.fault:
            out["harness_fault"] = self.fault
        return out
