"""The VM tier: real boots of the real 5.10 `fixed` kernel under QEMU, with
two CPUs and a fully preemptible kernel."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO, default_sigint, qemu_pids_with
from harness import chain, evidence, guestroot, matrix, monitor, vm, workload
from harness.cell import Cell
from harness.errors import HarnessError


def wait_for(pred, timeout, step=0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return False


def plan_for(fixed_variant, names, tmp_path):
    """Plan lines, fresh disks and the programs they run, for workloads
    `names` (as matrix does)."""
    plan, disks, files = [], [], []

    def in_guest(p):
        files.append(p)
        return guestroot.guest_path(p)
    for n in names:
        w = workload.by_name()[n]
        cell = Cell(fixed_variant, w)
        dev = None
        if w.device != workload.RAM:
            disks.append(vm.Disk(vm.LOCAL.make_disk(tmp_path, f"{n}.img")))
            dev = vm.dev_name(len(disks) - 1)
        plan.append(chain.plan_line(cell, chain.command(w, dev, in_guest), dev, "").encode())
    return plan, disks, files


@pytest.fixture(scope="module")
def fixed_variant(default_source):
    from harness import source
    return source.variants_for(default_source, ["fixed"])[0]


def test_accelerator_probe_answers_within_its_deadline(fixed_build, tmp_path, monkeypatch):
    """The real probe on this host: each branch asserts which path ran (the
    decision on every path is in test_accel, without a boot)."""
    monkeypatch.delenv("HARNESS_ACCEL", raising=False)
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))   # no cached answer
    t0 = time.monotonic()
    accel = vm.choose_accel(fixed_build.bzimage, tmp_path, progress=lambda m: None)
    took = time.monotonic() - t0
    probe_log = tmp_path / "kvm-probe.console.log"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        assert accel == "tcg" and not probe_log.exists()           # no probe was run
        assert not (tmp_path / "cache").exists()
    else:
        assert probe_log.exists()                                  # the probe did boot
        cached = json.loads((tmp_path / "cache" / "accel.json").read_text())
        assert cached["accel"] == accel
        if os.path.exists("/sys/module/kvm_pvm"):
            # a paravirtual KVM that cannot run this kernel: QEMU refuses at
            # once or hangs silently (both seen on these machines); either
            # way the deadline ends it
            assert accel == "tcg"
        assert took < vm.PROBE_DEADLINE + 8
    assert not qemu_pids_with(str(tmp_path))


def test_probe_deadline_ends_a_boot_that_does_not_reach_userspace(fixed_build, tmp_path):
    """What the probe does with a KVM that hangs silently, reached for real:
    TCG with a deadline far shorter than its boot stands in for the hang."""
    t0 = time.monotonic()
    r = vm.run("kvm-probe", vm.Boot(fixed_build.bzimage, "tcg"), [], [], tmp_path,
               hard_deadline=0.3, boot_deadline=0.3, probe=True)
    assert not r.booted and r.reason in ("boot-timeout", "deadline")
    assert time.monotonic() - t0 < 0.3 + vm.SYSRQ_CAPTURE + 8
    assert not qemu_pids_with(str(tmp_path))


def test_two_cpus_preemptible_and_evidence(fixed_build, fixed_variant, tmp_path):
    """One boot, two cells: the guest has 2 CPUs up and full preemption, the
    console is streamed, each cell is timed, and the kernel-side evidence
    shows the direct writes and where their completions ran."""
    plan, disks, files = plan_for(fixed_variant, ["overwrite", "libaio-async"], tmp_path)
    r = vm.run("two-cells", vm.Boot(fixed_build.bzimage, "tcg", cpus=2, files=tuple(files)),
               plan, disks, tmp_path)
    assert r.reason == "done" and r.booted
    assert r.facts.cpus_up == 2 and r.facts.preempt == "full" and not r.facts.problem(2)
    log = r.console_log.read_text(errors="replace")
    assert "smp: Brought up 1 node, 2 CPUs" in log and " SMP PREEMPT " in log
    assert "@@harness evidence-selftest ok" in log      # every probe saw its event
    ids = [ln.split("|")[0] for ln in plan]
    assert list(r.cells) == ids
    ext, aio = (r.cells[i] for i in ids)
    assert ext.rc == 0 and aio.rc == 0
    assert ext.times["start"] < ext.times["end"] <= aio.times["start"] < aio.times["end"]
    e1 = evidence.parse(r.cell_text(ids[0]).splitlines())
    # the measured phase only: overwrite's 1 MiB direct prefill and its
    # fsync are not counted (they would make 2 MiB and 32 completions)
    assert e1.direct_bytes == 1 << 20 and e1.buffered_bytes == 0
    assert e1.inline == 16 and e1.asynchronous == 0            # O_DSYNC pwrite: inline
    e2 = evidence.parse(r.cell_text(ids[1]).splitlines())
    assert e2.asynchronous == 64 and e2.inline == 0            # dm-delay: all in workers
    assert not evidence.check(workload.by_name()["overwrite"], e1)
    assert not evidence.check(workload.by_name()["libaio-async"], e2)
    # the cell's console is the boot plus its own lines only
    assert "libaio" not in r.cell_text(ids[0]).split("@@harness cell-start")[1]
    assert not qemu_pids_with(str(tmp_path))


def test_a_probe_that_sees_nothing_in_its_self_test_leaves_no_evidence(
        fixed_build, fixed_variant, default_source, tmp_path, monkeypatch):
    """A dead probe (here: btrfs_sync_file, whose self-test event is left
    out) makes the evidence unavailable in every cell, naming the probe:
    UNPROVEN, never a met claim, and never a FAIL from syncs not seen."""
    from harness import source
    nosync = source.variants_for(default_source, ["nosync"])[0]
    monkeypatch.setenv("HARNESS_KERNEL_ARGS", "HARNESS_SELFTEST_SKIP=fsync")
    s = matrix.Settings(tmp_path, cpus=2, accel="tcg", progress=lambda m: None)
    out = matrix.run([fixed_variant, nosync], [workload.by_name()["libaio-async"]], s)
    for v in out.verdicts:
        assert v.verdict == "UNPROVEN", (v.variant, v.verdict, v.title, v.detail)
        assert "nothing recorded by btrfs_sync_file" in v.detail, v.detail
        assert not v.evidence.get("available"), v.evidence
    # the control's FAIL ("without its sync") needs syncs that could have
    # been seen: with the probe dead it is not as claimed, never held
    by = {v.variant: v for v in out.verdicts}
    assert by["nosync"].as_expected is False and str(by["nosync"].expected) == "FAIL lost-sync"


def test_fewer_cpus_than_asked_is_infra(fixed_build, fixed_variant, tmp_path, monkeypatch):
    """A guest that brings up fewer CPUs than asked cannot back a race claim:
    INFRA with one line, never a PASS."""
    monkeypatch.setenv("HARNESS_KERNEL_ARGS", "maxcpus=1")
    s = matrix.Settings(tmp_path, cpus=2, accel="tcg", progress=lambda m: None)
    out = matrix.run([fixed_variant], [workload.by_name()["fsync-race"]], s)
    (v,) = out.verdicts
    assert v.verdict == "INFRA"
    assert v.detail.startswith("the guest brought up 1 of 2 CPUs")
    assert v.facts["cpus_up"] == 1


def test_hard_deadline_ends_the_vm(fixed_build, fixed_variant, tmp_path):
    plan, disks, files = plan_for(fixed_variant, ["fsync-race"], tmp_path)
    r = vm.run("deadline", vm.Boot(fixed_build.bzimage, "tcg", files=tuple(files)), plan,
               disks, tmp_path, hard_deadline=3.0)
    assert r.reason == "deadline" and r.times["end"] < 3.0 + vm.SYSRQ_CAPTURE + 3
    assert not qemu_pids_with(str(tmp_path))


def test_harness_exception_ends_the_vm(fixed_build, fixed_variant, tmp_path, monkeypatch):
    calls = {"n": 0}
    real = monitor.Monitor.stop_reason

    def boom(self, now):
        if "booted" in self.times:
            raise RuntimeError("harness bug")
        calls["n"] += 1
        return real(self, now)
    monkeypatch.setattr(monitor.Monitor, "stop_reason", boom)
    plan, disks, files = plan_for(fixed_variant, ["extending"], tmp_path)
    with pytest.raises(RuntimeError):
        vm.run("boom", vm.Boot(fixed_build.bzimage, "tcg", files=tuple(files)), plan, disks,
               tmp_path)
    assert calls["n"] > 0
    assert wait_for(lambda: not qemu_pids_with(str(tmp_path)), 5)


def _start_harness(tmp_path, harness_env, extra=()):
    env = dict(harness_env, HARNESS_ACCEL="tcg")
    return subprocess.Popen(
        [sys.executable, "-m", "harness", "run", "--variant", "fixed", "--workload",
         "fsync-race", "--results", str(tmp_path), *extra],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=default_sigint)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_no_vm_outlives_the_harness(fixed_build, tmp_path, harness_env, sig):
    p = _start_harness(tmp_path, harness_env)

    def console_text():
        logs = list(tmp_path.glob("*/vm*-5.10-fixed-*.console.log"))
        return logs[0].read_bytes() if logs else b""
    try:
        assert wait_for(lambda: qemu_pids_with(str(tmp_path)), 60), "no VM started"
        assert wait_for(lambda: b"Linux version" in console_text(), 60), "no console output"
        os.kill(p.pid, sig)
        out, _ = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert wait_for(lambda: not qemu_pids_with(str(tmp_path)), 10), "QEMU outlived the harness"
    if sig != signal.SIGKILL:
        assert p.returncode == 130 and "Traceback" not in out
    assert b"Linux version" in console_text()     # what arrived is on disk


def test_repeat_and_bad_cpu_counts(fixed_build, tmp_path, harness_env):
    """--repeat N runs each cell N times (k/N in the table, every run in
    result.json); --cpus/--repeat out of range is one line and exit 2."""
    env = dict(harness_env, HARNESS_ACCEL="tcg")
    for bad in (["--cpus", "0"], ["--cpus", "999"], ["--repeat", "0"], ["--cpus", "two"]):
        cp = subprocess.run([sys.executable, "-m", "harness", "run", *bad], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60)
        assert cp.returncode == 2, (bad, cp.stderr)
        assert len(cp.stderr.strip().splitlines()) == 1 and bad[0] in cp.stderr
    cp = subprocess.run([sys.executable, "-m", "harness", "run", "--variant", "fixed",
                         "--workload", "extending", "--repeat", "3", "--results",
                         str(tmp_path)], cwd=REPO, env=env, capture_output=True, text=True,
                        timeout=600)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "PASS 3/3" in cp.stdout
    (run_dir,) = [d for d in tmp_path.iterdir() if d.is_dir()]
    doc = json.loads((run_dir / "result.json").read_text())
    assert [r["run"] for r in doc["results"]] == [1, 2, 3]
    assert doc["repeat"] == 3 and len(doc["vms"]) == 3          # a fresh VM per run
    assert all(r["guest"]["cpus_up"] == 2 for r in doc["results"])


def test_a_parser_fault_is_error_never_pass(fixed_build, fixed_variant, tmp_path, monkeypatch):
    """A bug in the report parser must not read as "no kernel report": the
    cell is ERROR, says it is the harness's fault, and keeps the traceback."""
    from harness.kernel_reports import parser
    real = parser.split_line

    def broken(no, raw):
        if "@@harness workload-start" in raw:
            raise RuntimeError("parser bug")
        return real(no, raw)
    monkeypatch.setattr(parser, "split_line", broken)
    s = matrix.Settings(tmp_path, accel="tcg", progress=lambda m: None)
    out = matrix.run([fixed_variant], [workload.by_name()["extending"]], s)
    (v,) = out.verdicts
    assert v.verdict == "ERROR", (v.verdict, v.detail)
    assert v.detail.startswith("harness fault, not a kernel verdict: report parser")
    assert "RuntimeError: parser bug" in v.extra["harness_fault"]
    assert v.as_expected is False                     # the run cannot exit 0


def test_parse_log_exits_non_zero_on_a_parser_fault(tmp_path, monkeypatch, capsys):
    from harness import cli, kernel_reports

    def broken(text):
        raise ValueError("parser bug")
    log = tmp_path / "console.log"
    log.write_text("WARNING: possible recursive locking detected\n")
    monkeypatch.setattr(kernel_reports, "parse", broken)
    assert cli.main(["parse-log", str(log)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the report parser failed" in err[0] and "harness bug" in err[0]


def test_vng_command_boots_the_same_vm(tmp_path):
    """--runner vng: virtme-ng gets the harness's root, the same virtio-blk
    disks (so /dev/vdX names hold), the CPUs as sockets, and runs the guest
    init as its --exec; TCG unless the probe said KVM."""
    disks = [vm.Disk(str(tmp_path / "a,b.img")), vm.Disk(str(tmp_path / "c.img"))]
    cmd = vm.vng_command("/k/bzImage", disks, "tcg", ["X=1"], cpus=2, root="/r")
    i = cmd.index("--qemu-opts")
    opts = cmd[i + 1]
    assert f"file={tmp_path}/a,,b.img,if=none,id=disk0" in opts         # commas escaped
    assert opts.count("virtio-blk-pci") == 2 and "sockets=2" in opts
    assert cmd[cmd.index("--root") + 1] == "/r" and "--disable-kvm" in cmd
    assert cmd[cmd.index("--exec") + 1].endswith(" /harness/config/guest-init.sh")
    assert "X=1" in cmd[cmd.index("--append") + 1]
    assert "--disable-kvm" not in vm.vng_command("/k", disks, "kvm", [], root="/r")
    assert set(guestroot.VNG_TOOLS) <= set(vm.RUNNERS["vng"].tools)


def test_each_guest_root_kind_has_its_own_kernel_and_qemu_arguments(tmp_path):
    """9p: the directory over virtio-9p, mounted read-only, init=; initramfs:
    the packed archive as -initrd, rdinit=, and no 9p device at all."""
    disks = [vm.Disk(str(tmp_path / "d.img"))]
    nine = vm.qemu_command("/k", disks, "tcg", [], root="/r,oot")
    assert "path=/r,,oot," in nine[nine.index("-fsdev") + 1] and "-initrd" not in nine
    assert "rootfstype=9p" in nine[nine.index("-append") + 1]
    assert " init=/harness/config/guest-init.sh" in nine[nine.index("-append") + 1]
    ram = vm.qemu_command("/k", disks, "tcg", [], root="/r.cpio", root_kind="initramfs")
    args = ram[ram.index("-append") + 1]
    assert ram[ram.index("-initrd") + 1] == "/r.cpio" and "-fsdev" not in ram
    assert "rdinit=/harness/config/guest-init.sh" in args and "9p" not in " ".join(ram)
    assert " init=" not in args and "root=" not in args


def test_a_runner_that_cannot_boot_a_lines_root_is_one_clear_error(tmp_path, harness_env):
    """virtme-ng shares the root over 9p only: a line whose kernels have no
    9p (7.2, root = "initramfs") is refused before anything is built."""
    with pytest.raises(HarnessError, match="line 7.2 boots its guest root as initramfs"):
        vm.check_runner("vng", "initramfs", "line 7.2")
    vm.check_runner("vng", "9p", "line 5.10")
    vm.check_runner("qemu", "initramfs", "line 7.2")
    cp = subprocess.run([sys.executable, "-m", "harness", "run", "--line", "7.2", "--workload",
                         "extending", "--runner", "vng", "--results", str(tmp_path)],
                        cwd=REPO, env=harness_env, capture_output=True, text=True, timeout=120)
    assert cp.returncode != 0 and "Traceback" not in cp.stderr
    assert "--runner vng cannot give it" in cp.stderr.strip().splitlines()[-1]


def test_runner_vng_catches_the_deadlock(tmp_path, harness_env):
    """The same cell booted by virtme-ng, read by the same monitor and judged
    by the same verdict code."""
    cp = subprocess.run([sys.executable, "-m", "harness", "run", "--variant", "base",
                         "--workload", "extending", "--runner", "vng", "--results",
                         str(tmp_path)], cwd=REPO, env=dict(harness_env, HARNESS_ACCEL="tcg"),
                        capture_output=True, text=True, timeout=900)
    print(cp.stdout[-3000:], cp.stderr[-2000:])
    assert cp.returncode == 0
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    doc = json.loads((run_dir / "result.json").read_text())
    assert doc["vm_host"] == "local (vng)"
    (cell,) = doc["results"]
    assert cell["verdict"] == "FAIL" and cell["title"] == "possible deadlock in btrfs_sync_file"
    assert cell["guest"]["cpus_up"] == 2
    assert "vng" in (run_dir / f"{doc['vms'][0]['name']}.qemu.sh").read_text()
    assert not qemu_pids_with(str(tmp_path))


def test_an_after_run_check_that_breaks_is_error(fixed_build, fixed_variant, tmp_path):
    """A bug in a workload's after-run check (the power-cut replay's slot) is
    the harness's fault: ERROR with the traceback in result.json, never PASS."""
    from dataclasses import replace

    def broken(cell, r, ctx):
        raise KeyError("check bug")
    w = replace(workload.by_name()["extending"], after=broken)
    s = matrix.Settings(tmp_path, accel="tcg", progress=lambda m: None)
    (v,) = matrix.run([fixed_variant], [w], s).verdicts
    assert v.verdict == "ERROR", (v.verdict, v.detail)
    assert v.detail.startswith("harness fault, not a kernel verdict: after-run check")
    assert "KeyError: 'check bug'" in v.extra["harness_fault"]
    assert v.as_expected is False


def test_a_taint_with_no_report_fails_and_a_late_report_stays_in_its_cell(
        fixed_build, fixed_variant, tmp_path):
    """The kernel's taint is a second oracle: a cell that taints the kernel
    (W, as a WARN would) with nothing the parser knows FAILs with the flag.
    A cell whose last act sets off a report that the kernel logs after the
    cell's script has exited (a worker still busy, then the WARNING) gets
    the report: its kcell-end waits for the kernel to be quiet, and reports
    are charged by the kernel's own markers.  The cell after it PASSes."""
    taint = tmp_path / "taint.sh"
    taint.write_text("#!/bin/sh\necho 512 > /proc/sys/kernel/tainted\n")
    late = tmp_path / "late.sh"
    late.write_text("#!/bin/sh\ncd /\n(\n"
                    "for i in 1 2 3 4 5 6 7 8; do echo \"late: worker busy $i\" > /dev/kmsg; "
                    "sleep 0.1; done\n"
                    "for l in '------------[ cut here ]------------' \\\n"
                    "    'WARNING: CPU: 1 PID: 99 at fs/btrfs/file.c:1 btrfs_late+0x1/0x2' \\\n"
                    "    'Call Trace:' ' btrfs_late+0x1/0x2' ' do_syscall_64+0x1/0x2' \\\n"
                    "    '---[ end trace 0000000000000000 ]---'; do\n"
                    "    echo \"$l\" > /dev/kmsg\n"
                    "done\n) > /dev/null 2>&1 &\n")
    for p in (taint, late):
        p.chmod(0o755)
    ws = [workload.user_workload(taint), workload.user_workload(late),
          workload.by_name()["extending"]]
    s = matrix.Settings(tmp_path, accel="tcg", progress=lambda m: None)
    out = matrix.run([fixed_variant], ws, s)
    got = {v.workload: v for v in out.verdicts}
    t, lt, ext = got["taint"], got["late"], got["extending"]
    # 512 is W, bit 9 (the shell's read of the sysctl once gave "5": "PS")
    assert t.verdict == "FAIL" and t.taint["new"] == "W", (t.verdict, t.title, t.taint)
    assert t.title == "kernel tainted (W) with no recognised report"
    assert t.as_expected is False
    assert lt.verdict == "FAIL" and "btrfs_late" in (lt.title or ""), (lt.verdict, lt.title)
    assert ext.verdict == "PASS", (ext.verdict, ext.title, ext.detail)
    assert ext.taint is not None and ext.taint["new"] == "", ext.taint


def test_overwrites_that_go_buffered_after_a_direct_prefill_are_unproven(
        fixed_build, default_source, tmp_path):
    """The overwrite shape first fills its file with direct writes and an
    fsync.  A kernel that sends the measured O_DSYNC overwrites down the
    buffered path (a test-only patch on `fixed`) must not PASS on the
    prefill's evidence: the guest counts only the measured phase, so the
    cell is UNPROVEN, its direct bytes 0 of 1 MiB."""
    from harness import patches as patchmod, source
    patch = patchmod.user_patch(REPO / "tests" / "fixtures" / "patches" /
                                "5.10-TEST-ONLY-buffered-inside-eof.patch")
    (v,) = source.variants_for(default_source, ["fixed"], (patch,))
    s = matrix.Settings(tmp_path, accel="tcg", progress=lambda m: None)
    (got,) = matrix.run([v], [workload.by_name()["overwrite"]], s).verdicts
    assert got.verdict == "UNPROVEN", (got.verdict, got.title, got.detail)
    assert "0 B of 1 MiB went down the direct IO path, 1 MiB buffered" in got.detail, got.detail
    assert got.evidence["direct_bytes"] == 0 and got.evidence["stats"]["direct_bytes"] == 1 << 20


def test_a_synchronous_o_dsync_write_left_unsynced_is_lost_at_its_own_cut(
        fixed_build, default_source, tmp_path):
    """The durability row checks every acknowledged write at its own cut
    point, the synchronous (psync) ones too.  A kernel that does not sync an
    O_DSYNC direct write completed in the submitter (a test-only patch on
    `fixed`) leaves its data in the disk's volatile cache: the cut right
    after that ack must find it missing."""
    from harness import patches as patchmod, source
    patch = patchmod.user_patch(REPO / "tests" / "fixtures" / "patches" /
                                "5.10-TEST-ONLY-no-sync-for-synchronous-dio.patch")
    (v,) = source.variants_for(default_source, ["fixed"], (patch,))
    s = matrix.Settings(tmp_path, accel="tcg", progress=lambda m: None)
    (got,) = matrix.run([v], [workload.by_name()["durability"]], s).verdicts
    assert got.verdict == "FAIL", (got.verdict, got.title, got.detail)
    assert "lost O_DSYNC" in (got.title or "") and "psync" in got.title, got.title
