"""Where the VMs run: the `Host` interface, and this machine as one.

Everything the rest of the harness needs of the machine that runs QEMU is a
method or a capability here (kirk's SUT: one interface, an implementation
per kind of host); nothing outside asks which host it has.  `LocalHost` is
this machine; `harness.remote.RemoteHost` is another one over SSH.

Capabilities:
    label            how results name the host ("local", "user@host:port")
    logs_writes      QEMU's blklogwrites log of a disk can be read back here
                     (the power-cut check replays it: only on this machine)
    kvm_device()     /dev/kvm can be opened (a reason to try KVM at all)
    boot_id()        the host's boot, to cache the accelerator probe per boot
"""
from __future__ import annotations

import os
from pathlib import Path

from harness import arch as archmod
from harness import proc
from harness.errors import HarnessError, InfraError

DISK_SIZE = "1G"


class Host:
    """The operations and capabilities of a machine that runs the VMs."""
    label = "?"
    logs_writes = False

    # -- capabilities
    def kvm_device(self) -> bool:
        return True                 # unknown: the boot probe decides

    def boot_id(self) -> str:
        try:
            return self.run("cat /proc/sys/kernel/random/boot_id").strip()
        except (OSError, InfraError):
            return "unknown"

    def runnable(self, workloads: list, asked: tuple[str, ...] = ()) -> list:
        """The workloads this host can run: one that needs its disk's write
        log read back (the power-cut check) runs only where QEMU writes the
        log here.  Such a workload asked for by name is one clear error;
        one that merely is in the matrix is left out, and `left_out` says
        why: its cells are INFRA, never silently gone."""
        if self.logs_writes:
            return list(workloads)
        logged = [w for w in workloads if w.log_writes]
        named = [w for w in logged if w.name in asked]
        if named:
            raise HarnessError(f"the {named[0].name} workload needs its write log here; it "
                               f"cannot run on {self.label} (leave it out with --workload)")
        return [w for w in workloads if not w.log_writes]

    def left_out(self, workloads: list) -> str | None:
        """Why runnable() leaves the power-cut workloads out (None: it keeps
        every one)."""
        if self.logs_writes or not any(w.log_writes for w in workloads):
            return None
        return (f"not run: its power-cut check reads the disk's write log, which QEMU writes "
                f"on {self.label}, out of this machine's reach")

    # -- files: a path QEMU on this host can open
    def remote_path(self, local: Path) -> str:
        raise NotImplementedError

    def put_kernel(self, kernel: Path) -> str:
        raise NotImplementedError

    def put_root(self, root: Path) -> str:
        raise NotImplementedError

    def make_disk(self, outdir: Path, name: str) -> str:
        raise NotImplementedError

    def remove(self, path: str) -> None:
        raise NotImplementedError

    def fsck(self, disk: str) -> str:
        """'' when `btrfs check --readonly` is clean, else its first complaint."""
        raise NotImplementedError

    # -- processes
    def run(self, command: str, timeout: float = 300.0, check: bool = True) -> str:
        raise NotImplementedError

    def spawn_console(self, cmd: list[str], logfile):
        raise NotImplementedError

    def kill_all(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Give back what the host holds for this run (nothing, here)."""


class LocalHost(Host):
    """This machine: files are where they are, QEMU runs as a child."""
    label = "local"
    logs_writes = True

    def kvm_device(self) -> bool:
        return os.access("/dev/kvm", os.R_OK | os.W_OK)

    def boot_id(self) -> str:
        try:
            return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        except OSError:
            return "unknown"

    def remote_path(self, local: Path) -> str:
        return str(local)

    def put_kernel(self, kernel: Path) -> str:
        return str(kernel)

    def put_root(self, root: Path) -> str:
        return str(root)

    def make_disk(self, outdir: Path, name: str) -> str:
        proc.require_tools("mkfs.btrfs")
        path = outdir / name
        path.unlink(missing_ok=True)
        proc.run(["truncate", "-s", DISK_SIZE, path], timeout=30)
        proc.run(["mkfs.btrfs", "-q", "-f", path], timeout=120, what="mkfs.btrfs")
        return str(path)

    def fsck(self, disk: str) -> str:
        cp = proc.run(["btrfs", "check", "--readonly", disk], timeout=300, check=False)
        if cp.returncode == 0:
            return ""
        lines = [ln for ln in (cp.stdout or "").splitlines() if ln.strip()]
        bad = [ln for ln in lines if "error" in ln.lower()]
        return (bad or lines or ["btrfs check failed"])[0][:200]

    def remove(self, path: str) -> None:
        Path(path).unlink(missing_ok=True)

    def spawn_console(self, cmd: list[str], logfile):
        proc.require_tools(archmod.get().qemu)
        return proc.spawn_console(cmd, logfile)

    def kill_all(self) -> None:
        proc.kill_all()


LOCAL = LocalHost()
