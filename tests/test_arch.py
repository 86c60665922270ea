"""Architectures as data: the x86_64 row, built from its file, is what the
build, the VM and KCIDB use."""

import pytest

from harness import arch, kcidb, kconfig, vm
from harness.errors import HarnessError


def test_the_x86_64_row_comes_from_its_file():
    a = arch.get("x86_64")
    assert (a.name, a.kcidb, a.make_target, a.image, a.config_dir) == (
        "x86_64", "x86_64", "bzImage", "arch/x86/boot/bzImage", "arch/x86/configs")
    assert a.qemu == "qemu-system-x86_64" and a.console == "ttyS0"
    assert a.accel_args("kvm") == ["-accel", "kvm", "-cpu", "host"]
    assert a.accel_args("tcg") == ["-accel", "tcg"]
    assert a.smp_arg(2) == "2,sockets=2,cores=1,threads=1"
    assert a.fragment.is_file() and a.image_dir == "arch/x86/boot/"


def test_the_vm_and_the_config_take_the_arch_from_its_row(tmp_path):
    a = arch.get()
    cmd = vm.qemu_command(tmp_path / "bzImage", [], "tcg", [], root=str(tmp_path))
    assert cmd[0] == a.qemu and cmd[cmd.index("-smp") + 1] == a.smp_arg(vm.DEFAULT_CPUS)
    assert cmd[-2:] == a.accel_args("tcg")
    assert f"console={a.console}" in cmd[cmd.index("-append") + 1]
    # x86 guests skip the IO-APIC timer test a loaded TCG host can fail
    # ("IO-APIC + timer doesn't work!" panicked a 6.1 boot in CI)
    assert a.kernel_args == ("no_timer_check",)
    assert "no_timer_check" in cmd[cmd.index("-append") + 1].split()
    assert kconfig.default_fragments()[-1] == a.fragment
    doc = {"source": "s", "results": [{"variant": "v", "workload": "w", "verdict": "PASS"}]}
    (b,) = kcidb.export(doc, "run")["builds"]
    assert b["architecture"] == a.kcidb


def test_no_x86_option_is_left_in_the_shared_fragments():
    """The arch's options live in its own fragment: a second architecture
    takes the shared ones unchanged."""
    for f in kconfig.default_fragments()[:-1]:
        opts = kconfig.parse(f.read_text())
        assert not [o for o in opts if "X86" in o or "SERIAL_8250" in o], f


def test_an_unknown_or_broken_arch_is_one_clear_error():
    with pytest.raises(HarnessError, match="unknown architecture 'mips'; known: x86_64"):
        arch.get("mips")
    with pytest.raises(HarnessError, match="missing key 'qemu'"):
        arch.parse('name = "x"\nkcidb = "x"\nmake_target = "I"\nimage = "a/I"\n'
                   'config_dir = "a"\nfragment = "arch/x.config"\n', "x.toml")
