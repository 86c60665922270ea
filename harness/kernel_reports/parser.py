"""Findings and the line-at-a-time parser: which lines belong to a report,
its frame by its row's strategies (STRATEGIES: one function a name the
rows use), its title, and why a title cannot be exact."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from harness.kernel_reports.console import (ARM_FRAME_RE, AT_RE, EMBEDDED_TS, END_RE,
                                              FRAME_RE, IDLE_LINES, MARKER, MAX_REPORT_LINES,
                                              NUMBER_RE, RIP_RE, STOP_RE, Line, clean,
                                              split_line)
from harness.kernel_reports.frames import (FAULT_INJECTION, INTERLEAVED, IRQ_ENTRY,
                                             _skipped, frame_of, guilty_frame, hung_anchor,
                                             normalize_fn, stall_frame, title_fn)
from harness.kernel_reports.kinds import NEEDLES, Kind, _compiled, match_start


@dataclass
class Finding:
    kind: str
    category: str
    title: str
    frame: str | None
    corrupted: bool
    first_line: int
    last_line: int
    report: str
    is_bug: bool = True
    count: int = 1
    first_ts: float | None = None
    reason: str = ""        # why the title cannot be exact ("" when it is, as far as
                            # the parser knows): a cut report, a stack of machinery, ...

    def to_json(self) -> dict:
        return {"kind": self.kind, "category": self.category, "title": self.title,
                "frame": self.frame, "corrupted": self.corrupted, "reason": self.reason,
                "count": self.count,
                "first_line": self.first_line, "last_line": self.last_line,
                "is_bug": self.is_bug, "first_ts": self.first_ts, "report": self.report}


@dataclass
class _Open:
    kind: Kind
    match: re.Match
    lines: list[Line] = field(default_factory=list)
    start: int = 0                  # index in lines of the line that set kind
    borrowed: list[Line] = field(default_factory=list)  # the stack of the report that cut it


def _one_line(kind: Kind) -> bool:
    """A one-line report (a workqueue lockup, a netdev refcount wait): it
    interleaves with other reports and never cuts them."""
    return kind.is_bug and kind.frame == "none" and not kind.absorbs and not kind.weak


def _has_frames(rep: _Open) -> bool:
    return any(frame_of(ln.text) for ln in rep.lines[rep.start + 1:])


def _section_frame(lines: list[Line], rx: re.Pattern, skip: re.Pattern | None) -> str | None:
    for i, ln in enumerate(lines):
        if rx.match(ln.text.strip()):
            for nxt in lines[i + 1:]:
                fr = frame_of(nxt.text)
                if fr is None:
                    if nxt.text.strip() in ("", "..."):
                        continue
                    break
                if fr[1] and not _skipped(fr[0], skip):
                    return fr[0]
    return None


def _at_frame(lines: list[Line], until: re.Pattern, skip: re.Pattern | None,
              machinery: bool = False) -> str | None:
    """The first function of lockdep's "..., at: FUNC" lines (or of the line
    after one that ends in "at:") before `until`."""
    for i, ln in enumerate(lines):
        text = ln.text.strip()
        if until.match(text):
            break
        m = AT_RE.search(text)
        if m is None and text.endswith(" at:") and i + 1 < len(lines):
            m = FRAME_RE.match(lines[i + 1].text)
        if m and (machinery or not _skipped(normalize_fn(m.group("fn")), skip)):
            return normalize_fn(m.group("fn"))
    return None


def _main_stack(kind: Kind, body: list[Line], borrowed: list[Line]) -> list[Line]:
    """The report's own stack: from its `stack_after` line if it has one, up
    to the first foreign section; else the stack it borrowed."""
    if kind.stack_after:
        rx = _compiled(kind.stack_after)
        at = next((i for i, ln in enumerate(body) if rx.match(ln.text.strip())), None)
        body = body[at + 1:] if at is not None else []
    out = []
    for ln in body:
        if STOP_RE.match(ln.text.strip()):
            break
        out.append(ln)
    if borrowed and not any(frame_of(ln.text) for ln in out):
        out = [ln for ln in borrowed]
    return out


# The frame strategies a row names (Kind.frame, tried in order; the
# package's doc says what each does): (kind, values, body, borrowed, skip)
# -> the guilty function, or None.

def _by_header(kind, values, body, borrowed, skip):
    fn = normalize_fn(values["fn"]) if values.get("fn") else None
    return None if fn is None or _skipped(fn, skip) else fn


def _by_field(kind, values, body, borrowed, skip):
    return normalize_fn(values["fn"]) if values.get("fn") else None


def _by_at(kind, values, body, borrowed, skip):
    return _at_frame(body, _compiled(kind.at_until), skip)


def _by_lock(kind, values, body, borrowed, skip):
    """The last resort: where the lock was taken, even in machinery."""
    return _at_frame(body, _compiled(kind.at_until), _compiled(r"^$"), machinery=True)


def _by_section(kind, values, body, borrowed, skip):
    return _section_frame(body, _compiled(kind.section), skip) if kind.section else None


def _by_stack(kind, values, body, borrowed, skip):
    return guilty_frame(_main_stack(kind, body, borrowed), skip)


def _by_hung(kind, values, body, borrowed, skip):
    stack = _main_stack(kind, body, borrowed)
    return hung_anchor(stack) or guilty_frame(stack, skip)


def _by_stall(kind, values, body, borrowed, skip):
    return stall_frame(body, skip, True)


def _by_lockup(kind, values, body, borrowed, skip):
    return stall_frame(body, skip, False)


STRATEGIES = {"header": _by_header, "field": _by_field, "at": _by_at, "lock": _by_lock,
              "section": _by_section, "stack": _by_stack, "hung": _by_hung,
              "stall": _by_stall, "lockup": _by_lockup}


def _find_frame(kind: Kind, values: dict, body: list[Line], borrowed: list[Line],
                extra: str | None = None) -> str | None:
    skips = "|".join(s for s in (kind.skip, extra) if s)
    skip = _compiled(f"^(?:{skips})$") if skips else None
    for how in kind.strategies:
        fn = STRATEGIES[how](kind, values, body, borrowed, skip)
        if fn:
            return fn
    return None


# why a title cannot be exact (Finding.reason; empty when it is, as far as
# the parser knows)
CUT_OFF = "report cut off before its stack"
ONLY_MACHINERY = "no frame outside machinery in the report's stack"
NO_HEADER_FN = "the header names no function"
NO_FIELD_FN = "the report names no function"
INTERLEAVED_DUMP = "another task's stack dump runs through the report's stack"
NO_IRQ = "the stall's stack shows no interrupted context"


def _no_frame_reason(kind: Kind, values: dict, body: list[Line], borrowed: list[Line]) -> str:
    """Why `_find_frame` found no frame: the first strategy's story, told
    from what the report holds."""
    hows = list(kind.strategies)
    if hows[0] == "header" and not values.get("fn"):
        return NO_HEADER_FN
    if hows == ["header"]:
        return ONLY_MACHINERY
    if hows == ["field"]:
        return NO_FIELD_FN
    stack = _main_stack(kind, body, borrowed) if "stack" in hows else body + list(borrowed)
    frames = [fr for ln in stack if (fr := frame_of(ln.text))]
    if any(INTERLEAVED.search(ln.text) for ln in stack) \
            or any(FAULT_INJECTION.match(fn) for fn, _ in frames):
        return INTERLEAVED_DUMP
    if not frames:
        return CUT_OFF
    if any(h in ("stall",) for h in hows) and not any(
            ln.text.strip() in ("</IRQ>", "<EOI>") or IRQ_ENTRY.match(fr[0])
            for ln in stack if (fr := frame_of(ln.text) or ("", True))):
        return NO_IRQ
    return ONLY_MACHINERY


NO_STACK = "no stack trace in the report"
LOST_HEADER = "the report is a fragment: the part that names it is lost"
STACK_CUT = "the report's stack is cut off"
# the lines a stack follows: dump_stack()'s "Call Trace:" (arm64: "Call
# trace:"), a sanitizer's allocation and free stacks, kmemleak's and arm32's
# "backtrace:" (lockdep's "stack backtrace:" is followed by a Call Trace)
STACK_KEY = re.compile(r"Call [Tt]race|Allocated by task \d+:|Freed by task \d+:"
                       r"|(?<!stack )[Bb]acktrace:")


def _needs_stack(kind: Kind) -> bool:
    return any(h in ("stack", "stall", "lockup", "section", "hung") for h in kind.strategies)


def _stack_line(text: str) -> bool:
    return bool(FRAME_RE.match(text) or ARM_FRAME_RE.match(text)) and not RIP_RE.match(text.strip())


def _stack_missing(lines: list[Line]) -> str:
    """Why a report that prints a stack is not whole (syzkaller's rule): it
    shows no stack at all (a RIP line is not one), or the first line of a
    kind that a stack follows ("Call Trace:", "Allocated by task N:", ...)
    has no frame in the 15 lines after it."""
    texts = [ln.text for ln in lines]
    keys = [i for i, t in enumerate(texts) if STACK_KEY.search(t)]
    if not keys:
        return "" if any(_stack_line(t) for t in texts) else NO_STACK
    firsts: dict[str, int] = {}
    for i in keys:
        firsts.setdefault(STACK_KEY.search(texts[i]).group(0).lower(), i)
    for i in firsts.values():
        after = texts[i + 1:i + 16]
        if len(after) < 2:
            return STACK_CUT
        for t in after:
            if STACK_KEY.search(t):
                return STACK_CUT        # the next stack starts before a frame
            if "(stack is not available)" in t or "<Same stack as" in t or frame_of(t):
                break
        else:
            return STACK_CUT
    return ""


def _finish(rep: _Open) -> Finding:
    kind, lines = rep.kind, rep.lines
    values = {k: (v or "").strip() for k, v in rep.match.groupdict().items()}
    values["pair"] = f" / {values['other']}" if values.get("other") else ""
    body = lines[rep.start + 1:]
    cut = None
    if lines[0].caller is None:
        # without caller tags nothing tells this report's lines from those
        # of a task that dumps its own stack (an allocation failure, an
        # injected fault) in the middle of it: the report ends there
        cut = next((i for i, ln in enumerate(body) if INTERLEAVED.search(ln.text)), None)
        if cut is not None:
            body = body[:cut]
    for name, rx in kind.fields:
        values[name] = next((m.group(1) or "" for ln in body
                             if (m := _compiled(rx).match(ln.text.strip()))), "")
    if values.get("access"):
        values["access"] = " " + values["access"]
    if values.get("file2") and not values.get("file"):
        values["file"] = values["file2"]
    for name, value in list(values.items()):
        values[name + "_n"] = NUMBER_RE.sub("NUM", value)
        values[name + "_slug"] = re.sub(r"\s+", "-", value.lower())
    variant = next((v for v in kind.variants
                    if _compiled(v[1]).search("|".join(values.get(g) or ""
                                                       for g in v[0].split(",")))), None)
    template = variant[2] if variant else kind.title
    extra = variant[3] if variant and len(variant) > 3 else None
    frame = (None if kind.frame == "none"
             else _find_frame(kind, values, body, rep.borrowed, extra))
    corrupted = kind.needs_frame and frame is None
    reason = ("" if not corrupted else INTERLEAVED_DUMP if cut is not None
              else _no_frame_reason(kind, values, body, rep.borrowed))
    values["frame"] = title_fn(frame) if frame else "corrupted"
    if frame is None and kind.unnamed:
        template = kind.unnamed
        values["header"] = lines[rep.start].text.strip().strip("[] ")
    try:
        title = template.format(**values)
    except (KeyError, IndexError, ValueError):
        title = kind.title
    title = " ".join(title.split())
    if kind.lost is not None and not corrupted and _compiled(kind.lost).search(title):
        corrupted, reason = True, LOST_HEADER
    if not corrupted and frame is not None and _needs_stack(kind):
        # named, but from a report whose stack is missing or empty: the
        # title may be right, the report is not whole (syzkaller's rule)
        reason = _stack_missing(body + list(rep.borrowed))
        corrupted = bool(reason)
    return Finding(kind.name, kind.category, title, frame, corrupted,
                   lines[0].no, lines[-1].no,
                   "\n".join((f"[{ln.ts:12.6f}] " if ln.ts is not None else "") + ln.text
                             for ln in lines),
                   kind.is_bug, 1, lines[0].ts, reason)


# the guest's markers that end a cell (guest-config/guest-init.sh): every
# other marker is a workload's own line
BOUNDARIES = frozenset({"cell-start", "cell-end", "kcell-start", "kcell-end", "workload-start",
                        "workload-end", "done", "booted"})


class Parser:
    """Line-at-a-time report finder.  Reports from different callers
    (CONFIG_PRINTK_CALLER tags) are followed separately, so interleaved
    reports from several CPUs do not mix."""

    def __init__(self) -> None:
        self.open: dict[str | None, _Open] = {}
        # lockdep reports (their stack comes last) cut short by another kind
        # of report from the same caller: the same task hit both, so the
        # stack that follows is theirs too
        self.waiting: dict[str | None, _Open] = {}
        self.findings: list[Finding] = []
        self._by_sig: dict[tuple[str, str], Finding] = {}
        self.lines_seen = 0

    # -- state machine
    def feed(self, raw: str, no: int | None = None) -> Finding | None:
        """Feed one console line; returns the kind of a bug report that
        *starts* on this line (the live monitor acts on that), else None."""
        return self._feed(raw, no)

    def _feed(self, raw: str, no: int | None) -> Finding | None:
        self.lines_seen += 1
        line = split_line(no if no is not None else self.lines_seen, raw)
        text = line.text.strip()
        if text.startswith(MARKER):
            # a cell's boundary ends what is open; a workload's own line
            # (a racing thread's progress, an ack) printed in the middle of
            # a report is skipped, or it would cut the report's stack short
            if text[len(MARKER):].split(None, 1)[:1] and \
                    text[len(MARKER):].split(None, 1)[0] in BOUNDARIES:
                for key in list(self.open):
                    self._close(key)
                for key in list(self.waiting):
                    self._settle(key)
            return None
        for k in [k for k, r in self.open.items() if line.no - r.lines[-1].no > IDLE_LINES]:
            self._close(k)
        started = match_start(text)
        if started is None and "[" in text:
            # a report that starts after other output on the same line
            m = EMBEDDED_TS.search(text)
            if m and (started := match_start(text[m.end():])):
                line = Line(line.no, float(m.group("ts")), m.group("caller") or line.caller,
                            text[m.end():])
                text = line.text
        key = line.caller
        cur = self.open.get(key)
        if started:
            kind, m = started
            if cur and (kind.name in cur.kind.absorbs or cur.kind.name == "cut"
                        or (kind.weak and cur.kind.is_bug)):
                if cur.kind.name == "cut":           # cut here + WARNING/BUG
                    cur.kind, cur.match, cur.start = kind, m, len(cur.lines)
                cur.lines.append(line)
                return None
            if cur and _one_line(kind) and cur.kind.is_bug:
                self._record(_finish(_Open(kind, m, [line])))
                return Finding(kind.name, kind.category, kind.title, None, False,
                               line.no, line.no, text, True, 1, line.ts)
            if cur and (cur.kind.is_bug and cur.kind.stack_after and cur.kind is not kind
                        and not _has_frames(cur)):
                self._settle(key)
                self.waiting[key] = self.open.pop(key)
            elif cur:
                self._close(key)
            self.open[key] = _Open(kind, m, [line])
            if kind.is_bug:
                return Finding(kind.name, kind.category, kind.title, None, False,
                               line.no, line.no, text, True, 1, line.ts)
            return None
        if cur is None:
            return None
        cur.lines.append(line)
        if END_RE.match(text) or len(cur.lines) >= MAX_REPORT_LINES:
            self._close(key)
        return None

    def _close(self, key) -> None:
        rep = self.open.pop(key, None)
        if rep is not None and rep.kind.name != "cut":
            self._record(_finish(rep))
        self._settle(key, rep.lines if rep is not None else [])

    def _settle(self, key, borrowed: list[Line] = ()) -> None:
        rep = self.waiting.pop(key, None)
        if rep is not None:
            rep.borrowed = list(borrowed)
            self._record(_finish(rep))

    def _record(self, f: Finding) -> None:
        sig = (f.kind, f.title)
        if sig in self._by_sig:
            self._by_sig[sig].count += 1
            return
        self._by_sig[sig] = f
        self.findings.append(f)

    def finish(self) -> list[Finding]:
        for key in list(self.open):
            self._close(key)
        for key in list(self.waiting):
            self._settle(key)
        self.findings.sort(key=lambda f: f.first_line)
        return self.findings


def parse(text: str) -> list[Finding]:
    """All distinct reports in a whole console log, in order of appearance."""
    return _parse(text)


def _parse(text: str) -> list[Finding]:
    if "\x1b" in text or "\r" in text or "\x00" in text:
        text = clean(text)
    hits = set()
    for needle in NEEDLES:
        i = text.find(needle)
        while i != -1:
            hits.add(text.rfind("\n", 0, i) + 1)       # where its line starts
            i = text.find(needle, i + 1)
    if not hits:
        return []
    p = Parser()
    # feed each candidate line, and every line after it while a report is open;
    # line numbers come from counting newlines, not from splitting the log
    pos, no = 0, 1
    for s in sorted(hits):
        if s < pos:
            continue
        no += text.count("\n", pos, s)
        pos = s
        first = True
        while pos < len(text) and (first or p.open):
            first = False
            end = text.find("\n", pos)
            if end == -1:
                end = len(text)
            p.feed(text[pos:end], no)
            pos, no = end + 1, no + 1
    return p.finish()


def bugs(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.is_bug]
