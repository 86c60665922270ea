"""(h) durability: prove that an acknowledged O_DSYNC direct write survives
a power cut.

1. Write phase: the guest overwrites a file with O_DIRECT|O_DSYNC through
   pwrite, libaio and io_uring (guest-config/workloads/dsync_ack.c), on a
   btrfs mounted through dm-delay (guest-config/workloads/durability.sh), so
   that AIO writes complete in a worker as on a real disk: under TCG a bare
   virtio disk completes a write before the submitting task has returned,
   and the submitter then syncs by itself.  Each
   completion is acknowledged on the console (mode, index, offset, length,
   hash) and then marked with a raw write to an unused spot of the disk.
   QEMU's blklogwrites driver records every write and flush to the disk.
2. Cut points: for every acknowledged write, the last flush before its marker
   is where a power cut right after the ack would leave the disk (the cache
   holds nothing the kernel did not flush).  Everything acknowledged by then
   must be on the disk at that point.
3. Check phase: the disk is rebuilt at each cut point (every one) from the fresh image plus the logged writes.  All
   the rebuilt images are mounted in one fresh VM (btrfs replays its log tree
   as after a real power cut), every required write is read back, and
   `btrfs check` runs on each image on the host.
"""
from __future__ import annotations

import mmap
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from harness import disks as disksmod, guestbin, guestroot, proc, vm
from harness.afterrun import AfterContext, AfterResult
from harness.cell import PlanLine
from harness.errors import InfraError
from harness.host import LOCAL
from harness.kernel_reports import bugs
from harness.paths import GUEST_CONFIG

HELPER_SRC = GUEST_CONFIG / "workloads" / "dsync_ack.c"
BLOCK = 65536
MARK_OFFSET = 32768            # where dsync_ack drops its markers (btrfs never writes there)
ASYNC_MODES = ("libaio", "uring")
MAX_DISKS = 24                 # rebuilt images in one check VM (vdb..vdy)
# every acknowledgement's own cut point is checked, MAX_DISKS to a check VM:
# sampling them let the psync acks' own cuts go unchecked (the earliest one
# checked came after libaio's preparing fsync, which flushed them), so a
# kernel that dropped the sync of synchronous O_DSYNC writes passed
MAX_CHECK_VMS = 4
# the check VM mounts its images one after the other: one vCPU does it (a
# second only boots and idles, and takes a host core from the heavy VM
# beside it: 5.10's check VM on an idle host, 8.0-8.5 s with one against
# 9.6-10 s with two), and it counts nothing by the tracefs probes
CHECK_CPUS = 1
LIST_SIZE = 1 << 20

# dm-log-writes format (what QEMU's blklogwrites writes): a super block in
# sector 0, then for every write/flush one header sector followed by the data
LOG_MAGIC = 0x6a736677736872
LOG_FLUSH, LOG_FUA, LOG_DISCARD, LOG_MARK = 1, 2, 4, 8
ACK_RE = re.compile(r"@@harness ack (\w+) (\d+) (\d+) (\d+) ([0-9a-f]+)")
CUT_RE = re.compile(r"@@harness cut (\d+) (ok|lost|mount-failed)")  # from dsync_ack cuts
# "lost MODE INDEX" or "lost MODE all (why)"; the index ends where the
# digits do: the kernel's console may continue the same line ("lost
# libaio 1[   13.48][   T66] BTRFS info ...", seen on 6.12)
LOST_RE = re.compile(r"@@harness lost (\w+) (\d+|all)")
DISK_RE = re.compile(r"@@harness disk dev=(\S+) write_cache=(\S+) fua=(\S+)")
MARK_RE = re.compile(rb"^KDSYNC-ACK (\w+) (\d+)\n")


@dataclass(frozen=True)
class Entry:
    sector: int          # in log sectors
    nr: int
    flags: int
    data: int            # byte offset of the data in the log file


@dataclass(frozen=True)
class Ack:
    mode: str
    index: int
    offset: int
    length: int
    hash: str


# ------------------------------------------------------------ pure helpers

def parse_log(data: bytes) -> tuple[int, list[Entry]]:
    """(sector size, entries) of a dm-log-writes log; stops at the first
    entry that does not fit (a log cut short by a killed VM)."""
    if len(data) < 32:
        raise ValueError("log too short")
    magic, version, count, ss = struct.unpack_from("<QQQI", data, 0)
    if magic != LOG_MAGIC or version != 1 or ss not in (512, 1024, 2048, 4096):
        raise ValueError("not a dm-log-writes log")
    entries, pos = [], ss
    while len(entries) < count and pos + ss <= len(data):
        sector, nr, flags, _ = struct.unpack_from("<QQQQ", data, pos)
        size = 0 if flags & LOG_DISCARD else nr * ss
        if pos + ss + size > len(data):
            break
        entries.append(Entry(sector, nr, flags, pos + ss))
        pos += ss + size
    return ss, entries


def parse_acks(console: str) -> list[Ack]:
    return [Ack(m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4)), m.group(5))
            for m in ACK_RE.finditer(console)]


def markers(data: bytes, ss: int, entries: list[Entry]) -> dict[tuple[str, int], int]:
    """(mode, index) -> position in `entries` of that ack's marker write."""
    out: dict[tuple[str, int], int] = {}
    for i, e in enumerate(entries):
        if e.nr and not e.flags & LOG_DISCARD and e.sector * ss == MARK_OFFSET:
            m = MARK_RE.match(data[e.data:e.data + 64])
            if m:
                out.setdefault((m.group(1).decode(), int(m.group(2))), i)
    return out


@dataclass(frozen=True)
class Cut:
    """What a power cut leaves on the disk: the log's entries up to `upto`,
    plus the FUA writes `fua` after it (a volatile cache's model)."""
    upto: int
    fua: tuple[int, ...] = ()

    def entries(self) -> list[int]:
        return [*range(self.upto + 1), *self.fua]


def durable_at(entries: list[Entry], marker: int, model: str) -> Cut:
    """The disk as a power cut right after the write at `marker` leaves it.
    flushed (a volatile cache): what the last flush before it covered, and
    every FUA write before it (durable when it completed); completed (no
    volatile cache): every write before it."""
    if model == disksmod.COMPLETED:
        return Cut(marker - 1)
    if model != disksmod.FLUSHED:
        raise ValueError(f"unknown power-cut model {model!r}")
    last = max((i for i in range(marker) if entries[i].flags & LOG_FLUSH), default=-1)
    return Cut(last, tuple(i for i in range(last + 1, marker)
                           if entries[i].flags & LOG_FUA and entries[i].nr))


def cut_points(entries: list[Entry], marks: dict[tuple[str, int], int],
               acks: list[Ack], model: str = disksmod.FLUSHED) -> dict[Cut, list[Ack]]:
    """Every distinct power-cut point right after an ack (in log order) ->
    every ack that must be durable there: all acknowledged by then."""
    at = {a: durable_at(entries, marks[(a.mode, a.index)], model) for a in acks}
    last: dict[Cut, int] = {}
    for a, c in at.items():
        last[c] = max(last.get(c, -1), marks[(a.mode, a.index)])
    order = sorted(last, key=lambda c: (last[c], c.upto))
    return {c: [a for a in acks if marks[(a.mode, a.index)] <= last[c]] for c in order}


def rebuild(base: Path, log: bytes, ss: int, entries: list[Entry], cut: "Cut | int",
            out: Path) -> None:
    """The disk as the power cut `cut` leaves it (an int: after that entry)."""
    cut = Cut(cut) if isinstance(cut, int) else cut
    proc.run(["cp", "--sparse=always", base, out], timeout=300)
    with open(out, "r+b") as fh:
        for e in (entries[i] for i in cut.entries()):
            if e.nr and not e.flags & LOG_DISCARD:
                fh.seek(e.sector * ss)
                fh.write(log[e.data:e.data + e.nr * ss])


# ------------------------------------------------------------------- running

def after_run(cell, r, ctx: AfterContext) -> AfterResult:
    """The workload row's after-run check: the write phase ran as an
    ordinary cell (its disk through blklogwrites); replay the write log to
    the power-cut points and check them in a fresh VM on the same kernel.
    Returns judge()'s verdict, title and detail, with the figures."""
    disk = ctx.disk
    log_path = Path(disk.log_writes)
    outdir = ctx.outdir
    text = r.cell_text(cell.id)
    kind = disksmod.get(disk.kind)
    seen = disk_facts(text)
    info: dict = {"disk": kind.name, "disk_seen": seen}
    wrong = next(filter(None, (kind.mismatch(f) for f in seen.values())), None) \
        if seen else kind.mismatch({})
    if wrong:
        return AfterResult("INFRA", detail=wrong, figures=info)
    acks = parse_acks(text)
    info.update(acknowledged=len(acks), cut_points=0, cut_points_checked=0,
                model=kind.durable)
    wrote = written(text)
    if wrote is not None and wrote != len(acks):
        # an ack line lost on the console (or one too many) would check the
        # wrong set of writes
        return AfterResult("ERROR", detail=f"the console shows {len(acks)} acknowledgements "
                           f"for the {wrote} writes the workload says it made", figures=info)
    # the log file is 1 GiB and sparse: map it rather than read it
    with open(log_path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        info = _check(cell.id, ctx, outdir, data, acks, info, kind.durable)
    verdict, title, detail = judge(info)
    return AfterResult(verdict, title=title, detail=detail,
                       kind="durability" if verdict != "PASS" else None, figures=info)


def written(text: str) -> int | None:
    """The writes the workload says it acknowledged ("@@harness stat
    writes=N", one line a mode), None when it said nothing."""
    counts = [int(m.group(1)) for m in re.finditer(r"@@harness stat writes=(\d+)", text)]
    return sum(counts) if counts else None


def disk_facts(text: str) -> dict[str, dict]:
    """What the guest saw of each device of the cell's stack (the disk, the
    dm device btrfs is on): {dev: {"write_cache": ..., "fua": ...}}."""
    return {m.group(1): {"write_cache": m.group(2).replace("_", " "), "fua": m.group(3)}
            for m in DISK_RE.finditer(text)}


def _check(name, ctx, outdir, data, acks, info, model=disksmod.FLUSHED) -> dict:
    """Cut points from the write log `data`, rebuilt images, the check VM."""
    base = ctx.fresh
    try:
        ss, entries = parse_log(data)
    except ValueError as e:
        raise InfraError(f"{name}: write log: {e}")
    marks = markers(data, ss, entries)
    missing = [a for a in acks if (a.mode, a.index) not in marks]
    if not acks or missing:
        raise InfraError(f"durability: {len(acks)} acks, {len(missing)} without a marker "
                         "in the write log")
    cuts = cut_points(entries, marks, acks, model)
    # every cut point, MAX_DISKS images to a check VM (/dev/vdb ... /dev/vdy,
    # the listing on the next)
    chosen = list(cuts)
    if len(chosen) > MAX_DISKS * MAX_CHECK_VMS:
        raise InfraError(f"{name}: {len(chosen)} cut points, more than "
                         f"{MAX_DISKS * MAX_CHECK_VMS} the check VMs take")
    info.update(acknowledged=len(acks), cut_points=len(cuts), cut_points_checked=len(chosen),
                log_entries=len(entries),
                flushes=sum(1 for e in entries if e.flags & LOG_FLUSH))
    images: list[str] = []
    texts, boots, booted, reasons, found = [], 0, True, [], []
    helper = guestbin.compiled(HELPER_SRC)
    for part in range(0, len(chosen), MAX_DISKS):
        chunk = chosen[part:part + MAX_DISKS]
        mine, listing_text = [], f"block {BLOCK}\n"
        for j, c in enumerate(chunk):
            k = part + j
            img = outdir / f"cut{k}.img"
            rebuild(base, data, ss, entries, c, img)
            mine.append(str(img))
            required: dict[str, list[int]] = {}
            for a in cuts[c]:
                required.setdefault(a.mode, []).append(a.index)
            listing_text += (f"cut {k} {vm.dev_name(j)} " + " ".join(
                f"{mode} {','.join(map(str, idx))}" for mode, idx in required.items()) + "\n")
        images += mine
        suffix = "" if part == 0 else f"-{part // MAX_DISKS + 1}"
        listing = outdir / f"cuts{suffix}.img"
        blob = listing_text.encode()
        listing.write_bytes(blob + b"\0" * (LIST_SIZE - len(blob)))
        list_dev = vm.dev_name(len(mine))
        plan = [PlanLine(f"{name}-check", "none", "", f"{guestroot.guest_path(helper)} cuts "
                         f"{list_dev} {ctx.mount_options}".rstrip()).encode()]
        disks = [vm.Disk(p) for p in mine] + [vm.Disk(str(listing))]
        # the same kernel booted for the write phase: a check VM that does
        # not reach userspace is the host's hiccup, and gets one more boot
        # (its console kept beside the second one's)
        for attempt in (1, 2):
            boot = check_boot(ctx, helper)
            with ctx.slot():
                rc = vm.run(f"{name}-check{suffix}" + ("" if attempt == 1 else "-again"), boot,
                            plan, disks, outdir, {f"{name}-check": 120.0}, 120.0)
            if rc.booted:
                break
        boots += attempt
        booted &= rc.booted
        reasons.append(rc.reason)
        texts.append(rc.text)
        found += [f.title for f in bugs(rc.findings)]
        if not ctx.keep:
            listing.unlink(missing_ok=True)
    info["check_vm_boots"] = boots
    info["check_vms"] = len(texts)
    text = "\n".join(texts)
    results = {int(m.group(1)): m.group(2) for m in CUT_RE.finditer(text)}
    lost = parse_lost(text)
    fsck = {}
    for k, img in enumerate(images):
        complaint = LOCAL.fsck(img)     # the images are here: the write log is
        if complaint:
            fsck[k] = complaint
    info.update(check_console=f"{name}/{rc.console_log.name}", check_vm=",".join(reasons),
                check_vm_booted=booted, lost=lost,
                cuts_lost=sorted(k for k, v in results.items() if v == "lost"),
                mount_failed=sorted(k for k, v in results.items() if v == "mount-failed"),
                unchecked=sorted(set(range(len(images))) - set(results)),
                fsck=fsck, check_findings=found)
    clean = not (lost or fsck or info["mount_failed"] or info["unchecked"]
                 or info["check_findings"])
    if clean and not ctx.keep:
        for p in images:
            Path(p).unlink(missing_ok=True)
    return info


def check_boot(ctx: AfterContext, helper: Path) -> "vm.Boot":
    """The check VM: the cell's kernel, one vCPU, no probes (CHECK_CPUS)."""
    return vm.Boot(ctx.kernel, ctx.accel, CHECK_CPUS, ctx.root_kind, nice=ctx.nice,
                   files=(helper,), evidence=False)


def parse_lost(text: str) -> list[str]:
    """The acknowledged writes the check VM found missing: ["libaio#3", ...]."""
    return sorted({f"{m.group(1)}#{m.group(2)}" for m in LOST_RE.finditer(text)})


def judge(info: dict) -> tuple[str, str | None, str]:
    """(verdict, title, detail) of the power-cut check; PASS when clean."""
    n = f"{info['cut_points_checked']} of {info['cut_points']} cut points"
    if info.get("check_findings"):
        return "FAIL", info["check_findings"][0], f"kernel report while checking {n}"
    if info.get("lost"):
        modes = sorted({x.split("#")[0] for x in info["lost"]})
        return ("FAIL", f"lost O_DSYNC write after power cut ({', '.join(modes)})",
                f"{len(info['lost'])} acknowledged writes missing at cut point(s) "
                f"{info['cuts_lost']} ({n}, {info['acknowledged']} acks)")
    if info.get("unchecked") and not info.get("check_vm_booted", True):
        # the check VM never reached userspace: nothing was mounted, so
        # nothing can be claimed about the images (seen once on 6.1 under
        # TCG: its console stopped in PCI enumeration)
        return ("INFRA", None, f"the power-cut check VM did not reach userspace "
                f"({info.get('check_vm')}): cut points {info['unchecked']} unchecked ({n})")
    if info.get("mount_failed") or info.get("unchecked"):
        return ("FAIL", "btrfs mount failed after power cut",
                f"cut points {info.get('mount_failed') or info.get('unchecked')} ({n})")
    if info.get("fsck"):
        k, msg = next(iter(info["fsck"].items()))
        return "FAIL", "btrfs check failed after power cut", f"cut point {k}: {msg} ({n})"
    return "PASS", None, f"{n}, {info['acknowledged']} acknowledged writes: all present"
