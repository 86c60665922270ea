"""The Debian archive, for a line's `linux-source-X` package: `apt-get
download` through a private sources list that points the line's suite at
the mirror this machine's apt already uses, so the system's apt state is
untouched and no host name is written anywhere."""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

from harness import lines as linesmod
from harness import proc
from harness.errors import HarnessError
from harness.paths import cache_dir, locked

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
APT_LISTS_MAX_AGE = 6 * 3600      # refresh a suite's package lists after this long


def _apt_entries(sources_dir: Path) -> list[tuple[str, str]]:
    """(URI, suite) of every enabled deb entry in this machine's apt config."""
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
    return uris


def debian_mirror(sources_dir: Path = Path("/etc/apt"), suite: str = "bullseye") -> str:
    """The Debian archive URI this machine's apt uses for `suite`: the
    security archive for a -security suite, else the main archive."""
    security = suite.endswith("-security")
    for uri, s in _apt_entries(sources_dir):
        is_security = s.endswith("-security") or "security" in uri
        if security and is_security:
            return uri.rstrip("/")
        if not security and not is_security and "-" not in s:
            return uri.rstrip("/")
    kind = "security archive" if security else "Debian archive"
    raise HarnessError(f"no {kind} found in the apt sources (/etc/apt) for Debian {suite}; "
                       "the default kernel source needs one — or use --kernel-tree PATH / "
                       "--git-url URL")


class Apt:
    """apt-get/apt-cache with a private sources list for one suite."""

    def __init__(self, suite: str):
        self.suite = suite
        self.work = cache_dir() / "apt" / suite
        self.opts = ["-o", f"Dir::Etc::sourcelist={self.work / 'sources.list'}",
                     "-o", "Dir::Etc::sourceparts=/dev/null",
                     "-o", f"Dir::State::Lists={self.work / 'lists'}",
                     "-o", f"Dir::Cache={self.work / 'cache'}",
                     "-o", "Debug::NoLocking=1"]
        if os.geteuid() == 0:
            self.opts += ["-o", "APT::Sandbox::User=root"]

    def update(self, force: bool = False) -> None:
        # two fetches of one suite at once (6.1 and 6.12 share
        # bookworm-security; the test session fetches in the background,
        # harness.cli's fetch in the foreground) take turns on its state
        with locked(self.work.parent / f".{self.suite}.lock"):
            self._update(force)

    def _update(self, force: bool) -> None:
        stamp = self.work / "updated"
        if not force and stamp.exists() and time.time() - stamp.stat().st_mtime < APT_LISTS_MAX_AGE:
            return
        proc.require_tools("apt-get")
        (self.work / "lists/partial").mkdir(parents=True, exist_ok=True)
        (self.work / "cache/archives/partial").mkdir(parents=True, exist_ok=True)
        signed = f"[signed-by={KEYRING}] " if Path(KEYRING).exists() else ""
        (self.work / "sources.list").write_text(
            f"deb {signed}{debian_mirror(suite=self.suite)} {self.suite} main\n")
        proc.run(["apt-get", "-q", "update", *self.opts], timeout=300,
                 what=f"apt-get update for Debian {self.suite}")
        stamp.touch()

    def versions(self, package: str) -> list[str]:
        with locked(self.work.parent / f".{self.suite}.lock"):
            cp = proc.run(["apt-cache", *self.opts, "madison", package], timeout=120,
                          check=False)
        return [parts[1].strip() for ln in (cp.stdout or "").splitlines()
                if len(parts := ln.split("|")) >= 3]

    def download(self, package: str, version: str, dest: Path) -> Path:
        dest.mkdir(parents=True, exist_ok=True)
        with locked(self.work.parent / f".{self.suite}.lock"):
            proc.run(["apt-get", "-q", "download", *self.opts, f"{package}={version}"],
                     cwd=dest, timeout=1800, what=f"apt-get download {package}={version}")
        debs = sorted(dest.glob(f"{package}_*.deb"))
        if not debs:
            raise HarnessError(f"apt-get download left no {package} package in {dest}")
        return debs[-1]


def resolve_version(spec: linesmod.SourceSpec, pin: str | None = None) -> str:
    """The package version to use: the pin, the line's version, or (when the
    line follows its suite) the newest the suite ships today.  A version that
    has left the archive is one line naming what is there."""
    want = pin or spec.version
    apt = Apt(spec.suite)
    apt.update()
    have = apt.versions(spec.package)
    if want and want not in have:
        apt.update(force=True)
        have = apt.versions(spec.package)
    if not have:
        raise HarnessError(f"Debian {spec.suite} has no {spec.package} any more; use "
                           "--kernel-tree PATH or --git-url URL --git-ref REF")
    if not want:
        return have[0]
    if want not in have:
        raise HarnessError(f"{spec.package} {want} is no longer in Debian {spec.suite}; "
                           f"available: {', '.join(have[:6])} (pin one with --source-version)")
    return want
