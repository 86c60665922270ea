#!/usr/bin/env python3
"""Report-parser accuracy over a corpus of real console logs titled by syzbot.

Corpus format (one file per log): header lines `TITLE:`, `ALT:` (zero or
more), `TYPE:`, `CORRUPTED: Y` (and others, ignored), a blank line, then the
raw console log; a file whose first line is empty is a negative that expects
no report; a trailing `REPORT:` section is not part of the console log.

For every TYPE and overall it prints: reports detected (any bug finding),
exact titles (the first bug finding's title is TITLE or an ALT), false
positives on the negatives and agreement on the CORRUPTED flag.  The last
line is the headline.

    .venv/bin/python benchmarks/bench_report_corpus.py [FOLDER] [--wrong N]

On the development corpus (../shared/corpora/syzkaller-linux-reports,
538 reports and 25 negatives):
  before issue 13: detected 78.1% exact 13.9% (LOCKDEP 24% HANG 18%) false positives 0/25
  after:           detected 98.3% exact 93.7% (LOCKDEP 97% HANG 98%) false positives 0/25
tests/test_report_corpus.py holds the parser to floors a little below these.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from harness import kernel_reports as kr  # noqa: E402

# beside the checkout (../shared/corpora/), or wherever HARNESS_CORPUS says
DEFAULT = Path(os.environ.get("HARNESS_CORPUS")
               or REPO.parent / "shared" / "corpora" / "syzkaller-linux-reports")
HEADLINE_TYPES = ("LOCKDEP", "HANG")


@dataclass
class Case:
    name: str
    title: str | None             # None: a negative
    alts: tuple[str, ...] = ()
    type: str = "(untyped)"
    corrupted: bool = False
    log: str = ""


def load_case(path: Path) -> Case:
    data = path.read_bytes().decode("utf-8", "replace")
    head, sep, body = data.partition("\n\n")
    if data.startswith("\n"):             # a negative: no header at all
        head, body = "", data[1:]
    elif not sep:
        head, body = data, ""
    case = Case(path.name, None)
    alts = []
    for line in head.split("\n"):
        key, _, value = line.partition(":")
        value = value.strip()
        if key == "TITLE":
            case.title = value
        elif key == "ALT":
            alts.append(value)
        elif key == "TYPE":
            case.type = value
        elif key == "CORRUPTED":
            case.corrupted = value == "Y"
    case.alts = tuple(alts)
    cut = body.find("\nREPORT:\n")
    if cut >= 0:
        body = body[:cut + 1]
    elif body.startswith("REPORT:\n"):
        body = ""
    case.log = body
    if case.title is None:
        case.type = "negative"
    return case


def load(folder: Path) -> list[Case]:
    return [load_case(p) for p in sorted(folder.iterdir(), key=lambda p: p.name) if p.is_file()]


@dataclass
class Tally:
    cases: int = 0
    detected: int = 0
    exact: int = 0
    corrupted_agree: int = 0
    wrong: list = field(default_factory=list)      # (file, want, got)
    missed: list = field(default_factory=list)     # file names

    def pct(self, n: int) -> float:
        return 100.0 * n / self.cases if self.cases else 0.0


@dataclass
class Result:
    by_type: dict
    total: Tally
    negatives: int = 0
    false_positives: list = field(default_factory=list)   # (file, title)
    seconds: float = 0.0

    def exact_pct(self, type_: str | None = None) -> float:
        t = self.total if type_ is None else self.by_type.get(type_, Tally())
        return t.pct(t.exact)

    def detected_pct(self, type_: str | None = None) -> float:
        t = self.total if type_ is None else self.by_type.get(type_, Tally())
        return t.pct(t.detected)

    def headline(self) -> str:
        per = " ".join(f"{t} {self.exact_pct(t):.0f}%" for t in HEADLINE_TYPES)
        return (f"detected {self.detected_pct():.1f}% exact {self.exact_pct():.1f}% ({per}) "
                f"false positives {len(self.false_positives)}/{self.negatives}")


def measure(cases: list[Case]) -> Result:
    res = Result(defaultdict(Tally), Tally())
    t0 = time.perf_counter()
    for c in cases:
        found = kr.bugs(kr.parse(c.log))
        if c.title is None:
            res.negatives += 1
            if found:
                res.false_positives.append((c.name, found[0].title))
            continue
        for t in (res.by_type[c.type], res.total):
            t.cases += 1
            if not found:
                t.missed.append(c.name)
                continue
            t.detected += 1
            f = found[0]
            if f.title in (c.title,) + c.alts:
                t.exact += 1
            else:
                t.wrong.append((c.name, c.title, f.title))
            t.corrupted_agree += f.corrupted == c.corrupted
    res.seconds = time.perf_counter() - t0
    return res


def report(res: Result, wrong: int = 20, out=sys.stdout) -> None:
    p = lambda *a: print(*a, file=out)  # noqa: E731
    p(f"{'TYPE':34} {'n':>4} {'detected':>9} {'exact':>7} {'corrupted-flag':>15}")
    for name in sorted(res.by_type, key=lambda n: (-res.by_type[n].cases, n)):
        t = res.by_type[name]
        p(f"{name:34} {t.cases:4} {t.pct(t.detected):8.1f}% {t.pct(t.exact):6.1f}% "
          f"{t.pct(t.corrupted_agree):14.1f}%")
    t = res.total
    p(f"{'ALL':34} {t.cases:4} {t.pct(t.detected):8.1f}% {t.pct(t.exact):6.1f}% "
      f"{t.pct(t.corrupted_agree):14.1f}%")
    if wrong:
        if t.missed:
            p(f"\nmissed ({len(t.missed)}): " + " ".join(t.missed[:wrong])
              + (" ..." if len(t.missed) > wrong else ""))
        if t.wrong:
            p(f"\nwrong titles ({len(t.wrong)}, want -> got):")
            for name, want, got in t.wrong[:wrong]:
                p(f"  {name:6} {want!r}\n         -> {got!r}")
            if len(t.wrong) > wrong:
                p(f"  ... {len(t.wrong) - wrong} more (--wrong N)")
        for name, got in res.false_positives[:wrong]:
            p(f"false positive {name}: {got!r}")
    p(f"\n{len(t.wrong) + len(t.missed)} of {t.cases} reports not matched, "
      f"parsed in {res.seconds:.2f} s")
    p(res.headline())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--wrong", type=int, default=20, metavar="N",
                    help="list at most N wrong titles and missed files (0: none)")
    args = ap.parse_args(argv)
    if not args.folder.is_dir():
        print(f"no corpus folder at {args.folder}", file=sys.stderr)
        return 2
    report(measure(load(args.folder)), args.wrong)
    return 0


if __name__ == "__main__":
    sys.exit(main())
