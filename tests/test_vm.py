"""The VM tier: real boots of the real `fixed` kernel under QEMU."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, qemu_pids_with
from harness import monitor, vm, workload
from harness.verdict import judge


def wait_for(pred, timeout, step=0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return False


def test_accelerator_probe_answers_within_its_deadline(fixed_build, tmp_path, monkeypatch):
    monkeypatch.delenv("HARNESS_ACCEL", raising=False)
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))   # no cached answer
    t0 = time.monotonic()
    accel = vm.choose_accel(fixed_build.bzimage, tmp_path)
    assert accel in ("kvm", "tcg")
    assert time.monotonic() - t0 < vm.PROBE_DEADLINE + 8
    if Path("/sys/module/kvm_pvm").exists():
        assert accel == "tcg"       # a paravirtual KVM that cannot run this kernel
    assert not qemu_pids_with(str(tmp_path))
    # the answer boots: a real workload run with it reaches userspace
    r = vm.run("probe-check", fixed_build.bzimage, workload.BY_NAME["extending"], tmp_path, accel)
    assert judge(r)[0] == "PASS" and r.accel == accel


def test_pass_run_streams_console_and_cleans_up(fixed_build, tmp_path):
    r = vm.run("fixed-extending", fixed_build.bzimage, workload.BY_NAME["extending"],
               tmp_path, "tcg")
    log = r.console_log.read_text()
    assert "@@harness booted" in log and "verified 16 extents" in log
    assert r.reason == "done" and r.rc == 0 and r.fsck == ""
    assert r.times["booted"] < r.times["workload_start"] < r.times["end"]
    assert not r.disk.exists()              # a passing run's image is removed
    assert not qemu_pids_with(str(tmp_path))


def test_hard_deadline_ends_the_vm(fixed_build, tmp_path):
    r = vm.run("deadline", fixed_build.bzimage, workload.BY_NAME["fsync-race"], tmp_path,
               "tcg", hard_deadline=3.0)
    assert r.reason == "deadline" and r.times["end"] < 3.0 + vm.SYSRQ_CAPTURE + 3
    assert not qemu_pids_with(str(tmp_path))


def test_harness_exception_ends_the_vm(fixed_build, tmp_path, monkeypatch):
    calls = {"n": 0}
    real = monitor.Monitor.stop_reason

    def boom(self, now):
        if "booted" in self.times:
            raise RuntimeError("harness bug")
        calls["n"] += 1
        return real(self, now)
    monkeypatch.setattr(monitor.Monitor, "stop_reason", boom)
    with pytest.raises(RuntimeError):
        vm.run("boom", fixed_build.bzimage, workload.BY_NAME["extending"], tmp_path, "tcg")
    assert calls["n"] > 0
    assert wait_for(lambda: not qemu_pids_with(str(tmp_path)), 5)


def _start_harness(tmp_path, harness_env, extra=()):
    env = dict(harness_env, HARNESS_ACCEL="tcg")
    return subprocess.Popen(
        [sys.executable, "-m", "harness", "run", "--variant", "fixed", "--workload",
         "fsync-race", "--results", str(tmp_path), *extra],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_no_vm_outlives_the_harness(fixed_build, tmp_path, harness_env, sig):
    p = _start_harness(tmp_path, harness_env)

    def console_text():
        logs = list(tmp_path.glob("*/fixed-fsync-race.console.log"))
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
