"""Kernel lines as data: one TOML table per line in harness/lines/, read by
this one module.  A line says where its default source comes from, which
variants (patch states) it has, which bugs its positive controls bring
back, what every (variant, workload) cell is expected to show and why, and
what its workloads need.  Adding a line or a control is adding a file or
rows, not code.

    name, description, version (regex on the tree's version), git_branch
    [source]   package, version, suite          (a Debian linux-source-X)
    [guest]    mount_options (e.g. "nodatasum"), race_seconds (how long the
               race shapes run: a number, or a table of workload = seconds
               with a "default": long enough for the line's race controls),
               skip_workloads = [...] and skip_why (shapes that cannot exercise
               their path on this line: not run in its matrix), root (how its
               kernels get the guest root: "9p", the default, or "initramfs";
               harness.guestroot.ROOTS, whose fragment its builds merge)
    [build]    fragments = [...]: kconfig fragments of guest-config/kconfig/lines/
               merged after the shared ones for this line's kernels;
               cold_units: the compile units of a cold build (measured), the
               progress count of a first build before any stamp says better
    [bugs.ID]  what, titles = [regex...], fixed_by, deterministic (true: it
               shows at the first such write whatever the timing, no race:
               VMs that only show it may run beside each other),
               kernel_report (false: the harness finds it itself, power cut
               or evidence, and the kernel goes on: its cells share VMs)
    [[variants]]  name, revert = [...], apply = [...] (under patches/),
                  shows, pass (why the rest PASSes),
                  fail = {workload = bug ID}, may = {workload = bug ID}
                  (the cell PASSes, or FAILs with that bug: a race that
                  reaches the bug only sometimes), why = {workload = text},
                  race_seconds (optional, as in [guest]: for a control whose
                  claims do not rest on the race shapes, how long they run)

A cell not listed under `fail` or `may` is claimed to PASS: every cell makes
a claim.
An expectation names a bug, and a bug is a family of titles: the same bug
may show first as a lockdep splat on one run and an assertion on another.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from harness import guestroot
from harness.errors import HarnessError
from harness.paths import GUEST_CONFIG, PATCHES
from harness.tables import Table

LINES_DIR = Path(__file__).resolve().parent / "lines"
LINE_FRAGMENTS = GUEST_CONFIG / "kconfig" / "lines"
PASS, FAIL = "PASS", "FAIL"
MAY = "MAY"            # PASS, or FAIL with the claim's bug


@dataclass(frozen=True)
class Bug:
    id: str
    what: str
    titles: tuple[str, ...]
    fixed_by: str = ""
    deterministic: bool = False      # shows at the first such write, whatever the timing
    # False: the bug shows as the harness's own finding (the power-cut check,
    # the evidence counts) and the kernel goes on: its cells share a VM with
    # the next ones (harness.plan); True (the default): a kernel report ends the VM
    kernel_report: bool = True

    def matches(self, title: str | None) -> bool:
        return bool(title) and any(re.search(rx, title) for rx in self.titles)


@dataclass(frozen=True)
class Claim:
    """What one cell is expected to show, and why."""
    verdict: str                     # PASS, FAIL or MAY (PASS, or FAIL with the bug)
    bug: Bug | None = None           # FAIL, MAY: the bug (a family of titles)
    why: str = ""

    def matches(self, verdict: str, title: str | None) -> bool:
        if self.verdict == MAY:
            return verdict == PASS or (verdict == FAIL and self.bug.matches(title))
        if verdict != self.verdict:
            return False
        return self.bug is None or self.bug.matches(title)

    def __str__(self) -> str:
        if self.verdict == MAY:
            return f"PASS or FAIL {self.bug.id}"
        return self.verdict + (f" {self.bug.id}" if self.bug else "")

    def to_json(self) -> dict:
        return {"verdict": self.verdict, "bug": self.bug.id if self.bug else None,
                "titles": list(self.bug.titles) if self.bug else [], "why": self.why}


@dataclass(frozen=True, eq=False)
class RaceSeconds:
    """How long the race shapes run: `default`, or `by` workload."""
    default: float = 4.0
    by: dict = field(default_factory=dict)      # workload -> seconds

    def of(self, workload: str) -> float:
        return float(self.by.get(workload, self.default))


@dataclass(frozen=True, eq=False)
class VariantSpec:
    name: str
    shows: str
    revert: tuple[Path, ...] = ()
    apply: tuple[Path, ...] = ()
    passes: str = ""
    fail: dict = field(default_factory=dict)     # workload -> Bug
    may: dict = field(default_factory=dict)      # workload -> Bug (PASS, or FAIL with it)
    why: dict = field(default_factory=dict)      # workload -> text
    race: RaceSeconds | None = None              # over the line's, for this control

    @property
    def shipped(self) -> bool:
        return not self.revert and not self.apply

    def claim(self, workload: str) -> Claim:
        bug = self.fail.get(workload)
        if bug is not None:
            return Claim(FAIL, bug, self.why.get(workload, bug.what))
        bug = self.may.get(workload)
        if bug is not None:
            return Claim(MAY, bug, self.why.get(workload, bug.what))
        return Claim(PASS, None, self.why.get(workload, self.passes or self.shows))


@dataclass(frozen=True)
class SourceSpec:
    package: str
    version: str          # "" = what the suite ships today
    suite: str


@dataclass(frozen=True, eq=False)
class Line:
    name: str
    description: str
    version_re: str
    git_branch: str
    source: SourceSpec
    variants: tuple[VariantSpec, ...]
    bugs: dict
    mount_options: str = ""
    file: Path | None = None
    race: RaceSeconds = field(default_factory=RaceSeconds)
    skip_workloads: tuple[str, ...] = ()
    skip_why: str = ""
    fragments: tuple[Path, ...] = ()                     # kconfig, after the shared ones
    cold_units: int = 0          # compile units of a cold build (progress), until one is done
    root: str = "9p"             # harness.guestroot.ROOTS: how its guests get their root

    def variant(self, name: str) -> VariantSpec:
        for v in self.variants:
            if v.name == name:
                return v
        raise HarnessError(f"line {self.name} has no variant {name!r}; choose from "
                           f"{', '.join(v.name for v in self.variants)}")

    @property
    def shipped(self) -> VariantSpec:
        return next(v for v in self.variants if v.shipped)

    def claim(self, variant: str, workload: str) -> Claim:
        return self.variant(variant).claim(workload)

    def race_for(self, workload: str, variant: str | None = None) -> float:
        """How long the race shape `workload` runs on this line (for this
        variant, if its row says otherwise)."""
        spec = next((v for v in self.variants if v.name == variant), None)
        return (spec.race if spec and spec.race else self.race).of(workload)


def _patch_path(line: str, rel: str) -> Path:
    p = PATCHES / rel
    if not p.is_file():
        raise HarnessError(f"line {line}: patch file patches/{rel} does not exist")
    return p


def _fragment_path(line: str, rel: str) -> Path:
    p = LINE_FRAGMENTS / rel
    if not p.is_file():
        raise HarnessError(f"line {line}: kconfig fragment guest-config/kconfig/lines/{rel} "
                           "does not exist")
    return p


def _strs(where: str, key: str, value) -> tuple[str, ...]:
    """A TOML list of strings (a bare string would become one item per
    character: a title regex list of "^", "p", ... matches anything)."""
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise HarnessError(f"{where}: {key} must be a list of strings, e.g. {key} = ['...']")
    return tuple(value)


def _bool(where: str, key: str, value) -> bool:
    if not isinstance(value, bool):
        raise HarnessError(f"{where}: {key} must be true or false")
    return value


def _table(where: str, key: str, value) -> dict:
    if not isinstance(value, dict):
        raise HarnessError(f"{where}: {key} must be a table ([{key}] or {key} = {{...}})")
    return value


def _race(where: str, value) -> RaceSeconds:
    """race_seconds = N, or = {workload = N, ..., default = N}."""
    if isinstance(value, (int, float)):
        return RaceSeconds(float(value))
    table = _table(where, "race_seconds", value)
    return RaceSeconds(float(table.get("default", 4.0)),
                       {k: float(v) for k, v in table.items() if k != "default"})


def parse(text: str, file: Path | None = None) -> Line:
    """A Line from the text of its TOML table; one clear error if malformed."""
    where = file.name if file else "line table"
    try:
        d = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise HarnessError(f"{where}: not valid TOML: {e}") from None
    return _build(d, where, file)


def _build(d: dict, where: str, file: Path | None) -> Line:
    try:
        name = d["name"]
        bugs = {bid: Bug(bid, b["what"], _strs(where, f"bugs.{bid}.titles", b["titles"]),
                         b.get("fixed_by", ""), _bool(where, f"bugs.{bid}.deterministic",
                                                      b.get("deterministic", False)),
                         _bool(where, f"bugs.{bid}.kernel_report", b.get("kernel_report", True)))
                for bid, b in _table(where, "bugs", d.get("bugs", {})).items()}
        for b in bugs.values():
            for rx in b.titles:
                re.compile(rx)
        variants = []
        if not isinstance(d["variants"], list) or not all(isinstance(v, dict)
                                                          for v in d["variants"]):
            raise HarnessError(f"{where}: variants must be an array of tables ([[variants]])")
        for v in d["variants"]:
            claimed = {}
            for key in ("fail", "may"):
                claimed[key] = {}
                for w, bid in _table(where, key, v.get(key, {})).items():
                    if bid not in bugs:
                        raise HarnessError(f"{where}: variant {v['name']}: unknown bug {bid!r}")
                    claimed[key][w] = bugs[bid]
            both = set(claimed["fail"]) & set(claimed["may"])
            if both:
                raise HarnessError(f"{where}: variant {v['name']}: {', '.join(sorted(both))} "
                                   "both under fail and may")
            variants.append(VariantSpec(
                name=v["name"], shows=v["shows"],
                revert=tuple(_patch_path(name, r)
                             for r in _strs(where, "revert", v.get("revert", []))),
                apply=tuple(_patch_path(name, a)
                            for a in _strs(where, "apply", v.get("apply", []))),
                passes=v.get("pass", ""), fail=claimed["fail"], may=claimed["may"],
                why=dict(_table(where, "why", v.get("why", {}))),
                race=_race(where, v["race_seconds"]) if "race_seconds" in v else None))
        src = _table(where, "source", d["source"])
        guest = _table(where, "guest", d.get("guest", {}))
        build = _table(where, "build", d.get("build", {}))
        units = build.get("cold_units", 0)
        if not isinstance(units, int) or units < 0:
            raise HarnessError(f"{where}: build.cold_units must be a whole number of compile "
                               f"units, not {units!r}")
        root = guest.get("root", "9p")
        if root not in guestroot.ROOTS:
            raise HarnessError(f"{where}: guest.root must be one of "
                               f"{', '.join(guestroot.ROOTS)}, not {root!r}")
        root_fragments = (guestroot.ROOTS[root].fragment,) if guestroot.ROOTS[root].fragment \
            else ()
        line = Line(
            name=name, description=d["description"], version_re=d["version"],
            git_branch=d.get("git_branch", ""),
            source=SourceSpec(src["package"], src.get("version", ""), src["suite"]),
            variants=tuple(variants), bugs=bugs, mount_options=guest.get("mount_options", ""),
            file=file, race=_race(where, guest.get("race_seconds", 4.0)),
            skip_workloads=_strs(where, "skip_workloads", guest.get("skip_workloads", [])),
            skip_why=guest.get("skip_why", ""),
            fragments=tuple(_fragment_path(name, f) for f in root_fragments + _strs(
                where, "build.fragments", build.get("fragments", []))),
            cold_units=units, root=root)
    except KeyError as e:
        raise HarnessError(f"{where}: missing key {e}") from None
    except re.error as e:
        raise HarnessError(f"{where}: bad title regex: {e}") from None
    if sum(1 for v in line.variants if v.shipped) != 1:
        raise HarnessError(f"{where}: exactly one variant must be the shipped kernel "
                           "(no revert, no apply)")
    return line


@lru_cache(maxsize=None)
def all_lines() -> dict[str, Line]:
    """Every line of harness/lines/, read by the one table loader, oldest
    first."""
    return Table(LINES_DIR, "kernel line", lambda stem, d, path: _build(d, path.name, path),
                 sort=lambda line: _version_key(line.name)).load()


def _version_key(name: str) -> tuple:
    """"6.12" after "6.1", "7.3-rc" after "7.2": the numbers, then what
    follows them (a release candidate sorts after the releases before it)."""
    m = re.match(r"(\d+(?:\.\d+)*)(.*)$", name)
    if not m:
        return ((), name)
    return (tuple(int(x) for x in m.group(1).split(".")), m.group(2))


DEFAULT_LINE = "5.10"


def get(name: str) -> Line:
    lines = all_lines()
    if name not in lines:
        raise HarnessError(f"unknown kernel line {name!r}; choose from "
                           f"{', '.join(lines)} or all")
    return lines[name]


def select(names: list[str] | None) -> list[Line]:
    """--line values (comma lists, 'all') to lines; default: the 5.10 seed."""
    if not names:
        return [get(DEFAULT_LINE)]
    if "all" in names:
        return list(all_lines().values())
    return [get(n) for n in dict.fromkeys(names)]


def for_version(version: str) -> Line | None:
    """The line a tree of this version (from its Makefile) belongs to."""
    for line in all_lines().values():
        if re.search(line.version_re, version):
            return line
    return None
