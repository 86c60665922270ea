"""The workload matrix: what runs in the guest, as files in guest-config/.
A user's own fio job file (any path on the host, which the guest sees
through its 9p root) is a workload too."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.paths import GUEST_CONFIG

WORKLOADS_DIR = GUEST_CONFIG / "workloads"
GUEST_INIT = GUEST_CONFIG / "guest-init.sh"


@dataclass(frozen=True)
class Workload:
    name: str
    letter: str
    file: Path
    args: str
    description: str
    # seconds without a "@@harness progress" (or "ack") line before the run
    # is called hung; workloads that print none (fio) get it from workload start
    progress_deadline: float = 30.0
    nomount: bool = False       # the workload mounts its own disks

    def kernel_args(self, where=str) -> list[str]:
        """Kernel command-line settings for the guest's init; `where` maps a
        host path to the path the guest sees (a remote host's copy)."""
        out = [f"HARNESS_WORKLOAD={self.name}", f"HARNESS_FILE={where(self.file)}"]
        if self.args:
            out.append(f"HARNESS_ARGS={self.args}")
        if self.nomount:
            out.append("HARNESS_NOMOUNT=1")
        return out


def _py(name, letter, desc):
    return Workload(name, letter, WORKLOADS_DIR / "dsync_writes.py", name, desc)


WORKLOADS: tuple[Workload, ...] = (
    _py("extending", "a", "extending O_DIRECT|O_DSYNC pwrite"),
    _py("overwrite", "b", "O_DIRECT|O_DSYNC overwrite inside EOF"),
    Workload("libaio", "c", WORKLOADS_DIR / "libaio-dsync.fio", "",
             "libaio O_DIRECT, O_DSYNC file, iodepth 16 (generic/113 shape)", 90.0),
    Workload("io_uring", "d", WORKLOADS_DIR / "io_uring-dsync.fio", "",
             "io_uring O_DIRECT, O_DSYNC file, iodepth 16", 90.0),
    _py("rwf-dsync", "e", "O_DIRECT pwritev2 with RWF_DSYNC"),
    _py("unaligned", "f", "non-aligned O_DIRECT|O_DSYNC write, buffered fallback (btrfs/234 shape)"),
    _py("fsync-race", "g", "O_DIRECT writes racing fsync on the same fd"),
    # the guest writes through dsync_ack (compiled by harness.durability) and
    # the host replays QEMU's write log to power-cut points: see durability.py
    Workload("durability", "h", WORKLOADS_DIR / "durability.sh", "",
             "acknowledged O_DSYNC direct writes (psync, libaio, io_uring) survive a power cut",
             60.0, nomount=True),
)
BY_NAME = {w.name: w for w in WORKLOADS} | {w.letter: w for w in WORKLOADS}


def resolve(names: list[str] | None) -> list[Workload]:
    if not names or names == ["all"]:
        return list(WORKLOADS)
    out = []
    for n in names:
        if n in BY_NAME:
            out.append(BY_NAME[n])
        elif n.endswith(".fio"):
            p = Path(n).expanduser().resolve()
            if not p.is_file():
                raise HarnessError(f"workload {n}: no such fio job file")
            if p.parts[1:2] in (("tmp",), ("run",), ("proc",), ("sys",), ("dev",)):
                raise HarnessError(f"workload {n}: the guest mounts its own /{p.parts[1]}, so "
                                   "it cannot see this file; put the job file elsewhere")
            if " " in str(p):
                raise HarnessError(f"workload {n}: the path must not contain spaces "
                                   "(it is passed on the kernel command line)")
            out.append(Workload(p.stem, "-", p, "", f"user fio job {p.name}", 120.0))
        else:
            raise HarnessError(f"unknown workload {n!r}; choose from "
                               f"{', '.join(w.name for w in WORKLOADS)}, a letter a-g, "
                               "or a path to a .fio job file")
    return out
