"""`harness replay CELL_DIR`: rerun exactly the cell a results folder kept
(its cell.json: line, variant, workload, source, patches), with the cached
build, in a new results folder."""
from __future__ import annotations

import json
from pathlib import Path

from harness import lines as linesmod
from harness import matrix, report, vm
from harness import patches as patchmod
from harness import source as sourcemod
from harness import workload as workloadmod
from harness.errors import HarnessError


def load(cell_dir: Path) -> dict:
    f = cell_dir / "cell.json"
    try:
        return json.loads(f.read_text())
    except (OSError, ValueError):
        raise HarnessError(f"{cell_dir}: no cell.json (give the folder of a cell that did "
                           "not pass, e.g. results/RUN/5.10-base-extending-1)") from None


def variant_of(cell: dict, progress=print) -> sourcemod.Variant:
    line = linesmod.get(cell["line"]) if cell.get("line") not in (None, "tree") else None
    extra = tuple(patchmod.user_patch(p) for p in cell.get("extra_patches", []))
    if cell["source_kind"] == "debian":
        src = sourcemod.resolve(line=line, pin=cell.get("source_version"), progress=progress)
    else:
        src = sourcemod.local_tree(cell["source_path"], line)
        if src.is_git and sourcemod.has_variants(src):
            src = sourcemod.Source("git", src.path, src.label, line, src.version)
    v = sourcemod.variants_for(src, [cell["variant"]] if cell["variant"] != "tree" else None,
                               extra)[0]
    have = sourcemod.commit_of(v)
    if have != cell["source_commit"].removesuffix("-dirty"):
        progress(f"note: the cell was built from {cell['source_commit'][:12]}, the source now "
                 f"gives {have[:12]}")
    return v


def replay(cell_dir: Path, results: str | None, repeat: int = 1, progress=print) -> int:
    cell = load(cell_dir.resolve())
    v = variant_of(cell, progress)
    w = workloadmod.resolve([cell["workload"]])[0]
    outdir = report.new_results_dir(Path(results).resolve() if results else None)
    progress(f"replaying {cell['cell']} ({cell['verdict']} {cell.get('title') or ''}) "
             f"in {outdir}")
    # the CPUs the cell asked for (cell.json's "cpus"; a kit from before it
    # kept them recorded only what the guest brought up)
    s = matrix.Settings(outdir, cpus=int(cell.get("cpus") or vm.DEFAULT_CPUS), jobs=1,
                        repeat=repeat, progress=progress)
    outcome = matrix.run([v], [w], s)
    return report.finish_run(outdir, outcome, [v], s.host.label, s.cpus, repeat)
