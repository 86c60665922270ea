"""Patch series: read a series file (patches/5.10/series), apply or revert a patch on a tree, and
say exactly which file and hunk failed when one does not apply."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harness import proc
from harness.errors import HarnessError
from harness.paths import PATCHES

HUNK_RE = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@(.*)$")
FAIL_RE = re.compile(r"^error: patch failed: (.+):(\d+)$", re.M)
MISSING_RE = re.compile(r"^error: (.+): (No such file or directory|does not exist in index)$", re.M)


@dataclass(frozen=True)
class Patch:
    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def subject(self) -> str:
        text = self.path.read_text(errors="replace")
        m = re.search(r"^Subject: (?:\[PATCH[^\]]*\] )?(.*(?:\n .*)*)", text, re.M)
        return " ".join(m.group(1).split()) if m else self.path.stem

    @property
    def upstream(self) -> str | None:
        """The upstream commit id of a format-patch file ("From <sha> ...")."""
        m = re.match(r"From ([0-9a-f]{40}) ", self.path.read_text(errors="replace")[:60])
        return m.group(1) if m else None

    def hunks(self) -> list[tuple[str, int, int, str]]:
        """(file, old_start, new_start, header) for every hunk, in order."""
        out, current = [], None
        for line in self.path.read_text(errors="replace").splitlines():
            if line.startswith("+++ "):
                current = line[4:].split("\t")[0]
                current = current[2:] if current.startswith("b/") else current
            m = HUNK_RE.match(line)
            if m and current:
                out.append((current, int(m.group(1)), int(m.group(2)), m.group(0)))
        return out


def series(directory: Path = PATCHES / "5.10") -> list[Patch]:
    names = [ln.split("#")[0].strip()
             for ln in (directory / "series").read_text().splitlines()]
    return [Patch(directory / n) for n in names if n]


def user_patch(path: str | Path) -> Patch:
    p = Path(path).expanduser().resolve()
    if not p.is_file():
        raise HarnessError(f"--patch {path}: no such file")
    if not Patch(p).hunks():
        raise HarnessError(f"--patch {path}: not a patch (no unified-diff hunks found)")
    return Patch(p)


def explain_failure(patch: Patch, output: str, reverse: bool) -> str:
    """Turn `git apply` errors into 'file, hunk #N (@@ ... @@)'."""
    m = FAIL_RE.search(output)
    if m:
        fname, line = m.group(1), int(m.group(2))
        hunks = [h for h in patch.hunks() if h[0] == fname]
        for i, (f, old, new, header) in enumerate(hunks, 1):
            if (new if reverse else old) == line:
                return f"{fname} hunk #{i} ({header.split(' @@')[0]} @@) does not apply"
        return f"{fname} at line {line} does not apply"
    m = MISSING_RE.search(output)
    if m:
        return f"{m.group(1)} does not exist in the tree"
    return output.strip().splitlines()[-1] if output.strip() else "git apply failed"


def _git_apply(reverse: bool) -> list[str]:
    return ["git", "apply", "--whitespace=nowarn"] + (["-R"] if reverse else [])


def check(tree: Path, patch: Patch, reverse: bool = False) -> None:
    """Raise a one-line HarnessError unless `patch` applies (or reverts)."""
    cp = proc.run(_git_apply(reverse) + ["--check", patch.path], cwd=tree,
                  timeout=120, check=False)
    if cp.returncode != 0:
        verb = "be reverted from" if reverse else "apply to"
        raise HarnessError(f"patch {patch.name} does not {verb} {tree}: "
                           f"{explain_failure(patch, cp.stdout or '', reverse)}")


def apply(tree: Path, patch: Patch, reverse: bool = False) -> None:
    """Apply (or revert) `patch` to the files of `tree`, all or nothing."""
    check(tree, patch, reverse)
    proc.run(_git_apply(reverse) + [patch.path], cwd=tree, timeout=120,
             what=f"git apply {patch.name}")


def commit_patch(repo: Path, patch: Patch, env: dict) -> str:
    """Apply `patch` as a commit (git am keeps its author, date and message;
    a plain diff is committed under its file name).  Returns the commit id."""
    check(repo, patch)
    text = patch.path.read_text(errors="replace")
    if text.startswith("From ") and "\nSubject:" in text:
        proc.run(["git", "am", "-q", "--keep-cr", patch.path], cwd=repo,
                 env=env, timeout=300, what=f"git am {patch.name}")
    else:
        apply(repo, patch)
        proc.run(["git", "add", "-A"], cwd=repo, timeout=600)
        proc.run(["git", "commit", "-q", "-m", f"apply {patch.name}"],
                 cwd=repo, env=env, timeout=300)
    return proc.run(["git", "rev-parse", "HEAD"], cwd=repo,
                    timeout=30).stdout.strip()
