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
3. Check phase: the disk is rebuilt at each cut point (all of them, or a
   bounded random sample) from the fresh image plus the logged writes.  All
   the rebuilt images are mounted in one fresh VM (btrfs replays its log tree
   as after a real power cut), every required write is read back, and
   `btrfs check` runs on each image on the host.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import mmap
import os
import random
import re
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

from harness import proc, vm
from harness.errors import HarnessError, InfraError
from harness.kernel_reports import bugs, read_log
from harness.paths import cache_dir
from harness.workload import WORKLOADS_DIR, Workload

HELPER_SRC = WORKLOADS_DIR / "dsync_ack.c"
CHECK_PHASE = WORKLOADS_DIR / "durability_check.py"
BLOCK = 65536
MARK_OFFSET = 32768            # where dsync_ack drops its markers (btrfs never writes there)
MAX_CUTS = 8                   # cut points checked per run (a bounded random sample)
LOG_SIZE = "1G"
LIST_SIZE = 1 << 20

# dm-log-writes format (what QEMU's blklogwrites writes): a super block in
# sector 0, then for every write/flush one header sector followed by the data
LOG_MAGIC = 0x6a736677736872
LOG_FLUSH, LOG_FUA, LOG_DISCARD, LOG_MARK = 1, 2, 4, 8
ACK_RE = re.compile(r"@@harness ack (\w+) (\d+) (\d+) (\d+) ([0-9a-f]+)")
CUT_RE = re.compile(r"@@harness cut (\d+) (ok|lost|mount-failed)")
LOST_RE = re.compile(r"@@harness lost (\w+) (\S+)")
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


def cut_points(entries: list[Entry], marks: dict[tuple[str, int], int],
               acks: list[Ack]) -> dict[int, list[Ack]]:
    """cut (index of the last flush before an ack's marker, -1 for none)
    -> every ack that must be durable there."""
    flushes = [i for i, e in enumerate(entries) if e.flags & LOG_FLUSH]
    at = {}
    for a in acks:
        m = marks[(a.mode, a.index)]
        at[a] = max((f for f in flushes if f < m), default=-1)
    return {c: [a for a in acks if at[a] <= c] for c in sorted(set(at.values()))}


def sample(cuts: list[int], n: int, seed: str) -> list[int]:
    """All cut points, or the last one plus a seeded random n-1 of the rest."""
    if len(cuts) <= n:
        return list(cuts)
    rng = random.Random(seed)
    return sorted(rng.sample(cuts[:-1], n - 1) + [cuts[-1]])


def rebuild(base: Path, log: bytes, ss: int, entries: list[Entry], upto: int, out: Path) -> None:
    """The disk as a power cut after entry `upto` leaves it."""
    proc.run(["cp", "--sparse=always", base, out], timeout=300)
    with open(out, "r+b") as fh:
        for e in entries[:upto + 1]:
            if e.nr and not e.flags & LOG_DISCARD:
                fh.seek(e.sector * ss)
                fh.write(log[e.data:e.data + e.nr * ss])


# ------------------------------------------------------------------- running

def helper() -> Path:
    """dsync_ack compiled for this host (the guest runs the host's binaries)."""
    src = HELPER_SRC.read_bytes()
    out = cache_dir() / "guest-bin" / f"dsync_ack-{hashlib.sha256(src).hexdigest()[:12]}"
    if not out.exists():
        proc.require_tools("gcc")
        proc.require_headers("/usr/include/libaio.h", "/usr/include/liburing.h")
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f"{out.name}.{os.getpid()}.{threading.get_ident()}")
        proc.run(["gcc", "-O2", "-Wall", "-o", tmp, HELPER_SRC, "-laio", "-luring"],
                 timeout=120, what="compiling dsync_ack")
        os.replace(tmp, out)              # cells compiling at once: last one wins
    return out


def run_cell(name: str, kernel: Path, workload: Workload, outdir: Path, accel: str,
             host=vm.LOCAL, keep: bool = False) -> tuple[vm.VmRun, dict]:
    """Write phase + check phase; returns the write phase's VmRun (judged like
    any other) and what the power-cut check found."""
    if host is not vm.LOCAL:
        raise HarnessError("the durability workload runs VMs locally only (not with --remote)")
    bin_ = helper()
    disk = Path(vm.LOCAL.make_disk(outdir, f"{name}.img"))
    base = outdir / f"{name}.fresh.img"
    proc.run(["cp", "--sparse=always", disk, base], timeout=300)
    log_path = outdir / f"{name}.writes.log"
    log_path.unlink(missing_ok=True)
    proc.run(["truncate", "-s", LOG_SIZE, log_path], timeout=30)
    w = dataclasses.replace(workload, args=str(bin_))
    r = vm.run(name, kernel, w, outdir, accel, disk=str(disk), log_writes=str(log_path))
    info: dict = {"acknowledged": 0, "cut_points": 0, "cut_points_checked": 0}
    if r.reason != "done" or bugs(r.findings) or r.rc not in (0, None) or r.errors:
        return r, info                       # judged as a FAIL/ERROR of the write phase
    acks = parse_acks(read_log(r.console_log))
    # the log file is 1 GiB and sparse: map it rather than read it
    with open(log_path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return r, _check(name, kernel, outdir, accel, keep, bin_, disk, base, log_path,
                         data, acks, info)


def _check(name, kernel, outdir, accel, keep, bin_, disk, base, log_path, data, acks,
           info) -> dict:
    """Cut points from the write log `data`, rebuilt images, the check VM."""
    try:
        ss, entries = parse_log(data)
    except ValueError as e:
        raise InfraError(f"{log_path.name}: {e}")
    marks = markers(data, ss, entries)
    missing = [a for a in acks if (a.mode, a.index) not in marks]
    if not acks or missing:
        raise InfraError(f"durability: {len(acks)} acks, {len(missing)} without a marker "
                         "in the write log")
    cuts = cut_points(entries, marks, acks)
    chosen = sample(list(cuts), MAX_CUTS, name)
    info.update(acknowledged=len(acks), cut_points=len(cuts), cut_points_checked=len(chosen),
                log_entries=len(entries),
                flushes=sum(1 for e in entries if e.flags & LOG_FLUSH))
    images, spec = [], {"block": BLOCK, "cuts": []}
    for k, c in enumerate(chosen):
        img = outdir / f"{name}.cut{k}.img"
        rebuild(base, data, ss, entries, c, img)
        images.append(str(img))
        required: dict[str, list[int]] = {}
        for a in cuts[c]:
            required.setdefault(a.mode, []).append(a.index)
        spec["cuts"].append({"cut": k, "entry": c, "disk": f"/dev/vd{chr(ord('a') + k)}",
                             "required": required})
    listing = outdir / f"{name}.cuts.json.img"
    blob = json.dumps(spec).encode()
    listing.write_bytes(blob + b"\0" * (LIST_SIZE - len(blob)))
    list_dev = f"/dev/vd{chr(ord('a') + len(images))}"
    check = Workload("durability-check", "-", CHECK_PHASE, f"{bin_},{list_dev}",
                     "power-cut check", 120.0, nomount=True)
    rc = vm.run(f"{name}-check", kernel, check, outdir, accel,
                more_disks=tuple(images) + (str(listing),))
    text = read_log(rc.console_log)
    results = {int(m.group(1)): m.group(2) for m in CUT_RE.finditer(text)}
    lost = sorted({f"{m.group(1)}#{m.group(2)}" for m in LOST_RE.finditer(text)})
    fsck = {}
    for k, img in enumerate(images):
        complaint = vm.LOCAL.fsck(img)
        if complaint:
            fsck[k] = complaint
    info.update(check_console=rc.console_log.name, lost=lost,
                cuts_lost=sorted(k for k, v in results.items() if v == "lost"),
                mount_failed=sorted(k for k, v in results.items() if v == "mount-failed"),
                unchecked=sorted(set(range(len(images))) - set(results)),
                fsck=fsck, check_findings=[f.title for f in bugs(rc.findings)])
    clean = not (lost or fsck or info["mount_failed"] or info["unchecked"]
                 or info["check_findings"])
    if clean and not keep:
        for p in [*images, str(base), str(disk), str(log_path), str(listing)]:
            Path(p).unlink(missing_ok=True)
    return info


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
    if info.get("mount_failed") or info.get("unchecked"):
        return ("FAIL", "btrfs mount failed after power cut",
                f"cut points {info.get('mount_failed') or info.get('unchecked')} ({n})")
    if info.get("fsck"):
        k, msg = next(iter(info["fsck"].items()))
        return "FAIL", "btrfs check failed after power cut", f"cut point {k}: {msg} ({n})"
    return "PASS", None, f"{n}, {info['acknowledged']} acknowledged writes: all present"
