"""Kernel configuration: guest-config/kconfig/*.config fragments merged onto
`make tinyconfig` with the tree's own scripts/kconfig/merge_config.sh, then
`make olddefconfig`; afterwards every option a fragment asks for is checked
in .config, and a dropped one is an error naming its Kconfig dependency.

A build seeded from an earlier one whose Kconfig inputs (`inputs_hash`) and
fragments are the same keeps the seed's .config (after the same check):
the three configure runs cost ~8 s of a 20-60 s further variant, and their
output would be the same file."""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from harness import proc
from harness import arch as archmod
from harness.errors import HarnessError
from harness.paths import GUEST_CONFIG

BASE_TARGET = "tinyconfig"
OPTION_RE = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")
UNSET_RE = re.compile(r"^# (CONFIG_[A-Za-z0-9_]+) is not set$")


def default_fragments() -> list[Path]:
    """The shared fragments, then the architecture's (harness/arches/)."""
    return [*sorted((GUEST_CONFIG / "kconfig").glob("*.config")), archmod.get().fragment]


def for_line(fragments: list[Path], line) -> list[Path]:
    """`fragments` with the kernel line's own (its guest root's, then its
    table's [build] fragments: lines.Line.fragments) right after the shared
    ones, before any the user added."""
    extra = list(getattr(line, "fragments", ()) or ())
    if not extra:
        return list(fragments)
    shared = set(default_fragments())
    n = next((i for i, f in enumerate(fragments) if f not in shared), len(fragments))
    return [*fragments[:n], *[f for f in extra if f not in fragments], *fragments[n:]]


def parse(text: str) -> dict[str, str]:
    """Options of a fragment or .config: name -> value ('n' when unset)."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        m = OPTION_RE.match(line)
        if m:
            out[m.group(1)] = m.group(2).strip('"') if m.group(2).startswith('"') else m.group(2)
            continue
        m = UNSET_RE.match(line)
        if m:
            out[m.group(1)] = "n"
    return out


def wanted(fragments: list[Path]) -> dict[str, str]:
    """What the fragments ask for; a later fragment overrides an earlier one."""
    want: dict[str, str] = {}
    for f in fragments:
        if not f.is_file():
            raise HarnessError(f"config fragment {f}: no such file")
        want.update(parse(f.read_text()))
    return want


def config_hash(fragments: list[Path], arch: str | None = None) -> str:
    h = hashlib.sha256(f"{BASE_TARGET}\0{arch or archmod.get().name}\0".encode())
    for f in fragments:
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


# what the configure step reads besides the fragments: every Kconfig file,
# the kconfig tool and the base target's own fragments
_KCONFIG_DIRS = ("scripts/kconfig", "kernel/configs", archmod.get().config_dir)


def inputs_hash(srctree: Path) -> str:
    """A hash of what `configure` reads from the tree: equal hashes (and equal
    fragments) give the same .config.  The compiler is not in it: when
    CC_VERSION_TEXT changes, kbuild re-syncs .config itself at `make`."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(srctree):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel = os.path.relpath(dirpath, srctree)
        keep_all = rel in _KCONFIG_DIRS
        for fn in sorted(filenames):
            if keep_all or fn.startswith("Kconfig") or (rel == "." and fn == "Makefile"):
                path = os.path.join(dirpath, fn)
                try:
                    data = Path(path).read_bytes()
                except OSError:
                    continue
                h.update(f"{rel}/{fn}\0".encode() + data + b"\0")
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Mismatch:
    option: str
    want: str
    got: str          # "n" when absent from .config

    def describe(self, srctree: Path | None = None) -> str:
        what = "was dropped (now unset)" if self.got == "n" else f"is {self.got}"
        text = f"{self.option}={self.want} {what}"
        if srctree is not None:
            text += "; " + dependency_hint(srctree, self.option)
        return text


def verify(config_text: str, want: dict[str, str]) -> list[Mismatch]:
    have = parse(config_text)
    return [Mismatch(k, v, have.get(k, "n")) for k, v in want.items()
            if have.get(k, "n") != v]


def find_symbol(srctree: Path, option: str) -> tuple[Path, list[str], list[str]] | None:
    """(Kconfig file, its 'depends on' lines, 'SYM (file)' that select it)."""
    name = option.removeprefix("CONFIG_")
    start = re.compile(rf"^\s*(menu)?config\s+{re.escape(name)}\s*$")
    select = re.compile(rf"^\s*select\s+{re.escape(name)}\b(.*)$")
    found, selectors = None, []
    for dirpath, dirnames, filenames in os.walk(srctree):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for fn in filenames:
            if not fn.startswith("Kconfig"):
                continue
            path = Path(dirpath) / fn
            lines = path.read_text(errors="replace").splitlines()
            owner = None
            for i, line in enumerate(lines):
                m = re.match(r"^\s*(?:menu)?config\s+(\w+)", line)
                if m:
                    owner = m.group(1)
                sm = select.match(line)
                if sm and owner:
                    cond = sm.group(1).strip()
                    selectors.append(f"{owner}{' ' + cond if cond else ''} "
                                     f"({path.relative_to(srctree)})")
                if found is None and start.match(line):
                    deps = []
                    for nxt in lines[i + 1:]:
                        s = nxt.strip()
                        if re.match(r"^(menu)?config\s|^(end)?(menu|choice|if)\b|^source\s", s):
                            break
                        if s.startswith("depends on"):
                            deps.append(s[len("depends on"):].strip())
                    found = (path.relative_to(srctree), deps)
    return None if found is None else (*found, selectors)


def dependency_hint(srctree: Path, option: str) -> str:
    found = find_symbol(srctree, option)
    if found is None:
        return "no such option in this tree's Kconfig"
    path, deps, selectors = found
    if deps:
        text = f"it depends on {' && '.join(f'({d})' if '||' in d else d for d in deps)} ({path})"
    else:
        text = f"see {path} (no direct 'depends on'; check its menu/choice)"
    if selectors:
        text += f"; selected by {', '.join(selectors[:3])}"
    return text


def configure(srctree: Path, outdir: Path, fragments: list[Path], log: IO[str],
              make_env: dict, reuse: bool = False) -> str:
    """Write outdir/.config; return its text, or raise naming what was lost.
    `reuse`: outdir/.config came from the same inputs (see inputs_hash): keep it."""
    outdir.mkdir(parents=True, exist_ok=True)
    if reuse and (outdir / ".config").is_file():
        log.write("# .config kept from the seed build (same Kconfig inputs and fragments)\n")
        return _checked(srctree, (outdir / ".config").read_text(), fragments)
    make = ["make", "-C", srctree, f"O={outdir}"]
    proc.run(make + [BASE_TARGET], log=log, timeout=600, env=make_env,
             what=f"make {BASE_TARGET}")
    proc.run([srctree / "scripts/kconfig/merge_config.sh", "-m", "-O", outdir,
              outdir / ".config", *fragments], cwd=srctree, log=log,
             timeout=300, env=make_env, what="merge_config.sh")
    proc.run(make + ["olddefconfig"], log=log, timeout=600, env=make_env,
             what="make olddefconfig")
    return _checked(srctree, (outdir / ".config").read_text(), fragments)


def _checked(srctree: Path, text: str, fragments: list[Path]) -> str:
    bad = verify(text, wanted(fragments))
    if bad:
        first = bad[0].describe(srctree)
        more = f" (and {len(bad) - 1} more: {', '.join(m.option for m in bad[1:])})" \
            if len(bad) > 1 else ""
        raise HarnessError(f"kconfig: {first}{more}")
    return text
