"""The explorer's alphabet: one TOML file a dimension in harness/alphabet/
(read by harness.tables), each value a row.  A case is one value of every
dimension; the generator (harness.generate) picks which.

A dimension file holds `what`, `order` (its place in a case), `path` (true
when its value decides the kernel's path: the generator covers those three
at a time) and its `[[values]]`; or `from = "disks"`, whose values are the
disk kinds of harness/disks/, or `from = "meta"`, another dimension's values.  A value holds `name`, `what`, its own
fields (steps, offset, bytes, ...: harness.cases reads them) and, when it
only makes sense with some values of other dimensions, `requires = { dim =
[values] }` or `forbids = { dim = [values] }`.  Extending a dimension is
adding a row; a new kind of step is a primitive of
guest-config/workloads/explore.c.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from harness import disks as disksmod
from harness.errors import HarnessError
from harness.tables import Table

DIR = Path(__file__).resolve().parent / "alphabet"
DIMENSION_KEYS = {"what", "order", "path", "values", "from"}
VALUE_KEYS = {"name", "what", "requires", "forbids"}


@dataclass(frozen=True)
class Value:
    name: str
    what: str
    fields: dict = field(default_factory=dict, hash=False, compare=False)
    requires: tuple[tuple[str, tuple[str, ...]], ...] = ()
    forbids: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def get(self, key: str, default=None):
        return self.fields.get(key, default)

    def allowed_with(self, case: dict[str, str]) -> bool:
        """False when `case` (dimension -> value name) has a value this one
        requires away or forbids."""
        for dim, names in self.requires:
            if dim in case and case[dim] not in names:
                return False
        for dim, names in self.forbids:
            if dim in case and case[dim] in names:
                return False
        return True


@dataclass(frozen=True)
class Dimension:
    name: str
    what: str
    order: int
    path: bool
    values: tuple[Value, ...]

    def value(self, name: str) -> Value:
        for v in self.values:
            if v.name == name:
                return v
        raise HarnessError(f"unknown {self.name} {name!r}; known: "
                           f"{', '.join(v.name for v in self.values)}")

    @property
    def names(self) -> list[str]:
        return [v.name for v in self.values]


def _constraint(row: dict, key: str, where: str) -> tuple:
    spec = row.get(key, {})
    if not isinstance(spec, dict) or not all(isinstance(v, list) for v in spec.values()):
        raise HarnessError(f"{where}: {key} must be {{ dimension = [values] }}")
    return tuple((d, tuple(v)) for d, v in sorted(spec.items()))


def _disk_values() -> tuple[Value, ...]:
    return tuple(Value(k.name, f"{k.what}; durable once: {k.durable}", {"durable": k.durable})
                 for k in disksmod.kinds().values())


def _make(name: str, t: dict, path: Path) -> Dimension:
    unknown = set(t) - DIMENSION_KEYS
    if unknown:
        raise HarnessError(f"alphabet {path.name}: unknown keys {', '.join(sorted(unknown))}")
    if t.get("from") == "disks":
        values = _disk_values()
    elif "from" in t:
        source = path.parent / f"{t['from']}.toml"
        if t["from"] == name or not source.is_file() or "from" in tomllib.loads(source.read_text()):
            raise HarnessError(f"alphabet {path.name}: from = {t['from']!r}: not disks or "
                               "another dimension's file with values of its own")
        # a constraint between the two dimensions reads the other way round here
        swap = {name: t["from"], t["from"]: name}
        values = tuple(
            Value(v.name, v.what, v.fields,
                  tuple((swap.get(d, d), n) for d, n in v.requires),
                  tuple((swap.get(d, d), n) for d, n in v.forbids))
            for v in _make(t["from"], tomllib.loads(source.read_text()), source).values)
    else:
        values = tuple(
            Value(v["name"], v["what"], {k: x for k, x in v.items() if k not in VALUE_KEYS},
                  _constraint(v, "requires", f"alphabet {path.name} {v['name']}"),
                  _constraint(v, "forbids", f"alphabet {path.name} {v['name']}"))
            for v in t["values"])
    if not values:
        raise HarnessError(f"alphabet {path.name}: no values")
    names = [v.name for v in values]
    if len(set(names)) != len(names):
        raise HarnessError(f"alphabet {path.name}: a value name twice")
    return Dimension(name, t["what"], int(t["order"]), bool(t.get("path", False)), values)


TABLE = Table(DIR, "alphabet dimension", _make, sort=lambda d: (d.order, d.name))


@dataclass(frozen=True)
class Alphabet:
    dims: tuple[Dimension, ...]

    def dim(self, name: str) -> Dimension:
        for d in self.dims:
            if d.name == name:
                return d
        raise HarnessError(f"unknown dimension {name!r}; known: "
                           f"{', '.join(d.name for d in self.dims)}")

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.dims]

    def allowed(self, case: dict[str, str]) -> bool:
        """Every value of `case` allowed with the others."""
        return all(self.dim(d).value(v).allowed_with(case) for d, v in case.items())

    def restrict(self, only: dict[str, list[str]]) -> "Alphabet":
        """The alphabet with some dimensions cut to the given values."""
        dims = []
        for d in self.dims:
            if d.name in only:
                keep = [d.value(n) for n in only[d.name]]       # unknown names raise
                dims.append(Dimension(d.name, d.what, d.order, d.path, tuple(keep)))
            else:
                dims.append(d)
        return Alphabet(tuple(dims))

    def fingerprint(self) -> str:
        """Every dimension's values and constraints, as text (what a cached
        covering array depends on)."""
        return repr([(d.name, d.path, [(v.name, v.requires, v.forbids) for v in d.values])
                     for d in self.dims])

    def check(self) -> None:
        """Every constraint names a dimension and values that exist."""
        for d in self.dims:
            for v in d.values:
                for dim, names in (*v.requires, *v.forbids):
                    other = self.dim(dim)
                    for n in names:
                        other.value(n)


def load(directory: Path = DIR) -> Alphabet:
    table = TABLE if directory == DIR else Table(directory, TABLE.what, _make, TABLE.sort)
    alphabet = Alphabet(tuple(table.load().values()))
    alphabet.check()
    return alphabet
