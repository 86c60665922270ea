"""Run the VMs on another (KVM) host over SSH, with paramiko.

The kernel image and guest-config/ go over SFTP into a private temporary
folder on the remote host; the test disk is made there with mkfs.btrfs; QEMU
runs there on a pty and its console streams back into the same monitor as a
local run.  On every exit path the remote QEMU is killed and the folder
removed.  The host key is checked against known_hosts; an unknown key is
refused unless the user explicitly accepts it."""
from __future__ import annotations

import os
import posixpath
import shlex
import socket
import stat
import time
from dataclasses import dataclass
from pathlib import Path

import paramiko

from harness.errors import HarnessError, InfraError
from harness import arch as archmod
from harness.host import DISK_SIZE, Host
from harness.proc import StreamedConsole

CONNECT_TIMEOUT = 20.0
COMMAND_TIMEOUT = 300.0


@dataclass
class Target:
    user: str
    host: str
    port: int = 22

    @classmethod
    def parse(cls, spec: str) -> "Target":
        user, _, hostport = spec.rpartition("@")
        host, colon, port = hostport.partition(":")
        if not host or (colon and not (port.isascii() and port.isdigit()
                                       and 1 <= int(port) <= 65535)):
            raise HarnessError(f"--remote {spec!r}: expected user@host[:port], "
                               "port a number from 1 to 65535")
        return cls(user or os.environ.get("USER", "root"), host, int(port or 22))


class RemoteConsole(StreamedConsole):
    """A QEMU on the remote host: the same read/send/alive/close as
    proc.Console; its console is streamed into the local log file."""

    def __init__(self, host: "RemoteHost", channel: paramiko.Channel, pid: int, logfile):
        self.host, self.channel, self.pid, self.logfile = host, channel, pid, logfile

    def _recv(self, timeout: float) -> bytes:
        end = time.monotonic() + timeout
        while not self.channel.recv_ready():
            if self.channel.exit_status_ready() or self.channel.closed:
                if not self.channel.recv_ready():
                    raise EOFError
            if time.monotonic() >= end:
                return b""
            time.sleep(0.02)
        data = self.channel.recv(65536)
        if not data:
            raise EOFError
        return data

    def send(self, data: bytes) -> None:
        try:
            self.channel.sendall(data)
        except (OSError, EOFError, paramiko.SSHException):
            pass

    def alive(self) -> bool:
        return not self.channel.exit_status_ready()

    def close(self):
        self.host.kill(self.pid)
        try:
            self.channel.close()
        except Exception:
            pass
        self.logfile.flush()
        return None


class RemoteHost(Host):
    """Another machine over SSH (harness.host.Host): its files are uploaded
    into a private folder, its QEMU runs on a pty.  The write log of a
    disk stays there, so the power-cut check cannot run with it."""
    logs_writes = False

    def __init__(self, target: Target, key_file: str | None = None,
                 known_hosts: str | None = None, accept_new_host_key: bool = False):
        self.target = target
        self.label = f"{target.user}@{target.host}:{target.port}"
        self.client = paramiko.SSHClient()
        if known_hosts:
            if not Path(known_hosts).exists():
                Path(known_hosts).touch(mode=0o600)
            self.client.load_host_keys(known_hosts)
        else:
            self.client.load_system_host_keys()
        self.client.set_missing_host_key_policy(
            paramiko.AutoAddPolicy() if accept_new_host_key else paramiko.RejectPolicy())
        try:
            self.client.connect(target.host, target.port, target.user, key_filename=key_file,
                                timeout=CONNECT_TIMEOUT, banner_timeout=CONNECT_TIMEOUT,
                                auth_timeout=CONNECT_TIMEOUT, look_for_keys=key_file is None,
                                allow_agent=key_file is None)
        except paramiko.SSHException as e:
            if "not found in known_hosts" in str(e):
                raise HarnessError(
                    f"host key of {target.host}:{target.port} is not known; add it to "
                    "known_hosts, or pass --accept-new-host-key to trust it") from None
            raise HarnessError(f"ssh {target.user}@{target.host}:{target.port}: {e}") from None
        except (OSError, socket.timeout) as e:
            raise HarnessError(f"ssh {target.user}@{target.host}:{target.port}: {e}") from None
        if accept_new_host_key and known_hosts:
            self.client.save_host_keys(known_hosts)
        self.sftp = self.client.open_sftp()
        self.pids: set[int] = set()
        self.kernels: dict[str, str] = {}
        self.tmp = self.run("mktemp -d /var/tmp/kdsync-remote.XXXXXX").strip()
        self.roots: dict[str, str] = {}

    # ----------------------------------------------------------- plumbing
    def run(self, command: str, timeout: float = COMMAND_TIMEOUT, check: bool = True) -> str:
        _, out, err = self.client.exec_command(command, timeout=timeout)
        text = out.read().decode(errors="replace")
        rc = out.channel.recv_exit_status()
        if check and rc != 0:
            raise InfraError(f"remote `{command[:60]}` failed (exit {rc}): "
                             f"{err.read().decode(errors='replace').strip()[:200]}")
        return text

    def put(self, local: Path, remote: str) -> str:
        self.sftp.put(str(local), remote)
        self.sftp.chmod(remote, stat.S_IMODE(local.stat().st_mode))
        return remote

    def put_tree(self, local: Path, remote: str) -> str:
        self.sftp.mkdir(remote)
        for p in sorted(local.iterdir()):
            if p.is_symlink():
                self.sftp.symlink(os.readlink(p), posixpath.join(remote, p.name))
            elif p.is_dir():
                self.put_tree(p, posixpath.join(remote, p.name))
            elif p.is_file():
                self.put(p, posixpath.join(remote, p.name))
        return remote

    def require(self, *tools: str) -> None:
        missing = [t for t in tools if not self.run(
            f"PATH=$PATH:/usr/sbin:/sbin command -v {shlex.quote(t)}", check=False).strip()]
        if missing:
            raise HarnessError(f"remote host {self.target.host} lacks {', '.join(missing)}")

    # ------------------------------------------------------------- the VM side
    def prepare(self) -> None:
        # QEMU, and btrfs-progs for the cells' fresh images; the guest's own
        # tools travel in its root (harness.guestroot)
        self.require(archmod.get().qemu, "mkfs.btrfs", "btrfs")

    def remote_path(self, local: Path) -> str:
        """A host-side file (the plan's disk) uploaded; its remote path."""
        dst = posixpath.join(self.tmp, "file-" + local.name)
        self.put(local, dst)
        return dst

    def put_root(self, root: Path) -> str:
        """Upload a packed guest root (harness.guestroot.ROOTS: a directory,
        or an initramfs file) once; its remote path."""
        if root.name not in self.roots:
            dst = posixpath.join(self.tmp, "root-" + root.name)
            self.roots[root.name] = (self.put_tree(root, dst) if root.is_dir()
                                     else self.put(root, dst))
        return self.roots[root.name]

    def put_kernel(self, kernel: Path) -> str:
        """Upload a kernel image once; later calls return the remote path."""
        key = str(kernel.resolve())
        if key not in self.kernels:
            dst = posixpath.join(self.tmp, f"bzImage-{len(self.kernels)}")
            self.put(kernel, dst)
            self.kernels[key] = dst
        return self.kernels[key]

    def make_disk(self, outdir: Path, name: str) -> str:
        path = posixpath.join(self.tmp, name)
        self.run(f"rm -f {path} && truncate -s {DISK_SIZE} {path} && "
                 f"PATH=$PATH:/usr/sbin:/sbin mkfs.btrfs -q -f {path}")
        return path

    def remove(self, path: str) -> None:
        if path.startswith(self.tmp + "/"):
            self.run(f"rm -f {shlex.quote(path)}", check=False)

    def fsck(self, disk: str) -> str:
        out = self.run(f"PATH=$PATH:/usr/sbin:/sbin btrfs check --readonly {disk} 2>&1; "
                       "echo rc=$?", check=False)
        if out.rstrip().endswith("rc=0"):
            return ""
        lines = [ln for ln in out.splitlines() if ln.strip() and not ln.startswith("rc=")]
        return ((lines or ["btrfs check failed"])[0])[:200]

    def spawn_console(self, cmd: list[str], logfile) -> RemoteConsole:
        chan = self.client.get_transport().open_session()
        chan.get_pty(width=250, height=50)
        # print QEMU's pid first, then become QEMU
        chan.exec_command("echo kdsync-pid=$$; exec " + " ".join(shlex.quote(c) for c in cmd))
        buf = b""
        end = time.monotonic() + CONNECT_TIMEOUT
        while b"\n" not in buf and time.monotonic() < end:
            if chan.recv_ready():
                buf += chan.recv(4096)
            else:
                time.sleep(0.02)
        line, _, rest = buf.partition(b"\n")
        if not line.strip().startswith(b"kdsync-pid="):
            raise InfraError(f"remote QEMU did not start: {buf[:200]!r}")
        pid = int(line.strip().split(b"=")[1])
        self.pids.add(pid)
        if rest:
            logfile.write(rest)
        return RemoteConsole(self, chan, pid, logfile)

    def kill(self, pid: int) -> None:
        self.run(f"kill -9 {pid} 2>/dev/null; true", check=False)
        self.pids.discard(pid)

    def kill_all(self) -> None:
        for pid in list(self.pids):
            self.kill(pid)

    def close(self) -> None:
        """Kill what we started and remove the temporary folder."""
        try:
            self.kill_all()
            if self.tmp.startswith("/var/tmp/kdsync-remote."):
                self.run(f"rm -rf {shlex.quote(self.tmp)}", check=False)
        finally:
            self.client.close()
