"""Out-of-tree kernel builds, one directory per (source commit, extra
patches, config) key, sharing one ccache.  A key that is already built is a
no-op; a new key is seeded from a finished build of the same tree and config
so that only the files that differ are recompiled."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from harness import arch as archmod
from harness import kconfig, lines, proc
from harness import source as sourcemod
from harness.cell import LEGACY_LINE     # stamps from before lines: all 5.10
from harness.errors import HarnessError, InfraError
from harness.paths import cache_dir, locked

BUILD_TOOLS = ("make", "gcc", "flex", "bison", "bc", "cpio", "perl", "ccache", "git", "lz4")
BUILD_TIMEOUT = 3600
STAMP = "harness-build.json"
DEFAULT_EXPECTED_UNITS = 1500     # compile units of a cold build, until measured
SEEDED_EXPECTED_UNITS = 40        # a seeded build recompiles a handful
BUILD_NICE = 19                   # make's niceness: the VMs beside it come first
COMPILE_RE = re.compile(r"^\s+(CC|AS|LD|AR|HOSTCC)\s")
# where a build's time goes: make's first line of each phase (kbuild's quiet
# output), in order; the stamp and the build log keep the seconds of each
LINK_RE = re.compile(r"^\s+LD\s+vmlinux\.o$")
IMAGE_RE = re.compile(r"^\s+[A-Z]+\s+" + re.escape(archmod.get().image_dir))  # vmlinux linked


@dataclass
class Build:
    variant: str
    key: str
    commit: str
    config_hash: str
    dir: Path
    seconds: float
    cached: bool
    units: int = 0
    line: str = ""
    root: str = "9p"            # how it boots its guest root (harness.guestroot.ROOTS)

    @property
    def bzimage(self) -> Path:
        return self.dir / archmod.get().image

    @property
    def log(self) -> Path:
        return self.dir / "harness-build.log"

    @property
    def vmlinux(self) -> Path:
        return self.dir / "vmlinux"

    def to_json(self) -> dict:
        d = asdict(self)
        d["dir"] = str(self.dir)
        return d


def build_key(source_label: str, commit: str, extra_hashes: list[str],
              config_hash: str) -> str:
    h = hashlib.sha256("\0".join([source_label, commit, config_hash, *extra_hashes]).encode())
    return h.hexdigest()[:16]


def _file_hash(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()[:16]


def builds_root() -> Path:
    env = os.environ.get("HARNESS_BUILDS")
    return Path(env).resolve() if env else cache_dir() / "builds"


def _read_stamp(d: Path) -> dict | None:
    try:
        return json.loads((d / STAMP).read_text())
    except (OSError, ValueError):
        return None


def _seed_from(root: Path, srctree: Path, config_hash: str, exclude: Path) -> Path | None:
    """The most recent finished build of the same tree and config."""
    best = None
    for d in root.iterdir() if root.exists() else []:
        st = _read_stamp(d)
        if d != exclude and st and st.get("srctree") == str(srctree) \
                and st.get("config_hash") == config_hash:
            if best is None or st.get("finished", 0) > best[0]:
                best = (st.get("finished", 0), d)
    return best[1] if best else None


class Progress:
    """Compile units done against the expected count, and elapsed time; a
    live bar on a terminal, a line every 15 s otherwise (CI logs)."""

    def __init__(self, label: str, expected: int):
        self.label, self.expected, self.done = label, max(expected, 1), 0
        self.start = time.monotonic()
        self.marks: dict[str, float] = {}
        self.last_print = 0.0
        self.tty = sys.stderr.isatty()
        self.bar = None
        if self.tty:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RP,
                                       TextColumn, TimeElapsedColumn)
            self.bar = RP(TextColumn("[bold]{task.description}"), BarColumn(),
                          MofNCompleteColumn(), TextColumn("files"),
                          TimeElapsedColumn(), transient=True)
            self.bar.start()
            self.task = self.bar.add_task(label, total=self.expected)

    def line(self, text: str) -> None:
        for phase, rx in (("link", LINK_RE), ("image", IMAGE_RE)):
            if phase not in self.marks and rx.match(text) and (
                    phase == "link" or "link" in self.marks):
                self.marks[phase] = time.monotonic()
        if COMPILE_RE.match(text):
            self.done += 1
            if self.bar:
                self.bar.update(self.task, completed=min(self.done, self.expected))
            elif time.monotonic() - self.last_print > 15:
                self.last_print = time.monotonic()
                print(f"  {self.label}: {self.done}/{self.expected} files, "
                      f"{time.monotonic() - self.start:.0f} s", file=sys.stderr, flush=True)

    def close(self) -> None:
        self.marks["end"] = time.monotonic()
        if self.bar:
            self.bar.stop()

    def phases(self) -> dict[str, float]:
        """Seconds spent compiling, linking vmlinux and making the bzImage."""
        edges = [("compile", self.start)] + sorted(
            ((k, t) for k, t in self.marks.items()), key=lambda kt: kt[1])
        return {name: round(edges[i + 1][1] - t, 1) for i, (name, t) in enumerate(edges[:-1])}


def make_env() -> dict:
    ccache = cache_dir() / "ccache"
    ccache.mkdir(parents=True, exist_ok=True)
    return {"CCACHE_DIR": os.environ.get("CCACHE_DIR", str(ccache)),
            "CCACHE_BASEDIR": str(cache_dir()),
            "CCACHE_MAXSIZE": os.environ.get("CCACHE_MAXSIZE", "5G"),
            # depend mode: no preprocessor run per compile (kbuild passes
            # -Wp,-MMD), which is most of ccache's cost on a cold build
            "CCACHE_DEPEND": "1",
            "KBUILD_BUILD_TIMESTAMP": "harness", "KBUILD_BUILD_USER": "harness",
            "KBUILD_BUILD_HOST": "harness", "LC_ALL": "C"}


def build(variant: sourcemod.Variant, fragments: list[Path] | None = None,
          jobs: int | None = None, progress=print) -> Build:
    """Build `variant`'s bzImage (or find it built).  Raises InfraError when
    the kernel does not build, HarnessError for bad input."""
    fragments = kconfig.for_line(fragments or kconfig.default_fragments(),
                                 variant.source.line)
    chash = kconfig.config_hash(fragments)
    kconfig.wanted(fragments)                       # bad fragment: fail early
    commit = sourcemod.commit_of(variant)
    cacheable = not commit.endswith("-dirty") and not commit.startswith("nogit-")
    key = build_key(str(variant.source.path), commit,
                    [_file_hash(p.path) for p in variant.extra], chash)
    root = builds_root()
    bdir = root / f"{variant.key}-{key}"
    stamp = _read_stamp(bdir)
    t0 = time.monotonic()
    if cacheable and stamp and stamp.get("key") == key and (bdir / archmod.get().image).exists():
        return Build(variant=variant.label, key=key, commit=stamp["commit"],
                     config_hash=chash, dir=bdir, seconds=time.monotonic() - t0, cached=True,
                     units=stamp.get("units", 0), line=variant.line, root=_root_kind(variant))

    proc.require_tools(*BUILD_TOOLS)
    proc.require_headers("/usr/include/libelf.h", "/usr/include/openssl/ssl.h")
    proc.require_space(root, 3, "a kernel build")
    lockdir = variant.source.path / ".git" if variant.source.is_git else cache_dir()
    # Every build of one config runs in the same place, `work`, and is then
    # renamed to its key directory: kbuild records absolute object paths (in
    # objtool's build, for one), so a tree copied elsewhere would rebuild
    # objtool and with it every object.
    work = root / f".work-{chash}"
    with locked(lockdir / "harness-build.lock"), \
            locked(root / f".work-{chash}.lock"):
        srctree = sourcemod.checkout(variant)
        if work.exists():
            shutil.rmtree(work)
        seed = None
        if bdir.exists():                      # an earlier, unfinished or stale build
            bdir.rename(work)
        else:
            seed = _seed_from(root, srctree, chash, bdir)
            if seed is not None:
                progress(f"{variant.label}: seeding build tree from {seed.name}")
                proc.run(["cp", "-a", "--reflink=auto", seed, work], timeout=900,
                         what="copying the seed build tree")
            else:
                work.mkdir(parents=True)
        inputs = kconfig.inputs_hash(srctree)
        seed_stamp = _read_stamp(work) if seed else None
        reuse = bool(seed_stamp) and seed_stamp.get("kconfig_inputs") == inputs
        (work / STAMP).unlink(missing_ok=True)
        try:
            rc, units, seconds, phases = _make(variant, srctree, work, fragments, jobs, progress,
                                       SEEDED_EXPECTED_UNITS if seed or (work / "vmlinux").exists()
                                       else _expected_units(root, chash, variant.line), t0,
                                       reuse_config=reuse)
            if rc == 0:
                st = {"key": key, "commit": variant.commit, "config_hash": chash,
                      "kconfig_inputs": inputs, "config_kept": reuse,
                      "srctree": str(srctree), "units": units, "seconds": seconds,
                      "phases": phases,
                      "finished": time.time(), "variant": variant.label,
                      "line": variant.line, "kind": variant.source.kind,
                      "cold": seed is None and units > SEEDED_EXPECTED_UNITS * 5}
                (work / STAMP).write_text(json.dumps(st, indent=1) + "\n")
        finally:
            work.rename(bdir)
        if rc != 0:
            tail = _first_error(bdir / "harness-build.log")
            if "No space left on device" in tail:
                raise HarnessError(f"disk full while building {variant.label}: {tail}; "
                                   "free space or set HARNESS_CACHE elsewhere")
            raise InfraError(f"build of {variant.label} failed (make exit {rc}): {tail}; "
                             f"log: {bdir / 'harness-build.log'}")
    _prune(root, keep=bdir)
    return Build(variant=variant.label, key=key, commit=variant.commit or commit,
                 config_hash=chash, dir=bdir, seconds=seconds, cached=False, units=units,
                 line=variant.line, root=_root_kind(variant))


def _root_kind(variant) -> str:
    """The guest root its line's kernels are configured for (kconfig.for_line
    merges that root's fragment): 9p for a tree of no known line."""
    line = variant.source.line
    return line.root if line is not None else "9p"


def _prune(root: Path, keep: Path) -> None:
    """Builds of the harness's own sources (every line's variants) stay: the
    newest per (line, variant, config); older ones of the same key go.
    Builds of user trees (a bisect makes one per step) are capped at
    HARNESS_KEEP_BUILDS (default 8), the least recently finished going first."""
    limit = int(os.environ.get("HARNESS_KEEP_BUILDS", "8"))
    done = sorted(((st.get("finished", 0), d, st) for d in root.iterdir()
                   if d.is_dir() and not d.name.startswith(".") and d != keep
                   and (st := _read_stamp(d))), key=lambda x: x[0], reverse=True)
    seen, user = set(), []
    for _, d, st in done:
        if st.get("kind", "tree") == "tree":
            user.append(d)
            continue
        k = (st.get("line"), st.get("variant"), st.get("config_hash"))
        if k in seen:
            shutil.rmtree(d, ignore_errors=True)
        seen.add(k)
    for d in user[max(0, limit - 1):]:
        shutil.rmtree(d, ignore_errors=True)


def _make(variant, srctree: Path, outdir: Path, fragments, jobs, progress, expected: int,
          t0: float, reuse_config: bool = False) -> tuple[int, int, float, dict]:
    """configure (or keep a seed's .config of the same inputs) + make bzImage
    in `outdir`; (exit code, units, seconds, seconds per phase)."""
    env = make_env()
    with open(outdir / "harness-build.log", "w") as log:
        log.write(f"# source {variant.source.label}\n# commit {variant.commit}\n")
        t_conf = time.monotonic()
        try:
            kconfig.configure(srctree, outdir, fragments, log, env, reuse=reuse_config)
        except HarnessError as e:
            raise InfraError(str(e)) from None
        phases = {"prepare": round(t_conf - t0, 1),
                  "configure": round(time.monotonic() - t_conf, 1)}
        progress(f"building {variant.label} ({(variant.commit or '')[:12]})")
        bar = Progress(f"build {variant.label}", expected)
        try:
            # nice: VMs run beside the builds (harness.matrix) and their
            # timing matters more than the build's (a race control stops
            # failing beside a make -j2 at the same priority)
            rc = proc.stream(["nice", "-n", str(BUILD_NICE), "make", "-C", srctree,
                              f"O={outdir}", f"-j{jobs or os.cpu_count() or 2}",
                              "CC=ccache gcc", archmod.get().make_target],
                             timeout=BUILD_TIMEOUT, env=env, log=log, on_line=bar.line)
        finally:
            bar.close()
        phases |= bar.phases()
        log.write("# seconds: " + ", ".join(f"{k} {v:g}" for k, v in phases.items()) + "\n")
    return rc, bar.done, time.monotonic() - t0, phases


def _expected_units(root: Path, chash: str, line: str) -> int:
    """Compile units to expect from a cold build of this line: its largest
    finished cold build with this config, else what the line's table
    measured for today's config (a fresh machine, or a config change: 7.2
    without a network stack compiles 7% less), else a finished build with
    another config, else a default (a tree of no known line)."""
    same, other = 0, 0
    for d in root.iterdir() if root.exists() else []:
        st = _read_stamp(d)
        if st and st.get("cold") and st.get("line", LEGACY_LINE) == line:
            if st.get("config_hash") == chash:
                same = max(same, st.get("units", 0))
            else:
                other = max(other, st.get("units", 0))
    return same or _table_units(line) or other or DEFAULT_EXPECTED_UNITS


def _table_units(line: str) -> int:
    known = lines.all_lines().get(line)
    return known.cold_units if known else 0


def _first_error(log_path: Path) -> str:
    text = log_path.read_text(errors="replace").splitlines()
    for ln in text:
        if re.search(r"(error:|Error \d|No space left)", ln):
            return ln.strip()[:300]
    return (text[-1].strip() if text else "no output")[:300]
