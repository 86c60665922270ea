"""judge.judge_cell: which checks a cell gets (no VM: a VmRun as a VM fills it)."""
import dataclasses
from pathlib import Path

from harness import judge, workload
from harness.afterrun import AfterResult
from harness.evidence import GuestFacts
from harness.host import LOCAL
from harness.kernel_reports import Finding
from harness.settings import Settings
from harness.taint import Taint

from test_verdict import BUILD, cell, cell_times, vm_run


def test_a_blocked_tasks_dump_does_not_skip_the_power_cut_check(tmp_path, monkeypatch):
    """The sysrq blocked-tasks dump is informational: the cell's run is
    still clean, so its after-run check (the power cut) runs."""
    called = []

    def after(c, r, ctx):
        called.append(c.id)
        return AfterResult("PASS", detail="24 of 24 cut points")

    wl = dataclasses.replace(workload.by_name()["durability"], after=after)
    c = dataclasses.replace(cell("fixed", "durability"), workload=wl)
    dump = Finding("blocked-tasks", "sysrq", "blocked tasks", None, False, 5, 9, "sysrq w",
                   is_bug=False)
    times = cell_times(taint=Taint(0, 0))
    times = dataclasses.replace(times, name=c.id)
    r = vm_run(findings=[dump], facts=GuestFacts("5.10.223", 2, "full"))
    r.cells = {c.id: times}
    r.text = "boot\n@@harness cell-start " + c.id + "\n"
    (tmp_path / c.id).mkdir()
    monkeypatch.setattr(judge, "kit", type("K", (), {"write": staticmethod(lambda *a: None)}))
    s = Settings(tmp_path, cpus=2)
    judge.judge_cell(c, r, [c.id], BUILD, s, LOCAL, "tcg", None)
    assert called == [c.id]
