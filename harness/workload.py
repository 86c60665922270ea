"""The workloads: one row each.  A row says what runs in the guest, on what
kind of fresh btrfs (a host-made image, a RAM disk, an image under dm-delay),
which path it claims to exercise (checked against the kernel-side evidence
by harness.evidence), and what is checked after it (harness.durability's
power-cut replay).  The cell runner reads rows; it never asks a name.

Programs are C, compiled on the host (harness.guestbin) and run by the guest
from its harness-made root (harness.guestroot): real threads, pinned to
different CPUs, no interpreter lock.  A user's own fio job or executable (a
/bin/sh script or a static binary) is a workload too, copied into that root.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from harness import disks, guestroot
from harness.errors import HarnessError
from harness.paths import GUEST_CONFIG

WORKLOADS_DIR = GUEST_CONFIG / "workloads"
SHAPES = WORKLOADS_DIR / "dsync_shapes.c"

# where the cell's fresh btrfs lives (guest-config/guest-init.sh does the rest)
DISK = "disk"          # a host-made image, attached as /dev/vdX
RAM = "ram"            # /dev/ram0, made in the guest: bios complete inside submit
DELAY = "delay"        # a host-made image under dm-delay: completions come later
RAW = "raw"            # a host-made image the program mounts itself ({dev})

INLINE, ASYNC, MIXED = "inline", "async", "mixed"


@dataclass(frozen=True)
class Workload:
    name: str
    letter: str
    description: str
    program: Path | None              # C source (compiled by guestbin) or executable
    args: tuple = ()                  # a Path: a file copied into the guest; "{dev}": the cell's disk; "{bin:NAME}": a program;
                                      # "{race_seconds}": the line's race duration
    device: str = DISK
    direct: bool = True               # claims its writes take the direct IO path
    completions: str | None = None    # INLINE / ASYNC / MIXED: where they must run
    race: bool = False                # needs >= 2 CPUs, threads on different CPUs
    race_min: int = 0                 # rounds each racing thread must have done
    progress_deadline: float = 30.0   # seconds without progress before "hung"
    log_writes: bool = False          # QEMU records the disk's writes (blklogwrites)
    after: Callable | None = None     # host-side check after the VM: (cell, ctx) -> dict
    runs_with: tuple[Path, ...] = ()  # more C programs it needs ({bin:NAME})
    uses_mount_options: bool = True   # the line's mount options apply
    seconds: float = 1.5              # typical time in a VM (race time apart), after-run
                                      # check included: only orders the VM queue
    waits: bool = False               # its VM mostly waits (dm-delay's timers, its
                                      # power-cut check VM): it may share the host
    tools: tuple[str, ...] = ()       # guest tools it needs beyond guestroot.TOOLS
    disk: str = disks.DEFAULT         # the kind of its host-made disk (harness/disks/)
    sync_error: bool = False          # claims its btrfs_sync_file() returns a writeback
                                      # error (the wb_err tracepoint in the syncing task)
    changes_metadata: bool = True     # its O_DSYNC writes change metadata the data needs
                                      # (a new extent, a preallocated one converted, i_size):
                                      # only a pure overwrite may be written through unsynced

    @property
    def writes_through(self) -> bool:
        """iomap may write its O_DSYNC direct writes through, with no sync:
        its device has no volatile write cache (brd, a nocache disk) or
        has FUA (a fua disk).  The host's images on a cache disk do not."""
        return self.device == RAM or disks.get(self.disk).writes_through

    @property
    def needs_sync(self) -> bool:
        """Its O_DSYNC direct writes are durable only with a sync: on a
        device iomap cannot write through to, or when they change metadata
        (writing the data through leaves that in the running transaction)."""
        return not self.writes_through or self.changes_metadata

    def with_args(self, *args: str) -> "Workload":
        return replace(self, args=tuple(args))


# A race shape runs the line's race time and on until each of its two threads
# did `race` rounds (20 s more at most): a slow or loaded host still races as
# often as a PASS claims (5.10's 1 s once gave only 95 fsyncs in CI).


def _shape(name, letter, desc, mode=None, args=(), device=DISK, completions=INLINE,
           race=0, deadline=30.0):
    """A shape of guest-config/workloads/dsync_shapes.c (MODE defaults to NAME)."""
    if race:
        args = (*args, "-t", "{race_seconds}", "-m", str(race))
    return Workload(name, letter, desc, SHAPES, (mode or name, *args), device,
                    completions=completions, race=bool(race), race_min=race,
                    progress_deadline=deadline)


def _durability() -> Workload:
    from harness import durability      # its check boots a VM: imported when used
    return Workload(
        "durability", "h", "acknowledged O_DSYNC direct writes (psync, libaio, io_uring) "
        "survive a power cut", WORKLOADS_DIR / "durability.sh", ("{bin:dsync_ack}", "{dev}"),
        RAW, completions=MIXED, progress_deadline=60.0, log_writes=True,
        after=durability.after_run, runs_with=(WORKLOADS_DIR / "dsync_ack.c",),
        seconds=11.0,       # 5 s of writes, then the check VM
        waits=True)


AIO = ("-n", "64")

# the power-cut shapes on each disk kind: what the acknowledged writes change
# (dsync_ack's PREP), 8 writes a mode so that every ack's own cut point fits
# one check VM on a disk without a volatile cache
CUT_SHAPES = (
    ("cow", "COW overwrites inside EOF (a new extent each)", True),
    ("prealloc", "writes into a preallocated NOCOW range (generic/703's shape)", True),
    ("extend", "extending writes (a new i_size each)", True),
    ("nocow", "NOCOW overwrites of committed blocks inside EOF: nothing but data "
     "changes, the one write iomap may rightly write through", False),
)
CUT_WRITES = 8


# O_SYNC twins of cut shapes: iomap never writes an O_SYNC write through
# without its sync, so on the same disk the twin keeps every ack where its
# O_DSYNC shape loses the async ones (the lost sync is O_DSYNC's alone)
OSYNC_TWINS = (("cow", "nocache"),)


def _power_cut(prep: str, what: str, metadata: bool, disk: str, letter: str,
               osync: bool = False) -> Workload:
    from harness import durability
    flag = "O_SYNC" if osync else "O_DSYNC"
    return Workload(
        f"cut-{prep}{'-osync' if osync else ''}@{disk}", letter,
        f"power cut after acknowledged {flag} direct {what} (psync, libaio, io_uring "
        f"through dm-delay) on a {disks.get(disk).what} disk",
        WORKLOADS_DIR / "durability.sh",
        ("{bin:dsync_ack}", "{dev}", prep + ("+sync" if osync else ""), str(CUT_WRITES)),
        RAW, completions=MIXED, progress_deadline=60.0, log_writes=True,
        after=durability.after_run, runs_with=(WORKLOADS_DIR / "dsync_ack.c",),
        seconds=14.0, waits=True, disk=disk, changes_metadata=metadata)


def _cost(disk: str, letter: str) -> Workload:
    from harness import cost
    return Workload(
        f"cost@{disk}", letter,
        f"what 16 O_DSYNC direct COW overwrites cost (syncs, log commits, flushes) against "
        f"the same writes each followed by fdatasync, on a {disks.get(disk).what} disk",
        WORKLOADS_DIR / "cost.sh", ("{dev}",), RAW, direct=False, completions=None,
        progress_deadline=60.0, after=cost.after_run, seconds=8.0, disk=disk)


def cost_workloads(first: int) -> tuple[Workload, ...]:
    """The cost claim on every disk kind, lettered from `first` on."""
    return tuple(_cost(d, chr(first + i)) for i, d in enumerate(disks.kinds()))


def cut_workloads() -> tuple[Workload, ...]:
    """The power-cut shapes on the disk kinds other than today's: letters
    from m on, one per (shape, disk kind), then the O_SYNC twins."""
    out, letter = [], ord("m")
    for disk in (k for k in disks.kinds() if k != disks.DEFAULT):
        for prep, what, metadata in CUT_SHAPES:
            out.append(_power_cut(prep, what, metadata, disk, chr(letter)))
            letter += 1
    shapes = {prep: (what, metadata) for prep, what, metadata in CUT_SHAPES}
    for prep, disk in OSYNC_TWINS:
        out.append(_power_cut(prep, *shapes[prep], disk, chr(letter), osync=True))
        letter += 1
    return tuple(out)


def all_workloads() -> tuple[Workload, ...]:
    return (
        _shape("extending", "a", "extending O_DIRECT|O_DSYNC pwrite"),
        _shape("overwrite", "b", "O_DIRECT|O_DSYNC overwrite inside EOF"),
        _shape("libaio", "c", "libaio O_DIRECT on an O_DSYNC file, 16 in flight, every "
               "completion inline in the submitter (RAM disk; generic/113 shape)",
               args=AIO, device=RAM),
        _shape("io_uring", "d", "io_uring O_DIRECT on an O_DSYNC file, 16 in flight, every "
               "completion inline in the submitting task (RAM disk)", args=AIO, device=RAM),
        _shape("rwf-dsync", "e", "O_DIRECT pwritev2 with RWF_DSYNC"),
        _shape("unaligned", "f", "non-aligned O_DIRECT|O_DSYNC write (buffered fallback), "
               "then an aligned one (btrfs/234 shape)"),
        _shape("fsync-race", "g", "4 KiB O_DIRECT pwrite loop at offset 0 racing an fsync "
               "loop on the same fd, on two CPUs (generic/364 shape)", completions=None, race=200),
        _durability(),
        _shape("libaio-async", "i", "libaio O_DIRECT on an O_DSYNC file, 16 in flight, every "
               "completion in the dio worker (dm-delay)", "libaio", AIO, DELAY, ASYNC),
        _shape("io_uring-async", "j", "io_uring O_DIRECT on an O_DSYNC file, 16 in flight, "
               "every completion in the dio worker (dm-delay)", "io_uring", AIO, DELAY, ASYNC),
        Workload("wb-error", "l", "O_DIRECT|O_DSYNC write whose sync meets a writeback error "
                 "of another range of the file (dm error target under its second MiB)",
                 WORKLOADS_DIR / "wb_error.sh", ("{dev}",), RAW, seconds=6.0,
                 waits=True,        # 4 s of dm-delay timers
                 sync_error=True),
        _shape("overwrite-race", "k", "two threads on two CPUs loop 4 KiB O_DIRECT|O_DSYNC "
               "overwrites inside EOF of one file (shared inode lock)",
               race=50),              # O_DSYNC rounds: ~40 a second under TCG
        *(cuts := cut_workloads()),
        *cost_workloads(ord(cuts[-1].letter) + 1),
    )


def by_name() -> dict[str, Workload]:
    ws = all_workloads()
    return {w.name: w for w in ws} | {w.letter: w for w in ws}


def names() -> list[str]:
    return [w.name for w in all_workloads()]


def resolve(names_: list[str] | None) -> list[Workload]:
    if not names_ or names_ == ["all"]:
        return list(all_workloads())
    table = by_name()
    out = []
    for n in names_:
        if n in table:
            out.append(table[n])
            continue
        p = Path(n).expanduser()
        if n.endswith(".fio") or p.is_file():
            out.append(user_workload(p))
        else:
            raise HarnessError(
                f"unknown workload {n!r}; choose from {', '.join(names())}, a letter "
                f"a-{all_workloads()[-1].letter}, or the path of a .fio job or an executable")
    return out


def user_workload(path: Path) -> Workload:
    """A user's fio job or executable, run in the fresh btrfs's mount point.
    It claims no path: its PASS means only "no kernel report, exit 0"."""
    p = path.resolve()
    if not p.is_file():
        raise HarnessError(f"workload {path}: no such file")
    if p.suffix == ".fio":
        return Workload(p.stem, "-", f"user fio job {p.name}", None,
                        ("fio", "--output-format=terse", p), DISK, direct=False,
                        progress_deadline=120.0, seconds=10.0, tools=guestroot.USER_TOOLS)
    if not os.access(p, os.X_OK):
        raise HarnessError(f"workload {path}: not executable (chmod +x it), and not a .fio job")
    with open(p, "rb") as fh:
        head = fh.readline(256)
    if head.startswith(b"#!"):
        interp = head[2:].split()[0].decode(errors="replace") if head[2:].split() else ""
        if interp not in ("/bin/sh", "/usr/bin/env") and not (
                interp.startswith("/bin/")
                and interp[5:] in guestroot.TOOLS + guestroot.USER_TOOLS):
            raise HarnessError(f"workload {path}: its interpreter {interp or '(none)'} is not "
                               f"in the guest; use #!/bin/sh (tools: "
                               f"{' '.join(guestroot.TOOLS + guestroot.USER_TOOLS)})"
                               " or a static binary")
    # the guest copies it into its own root (harness.guestroot): any path works
    return Workload(p.stem, "-", f"user program {p.name}", p, (), DISK, direct=False,
                    progress_deadline=120.0, seconds=10.0, tools=guestroot.USER_TOOLS)
