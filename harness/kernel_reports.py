"""Find and name kernel reports in a console log, the way kernel developers
and syzbot name them ("possible deadlock in btrfs_sync_file",
"INFO: task hung in btrfs_sync_file").

Every kind of report is one row of KINDS: how it starts, how its title is
built, how its guilty frame is found, and which reports that follow it are
really part of it.  Adding a kind is adding a row.

The same Parser serves the live monitor (feed() a line at a time) and
`harness parse-log` (parse() a whole log, with a fast path that hands only
the lines near a report to the line-by-line state machine).  Parsing is
pure: no I/O, and it never raises on any input.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

# ------------------------------------------------------------ line cleaning

ESCAPE_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][A-Za-z0-9]|\x1b[=>cM78]")
PREFIX_RE = re.compile(
    r"^(?:<\d+>)?(?:\[\s*(?P<ts>\d+\.\d+)\])?(?:\[\s*(?P<caller>[TC]\d+)\])?\s?")
FRAME_RE = re.compile(
    r"^\s*(?:\[<[0-9a-f]+>\]\s*)?(?P<unreliable>\? )?(?P<fn>[A-Za-z_][\w.]*)"
    r"\+0x[0-9a-f]+/0x[0-9a-f]+(?:\s+\[(?P<mod>[\w-]+)\])?")
RIP_RE = re.compile(r"^(?:RIP|EIP|pc\s*:|PC is at)[: ]+(?:\d{4}:)?(?:\[<[0-9a-f]+>\]\s*)?"
                    r"(?P<fn>[A-Za-z_][\w.]*)\+0x")
AT_RE = re.compile(r"\bat: (?:\[<[0-9a-f]+>\]\s*)?(?P<fn>[A-Za-z_][\w.]*)\+0x")
SUFFIX_RE = re.compile(r"(\.(constprop|isra|part|cold|llvm|lto_priv)(\.\d+)?)+$")
END_RE = re.compile(r"^---\[ end (trace|Kernel panic)")
MARKER = "@@harness"
MAX_REPORT_LINES = 400
IDLE_LINES = 200        # a report whose caller printed nothing for this long is over


def read_log(path) -> str:
    """A console log as text, byte for byte: no newline translation (a
    serial console on a pty writes \\r\\r\\n, which text mode would turn
    into two lines) and no decoding errors."""
    with open(path, "rb") as fh:
        return fh.read().decode("utf-8", "replace")


def clean(raw: str) -> str:
    if "\x1b" in raw:
        raw = ESCAPE_RE.sub("", raw)
    return raw.replace("\r", "").replace("\x00", "")


@dataclass(frozen=True)
class Line:
    no: int             # 1-based line number in the log
    ts: float | None
    caller: str | None  # "T123" / "C0" (CONFIG_PRINTK_CALLER), or None
    text: str           # without timestamp and caller


def split_line(no: int, raw: str) -> Line:
    raw = clean(raw)
    m = PREFIX_RE.match(raw)
    ts = float(m.group("ts")) if m and m.group("ts") else None
    caller = m.group("caller") if m else None
    return Line(no, ts, caller, raw[m.end():] if m else raw)


# ------------------------------------------------ frames that are never guilty

SKIP_FRAMES = re.compile(r"^(?:" + "|".join([
    # locking primitives
    r"_*raw_(?:spin|read|write)_(?:try)?lock\w*", r"_*(?:spin|read|write)_(?:try)?lock\w*",
    r"lock_(?:acquire|release|contended|acquired|is_held_type)", r"_*lock_acquire\w*",
    r"lockdep_\w+", r"mark_(?:lock|usage|held_locks)\w*", r"_*mutex_(?:un)?lock\w*",
    r"(?:down|up)(?:_read|_write)?(?:_killable|_interruptible|_nested|_trylock)?",
    r"_*rwsem_\w+", r"_*down_\w+", r"_*up_\w+", r"percpu_(?:down|up)_\w+",
    r"_*wait_for_completion\w*", r"(?:prepare|finish)_wait\w*", r"_*lock_page\w*",
    r"wait_on_page\w*", r"inode_lock\w*", r"_*rt_mutex\w*",
    # string and copy helpers: the caller is the one to blame
    r"_*mem(?:cpy|set|move|cmp|chr)\w*", r"_*str(?:n?cpy|n?cmp|len|lcpy|scpy)\w*",
    r"_*copy_(?:to|from)_user\w*", r"copy_user_\w+",
    # scheduler
    r"_*schedule\w*", r"io_schedule\w*", r"preempt_schedule\w*", r"_*cond_resched\w*",
    r"sched_show_task", r"show_stack", r"context_switch", r"__switch_to\w*",
    # printk, dumps, traps and debugging machinery
    r"_*v?printk\w*", r"_*dump_stack\w*", r"show_trace\w*", r"show_regs",
    r"_*warn\w*", r"warn_slowpath\w*", r"report_bug", r"fixup_bug", r"handle_bug",
    r"exc_\w+", r"asm_exc_\w+", r"asm_\w+", r"do_error_trap", r"do_trap", r"do_invalid_op",
    r"_*die\w*", r"oops_\w+", r"panic", r"print_(?:circular_bug\w*|deadlock_bug|usage_bug|"
    r"bad_irq_dependency|unlock_imbalance_bug|report|lock\w*|address_description\w*)",
    r"check_(?:prev_add|prevs_add|noncircular|deadlock|irq_usage|path|usage\w*|"
    r"flags|unlock\w*|chain_key)", r"validate_chain", r"debug_(?:check|show|lockdep)\w*",
    r"_*kasan_\w+", r"kcsan_\w+", r"_*tsan_\w+", r"_*ubsan_\w+", r"kfence_\w+",
    r"_*might_sleep\w*", r"_*might_fault", r"_*might_resched", r"assertfail", r"btrfs_assertfail",
    r"page_fault_oops", r"do_user_addr_fault", r"do_kern_addr_fault", r"no_context",
    r"_*bad_area\w*", r"kernelmode_fixup_or_oops", r"fixup_exception", r"spurious_kernel_fault",
    r"watchdog\w*", r"check_hung_\w+", r"khungtaskd", r"rcu_\w*stall\w*", r"print_other_cpu_stall",
    r"_*hrtimer_\w+", r"tick_sched_\w+", r"update_process_times", r"sysvec_\w+",
    r"_*sysvec_\w+", r"irq_exit\w*", r"_*irq_exit_rcu",
    # system-call entry and thread start
    r"do_syscall_64", r"entry_SYSCALL_64\w*", r"_*x64_sys_\w+", r"_*ia32_sys_\w+",
    r"_*se_sys_\w+", r"_*do_sys_\w+", r"ksys_\w+", r"x64_sys_call", r"do_fast_syscall\w*",
    r"syscall_exit\w*", r"ret_from_fork\w*", r"kthread", r"worker_thread", r"process_one_work",
]) + r")$")


def normalize_fn(fn: str) -> str:
    return SUFFIX_RE.sub("", fn)


def guilty_frame(lines: list[Line], extra_skip: re.Pattern | None = None) -> str | None:
    """The first reliable frame (RIP or stack) that is not machinery."""
    for ln in lines:
        m = RIP_RE.match(ln.text.strip()) or FRAME_RE.match(ln.text)
        if not m or (m.groupdict().get("unreliable")):
            continue
        fn = normalize_fn(m.group("fn"))
        if SKIP_FRAMES.match(fn) or (extra_skip and extra_skip.match(fn)):
            continue
        return fn
    return None


# ------------------------------------------------------------ the kinds table

@dataclass(frozen=True)
class Kind:
    name: str
    category: str
    start: str                      # regex on the line text (no ts/caller prefix)
    title: str                      # format string: {frame} and named groups
    frame: str = "stack"            # "stack" | "lock" | "header" | "none"
    absorbs: tuple[str, ...] = ()   # kinds that continue this report
    skip: str | None = None         # extra frames this kind never blames
    fields: tuple[tuple[str, str], ...] = ()  # (name, regex) read from the body
    is_bug: bool = True             # False: information (blocked-task dumps)
    needs_frame: bool = True
    needle: str | None = None       # literal every start line contains (default:
                                    # the regex's literal beginning)

    @property
    def literal(self) -> str:
        if self.needle:
            return self.needle
        m = re.match(r"\^?([A-Za-z0-9 :_,'!#-]+)", self.start)
        if not m or len(m.group(1)) < 4:
            raise ValueError(f"kind {self.name}: give it a needle")
        return m.group(1)

    @property
    def start_re(self) -> re.Pattern:
        return _compiled(self.start)


_CACHE: dict[str, re.Pattern] = {}


def _compiled(rx: str) -> re.Pattern:
    if rx not in _CACHE:
        _CACHE[rx] = re.compile(rx)
    return _CACHE[rx]


OOPS_TAIL = ("oops", "invalid-opcode", "bug-at", "null-deref", "paging", "gpf", "panic")
KINDS: tuple[Kind, ...] = (
    # lockdep
    Kind("lockdep-recursive", "lockdep", r"^WARNING: possible recursive locking detected",
         "possible deadlock in {frame}", "lock"),
    Kind("lockdep-circular", "lockdep", r"^WARNING: possible circular locking dependency detected",
         "possible deadlock in {frame}", "lock"),
    Kind("lockdep-inconsistent", "lockdep", r"^WARNING: inconsistent lock state",
         "inconsistent lock state in {frame}", "lock"),
    Kind("lockdep-irq-inversion", "lockdep",
         r"^WARNING: (?:possible irq lock inversion dependency detected|"
         r"(?:HARDIRQ|SOFTIRQ)-safe -> (?:HARDIRQ|SOFTIRQ)-unsafe lock order detected)",
         "possible deadlock in {frame}", "lock"),
    Kind("lockdep-bad-unlock", "lockdep", r"^WARNING: bad unlock balance detected!",
         "WARNING: bad unlock balance in {frame}"),
    Kind("lockdep-held-freed", "lockdep", r"^WARNING: held lock freed!",
         "WARNING: held lock freed in {frame}"),
    Kind("lockdep-held-return", "lockdep", r"^WARNING: lock held when returning to user space!",
         "WARNING: lock held when returning to user space in {frame}", "lock"),
    # btrfs (before the generic BUG rows: an assertion is followed by a BUG)
    Kind("btrfs-assert", "btrfs",
         r"^(?:BTRFS: )?assertion failed: (?P<expr>.*), in (?P<file>\S+?):(?P<lineno>\d+)",
         "BTRFS: assertion failed in {frame}", absorbs=OOPS_TAIL + ("cut",),
         needle="assertion failed: "),
    Kind("btrfs-critical", "btrfs", r"^BTRFS critical \(device (?P<dev>[^)]*)\): (?P<msg>.*)",
         "BTRFS critical: {msg}", "none", needs_frame=False),
    Kind("btrfs-error", "btrfs",
         r"^BTRFS(?::? error)? \(device [^)]*\)(?: error)?:? (?:error )?in (?P<fn>[\w.]+):\d+",
         "BTRFS error in {frame}", "header", needs_frame=False),
    # sanitizers
    Kind("kasan", "sanitizer", r"^BUG: KASAN: (?P<bugtype>[\w-]+) in (?P<fn>[\w.]+)",
         "KASAN: {bugtype} {access} in {frame}", "header",
         fields=(("access", r"^(Read|Write) of size"),)),
    Kind("kcsan", "sanitizer", r"^BUG: KCSAN: (?P<bugtype>[\w-]+) in (?P<fn>[\w.]+)(?: / (?P<other>[\w.]+))?",
         "KCSAN: {bugtype} in {frame}{pair}", "header"),
    Kind("kfence", "sanitizer", r"^BUG: KFENCE: (?P<bugtype>[\w -]+?) in (?P<fn>[\w.]+)",
         "KFENCE: {bugtype} in {frame}", "header"),
    Kind("ubsan", "sanitizer", r"^UBSAN: (?P<bugtype>[\w -]+?) in (?P<file>\S+)",
         "UBSAN: {bugtype} in {frame}", skip=r"ubsan_\w+|__ubsan_\w+"),
    # atomic context
    Kind("sleep-in-atomic", "atomic", r"^BUG: sleeping function called from invalid context",
         "BUG: sleeping function called from invalid context in {frame}"),
    Kind("sched-atomic", "atomic", r"^BUG: scheduling while atomic",
         "BUG: scheduling while atomic in {frame}"),
    # hangs and stalls
    Kind("hung-task", "hang", r"^INFO: task (?P<comm>.+?):(?P<pid>\d+) blocked for more than \d+ seconds",
         "INFO: task hung in {frame}"),
    Kind("task-cant-die", "hang", r"^INFO: task (?P<comm>.+?):(?P<pid>\d+) can't die for more than",
         "INFO: task can't die in {frame}"),
    Kind("soft-lockup", "hang", r"^(?:watchdog: )?BUG: soft lockup - CPU#\d+ stuck for",
         "BUG: soft lockup in {frame}", needle="BUG: soft lockup"),
    Kind("hard-lockup", "hang", r"^(?:NMI watchdog: )?Watchdog detected hard LOCKUP on cpu \d+",
         "BUG: hard lockup in {frame}", needle="detected hard LOCKUP"),
    Kind("rcu-stall", "hang", r"^(?:rcu: )?INFO: rcu_\w+ (?:self-)?detected (?:expedited )?"
         r"stalls? on CPUs?",
         "INFO: rcu detected stall in {frame}", skip=r"rcu_\w+|_*handle_irq\w*|_*common_interrupt",
         needle="INFO: rcu_"),
    Kind("workqueue-lockup", "hang", r"^BUG: workqueue lockup - pool",
         "BUG: workqueue lockup", "none", needs_frame=False),
    # memory faults
    Kind("null-deref", "memory", r"^BUG: kernel NULL pointer dereference",
         "BUG: kernel NULL pointer dereference in {frame}", absorbs=("oops", "cut")),
    Kind("paging", "memory", r"^BUG: unable to handle (?:page fault|kernel paging request)",
         "BUG: unable to handle page fault in {frame}", absorbs=("oops", "cut")),
    Kind("gpf", "memory", r"^general protection fault",
         "general protection fault in {frame}", absorbs=("oops", "cut")),
    # bugs, warnings, panics
    Kind("bug-at", "bug", r"^kernel BUG at (?P<file>\S+?):(?P<lineno>\d+)!",
         "kernel BUG in {frame}", absorbs=("invalid-opcode", "oops")),
    Kind("warning", "bug", r"^WARNING: CPU: \d+ PID: \d+ at (?P<file>\S+) (?P<fn>[\w.]+)\+0x",
         "WARNING in {frame}", "header"),
    Kind("invalid-opcode", "bug", r"^invalid opcode: \d+", "invalid opcode in {frame}"),
    Kind("oops", "bug", r"^Oops: [0-9a-f]+ \[#\d+\]", "Oops in {frame}"),
    Kind("oom", "oom", r"^(?P<comm>\S+) invoked oom-killer:", "out of memory in {frame}",
         skip=r"out_of_memory|oom_\w+|dump_header|_*alloc_pages\w*|alloc_pages\w*|"
              r"_*page_cache_alloc|pagecache_get_page|_*kmalloc\w*|kmem_cache_alloc\w*|"
              r"__get_free_pages|get_page_from_freelist|__folio_alloc\w*",
         needle=" invoked oom-killer:"),
    Kind("panic", "bug", r"^Kernel panic - not syncing: (?P<reason>.*)",
         "kernel panic: {reason}", "none", needs_frame=False),
    # information, not a bug: the harness's own sysrq-w dump of blocked tasks
    Kind("blocked-tasks", "info", r"^sysrq: Show Blocked State", "task blocked in {frame}",
         is_bug=False),
    # "cut here" opens the WARNING/BUG that follows; never a report itself
    Kind("cut", "noise", r"^-+\[ cut here \]-+", "", "none", is_bug=False, needs_frame=False,
         needle="[ cut here ]"),
)
# literals that a start line must contain: str.find over a whole log runs at
# memory speed, so only lines holding one reach the regexes
NEEDLES = sorted(n for n in {k.literal for k in KINDS}
                 if not any(o != n and o in n for o in {k.literal for k in KINDS}))
# one regex that tells whether a line starts any kind of report
ANY_START = re.compile(
    r"^(?:<\d+>)?(?:\[[ \t]*\d+\.\d+\])?(?:\[[ \t]*[TC]\d+\])?[ \t]?(?:"
    + "|".join("(?:" + re.sub(r"\(\?P<\w+>", "(?:", k.start.lstrip("^")).replace("|^", "|")
               + ")" for k in KINDS) + ")", re.M)


def match_start(text: str) -> tuple[Kind, re.Match] | None:
    if not ANY_START.match(text):           # one regex screens out most lines
        return None
    for k in KINDS:
        m = k.start_re.match(text)
        if m:
            return k, m
    return None


# ---------------------------------------------------------------- findings

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

    def to_json(self) -> dict:
        return {"kind": self.kind, "category": self.category, "title": self.title,
                "frame": self.frame, "corrupted": self.corrupted, "count": self.count,
                "first_line": self.first_line, "last_line": self.last_line,
                "is_bug": self.is_bug, "first_ts": self.first_ts, "report": self.report}


@dataclass
class _Open:
    kind: Kind
    match: re.Match
    lines: list[Line] = field(default_factory=list)


def _finish(rep: _Open) -> Finding:
    kind, lines = rep.kind, rep.lines
    values = {k: (v or "").strip() for k, v in rep.match.groupdict().items()}
    values["pair"] = f" / {values['other']}" if values.get("other") else ""
    for name, rx in kind.fields:
        values[name] = next((m.group(1) for ln in lines
                             if (m := _compiled(rx).match(ln.text.strip()))), "?")
    frame = None
    if kind.frame == "header" and values.get("fn"):
        frame = normalize_fn(values["fn"])
    elif kind.frame == "lock":
        for ln in lines:
            m = AT_RE.search(ln.text)
            if m and not SKIP_FRAMES.match(normalize_fn(m.group("fn"))):
                frame = normalize_fn(m.group("fn"))
                break
    if frame is None and kind.frame != "none":
        frame = guilty_frame(lines[1:], _compiled(f"^(?:{kind.skip})$") if kind.skip else None)
    corrupted = kind.needs_frame and frame is None
    values["frame"] = frame or "?"
    try:
        title = kind.title.format(**values)
    except (KeyError, IndexError, ValueError):
        title = kind.title
    title = " ".join(title.split())
    return Finding(kind.name, kind.category, title, frame, corrupted,
                   lines[0].no, lines[-1].no,
                   "\n".join((f"[{ln.ts:12.6f}] " if ln.ts is not None else "") + ln.text
                             for ln in lines),
                   kind.is_bug, 1, lines[0].ts)


class Parser:
    """Line-at-a-time report finder.  Reports from different callers
    (CONFIG_PRINTK_CALLER tags) are followed separately, so interleaved
    reports from several CPUs do not mix."""

    def __init__(self) -> None:
        self.open: dict[str | None, _Open] = {}
        self.findings: list[Finding] = []
        self._by_sig: dict[tuple[str, str], Finding] = {}
        self.lines_seen = 0

    # -- state machine
    def feed(self, raw: str, no: int | None = None) -> Finding | None:
        """Feed one console line; returns the kind of a bug report that
        *starts* on this line (the live monitor acts on that), else None."""
        try:
            return self._feed(raw, no)
        except Exception:           # never let odd input stop the harness
            return None

    def _feed(self, raw: str, no: int | None) -> Finding | None:
        self.lines_seen += 1
        line = split_line(no if no is not None else self.lines_seen, raw)
        text = line.text.strip()
        if text.startswith(MARKER):
            for key in list(self.open):
                self._close(key)
            return None
        for k in [k for k, r in self.open.items() if line.no - r.lines[-1].no > IDLE_LINES]:
            self._close(k)
        started = match_start(text)
        key = line.caller
        cur = self.open.get(key)
        if started:
            kind, m = started
            if cur and (kind.name in cur.kind.absorbs or cur.kind.name == "cut"):
                if cur.kind.name == "cut":           # cut here + WARNING/BUG
                    cur.kind, cur.match = kind, m
                cur.lines.append(line)
                return None
            if cur:
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
        if rep is None or rep.kind.name == "cut":
            return
        f = _finish(rep)
        sig = (f.kind, f.title)
        if sig in self._by_sig:
            self._by_sig[sig].count += 1
            return
        self._by_sig[sig] = f
        self.findings.append(f)

    def finish(self) -> list[Finding]:
        for key in list(self.open):
            self._close(key)
        self.findings.sort(key=lambda f: f.first_line)
        return self.findings


def parse(text: str) -> list[Finding]:
    """All distinct reports in a whole console log, in order of appearance."""
    try:
        return _parse(text)
    except Exception:
        return []


def _parse(text: str) -> list[Finding]:
    if "\x1b" in text or "\r" in text or "\x00" in text:
        text = clean(text)
    hits = set()
    for needle in NEEDLES:
        i = text.find(needle)
        while i != -1:
            hits.add(i)
            i = text.find(needle, i + 1)
    if not hits:
        return []
    starts = sorted(hits)
    p = Parser()
    lines = text.split("\n")
    # line index of each candidate start: count the newlines before it
    cand, counted, nl = set(), 0, 0
    for s in starts:
        nl += text.count("\n", counted, s)
        counted = s
        cand.add(nl)
    for i, raw in enumerate(lines):
        if not p.open and i not in cand:
            continue
        p.feed(raw, i + 1)
    return p.finish()


def bugs(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.is_bug]
