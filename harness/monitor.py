"""Live console monitor: turns the bytes QEMU prints into harness events,
kernel reports (through kernel_reports.Parser, the same code parse-log
uses) and a decision on when to stop the VM.  Pure: the caller supplies
the bytes and the clock."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from harness.kernel_reports import MARKER, Parser, clean

MARK_RE = re.compile(re.escape(MARKER) + r" (?P<event>[\w-]+)(?: (?P<args>.*))?$")

# after the first line of a bug report: wait until the console has been quiet
# this long (the rest of the report arrives in a burst), but no longer than
# REPORT_MAX, and never wait for the hung-task timer once a report is out.
REPORT_QUIET = 0.6
REPORT_MAX = 4.0


@dataclass
class Monitor:
    boot_deadline: float = 90.0
    progress_deadline: float = 30.0
    parser: Parser = field(default_factory=Parser)
    t0: float = 0.0
    times: dict = field(default_factory=dict)       # event -> seconds since t0
    rc: int | None = None                           # workload exit code
    done_rc: int | None = None
    errors: list = field(default_factory=list)      # "@@harness error/verify-failed"
    first_report: str | None = None                 # kind of the first bug report
    progress: int = 0
    _partial: str = ""
    _last_output: float = 0.0
    _last_progress: float = 0.0

    def start(self, now: float) -> None:
        self.t0 = self._last_output = now

    def feed(self, data: bytes, now: float) -> None:
        if not data:
            return
        self._last_output = now
        text = self._partial + data.decode("utf-8", "replace")
        lines = text.split("\n")
        self._partial = lines.pop()
        for line in lines:
            self._line(line, now)

    def _line(self, raw: str, now: float) -> None:
        line = clean(raw)
        idx = line.find(MARKER)
        if idx >= 0:
            self._marker(line[idx:].strip(), now)
        started = self.parser.feed(line)
        if started is not None and self.first_report is None:
            self.first_report = started.kind
            self.times["first_report"] = now - self.t0

    def _marker(self, text: str, now: float) -> None:
        m = MARK_RE.match(text)
        if not m:
            return
        ev, args = m.group("event"), (m.group("args") or "")
        rel = now - self.t0
        if ev in ("progress", "ack"):
            self.progress += 1
            self._last_progress = now
        elif ev == "booted":
            self.times.setdefault("booted", rel)
            um = re.search(r"uptime=([\d.]+)", args)
            if um:
                self.times["guest_uptime_at_boot"] = float(um.group(1))
        elif ev == "workload-start":
            self.times.setdefault("workload_start", rel)
            self._last_progress = now
        elif ev == "workload-end":
            self.times.setdefault("workload_end", rel)
            rm = re.search(r"rc=(-?\d+)", args)
            self.rc = int(rm.group(1)) if rm else None
        elif ev == "done":
            self.times.setdefault("done", rel)
            rm = re.search(r"rc=(-?\d+)", args)
            self.done_rc = int(rm.group(1)) if rm else None
        elif ev in ("error", "verify-failed"):
            self.errors.append(f"{ev}: {args}")

    def stop_reason(self, now: float) -> str | None:
        """Why the VM should be stopped now, or None to keep watching."""
        if self.first_report is not None:
            since = now - self.t0 - self.times["first_report"]
            if since >= REPORT_MAX or (since >= REPORT_QUIET
                                       and now - self._last_output >= REPORT_QUIET):
                return "report"
            return None
        if "done" in self.times:
            return "done"
        if "booted" not in self.times and now - self.t0 > self.boot_deadline:
            return "boot-timeout"
        if "workload_start" in self.times and "workload_end" not in self.times \
                and now - self._last_progress > self.progress_deadline:
            return "no-progress"
        return None

    def close(self) -> None:
        if self._partial:
            self._line(self._partial, self.t0 + self.times.get("end", 0))
            self._partial = ""
