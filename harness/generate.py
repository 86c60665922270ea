"""Which cases the explorer runs, in which order (pure).

1. **A covering array** of the alphabet (harness.alphabet): every pair of
   values of any two dimensions in some case, and every triple of values of
   the dimensions that decide the kernel's path (`path = true`), within the
   constraints (a value's `requires`/`forbids`).  The library is covertable:
   it takes mixed strength (a strength-3 sub-model inside a strength-2
   model) and declarative constraints that prune impossible tuples while it
   builds the array, instead of filtering rows afterwards and losing
   coverage; allpairspy only filters.  Its order is greedy: the first rows
   cover the most new tuples, so a budget cut short still covers widely.
2. **Bounded-exhaustive sequences** (what ACE does for its operations):
   `meta` and `meta2` are two metadata steps in a row before the writes,
   and `pairs()` enumerates every ordered pair of them on a base case (the
   covering array already has every pair somewhere, but with the other
   dimensions varying; here they are held).
3. **Random cases** (Chipmunk's lesson: some bugs only a fuzzer found) from
   a seeded generator, until the budget is spent.

Everything is reproducible from `seed`; `shard(i, n)` splits the list for a
CI matrix that runs the space in parallel (case k goes to shard k mod n).
"""
from __future__ import annotations

import hashlib
import os
import random
from dataclasses import dataclass
from importlib.metadata import version
from itertools import islice
from pathlib import Path

from covertable import make

from harness.alphabet import Alphabet
from harness.cases import Case
from harness.errors import HarnessError

COVERTABLE = version("covertable")


def constraints(alphabet: Alphabet) -> list[dict]:
    """covertable conditions for every value's requires/forbids."""
    out = []
    for d in alphabet.dims:
        for v in d.values:
            for dim, names in v.requires:
                out.append({"operator": "or", "conditions": [
                    {"operator": "ne", "left": d.name, "value": v.name},
                    {"operator": "in", "left": dim, "values": list(names)}]})
            for dim, names in v.forbids:
                out.append({"operator": "or", "conditions": [
                    {"operator": "ne", "left": d.name, "value": v.name},
                    {"operator": "not", "condition":
                        {"operator": "in", "left": dim, "values": list(names)}}]})
    return out


def covering(alphabet: Alphabet, seed: int = 0, path_strength: int = 3) -> list[Case]:
    """The covering array: strength 2, and `path_strength` on the path
    dimensions (2: none higher)."""
    factors = {d.name: d.names for d in alphabet.dims}
    single = [d.name for d in alphabet.dims if len(d.values) == 1]
    path = [d.name for d in alphabet.dims if d.path and d.name not in single]
    subs = [{"fields": path, "strength": path_strength}] \
        if path_strength > 2 and len(path) >= path_strength else None
    try:
        rows = make(factors, strength=min(2, len(factors)), constraints=constraints(alphabet),
                    sub_models=subs, salt=str(seed))
    except Exception as e:           # covertable's own errors: uncoverable constraints
        raise HarnessError(f"the alphabet's constraints leave nothing to cover: {e}") from None
    return [Case.of(alphabet, r) for r in rows if alphabet.allowed(r)]


def pairs(alphabet: Alphabet, base: dict[str, str], dim: str = "meta",
          other: str = "meta2") -> list[Case]:
    """Every ordered pair (value of `dim`, value of `other`) on `base`: the
    bounded-exhaustive sequences of two metadata steps before the writes."""
    out = []
    for a in alphabet.dim(dim).names:
        for b in alphabet.dim(other).names:
            row = dict(base, **{dim: a, other: b})
            if alphabet.allowed(row):
                out.append(Case.of(alphabet, row))
    return out


def randoms(alphabet: Alphabet, seed: int, n: int) -> list[Case]:
    """n random cases the constraints allow, reproducible from `seed`."""
    rng = random.Random(seed)
    out, tries = [], 0
    while len(out) < n and tries < n * 50:
        tries += 1
        row = {d.name: rng.choice(d.names) for d in alphabet.dims}
        if alphabet.allowed(row):
            out.append(Case.of(alphabet, row))
    return out


@dataclass(frozen=True)
class Plan:
    cases: tuple[Case, ...]
    covering: int                     # how many of them are the covering array
    pairs: int


def plan(alphabet: Alphabet, seed: int = 0, path_strength: int = 3,
         extra_random: int = 0, pair_base: dict | None = None,
         cache: Path | None = None) -> Plan:
    """The covering array, the sequences, then `extra_random` random cases;
    each case once.  With `cache` (a folder), the covering array of the same
    alphabet, seed and strength is read from there (building it takes ~40 s
    for the whole alphabet at strength 3)."""
    cov = None
    if cache is not None:
        key = hashlib.sha256(repr((alphabet.fingerprint(), seed, path_strength,
                                   COVERTABLE)).encode()).hexdigest()[:16]
        f = cache / f"covering-{key}.txt"
        try:
            cov = [Case.parse(alphabet, ln) for ln in f.read_text().splitlines() if ln]
        except (OSError, HarnessError):
            cov = None
    if cov is None:
        cov = covering(alphabet, seed, path_strength)
        if cache is not None:
            cache.mkdir(parents=True, exist_ok=True)
            tmp = f.with_suffix(f".{os.getpid()}")
            tmp.write_text("".join(c.key + "\n" for c in cov))
            os.replace(tmp, f)
    seqs = pairs(alphabet, pair_base) if pair_base else []
    seen, out = set(), []
    for c in [*cov, *seqs, *randoms(alphabet, seed, extra_random)]:
        if c not in seen:
            seen.add(c)
            out.append(c)
    return Plan(tuple(out), len(cov), len(seqs))


def shard(cases: list[Case] | tuple[Case, ...], index: int, count: int) -> list[Case]:
    """Shard `index` (1-based) of `count`: every count-th case."""
    if not 1 <= index <= count:
        raise HarnessError(f"--shard {index}/{count}: want 1 <= I <= N")
    return list(islice(cases, index - 1, None, count))


def feasible(alphabet: Alphabet, partial: dict[str, str]) -> bool:
    """Some whole case the constraints allow contains `partial` (a search
    with forward checking: every open dimension keeps a value allowed with
    what is chosen, the tightest is chosen next)."""
    if not alphabet.allowed(partial):
        return False
    domains = {}
    for d in alphabet.dims:
        if d.name in partial:
            continue
        ok = [v for v in d.names if alphabet.allowed({**partial, d.name: v})]
        if not ok:
            return False
        domains[d.name] = ok
    if not domains:
        return True
    name = min(domains, key=lambda n: len(domains[n]))
    return any(feasible(alphabet, {**partial, name: v}) for v in domains[name])


_FEASIBLE_PAIRS: dict[str, frozenset] = {}


def feasible_pairs(alphabet: Alphabet) -> frozenset:
    """Every pair of values of two dimensions some allowed case holds
    (worked out once per alphabet)."""
    key = alphabet.fingerprint()
    if key not in _FEASIBLE_PAIRS:
        dims, out = alphabet.dims, set()
        for i, a in enumerate(dims):
            for b in dims[i + 1:]:
                for va in a.names:
                    for vb in b.names:
                        if feasible(alphabet, {a.name: va, b.name: vb}):
                            out.add((a.name, va, b.name, vb))
        _FEASIBLE_PAIRS[key] = frozenset(out)
    return _FEASIBLE_PAIRS[key]


def coverage(alphabet: Alphabet, cases: list[Case]) -> dict:
    """How much of the alphabet `cases` cover: values seen per dimension,
    pairs of values seen, out of those some allowed case holds."""
    dims = alphabet.dims
    seen_pairs, allowed_pairs = set(), feasible_pairs(alphabet)
    values = {d.name: set() for d in dims}
    for c in cases:
        row = c.as_dict()
        for i, a in enumerate(dims):
            values[a.name].add(row[a.name])
            for b in dims[i + 1:]:
                seen_pairs.add((a.name, row[a.name], b.name, row[b.name]))
    feasible_values = sum(1 for d in dims for v in d.names if feasible(alphabet, {d.name: v}))
    return {"values": sum(len(v) for v in values.values()),
            "values_all": feasible_values,
            "pairs": len(seen_pairs & allowed_pairs), "pairs_all": len(allowed_pairs)}
