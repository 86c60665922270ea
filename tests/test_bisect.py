"""harness bisect end to end: a 17-commit history on the default source,
one commit that does not build, one culprit that brings the deadlock back.
The bisect must name exactly the culprit."""
import json
import subprocess
import sys

import pytest

from bisect_history import (BROKEN_SUBJECT, CULPRIT_SUBJECT, SHORT, cleanup, git,
                            make_history)
from conftest import REPO


@pytest.fixture(scope="module")
def history(default_source):
    good, bad, culprit = make_history(default_source.path)
    yield default_source.path, good, bad, culprit
    cleanup(default_source.path)


def test_bisect_finds_exactly_the_culprit(history, tmp_path, harness_env):
    repo, good, bad, culprit = history
    cp = subprocess.run([sys.executable, "-m", "harness", "bisect", "--kernel-tree", str(repo),
                         "--good", good, "--bad", bad, "--workload", "extending",
                         "--results", str(tmp_path)],
                        cwd=REPO, env=harness_env, capture_output=True, text=True, timeout=3000)
    print(cp.stdout[-6000:])
    sys.stderr.write(cp.stderr[-3000:])
    assert cp.returncode == 0
    assert f"first bad commit: {culprit} {CULPRIT_SUBJECT}" in cp.stdout
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    summary = json.loads((run_dir / "bisect.json").read_text())
    assert summary["culprit"] == culprit
    assert summary["title"] == "^possible\\ deadlock\\ in\\ btrfs_sync_file$"
    steps = [json.loads(ln) for ln in (run_dir / "bisect-steps.jsonl").read_text().splitlines()]
    assert steps[0]["commit"] == bad                # run first: its title is the bug
    assert steps[1]["subject"] == BROKEN_SUBJECT    # git's first midpoint: the skip path
    decisions = {s["subject"]: s["decision"] for s in steps}
    assert decisions[BROKEN_SUBJECT] == "skip"      # tested, did not build, skipped
    broken = [s for s in steps if s["subject"] == BROKEN_SUBJECT][0]
    assert broken["verdicts"] == ["INFRA"] and "build of tree failed" in broken["titles"][0]
    assert all(s["decision"] != "bug" or s["matching"] >= 1 for s in steps)
    assert "git bisect start" in (run_dir / "git-bisect.log").read_text()
    # left as git bisect run leaves it: refs/bisect/bad is the culprit
    bisect_bad = subprocess.run(["git", "rev-parse", "refs/bisect/bad"], cwd=repo,
                                capture_output=True, text=True).stdout.strip()
    assert bisect_bad == culprit


SHORT_BRANCH = "harness-bisect-short"


@pytest.fixture
def short_history(default_source):
    good, bad, culprit = make_history(default_source.path, SHORT, branch=SHORT_BRANCH)
    yield default_source.path, good, bad, culprit
    cleanup(default_source.path, SHORT_BRANCH)


def test_plain_git_bisect_run_skips_what_does_not_build(short_history, tmp_path, harness_env):
    """The README's plain `git bisect run .venv/bin/python -m harness run
    --kernel-tree . --workload extending`, run from inside the kernel tree
    (no PYTHONPATH: the venv finds the harness): 0 good, 1 bad, 125 for the
    commit that does not build, and git names exactly the culprit."""
    repo, good, bad, culprit = short_history
    first = git(repo, "rev-list", "--bisect", bad, f"^{good}")
    assert git(repo, "log", "-1", "--format=%s", first) == BROKEN_SUBJECT
    env = {k: v for k, v in harness_env.items() if k != "PYTHONPATH"}
    env["HARNESS_RESULTS"] = str(tmp_path)
    git(repo, "bisect", "start", bad, good)
    cp = subprocess.run(["git", "bisect", "run", sys.executable, "-m", "harness", "run",
                         "--kernel-tree", ".", "--workload", "extending"],
                        cwd=repo, env=env, capture_output=True, text=True, timeout=3000)
    print(cp.stdout[-6000:])
    sys.stderr.write(cp.stderr[-3000:])
    log = git(repo, "bisect", "log")
    git(repo, "bisect", "reset", check=False)
    assert cp.returncode == 0, "git bisect run stopped: a step exited outside 0/1/125"
    assert f"{culprit} is the first bad commit" in cp.stdout
    assert f"git bisect skip {first}" in log                 # 125, not bad
    runs = [d for d in tmp_path.iterdir() if (d / "result.json").exists()]
    assert len(runs) >= 2, "each step gets its own results folder"
