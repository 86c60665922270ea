"""The kernel's taint flags (/proc/sys/kernel/tainted): the kernel's own
word that it reported a problem.  The guest reads the mask before and after
every cell; a bit the cell added with no report the parser recognised is a
FAIL of its own (verdict.judge), so the parser's misses show in every run.

The letters are the kernel's (include/linux/panic.h, kernel/panic.c
taint_flags[]; Documentation/admin-guide/tainted-kernels.rst): one row a bit.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# bit -> (letter, what it means)
FLAGS = {
    0: ("P", "proprietary module loaded"),
    1: ("F", "module force-loaded"),
    2: ("S", "CPU out of spec"),
    3: ("R", "module force-unloaded"),
    4: ("M", "machine check"),
    5: ("B", "bad page"),
    6: ("U", "tainted from user space"),
    7: ("D", "the kernel died: an oops or BUG"),
    8: ("A", "ACPI table overridden"),
    9: ("W", "a WARN"),
    10: ("C", "staging driver"),
    11: ("I", "firmware bug worked around"),
    12: ("O", "out-of-tree module"),
    13: ("E", "unsigned module"),
    14: ("L", "soft lockup"),
    15: ("K", "live-patched"),
    16: ("X", "auxiliary"),
    17: ("T", "struct randomisation"),
    18: ("N", "in-kernel test ran"),
    19: ("J", "fwctl used"),
}


def letters(mask: int) -> str:
    """The set bits as the kernel prints them ("DW"), an unknown bit as
    "[bitN]"; "" for none."""
    return "".join(FLAGS[b][0] if b in FLAGS else f"[bit{b}]"
                   for b in range(mask.bit_length()) if mask >> b & 1)


def meaning(mask: int) -> str:
    return ", ".join(f"{FLAGS[b][0]}: {FLAGS[b][1]}" if b in FLAGS else f"bit {b}"
                     for b in range(mask.bit_length()) if mask >> b & 1)


@dataclass(frozen=True)
class Taint:
    """One cell's reading: the mask before it started and after it ended."""
    before: int
    after: int

    @property
    def new(self) -> int:
        """The bits this cell added (a bit set earlier cannot be seen again)."""
        return self.after & ~self.before

    def to_json(self) -> dict:
        return {"before": self.before, "after": self.after, "new": letters(self.new),
                "flags": letters(self.after)}


READING_RE = re.compile(r"before=(\d+) after=(\d+)")


def parse(args: str) -> Taint | None:
    """"before=N after=M" (the guest's marker) -> Taint; None if garbled.
    Digits only: a kernel line glued after the marker adds no bits."""
    m = READING_RE.search(args)
    return Taint(int(m.group(1)), int(m.group(2))) if m else None
