"""Kernel sources: Debian bullseye's linux-source-5.10 (the default), a local
tree, or a git URL + ref; and the variants (patch states) built from them.

For the default source the patch states are commits of a git repository in
the cache: ``variant/base`` (patches/ reverted), ``variant/workaround``
(0001 applied) and ``variant/fixed`` (0001+0002: byte for byte the shipped
source).  Commits are made with a fixed identity and date, so their ids are
the same on every machine and can be quoted in results and bug reports.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from harness import patches as patchmod
from harness import proc
from harness.errors import HarnessError
from harness.paths import PATCHES, cache_dir

DEBIAN_SUITE = "bullseye"
DEBIAN_PACKAGE = "linux-source-5.10"
DEBIAN_VERSION = os.environ.get("HARNESS_DEBIAN_VERSION", "5.10.223-1")
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"

# Reproducible commits: same tree + same identity and dates -> same ids.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "kdsync harness", "GIT_AUTHOR_EMAIL": "harness@localhost",
    "GIT_COMMITTER_NAME": "kdsync harness",
    "GIT_COMMITTER_EMAIL": "harness@localhost",
    "GIT_AUTHOR_DATE": "2024-08-10T00:00:00Z",
    "GIT_COMMITTER_DATE": "2024-08-10T00:00:00Z",
}
DEFAULT_VARIANTS = ("base", "workaround", "fixed", "nosync")
VARIANT_HELP = {
    "base": "both patches reverted: O_DIRECT|O_DSYNC deadlocks",
    "workaround": "0001 only: crash after a non-aligned O_DSYNC direct write",
    "fixed": "0001+0002, as shipped",
    "nosync": "workaround + patches/test-only: the async completion skips the sync",
    "tree": "the kernel tree as given",
}


@dataclass(frozen=True)
class Source:
    kind: str          # "debian", "tree" or "git"
    path: Path         # top of the kernel tree
    label: str         # what to show: "debian linux-source-5.10 5.10.223-1"

    @property
    def is_git(self) -> bool:
        return (self.path / ".git").exists()


@dataclass
class Variant:
    name: str
    source: Source
    ref: str | None = None                   # git ref to check out
    extra: tuple[patchmod.Patch, ...] = ()   # user --patch files on top
    commit: str | None = field(default=None)  # filled by checkout()

    @property
    def label(self) -> str:
        return self.name + (f"+{len(self.extra)}p" if self.extra else "")


# ------------------------------------------------------------------ helpers

@contextmanager
def locked(path: Path):
    """An exclusive lock so two harness runs never prepare one tree at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def git(repo: Path, *args: str, timeout: float = 600, **kw) -> str:
    return proc.run(["git", *args], cwd=repo, env=GIT_ENV, timeout=timeout,
                    **kw).stdout.strip()


def kernel_version(tree: Path) -> str:
    mk = tree / "Makefile"
    if not mk.is_file():
        raise HarnessError(f"{tree} is not a kernel tree (no Makefile); point "
                           "--kernel-tree / KERNEL_SRC at the top of a Linux source tree")
    head = mk.read_text(errors="replace")[:2000]
    vals = dict(re.findall(r"^(VERSION|PATCHLEVEL|SUBLEVEL) = (\d+)", head, re.M))
    if "VERSION" not in vals or not (tree / "scripts/kconfig/merge_config.sh").exists():
        raise HarnessError(f"{tree} is not a kernel tree (its Makefile has no VERSION, "
                           "or scripts/kconfig/merge_config.sh is missing); point "
                           "--kernel-tree / KERNEL_SRC at the top of a Linux source tree")
    return ".".join(vals.get(k, "0") for k in ("VERSION", "PATCHLEVEL", "SUBLEVEL"))


# ------------------------------------------------- the default: Debian source

def debian_mirror(sources_dir: Path = Path("/etc/apt")) -> str:
    """The Debian archive URI this machine's apt is configured with."""
    uris: list[tuple[str, str]] = []
    one_line = re.compile(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)")
    files = [sources_dir / "sources.list"] + sorted(
        (sources_dir / "sources.list.d").glob("*.list"))
    for f in files:
        if f.is_file():
            for ln in f.read_text(errors="replace").splitlines():
                m = one_line.match(ln.strip())
                if m:
                    uris.append((m.group(1), m.group(2)))
    for f in sorted((sources_dir / "sources.list.d").glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", f.read_text(errors="replace")):
            fields = {}
            for ln in stanza.splitlines():
                if ":" in ln and not ln.startswith((" ", "#")):
                    k, v = ln.split(":", 1)
                    fields[k.strip().lower()] = v.split()
            if "deb" in fields.get("types", []) and "no" not in fields.get("enabled", []):
                for uri in fields.get("uris", []):
                    for suite in fields.get("suites", []):
                        uris.append((uri, suite))
    for uri, suite in uris:
        # the main archive: a plain release suite (not -security/-updates)
        if "-" not in suite and "security" not in uri:
            return uri.rstrip("/")
    raise HarnessError("no Debian archive found in the apt sources (/etc/apt); the default "
                       "kernel source needs one — or use --kernel-tree PATH / --git-url URL")


def _download_deb(work: Path) -> Path:
    proc.require_tools("apt-get", "dpkg-deb", "tar", "xz")
    mirror = debian_mirror()
    (work / "lists/partial").mkdir(parents=True, exist_ok=True)
    (work / "cache/archives/partial").mkdir(parents=True, exist_ok=True)
    signed = f"[signed-by={KEYRING}] " if Path(KEYRING).exists() else ""
    (work / "sources.list").write_text(
        f"deb {signed}{mirror} {DEBIAN_SUITE} main\n")
    opts = ["-o", f"Dir::Etc::sourcelist={work / 'sources.list'}",
            "-o", "Dir::Etc::sourceparts=/dev/null",
            "-o", f"Dir::State::Lists={work / 'lists'}",
            "-o", f"Dir::Cache={work / 'cache'}",
            "-o", "APT::Sandbox::User=root" if os.geteuid() == 0 else "Debug::NoLocking=1",
            "-o", "Debug::NoLocking=1"]
    proc.run(["apt-get", "-q", "update", *opts], timeout=300,
             what=f"apt-get update for Debian {DEBIAN_SUITE}")
    dl = work / "dl"
    dl.mkdir(exist_ok=True)
    proc.run(["apt-get", "-q", "download", *opts,
              f"{DEBIAN_PACKAGE}={DEBIAN_VERSION}"], cwd=dl, timeout=1800,
             what=f"apt-get download {DEBIAN_PACKAGE}={DEBIAN_VERSION}")
    debs = sorted(dl.glob(f"{DEBIAN_PACKAGE}_*.deb"))
    if not debs:
        raise HarnessError(f"apt-get download left no {DEBIAN_PACKAGE} package in {dl}")
    return debs[-1]


def default_source(progress=print) -> Source:
    """The Debian source as a git repo with one commit per patch state."""
    root = cache_dir() / "src"
    name = f"linux-{DEBIAN_VERSION}-debian"
    repo = root / name
    ready = repo / ".git" / "harness-ready"
    label = f"debian {DEBIAN_PACKAGE} {DEBIAN_VERSION}"
    if ready.exists() and _has_tag(repo, "variant/nosync"):
        return Source("debian", repo, label)
    with locked(root / f".{name}.lock"):
        if ready.exists():
            _add_test_only_variant(repo)     # caches made before `nosync` existed
            return Source("debian", repo, label)
        proc.require_tools("git")
        proc.require_space(root, 6, "the kernel source")
        work = root / f".{name}.download"
        if repo.exists():
            shutil.rmtree(repo)
        deb = next(iter(sorted(work.glob(f"dl/{DEBIAN_PACKAGE}_*.deb"))), None) \
            if work.exists() else None
        if deb is None:
            progress(f"downloading {DEBIAN_PACKAGE} {DEBIAN_VERSION} from Debian {DEBIAN_SUITE}")
            deb = _download_deb(work)
        progress(f"unpacking {deb.name}")
        unpack = root / f".{name}.unpack"
        shutil.rmtree(unpack, ignore_errors=True)
        unpack.mkdir(parents=True)
        # the .deb holds usr/src/linux-source-5.10.tar.xz; unpack it straight
        proc.run(["sh", "-c", 'dpkg-deb --fsys-tarfile "$1" | tar -xO '
                  f"./usr/src/{DEBIAN_PACKAGE}.tar.xz | tar -xJ -C \"$2\"",
                  "sh", deb, unpack], timeout=900, what="unpacking the kernel source")
        tops = [p for p in unpack.iterdir() if p.is_dir()]
        if len(tops) != 1:
            raise HarnessError(f"unexpected layout in {deb.name}: {tops}")
        tops[0].rename(repo)
        shutil.rmtree(unpack, ignore_errors=True)
        kernel_version(repo)
        progress("recording patch states as git commits (variant/base, "
                 "variant/workaround, variant/fixed)")
        _make_variant_repo(repo, label)
        ready.write_text(git(repo, "rev-parse", "variant/fixed") + "\n")
        shutil.rmtree(work, ignore_errors=True)
    return Source("debian", repo, label)


def _make_variant_repo(repo: Path, label: str) -> None:
    series = patchmod.series()
    git(repo, "init", "-q")
    git(repo, "config", "core.autocrlf", "false")
    git(repo, "config", "gc.auto", "0")
    git(repo, "add", "-A", "-f", timeout=1800)
    shipped_tree = git(repo, "write-tree")
    for p in reversed(series):
        patchmod.apply(repo, p, reverse=True)
    git(repo, "add", "-A", "-f", timeout=1800)
    git(repo, "commit", "-q", "-m",
        f"{label} with {', '.join(p.name for p in series)} reverted")
    git(repo, "tag", "variant/base")
    for p, tag in zip(series, ("workaround", "fixed")):
        patchmod.commit_patch(repo, p, GIT_ENV)
        git(repo, "tag", f"variant/{tag}")
    if git(repo, "rev-parse", "variant/fixed^{tree}") != shipped_tree:
        raise HarnessError("applying patches/ to the reverted source did not give "
                           "back the shipped files; the series does not match the source")
    _add_test_only_variant(repo)


def _has_tag(repo: Path, tag: str) -> bool:
    return bool(git(repo, "tag", "-l", tag))


def _add_test_only_variant(repo: Path) -> None:
    """variant/nosync: workaround + patches/test-only/* (the data-loss bug
    the durability workload must catch), on a side branch."""
    if _has_tag(repo, "variant/nosync"):
        return
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "--force", "--detach", "variant/workaround")
    for p in sorted((PATCHES / "test-only").glob("*.patch")):
        patchmod.commit_patch(repo, patchmod.Patch(p), GIT_ENV)
    git(repo, "tag", "variant/nosync")
    git(repo, "checkout", "-q", "--force", "--detach", head)


# ----------------------------------------------------- other kinds of source

def local_tree(path: str | Path) -> Source:
    p = Path(path).expanduser().resolve()
    if not p.is_dir():
        raise HarnessError(f"--kernel-tree {path}: no such directory")
    version = kernel_version(p)
    return Source("tree", p, f"{p} ({version})")


def git_source(url: str, ref: str, progress=print) -> Source:
    proc.require_tools("git")
    key = hashlib.sha256(f"{url}\0{ref}".encode()).hexdigest()[:12]
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", ref)[:40]
    repo = cache_dir() / "src" / f"git-{safe}-{key}"
    ready = repo / ".git" / "harness-ready"
    if not ready.exists():
        with locked(cache_dir() / "src" / f".git-{key}.lock"):
            if not ready.exists():
                shutil.rmtree(repo, ignore_errors=True)
                proc.require_space(repo.parent, 6, "the kernel source")
                progress(f"cloning {url} at {ref} (shallow)")
                proc.run(["git", "clone", "-q", "--depth", "1", "--branch", ref,
                          url, repo], timeout=3600, what=f"git clone {url} {ref}")
                kernel_version(repo)
                _tag_variants_on_top(repo, progress)
                ready.write_text(ref + "\n")
    return Source("git", repo, f"{url} {ref}")


def _tag_variants_on_top(repo: Path, progress=print) -> None:
    """A tree that ships the series (5.10.y stable from 5.10.18 on) gets the
    same variants as the default source: `fixed` is the tree as cloned,
    `workaround` reverts 0002, `base` reverts 0001 on top, and `nosync` is
    `workaround` plus patches/test-only."""
    series = patchmod.series()
    try:
        patchmod.check(repo, series[-1], reverse=True)
    except HarnessError:
        progress("this tree does not carry patches/ (variants: the tree as it is)")
        return
    git(repo, "tag", "-f", "variant/fixed")
    for p, name in zip(reversed(series), ("workaround", "base")):
        patchmod.apply(repo, p, reverse=True)
        git(repo, "commit", "-q", "-a", "-m", f"Revert \"{p.subject}\" (harness variant {name})")
        git(repo, "tag", "-f", f"variant/{name}")
    _add_test_only_variant(repo)
    git(repo, "checkout", "-q", "--detach", "variant/fixed")


def resolve(kernel_tree: str | None = None, git_url: str | None = None,
            git_ref: str | None = None, progress=print) -> Source:
    kernel_tree = kernel_tree or os.environ.get("KERNEL_SRC")
    if kernel_tree and git_url:
        raise HarnessError("give either --kernel-tree/KERNEL_SRC or --git-url, not both")
    if git_url:
        if not git_ref:
            raise HarnessError("--git-url needs --git-ref (a tag or branch, e.g. v5.10.223)")
        return git_source(git_url, git_ref, progress)
    if kernel_tree:
        return local_tree(kernel_tree)
    return default_source(progress)


def has_variants(source: Source) -> bool:
    """Sources the harness prepared itself carry variant/* tags."""
    return source.kind in ("debian", "git") and bool(
        git(source.path, "tag", "-l", "variant/base"))


def variants_for(source: Source, names: list[str] | None,
                 extra: tuple[patchmod.Patch, ...] = ()) -> list[Variant]:
    if has_variants(source):
        names = names or list(DEFAULT_VARIANTS)
        bad = [n for n in names if n not in DEFAULT_VARIANTS]
        if bad:
            raise HarnessError(f"unknown variant {bad[0]!r}; choose from "
                               f"{', '.join(DEFAULT_VARIANTS)}")
        return [Variant(n, source, f"variant/{n}", extra) for n in names]
    if names and names != ["tree"]:
        raise HarnessError("variants base/workaround/fixed belong to the default source; "
                           "with --kernel-tree or --git-url the tree is built as it is "
                           "(add changes with --patch)")
    return [Variant("tree", source, None, extra)]


def commit_of(variant: Variant) -> str:
    """The commit the variant is built from (before any --patch), read without
    touching the work tree; a user's tree with local edits gets "-dirty"."""
    src = variant.source
    if not src.is_git:
        return "nogit-" + kernel_version(src.path)
    if variant.ref is not None:
        return git(src.path, "rev-parse", variant.ref)
    head = git(src.path, "rev-parse", "HEAD")
    dirty = git(src.path, "status", "--porcelain", "--untracked-files=no")
    return head + ("-dirty" if dirty else "")


def checkout(variant: Variant) -> Path:
    """Put the variant's tree in place; return it and set variant.commit."""
    src = variant.source
    if variant.ref is None:
        if variant.extra:
            raise HarnessError("--patch applies on top of the default source's variants "
                               "(base/workaround/fixed); in your own tree, commit the "
                               "patch there and build the tree as it is")
        variant.commit = commit_of(variant)
        return src.path
    with locked(src.path / ".git" / "harness-checkout.lock"):
        git(src.path, "checkout", "-q", "--force", "--detach", variant.ref)
        for p in variant.extra:
            patchmod.commit_patch(src.path, p, GIT_ENV)
        variant.commit = git(src.path, "rev-parse", "HEAD")
    return src.path
