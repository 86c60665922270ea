"""A bisect step's decision from its runs, which way a bisect goes, and what
it refuses, on tiny git trees with no kernel in them (the end-to-end test on
a real kernel is test_bisect).  matrix.run is replaced by fake_run: the
tree's BUG file says whether the VM would have shown the deadlock."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import bisect as bisectmod
from harness import matrix
from harness.bisect import decide
from harness.errors import HarnessError
from harness.verdict import FAIL, PASS, Verdict

DL = "^possible deadlock in btrfs_sync_file$"
DEADLOCK = "possible deadlock in btrfs_sync_file"
TESTS = Path(__file__).resolve().parent
ENV = {"GIT_AUTHOR_NAME": "Bisect Test", "GIT_AUTHOR_EMAIL": "bisect@localhost",
       "GIT_COMMITTER_NAME": "Bisect Test", "GIT_COMMITTER_EMAIL": "bisect@localhost",
       "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}


def test_k_of_n_runs_make_a_bad_step():
    runs = [("FAIL", "possible deadlock in btrfs_sync_file"), ("PASS", None), ("PASS", None)]
    assert decide(runs, DL, 1)[0] == "bug"
    assert decide(runs, DL, 2)[0] == "no-bug"          # flaky: 1 of 3 is not enough


def test_infra_runs_count_for_nothing():
    runs = [("INFRA", None), ("FAIL", "possible deadlock in btrfs_sync_file"), ("INFRA", None)]
    assert decide(runs, DL, 1) == ("bug", 1, 0, 2)
    assert decide([("INFRA", None)] * 3, DL, 1)[0] == "skip"
    assert decide([("INFRA", None), ("PASS", None)], DL, 1)[0] == "no-bug"


def test_an_unrelated_crash_is_a_skip_not_a_bad():
    runs = [("FAIL", "general protection fault in btrfs_release_delayed_node"), ("PASS", None)]
    assert decide(runs, DL, 1)[0] == "skip"
    runs.append(("FAIL", "possible deadlock in btrfs_sync_file"))
    assert decide(runs, DL, 1)[0] == "bug"              # ours is there too


# ------------------------------------------------------- tiny git trees

def fake_run(variants, workloads, settings):
    """matrix.run without a kernel: every run shows what the tree's BUG file says."""
    v = variants[0]
    bug = (v.source.path / "BUG").read_text().strip() == "1"
    runs = [Verdict(v.line, v.label, workloads[0].name, i + 1, FAIL if bug else PASS,
                    DEADLOCK if bug else None) for i in range(settings.repeat)]
    return matrix.Outcome(runs, {}, {}, "tcg", 0.0)


def git(tree, *args):
    return subprocess.run(["git", *args], cwd=tree, env={**os.environ, **ENV}, check=True,
                          capture_output=True, text=True).stdout.strip()


def tiny_tree(path: Path, bugs: list[bool]) -> list[str]:
    """A kernel-looking git tree, one commit per entry of `bugs`; the commit
    ids, oldest first."""
    (path / "scripts/kconfig").mkdir(parents=True)
    (path / "scripts/kconfig/merge_config.sh").write_text("#!/bin/sh\n")
    (path / "Makefile").write_text("VERSION = 6\nPATCHLEVEL = 99\nSUBLEVEL = 0\n")
    git(path, "init", "-q", "-b", "main")
    commits = []
    for i, bug in enumerate(bugs):
        (path / "BUG").write_text("1\n" if bug else "0\n")
        (path / "notes").write_text(f"commit {i}\n")
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", f"commit {i}")
        commits.append(git(path, "rev-parse", "HEAD"))
    return commits


@pytest.fixture
def no_kernel(monkeypatch, tmp_path):
    """matrix.run is fake_run here and in every `git bisect run` step: the
    step's `python -m harness bisect-step STATE` runs a shim that swaps it in
    and then calls the real cmd_step."""
    monkeypatch.setattr(matrix, "run", fake_run)
    shim = tmp_path / "fake-python"
    shim.write_text(f"#!/bin/sh\nexec {sys.executable} - \"$@\" <<'EOF'\n"
                    "import sys\n"
                    f"sys.path[:0] = [{str(TESTS)!r}, {str(TESTS.parent)!r}]\n"
                    "from harness import bisect, matrix\n"
                    "from test_bisect_decide import fake_run\n"
                    "matrix.run = fake_run\n"
                    "sys.exit(bisect.cmd_step(sys.argv[-1]))\n"
                    "EOF\n")
    shim.chmod(0o755)
    monkeypatch.setattr(bisectmod.sys, "executable", str(shim))


def run_bisect(tree, good, bad, results, **kw):
    return bisectmod.bisect(str(tree), good, bad, "extending", 1, 1, None, results, 1, [],
                            reset=True, progress=lambda m: None, **kw)


def test_a_regression_bisect_names_the_first_bad_commit(no_kernel, tmp_path, capsys):
    c = tiny_tree(tmp_path / "tree", [False, False, False, True, True, True, True])
    assert run_bisect(tmp_path / "tree", c[0], c[-1], tmp_path / "results") == 0
    out = capsys.readouterr().out
    assert f"first bad commit: {c[3]} commit 3" in out
    (run_dir,) = (tmp_path / "results").iterdir()
    summary = json.loads((run_dir / "bisect.json").read_text())
    assert (summary["culprit"], summary["fix"]) == (c[3], False)
    assert summary["title"] == "^possible\\ deadlock\\ in\\ btrfs_sync_file$"
    assert "--term-old" not in (run_dir / "git-bisect.log").read_text()
    assert git(tmp_path / "tree", "rev-parse", "HEAD") == c[-1]      # reset: back on main


def test_bad_older_than_good_bisects_for_the_fix(no_kernel, tmp_path, capsys):
    """--bad an ancestor of --good: git's terms become old=broken, new=fixed,
    and a step that shows the bug answers 0 (broken), not 1."""
    c = tiny_tree(tmp_path / "tree", [True, True, True, True, False, False, False])
    assert run_bisect(tmp_path / "tree", c[-1], c[0], tmp_path / "results") == 0
    out = capsys.readouterr().out
    assert f"first fixed commit: {c[4]} commit 4" in out
    (run_dir,) = (tmp_path / "results").iterdir()
    summary = json.loads((run_dir / "bisect.json").read_text())
    assert (summary["culprit"], summary["fix"]) == (c[4], True)
    log = (run_dir / "git-bisect.log").read_text()
    assert "git bisect broken" in log and "git bisect fixed" in log
    assert f"# first fixed commit: [{c[4]}]" in log
    state = json.loads((run_dir / bisectmod.STATE).read_text())
    assert state["fix"] is True
    steps = [json.loads(ln) for ln in (run_dir / bisectmod.STEPS).read_text().splitlines()]
    assert steps[0]["commit"] == c[0] and steps[0]["decision"] == "bug"   # the bad end first
    assert git(tmp_path / "tree", "rev-parse", "HEAD") == c[-1]


@pytest.mark.parametrize("fix, bug, code", [(False, True, 1), (False, False, 0),
                                            (True, True, 0), (True, False, 1)])
def test_step_answers_git_in_the_bisects_direction(no_kernel, tmp_path, fix, bug, code):
    tiny_tree(tmp_path / "tree", [bug])
    s = bisectmod.Settings(str(tmp_path / "tree"), "extending", 2, 1, DL, fix,
                           str(tmp_path / "results"), 1, [])
    step, got = bisectmod.run_step(s, progress=lambda m: None)
    assert got == code
    assert step.decision == ("bug" if bug else "no-bug") and step.verdicts == [
        FAIL if bug else PASS] * 2


def test_a_dirty_tree_is_refused_and_left_as_it_is(no_kernel, tmp_path):
    tree = tmp_path / "tree"
    c = tiny_tree(tree, [False, True])
    (tree / "notes").write_text("my local edit\n")
    with pytest.raises(HarnessError, match="has uncommitted changes; commit or stash them"):
        run_bisect(tree, c[0], c[1], tmp_path / "results")
    assert (tree / "notes").read_text() == "my local edit\n"
    assert git(tree, "rev-parse", "HEAD") == c[1]
    assert not (tree / ".git/BISECT_START").exists() and not (tmp_path / "results").exists()
    git(tree, "checkout", "--", "notes")
    (tree / "BUG").write_text("staged\n")
    git(tree, "add", "BUG")                                  # staged counts too
    with pytest.raises(HarnessError, match="has uncommitted changes"):
        run_bisect(tree, c[0], c[1], tmp_path / "results")


def test_untracked_files_do_not_make_a_tree_dirty(no_kernel, tmp_path):
    tree = tmp_path / "tree"
    c = tiny_tree(tree, [False, True])
    (tree / "build.log").write_text("untracked\n")
    with pytest.raises(HarnessError, match="'nope' is not a commit"):   # past the dirty check
        run_bisect(tree, c[0], "nope", tmp_path / "results")


def test_a_tree_that_is_not_git_is_refused(no_kernel, tmp_path):
    tree = tmp_path / "tree"
    tiny_tree(tree, [True])
    (tree / ".git").rename(tmp_path / "git-aside")
    with pytest.raises(HarnessError, match="is not a git tree; bisect needs one"):
        run_bisect(tree, "a", "b", tmp_path / "results")


def test_a_bad_commit_without_the_bug_is_refused_and_the_checkout_restored(no_kernel,
                                                                         tmp_path):
    tree = tmp_path / "tree"
    c = tiny_tree(tree, [True, False, False])
    with pytest.raises(HarnessError, match=f"the bad commit {c[2]} does not show the bug"):
        run_bisect(tree, c[0], c[2], tmp_path / "results")
    assert git(tree, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert not (tree / ".git/BISECT_START").exists()


def test_an_interrupted_bisect_ends_the_git_bisect_session(no_kernel, tmp_path, monkeypatch):
    tree = tmp_path / "tree"
    c = tiny_tree(tree, [False, False, True, True])
    real = subprocess.run

    def interrupted(cmd, *a, **kw):
        if cmd[:3] == ["git", "bisect", "run"]:
            raise KeyboardInterrupt
        return real(cmd, *a, **kw)
    monkeypatch.setattr(bisectmod.subprocess, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_bisect(tree, c[0], c[-1], tmp_path / "results")
    assert not (tree / ".git/BISECT_START").exists()
    assert git(tree, "rev-parse", "--abbrev-ref", "HEAD") == "main"
