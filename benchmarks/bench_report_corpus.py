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
        [--folds K] [--held-out N] [--list held-out|fitted|none]

Generalisation, not fit: the entries are split into K folds (default 5) by a
stable hash of the entry's name (fold_of: not by order, so a new entry moves
no other).  Rule changes are written against folds 0..K-2 only (their wrong
titles: --list fitted, and the overall listing, which leaves the held-out
fold out); the held-out fold (--held-out, the last by default) is judged, not
read: its figure is printed beside the fitted one, per type, and its wrong
titles are listed last (--list held-out, the default) for the judge.

On the development corpus (../shared/corpora/syzkaller-linux-reports,
538 reports and 25 negatives):
  before issue 13: detected 78.1% exact 13.9% (LOCKDEP 24% HANG 18%) false positives 0/25
  after:           detected 98.3% exact 93.7% (LOCKDEP 97% HANG 98%) false positives 0/25
tests/test_report_corpus.py holds the parser to floors a little below these.
"""
from __future__ import annotations

import argparse
import hashlib
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


def fold_of(name: str, folds: int) -> int:
    """The fold of a corpus entry: a stable hash of its name (the same on
    every machine and Python, unlike hash()), so folds do not follow the
    order of the files and adding an entry moves no other."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % folds


def split(cases: list[Case], folds: int) -> list[list[Case]]:
    out: list[list[Case]] = [[] for _ in range(folds)]
    for c in cases:
        out[fold_of(c.name, folds)].append(c)
    return out


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


def report(res: Result, wrong: int = 20, out=sys.stdout, hide: frozenset = frozenset()) -> None:
    """The per-type table and the headline over all entries; the wrong titles,
    misses and false positives listed are those of entries not in `hide`
    (the held-out fold: judged, not read)."""
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
        missed = [n for n in t.missed if n not in hide]
        wrongs = [w for w in t.wrong if w[0] not in hide]
        if hide:
            p(f"\n(the held-out fold's {len(t.missed) - len(missed)} missed and "
              f"{len(t.wrong) - len(wrongs)} wrong titles are not listed here)")
        if missed:
            p(f"\nmissed ({len(missed)}): " + " ".join(missed[:wrong])
              + (" ..." if len(missed) > wrong else ""))
        if wrongs:
            p(f"\nwrong titles ({len(wrongs)}, want -> got):")
            for name, want, got in wrongs[:wrong]:
                p(f"  {name:6} {want!r}\n         -> {got!r}")
            if len(wrongs) > wrong:
                p(f"  ... {len(wrongs) - wrong} more (--wrong N)")
        for name, got in [fp for fp in res.false_positives if fp[0] not in hide][:wrong]:
            p(f"false positive {name}: {got!r}")
    p(f"\n{len(t.wrong) + len(t.missed)} of {t.cases} reports not matched, "
      f"parsed in {res.seconds:.2f} s")
    p(res.headline())


def _cell(t: Tally) -> str:
    return f"{t.pct(t.detected):3.0f} {t.pct(t.exact):3.0f} ({t.cases:3})" if t.cases else ""


def report_folds(cases: list[Case], folds: int, held_out: int, listing: str = "held-out",
                 wrong: int = 20, out=sys.stdout) -> tuple[Result, Result, list[Result]]:
    """Per fold and per type: detected % and exact-title % (n); the fitted
    folds (all but `held_out`) beside the held-out one; the wrong titles of
    the folds `listing` names ("held-out", "fitted", "none").  Returns
    (fitted, held-out, per fold)."""
    p = lambda *a: print(*a, file=out)  # noqa: E731
    parts = split(cases, folds)
    per = [measure(part) for part in parts]
    fitted = measure([c for i, part in enumerate(parts) if i != held_out for c in part])
    judged = per[held_out]
    types = sorted({c.type for c in cases if c.title is not None},
                   key=lambda n: (-sum(c.type == n for c in cases), n))
    cols = [f"fold {i}{'*' if i == held_out else ''}" for i in range(folds)]
    p("\nper fold (by a hash of the entry name; * held out): detected% exact% (n)")
    p(f"{'TYPE':26} " + " ".join(f"{c:>13}" for c in cols + ["fitted", "held-out"]))
    for name in types + [None]:
        row = [r.total if name is None else r.by_type.get(name, Tally())
               for r in per + [fitted, judged]]
        p(f"{(name or 'ALL')[:26]:26} " + " ".join(f"{_cell(t):>13}" for t in row))
    p(f"{'false positives':26} " + " ".join(f"{f'{len(r.false_positives)}/{r.negatives}':>13}"
                                          for r in per + [fitted, judged]))
    if listing != "none":
        pick = [held_out] if listing == "held-out" else [i for i in range(folds) if i != held_out]
        types_of = {c.name: c.type for c in cases}
        for i in pick:
            t = per[i].total
            p(f"\nfold {i}{' (held out)' if i == held_out else ''}: {len(t.wrong)} wrong titles, "
              f"{len(t.missed)} missed" + (": " + " ".join(t.missed) if t.missed else ""))
            for name, want, got in t.wrong[:wrong]:
                p(f"  {name:6} [{types_of[name]}] {want!r}\n         -> {got!r}")
            if len(t.wrong) > wrong:
                p(f"  ... {len(t.wrong) - wrong} more (--wrong N)")
            for name, got in per[i].false_positives:
                p(f"  false positive {name}: {got!r}")
    label = f"fitted   (folds {','.join(str(i) for i in range(folds) if i != held_out)}): "
    p(label + fitted.headline())
    p(f"held-out (fold {held_out}): ".ljust(len(label)) + judged.headline())
    return fitted, judged, per


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--wrong", type=int, default=20, metavar="N",
                    help="list at most N wrong titles and missed files (0: none)")
    ap.add_argument("--folds", type=int, default=5, metavar="K",
                    help="split the corpus into K folds by a hash of the entry name (1: none)")
    ap.add_argument("--held-out", type=int, default=None, metavar="N",
                    help="the fold that is judged, not fitted (default: the last, K-1)")
    ap.add_argument("--list", choices=("held-out", "fitted", "none"), default="held-out",
                    help="whose wrong titles to list per fold (default: the held-out fold's)")
    args = ap.parse_args(argv)
    if not args.folder.is_dir():
        print(f"no corpus folder at {args.folder}", file=sys.stderr)
        return 2
    held_out = args.folds - 1 if args.held_out is None else args.held_out
    if args.folds < 1 or not 0 <= held_out < args.folds:
        ap.error("--held-out must name one of the folds 0..K-1")
    cases = load(args.folder)
    hide = frozenset(c.name for c in cases
                     if args.folds > 1 and fold_of(c.name, args.folds) == held_out)
    report(measure(cases), args.wrong, hide=hide)
    if args.folds > 1:
        report_folds(cases, args.folds, held_out, args.list, args.wrong or 20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
