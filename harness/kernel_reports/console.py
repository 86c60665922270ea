"""Console lines as the parser reads them: escape sequences and the printk
prefix ("[   15.4][ T123] ") cleaned off, the caller tag kept, and the
frame, RIP and lock-line patterns every kind of report shares."""
from __future__ import annotations

import re
from dataclasses import dataclass


ESCAPE_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][A-Za-z0-9]|\x1b[=>cM78]")
PREFIX_RE = re.compile(
    r"^(?:\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(?:\.\d+)? )?"     # a log collector's date stamp
    r"(?:\S+ login: )?"                                     # a getty prompt
    # output that cut in before the timestamp (never a harness marker)
    r"(?:(?!@@harness)[^\[\n]*?(?=(?:<\d+>)?\[\s*\d+\.\d+\]))?"
    r"(?:<\d+>)?(?:\[\s*(?P<ts>\d+\.\d+)\])?(?:\[\s*(?P<caller>[TC]\d+)\])?\s?")
_ADDR = r"(?:\[<?[0-9a-f]+>?\]\s*)*"       # "[<ffffffff81234567>] ", "[c0000000012345]"
FRAME_RE = re.compile(
    r"^\s*" + _ADDR + r"(?P<unreliable>\? )?(?P<fn>[A-Za-z_][\w.]*)\+0x[0-9a-f]+/0x[0-9a-f]+")
ARM_FRAME_RE = re.compile(                 # arm32: "[<80de0078>] (dump_backtrace) from [<...>]"
    r"^\s*(?:\[<[0-9a-f]+>\]\s*)?\((?P<fn>[A-Za-z_][\w.]*)(?:\+0x[0-9a-f]+/0x[0-9a-f]+)?\)"
    r" from ")
# arm32's dump_backtrace_entry() prints "(%ps) from [<lr>] (%pS)": the
# function, then the return address it goes back to.  That return address is
# a frame of its own: after a noreturn call (a panic, a fortify failure) it
# lies in the function that follows the caller, which the next line does not
# show ("(__fortify_panic) from [<...>] (ext4_fileattr_get+0x0/0x78)")
ARM_FROM_RE = re.compile(r"\) from (?:\[<[0-9a-f]+>\]\s*)?\((?P<fn>[A-Za-z_][\w.]*)\+0x")
RIP_RE = re.compile(r"^(?:RIP|EIP|IP|NIP|pc|epc|PC is at|EIP is at)\s*:?\s*(?:\d{4}:)?" + _ADDR
                    + r"(?P<fn>[A-Za-z_][\w.]*)\+0x")
AT_RE = re.compile(r"\bat: " + _ADDR + r"(?P<fn>[A-Za-z_][\w.]*)\+0x")
SUFFIX_RE = re.compile(r"(\.(constprop|isra|part|cold|llvm|lto_priv|localalias)(\.\d+)?)+$")
# a syscall's entry frame, named the way syzbot names it
SYSCALL_RE = re.compile(r"^(?:__(?:x64|ia32|arm64|riscv|s390x?|x32)_(?P<sys>sys_\w+)"
                        r"|(?:SyS|sys|ksys|__se_sys|__do_sys|__se_compat_sys)_(?P<bare>\w+))$")
END_RE = re.compile(r"^---\[ end (trace|Kernel panic)")
# where the report's own stack ends: the allocation/free stacks of a
# sanitizer report, lockdep's chains, other CPUs' backtraces
STOP_RE = re.compile(
    r"^(?:Allocated by task|Freed by task|Last potentially related work|Second to last potentially"
    r"|The buggy address|Memory state around|Uninit was (?:created|stored)"
    r"|Local variable \S+ created|Showing all locks held|NMI backtrace for cpu|Sending NMI from CPU"
    r"|other info that might help"
    r"|the existing dependency chain|-> #\d|\{[A-Z-]+\} state was registered at"
    r"|\.\.\. which became|Kernel Offset:|Rebooting in)")
EMBEDDED_TS = re.compile(r"\[\s*(?P<ts>\d+\.\d+)\](?:\[\s*(?P<caller>[TC]\d+)\])? ?")
NUMBER_RE = re.compile(r"\b(?:0x)?[0-9a-f]*\d[0-9a-f]*\b")
MARKER = "@@harness"
MAX_REPORT_LINES = 1000   # a stack overflow prints a long trace
IDLE_LINES = 200        # a report whose caller printed nothing for this long is over


# a printk prefix: PRINTK_TIME's six decimals, the caller tag if configured
RECORD_RE = re.compile(r"\[\s*\d+\.\d{6}\](?:\[\s*[TC]\d+\])?")


class Untangler:
    """The console has two writers.  The kernel prints whole records, every
    line starting with its printk prefix; the tty's output (the guest's
    markers, a workload's output) is sent in FIFO loads, and a kernel record
    printed meanwhile lands in the middle of a tty line:

        @@harness cell-s[   18.969101][  T196] @@harness kcell-start c1 waited=0
        tart c1

    feed() takes each console line (cleaned) and returns it with the kernel
    record in its place and the cut tty line whole at the line where it
    ends ("@@harness cell-start c1"), so every physical line is still one
    line (the monitor's line numbers and a VM's text agree).  A tty line
    cut by several records, or a record landing after a complete tty line
    but before its newline, comes out the same way."""

    def __init__(self) -> None:
        self.pending = ""

    def feed(self, line: str) -> str:
        if RECORD_RE.match(line):            # a kernel record: whole, in place
            return line
        m = RECORD_RE.search(line)
        if m:                                # tty text, then a record
            self.pending += line[:m.start()]
            return line[m.start():]
        line, self.pending = self.pending + line, ""
        return line


def untangle(text: str) -> str:
    """Untangler over a whole console log (line count kept)."""
    u = Untangler()
    return "\n".join(u.feed(clean(ln)) for ln in text.split("\n"))


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
