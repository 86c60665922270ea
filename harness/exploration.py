"""An explorer session: the generated plan (harness.generate), sharded and cut
to a budget, run in batches (harness.explore) on each kernel, two batches at
a time; then the failures grouped, each group shrunk to its simplest case by
running simpler ones, and a reproducer kit written for it
(harness.findings).  Everything lands in one results folder:

    explore.jsonl      one outcome a line (kernel, case, verdict, oracles, signature)
    summary.json       counts, speed, coverage of the alphabet, findings, costs
    batches/NAME/      each batch's consoles, cases and check plans
    findings/NN-SLUG/  a group's simplest case: repro.sh, explore, case.txt, README.md
"""
from __future__ import annotations

import json
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from harness import cases as casesmod
from harness import explore, findings, generate, guestbin
from harness.cases import Case
from harness.errors import HarnessError, InfraError
from harness.paths import cache_dir

BATCH = 12                   # cases a write VM (a check VM gets their cuts)


@dataclass(frozen=True)
class Options:
    seed: int = 0
    budget_s: float | None = None
    shard: tuple[int, int] = (1, 1)
    batch: int = BATCH
    jobs: int = 2
    cpus: int = 1
    strength: int = 3
    max_cases: int | None = None
    random: int = 0
    shrink: bool = True
    shrink_rounds: int = 3
    keep: bool = False


@dataclass
class Session:
    alphabet: object
    options: Options
    outdir: Path
    progress: object = print
    start: float = field(default_factory=time.monotonic)
    deadline: float | None = None    # no new batch after this (time.monotonic())
    outcomes: list = field(default_factory=list)
    batches: list = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def left(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def record(self, kernel: explore.Kernel, r: explore.BatchResult) -> None:
        with self._lock:
            with open(self.outdir / "explore.jsonl", "a") as fh:
                for o in r.outcomes:
                    row = o.as_json()
                    row.update(kernel=kernel.label, line=kernel.line, variant=kernel.variant)
                    fh.write(json.dumps(row) + "\n")
                    self.outcomes.append(row)
            self.batches.append({"kernel": kernel.label, **r.seconds, "name": r.name})
            bad = [o for o in r.outcomes if o.verdict != "PASS"]
            self.progress(f"explore {kernel.label} {r.name}: {len(r.outcomes)} cases in "
                          f"{r.seconds['write'] + r.seconds['check']:.0f} s, "
                          f"{sum(o.verdict == 'FAIL' for o in r.outcomes)} FAIL, "
                          f"{sum(o.verdict == 'INFRA' for o in r.outcomes)} INFRA"
                          + (f"; first: {bad[0].title or bad[0].detail[:80]}" if bad else ""))


def batches_of(cases: list[Case], size: int) -> list[list[tuple[int, Case]]]:
    """(case id, case) in batches of one disk kind each, taken in plan order,
    the disks' batches interleaved: a budget cut short still saw every disk."""
    per: dict[str, list] = {}
    for i, c in enumerate(cases, 1):
        per.setdefault(c["disk"], []).append((i, c))
    chunks = {d: [lst[k:k + size] for k in range(0, len(lst), size)] for d, lst in per.items()}
    out = []
    while any(chunks.values()):
        for d in list(chunks):
            if chunks[d]:
                out.append(chunks[d].pop(0))
    return out


def run_cases(session: Session, kernel: explore.Kernel, numbered: list[tuple[int, Case]],
              tag: str, budgeted: bool = True) -> list[dict]:
    """Run the cases on `kernel` in batches, `jobs` at a time; a batch a
    kernel report stopped has its unrun cases run again (once).  Returns
    their outcome rows."""
    opts, a = session.options, session.alphabet
    todo = batches_of([c for _, c in numbered], opts.batch)
    ids = {c: i for i, c in numbered}
    todo = [[(ids[c], c) for _, c in b] for b in todo]
    settings = explore.Settings(session.outdir, cpus=opts.cpus, keep=opts.keep,
                                salt=str(opts.seed), progress=session.progress)
    got: list[dict] = []
    retried: set = set()
    n = 0
    with ThreadPoolExecutor(max_workers=opts.jobs) as pool:
        running = {}
        while todo or running:
            while todo and len(running) < opts.jobs and (not budgeted or session.left() > 0):
                batch = todo.pop(0)
                n += 1
                name = f"{kernel.label}-{tag}{n:03d}"
                progs = [casesmod.compile_case(a, c, i, str(opts.seed)) for i, c in batch]
                fut = pool.submit(explore.run_batch, kernel, progs, batch[0][1]["disk"], name,
                                  settings)
                running[fut] = batch
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                batch = running.pop(fut)
                try:
                    r = fut.result()
                except InfraError as e:
                    session.progress(f"explore {kernel.label}: batch INFRA: {e}")
                    for i, c in batch:
                        row = {"key": c.key, "id": i, "verdict": "INFRA", "title": None,
                               "detail": str(e), "oracles": {}, "missing": {"vm": str(e)},
                               "signature": {"disk": c["disk"]}, "cuts": [], "batch": "",
                               "kernel": kernel.label, "line": kernel.line,
                               "variant": kernel.variant}
                        session.outcomes.append(row)
                        got.append(row)
                    continue
                session.record(kernel, r)
                got += [dict(o.as_json(), kernel=kernel.label) for o in r.outcomes]
                again = [(p.id, p.case) for p in r.unrun if p.id not in retried]
                retried |= {i for i, _ in again}
                if again:
                    todo.insert(0, again)
    return got


def explore_kernels(session: Session, kernels: list[explore.Kernel]) -> dict:
    opts, a = session.options, session.alphabet
    (session.outdir / "explore.jsonl").write_text("")
    plan = generate.plan(a, opts.seed, opts.strength, opts.random, pair_base(a),
                         cache=cache_dir() / "explore-plans")
    cases = generate.shard(plan.cases, *opts.shard)
    if opts.max_cases:
        cases = cases[:opts.max_cases]
    session.progress(f"explore: {len(plan.cases)} cases in the plan ({plan.covering} covering "
                     f"the alphabet, {plan.pairs} sequences, seed {opts.seed}); shard "
                     f"{opts.shard[0]}/{opts.shard[1]}: {len(cases)}")
    (session.outdir / "plan.txt").write_text("".join(c.key + "\n" for c in cases))
    numbered = list(enumerate(cases, 1))
    # the kernels share the budget; shrinking gets a fifth of it at the end
    share = None if opts.budget_s is None else \
        opts.budget_s * (0.8 if opts.shrink else 1.0) / len(kernels)
    for kernel in kernels:
        session.deadline = None if share is None else time.monotonic() + share
        run_cases(session, kernel, numbered, "b")
    session.deadline = None if opts.budget_s is None else \
        session.start + opts.budget_s
    t_run = time.monotonic()
    found = shrink_and_kit(session, kernels) if opts.shrink else kit_only(session, kernels)
    return summarize(session, cases, found, time.monotonic() - t_run)


def pair_base(a) -> dict:
    """The bounded-exhaustive pairs run on the subject's simplest async
    case: every dimension's first value, io_uring, completions in a worker."""
    base = {d.name: d.names[0] for d in a.dims}
    for dim, want in (("engine", "uring"), ("completion", "worker")):
        if dim in base and want in a.dim(dim).names:
            base[dim] = want
    return base if a.allowed(base) else {}


# ------------------------------------------------------------ findings

def shrink_and_kit(session: Session, kernels: list[explore.Kernel]) -> list[dict]:
    a, opts = session.alphabet, session.options
    by_kernel = {k.label: k for k in kernels}
    groups = findings.group(session.outcomes, a)
    out = []
    for gi, (key, members) in enumerate(sorted(groups.items()), 1):
        kernel = by_kernel.get(key[0])
        failing = [Case.parse(a, o["key"]) for o in members]
        best = findings.pick(a, failing)
        tried = len(members)
        for rnd in range(opts.shrink_rounds):
            if kernel is None or session.left() <= 0:
                break
            done_keys = {o["key"] for o in session.outcomes if o.get("kernel") == key[0]}
            cands = [c for c in findings.simpler(a, best) if c.key not in done_keys]
            if not cands:
                break
            base_id = 100000 * gi + 1000 * (rnd + 1)
            rows = run_cases(session, kernel, [(base_id + i, c) for i, c in enumerate(cands)],
                             f"s{gi}r{rnd + 1}-", budgeted=False)
            tried += len(rows)
            same = [Case.parse(a, r["key"]) for r in rows if r["verdict"] == "FAIL"
                    and findings.group_key(r, Case.parse(a, r["key"])) == key]
            failing += same
            nxt = findings.pick(a, failing)
            if nxt == best:
                break
            best = nxt
        out.append(_finding(session, gi, key, best, members, tried, kernel))
    return out


def kit_only(session: Session, kernels: list[explore.Kernel]) -> list[dict]:
    a = session.alphabet
    by_kernel = {k.label: k for k in kernels}
    groups = findings.group(session.outcomes, a)
    return [_finding(session, gi, key, findings.pick(a, [Case.parse(a, o["key"]) for o in m]),
                     m, len(m), by_kernel.get(key[0]))
            for gi, (key, m) in enumerate(sorted(groups.items()), 1)]


def _finding(session: Session, gi: int, key: tuple, best: Case, members: list[dict],
             tried: int, kernel) -> dict:
    a = session.alphabet
    row = next((o for o in reversed(session.outcomes) if o["key"] == best.key
                and o.get("kernel") == key[0] and o["verdict"] == "FAIL"), members[0])
    finding = {"group": list(key), "kernel": key[0], "title": row["title"],
               "detail": row["detail"], "case": best.key, "failed": len(members),
               "tried": tried, "signature": row.get("signature", {}),
               "simplest_of_group": best.key}
    where = session.outdir / "findings" / f"{gi:02d}-{findings.slug(key)}"
    repro = row.get("repro")
    if repro:
        program = casesmod.compile_case(a, best, row["id"], str(session.options.seed))
        cut = _Cut(tuple(repro["expects"]), tuple(repro["known"]))
        findings.write_kit(where, finding, program, cut, repro["cut"],
                           guestbin.compiled(explore.PROGRAM_SRC),
                           row.get("signature", {}).get("model", "completed"))
        finding["kit"] = str(where)
        if kernel is not None:
            # the kit on the kernel it was found on, in a guest: it must fail there
            try:
                got, line = explore.run_kit(kernel, where, row["signature"].get("disk", "cache"),
                                            session.outdir / "batches" / f"verify-{gi:02d}")
            except (HarnessError, InfraError) as e:
                got, line = "not run", str(e)
            finding["verified"] = f"{got} on {kernel.label} ({line.strip()[:160]})"
            session.progress(f"explore: finding {gi}: its reproducer on {kernel.label}: {got}")
    else:
        where.mkdir(parents=True, exist_ok=True)
        finding["kit"] = None
        finding["no_kit"] = "the failing cut is not right after an acknowledgement or a step"
    (where / "README.md").write_text(findings.readme(finding, a))
    return finding


@dataclass(frozen=True)
class _Cut:
    """What a kit needs of a cut: the expect lines and known seeds."""
    expect_lines: tuple
    known: tuple

    @property
    def expects(self):
        return [_Line(x) for x in self.expect_lines]


@dataclass(frozen=True)
class _Line:
    text: str

    def line(self, mount: str = "/mnt") -> str:
        return self.text


# --------------------------------------------------------------- summary

def summarize(session: Session, cases: list[Case], found: list[dict], shrink_s: float) -> dict:
    rows = session.outcomes
    a = session.alphabet
    elapsed = time.monotonic() - session.start
    by: dict[str, dict] = {}
    for o in rows:
        k = by.setdefault(o["kernel"], {"PASS": 0, "FAIL": 0, "INFRA": 0})
        k[o["verdict"]] = k.get(o["verdict"], 0) + 1
    vm_s = sum(b["write"] + b["check"] for b in session.batches)
    run_cases_ = {Case.parse(a, o["key"]) for o in rows}
    summary = {
        "cases_in_plan": len(cases), "outcomes": len(rows), "by_kernel": by,
        "batches": len(session.batches), "vm_seconds": round(vm_s, 1),
        "cases_per_minute": round(len(rows) / (elapsed / 60), 1) if elapsed else None,
        "coverage": generate.coverage(a, sorted(run_cases_, key=lambda c: c.key)),
        "findings": found, "costs": findings.cost_table(rows),
        "options": {k: v for k, v in session.options.__dict__.items()},
    }
    summary["cost_differs_between_kernels"] = findings.grown(summary["costs"])[:20]
    (session.outdir / "summary.json").write_text(json.dumps(summary, indent=1, default=str)
                                                 + "\n")
    return summary


def merge(dirs: list[Path], out: Path, alphabet) -> dict:
    """Join the shards' results: their outcomes, regrouped (each group's
    simplest failing case among those seen; no shrinking: that needs VMs)."""
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for d in dirs:
        f = d / "explore.jsonl"
        if not f.is_file():
            raise HarnessError(f"explore-merge: {d} has no explore.jsonl")
        rows += [json.loads(ln) for ln in f.read_text().splitlines() if ln.strip()]
    if not rows:
        raise HarnessError("explore-merge: no outcomes in " + ", ".join(map(str, dirs)))
    (out / "explore.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    session = Session(alphabet, Options(), out, progress=lambda m: None)
    session.outcomes = rows
    groups = findings.group(rows, alphabet)
    found = [{"group": list(k), "kernel": k[0], "title": m[0]["title"],
              "case": findings.pick(alphabet, [Case.parse(alphabet, o["key"]) for o in m]).key,
              "failed": len(m)} for k, m in sorted(groups.items())]
    plan_cases = sorted({Case.parse(alphabet, o["key"]) for o in rows}, key=lambda c: c.key)
    return summarize(session, plan_cases, found, 0.0)


def table(summary: dict) -> str:
    """The summary as the terminal shows it."""
    out = [f"explore: {summary['outcomes']} outcomes in {summary['batches']} batches, "
           f"{summary['cases_per_minute']} cases a minute; alphabet covered: "
           f"{summary['coverage']['values']}/{summary['coverage']['values_all']} values, "
           f"{summary['coverage']['pairs']}/{summary['coverage']['pairs_all']} pairs"]
    for k, c in sorted(summary["by_kernel"].items()):
        out.append(f"  {k:28} PASS {c.get('PASS', 0):4}  FAIL {c.get('FAIL', 0):4}  "
                   f"INFRA {c.get('INFRA', 0):4}")
    if summary["findings"]:
        out.append("findings (simplest case of each group):")
    for f in summary["findings"]:
        out.append(f"  {f['kernel']}: {f['title']}  [{f['failed']} cases]")
        out.append(f"      {f['case']}")
        if f.get("kit"):
            out.append(f"      kit: {f['kit']}")
    return "\n".join(out)
