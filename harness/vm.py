"""Boot a kernel in QEMU with the host root over virtio-9p (read-only) and a
fresh btrfs image as virtio-blk (format=raw, cache=none); stream the serial
console to disk and through the monitor; always end the VM.

Why QEMU directly and not virtme-ng: the test disk must be attached with
format=raw,cache=none (virtme-ng's --disk sets neither), the console must be
a raw serial line we can send a break + sysrq-w to, the guest's verdict has
to come from the console rather than a virtio-serial exit code, and the
accelerator must be chosen by a boot probe (virtme-ng only checks that
/dev/kvm exists, and on these hosts /dev/kvm cannot run ordinary kernels).
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness import proc
from harness.errors import InfraError
from harness.kernel_reports import Finding, parse, read_log
from harness.monitor import Monitor
from harness.paths import cache_dir
from harness.workload import GUEST_INIT, Workload

QEMU = "qemu-system-x86_64"
MEMORY_MB = 768
DISK_SIZE = "1G"
HUNG_TASK_SECS = 10          # the guest's hung_task_timeout_secs
HARD_DEADLINE = 240.0        # no VM runs longer than this, whatever happens
SYSRQ_CAPTURE = 2.0          # seconds of console kept after sysrq-w
PROBE_DEADLINE = 12.0


@dataclass
class VmRun:
    name: str
    accel: str
    console_log: Path
    disk: Path
    reason: str                      # done | report | no-progress | boot-timeout | deadline | eof
    times: dict
    rc: int | None
    done_rc: int | None
    errors: list
    findings: list[Finding] = field(default_factory=list)
    fsck: str | None = None          # None: not run; "" clean; else the complaint
    progress: int = 0
    tail: str = ""                   # last console lines, for boot failures


def cmdline(extra: list[str], init: str = str(GUEST_INIT)) -> str:
    return " ".join([
        "console=ttyS0", "loglevel=7", "panic=-1", "reboot=t",
        "root=/dev/root", "rootfstype=9p",
        "rootflags=trans=virtio,version=9p2000.L,cache=loose,msize=262144", "ro",
        f"init={init}", f"HARNESS_HUNG={HUNG_TASK_SECS}", *extra])


def qemu_command(kernel, disk, accel: str, extra: list[str],
                 init: str = str(GUEST_INIT), log_writes: str | None = None,
                 more_disks: tuple[str, ...] = ()) -> list[str]:
    """`disk` is the test disk (/dev/vda), raw, cache=none; with `log_writes`
    every write and flush to it is also recorded in that file by QEMU's
    blklogwrites driver (dm-log-writes format).  `more_disks` follow as
    /dev/vdb, /dev/vdc, ..."""
    cmd = [QEMU, "-nodefaults", "-no-reboot", "-display", "none",
           "-serial", "mon:stdio", "-m", str(MEMORY_MB), "-smp", "1",
           "-kernel", str(kernel), "-append", cmdline(extra, init),
           "-fsdev", "local,id=hostroot,path=/,security_model=none,readonly=on,"
                     "multidevs=remap",
           "-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=/dev/root",
           "-device", "virtio-rng-pci"]
    cmd += ["-accel", "kvm", "-cpu", "host"] if accel == "kvm" else ["-accel", "tcg"]
    if disk is not None and log_writes:
        cmd += ["-blockdev", f"driver=file,node-name=data0,filename={disk},cache.direct=on",
                "-blockdev", f"driver=file,node-name=log0,filename={log_writes}",
                "-blockdev", "driver=blklogwrites,node-name=testdisk,file=data0,log=log0,"
                             "log-sector-size=512,log-append=off",
                "-device", "virtio-blk-pci,drive=testdisk"]
    elif disk is not None:
        cmd += ["-drive", f"file={disk},if=none,id=testdisk,format=raw,cache=none",
                "-device", "virtio-blk-pci,drive=testdisk"]
    for i, d in enumerate(more_disks):
        cmd += ["-drive", f"file={d},if=none,id=disk{i + 1},format=raw,cache=none",
                "-device", f"virtio-blk-pci,drive=disk{i + 1}"]
    return cmd


class LocalHost:
    """Where the VMs run when they run here; harness.remote.RemoteHost is the
    same five operations over SSH."""

    def remote_path(self, local: Path) -> str:
        return str(local)

    def put_kernel(self, kernel: Path) -> str:
        return str(kernel)

    def make_disk(self, outdir: Path, name: str) -> str:
        proc.require_tools("mkfs.btrfs")
        path = outdir / name
        path.unlink(missing_ok=True)
        proc.run(["truncate", "-s", DISK_SIZE, path], timeout=30)
        proc.run(["mkfs.btrfs", "-q", "-f", path], timeout=120, what="mkfs.btrfs")
        return str(path)

    def fsck(self, disk: str) -> str:
        """'' when `btrfs check --readonly` is clean, else its first complaint."""
        cp = proc.run(["btrfs", "check", "--readonly", disk], timeout=300, check=False)
        if cp.returncode == 0:
            return ""
        lines = [ln for ln in (cp.stdout or "").splitlines() if ln.strip()]
        bad = [ln for ln in lines if "error" in ln.lower()]
        return (bad or lines or ["btrfs check failed"])[0][:200]

    def remove(self, path: str) -> None:
        Path(path).unlink(missing_ok=True)

    def spawn_console(self, cmd: list[str], logfile):
        proc.require_tools(QEMU)
        return proc.spawn_console(cmd, logfile)

    def kill_all(self) -> None:
        proc.kill_all()


LOCAL = LocalHost()


def run(name: str, kernel: Path, workload: Workload | None, outdir: Path, accel: str,
        hard_deadline: float = HARD_DEADLINE, keep_disk: bool = False,
        boot_deadline: float = 90.0, host=LOCAL, disk: str | None = None,
        log_writes: str | None = None, more_disks: tuple[str, ...] = ()) -> VmRun:
    """Boot `kernel`, run `workload`, return what happened.  The VM is ended
    on every path out of here (verdict, deadline, exception, Ctrl-C).
    Without `disk`, a fresh btrfs image is made (and checked and removed
    afterwards); a given `disk` is the caller's to keep."""
    if not kernel.exists():
        raise InfraError(f"no kernel image at {kernel}")
    outdir.mkdir(parents=True, exist_ok=True)
    own_disk = disk is None and workload is not None and not workload.nomount
    if own_disk:
        disk = host.make_disk(outdir, f"{name}.img")
    log_path = outdir / f"{name}.console.log"
    mon = Monitor(boot_deadline=boot_deadline,
                  progress_deadline=workload.progress_deadline if workload else 30.0)
    extra = workload.kernel_args(host.remote_path) if workload else ["HARNESS_WORKLOAD=probe"]
    reason = "deadline"
    cmd = qemu_command(host.put_kernel(kernel), disk, accel, extra,
                       host.remote_path(GUEST_INIT), log_writes, more_disks)
    with open(log_path, "wb") as log:
        console = host.spawn_console(cmd, log)
        start = time.monotonic()
        mon.start(start)
        try:
            while True:
                now = time.monotonic()
                if now - start > hard_deadline:
                    reason = "deadline"
                    break
                try:
                    data = console.read(0.1)
                except EOFError:
                    reason = "done" if "done" in mon.times else "eof"
                    break
                mon.feed(data, time.monotonic())
                why = mon.stop_reason(time.monotonic())
                if why == "done":
                    # the guest reboots itself; give it a moment to exit
                    _drain(console, mon, 5.0)
                    reason = "done"
                    break
                if why:
                    reason = why
                    break
            if reason in ("report", "no-progress", "deadline"):
                _sysrq_blocked(console, mon)
        finally:
            mon.times["end"] = time.monotonic() - start
            console.close()
            mon.close()
    text = read_log(log_path)
    findings = parse(text)
    tail = " | ".join(ln.strip() for ln in text.strip().splitlines()[-3:])[:300]
    run_ = VmRun(name, accel, log_path, Path(disk or ""), reason, mon.times, mon.rc,
                 mon.done_rc, mon.errors, findings, None, mon.progress, tail)
    if own_disk:
        if reason == "done" and not [f for f in findings if f.is_bug]:
            run_.fsck = host.fsck(disk)
        if not keep_disk and reason == "done" and run_.fsck == "":
            host.remove(disk)
    return run_


def _drain(console, mon: Monitor, seconds: float,
           quiet: float | None = None) -> None:
    """Keep reading for `seconds`, or until `quiet` seconds pass with no
    output once some has arrived."""
    end = time.monotonic() + seconds
    last, got = time.monotonic(), False
    while time.monotonic() < end:
        try:
            data = console.read(0.1)
        except EOFError:
            return
        now = time.monotonic()
        if data:
            last, got = now, True
            mon.feed(data, now)
        elif quiet is not None and got and now - last >= quiet:
            return


def _sysrq_blocked(console, mon: Monitor) -> None:
    """Serial break + 'w': the kernel dumps its blocked tasks to the log."""
    if not console.alive():
        return
    console.send(b"\x01b")          # QEMU mux escape: send a break
    time.sleep(0.3)
    console.send(b"w")
    _drain(console, mon, SYSRQ_CAPTURE, quiet=0.4)


# --------------------------------------------------------------- accelerator

def _boot_id(host=LOCAL) -> str:
    try:
        if host is not LOCAL:
            return host.run("cat /proc/sys/kernel/random/boot_id").strip()
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except (OSError, InfraError):
        return "unknown"


def choose_accel(kernel: Path, workdir: Path, progress=print, host=LOCAL) -> str:
    """'kvm' only if a probe boot under KVM reaches userspace in time.

    /dev/kvm existing is not enough (here it is a paravirtual KVM that
    cannot run ordinary kernels: QEMU fails at once or hangs silently), so
    the probe boots the real kernel with a deadline; the answer is cached
    for this host boot."""
    forced = os.environ.get("HARNESS_ACCEL")
    if forced in ("kvm", "tcg"):
        return forced
    if host is LOCAL and not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg"
    cache = cache_dir() / ("accel.json" if host is LOCAL else f"accel-{host.target.host}.json")
    try:
        saved = json.loads(cache.read_text())
        if saved.get("boot_id") == _boot_id(host):
            return saved["accel"]
    except (OSError, ValueError, KeyError):
        pass
    t0 = time.monotonic()
    r = run("kvm-probe", kernel, None, workdir, "kvm", hard_deadline=PROBE_DEADLINE,
            boot_deadline=PROBE_DEADLINE, host=host)
    accel = "kvm" if "booted" in r.times else "tcg"
    why = ("reached userspace" if accel == "kvm" else
           f"QEMU gave up: {r.tail[:120]}" if r.reason == "eof" else
           f"no userspace within {PROBE_DEADLINE:.0f} s")
    progress(f"KVM probe: {why} ({time.monotonic() - t0:.1f} s); using {accel}")
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"boot_id": _boot_id(host), "accel": accel}))
    return accel


def qemu_version() -> str:
    try:
        out = subprocess.run([QEMU, "--version"], capture_output=True, text=True,
                             timeout=10).stdout
        return out.splitlines()[0] if out else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"
