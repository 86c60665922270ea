"""What a power cut leaves on a disk, following the block layer's contract.

The contract (Documentation/block/writeback_cache_control.rst): on a disk
with a volatile write cache a write is on stable media once a flush that
was *issued after the write completed* has completed, or, with FUA, once
the write itself completed; on a disk without one, once it completed.  A
write still in flight when a flush was issued is not covered by it.

Two records give what the contract needs:

- the guest's block trace of the logged disk (block_rq_issue and
  block_rq_complete, every request, flushes and FUA included), with the
  workload's own markers (trace_marker) in the same order: the tracer's
  `counter` clock orders events across CPUs exactly.  This is the order
  the issuer saw, which is the one the contract speaks of.
- QEMU's blklogwrites log of the same disk (dm-log-writes format): the data
  of every write.  QEMU appends an entry once the write to its file has
  completed, and a flush once the flush has: log order is QEMU's completion
  order, which says nothing of when a flush was issued.  So the log gives
  the data only; which writes are durable at a cut comes from the trace.

`match` ties each log entry to the guest requests it carries (QEMU's
virtio-blk merges adjacent requests into one entry); `durable` says which
entries are on the disk at a point of the trace; `image_steps` turns that
into the writes that rebuild a region of the disk.  Discards are not kept by
QEMU (discard=ignore); the model zeroes a discarded range from the moment
it was issued (its content is undefined from then on).  All pure.
"""
from __future__ import annotations

import re
import struct
from collections import defaultdict, deque
from dataclasses import dataclass

# dm-log-writes format (what QEMU's blklogwrites writes): a super block in
# sector 0, then for every write/flush one header sector followed by the data
LOG_MAGIC = 0x6a736677736872
LOG_FLUSH, LOG_FUA, LOG_DISCARD, LOG_MARK = 1, 2, 4, 8
SECTOR = 512

FLUSHED = "flushed"       # a volatile cache: what a flush covered, plus FUA writes
COMPLETED = "completed"   # no volatile cache: every completed write


class ModelError(ValueError):
    """The records do not fit together (a lost trace event, a log entry no
    request explains): nothing may be claimed from them."""


@dataclass(frozen=True)
class Entry:
    sector: int          # in log sectors
    nr: int
    flags: int
    data: int            # byte offset of the data in the log file


def parse_log(data: bytes) -> tuple[int, list[Entry]]:
    """(sector size, entries) of a dm-log-writes log; stops at the first
    entry that does not fit (a log cut short by a killed VM)."""
    if len(data) < 32:
        raise ValueError("log too short")
    magic, version, count, ss = struct.unpack_from("<QQQI", data, 0)
    if magic != LOG_MAGIC or version != 1 or ss not in (512, 1024, 2048, 4096):
        raise ValueError("not a dm-log-writes log")
    entries, pos = [], ss
    # QEMU updates the super block's count only at a flush: read on while
    # headers follow (a disk without a cache never sends one).  A request
    # QEMU failed leaves its reserved place in the log zero: no entry is all
    # zeros (a write has sectors, a flush its flag), so zero sectors are
    # skipped until the next header.
    while pos + ss <= len(data):
        sector, nr, flags, _ = struct.unpack_from("<QQQQ", data, pos)
        if not (sector or nr or flags):
            if not any(data[pos + ss:pos + ss + (1 << 20)]) and len(entries) >= count:
                break                       # zeros to the end: the log's end
            pos += ss
            continue
        size = 0 if flags & LOG_DISCARD else nr * ss
        if pos + ss + size > len(data):
            break
        entries.append(Entry(sector, nr, flags, pos + ss))
        pos += ss + size
    return ss, entries


# ------------------------------------------------------------- the trace

@dataclass(frozen=True)
class Request:
    """One block request of the guest: issue and completion positions in
    the trace (None: never seen)."""
    op: str              # "W" write, "F" flush, "D" discard, "R" read
    sector: int          # 512-byte sectors
    nsect: int
    fua: bool
    preflush: bool
    issue: int | None
    done: int | None

    @property
    def end(self) -> int:
        return self.sector + self.nsect


@dataclass(frozen=True)
class Marker:
    ts: int
    text: str


@dataclass(frozen=True)
class Probe:
    ts: int
    name: str
    comm: str


@dataclass(frozen=True)
class Trace:
    requests: tuple[Request, ...]
    markers: tuple[Marker, ...]
    probes: tuple[Probe, ...]


LINE_RE = re.compile(r"^\s*(?P<task>.*?)-(?P<pid>\d+)\s+\[(?P<cpu>\d+)\]\s+(?:\S+\s+)?"
                     r"(?P<ts>\d+(?:\.\d+)?):\s+(?P<event>[\w/]+):\s?(?P<rest>.*)$")
RQ_RE = re.compile(r"^(\d+),(\d+)\s+(\S+)\s+(?:\d+\s+)?\((.*?)\)\s+(\d+)\s+\+\s+(\d+)")
COMM_RE = re.compile(r'comm="([^"]*)"')
ERROR_RE = re.compile(r"\[(-?\d+)\]\s*$")        # a completion's error, last on its line


def _ts(text: str) -> int:
    """A trace timestamp as an integer that orders like it ("counter": an
    integer; the other clocks: seconds with a fraction, kept in ns)."""
    if "." in text:
        sec, frac = text.split(".", 1)
        return int(sec) * 1_000_000_000 + int((frac + "000000000")[:9])
    return int(text)


def rwbs(flags: str) -> tuple[str, bool, bool]:
    """(op, fua, preflush) of a block tracepoint's rwbs string: an F before
    the op is a preflush, one after it FUA; the op is W, R, D (discard),
    F (a flush request) or N (anything else: write-zeroes on older kernels)."""
    preflush = flags.startswith("F") and len(flags) > 1 and flags[1] in "WRDFN"
    rest = flags[1:] if preflush else flags
    op = rest[:1] or "N"
    fua = "F" in rest[1:]
    if op == "N":
        op = "W"                   # write-zeroes: QEMU logs its zeros as data
    return op, fua, preflush


def _key(op: str, sector: int, nsect: int) -> tuple:
    """How an issue and its completion are paired: a flush request by its
    op alone (its completion prints sector -1 where the issue printed 0)."""
    return (op, 0, 0) if op == "F" else (op, sector, nsect)


def parse_trace(text: str) -> Trace:
    """The block requests (issue and completion paired), the kdx markers
    and the probes of a trace; a completion with no issue before it, or two
    requests of one sector range in flight at once, are ModelError."""
    pending: dict[tuple, deque] = defaultdict(deque)
    reqs: list[dict] = []
    markers, probes = [], []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = LINE_RE.match(line)
        if not m:
            continue
        ts, event, rest = _ts(m.group("ts")), m.group("event"), m.group("rest")
        if event == "tracing_mark_write":
            markers.append(Marker(ts, rest.strip()))
        elif event == "block_rq_requeue":
            r = RQ_RE.match(rest)
            if r:
                op, _, _ = rwbs(r.group(3))
                key = _key(op, int(r.group(5)), int(r.group(6)))
                if pending[key]:
                    # it will be issued again: its issue is the next one
                    pending[key].pop()["requeued"] = True
        elif event in ("block_rq_issue", "block_rq_complete"):
            r = RQ_RE.match(rest)
            if not r:
                raise ModelError(f"unreadable block event: {line.strip()}")
            op, fua, preflush = rwbs(r.group(3))
            key = _key(op, int(r.group(5)), int(r.group(6)))
            if event == "block_rq_issue":
                rq = {"op": op, "sector": key[1], "nsect": key[2], "fua": fua,
                      "preflush": preflush, "issue": ts, "done": None}
                reqs.append(rq)
                pending[key].append(rq)
            else:
                if not pending[key] and key[2] == 0:
                    # an empty write with PREFLUSH: the flush machinery
                    # issued a flush request for it (traced) and completes
                    # the empty request itself, never issued
                    continue
                if not pending[key]:
                    # one that completes unissued means the trace lost events
                    raise ModelError(f"completion with no issue in the trace: {line.strip()}")
                rq = pending[key].popleft()
                err = ERROR_RE.search(rest)
                if err and int(err.group(1)):
                    # failed: nothing of it reached the disk (QEMU logs
                    # only what its file took), and the issuer saw an error
                    rq["failed"] = int(err.group(1))
                else:
                    rq["done"] = ts
        elif event.startswith("kdx/") or event in ("sync", "dio_complete", "sync_log",
                                                     "btrfs_sync"):
            c = COMM_RE.search(rest)
            probes.append(Probe(ts, event.split("/")[-1], c.group(1) if c else m.group("task")))
    return Trace(tuple(Request(**{k: v for k, v in r.items() if k not in ("requeued", "failed")})
                       for r in reqs if not r.get("requeued")), tuple(markers), tuple(probes))


# ------------------------------------------------------- log <-> trace

@dataclass(frozen=True)
class Placed:
    """A log entry with what the trace says of it."""
    index: int           # in the log
    entry: Entry
    done: int            # when its last request completed, in the guest
    fua: bool            # every request of it was FUA


def match(entries: list[Entry], ss: int, trace: Trace) -> list[Placed]:
    """Tie every data entry of the log (writes, in log order) to the
    guest's completed write requests it carries: the earliest unmatched ones
    that tile its sector range exactly.  ModelError when an entry cannot be
    explained, or a completed write request is left over."""
    scale = ss // SECTOR
    by_start: dict[int, deque] = defaultdict(deque)
    writes = [r for r in trace.requests if r.op == "W" and r.nsect and r.done is not None]
    for r in sorted(writes, key=lambda r: r.done):
        by_start[r.sector].append(r)
    placed = []
    for i, e in enumerate(entries):
        if e.flags & (LOG_DISCARD | LOG_MARK) or not e.nr:
            continue
        start, end = e.sector * scale, (e.sector + e.nr) * scale
        cur, parts = start, []
        while cur < end:
            q = by_start.get(cur)
            r = next((r for r in (q or ()) if r.end <= end), None)
            if r is None:
                raise ModelError(f"log entry {i} (sectors {start}+{end - start}) is not made of "
                                 f"completed write requests in the trace (none starts at {cur})")
            q.remove(r)
            parts.append(r)
            cur = r.end
        placed.append(Placed(i, e, max(r.done for r in parts), all(r.fua for r in parts)))
    left = sum(len(q) for q in by_start.values())
    if left:
        raise ModelError(f"{left} completed write requests of the trace are not in the log")
    return placed


@dataclass(frozen=True)
class Flushes:
    """(issue, done) of every flush, sorted by completion."""
    pairs: tuple[tuple[int, int], ...]

    @classmethod
    def of(cls, trace: Trace) -> "Flushes":
        pairs = [(r.issue, r.done) for r in trace.requests
                 if (r.op == "F" or r.preflush) and r.done is not None]
        return cls(tuple(sorted(pairs, key=lambda p: p[1])))

    def covered_before(self, t: int) -> int:
        """The latest issue of a flush completed before t: every write
        completed before that issue is durable at t (-1: none)."""
        best = -1
        for issue, done in self.pairs:
            if done >= t:
                break
            best = max(best, issue)
        return best


def durable(placed: list[Placed], flushes: Flushes, t: int, model: str) -> list[Placed]:
    """The entries on the disk if power fails at trace position t (the
    fewest the contract allows: nothing it does not promise survives)."""
    if model == COMPLETED:
        return [p for p in placed if p.done < t]
    if model != FLUSHED:
        raise ValueError(f"unknown power-cut model {model!r}")
    covered = flushes.covered_before(t)
    return [p for p in placed if p.done < covered or (p.fua and p.done < t)]


@dataclass(frozen=True)
class Step:
    """One step of rebuilding a region: `data` (a byte offset in the log
    file) written at `offset` (bytes, from the region's start), or, when
    data is None, `length` bytes zeroed."""
    offset: int
    length: int
    data: int | None


def image_steps(on_disk: list[Placed], discards: list[Request], ss: int, start: int,
                size: int, t: int) -> list[Step]:
    """How to rebuild the region [start, start+size) (bytes) as a power cut
    at t leaves it: its durable entries in the order they completed, each
    discard issued before t zeroing its range from then on."""
    events = [(p.done, 0, p) for p in on_disk] + \
             [(d.issue, 1, d) for d in discards if d.issue is not None and d.issue < t]
    steps = []
    for _, kind, x in sorted(events, key=lambda e: (e[0], e[1])):
        if kind == 0:
            lo, hi = x.entry.sector * ss, (x.entry.sector + x.entry.nr) * ss
            src = x.entry.data
        else:
            lo, hi, src = x.sector * SECTOR, x.end * SECTOR, None
        a, b = max(lo, start), min(hi, start + size)
        if a >= b:
            continue
        steps.append(Step(a - start, b - a, None if src is None else src + (a - lo)))
    return steps
