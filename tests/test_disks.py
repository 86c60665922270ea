"""Disk kinds as data (harness/disks/*.toml): how QEMU attaches each, what
the guest must see of it, and the cell going INFRA when it does not."""
from types import SimpleNamespace

import pytest

from harness.afterrun import AfterContext
from harness import disks, durability, vm
from harness.errors import HarnessError


def test_the_kinds_and_what_the_guest_must_see():
    k = disks.kinds()
    assert {"cache", "nocache"} <= set(k)
    assert (k["cache"].write_cache, k["cache"].durable) == ("write back", "flushed")
    assert (k["nocache"].write_cache, k["nocache"].durable) == ("write through", "completed")
    assert k["nocache"].qemu_device("disk0") == "virtio-blk-pci,drive=disk0,write-cache=off"
    assert (k["fua"].write_cache, k["fua"].fua, k["fua"].durable) == ("write back", 1, "flushed")
    # the default first, then in their order: the nocache rows keep letters m-p
    assert list(k)[:3] == ["cache", "nocache", "fua"]


def test_each_bus_names_its_disks_in_the_guest():
    assert disks.guest_names(["cache", "fua", "nocache", "fua"]) == \
        ["/dev/vdb", "/dev/scsi0", "/dev/vdc", "/dev/scsi1"]
    assert vm.dev_name(1) == "/dev/vdc"
    assert vm.dev_name(1, ["fua", "fua"]) == "/dev/scsi1"


def test_qemu_attaches_each_disk_as_its_kind_says():
    cmd = vm._disk_args([vm.Disk("/i/a.img"), vm.Disk("/i/b.img", "/i/b.log", "nocache")])
    devices = [cmd[i + 1] for i, a in enumerate(cmd) if a == "-device"]
    assert devices == ["virtio-blk-pci,drive=disk0",
                       "virtio-blk-pci,drive=disk1,write-cache=off"]
    # SCSI disks: one controller, each disk on its own target (the guest's
    # /dev/scsiN is the disk with scsi-id=N)
    cmd = vm._disk_args([vm.Disk("/i/p.img"), vm.Disk("/i/a.img", None, "fua"),
                         vm.Disk("/i/b.img", "/i/b.log", "fua")])
    devices = [cmd[i + 1] for i, a in enumerate(cmd) if a == "-device"]
    assert devices == ["virtio-blk-pci,drive=disk0", "virtio-scsi-pci,id=scsi0",
                       "scsi-hd,drive=disk1,bus=scsi0.0,scsi-id=0,dpofua=on",
                       "scsi-hd,drive=disk2,bus=scsi0.0,scsi-id=1,dpofua=on"]


def test_a_bad_kind_file_is_one_clear_error(tmp_path):
    (tmp_path / "odd.toml").write_text('what = "x"\ndevice = "d"\nwrite_cache = "write back"\n'
                                       'fua = 0\ndurable = "sometimes"\n')
    with pytest.raises(HarnessError, match="odd.toml: durable = 'sometimes'"):
        disks.kinds(tmp_path)
    (tmp_path / "odd.toml").write_text('what = "x"\n')
    with pytest.raises(HarnessError, match="odd.toml: missing 'device'"):
        disks.kinds(tmp_path)
    (tmp_path / "odd.toml").write_text('what = "x"\ndevice = "d"\nwrite_cache = "write back"\n'
                                       'fua = 1\ndurable = "flushed"\nbus = "scsi"\n')
    with pytest.raises(HarnessError, match="odd.toml: a scsi disk needs its controller"):
        disks.kinds(tmp_path)
    with pytest.raises(HarnessError, match="unknown disk kind 'floppy'"):
        disks.get("floppy")


CONSOLE = ("@@harness disk dev=vdb write_cache=write_back fua=0\n"
           "@@harness disk dev=dm-0 write_cache=write_back fua=0\n")


def test_a_disk_that_is_not_what_its_row_claims_makes_the_cell_infra(tmp_path):
    seen = durability.disk_facts(CONSOLE)
    assert seen["vdb"] == {"write_cache": "write back", "fua": "0"}
    assert disks.get("cache").mismatch(seen["dm-0"]) is None
    assert "sees write_cache='write back'" in disks.get("nocache").mismatch(seen["vdb"])
    cell = SimpleNamespace(id="c1")
    r = SimpleNamespace(cell_text=lambda name: CONSOLE)
    ctx = AfterContext(kernel=tmp_path / "bzImage", root_kind="9p", outdir=tmp_path,
                       accel="tcg", nice=0,
                       disk=vm.Disk("x.img", str(tmp_path / "w.log"), "nocache"),
                       fresh=tmp_path / "fresh.img", keep=False, mount_options="")
    res = durability.after_run(cell, r, ctx)
    assert res.verdict == "INFRA" and "nocache disk is not what its row claims" in res.detail
    assert res.figures["disk"] == "nocache" and res.report == "" and res.title is None
    # no disk line at all (an old durability.sh, a guest that failed early): INFRA too
    r = SimpleNamespace(cell_text=lambda name: "")
    res = durability.after_run(cell, r, ctx)
    assert res.verdict == "INFRA" and "did not report" in res.detail
