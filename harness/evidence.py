"""Evidence that a cell exercised what it claims, and the facts of the guest
it ran in.  Pure functions over console text.

The guest (guest-config/guest-init.sh) counts, per cell, from tracefs:

  @@harness evidence ordered direct|other n=N bytes=B
      btrfs ordered extents of the file system tree created with the DIRECT
      flag (bytes that really went down the direct IO path) or without it
      (buffered writeback)
  @@harness evidence dio_complete task=TASK n=N
      iomap_dio_complete() calls (a kprobe), by the task they ran in: a
      kworker, or the dio workqueue's rescuer thread "dio/DEV", is the
      completion worker (asynchronous); kdsync-verify is
      the workload's read-back; any other task is the one that submitted
      the IO (inline: the shape where the O_DSYNC sync runs under its locks)
  @@harness evidence sync task=TASK n=N
      btrfs_sync_file() calls (a kprobe), by task, classified the same way:
      the O_DSYNC sync inside the completion is the seed's deadlock path
      (kdsync-fsync, a workload's explicit fsync thread, is not counted)
  @@harness evidence ordered_task task=TASK n=N bytes=B
      the DIRECT ordered extents by the task that made them (the writer:
      a direct write's extent is made in its iomap_begin)
  @@harness evidence sync_error task=TASK ret=E n=N
      an fsync reported the file's writeback error E to TASK N times (the
      tracepoint file_check_and_advance_wb_err, which btrfs_sync_file()
      reaches on every exit and which fires only for a new error): with a
      btrfs_sync_file() call in the same task, that sync returned E
  @@harness evidence overrun n=N          events the trace buffer lost
  @@harness evidence unavailable WHY      tracing could not be set up

and the workload prints what it did ("@@harness stat writes=... bytes=...
direct_bytes=... writer_cpu=... fsync_cpu=...", and for a race shape each
writer's own "@@harness stat-thread task=TASK direct_bytes=B").  check()
holds that against the workload row's claims.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from harness.kernel_reports import MARKER
from harness.monitor import TRAILING_PREFIX

INLINE, ASYNC, MIXED = "inline", "async", "mixed"
READER = "kdsync-verify"
FSYNCER = "kdsync-fsync"
WORKERS = ("kworker/", "dio/")       # the dio completion workqueue's threads
# tasks that are neither the submitter nor a dio worker: the idle task or
# softirq thread an interrupt-context completion shows (IRQ), and a name the
# trace's saved_cmdlines lost (UNNAMED: a completion there cannot be placed)
IRQ = ("swapper/", "ksoftirqd/", "<idle>")
UNNAMED = ("<...>",)
ELSEWHERE = IRQ + UNNAMED
KV_RE = re.compile(r"(\w+)=(\S+)")
SMP_RE = re.compile(r"smp: Brought up (\d+) nodes?, (\d+) CPUs?")
VERSION_RE = re.compile(r"Linux version (\S+) .*?#\d+(?P<flags>(?: [A-Z_]+)*)")
DYNAMIC_RE = re.compile(r"Dynamic Preempt: (\w+)")


@dataclass
class Evidence:
    available: bool = False
    unavailable: str = ""
    direct_bytes: int = 0
    direct_extents: int = 0
    buffered_bytes: int = 0
    buffered_extents: int = 0
    completions: dict = field(default_factory=dict)     # task -> count
    syncs: dict = field(default_factory=dict)           # task -> btrfs_sync_file calls
    sync_errors: dict = field(default_factory=dict)     # error -> times an fsync reported it
    sync_error_tasks: dict = field(default_factory=dict)  # task -> errors reported to it
    direct_by_task: dict = field(default_factory=dict)  # task -> DIRECT ordered bytes
    thread_claims: dict = field(default_factory=dict)   # task -> direct bytes it wrote
    overrun: int = 0
    phase_unmarked: str = ""         # the workload could not mark its measured phase
    stats: dict = field(default_factory=dict)           # what the workload said it did

    @property
    def inline(self) -> int:
        return _inline(self.completions)

    @property
    def asynchronous(self) -> int:
        return _async(self.completions)

    @property
    def sync_inline(self) -> int:
        return _inline(self.syncs)

    @property
    def sync_async(self) -> int:
        return _async(self.syncs)

    @property
    def elsewhere(self) -> dict:
        """Completions and syncs seen in a task that is neither: {task: n}."""
        out: dict = {}
        for counts in (self.completions, self.syncs):
            for t, n in counts.items():
                if t.startswith(ELSEWHERE):
                    out[t] = out.get(t, 0) + n
        return out

    def to_json(self) -> dict:
        d = asdict(self)
        d.update(inline_completions=self.inline, async_completions=self.asynchronous,
                 inline_syncs=self.sync_inline, async_syncs=self.sync_async)
        return d

    def summary(self) -> str:
        """One short line for the table: what the kernel saw."""
        if not self.available:
            return f"no evidence ({self.unavailable or 'none reported'})"
        parts = [f"direct {_size(self.direct_bytes)}"]
        if self.buffered_bytes:
            parts.append(f"buffered {_size(self.buffered_bytes)}")
        if self.inline or self.asynchronous:
            parts.append(f"completions {self.inline} inline/{self.asynchronous} async")
        if self.sync_inline or self.sync_async:
            parts.append(f"syncs {self.sync_inline} inline/{self.sync_async} async")
        if self.sync_errors:
            parts.append("sync returned " + ", ".join(
                f"{e} x{n}" for e, n in sorted(self.sync_errors.items())))
        if "fsyncs" in self.stats:
            parts.append(f"{self.stats.get('writes', 0)} writes on CPU"
                         f"{self.stats.get('writer_cpu', '?')} vs {self.stats['fsyncs']} "
                         f"fsyncs on CPU{self.stats.get('fsync_cpu', '?')}")
        return ", ".join(parts)


def _inline(counts: dict) -> int:
    return sum(n for t, n in counts.items()
               if t not in (READER, FSYNCER) and not t.startswith(WORKERS + ELSEWHERE))


def _async(counts: dict) -> int:
    return sum(n for t, n in counts.items() if t.startswith(WORKERS))


def _size(n: int) -> str:
    for unit, k in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= k:
            return f"{n / k:.4g} {unit}"
    return f"{n} B"


def _int(v: str) -> int | str:
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return v


def parse(lines: list[str]) -> Evidence:
    """Evidence from one cell's console lines (markers anywhere in a line)."""
    ev = Evidence()
    parts = (part for raw in lines for part in raw.split(MARKER)[1:])
    for part in parts:
        # a kernel line glued before a tty marker's newline: cut its printk prefix off
        words = TRAILING_PREFIX.sub("", part).split()
        if len(words) < 2:
            continue
        kind, rest = words[0], words[1:]
        kv = {k: _int(v) for k, v in KV_RE.findall(" ".join(rest))}
        if kind == "stat-thread":
            task = str(kv.get("task", "?"))
            ev.thread_claims[task] = ev.thread_claims.get(task, 0) + int(kv.get("direct_bytes", 0))
            continue
        if kind == "stat":
            for k, v in kv.items():
                ev.stats[k] = ev.stats.get(k, 0) + v if k in ("writes", "bytes",
                                                                "direct_bytes") else v
        elif kind != "evidence":
            continue
        elif rest[0] == "unavailable":
            ev.unavailable = " ".join(rest[1:])
        elif rest[0] == "ordered" and len(rest) > 1:
            ev.available = True
            n, b = int(kv.get("n", 0)), int(kv.get("bytes", 0))
            if rest[1] == "direct":
                ev.direct_extents += n
                ev.direct_bytes += b
            else:
                ev.buffered_extents += n
                ev.buffered_bytes += b
        elif rest[0] in ("dio_complete", "sync"):
            ev.available = True
            task = str(kv.get("task", "?"))
            counts = ev.completions if rest[0] == "dio_complete" else ev.syncs
            counts[task] = counts.get(task, 0) + int(kv.get("n", 0))
        elif rest[0] == "ordered_task":
            ev.available = True
            task = str(kv.get("task", "?"))
            ev.direct_by_task[task] = ev.direct_by_task.get(task, 0) + int(kv.get("bytes", 0))
        elif rest[0] == "sync_error":
            ev.available = True
            err, n, task = int(kv.get("ret", 0)), int(kv.get("n", 0)), str(kv.get("task", "?"))
            ev.sync_errors[err] = ev.sync_errors.get(err, 0) + n
            ev.sync_error_tasks[task] = ev.sync_error_tasks.get(task, 0) + n
        elif rest[0] == "overrun":
            ev.available = True
            ev.overrun += int(kv.get("n", 0))
        elif rest[0] == "phase-unmarked":
            ev.phase_unmarked = " ".join(rest[1:]) or "?"
    return ev


def check(claims, ev: Evidence) -> list[str]:
    """What contradicts the workload row's claims (direct, completions,
    race); [] when the evidence proves the path."""
    problems = []
    st = ev.stats
    if ev.available and ev.overrun:
        problems.append(f"the trace lost {ev.overrun} events (ring buffer overrun, dropped or "
                        "commit overrun): its counts prove nothing")
    lost_names = {t: n for t, n in ev.elsewhere.items() if t.startswith(UNNAMED)}
    irq = {t: n for t, n in ev.elsewhere.items() if t.startswith(IRQ)}
    if ev.available and lost_names:
        problems.append(f"{sum(lost_names.values())} completions or syncs in a task whose name "
                        "the trace lost (<...>): the evidence cannot place them")
    if ev.available and irq and claims.completions in (INLINE, ASYNC):
        where = ", ".join(f"{t} x{n}" for t, n in sorted(irq.items()))
        problems.append(f"completions in interrupt context ({where}): neither in the "
                        f"submitter nor in a dio worker, as the row claims ({claims.completions})")
    if ev.available and ev.phase_unmarked:
        problems.append(f"the measured phase was not marked in the trace ({ev.phase_unmarked}): "
                        "the counts include the preparation")
    if claims.direct:
        want = int(st.get("direct_bytes", st.get("bytes", 0)))
        if not ev.available:
            return [f"no kernel-side evidence of the direct IO path "
                    f"({ev.unavailable or 'the guest reported none'})"]
        if want == 0:
            problems.append("the workload reported no direct writes")
        elif ev.direct_bytes < want:
            lost = f"; trace lost {ev.overrun} events" if ev.overrun else ""
            problems.append(f"{_size(ev.direct_bytes)} of {_size(want)} went down the direct "
                            f"IO path, {_size(ev.buffered_bytes)} buffered{lost}")
        # each racing writer its own: one's direct bytes must not hide the other's
        for task, mine in sorted(ev.thread_claims.items()):
            got = ev.direct_by_task.get(task, 0)
            if got < mine:
                problems.append(f"{task}: {_size(got)} of its {_size(mine)} went down the "
                                "direct IO path")
    writes = int(st.get("writes", 0))
    if getattr(claims, "sync_error", False) and ev.available:
        synced = any(ev.syncs.get(t) for t in ev.sync_error_tasks)
        if not ev.sync_errors:
            problems.append("no fsync reported a writeback error "
                            "(file_check_and_advance_wb_err never fired): the error did not "
                            "reach the O_DSYNC write's btrfs_sync_file()")
        elif not synced:
            problems.append(f"the writeback error was reported to "
                            f"{', '.join(sorted(ev.sync_error_tasks))}, which ran no "
                            "btrfs_sync_file()")
    if claims.completions and ev.available:
        inl, asy = ev.inline, ev.asynchronous
        # one completion per direct write of the measured phase
        want = int(st.get("direct_writes", writes))
        if claims.completions == INLINE and asy:
            problems.append(f"{asy} of {inl + asy} write completions ran in a dio worker, "
                            "not inline in the submitter")
        elif claims.completions == INLINE and inl < max(want, 1):
            problems.append(f"{inl} inline completions for {want} direct writes of the "
                            "measured phase")
        elif claims.completions == ASYNC and inl:
            problems.append(f"{inl} of {inl + asy} write completions ran inline in the "
                            "submitter, not in a dio worker")
        elif claims.completions == ASYNC and asy < max(want, 1):
            problems.append(f"{asy} completions in a dio worker for {want} direct writes "
                            "of the measured phase")
        elif claims.completions == MIXED and not (inl and asy):
            problems.append(f"completions {inl} inline / {asy} async: the shape needs both")
        # the O_DSYNC sync itself: where the seed's deadlock happens
        si, sa = ev.sync_inline, ev.sync_async
        if claims.completions == INLINE and (sa or si < writes):
            problems.append(f"the O_DSYNC sync ran {si} times in the submitter and {sa} in a "
                            f"worker for {writes} writes (written through without a sync?)")
        elif claims.completions == ASYNC and (si or sa < writes):
            problems.append(f"the O_DSYNC sync ran {sa} times in a worker and {si} in the "
                            f"submitter for {writes} writes")
        elif claims.completions == MIXED and not (si and sa) and (
                getattr(claims, "needs_sync", True) or not si):
            # a pure overwrite on a disk without a volatile cache, or with
            # FUA, may be written through: its async completions need no sync
            problems.append(f"syncs {si} inline / {sa} async: the shape needs both")
    if claims.race:
        wc, fc = st.get("writer_cpu"), st.get("fsync_cpu")
        fsyncs, least = int(st.get("fsyncs", 0)), max(claims.race_min, 1)
        if writes < least or fsyncs < least:
            problems.append(f"no race: {writes} writes, {fsyncs} fsyncs "
                            f"(the shape claims {least} of each)")
        elif wc is None or fc is None or wc == fc or int(st.get("cpus", 1)) < 2:
            problems.append(f"no race: writer on CPU{wc}, fsync on CPU{fc} "
                            f"({st.get('cpus', '?')} CPUs online)")
    return problems


def missing_sync(claims, ev: Evidence) -> str | None:
    """The title of a kernel bug the evidence shows by itself: O_DSYNC direct
    writes that needed a sync and completed without one.  A write needs its
    sync on a device iomap cannot write through to (a volatile write cache
    without FUA), and on any device when it changes metadata the data needs
    (a new extent, a preallocated extent converted, a new i_size: the row's
    `changes_metadata`).  Only a pure overwrite on a device without a
    volatile cache, or with FUA, may be written through by iomap with no
    sync at all: that is check()'s "path not exercised", not a bug.  A
    completion in a worker needs its own sync there; inline ones are judged
    as a whole (the submitter syncs after the write too)."""
    needs = getattr(claims, "needs_sync", False)
    if not (ev.available and needs and claims.completions):
        return None
    if ev.overrun or ev.phase_unmarked:       # incomplete counts: check() says UNPROVEN
        return None
    if not int(ev.stats.get("writes", 0)):
        return None
    asy, sa = ev.asynchronous, ev.sync_async
    if asy and sa < asy:
        return "O_DSYNC direct write completed without its sync (async completion)"
    if claims.completions == INLINE and ev.inline and ev.sync_inline + sa == 0:
        return "O_DSYNC direct write completed without its sync (inline completion)"
    return None


# ------------------------------------------------------------ guest facts

@dataclass(frozen=True)
class GuestFacts:
    kernel: str = ""
    cpus_up: int | None = None
    preempt: str = ""            # none | voluntary | full | rt | lazy | ?

    @property
    def preemptible(self) -> bool:
        return self.preempt in ("full", "rt", "lazy")

    def to_json(self) -> dict:
        return {"kernel": self.kernel, "cpus_up": self.cpus_up, "preempt": self.preempt}

    def problem(self, cpus_wanted: int) -> str | None:
        """One line when this guest cannot back the verdicts asked of it."""
        if not self.kernel:
            return ("the console shows no kernel banner (\"Linux version ...\"): which "
                    "kernel ran, with how many CPUs and what preemption, is unknown")
        if self.cpus_up is None:
            return (f"the guest kernel {self.kernel} did not say how many CPUs it brought up "
                    f"(no \"smp: Brought up\" line); {cpus_wanted} CPUs were asked for")
        if self.cpus_up < cpus_wanted:
            return (f"the guest brought up {self.cpus_up} of {cpus_wanted} CPUs "
                    "(smp: Brought up ...): races cannot happen as claimed")
        if self.preempt and not self.preemptible:
            return (f"the guest kernel is not preemptible (preemption: {self.preempt}); "
                    "build it with CONFIG_PREEMPT=y")
        return None


def guest_facts(text: str) -> GuestFacts:
    kernel, cpus, preempt = "", None, ""
    m = VERSION_RE.search(text)
    if m:
        kernel = m.group(1)
        flags = m.group("flags").split()
        preempt = ("rt" if "PREEMPT_RT" in flags else
                   "lazy" if "PREEMPT_LAZY" in flags else
                   "full" if "PREEMPT" in flags or "PREEMPT_DYNAMIC" in flags else "none")
        if "SMP" not in flags:
            cpus = 1
    m = DYNAMIC_RE.search(text)
    if m:
        preempt = m.group(1).lower()
    m = SMP_RE.search(text)
    if m:
        cpus = int(m.group(2))
    return GuestFacts(kernel, cpus, preempt)
