"""(h) durability: prove that an acknowledged O_DSYNC direct write survives
a power cut.

1. Write phase: the guest overwrites a file with O_DIRECT|O_DSYNC through
   pwrite, libaio and io_uring (guest-config/workloads/dsync_ack.c), on a
   btrfs mounted through dm-delay (guest-config/workloads/durability.sh), so
   that AIO writes complete in a worker as on a real disk: under TCG a bare
   virtio disk completes a write before the submitting task has returned,
   and the submitter then syncs by itself.  Each
   completion is acknowledged on the console (mode, index, offset, length,
   hash) and marked in a trace instance beside the block layer's issue and
   completion of every request on the disk (durability.sh prints the trace
   on the console at the end).  QEMU's blklogwrites driver records the data
   of every write.
2. Cut points: right after every ack, the disk as the block layer's
   contract leaves it (harness.powercut): with a volatile cache, what a
   flush issued after a write's completion covered, and FUA writes once
   complete; without one, every completed write.  Everything acknowledged by
   then must be on the disk at that point.  (The log alone cannot say this:
   QEMU logs a flush when it completes, so a write still in flight when the
   flush was issued can sit before it in the log.)
3. Check phase: the disk is rebuilt at every cut point from the fresh image
   plus the durable writes.  The rebuilt images are mounted in fresh VMs,
   24 a VM (btrfs replays its log tree as after a real power cut), every
   required write is read back, and `btrfs check` runs on each image on the
   host.
"""
from __future__ import annotations

import mmap
import re
from dataclasses import dataclass
from pathlib import Path

from harness import disks as disksmod, guestbin, guestroot, powercut, proc, vm
from harness.afterrun import AfterContext, AfterResult
from harness.cell import PlanLine
from harness.errors import InfraError
from harness.host import LOCAL
from harness.kernel_reports import bugs
from harness.paths import GUEST_CONFIG

HELPER_SRC = GUEST_CONFIG / "workloads" / "dsync_ack.c"
BLOCK = 65536
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

LOG_FLUSH = powercut.LOG_FLUSH
ACK_RE = re.compile(r"@@harness ack (\w+) (\d+) (\d+) (\d+) ([0-9a-f]+)")
CUT_RE = re.compile(r"@@harness cut (\d+) (ok|lost|mount-failed)")  # from dsync_ack cuts
# "lost MODE INDEX" or "lost MODE all (why)"; the index ends where the
# digits do: the kernel's console may continue the same line ("lost
# libaio 1[   13.48][   T66] BTRFS info ...", seen on 6.12)
LOST_RE = re.compile(r"@@harness lost (\w+) (\d+|all)")
DISK_RE = re.compile(r"@@harness disk dev=(\S+) write_cache=(\S+) fua=(\S+)")
TRACE_PREFIX = "@@harness cuttrace "
TRACE_LOST_RE = re.compile(r"@@harness cuttrace-lost (\d+)")


Entry = powercut.Entry


@dataclass(frozen=True)
class Ack:
    mode: str
    index: int
    offset: int
    length: int
    hash: str


# ------------------------------------------------------------ pure helpers

parse_log = powercut.parse_log


def parse_acks(console: str) -> list[Ack]:
    return [Ack(m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4)), m.group(5))
            for m in ACK_RE.finditer(console)]


def cut_trace(console: str) -> tuple[str, int | None]:
    """The power-cut trace durability.sh printed (its lines without their
    prefix), and what its instance lost (None: it never said)."""
    lines = [ln[len(TRACE_PREFIX):] for ln in console.splitlines()
             if ln.startswith(TRACE_PREFIX)]
    m = TRACE_LOST_RE.search(console)
    return "\n".join(lines), (int(m.group(1)) if m else None)


@dataclass(frozen=True)
class Cut:
    """What a power cut right after an ack leaves on the disk (the steps
    that rebuild it from the fresh image), and the acks it must hold."""
    steps: tuple[powercut.Step, ...]
    acks: tuple[Ack, ...]


def cuts_from_trace(trace: powercut.Trace, entries: list[Entry], ss: int,
                    acks: list[Ack], size: int, model: str) -> list[Cut]:
    """One cut right after every ack (its marker in the trace), as the
    block layer's contract leaves the disk (harness.powercut); cuts that
    leave the same image merge, holding every ack made by the last of
    them.  ModelError when an ack has no marker or the records do not fit."""
    at = {}
    for m in trace.markers:
        parts = m.text.split()
        if len(parts) == 4 and parts[:2] == ["kdx", "ack"]:
            at.setdefault((parts[2], int(parts[3])), m.ts)
    missing = [f"{a.mode}#{a.index}" for a in acks if (a.mode, a.index) not in at]
    if missing:
        raise powercut.ModelError(f"{len(missing)} acks without their mark in the trace "
                                  f"({', '.join(missing[:4])})")
    placed = powercut.match(entries, ss, trace)
    flushes = powercut.Flushes.of(trace)
    discards = [r for r in trace.requests if r.op == "D"]
    by_image: dict[tuple, int] = {}
    for a in sorted(acks, key=lambda a: at[(a.mode, a.index)]):
        t = at[(a.mode, a.index)] + 1
        steps = tuple(powercut.image_steps(powercut.durable(placed, flushes, t, model),
                                           discards, ss, 0, size, t))
        by_image[steps] = max(by_image.get(steps, 0), t)
    return [Cut(steps, tuple(a for a in acks if at[(a.mode, a.index)] < t))
            for steps, t in sorted(by_image.items(), key=lambda kv: kv[1])]


def rebuild(base: Path, log: bytes, steps: tuple[powercut.Step, ...], out: Path) -> None:
    """The disk as a cut leaves it: the fresh image, then its steps."""
    proc.run(["cp", "--sparse=always", base, out], timeout=300)
    with open(out, "r+b") as fh:
        for st in steps:
            fh.seek(st.offset)
            fh.write(log[st.data:st.data + st.length] if st.data is not None
                     else bytes(st.length))


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
        info = _check(cell.id, ctx, outdir, data, acks, info, kind.durable, text)
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


def _check(name, ctx, outdir, data, acks, info, model=disksmod.FLUSHED,
           console: str = "") -> dict:
    """Cut points from the guest's block trace and the write log `data`
    (harness.powercut), rebuilt images, the check VMs."""
    base = ctx.fresh
    try:
        ss, entries = parse_log(data)
    except ValueError as e:
        raise InfraError(f"{name}: write log: {e}")
    if not acks:
        raise InfraError(f"{name}: no acknowledged write on the console")
    trace_text, lost = cut_trace(console)
    if lost is None or not trace_text:
        raise InfraError(f"{name}: the guest printed no power-cut trace")
    if lost:
        raise InfraError(f"{name}: the power-cut trace lost {lost} events: no cut can be "
                         "claimed from it")
    try:
        cuts = {c: list(c.acks) for c in cuts_from_trace(powercut.parse_trace(trace_text),
                                                         entries, ss, acks,
                                                         Path(base).stat().st_size, model)}
    except powercut.ModelError as e:
        raise InfraError(f"{name}: the power-cut records do not fit: {e}")
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
    texts, consoles, boots, booted, reasons, found = [], [], 0, True, [], []
    helper = guestbin.compiled(HELPER_SRC)
    for part in range(0, len(chosen), MAX_DISKS):
        chunk = chosen[part:part + MAX_DISKS]
        mine, listing_text = [], f"block {BLOCK}\n"
        for j, c in enumerate(chunk):
            k = part + j
            img = outdir / f"cut{k}.img"
            rebuild(base, data, c.steps, img)
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
        consoles.append(f"{name}/{rc.console_log.name}")
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
    info.update(check_consoles=consoles, check_vm=",".join(reasons),
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
