"""A 17-commit kernel history for the bisect end-to-end test and benchmark.

On top of variant/fixed of the default source: commits touching files in
and out of btrfs, one that does not build (and the next that repairs it),
and one culprit that brings the deadlock back by reverting the workaround
(both patches).  Commits use a fixed identity and dates, so their ids, and
the cached builds of them, are the same on every run."""
import subprocess
from pathlib import Path

from harness import patches as patchmod

BRANCH = "harness-bisect-test"
CULPRIT_SUBJECT = "btrfs: drop the dio DSYNC workaround"
BROKEN_SUBJECT = "btrfs: props: WIP (does not build)"
ENV = {"GIT_AUTHOR_NAME": "Bisect Test", "GIT_AUTHOR_EMAIL": "bisect@localhost",
       "GIT_COMMITTER_NAME": "Bisect Test", "GIT_COMMITTER_EMAIL": "bisect@localhost"}


def _append(path: str, text: str):
    def edit(repo: Path):
        with open(repo / path, "a") as fh:
            fh.write(text)
    return edit


def _revert_workaround(repo: Path):
    for p in reversed(patchmod.series()):
        patchmod.apply(repo, p, reverse=True)


def _unbreak(repo: Path):
    f = repo / "fs/btrfs/props.c"
    f.write_text(f.read_text().replace("#error bisect-test: this commit does not build\n", ""))


# (subject, edit): index 0 is the first commit after variant/fixed
COMMITS = [
    ("Documentation: btrfs: note on O_DSYNC", _append("Documentation/filesystems/btrfs.rst",
                                                      "\n.. bisect-test: note 1\n")),
    ("btrfs: props: comment", _append("fs/btrfs/props.c", "/* bisect-test 2 */\n")),
    ("kernel: sys: comment", _append("kernel/sys.c", "/* bisect-test 3 */\n")),
    ("mm: filemap: comment", _append("mm/filemap.c", "/* bisect-test 4 */\n")),
    ("btrfs: ulist: comment", _append("fs/btrfs/ulist.c", "/* bisect-test 5 */\n")),
    ("lib: comment", _append("lib/string.c", "/* bisect-test 6 */\n")),
    ("Documentation: more notes", _append("Documentation/filesystems/btrfs.rst",
                                          "\n.. bisect-test: note 7\n")),
    # the 8th of 17: git bisect's first midpoint, so the skip path is taken
    (BROKEN_SUBJECT, _append("fs/btrfs/props.c",
                             "#error bisect-test: this commit does not build\n")),
    ("btrfs: props: fix the build", _unbreak),
    (CULPRIT_SUBJECT, _revert_workaround),
    ("btrfs: props: another comment", _append("fs/btrfs/props.c", "/* bisect-test 11 */\n")),
    ("fs: read_write: comment", _append("fs/read_write.c", "/* bisect-test 12 */\n")),
    ("btrfs: ulist: another comment", _append("fs/btrfs/ulist.c", "/* bisect-test 13 */\n")),
    ("kernel: exit: comment", _append("kernel/exit.c", "/* bisect-test 14 */\n")),
    ("Documentation: last note", _append("Documentation/filesystems/btrfs.rst",
                                         "\n.. bisect-test: note 15\n")),
    ("lib: another comment", _append("lib/string.c", "/* bisect-test 16 */\n")),
    ("mm: filemap: another comment", _append("mm/filemap.c", "/* bisect-test 17 */\n")),
]


def git(repo: Path, *args: str, env: dict | None = None, check: bool = True) -> str:
    import os
    return subprocess.run(["git", *args], cwd=repo, check=check, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}).stdout.strip()


# A 4-commit history for plain `git bisect run harness run`: git's first
# midpoint of 4 is the 2nd commit, the one that does not build.
SHORT = [COMMITS[1], COMMITS[7], COMMITS[8], COMMITS[9]]


def make_history(repo: Path, commits=COMMITS, branch: str = BRANCH) -> tuple[str, str, str]:
    """(good, bad, culprit) commit ids on branch `branch` of `repo`."""
    git(repo, "bisect", "reset", check=False)     # none may be active
    git(repo, "checkout", "-q", "--force", "-B", branch, "variant/fixed")
    good = git(repo, "rev-parse", "HEAD")
    culprit = None
    for i, (subject, edit) in enumerate(commits):
        edit(repo)
        git(repo, "add", "-A")
        date = f"2024-09-{i + 1:02d}T12:00:00Z"
        git(repo, "commit", "-q", "-m", subject,
            env={**ENV, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date})
        if subject == CULPRIT_SUBJECT:
            culprit = git(repo, "rev-parse", "HEAD")
    return good, git(repo, "rev-parse", "HEAD"), culprit


def cleanup(repo: Path, branch: str = BRANCH) -> None:
    git(repo, "bisect", "reset", check=False)
    git(repo, "checkout", "-q", "--force", "--detach", "variant/fixed")
    git(repo, "branch", "-D", branch)
