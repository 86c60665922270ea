"""A generated case: one value of every dimension of the alphabet
(harness.alphabet), compiled into the steps the guest program runs
(guest-config/workloads/explore.c), and the model of what its file must hold
after a power cut at any point of it.

The model (CrashMonkey's oracle, per 512-byte unit of the file): every
write, truncate, fallocate, punch or reflink makes a new version of the
units it touches.  A version becomes *required* when something promised it:
the acknowledgement of an O_DSYNC/O_SYNC/RWF_*SYNC write or of its
fdatasync/fsync, an fsync step, or a commit (syncfs, sync, a snapshot).  At a
cut, a unit must hold its latest required version, or a version issued
after it (which may have reached the disk too); before anything was required
it may also hold nothing ('a': past EOF, or no file).  Every version's data
is unique (a seed per write), so a unit cannot pass by accident.
"""
from __future__ import annotations

import ast
import hashlib
import operator
import re
from dataclasses import dataclass, field

from harness.alphabet import Alphabet
from harness.errors import HarnessError

UNIT = 512
MID = 512 * 1024
COUNT = 2                   # measured writes a case, one in flight
REGION = 256 << 20          # bytes of disk a case's file system gets
TARGET = "A"                # the file whose data the oracle checks
ABSENT, ZERO = "a", "z"
# how many of a primitive's first arguments are file names
FILE_ARGS = {"create": 1, "write": 1, "falloc": 1, "punch": 1, "truncate": 1, "fsync": 1,
             "fdatasync": 1, "reflink": 2, "chmod": 1, "setxattr": 1, "chattr": 1,
             "rename": 2, "unlink": 1, "link": 2, "mkdir": 1}
SIZE_RE = re.compile(r"(\d+)([kmg])\b")
_MULT = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
        ast.Div: operator.floordiv, ast.FloorDiv: operator.floordiv}


def evaluate(expr: str, **names: int) -> int:
    """An offset or size of the alphabet: integers with k/m/g suffixes,
    the names given (eof, mid, len), + - * / and max()/min(); a multiple of
    512 (rounded down)."""
    text = SIZE_RE.sub(lambda m: str(int(m.group(1)) * _MULT[m.group(2)]), str(expr))

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name) and node.id in names:
            return names[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in ("max", "min") and not node.keywords:
            return (max if node.func.id == "max" else min)(ev(a) for a in node.args)
        raise HarnessError(f"alphabet: cannot evaluate {expr!r}")

    try:
        value = ev(ast.parse(text, mode="eval"))
    except SyntaxError:
        raise HarnessError(f"alphabet: cannot evaluate {expr!r}") from None
    return max(0, value) // UNIT * UNIT


@dataclass(frozen=True)
class Case:
    """One value of each dimension, in the alphabet's order."""
    values: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, alphabet: Alphabet, row: dict[str, str]) -> "Case":
        missing = [d for d in alphabet.names if d not in row]
        if missing:
            raise HarnessError(f"a case without {', '.join(missing)}")
        return cls(tuple((d, row[d]) for d in alphabet.names))

    def __getitem__(self, dim: str) -> str:
        for d, v in self.values:
            if d == dim:
                return v
        raise KeyError(dim)

    def as_dict(self) -> dict[str, str]:
        return dict(self.values)

    @property
    def key(self) -> str:
        """dim=value,... : the case's identity in results and shards."""
        return ",".join(f"{d}={v}" for d, v in self.values)

    @classmethod
    def parse(cls, alphabet: Alphabet, key: str) -> "Case":
        row = {}
        for part in key.split(","):
            d, _, v = part.partition("=")
            alphabet.dim(d).value(v)            # unknown names raise
            row[d] = v
        return cls.of(alphabet, row)

    def replace(self, **changes: str) -> "Case":
        return Case(tuple((d, changes.get(d, v)) for d, v in self.values))


# ----------------------------------------------------------- compiling

@dataclass(frozen=True)
class Step:
    seq: int
    kind: str              # the primitive, or "measure"
    args: tuple[str, ...]  # as the guest gets them
    phase: str             # prior | meta | measure | between


@dataclass(frozen=True)
class Measure:
    file: str
    open: str
    engine: str
    flags: str
    rwf: str
    post: str
    count: int
    offset: int
    length: int
    stride: int
    depth: int
    seed: int

    @property
    def durable_ack(self) -> bool:
        """Its acknowledgement promises the data."""
        return self.open != "none" or self.rwf != "none" or self.post != "none"


@dataclass(frozen=True)
class Program:
    case: Case
    id: int
    fs: str
    mkfs: tuple[str, ...]
    fsck: str
    options: str
    delay_ms: int
    disk: str
    steps: tuple[Step, ...]
    measure: Measure
    names: tuple[str, ...]         # every name the target file had

    def guest_text(self, start_sector: int, sectors: int) -> str:
        lines = [f"case {self.id} {start_sector} {sectors} {self.fs} {self.delay_ms} "
                 f"{self.options or '-'}", "mkfs " + " ".join(self.mkfs)]
        for s in self.steps:
            if s.kind == "measure":
                m = self.measure
                lines.append(f"measure {m.file} {m.open} {m.engine} {m.flags or '-'} {m.rwf} "
                             f"{m.post} {m.count} {m.offset} {m.length} {m.stride} {m.depth} "
                             f"{m.seed:016x}")
            else:
                lines.append("op " + " ".join((s.kind, *s.args)))
        lines.append("end")
        return "\n".join(lines) + "\n"


def seed_of(case_id: int, seq: int, salt: str = "") -> int:
    h = hashlib.blake2b(f"{salt}:{case_id}:{seq}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") | 1


def _size(expr: str, eof: int) -> int:
    return evaluate(expr, eof=eof, mid=MID, len=0)


def compile_case(alphabet: Alphabet, case: Case, case_id: int, salt: str = "") -> Program:
    """The steps of `case`: the prior state's, the metadata step's, the
    measured writes, what comes between them and the cut; file names as the
    guest sees them (a renamed target keeps its new name)."""
    v = {d.name: d.value(case[d.name]) for d in alphabet.dims}
    names = {TARGET: TARGET}
    seen_names = [TARGET]
    prior_files: set[str] = set()
    steps: list[Step] = []
    eof = 0

    def add(text: str, phase: str, suffix: str = "") -> None:
        parts = text.split()
        kind, args = parts[0], parts[1:]
        n = FILE_ARGS.get(kind, 0)
        # a file argument: the target by its current name, a helper file
        # with the dimension's suffix (meta2's own C, A3, ...) unless the
        # prior state made it (its B)
        args = [(names[a] if a == TARGET else a if a in prior_files else a + suffix)
                if i < n else a for i, a in enumerate(args)]
        if phase == "prior" and n:
            prior_files.update(args[:n])
        seq = len(steps) + 1
        if kind == "write":                  # write F OFF LEN direct|buffered
            args = [args[0], str(_size(args[1], eof)), str(_size(args[2], eof)),
                    f"{seed_of(case_id, seq, salt):016x}", args[3]]
        elif kind in ("falloc", "punch"):
            args = [args[0], str(_size(args[1], eof)), str(_size(args[2], eof)), *args[3:]]
        elif kind == "truncate":
            args = [args[0], str(_size(args[1], eof))]
        elif kind in ("rename", "link") and args[0] == names[TARGET]:
            if kind == "rename":
                names[TARGET] = args[1]
            seen_names.append(args[1])
        steps.append(Step(seq, kind, tuple(args), phase))

    for text in v["prior"].get("steps", []):
        add(text, "prior")
    eof = _size(v["prior"].get("eof", "0"), 0)
    for dim, suffix in (("meta", ""), ("meta2", "b")):
        if dim not in v:
            continue
        for text in v[dim].get("steps", []):
            add(text, "meta", suffix)
        if "eof" in v[dim].fields:
            eof = _size(v[dim].get("eof"), eof)
    length = _size(v["size"].get("bytes"), 0)
    offset = evaluate(v["write"].get("offset"), eof=eof, mid=MID, len=length)
    dur, eng = v["durability"], v["engine"]
    seq = len(steps) + 1
    measure = Measure(names[TARGET], dur.get("open", "none"), eng.get("engine"),
                      eng.get("flags", ""), dur.get("rwf", "none"), dur.get("post", "none"),
                      COUNT, offset, length, length, 1, seed_of(case_id, seq, salt))
    steps.append(Step(seq, "measure", (), "measure"))
    for text in v["between"].get("steps", []):
        add(text, "between")
    fs = v["fs"]
    return Program(case, case_id, fs.name, tuple(fs.get("mkfs")), fs.get("fsck", fs.name),
                   v["mount"].get("options", ""), int(v["completion"].get("delay_ms", 0)),
                   case["disk"], tuple(steps), measure, tuple(dict.fromkeys(seen_names)))


def step_problems(program: Program) -> list[str]:
    """Steps that cannot work in the order given (a file created twice,
    unlinked when gone, ...): the alphabet's rows must not combine into one,
    or the case is INFRA in the guest."""
    files: set[str] = set()
    out = []
    for s in program.steps:
        a = s.args
        if s.kind == "create":
            if a[0] in files:
                out.append(f"step {s.seq}: create {a[0]}: it exists")
            files.add(a[0])
        elif s.kind in ("unlink", "fsync", "fdatasync", "truncate", "falloc", "punch", "chmod",
                        "setxattr", "chattr") and a[0] not in files:
            out.append(f"step {s.seq}: {s.kind} {a[0]}: no such file")
        elif s.kind in ("rename", "link"):
            if a[0] not in files or a[1] in files:
                out.append(f"step {s.seq}: {s.kind} {a[0]} {a[1]}")
            files.add(a[1])
            if s.kind == "rename":
                files.discard(a[0])
        elif s.kind == "reflink":
            if a[0] not in files:
                out.append(f"step {s.seq}: reflink from {a[0]}: no such file")
            files.add(a[1])
        elif s.kind == "write":
            files.add(a[0])
        if s.kind == "unlink":
            files.discard(a[0])
    return out


# ------------------------------------------------------------- the model

@dataclass(frozen=True)
class Version:
    """What a run of units of a file holds from some step on: data of
    `seed`, zeros (ZERO) or nothing (ABSENT)."""
    order: int             # issue order within the case
    first: int             # units [first, last)
    last: int
    value: str             # seed as 16 hex digits | ZERO | ABSENT
    issue: int             # trace position it was issued at
    done: int | None       # and completed (None: never)
    required: int | None   # from when it must survive a cut (None: never promised)


@dataclass
class _File:
    size: int = 0
    exists: bool = False
    versions: list = field(default_factory=list)


@dataclass(frozen=True)
class Timeline:
    """When each step of a program happened, from the trace's markers
    (harness.explore reads them): step seq -> (start, end, rc); measured
    write index -> (issued, acknowledged or None, result)."""
    steps: dict
    writes: dict
    case_end: int | None = None


def versions(program: Program, tl: Timeline) -> tuple[list[Version], list[int]]:
    """The target file's versions, and the persist points (trace positions
    after which everything completed on it before is required)."""
    files: dict[str, _File] = {}
    promises: list[tuple[int, int, str | None]] = []     # (covers done before, at, file|None)
    out: dict[str, list[dict]] = {}
    order = 0

    def f(name: str) -> _File:
        return files.setdefault(name, _File())

    def put(name: str, first: int, last: int, value: str, issue, done, required=None):
        nonlocal order
        order += 1
        out.setdefault(name, []).append(dict(order=order, first=first, last=last, value=value,
                                             issue=issue, done=done, required=required))

    def resize(name: str, new: int, issue, done):
        fl = f(name)
        old = fl.size
        if new > old:
            put(name, old // UNIT, new // UNIT, ZERO, issue, done)
        elif new < old:
            put(name, new // UNIT, old // UNIT, ABSENT, issue, done)
        fl.size = new

    alias = {}                                   # guest name -> logical file
    for n in program.names:
        alias[n] = TARGET
    for s in program.steps:
        if s.kind == "measure":
            m = program.measure
            for i in range(m.count):
                issued, acked, res = tl.writes.get(i, (None, None, None))
                if issued is None:
                    continue
                off, seed = m.offset + i * m.stride, f"{m.seed + i:016x}"
                name = alias.get(m.file, m.file)
                fl = f(name)
                fl.exists = True
                ok = acked is not None and res is not None and res > 0
                n = min(res, m.length) // UNIT * UNIT if ok else 0
                req = acked if ok and m.durable_ack else None
                if off > fl.size:
                    put(name, fl.size // UNIT, off // UNIT, ZERO, issued,
                        acked if ok else None, req)
                if n:
                    put(name, off // UNIT, (off + n) // UNIT, seed, issued, acked, req)
                if n < m.length:          # not acknowledged: it may be there or not
                    put(name, (off + n) // UNIT, (off + m.length) // UNIT, seed, issued, None)
                if ok:
                    fl.size = max(fl.size, off + n)
                    if m.post in ("fsync", "fdatasync"):
                        promises.append((issued, acked, name))
            continue
        start, end, rc = tl.steps.get(s.seq, (None, None, None))
        if start is None:
            break                                # the case stopped before it
        done = end if rc == 0 else None
        a = list(s.args)
        name = alias.get(a[0], a[0]) if a else None
        if s.kind == "create":
            f(name).exists = True
        elif s.kind == "write":
            off, ln, seed = int(a[1]), int(a[2]), a[3]
            fl = f(name)
            if off > fl.size:
                put(name, fl.size // UNIT, off // UNIT, ZERO, start, done)
            put(name, off // UNIT, (off + ln) // UNIT, seed, start, done)
            fl.size = max(fl.size, off + ln)
            fl.exists = True
        elif s.kind == "falloc":
            off, ln = int(a[1]), int(a[2])
            if a[3] == "size" and off + ln > f(name).size:
                resize(name, off + ln, start, done)
        elif s.kind == "punch":
            off, ln = int(a[1]), int(a[2])
            last = min(off + ln, f(name).size)
            if last > off:
                put(name, off // UNIT, last // UNIT, ZERO, start, done)
        elif s.kind == "truncate":
            resize(name, int(a[1]), start, done)
        elif s.kind == "reflink":
            src, dst = alias.get(a[0], a[0]), alias.get(a[1], a[1])
            f(dst).exists = True
            resize(dst, 0, start, done)
            for v in _current(out.get(src, []), f(src).size):
                put(dst, v["first"], v["last"], v["value"], start, done)
            f(dst).size = f(src).size
        elif s.kind in ("fsync", "fdatasync") and rc == 0:
            promises.append((start, end, name))
        elif s.kind in ("syncfs", "sync", "snapshot") and rc == 0:
            promises.append((start, end, None))
        elif s.kind == "rename" and a[0] in alias:
            alias[a[1]] = alias[a[0]]
        elif s.kind == "link" and a[0] in alias:
            alias[a[1]] = alias[a[0]]
    # a promise covers every version of its file (or all files) completed
    # before the promising call began
    for name, vs in out.items():
        for v in vs:
            for covers, at, who in promises:
                if who not in (None, name) or v["done"] is None or v["done"] >= covers:
                    continue
                if v["required"] is None or at < v["required"]:
                    v["required"] = at
    return [Version(**v) for v in out.get(TARGET, [])], sorted(at for _, at, _ in promises)


def _current(vs: list[dict], size: int) -> list[dict]:
    """The latest version of every unit below `size`, as runs."""
    latest: dict[int, str] = {}
    for v in vs:
        for u in range(v["first"], v["last"]):
            latest[u] = v["value"]
    runs, units = [], sorted(u for u in latest if u < size // UNIT)
    for u in units:
        if runs and runs[-1]["last"] == u and runs[-1]["value"] == latest[u]:
            runs[-1]["last"] += 1
        else:
            runs.append({"first": u, "last": u + 1, "value": latest[u]})
    return runs


@dataclass(frozen=True)
class Expect:
    """Units [first, first+count) of the target (under any of `paths`)
    may hold any of `allowed`."""
    paths: tuple[str, ...]
    first: int
    count: int
    allowed: tuple[str, ...]

    def line(self, mount: str = "/mnt") -> str:
        return (f"expect {'|'.join(f'{mount}/{p}' for p in self.paths)} {self.first} "
                f"{self.count} {','.join(self.allowed)}")


def expectations(vs: list[Version], names: tuple[str, ...], t: int) -> list[Expect]:
    """What every unit the case touched may hold after a power cut at t."""
    units: dict[int, list[Version]] = {}
    for v in vs:
        if v.issue is None or v.issue >= t:
            continue
        for u in range(v.first, v.last):
            units.setdefault(u, []).append(v)
    allowed_of: dict[int, tuple[str, ...]] = {}
    for u, lst in units.items():
        lst.sort(key=lambda v: v.order)
        req = [v for v in lst if v.required is not None and v.required < t]
        base = req[-1] if req else None
        allowed = [base.value] if base else [ABSENT]
        allowed += [v.value for v in lst if base is None or v.order > base.order]
        allowed_of[u] = tuple(dict.fromkeys(allowed))
    out: list[Expect] = []
    for u in sorted(allowed_of):
        a = allowed_of[u]
        if out and out[-1].first + out[-1].count == u and out[-1].allowed == a:
            out[-1] = Expect(out[-1].paths, out[-1].first, out[-1].count + 1, a)
        else:
            out.append(Expect(names, u, 1, a))
    return out


def known_seeds(vs: list[Version]) -> list[str]:
    return sorted({v.value for v in vs if v.value not in (ABSENT, ZERO)})
