"""One cell of the matrix: a workload run on a kernel and judged.  The
matrix (`harness run`) and each bisect step both come through here."""
from __future__ import annotations

from pathlib import Path

from harness import durability, verdict, vm
from harness.workload import Workload


def run(name: str, kernel: Path, workload: Workload, outdir: Path, accel: str,
        host=vm.LOCAL, keep: bool = False) -> tuple[vm.VmRun, tuple, dict]:
    """(the VM run, verdict.judge()'s tuple, the durability check's figures)."""
    extra: dict = {}
    if workload.name == "durability":
        r, extra = durability.run_cell(name, kernel, workload, outdir, accel, host, keep)
    else:
        r = vm.run(name, kernel, workload, outdir, accel, keep_disk=keep, host=host)
    judged = verdict.judge(r)
    if extra and judged[0] == verdict.PASS:
        v, title, detail = durability.judge(extra)
        judged = (v, title, None, "durability" if v != verdict.PASS else None, "", detail)
    return r, judged, extra
