"""Every subprocess the harness starts goes through here, with one timeout
policy: each call names a deadline in seconds, and a process that is still
running at its deadline (or when the harness exits, is interrupted, or is
killed) is ended.  QEMU is spawned on a pty through pexpect so the console
can be streamed; it gets PR_SET_PDEATHSIG so that even a SIGKILLed harness
takes its VMs with it.
"""
from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import sys
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Sequence

import pexpect

from harness.errors import HarnessError

# host tool -> Debian package that provides it
TOOL_PACKAGES = {
    "make": "make", "gcc": "gcc", "flex": "flex", "bison": "bison",
    "bc": "bc", "cpio": "cpio", "ccache": "ccache", "git": "git",
    "xz": "xz-utils", "lz4": "lz4", "tar": "tar", "dpkg-deb": "dpkg",
    "apt-get": "apt", "perl": "perl",
    "qemu-system-x86_64": "qemu-system-x86", "mkfs.btrfs": "btrfs-progs",
    "btrfs": "btrfs-progs", "fio": "fio", "xfs_io": "xfsprogs",
    "addr2line": "binutils", "nm": "binutils",
}
# headers the kernel build needs: path -> Debian package
HEADER_PACKAGES = {
    "/usr/include/libelf.h": "libelf-dev",
    "/usr/include/openssl/ssl.h": "libssl-dev",
}


def qemu_opt(value: str) -> str:
    """A value inside a QEMU -opt list (a path in `file=...,`): commas doubled."""
    return value.replace(",", ",,")


def which(tool: str) -> str | None:
    return shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


def venv_bin(tool: str) -> str:
    """A tool the project's venv installs (`make setup`): next to this Python."""
    here = Path(sys.executable).parent / tool
    found = str(here) if here.exists() else which(tool)
    if not found:
        raise HarnessError(f"{tool} is not installed; run `make setup` (it comes from "
                           "requirements.txt)")
    return found


def require_tools(*tools: str) -> None:
    missing = [t for t in tools if which(t) is None]
    if missing:
        pkgs = sorted({TOOL_PACKAGES.get(t, t) for t in missing})
        raise HarnessError(
            f"missing host tool(s): {', '.join(missing)}; install the Debian "
            f"package(s) {' '.join(pkgs)} (or run `make setup`)")


def require_headers(*headers: str) -> None:
    missing = [h for h in headers if not Path(h).exists()]
    if missing:
        pkgs = sorted(HEADER_PACKAGES.get(h, h) for h in missing)
        raise HarnessError(
            f"missing build headers {', '.join(missing)}; install the Debian "
            f"package(s) {' '.join(pkgs)} (or run `make setup`)")


def require_space(path: Path, gib: float, what: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(path).free / 2**30
    if free < gib:
        raise HarnessError(
            f"not enough disk space for {what}: {free:.1f} GiB free in {path}, "
            f"need {gib:.0f} GiB; free some space or set HARNESS_CACHE elsewhere")


def run(cmd: Sequence[str | os.PathLike], *, timeout: float, cwd=None,
        env: dict | None = None, log: IO[str] | None = None,
        input: str | None = None, what: str | None = None,
        check: bool = True, merge_stderr: bool = True) -> subprocess.CompletedProcess:
    """Run a command to completion within `timeout` seconds.

    Output is captured (or streamed to `log`).  A non-zero exit raises a
    HarnessError naming `what` and the last lines of output."""
    cmd = [str(c) for c in cmd]
    full_env = None if env is None else {**os.environ, **env}
    try:
        cp = subprocess.run(
            cmd, cwd=cwd, env=full_env, input=input, text=True,
            stdout=log if log is not None else subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE, timeout=timeout,
            errors="replace")
    except subprocess.TimeoutExpired:
        raise HarnessError(f"{what or cmd[0]} timed out after {timeout:.0f} s")
    except FileNotFoundError:
        require_tools(cmd[0])
        raise
    if check and cp.returncode != 0:
        out = (cp.stdout or "") + (cp.stderr or "")
        tail = " | ".join(out.strip().splitlines()[-3:])
        raise HarnessError(f"{what or ' '.join(cmd[:3])} failed "
                           f"(exit {cp.returncode}){': ' + tail if tail else ''}")
    return cp


def stream(cmd: Sequence[str | os.PathLike], *, timeout: float, cwd=None,
           env: dict | None = None, log: IO[str], on_line=None) -> int:
    """Run a command, writing each output line to `log` as it arrives and
    passing it to `on_line`.  Returns the exit code; ends it at `timeout`."""
    cmd = [str(c) for c in cmd]
    full_env = None if env is None else {**os.environ, **env}
    deadline = time.monotonic() + timeout
    p = subprocess.Popen(cmd, cwd=cwd, env=full_env, text=True, bufsize=1,
                         errors="replace", stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _register(p.pid)
        assert p.stdout is not None
        for line in p.stdout:
            log.write(line)
            log.flush()
            if on_line:
                on_line(line)
            if time.monotonic() > deadline:
                raise HarnessError(f"{cmd[0]} timed out after {timeout:.0f} s")
        return p.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        log.flush()
        _kill_group(p.pid)
        p.wait()
        _LIVE.discard(p.pid)


# ---------------------------------------------------------------- QEMU & co.

_LIVE: set[int] = set()
PR_SET_PDEATHSIG = 1
# set by SIGTERM/SIGHUP: VMs run on worker threads, and one that was between
# two VMs (a cell's write phase and its power-cut check VM) would otherwise
# start the next after kill_all() ended the others, and outlive the harness
_STOPPING = threading.Event()
_LIVE_LOCK = threading.RLock()      # re-entrant: the signal handler may
                                    # interrupt the main thread holding it


def _register(pid: int) -> None:
    """Track a new process group; once stopping, end it at once instead."""
    with _LIVE_LOCK:
        if not _STOPPING.is_set():
            _LIVE.add(pid)
            return
    _kill_group(pid)
    raise KeyboardInterrupt("the harness is stopping: no new VM or command")


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def _kill_group(pid: int) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        if sig == signal.SIGTERM:
            time.sleep(0.2)


def kill_all() -> None:
    with _LIVE_LOCK:
        pids = list(_LIVE)
    for pid in pids:
        _kill_group(pid)
        _LIVE.discard(pid)


atexit.register(kill_all)


def _on_sigterm(signum, frame):
    _STOPPING.set()
    kill_all()
    raise KeyboardInterrupt(f"signal {signum}")


def install_signal_handlers() -> None:
    """SIGTERM/SIGHUP end the VMs and unwind like Ctrl-C does."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_sigterm)


class StreamedConsole:
    """A VM console whose output is appended to `logfile` as it arrives, so
    nothing is lost if the harness dies.  Subclasses say how to receive."""
    logfile: IO[bytes]

    def read(self, timeout: float) -> bytes:
        """Whatever arrived within `timeout` seconds (b"" if nothing); raises
        EOFError when the VM has gone and everything was read."""
        data = self._recv(timeout)
        if data:
            self.logfile.write(data)
            self.logfile.flush()
        return data

    def _recv(self, timeout: float) -> bytes:
        raise NotImplementedError


@dataclass
class Console(StreamedConsole):
    """A local child (QEMU) on a pty."""
    child: pexpect.spawn
    logfile: IO[bytes]

    @property
    def pid(self) -> int:
        return self.child.pid

    def _recv(self, timeout: float) -> bytes:
        try:
            return self.child.read_nonblocking(65536, timeout=timeout)
        except pexpect.TIMEOUT:
            return b""
        except pexpect.EOF:
            raise EOFError

    def send(self, data: bytes) -> None:
        try:
            self.child.send(data)
        except OSError:
            pass

    def alive(self) -> bool:
        return self.child.isalive()

    def close(self) -> int | None:
        """End the child (if still running) and return its exit status."""
        if self.child.isalive():
            _kill_group(self.child.pid)
        try:
            self.child.close(force=True)
        except Exception:
            pass
        _LIVE.discard(self.child.pid)
        self.logfile.flush()
        return self.child.exitstatus


def spawn_console(cmd: Sequence[str], logfile: IO[bytes], env=None) -> Console:
    cmd = [str(c) for c in cmd]

    # ptyprocess already makes the child a session (and group) leader.
    child = pexpect.spawn(cmd[0], cmd[1:], env=env, echo=False,
                          preexec_fn=_die_with_parent, dimensions=(50, 250))
    try:
        _register(child.pid)
    except KeyboardInterrupt:
        child.close(force=True)
        raise
    return Console(child, logfile)
