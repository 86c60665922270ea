"""vm.choose_accel's decision without booting anything: vm.run is replaced
by a probe that boots, fails at once, or hangs past its deadline (the real
probe is in test_vm)."""
import json
import os
from pathlib import Path

import pytest

from harness import vm
from harness.vm import VmRun


def probe(reason, booted, tail=""):
    """A stand-in for vm.run that records how it was called."""
    calls = []

    def run(name, boot, plan, disks, workdir, **kw):
        accel = boot.accel
        calls.append((name, accel, kw))
        times = {"booted": 1.5} if booted else {}
        return VmRun(name, accel, Path(workdir) / f"{name}.console.log", reason, times, {},
                     tail=tail)
    run.calls = calls
    return run


@pytest.fixture
def host_with_kvm(monkeypatch, tmp_path):
    monkeypatch.delenv("HARNESS_ACCEL", raising=False)
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    real = os.access
    monkeypatch.setattr(vm.os, "access",
                        lambda p, mode: True if p == "/dev/kvm" else real(p, mode))


def choose(tmp_path, said=None):
    return vm.choose_accel(tmp_path / "bzImage", tmp_path,
                           progress=said.append if said is not None else lambda m: None)


def test_a_probe_that_reaches_userspace_chooses_kvm_and_is_cached(host_with_kvm, tmp_path,
                                                                  monkeypatch):
    run = probe("done", booted=True)
    monkeypatch.setattr(vm, "run", run)
    said = []
    assert choose(tmp_path, said) == "kvm"
    ((name, accel, kw),) = run.calls
    assert (name, accel, kw["probe"]) == ("kvm-probe", "kvm", True)
    assert kw["hard_deadline"] == kw["boot_deadline"] == vm.PROBE_DEADLINE
    assert said[0].startswith("KVM probe: reached userspace (") and said[0].endswith("using kvm")
    cached = json.loads((tmp_path / "cache" / "accel.json").read_text())
    assert cached == {"boot_id": vm.LOCAL.boot_id(), "accel": "kvm"}
    assert choose(tmp_path) == "kvm" and len(run.calls) == 1      # this boot: no new probe


def test_a_probe_that_hangs_past_its_deadline_chooses_tcg(host_with_kvm, tmp_path,
                                                          monkeypatch):
    monkeypatch.setattr(vm, "run", probe("boot-timeout", booted=False))
    said = []
    assert choose(tmp_path, said) == "tcg"
    assert said[0].startswith(f"KVM probe: no userspace within {vm.PROBE_DEADLINE:.0f} s (")
    assert said[0].endswith("using tcg")
    assert json.loads((tmp_path / "cache" / "accel.json").read_text())["accel"] == "tcg"


def test_qemu_refusing_kvm_chooses_tcg_and_says_why(host_with_kvm, tmp_path, monkeypatch):
    monkeypatch.setattr(vm, "run", probe("eof", booted=False,
                                         tail="qemu: KVM: entry failed, hardware error 0x7"))
    said = []
    assert choose(tmp_path, said) == "tcg"
    assert said[0].startswith("KVM probe: QEMU gave up: qemu: KVM: entry failed")


def test_an_answer_from_another_boot_is_not_trusted(host_with_kvm, tmp_path, monkeypatch):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "accel.json").write_text(
        json.dumps({"boot_id": "some-earlier-boot", "accel": "kvm"}))
    run = probe("eof", booted=False)
    monkeypatch.setattr(vm, "run", run)
    assert choose(tmp_path) == "tcg" and len(run.calls) == 1


def test_no_usable_dev_kvm_is_tcg_without_a_probe(monkeypatch, tmp_path):
    monkeypatch.delenv("HARNESS_ACCEL", raising=False)
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(vm.os, "access", lambda p, mode: False)
    run = probe("done", booted=True)
    monkeypatch.setattr(vm, "run", run)
    assert choose(tmp_path) == "tcg"
    assert run.calls == [] and not (tmp_path / "cache").exists()


@pytest.mark.parametrize("forced", ["kvm", "tcg"])
def test_harness_accel_forces_the_answer(monkeypatch, tmp_path, forced):
    monkeypatch.setenv("HARNESS_ACCEL", forced)
    run = probe("done", booted=forced == "tcg")       # the opposite of what is forced
    monkeypatch.setattr(vm, "run", run)
    assert choose(tmp_path) == forced and run.calls == []
