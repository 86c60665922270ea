"""Run generated cases (harness.cases) on one kernel, many to a VM, and
judge each by the same oracles.

A batch is one disk kind's cases:

1. **Write VM.**  One disk of the kind, through QEMU's blklogwrites (the
   data of every write), one region of it per case; the guest program
   (guest-config/workloads/explore.c) makes each case's fresh file system
   there, runs its steps and marks everything in the kernel's trace, beside
   the block layer's issue and completion of every request on the disk.
2. **Cuts.**  For every acknowledgement, every step between the last one
   and the case's end, and the start of the measured writes: what is on the
   disk if power fails there (harness.powercut: the block layer's contract),
   and what the case's file must hold (harness.cases: the model).
3. **Check VM.**  One fresh VM on the same kernel rebuilds every cut of
   every case from the write log, mounts it (the file system replays its
   log), reads every expected unit back, and runs the file system's fsck.

A case FAILs on a lost or wrong unit, a mount that fails, an fsck that
complains, or a kernel report in either VM while it ran; it is INFRA when a
step it needs could not run or its records do not fit together; PASS only
when every oracle its verdict names ran.  What ran is in the result.
"""
from __future__ import annotations

import json
import mmap
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness import cases as casesmod
from harness import disks as disksmod
from harness import guestbin, guestroot, powercut, vm
from harness import taint as taintmod
from harness.cases import Program, Timeline
from harness.cell import PlanLine
from harness.errors import HarnessError, InfraError
from harness.kernel_reports import bugs
from harness.paths import GUEST_CONFIG

PROGRAM_SRC = GUEST_CONFIG / "workloads" / "explore.c"
# what the guest program runs besides the shared tools: the peers' mkfs and
# fsck (env: mkfs.xfs's test-rig setting)
TOOLS = ("mkfs.xfs", "mkfs.ext4", "xfs_repair", "e2fsck", "env")
TEXT_DISK = 16 << 20          # the cases' and the check plan's disks
OUT_DISK = 256 << 20          # the write VM's trace comes back on it
CASE_SECONDS = 45.0           # no progress for this long in a case: the VM is stuck
IMAGE_SECONDS = 45.0
VM_SECONDS = 12.0             # a VM's boot and teardown, in its budget

TAINT_RE = re.compile(r"taint=(-?\d+)(?:,(-?\d+))?")
BOOT_TAINT_RE = re.compile(r"@@harness xboot taint=(-?\d+)")
PROGRESS_RE = re.compile(r"@@harness progress (xstart|xcase|xcheck-start|xcut) (-?\d+)(.*)$",
                         re.M)
MARK_RE = re.compile(r"^kdx (\w+) (-?\d+)(?: (.*))?$")


@dataclass(frozen=True)
class Kernel:
    """A built kernel the explorer boots."""
    line: str
    variant: str
    image: Path
    root_kind: str
    accel: str
    commit: str = ""

    @property
    def label(self) -> str:
        return f"{self.line}-{self.variant}"


@dataclass(frozen=True)
class Settings:
    outdir: Path
    cpus: int = 1
    keep: bool = False
    salt: str = ""
    progress: object = print


@dataclass
class Outcome:
    """One case's verdict and what it rests on."""
    key: str
    id: int
    verdict: str                     # PASS | FAIL | INFRA
    title: str | None = None
    detail: str = ""
    oracles: dict = field(default_factory=dict)      # oracle -> what it concluded
    missing: dict = field(default_factory=dict)      # oracle it needed -> why it did not run
    signature: dict = field(default_factory=dict)
    cuts: list = field(default_factory=list)
    batch: str = ""
    repro: dict | None = None        # the first failing cut, for a reproducer kit

    def as_json(self) -> dict:
        return asdict(self)


# ------------------------------------------------------------ write phase

def _text_disk(path: Path, text: str, size: int = TEXT_DISK) -> None:
    blob = text.encode()
    if len(blob) >= size:
        raise InfraError(f"{path.name}: {len(blob)} bytes do not fit its disk")
    with open(path, "wb") as fh:
        fh.write(blob)
        fh.truncate(size)


def _sparse(path: Path, size: int) -> None:
    with open(path, "wb") as fh:
        fh.truncate(size)


def _boot(kernel: Kernel, settings: Settings, helper: Path, cpus: int) -> vm.Boot:
    return vm.Boot(kernel.image, kernel.accel, cpus, kernel.root_kind, files=(helper,),
                   tools=TOOLS, evidence=False)


def write_phase(kernel: Kernel, programs: list[Program], kind: str, bdir: Path,
                settings: Settings) -> tuple[vm.VmRun, dict]:
    """Boot the kernel and run `programs`, region i for programs[i];
    returns the VM run and the paths of its disks."""
    helper = guestbin.compiled(PROGRAM_SRC)
    sectors = casesmod.REGION // 512
    text = "".join(p.guest_text(i * sectors, sectors) for i, p in enumerate(programs))
    paths = {"cases": bdir / "cases.img", "data": bdir / "data.img", "log": bdir / "data.log",
             "out": bdir / "out.img"}
    _text_disk(paths["cases"], text)
    (bdir / "cases.txt").write_text(text)
    _sparse(paths["data"], len(programs) * casesmod.REGION)
    paths["log"].write_bytes(b"")
    _sparse(paths["out"], OUT_DISK)
    kinds = [disksmod.DEFAULT, kind, disksmod.DEFAULT]
    names = disksmod.guest_names(kinds)
    disks = [vm.Disk(str(paths["cases"])),
             vm.Disk(str(paths["data"]), log_writes=str(paths["log"]), kind=kind),
             vm.Disk(str(paths["out"]))]
    name = "write"
    plan = [PlanLine(name, "none", "", f"{guestroot.guest_path(helper)} run {names[0]} "
                                       f"{names[1]} {names[2]}").encode()]
    budget = VM_SECONDS + CASE_SECONDS * len(programs)
    run = vm.run(name, _boot(kernel, settings, helper, settings.cpus), plan, disks, bdir,
                 {name: CASE_SECONDS}, budget)
    return run, paths


def read_out(path: Path) -> tuple[dict, str]:
    """The write VM's output disk: its header fields and the trace text."""
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
        end = m.find(b"\0")
        blob = m[:end if end >= 0 else len(m)].decode(errors="replace")
    if not blob.startswith("KDXOUT 1\n"):
        raise InfraError("the write VM left no trace on its output disk")
    head, _, trace = blob.partition("\ntrace\n")
    fields: dict = {}
    for line in head.splitlines()[1:]:
        key, _, rest = line.partition(" ")
        fields[key] = dict(kv.split("=", 1) for kv in rest.split() if "=" in kv) or rest
    return fields, trace


def timelines(markers) -> dict[int, Timeline]:
    """Each case's steps and measured writes, from the trace's kdx markers."""
    steps: dict[int, dict] = {}
    writes: dict[int, dict] = {}
    ends: dict[int, int] = {}
    for m in markers:
        mm = MARK_RE.match(m.text)
        if not mm:
            continue
        kind, cid, rest = mm.group(1), int(mm.group(2)), (mm.group(3) or "").split()
        if kind == "op" and len(rest) >= 2:
            seq = int(rest[0])
            cur = steps.setdefault(cid, {}).get(seq, (None, None, None))
            if rest[1] == "start":
                steps[cid][seq] = (m.ts, None, None)
            elif rest[1] == "end":
                rc = int(rest[2].split("=", 1)[1]) if len(rest) > 2 else None
                steps[cid][seq] = (cur[0], m.ts, rc)
        elif kind == "w" and len(rest) >= 2:
            writes.setdefault(cid, {})[int(rest[1])] = (m.ts, None, None)
        elif kind in ("ack", "err") and len(rest) >= 3:
            i = int(rest[1])
            issued = writes.setdefault(cid, {}).get(i, (None, None, None))[0]
            res = int(rest[2])
            writes[cid][i] = (issued, m.ts if kind == "ack" else None, res)
        elif kind == "case" and rest and rest[0] == "end":
            ends[cid] = m.ts
    return {cid: Timeline(steps.get(cid, {}), writes.get(cid, {}), ends.get(cid))
            for cid in set(steps) | set(writes) | set(ends)}


# --------------------------------------------------------------- the cuts

@dataclass(frozen=True)
class Cut:
    case: int
    at: int                          # trace position
    why: str                         # "pre", "ack 0", "after step 7"
    steps: tuple[powercut.Step, ...]
    expects: tuple[casesmod.Expect, ...]
    known: tuple[str, ...]


def cut_points(program: Program, tl: Timeline) -> list[tuple[int, str]]:
    """(trace position, why) of every power cut the case is judged at."""
    m_seq = next(s.seq for s in program.steps if s.kind == "measure")
    out = []
    start = tl.steps.get(m_seq, (None, None, None))[0]
    if start is not None:
        out.append((start, "before the writes"))
    for i, (issued, acked, res) in sorted(tl.writes.items()):
        if acked is not None:
            out.append((acked + 1, f"after ack {i}"))
    for s in program.steps:
        if s.phase == "between":
            end = tl.steps.get(s.seq, (None, None, None))[1]
            if end is not None:
                out.append((end + 1, f"after {s.kind} ({s.seq})"))
    return out


def cuts_of(program: Program, tl: Timeline, placed: list[powercut.Placed],
            flushes: powercut.Flushes, discards: list, ss: int, region: int,
            model: str) -> list[Cut]:
    """The distinct power-cut images of one case (region `region`)."""
    start, size = region * casesmod.REGION, casesmod.REGION
    lo, hi = start // ss, (start + size) // ss
    mine = [p for p in placed if p.entry.sector < hi and p.entry.sector + p.entry.nr > lo]
    my_discards = [d for d in discards if d.sector * 512 < start + size and d.end * 512 > start]
    vs, _ = casesmod.versions(program, tl)
    known = tuple(casesmod.known_seeds(vs))
    out, seen = [], set()
    for t, why in cut_points(program, tl):
        on_disk = powercut.durable(mine, flushes, t, model)
        steps = tuple(powercut.image_steps(on_disk, my_discards, ss, start, size, t))
        expects = tuple(casesmod.expectations(vs, program.names, t))
        key = (steps, expects)
        if key in seen:
            continue
        seen.add(key)
        out.append(Cut(program.id, t, why, steps, expects, known))
    return out


# ------------------------------------------------------------ check phase

def check_text(images: list[tuple[int, Program, Cut]]) -> str:
    lines = []
    for k, prog, cut in images:
        lines.append(f"image {k} {prog.fs} {casesmod.REGION} {prog.options or '-'} 1")
        for s in cut.steps:
            lines.append(f"apply {s.data} {s.offset} {s.length}" if s.data is not None
                         else f"zero {s.offset} {s.length}")
        if cut.known:
            for p in prog.names:
                lines.append(f"known /mnt/{p} {','.join(cut.known)}")
        lines += [e.line() for e in cut.expects]
        lines.append("end")
    return "\n".join(lines) + "\n"


def check_phase(kernel: Kernel, images: list[tuple[int, Program, Cut]], log: Path,
                bdir: Path, settings: Settings) -> vm.VmRun:
    helper = guestbin.compiled(PROGRAM_SRC)
    plan_img = bdir / "check.img"
    text = check_text(images)
    (bdir / "check.txt").write_text(text)
    _text_disk(plan_img, text, max(TEXT_DISK, (len(text) // (1 << 20) + 2) << 20))
    names = disksmod.guest_names([disksmod.DEFAULT, disksmod.DEFAULT])
    disks = [vm.Disk(str(plan_img)), vm.Disk(str(log), readonly=True)]
    name = "check"
    plan = [PlanLine(name, "none", "",
                     f"{guestroot.guest_path(helper)} check {names[0]} {names[1]}").encode()]
    budget = VM_SECONDS + IMAGE_SECONDS * len(images)
    return vm.run(name, _boot(kernel, settings, helper, 1), plan, disks, bdir,
                  {name: IMAGE_SECONDS}, budget)


# ---------------------------------------------------------------- judging

def progress_lines(text: str) -> list[tuple[str, int, str]]:
    return [(m.group(1), int(m.group(2)), m.group(3).strip()) for m in PROGRESS_RE.finditer(text)]


def reports_by(run: vm.VmRun, start_kind: str) -> dict[int, list[str]]:
    """The kernel's bug reports of a VM, charged to the case (or image)
    whose start line came last before each."""
    lines = run.text.split("\n")
    starts = []
    for i, ln in enumerate(lines, 1):
        m = re.search(r"@@harness progress " + start_kind + r" (-?\d+)", ln)
        if m:
            starts.append((i, int(m.group(1))))
    out: dict[int, list[str]] = {}
    for f in bugs(run.findings):
        owner = next((k for line, k in reversed(starts) if line <= f.first_line), None)
        if owner is not None:
            out.setdefault(owner, []).append(f.title)
    return out


def signature(program: Program, tl: Timeline, trace: powercut.Trace) -> dict:
    """What the kernel did for the measured writes (from the measure step's
    start to its end): syncs and where they ran, log commits, flushes, FUA
    writes and write requests, per acknowledged write."""
    m_seq = next(s.seq for s in program.steps if s.kind == "measure")
    start, end, _ = tl.steps.get(m_seq, (None, None, None))
    acks = sum(1 for _, a, _ in tl.writes.values() if a is not None)
    sig = {"acks": acks}
    if start is None or end is None:
        return sig
    inside = [p for p in trace.probes if start <= p.ts <= end]
    syncs = [p for p in inside if p.name == "sync"]
    sig["syncs"] = len(syncs)
    sig["syncs_in_workers"] = sum(1 for p in syncs if not p.comm.startswith("explore"))
    sig["log_commits"] = sum(1 for p in inside if p.name == "sync_log")
    dio = [p for p in inside if p.name == "dio_complete"]
    sig["dio_completions"] = len(dio)
    sig["dio_in_workers"] = sum(1 for p in dio if not p.comm.startswith("explore"))
    reqs = [r for r in trace.requests if r.issue is not None and start <= r.issue <= end]
    sig["flushes"] = sum(1 for r in reqs if r.op == "F" or r.preflush)
    sig["fua_writes"] = sum(1 for r in reqs if r.op == "W" and r.fua)
    sig["write_requests"] = sum(1 for r in reqs if r.op == "W" and r.nsect)
    sig["retries"] = sum(1 for m in trace.markers if m.text.startswith(f"kdx retry {program.id} "))
    # per acknowledged write: was it synced between its issue and its ack?
    bare = 0
    for issued, acked, _ in tl.writes.values():
        if issued is not None and acked is not None and \
                not any(issued <= p.ts <= acked for p in syncs):
            bare += 1
    sig["acks_without_sync"] = bare
    sig["written_through"] = bool(program.measure.durable_ack and bare)
    return sig


def case_taint(rest: str) -> taintmod.Taint | None:
    """The taint reading of an xcase line (before and after the case)."""
    m = TAINT_RE.search(rest)
    if not m or m.group(2) is None or int(m.group(1)) < 0 or int(m.group(2)) < 0:
        return None
    return taintmod.Taint(int(m.group(1)), int(m.group(2)))


def image_taints(progress: list[tuple[str, int, str]]) -> dict[int, int]:
    """The taint bits each check image added: the reading at its start
    against the next one's (the last start line is the run's end)."""
    starts = [(k, int(m.group(1))) for what, k, rest in progress if what == "xcheck-start"
              for m in [TAINT_RE.search(rest)] if m]
    return {k: nxt & ~cur for (k, cur), (_, nxt) in zip(starts, starts[1:]) if nxt & ~cur}


def judge(program: Program, case_line: tuple | None, write_reports: list[str],
          cuts: list[Cut], results: dict[int, tuple[str, str]], check_reports: dict,
          image_of: dict[int, int], model_error: str | None,
          boot_taint: int | None = 0, check_taint: dict | None = None) -> Outcome:
    """One case's verdict from every oracle it needed; what each concluded."""
    out = Outcome(program.case.key, program.id, "PASS")
    if write_reports:
        out.oracles["kernel"] = f"report: {write_reports[0]}"
    elif case_line is not None:
        out.oracles["kernel"] = "no report"
    taint = case_taint(case_line[1]) if case_line is not None else None
    if boot_taint:
        out.missing["taint"] = (f"the kernel was tainted ({taintmod.letters(boot_taint)}) "
                                "before the first case: a new problem could not show")
    elif case_line is not None and taint is None:
        out.missing["taint"] = "no taint reading for the case"
    elif taint is not None:
        out.oracles["taint"] = (f"new: {taintmod.letters(taint.new)}" if taint.new
                                else "nothing new")
    check_taint = check_taint or {}
    if case_line is None:
        out.missing["steps"] = "the case never finished in the write VM"
    else:
        rc, rest = case_line
        out.oracles["steps"] = "all ran" if rc == 0 else f"rc={rc} {rest}"
        if rc != 0 and not write_reports:
            out.missing["steps"] = f"a step could not run: {rest}"
    if model_error:
        out.missing["powercut"] = f"the records do not fit: {model_error}"
    elif case_line is not None and not cuts:
        out.missing["powercut"] = "no cut point (nothing acknowledged or marked)"
    lost, mount, fsck, unchecked, ok, reports = [], [], [], [], 0, []
    for cut in cuts:
        k = image_of[id(cut)]
        status, detail = results.get(k, (None, ""))
        out.cuts.append({"why": cut.why, "image": k, "status": status or "unchecked",
                         "detail": detail})
        reports += check_reports.get(k, [])
        if status == "ok":
            ok += 1
        elif status == "lost":
            lost.append((cut, detail))
        elif status == "mount-failed":
            mount.append((cut, detail))
        elif status == "fsck-failed":
            fsck.append((cut, detail))
        else:
            unchecked.append((cut, detail or "no answer from the check VM"))
    replay_taint = 0
    for cut in cuts:
        replay_taint |= check_taint.get(image_of[id(cut)], 0)
    if cuts:
        out.oracles["check_taint"] = (f"new: {taintmod.letters(replay_taint)}" if replay_taint
                                      else "nothing new")
        out.oracles["powercut"] = (f"{ok}/{len(cuts)} cut(s) kept every promised unit"
                                   + (f", {len(lost)} lost" if lost else ""))
        out.oracles["fsck"] = "clean" if not fsck else f"{len(fsck)} cut(s) failed"
        out.oracles["check_kernel"] = "no report" if not reports else f"report: {reports[0]}"
        if unchecked:
            out.missing["powercut"] = (f"{len(unchecked)} cut(s) unchecked: "
                                       f"{unchecked[0][1]}")
    fs = program.fs
    if write_reports:
        out.verdict, out.title = "FAIL", write_reports[0]
        out.detail = "while the case ran"
    elif reports:
        out.verdict, out.title = "FAIL", reports[0]
        out.detail = "while a power-cut image was mounted (log replay)"
    elif taint is not None and taint.new:
        out.verdict = "FAIL"
        out.title = f"kernel tainted ({taintmod.letters(taint.new)}) with no recognised report"
        out.detail = f"while the case ran ({taintmod.meaning(taint.new)}): see write.console.log"
    elif replay_taint:
        out.verdict = "FAIL"
        out.title = f"kernel tainted ({taintmod.letters(replay_taint)}) with no recognised report"
        out.detail = (f"while a power-cut image was mounted ({taintmod.meaning(replay_taint)}): "
                      "see check.console.log")
    elif lost:
        cut, detail = lost[0]
        out.verdict = "FAIL"
        out.title = f"lost {_what(program)} after power cut ({fs})"
        out.detail = f"{cut.why}: {detail}"
    elif mount:
        out.verdict, out.title = "FAIL", f"{fs} mount failed after power cut"
        out.detail = f"{mount[0][0].why}: {mount[0][1]}"
    elif fsck:
        out.verdict, out.title = "FAIL", f"{fs} fsck failed after power cut"
        out.detail = f"{fsck[0][0].why}: {fsck[0][1]}"
    elif out.missing:
        out.verdict = "INFRA"
        out.detail = "; ".join(f"{k}: {v}" for k, v in out.missing.items())
    else:
        out.detail = out.oracles.get("powercut", "")
    return out


def _what(program: Program) -> str:
    m = program.measure
    how = (f"O_{m.open.upper()}" if m.open != "none" else
           f"RWF_{m.rwf.upper()}" if m.rwf != "none" else f"O_DIRECT+{m.post}")
    return f"{how} {m.engine} write"


def repro_of(program: Program, cuts: list[Cut], results: dict, image_of: dict) -> dict | None:
    """The first failing cut as a reproducer cuts the power: right after
    acknowledgement N ("ack:N") or after step S ("step:S"), and what must
    hold there."""
    bad = next((c for c in cuts if results.get(image_of[id(c)], ("",))[0]
                in ("lost", "mount-failed", "fsck-failed")), None)
    if bad is None:
        return None
    m = re.match(r"after ack (\d+)", bad.why)
    if m:
        spec = f"ack:{int(m.group(1)) + 1}"
    else:
        m = re.search(r"\((\d+)\)$", bad.why)
        m_seq = next(s.seq for s in program.steps if s.kind == "measure")
        spec = f"step:{m.group(1)}" if m else (f"step:{m_seq - 1}" if m_seq > 1 else None)
    if spec is None:
        return None
    return {"cut": spec, "why": bad.why, "expects": [e.line() for e in bad.expects],
            "known": list(bad.known)}


# ------------------------------------------------------------- a batch

@dataclass
class BatchResult:
    name: str
    outcomes: list[Outcome]
    unrun: list[Program]             # cases a stopped VM never got to: run them again
    seconds: dict


def run_batch(kernel: Kernel, programs: list[Program], kind: str, name: str,
              settings: Settings) -> BatchResult:
    bdir = settings.outdir / "batches" / name
    bdir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    wrun, paths = write_phase(kernel, programs, kind, bdir, settings)
    t_write = time.monotonic() - t0
    prog = progress_lines(wrun.text)
    ended = {cid: (int(re.search(r"rc=(-?\d+)", rest).group(1)), rest)
             for what, cid, rest in prog if what == "xcase"}
    started = [cid for what, cid, _ in prog if what == "xstart"]
    wreports = reports_by(wrun, "xstart")
    bt = BOOT_TAINT_RE.search(wrun.text)
    boot_taint = int(bt.group(1)) if bt else None
    # a VM a report (or a hang) stopped: its running case is judged on the
    # report, the ones after it run again in another batch
    ran = [p for p in programs if p.id in ended or p.id in wreports]
    unrun = [p for p in programs if p not in ran]
    if not wrun.booted:
        raise InfraError(f"{name}: the write VM did not boot ({wrun.reason}: {wrun.tail})")
    model_error, trace, out_fields = None, None, {}
    try:
        out_fields, trace_text = read_out(paths["out"])
        lost = out_fields.get("lost", {})
        if isinstance(lost, dict) and any(int(v) for v in lost.values()):
            raise powercut.ModelError(f"the trace lost events ({lost})")
        trace = powercut.parse_trace(trace_text)
    except (InfraError, powercut.ModelError) as e:
        model_error = str(e)
    tls = timelines(trace.markers) if trace else {}
    images: list[tuple[int, Program, Cut]] = []
    cuts_by: dict[int, list[Cut]] = {}
    ss = 512
    model = disksmod.get(kind).durable
    if trace is not None and ran:
        try:
            with open(paths["log"], "rb") as fh, \
                    mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
                ss, entries = powercut.parse_log(data)
            placed = powercut.match(entries, ss, trace)
        except (OSError, ValueError) as e:
            model_error, placed = f"write log: {e}", []
        flushes = powercut.Flushes.of(trace)
        discards = [r for r in trace.requests if r.op == "D"]
        if not model_error:
            for region, p in enumerate(programs):
                if p not in ran or p.id not in tls:
                    continue
                cuts_by[p.id] = cuts_of(p, tls[p.id], placed, flushes, discards, ss, region,
                                        model)
                for c in cuts_by[p.id]:
                    images.append((len(images), p, c))
    results: dict[int, tuple[str, str]] = {}
    creports: dict[int, list[str]] = {}
    ctaint: dict[int, int] = {}
    t1 = time.monotonic()
    if images:
        crun = check_phase(kernel, images, paths["log"], bdir, settings)
        cprog = progress_lines(crun.text)
        for what, k, rest in cprog:
            if what == "xcut":
                status, _, detail = rest.partition(" ")
                results[k] = (status, detail)
        creports = reports_by(crun, "xcheck-start")
        ctaint = image_taints(cprog)
    t_check = time.monotonic() - t1
    image_of = {id(c): k for k, _, c in images}
    outcomes = []
    for p in ran:
        o = judge(p, ended.get(p.id), wreports.get(p.id, []), cuts_by.get(p.id, []), results,
                  creports, image_of, model_error, boot_taint, ctaint)
        if trace is not None and p.id in tls:
            o.signature = signature(p, tls[p.id], trace)
        o.signature["disk"] = kind
        o.signature["model"] = model
        o.batch = name
        if o.verdict == "FAIL":
            o.repro = repro_of(p, cuts_by.get(p.id, []), results, image_of)
        outcomes.append(o)
    failed = any(o.verdict != "PASS" for o in outcomes)
    if not settings.keep and not failed:
        for key in ("data", "log", "out"):
            paths[key].unlink(missing_ok=True)
    else:
        paths["data"].unlink(missing_ok=True)
    return BatchResult(name, outcomes, unrun,
                       {"write": round(t_write, 1), "check": round(t_check, 1),
                        "images": len(images), "cases": len(ran)})


# ------------------------------------------------------ reproducer kits

REPRO_RE = re.compile(r"^explore: (LOST|kept|the case never got to the cut)", re.M)


def run_kit(kernel: Kernel, kit: Path, kind: str, bdir: Path) -> tuple[str, str]:
    """Run a reproducer kit's case (harness.findings) in a guest on a scratch
    disk of its kind, as `repro.sh` would on a real machine: ("reproduced" |
    "kept" | "not run", the program's last line)."""
    helper = guestbin.compiled(PROGRAM_SRC)
    case = kit / "case.txt"
    spec = re.search(r' repro "\$here/case.txt" "\$dev" (\S+)', (kit / "repro.sh").read_text())
    if not case.is_file() or not spec:
        raise HarnessError(f"{kit}: not a reproducer kit (case.txt, repro.sh)")
    bdir.mkdir(parents=True, exist_ok=True)
    scratch = bdir / "scratch.img"
    _sparse(scratch, casesmod.REGION * 2)
    dev = disksmod.guest_names([kind])[0]
    name = "repro"
    plan = [PlanLine(name, "none", "", f"{guestroot.guest_path(helper)} repro "
                     f"{guestroot.guest_path(case)} {dev} {spec.group(1)}").encode()]
    boot = vm.Boot(kernel.image, kernel.accel, 1, kernel.root_kind, files=(helper, case),
                   tools=TOOLS, evidence=False)
    try:
        run = vm.run(name, boot, plan, [vm.Disk(str(scratch), kind=kind)], bdir,
                     {name: CASE_SECONDS}, VM_SECONDS + CASE_SECONDS)
    finally:
        scratch.unlink(missing_ok=True)
    m = REPRO_RE.search(run.text)
    line = next((ln for ln in run.text.splitlines() if ln.startswith("explore: ")
                 and "power cut" not in ln), run.tail)
    if not m:
        return "not run", line
    return {"LOST": "reproduced", "kept": "kept"}.get(m.group(1), "not run"), line
