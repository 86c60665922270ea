"""The matrix's scheduling rules, without VMs: which cell a stopped VM is
judged in, which run again, the order cells take in a VM, and which shapes
a line skips."""
from pathlib import Path
from types import SimpleNamespace

from harness import lines, matrix, workload
from harness.monitor import CellTimes
from harness.source import Source, Variant


def vmrun(reason, cells, report_cell=None, booted=True):
    times = {"booted": 1.0} if booted else {}
    return SimpleNamespace(reason=reason, booted=booted, report_cell=report_cell,
                           cells={n: CellTimes(n, i * 10 + 1) for i, n in enumerate(cells)},
                           times=times)


IDS = ["a", "b", "c", "d"]


def test_a_plan_that_ran_to_the_end_judges_every_cell():
    assert matrix._stopping_cell(vmrun("done", IDS), IDS) is None


def test_a_report_stops_at_its_cell_and_later_cells_rerun():
    # the guest went on to "c" after the crash in "b" (the writer was killed,
    # not the kernel): "c" started but must run again on a fresh kernel
    assert matrix._stopping_cell(vmrun("report", ["a", "b", "c"], "b"), IDS) == 1


def test_a_hang_stops_at_the_last_started_cell():
    assert matrix._stopping_cell(vmrun("no-progress", ["a", "b"]), IDS) == 1


def test_a_report_during_boot_is_the_first_cells():
    assert matrix._stopping_cell(vmrun("report", []), IDS) == 0


def test_no_boot_judges_every_cell_infra():
    assert matrix._stopping_cell(vmrun("boot-timeout", [], booted=False), IDS) is None


def test_only_a_silent_early_qemu_exit_boots_again():
    def r(reason="eof", booted=False, end=0.9, findings=(), fault=None):
        return SimpleNamespace(reason=reason, booted=booted, findings=list(findings),
                               fault=fault, times={"end": end})
    assert matrix.died_early(r())                                  # gone at 0.9 s, silent
    assert not matrix.died_early(r(findings=["Kernel panic"]))     # the console says why
    assert not matrix.died_early(r(booted=True))                   # userspace: cells judge
    assert not matrix.died_early(r(reason="boot-timeout"))         # hung, not gone
    assert not matrix.died_early(r(end=45.0))
    assert not matrix.died_early(r(fault="parser"))


def variant(line_name, name):
    line = lines.get(line_name)
    src = Source("debian", Path("/nonexistent"), "test", line, "0")
    return Variant(name, src, f"variant/{name}")


def test_cells_claimed_to_pass_run_first_in_a_vm():
    v = variant("5.10", "workaround")
    cells = [matrix.Cell(v, w) for w in workload.all_workloads()]
    order = [c.workload.name for c in matrix._vm_order(cells, True)]
    assert order[-1] == "unaligned"           # the one claimed to FAIL (ends the VM)
    assert sorted(order) == sorted(c.workload.name for c in cells)
    # without claims the order is the workloads' own
    assert [c.workload.name for c in matrix._vm_order(cells, False)] == \
        [c.workload.name for c in cells]


def test_a_line_skips_its_shapes_unless_asked_by_name():
    said = []
    s = matrix.Settings(Path("/nonexistent"), progress=said.append)
    ws = workload.all_workloads()
    kept = [w.name for w in matrix._line_workloads(variant("6.12", "shipped"), ws, s)]
    assert "libaio" not in kept and "io_uring" not in kept and "libaio-async" in kept
    assert said and "not running libaio, io_uring" in said[0]
    s.explicit = ("libaio",)
    kept = [w.name for w in matrix._line_workloads(variant("6.12", "shipped"), ws, s)]
    assert "libaio" in kept and "io_uring" not in kept
    assert [w.name for w in matrix._line_workloads(variant("5.10", "base"), ws, s)] == \
        [w.name for w in ws]


def test_cell_ids_carry_the_line():
    c = matrix.Cell(variant("6.1", "revert-race"), workload.by_name()["g"], 3)
    assert c.id == "6.1-revert-race-fsync-race-3" and c.line == "6.1"
