"""`harness bisect`: find the commit where a workload goes from PASS to FAIL
(or, when --bad is older than --good, from FAIL to PASS), on top of
`git bisect start` and
`git bisect run`.  Each step runs `harness bisect-step`, which builds the
checked-out commit incrementally, runs the workload N times and answers
git with 0 (old), 1 (new) or 125 (skip: the kernel did not build or boot,
or it showed a different bug than the one being chased)."""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from harness import matrix, proc, report, vm
from harness import source as sourcemod
from harness import workload as workloadmod
from harness.errors import EXIT_SKIP, HarnessError

STATE = "bisect-state.json"
STEPS = "bisect-steps.jsonl"


@dataclass
class Settings:
    tree: str
    workload: str
    runs: int
    min_bad: int
    title: str            # regex of the bug being chased
    fix: bool             # True: old=broken, new=fixed
    results: str
    jobs: int
    fragments: list[str]
    cpus: int = vm.DEFAULT_CPUS


@dataclass
class Step:
    commit: str
    subject: str
    verdicts: list[str]
    titles: list[str | None]
    matching: int
    unrelated: int
    infra: int
    decision: str         # "bug", "no-bug", "skip"
    seconds: float


def git(tree: str, *args: str, check: bool = True) -> str:
    return sourcemod.git(Path(tree), *args, check=check)


def _record(results: str | Path, step: "Step") -> None:
    with open(Path(results) / STEPS, "a") as fh:
        fh.write(json.dumps(asdict(step)) + "\n")


def decide(results: list[tuple[str, str | None]], title: str,
           min_bad: int) -> tuple[str, int, int, int]:
    """(decision, matching, unrelated, infra) for the (verdict, title) of
    each run of one step: "bug" when at least `min_bad` runs show the bug
    being chased; "skip" when no run could judge (all INFRA) or a run showed
    a different bug and none showed ours; otherwise "no-bug".  INFRA runs
    count for nothing."""
    rx = re.compile(title)
    matching = sum(1 for v, t in results if v == "FAIL" and t and rx.search(t))
    infra = sum(1 for v, _ in results if v == "INFRA")
    unrelated = sum(1 for v, t in results if v in ("FAIL", "ERROR")
                    and not (t and rx.search(t)))
    if matching >= min_bad:
        return "bug", matching, unrelated, infra
    if infra == len(results) or (unrelated and not matching):
        return "skip", matching, unrelated, infra
    return "no-bug", matching, unrelated, infra


def run_step(s: Settings, progress=print) -> tuple[Step, int]:
    """Build HEAD of the tree, run the workload s.runs times, decide."""
    t0 = time.monotonic()
    src = sourcemod.local_tree(s.tree)
    variant = sourcemod.variants_for(src, None)[0]
    commit = git(s.tree, "rev-parse", "HEAD")
    subject = git(s.tree, "log", "-1", "--format=%s")
    outdir = Path(s.results) / f"step-{commit[:12]}"
    outdir.mkdir(parents=True, exist_ok=True)
    wl = workloadmod.resolve([s.workload])[0]
    settings = matrix.Settings(outdir, cpus=s.cpus, jobs=s.jobs, repeat=s.runs,
                               fragments=[Path(f) for f in s.fragments], progress=progress)
    outcome = matrix.run([variant], [wl], settings)
    results = [(v.verdict, v.title) for v in outcome.verdicts]
    if outcome.build_failures:
        step = Step(commit, subject, ["INFRA"],
                    [next(iter(outcome.build_failures.values()))[:200]], 0, 0, 1, "skip",
                    time.monotonic() - t0)
        return step, EXIT_SKIP
    decision, matching, unrelated, infra = decide(results, s.title, s.min_bad)
    step = Step(commit, subject, [v for v, _ in results], [t for _, t in results],
                matching, unrelated, infra, decision, time.monotonic() - t0)
    if decision == "skip":
        return step, EXIT_SKIP
    bug = decision == "bug"
    # git: exit 0 = old term, 1 = new term
    return step, (0 if bug else 1) if s.fix else (1 if bug else 0)


def cmd_step(state_file: str) -> int:
    """Entry point for `git bisect run`: never exits outside 0/1/125."""
    try:
        s = Settings(**json.loads(Path(state_file).read_text()))
        step, code = run_step(s, progress=lambda m: print(m, file=sys.stderr, flush=True))
    except HarnessError as e:
        print(f"harness bisect-step: {e}", file=sys.stderr)
        return EXIT_SKIP
    _record(s.results, step)
    print(f"bisect step {step.commit[:12]} {step.subject!r}: {step.decision} "
          f"({step.matching}/{len(step.verdicts)} runs show the bug; "
          f"verdicts {' '.join(step.verdicts)}) in {step.seconds:.0f} s", flush=True)
    return code


def bisect(tree: str, good: str, bad: str, workload: str, runs: int, min_bad: int,
           title: str | None, results: Path | None, jobs: int,
           fragments: list[str], reset: bool = False, cpus: int = vm.DEFAULT_CPUS,
           progress=print) -> int:
    """`bad` shows the bug, `good` does not.  If bad is older than good
    (an ancestor of it), this finds the fix instead of the regression."""
    src = sourcemod.local_tree(tree)
    if not src.is_git:
        raise HarnessError(f"{tree} is not a git tree; bisect needs one")
    tree = str(src.path)
    if git(tree, "status", "--porcelain", "--untracked-files=no"):
        raise HarnessError(f"{tree} has uncommitted changes; commit or stash them first")
    for ref in (good, bad):
        if proc.run(["git", "rev-parse", "--verify", "-q", f"{ref}^{{commit}}"], cwd=tree,
                    timeout=30, check=False).returncode != 0:
            raise HarnessError(f"{ref!r} is not a commit in {tree}")
    workloadmod.resolve([workload])
    if not 1 <= min_bad <= runs:
        raise HarnessError(f"--min-bad must be between 1 and --runs ({runs})")
    fix = proc.run(["git", "merge-base", "--is-ancestor", bad, good], cwd=tree, timeout=60,
                   check=False).returncode == 0
    old, new = (bad, good) if fix else (good, bad)
    outdir = report.new_results_dir(results)
    progress(f"results: {outdir}")
    s = Settings(tree, workload, runs, min_bad, title or ".", fix, str(outdir), jobs, fragments,
                 cpus)
    start_ref = git(tree, "rev-parse", "--abbrev-ref", "HEAD")
    start_ref = git(tree, "rev-parse", "HEAD") if start_ref == "HEAD" else start_ref
    steps_file = outdir / STEPS
    started = False
    try:
        git(tree, "checkout", "-q", bad)
        step, _ = run_step(s, progress)
        _record(outdir, step)
        seen = [t for v, t in zip(step.verdicts, step.titles) if v == "FAIL" and t]
        if not seen or (title and not any(re.search(title, t) for t in seen)):
            raise HarnessError(f"the bad commit {bad} does not show the bug "
                               f"({' '.join(step.verdicts)}); nothing to bisect")
        if not title:
            s.title = "^" + re.escape(seen[0]) + "$"
        progress(f"chasing /{s.title}/ ({'fix' if fix else 'regression'}) with "
                 f"{workload} x{runs}, bad if >= {min_bad}")
        (outdir / STATE).write_text(json.dumps(asdict(s), indent=1))
        terms = ["--term-old=broken", "--term-new=fixed"] if fix else []
        git(tree, "bisect", "reset", check=False)
        git(tree, "bisect", "start", *terms, new, old)
        started = True
        step_cmd = [sys.executable, "-m", "harness", "bisect-step", str(outdir / STATE)]
        progress(f"git bisect run {' '.join(shlex.quote(c) for c in step_cmd)}")
        env_repo = str(Path(__file__).resolve().parent.parent)
        cp = subprocess.run(["git", "bisect", "run", *step_cmd], cwd=tree, text=True,
                            capture_output=True, timeout=6 * 3600,
                            env={**os.environ, "PYTHONPATH": env_repo})
        (outdir / "git-bisect-run.log").write_text(cp.stdout + cp.stderr)
        log = git(tree, "bisect", "log", check=False)
        (outdir / "git-bisect.log").write_text(log + "\n")
        m = re.search(r"^([0-9a-f]{40}) is the first (?:bad|fixed|new) commit", cp.stdout, re.M)
        culprit = m.group(1) if m else None
    except BaseException:
        if started:
            git(tree, "bisect", "reset", start_ref, check=False)
        else:
            git(tree, "checkout", "-q", start_ref, check=False)
        raise
    if reset or not culprit:
        git(tree, "bisect", "reset", start_ref, check=False)
    steps = [json.loads(ln) for ln in steps_file.read_text().splitlines() if ln.strip()]
    print("bisect steps:")
    for st in steps:
        print(f"  {st['commit'][:12]} {st['decision']:7} {st['matching']}/{len(st['verdicts'])} "
              f"{' '.join(st['verdicts']):20} {st['seconds']:5.0f} s  {st['subject'][:60]}")
    print("git bisect log:")
    print("\n".join("  " + ln for ln in log.splitlines()))
    summary = {"culprit": culprit, "title": s.title, "fix": fix, "steps": len(steps),
               "workload": workload, "runs": runs, "min_bad": min_bad}
    (outdir / "bisect.json").write_text(json.dumps(summary, indent=1) + "\n")
    if not culprit:
        print(f"git bisect run found no single commit; see {outdir / 'git-bisect-run.log'}")
        print(f"results: {outdir}")
        return 1
    subject = git(tree, "log", "-1", "--format=%s", culprit)
    print(f"first {'fixed' if fix else 'bad'} commit: {culprit} {subject}")
    if not reset:
        print(f"(the bisect session is left as git bisect run leaves it: "
              f"`git bisect reset` returns to {start_ref})")
    print(f"results: {outdir}")
    return 0
