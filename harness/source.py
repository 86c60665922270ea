"""Kernel sources and the variants (patch states) built from them.

A kernel line (harness/lines/*.toml) names its default source: a Debian
`linux-source-X` package of some suite (bullseye for 5.10, bookworm-security
for 6.1 and 6.12, unstable for 7.2, experimental for 7.3-rc), fetched by
harness.debian.  The source is unpacked into the cache and
committed as `shipped`; every variant of the line is a commit made from it
by reverting and applying the line's patch files, tagged `variant/NAME`.
Commits use a fixed identity and date, so their ids are the same on every
machine.  A git URL + ref gets the same variants on top of the cloned head
(a patch that no longer applies there is reported, never dropped); a local
tree is built as it is.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness import debian
from harness import lines as linesmod
from harness import patches as patchmod
from harness import proc
from harness.errors import HarnessError
from harness.paths import cache_dir, locked

# Reproducible commits: same tree + same identity and dates -> same ids.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "kdsync harness", "GIT_AUTHOR_EMAIL": "harness@localhost",
    "GIT_COMMITTER_NAME": "kdsync harness",
    "GIT_COMMITTER_EMAIL": "harness@localhost",
    "GIT_AUTHOR_DATE": "2024-08-10T00:00:00Z",
    "GIT_COMMITTER_DATE": "2024-08-10T00:00:00Z",
}
SHIPPED_TAG = "shipped"
VARIANTS_FILE = "harness-variants.json"
FETCH_FILE = "harness-fetch.json"          # how long the fetch that unpacked it took


@dataclass(frozen=True)
class Broken:
    """A variant whose patches did not apply on this source, and why."""
    variant: str
    why: str


@dataclass(frozen=True)
class Source:
    kind: str                  # "debian", "tree" or "git"
    path: Path                 # top of the kernel tree
    label: str                 # what to show: "debian linux-source-6.1 6.1.192-2"
    line: linesmod.Line | None = None
    version: str = ""          # the package version, or the tree's Makefile version
    broken: tuple[Broken, ...] = ()   # variants whose patches did not apply

    def broken_why(self, variant: str) -> str | None:
        """Why `variant` could not be made here (None: it could)."""
        return next((b.why for b in self.broken if b.variant == variant), None)

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
    def line(self) -> str:
        return self.source.line.name if self.source.line else "tree"

    @property
    def label(self) -> str:
        return self.name + (f"+{len(self.extra)}p" if self.extra else "")

    @property
    def key(self) -> str:
        """line/variant: unique across lines (build trees, logs, results)."""
        return f"{self.line}-{self.label}"


# ------------------------------------------------------------------ helpers

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


# ------------------------------------------------- Debian linux-source-X

def debian_source(line: linesmod.Line, pin: str | None = None, progress=print) -> Source:
    """A line's Debian source as a git repo: `shipped`, then one tagged
    commit per variant of the line.  The fetch that unpacked it writes its
    time to .git/harness-fetch.json (benchmarks/bench_ci.py reads it)."""
    t0 = time.monotonic()
    spec = line.source
    root = cache_dir() / "src"
    version = pin or spec.version or debian.resolve_version(spec)
    repo = root / f"{spec.package}_{version}"
    label = f"debian {spec.package} {version}"
    ready = repo / ".git" / "harness-ready"
    fetched = False
    if not ready.exists():
        with locked(root / f".{repo.name}.lock"):
            if not ready.exists():
                _unpack_debian(spec, version, repo, label, progress)
                fetched = True
    src = _with_variants(Source("debian", repo, label, line, version), progress)
    if fetched:
        (repo / ".git" / FETCH_FILE).write_text(json.dumps(
            {"line": line.name, "seconds": round(time.monotonic() - t0, 1),
             "finished": time.time()}) + "\n")
    return src


def _unpack_debian(spec: linesmod.SourceSpec, version: str, repo: Path, label: str,
                   progress) -> None:
    proc.require_tools("git", "dpkg-deb", "tar", "xz")
    root = repo.parent
    proc.require_space(root, 6, "the kernel source")
    dl = root / ".downloads"
    deb = next(iter(sorted(dl.glob(f"{spec.package}_{version.replace(':', '%3a')}_*.deb"))),
               None)
    if deb is None:
        debian.resolve_version(spec, version)  # a clear line if it left the archive
        progress(f"downloading {spec.package} {version} from Debian {spec.suite}")
        deb = debian.Apt(spec.suite).download(spec.package, version, dl)
    progress(f"unpacking {deb.name}")
    unpack = root / f".{repo.name}.unpack"
    shutil.rmtree(unpack, ignore_errors=True)
    shutil.rmtree(repo, ignore_errors=True)
    unpack.mkdir(parents=True)
    # the .deb holds usr/src/linux-source-X.tar.xz; unpack it straight
    proc.run(["sh", "-c", 'dpkg-deb --fsys-tarfile "$1" | tar -xO '
              f"./usr/src/{spec.package}.tar.xz | tar -xJ -C \"$2\"",
              "sh", deb, unpack], timeout=900, what="unpacking the kernel source")
    tops = [p for p in unpack.iterdir() if p.is_dir()]
    if len(tops) != 1:
        raise HarnessError(f"unexpected layout in {deb.name}: {tops}")
    tops[0].rename(repo)
    shutil.rmtree(unpack, ignore_errors=True)
    kernel_version(repo)
    progress(f"recording {label} as a git commit")
    git(repo, "init", "-q")
    git(repo, "config", "core.autocrlf", "false")
    git(repo, "config", "gc.auto", "0")
    # zlib level 1 for the ~90k loose objects of the tree: `git add` of 7.3
    # took 33 s instead of 48 s (18 instead of 34 CPU-s), for 10% more disk
    git(repo, "config", "core.looseCompression", "1")
    git(repo, "add", "-A", "-f", timeout=1800)
    git(repo, "commit", "-q", "-m", f"{label} as shipped", timeout=600)
    git(repo, "tag", "-f", SHIPPED_TAG)
    (repo / ".git" / "harness-ready").write_text(git(repo, "rev-parse", SHIPPED_TAG) + "\n")
    deb.unlink(missing_ok=True)


# ------------------------------------------------------------------ variants

def _digest(spec: linesmod.VariantSpec) -> str:
    h = hashlib.sha256()
    for tag, paths in (("revert", spec.revert), ("apply", spec.apply)):
        for p in paths:
            h.update(f"{tag}\0{p.name}\0".encode() + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _with_variants(src: Source, progress=print) -> Source:
    """Tag variant/NAME for every variant of the line, made from `shipped`
    (cached: a variant is remade only when its patch files change).  A
    variant whose patches do not apply is recorded in Source.broken."""
    line, repo = src.line, src.path
    state_file = repo / ".git" / VARIANTS_FILE
    broken = []
    with locked(repo / ".git" / "harness-variants.lock"):
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError):
            state = {}
        changed = False
        for spec in line.variants:
            d = _digest(spec)
            if state.get(spec.name, {}).get("digest") == d and _has_tag(repo, f"variant/{spec.name}"):
                if state[spec.name].get("broken"):
                    broken.append(Broken(spec.name, state[spec.name]["broken"]))
                continue
            # checkout() (a build's tree) takes turns with this on the work tree
            with locked(repo / ".git" / "harness-checkout.lock"):
                try:
                    commit = _make_variant(repo, spec)
                    state[spec.name] = {"digest": d, "commit": commit}
                except HarnessError as e:
                    git(repo, "am", "--abort", check=False)
                    state[spec.name] = {"digest": d, "broken": str(e)}
                    broken.append(Broken(spec.name, str(e)))
                    progress(f"{line.name} variant {spec.name}: {e}")
                changed = True
        if changed:
            with locked(repo / ".git" / "harness-checkout.lock"):
                git(repo, "checkout", "-q", "--force", "--detach", SHIPPED_TAG)
            state_file.write_text(json.dumps(state, indent=1) + "\n")
    return replace(src, broken=tuple(broken))


def _make_variant(repo: Path, spec: linesmod.VariantSpec) -> str:
    # what a fetch stopped half-way leaves (Ctrl-C, or the test session's
    # background fetch ended with the session): a `git am` under way, the
    # index lock of a killed git (both locks are held here: no git of ours
    # runs in this tree).  Never a broken variant for that.
    (repo / ".git" / "index.lock").unlink(missing_ok=True)
    if (repo / ".git" / "rebase-apply").exists():
        git(repo, "am", "--abort", check=False)
    git(repo, "checkout", "-q", "--force", "--detach", SHIPPED_TAG)
    for p in spec.revert:
        patch = patchmod.Patch(p)
        patchmod.apply(repo, patch, reverse=True)
        git(repo, "commit", "-q", "-a", "-m",
            f"Revert \"{patch.subject}\"\n\nharness variant {spec.name}: "
            f"{patch.upstream or patch.name} reverted")
    for p in spec.apply:
        patchmod.commit_patch(repo, patchmod.Patch(p), GIT_ENV)
    git(repo, "tag", "-f", f"variant/{spec.name}")
    return git(repo, "rev-parse", "HEAD")


def _has_tag(repo: Path, tag: str) -> bool:
    return bool(git(repo, "tag", "-l", tag))


# ----------------------------------------------------- other kinds of source

def local_tree(path: str | Path, line: linesmod.Line | None = None) -> Source:
    p = Path(path).expanduser().resolve()
    if not p.is_dir():
        raise HarnessError(f"--kernel-tree {path}: no such directory")
    version = kernel_version(p)
    return Source("tree", p, f"{p} ({version})", line, version)


def git_source(url: str, ref: str, line: linesmod.Line | None = None,
               progress=print) -> Source:
    """A shallow clone of `ref`; with a line, its variants on top of it."""
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
                git(repo, "tag", "-f", SHIPPED_TAG)
                ready.write_text(ref + "\n")
    version = kernel_version(repo)
    line = line or linesmod.for_version(version)
    head = git(repo, "rev-parse", "--short=12", SHIPPED_TAG)
    src = Source("git", repo, f"{url} {ref} ({head}, {version})", line, version)
    if line is None:
        progress(f"{version} belongs to no kernel line of the harness: the tree as it is")
        return src
    return _with_variants(src, progress)


def resolve(kernel_tree: str | None = None, git_url: str | None = None,
            git_ref: str | None = None, line: linesmod.Line | None = None,
            pin: str | None = None, progress=print) -> Source:
    kernel_tree = kernel_tree or os.environ.get("KERNEL_SRC")
    if kernel_tree and git_url:
        raise HarnessError("give either --kernel-tree/KERNEL_SRC or --git-url, not both")
    if git_url:
        if not git_ref:
            raise HarnessError("--git-url needs --git-ref (a tag or branch, e.g. v5.10.223)")
        return git_source(git_url, git_ref, line, progress)
    if kernel_tree:
        src = local_tree(kernel_tree)
        return Source(src.kind, src.path, src.label,
                      line or linesmod.for_version(src.version), src.version)
    return debian_source(line or linesmod.get(linesmod.DEFAULT_LINE), pin, progress)


def has_variants(source: Source) -> bool:
    """Sources the harness prepared itself carry variant/* tags."""
    return source.kind in ("debian", "git") and source.line is not None and bool(
        git(source.path, "tag", "-l", "variant/*"))


def variants_for(source: Source, names: list[str] | None,
                 extra: tuple[patchmod.Patch, ...] = ()) -> list[Variant]:
    if has_variants(source):
        known = [v.name for v in source.line.variants]
        names = names or known
        bad = [n for n in names if n not in known]
        if bad:
            raise HarnessError(f"line {source.line.name} has no variant {bad[0]!r}; choose "
                               f"from {', '.join(known)}")
        return [Variant(n, source, f"variant/{n}", extra) for n in names]
    if names and names != ["tree"]:
        raise HarnessError("variants belong to the default sources (and --git-url trees of a "
                           "known line); with --kernel-tree the tree is built as it is "
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
            raise HarnessError("--patch applies on top of the default source's variants; "
                               "in your own tree, commit the patch there and build the "
                               "tree as it is")
        variant.commit = commit_of(variant)
        return src.path
    with locked(src.path / ".git" / "harness-checkout.lock"):
        git(src.path, "checkout", "-q", "--force", "--detach", variant.ref)
        for p in variant.extra:
            patchmod.commit_patch(src.path, p, GIT_ENV)
        variant.commit = git(src.path, "rev-parse", "HEAD")
    return src.path
