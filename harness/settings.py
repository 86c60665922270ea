"""How a matrix run is set: what the CLI, `harness replay` and `harness
bisect` hand to harness.matrix.run, and what a chain and a cell's judge
read of it."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.host import LOCAL, Host
from harness.vm import DEFAULT_CPUS


@dataclass
class Settings:
    outdir: Path
    cpus: int = DEFAULT_CPUS
    jobs: int = 2
    repeat: int = 1
    accel: str | None = None
    host: Host = LOCAL
    keep_images: bool = False
    fragments: list = field(default_factory=list)
    make_jobs: int | None = None
    expectations: bool = True        # judge against the line's claims
    mount_options: str | None = None  # instead of the line's (--mount-options)
    explicit: tuple = ()             # workloads asked for by name (never skipped)
    cells: frozenset = frozenset()   # only these (variant, workload) cells (--cell); empty: all
    runner: str = "qemu"             # vm.RUNNERS: QEMU directly, or virtme-ng
    shared_jobs: int = 3             # VMs at a time in all: two light ones beside a heavy one
    progress: object = print
    t0: float = field(default_factory=time.monotonic)
