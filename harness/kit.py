"""The reproducer kit of a cell that did not pass, in its folder: what a
kernel developer needs to rerun it without the harness (the kernel's
config, the patches, the plan line, the QEMU command, the workload) or with
`harness replay CELL_DIR` (cell.json)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from harness import build as buildmod
from harness import verdict as verdictmod
from harness import vm
from harness.cell import Cell, PlanLine


def write(cell: Cell, r: vm.VmRun, b: buildmod.Build, cdir: Path, v: verdictmod.Verdict,
          cpus_asked: int) -> None:
    """What a kernel developer needs to rerun a cell that did not pass,
    without the harness or with `harness replay CELL_DIR`."""
    w = cell.workload
    if w.program and w.program.exists():
        shutil.copyfile(w.program, cdir / w.program.name)
    for extra in w.runs_with:
        shutil.copyfile(extra, cdir / extra.name)
    if (b.dir / ".config").exists():
        shutil.copyfile(b.dir / ".config", cdir / "config")
    plan = r.console_log.with_suffix("").with_suffix(".plan")
    mine = next((p for p in map(PlanLine.decode, plan.read_text().splitlines())
                 if p.name == cell.id), None) if plan.exists() else None
    (cdir / "plan").write_text((mine.encode() if mine else "") + "\n")
    command = mine.command if mine else ""
    qemu = r.console_log.with_suffix("").with_suffix(".qemu.sh")
    if qemu.exists():
        shutil.copyfile(qemu, cdir / "qemu.sh")
    patches = cdir / "patches"
    patches.mkdir(exist_ok=True)
    spec = cell.variant.source.line.variant(cell.variant.name) \
        if cell.variant.source.line and cell.variant.ref else None
    listing = []
    for how, paths in (("revert", spec.revert if spec else ()),
                       ("apply", spec.apply if spec else ()),
                       ("apply", tuple(p.path for p in cell.variant.extra))):
        for p in paths:
            shutil.copyfile(p, patches / p.name)
            listing.append(f"{how} {p.name}")
    (patches / "series").write_text("".join(x + "\n" for x in listing))
    (cdir / "cell.json").write_text(json.dumps({
        "cell": cell.id, "line": cell.line, "variant": cell.variant.name,
        "workload": w.name, "run": cell.run, "source": cell.variant.source.label,
        "source_kind": cell.variant.source.kind, "source_path": str(cell.variant.source.path),
        "source_version": cell.variant.source.version,
        "source_commit": b.commit, "build": str(b.dir), "config_hash": b.config_hash,
        "extra_patches": [str(p.path) for p in cell.variant.extra],
        "command": command, "verdict": v.verdict,
        "title": v.title, "cpus": cpus_asked, "cpus_up": r.facts.cpus_up,
        "accelerator": r.accel,
    }, indent=1) + "\n")
    (cdir / "README").write_text(
        f"{cell.id}: {v.verdict} {v.title or v.detail}\n\n"
        f"  harness replay {cdir}        # rerun exactly this cell (cached build)\n\n"
        "Without the harness: build the source commit below with `config`, then run\n"
        "qemu.sh (its -append names the plan file: make one holding the `plan` line,\n"
        "and give each cell a fresh `mkfs.btrfs` image as its disk).\n\n"
        f"source:  {cell.variant.source.label}\ncommit:  {b.commit}\n"
        f"patches: patches/series ({len(listing)} on top of the shipped tree)\n"
        f"command: {command or '?'}\n")
