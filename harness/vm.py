"""Boot a kernel in QEMU and run a plan of cells in it: the harness-made
guest root (harness.guestroot) over virtio-9p, read-only; one fresh disk per
cell that needs one (virtio-blk as its disk kind says, harness.disks;
format=raw, cache=none, or through QEMU's blklogwrites driver), N CPUs
(`-smp N,sockets=N`: a tinyconfig guest finds its CPUs in the MP table,
which lists one processor per socket); stream the serial console to disk
and through the monitor; always end the VM.

Two runners start the VM (RUNNERS): QEMU directly (the default) and
virtme-ng (`--runner vng`).  Both get the same root, disks, CPUs and kernel
arguments, and their console goes through the same monitor.  Why QEMU is
the default: virtme-ng's --disk sets neither format=raw nor cache=none (the
disks go in as QEMU options instead), its console is a file, not a serial
line we can send a break + sysrq-w to, its exit code needs virtio-serial
(the verdict comes from the console either way), it only checks that
/dev/kvm exists (the accelerator comes from our boot probe), and its bash
init takes ~13 s under TCG (15.5 s to the first cell against 2.5 s).
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness import disks as disksmod, evidence, proc
from harness.errors import HarnessError, InfraError
from harness.kernel_reports import Finding, parse, read_log, untangle
from harness.monitor import Monitor
from harness import guestroot
from harness import arch as archmod
from harness.host import LOCAL
from harness.paths import GUEST_INIT, cache_dir

MEMORY_MB = 768
HUNG_TASK_SECS = 10          # the guest's hung_task_timeout_secs
HARD_DEADLINE = 240.0        # no VM runs longer than this (plus its cells' budget)
SYSRQ_CAPTURE = 2.0          # seconds of console kept after sysrq-w
PROBE_DEADLINE = 12.0
DEFAULT_CPUS = 2
PLAN_DISK_SIZE = 64 * 1024   # the plan's disk, /dev/vda


def dev_name(i: int, kinds: list[str] | None = None) -> str:
    """The guest device of the i-th disk given to run() (after the plan
    disk), the disks being of `kinds` (all the default kind if not given)."""
    return disksmod.guest_names(kinds or [disksmod.DEFAULT] * (i + 1))[i]
MAX_CPUS = 8                 # CONFIG_NR_CPUS of guest-config/kconfig/40-smp.config


@dataclass(frozen=True)
class Disk:
    path: str                        # on the host that runs QEMU
    log_writes: str | None = None    # record every write and flush here (blklogwrites)
    kind: str = disksmod.DEFAULT     # harness/disks/KIND.toml: how QEMU attaches it
    readonly: bool = False           # the guest reads it only (another VM's write log)


@dataclass
class VmRun:
    name: str
    accel: str
    console_log: Path
    reason: str                      # done | report | no-progress | boot-timeout | boot-hung |
                                     # deadline | eof
    times: dict                      # VM events, seconds since QEMU started
    cells: dict                      # cell name -> monitor.CellTimes
    findings: list[Finding] = field(default_factory=list)
    facts: evidence.GuestFacts = field(default_factory=evidence.GuestFacts)
    done_rc: int | None = None
    errors: list = field(default_factory=list)
    report_cell: str | None = None   # the cell the first report appeared in
    tail: str = ""                   # last console lines, for boot failures
    command: list = field(default_factory=list)
    text: str = ""                   # the whole console
    fault: str | None = None         # a harness fault (where, traceback): never a PASS

    @property
    def booted(self) -> bool:
        return "booted" in self.times

    def _starts(self) -> list[tuple[int, str]]:
        """(console line, cell) where each cell starts, in order: its
        kernel marker (kcell-start, through /dev/kmsg: the kernel's own order,
        which its reports share) where the guest wrote one, else the tty's
        cell-start."""
        return sorted((c.kstart if c.kstart is not None else c.first_line, n)
                      for n, c in self.cells.items())

    def cell_findings(self, name: str, plan: list[str]) -> list[Finding]:
        """The reports that belong to cell `name`: those the kernel logged
        after its start marker and before the next cell's (a report the
        kernel logged before the cell's kcell-end is the cell's, wherever
        the tty's markers landed); a report during boot belongs to the
        plan's first cell."""
        starts = self._starts()
        out = []
        for f in self.findings:
            owner = next((n for line, n in reversed(starts) if line <= f.first_line), None)
            if owner is None:
                owner = plan[0] if plan else None
            if owner == name:
                out.append(f)
        return out

    def cell_text(self, name: str) -> str:
        """The console of one cell: the boot, then its own lines, from its
        start marker to the next cell's (the VM's last cell keeps everything
        after it: the report, the sysrq dump)."""
        lines = self.text.split("\n")
        starts = self._starts()
        boot_end = (starts[0][0] - 1) if starts else len(lines)
        c = self.cells.get(name)
        if c is None:
            return "\n".join(lines[:boot_end])
        first = next(line for line, n in starts if n == name)
        later = [line for line, n in starts if line > first]
        end = (later[0] - 1) if later else len(lines)
        return "\n".join(lines[:boot_end] + lines[first - 1:end])


GUEST_INIT_PATH = guestroot.guest_path(GUEST_INIT)


def cmdline(extra: list[str], init: str = GUEST_INIT_PATH, root_kind: str = "9p") -> str:
    """The guest's command line; HARNESS_KERNEL_ARGS adds to it (e.g.
    "maxcpus=1" to see what a guest with fewer CPUs than asked gives)."""
    return " ".join([
        f"console={archmod.get().console}", *archmod.get().kernel_args,
        "loglevel=7", "panic=-1", "reboot=t",
        *guestroot.ROOTS[root_kind].kernel_args(init), f"HARNESS_HUNG={HUNG_TASK_SECS}",
        *os.environ.get("HARNESS_KERNEL_ARGS", "").split(), *extra])


def qemu_command(kernel, disks: list[Disk], accel: str, extra: list[str],
                 init: str = GUEST_INIT_PATH, cpus: int = DEFAULT_CPUS,
                 root: str | None = None, root_kind: str = "9p") -> list[str]:
    """Disks become /dev/vda, /dev/vdb, ... in order (run() puts the plan
    first, so the cells' disks start at /dev/vdb): raw, cache=none; one
    with `log_writes` also has every write and flush recorded by QEMU's
    blklogwrites driver (dm-log-writes format).  `root` is the packed guest
    root (guestroot.ROOTS[root_kind].pack) on the host QEMU runs on."""
    kind = guestroot.ROOTS[root_kind]
    arch = archmod.get()
    cmd = [arch.qemu, *arch.machine, "-nodefaults", "-no-reboot", "-display", "none",
           "-serial", "mon:stdio", "-m", str(MEMORY_MB), "-smp", arch.smp_arg(cpus),
           "-kernel", str(kernel), "-append", cmdline(extra, init, root_kind),
           *kind.qemu_args(root or str(kind.pack(guestroot.build()))),
           "-device", "virtio-rng-pci"]
    return cmd + arch.accel_args(accel) + _disk_args(disks)


def _disk_args(disks: list[Disk]) -> list[str]:
    cmd, on_bus = [], {}
    for i, d in enumerate(disks):
        kind = disksmod.get(d.kind)
        if kind.controller and kind.bus not in on_bus:
            cmd += ["-device", f"{kind.controller},id={kind.bus}0"]
        n = on_bus[kind.bus] = on_bus.get(kind.bus, -1) + 1
        device = kind.qemu_device(f"disk{i}", n)
        if d.log_writes:
            cmd += ["-blockdev", f"driver=file,node-name=data{i},"
                                 f"filename={proc.qemu_opt(d.path)},cache.direct=on",
                    "-blockdev", f"driver=file,node-name=log{i},"
                                 f"filename={proc.qemu_opt(d.log_writes)}",
                    "-blockdev", f"driver=blklogwrites,node-name=disk{i},file=data{i},"
                                 f"log=log{i},log-sector-size=512,log-append=off",
                    "-device", device]
        else:
            cmd += ["-drive", f"file={proc.qemu_opt(d.path)},if=none,id=disk{i},format=raw,"
                              "cache=none" + (",readonly=on" if d.readonly else ""),
                    "-device", device]
    return cmd


def vng_command(kernel, disks: list[Disk], accel: str, extra: list[str],
                init: str = GUEST_INIT_PATH, cpus: int = DEFAULT_CPUS,
                root: str | None = None, root_kind: str = "9p") -> list[str]:
    """The same VM booted by virtme-ng (`--runner vng`): its own init
    (virtme-ng-init) runs the guest init as --exec, over the same
    harness-made root, with the same virtio-blk disks (so /dev/vdX names
    hold) and the same kernel arguments.  What it cannot do is in the
    README ("Runners")."""
    vng = proc.venv_bin("vng")
    args = [f"HARNESS_HUNG={HUNG_TASK_SECS}",
            *os.environ.get("HARNESS_KERNEL_ARGS", "").split(), *extra]
    # the arch's -smp topology (x86_64: the MP table lists one CPU per socket)
    qemu_opts = ["-smp", archmod.get().smp_arg(cpus), *_disk_args(disks)]
    # vng runs virtme-run through the shell: it must be on PATH
    path = f"PATH={Path(vng).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    return ["env", path, vng, "--no-virtme-ng-init", "--run", str(kernel), "--root", root or str(guestroot.build()), "--force-9p",
            "--disable-microvm", "--cpus", str(cpus), "--memory", f"{MEMORY_MB}M",
            "--verbose", *(["--disable-kvm"] if accel != "kvm" else []),
            "--append", shlex.join(args),
            "--exec", f"env {shlex.join(args)} {init}",
            "--qemu-opts", shlex.join(qemu_opts)]


@dataclass(frozen=True)
class Runner:
    """How a VM is started: the command, the tools its guest init needs in
    the guest root besides guestroot.TOOLS, and the guestroot.ROOTS it can
    boot."""
    command: object
    tools: tuple[str, ...] = ()
    roots: tuple[str, ...] = tuple(guestroot.ROOTS)


RUNNERS = {"qemu": Runner(qemu_command),
           # virtme-ng shares the root over 9p (or virtiofs) only
           "vng": Runner(vng_command, guestroot.VNG_TOOLS, ("9p",))}


def check_runner(runner: str, root_kind: str, what: str) -> None:
    """One clear error when `runner` cannot boot a kernel whose guest root
    comes as `root_kind`."""
    if root_kind not in RUNNERS[runner].roots:
        raise HarnessError(f"{what} boots its guest root as {root_kind}, which --runner "
                           f"{runner} cannot give it (it can: {', '.join(RUNNERS[runner].roots)});"
                           " use --runner qemu")




@dataclass(frozen=True)
class Boot:
    """What boots: a kernel, how and where.  The guest's root holds the
    tools (guestroot.TOOLS, the runner's and `tools`), guest-config/ and
    `files` (programs the plan names by their harness.guestroot.guest_path),
    nothing else.  `nice` > 0 runs QEMU at that lower priority: a light VM
    (harness.plan) must not take the host's cores from the heavy VM beside
    it.  `root_kind` is how this kernel gets its root (guestroot.ROOTS: what
    its config was built for).  `evidence` False boots without the tracefs
    probes and their self-test (HARNESS_EVIDENCE=off): for a VM whose
    verdict counts nothing by them (the power-cut check VM); its cells then
    say "evidence unavailable", never a count."""
    kernel: Path
    accel: str
    cpus: int = DEFAULT_CPUS
    root_kind: str = "9p"
    runner: str = "qemu"             # RUNNERS
    host: object = LOCAL             # harness.host.Host
    nice: int = 0
    files: tuple[Path, ...] = ()
    tools: tuple[str, ...] = ()
    evidence: bool = True


def run(name: str, boot: Boot, plan: list[str], disks: list[Disk], outdir: Path,
        deadlines: dict | None = None, budget: float = 0.0,
        hard_deadline: float = HARD_DEADLINE, boot_deadline: float = 90.0,
        probe: bool = False) -> VmRun:
    """Boot `boot` and run `plan` (lines NAME|DEVICE|OPTIONS|COMMAND, see
    guest-config/guest-init.sh and harness.cell.PlanLine); return what
    happened.  The VM is ended on every path out of here (done, report,
    deadline, exception, Ctrl-C).  The console streams to
    outdir/NAME.console.log as it arrives."""
    kernel, accel, cpus, host = boot.kernel, boot.accel, boot.cpus, boot.host
    runner, nice, root_kind = boot.runner, boot.nice, boot.root_kind
    files, tools = list(boot.files), boot.tools
    if not kernel.exists():
        raise InfraError(f"no kernel image at {kernel}")
    outdir.mkdir(parents=True, exist_ok=True)
    log_path = outdir / f"{name}.console.log"
    extra = ["HARNESS_WORKLOAD=probe"] if probe else []
    if not boot.evidence:
        extra.append("HARNESS_EVIDENCE=off")
    if not probe:
        # the plan travels on a disk of its own (/dev/vda): no host path has
        # to be visible in the guest, or fit on the kernel command line
        text = "".join(line + "\n" for line in plan).encode()
        if len(text) > PLAN_DISK_SIZE:
            raise InfraError(f"{name}: plan of {len(plan)} cells is too long")
        (outdir / f"{name}.plan").write_bytes(text)
        plan_img = outdir / f"{name}.plan.img"
        plan_img.write_bytes(text + b"\0" * (PLAN_DISK_SIZE - len(text)))
        disks = [Disk(host.remote_path(plan_img))] + list(disks)
    mon = Monitor(boot_deadline=boot_deadline, deadlines=dict(deadlines or {}))
    reason = "deadline"
    how = RUNNERS[runner]
    check_runner(runner, root_kind, name)
    kind = guestroot.ROOTS[root_kind]
    root = host.put_root(kind.pack(guestroot.build(list(files), how.tools + tuple(tools))))
    cmd = how.command(host.put_kernel(kernel), disks, accel, extra, GUEST_INIT_PATH, cpus, root,
                      root_kind)
    (outdir / f"{name}.qemu.sh").write_text(
        "#!/bin/sh\n# the QEMU command of this VM (the console is on stdio)\n"
        + " ".join(shlex.quote(c) for c in cmd) + "\n")
    limit = hard_deadline + budget
    if nice:
        cmd = ["nice", "-n", str(nice), *cmd]
    with open(log_path, "wb") as log:
        console = host.spawn_console(cmd, log)
        start = time.monotonic()
        mon.start(start)
        try:
            while True:
                now = time.monotonic()
                if now - start > limit:
                    reason = "deadline"
                    mon.times.setdefault("verdict", now - start)
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
            if mon.first_report is not None:
                # a report decides, even if the guest got to the end of its
                # plan (or QEMU exited) before the report's burst was over
                reason = "report"
                mon.times.setdefault("verdict", time.monotonic() - start)
            if reason in ("report", "no-progress", "deadline", "boot-hung"):
                _sysrq_blocked(console, mon)
        finally:
            mon.times["end"] = time.monotonic() - start
            console.close()
            mon.close()
    # the console as the monitor read it: a tty line a kernel record cut
    # into is whole again (the log on disk keeps every byte as it came)
    text = untangle(read_log(log_path))
    tail = " | ".join(ln.strip() for ln in text.strip().splitlines()[-3:])[:300]
    fault, findings = mon.fault, []
    try:
        findings = parse(text)
    except Exception:                   # a bug of the parser: recorded, judged ERROR
        import traceback
        fault = fault or "report parser, whole console: " + traceback.format_exc()
    return VmRun(name, accel, log_path, reason, mon.times, mon.cells, findings,
                 evidence.guest_facts(text), mon.done_rc, mon.errors, mon.report_cell, tail,
                 cmd, text, fault)


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
    time.sleep(0.1)
    console.send(b"w")
    _drain(console, mon, SYSRQ_CAPTURE, quiet=0.3)


# --------------------------------------------------------------- accelerator

def choose_accel(kernel: Path, workdir: Path, progress=print, host=LOCAL,
                 root_kind: str = "9p") -> str:
    """'kvm' only if a probe boot under KVM reaches userspace in time.

    /dev/kvm existing is not enough (here it is a paravirtual KVM that
    cannot run ordinary kernels: QEMU fails at once or hangs silently), so
    the probe boots the real kernel with a deadline; the answer is cached
    for this host boot."""
    forced = os.environ.get("HARNESS_ACCEL")
    if forced in ("kvm", "tcg"):
        return forced
    if not host.kvm_device():
        return "tcg"
    cache = cache_dir() / ("accel.json" if host.label == "local" else
                           f"accel-{host.label.replace('/', '_')}.json")
    try:
        saved = json.loads(cache.read_text())
        if saved.get("boot_id") == host.boot_id():
            return saved["accel"]
    except (OSError, ValueError, KeyError):
        pass
    t0 = time.monotonic()
    r = run("kvm-probe", Boot(kernel, "kvm", host=host, root_kind=root_kind), [], [], workdir,
            hard_deadline=PROBE_DEADLINE, boot_deadline=PROBE_DEADLINE, probe=True)
    accel = "kvm" if r.booted else "tcg"
    why = ("reached userspace" if accel == "kvm" else
           f"QEMU gave up: {r.tail[:120]}" if r.reason == "eof" else
           f"no userspace within {PROBE_DEADLINE:.0f} s")
    progress(f"KVM probe: {why} ({time.monotonic() - t0:.1f} s); using {accel}")
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"boot_id": host.boot_id(), "accel": accel}))
    return accel


def qemu_version() -> str:
    try:
        out = subprocess.run([archmod.get().qemu, "--version"], capture_output=True, text=True,
                             timeout=10).stdout
        return out.splitlines()[0] if out else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"
