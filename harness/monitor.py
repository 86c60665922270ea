"""Live console monitor: turns the bytes QEMU prints into harness events,
kernel reports (through kernel_reports.Parser, the same code parse-log
uses) and a decision on when to stop the VM.  Pure: the caller supplies
the bytes and the clock.

One VM runs a plan of cells (guest-config/guest-init.sh); the monitor knows
which cell is running, times each, and stops the VM at the first kernel
report (once its burst is out), when the running cell makes no progress
for its deadline, or when the guest is done."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from harness import taint as taintmod
from harness.kernel_reports import MARKER, Parser, Untangler, clean

MARK_RE = re.compile(re.escape(MARKER) + r" (?P<event>[\w-]+)(?: (?P<args>.*))?$")

# after the first line of a bug report: wait until the kernel has been quiet
# this long (the rest of the report arrives in a burst), but no longer than
# REPORT_MAX, and never wait for the hung-task timer once a report is out.
# Only kernel lines count: a race shape's other thread goes on printing
# progress markers after the oops (that kept 6.1's race control waiting the
# full REPORT_MAX, 4 s, for a report that was out in 50 ms).
REPORT_QUIET = 0.5
REPORT_MAX = 4.0
# a kernel that has started printing and then says nothing for this long
# before userspace is hung: a TCG boot prints every few hundred ms and is in
# userspace after 2-5 s (seen: 6.1 stuck after "Running RCU-tasks wait API
# self tests", 0.4 s into the boot, once in ~150 boots beside another VM)
BOOT_SILENCE = 20.0
RC_RE = re.compile(r"rc=(-?\d+)")
# a printk prefix ("[   15.419791][    T1] ") left at the end of a marker's text
TRAILING_PREFIX = re.compile(r"\[\s*\d+\.\d+\](?:\[\s*[A-Z]?\d+\])?\s*$")


@dataclass
class CellTimes:
    """What the monitor saw of one cell, in seconds since QEMU started."""
    name: str
    first_line: int                 # console line of "cell-start"
    last_line: int | None = None    # console line of "cell-end"
    times: dict = field(default_factory=dict)
    rc: int | None = None
    progress: int = 0
    errors: list = field(default_factory=list)
    fsck: str | None = None         # a guest-side btrfs check: "" clean, else why
    taint: taintmod.Taint | None = None     # /proc/sys/kernel/tainted before and after
    kstart: int | None = None       # console line of the kernel's "kcell-start" (/dev/kmsg)
    kend: int | None = None         # console line of the kernel's "kcell-end"


@dataclass
class Monitor:
    boot_deadline: float = 90.0
    deadlines: dict = field(default_factory=dict)   # cell -> progress deadline (s)
    parser: Parser = field(default_factory=Parser)
    t0: float = 0.0
    times: dict = field(default_factory=dict)       # VM events -> seconds since t0
    cells: dict = field(default_factory=dict)       # name -> CellTimes, in start order
    current: CellTimes | None = None
    done_rc: int | None = None
    first_report: str | None = None                 # kind of the first bug report
    report_cell: str | None = None                  # the cell it appeared in
    kcell: str | None = None        # the cell the kernel's order is in (its last kcell-start)
    _kstarts: dict = field(default_factory=dict)    # name -> kcell-start line, before cell-start
    errors: list = field(default_factory=list)      # errors outside any cell
    fault: str | None = None                        # the parser's traceback, if it broke
    lineno: int = 0
    _partial: str = ""
    _untangler: Untangler = field(default_factory=Untangler)
    _last_output: float = 0.0
    _last_kernel: float = 0.0       # the last console line that was not a marker
    _last_progress: float = 0.0

    def start(self, now: float) -> None:
        self.t0 = self._last_output = self._last_kernel = now

    def feed(self, data: bytes, now: float) -> None:
        if not data:
            return
        self._last_output = now
        text = self._partial + data.decode("utf-8", "replace")
        lines = text.split("\n")
        self._partial = lines.pop()
        for line in lines:
            self._line(line, now)
        if self._partial and MARKER not in self._partial:
            self._last_kernel = now         # a kernel line still being printed

    def _line(self, raw: str, now: float) -> None:
        self.lineno += 1
        # a kernel record that cut into a tty line: the record here, the tty
        # line whole where it ends (kernel_reports.Untangler)
        line = self._untangler.feed(clean(raw))
        idx = line.find(MARKER)
        if idx >= 0:
            # the tty and the kernel's log share the console: a kernel line
            # can land before a tty marker's newline ("...after=0[  15.4][ T1]
            # @@harness ..." from a workload's /dev/kmsg); each marker is an
            # event of its own, without the printk prefix glued to it
            for part in line[idx:].split(MARKER)[1:]:
                self._marker(MARKER + TRAILING_PREFIX.sub("", part).rstrip(), now)
        elif line.strip():
            self._last_kernel = now
        if self.fault is not None:
            return
        try:
            started = self.parser.feed(line)
        except Exception:               # a bug of the parser: recorded, judged ERROR
            import traceback
            self.fault = f"report parser, console line {self.lineno}: " + \
                traceback.format_exc()
            return
        if started is not None and self.first_report is None:
            self.first_report = started.kind
            # the kernel's own order first: the tty's cell-start of the next
            # cell can reach the console before a report logged inside this one
            self.report_cell = self.kcell or (self.current.name if self.current else None)
            self.times["first_report"] = now - self.t0
            if self.current:
                self.current.times["first_report"] = now - self.t0

    def _marker(self, text: str, now: float) -> None:
        m = MARK_RE.match(text)
        if not m:
            return
        ev, args = m.group("event"), (m.group("args") or "")
        rel = now - self.t0
        cell = self.current
        rc = RC_RE.search(args)
        if ev in ("progress", "ack"):
            self._last_progress = now
            if cell:
                cell.progress += 1
        elif ev == "booted":
            self.times.setdefault("booted", rel)
            um = re.search(r"uptime=([\d.]+)", args)
            if um:
                self.times["guest_uptime_at_boot"] = float(um.group(1))
        elif ev == "kcell-start":
            self.kcell = args.split()[0] if args.split() else "?"
            self._kstarts[self.kcell] = self.lineno
            if self.kcell in self.cells:     # the tty's cell-start came first
                self.cells[self.kcell].kstart = self.lineno
        elif ev == "kcell-end":
            name = args.split()[0] if args.split() else "?"
            if name in self.cells:
                self.cells[name].kend = self.lineno
        elif ev == "cell-start":
            name = args.split()[0] if args.split() else "?"
            self.current = self.cells[name] = CellTimes(name, self.lineno, times={"start": rel},
                                                        kstart=self._kstarts.get(name))
            self._last_progress = now
        elif ev == "workload-start" and cell:
            cell.times.setdefault("workload_start", rel)
            self._last_progress = now
        elif ev == "workload-end" and cell:
            cell.times.setdefault("workload_end", rel)
            cell.rc = int(rc.group(1)) if rc else None
        elif ev == "cell-end" and cell:
            cell.times["end"] = rel
            cell.last_line = self.lineno
            if cell.rc is None and rc:
                cell.rc = int(rc.group(1))
            self.current = None
        elif ev == "fsck" and cell:
            # a failed check that printed no "error" line (a crash, "Killed")
            # is still a failed check
            cell.fsck = "" if args.startswith("clean") else (
                args.removeprefix("error").strip() or "failed, with no message")
        elif ev == "taint" and cell:
            cell.taint = taintmod.parse(args)
        elif ev in ("error", "verify-failed"):
            (cell.errors if cell else self.errors).append(f"{ev}: {args}")
        elif ev == "done":
            self.times.setdefault("done", rel)
            self.done_rc = int(rc.group(1)) if rc else None

    def stop_reason(self, now: float) -> str | None:
        """Why the VM should be stopped now, or None to keep watching."""
        if self.first_report is not None:
            since = now - self.t0 - self.times["first_report"]
            if since >= REPORT_MAX or (since >= REPORT_QUIET
                                       and now - self._last_kernel >= REPORT_QUIET):
                self.times.setdefault("verdict", now - self.t0)
                return "report"
            return None
        if "done" in self.times:
            return "done"
        if "booted" not in self.times:
            if now - self.t0 > self.boot_deadline:
                return "boot-timeout"
            if self.lineno and now - self._last_output > BOOT_SILENCE:
                return "boot-hung"
        cell = self.current
        if cell and "workload_start" in cell.times and "workload_end" not in cell.times \
                and now - self._last_progress > self.deadlines.get(cell.name, 30.0):
            self.times.setdefault("verdict", now - self.t0)
            return "no-progress"
        return None

    def close(self) -> None:
        if self._partial:
            self._line(self._partial, self.t0 + self.times.get("end", 0))
            self._partial = ""
