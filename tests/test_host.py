"""The Host interface: what the rest of the harness asks of the machine
that runs QEMU, answered by the host, never by asking which host it is."""
import pytest

from harness import host as hostmod
from harness import workload
from harness.errors import HarnessError


class FarHost(hostmod.Host):
    """A host whose QEMU writes its disks' write logs out of our reach."""
    label = "me@far:22"


def test_this_machine_runs_every_workload():
    ws = list(workload.all_workloads())
    assert hostmod.LOCAL.logs_writes and hostmod.LOCAL.runnable(ws, ()) == ws


def test_a_host_without_the_write_log_leaves_the_power_cut_shapes_out():
    ws = list(workload.all_workloads())
    kept = FarHost().runnable(ws, ("extending",))
    assert kept and not any(w.log_writes for w in kept)
    assert {w.name for w in ws} - {w.name for w in kept} == \
        {w.name for w in ws if w.log_writes} != set()


def test_a_power_cut_shape_asked_for_by_name_is_one_clear_error():
    with pytest.raises(HarnessError, match="durability workload needs its write log here; "
                                           "it cannot run on me@far:22"):
        FarHost().runnable(list(workload.all_workloads()), ("durability",))


def test_the_local_host_answers_its_capabilities_itself():
    assert hostmod.LOCAL.label == "local" and len(hostmod.LOCAL.boot_id()) > 8
    assert FarHost().kvm_device()           # unknown there: the boot probe decides


def test_a_host_that_leaves_the_power_cut_shapes_out_says_why():
    """--remote used to drop them silently: the run printed "as expected",
    exit 0.  The matrix makes their cells INFRA with this reason."""
    ws = list(workload.all_workloads())
    why = FarHost().left_out([w for w in ws if w.log_writes])
    assert why and "me@far:22" in why and "write log" in why
    assert hostmod.LOCAL.left_out(ws) is None
    assert FarHost().left_out([w for w in ws if not w.log_writes]) is None
