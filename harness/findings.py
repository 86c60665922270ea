"""What the explorer found: failed cases grouped by what went wrong and how
the kernel behaved (their signature), each group shrunk to its simplest
case, and a reproducer kit for it that runs on a real machine without the
harness.  Grouping and shrinking are pure; harness.exploration runs the
shrinking candidates.
"""
from __future__ import annotations

import json
import re
import shutil
import statistics
from dataclasses import dataclass
from pathlib import Path

from harness.cases import Case

SYNC_ENGINES = ("pwrite", "pwritev2")


def failure_kind(outcome: dict) -> str:
    """What broke, in a word: lost data promised by the writes, lost data
    promised before them, a missing file, a mount, fsck, or a kernel report."""
    title = outcome.get("title") or ""
    detail = outcome.get("detail") or ""
    if title.startswith("lost "):
        where = "before-writes" if detail.startswith("before the writes") else "acked"
        return f"lost-{where}" + ("-file" if " missing " in detail else "")
    if "mount failed" in title:
        return "mount"
    if "fsck failed" in title:
        return "fsck"
    return "kernel: " + re.sub(r"\b(0x)?[0-9a-f]{6,}\b", "X", title)


def group_key(outcome: dict, case: Case) -> tuple:
    """Cases that failed the same way on the same path: the file system,
    what broke, how durability was asked, sync or async issue, whether the
    kernel wrote the data through without a sync, and the disk's model."""
    sig = outcome.get("signature", {})
    engine = case["engine"].split("-")[0]
    return (outcome.get("kernel", ""), case["fs"], failure_kind(outcome), case["durability"],
            "sync" if engine in SYNC_ENGINES else "async",
            "written-through" if sig.get("written_through") else "synced",
            sig.get("disk", case["disk"]))


def group(outcomes: list[dict], alphabet) -> dict[tuple, list[dict]]:
    out: dict[tuple, list[dict]] = {}
    for o in outcomes:
        if o["verdict"] != "FAIL":
            continue
        out.setdefault(group_key(o, Case.parse(alphabet, o["key"])), []).append(o)
    return out


def complexity(alphabet, case: Case) -> int:
    """How far from each dimension's first (simplest) value a case is."""
    return sum(alphabet.dim(d).names.index(v) for d, v in case.values)


def simpler(alphabet, case: Case) -> list[Case]:
    """Every case one dimension simpler than `case` (an earlier value of
    that dimension) that the constraints allow; the disk stays."""
    out = []
    for d, v in case.values:
        if d == "disk":
            continue
        names = alphabet.dim(d).names
        for w in names[:names.index(v)]:
            c = case.replace(**{d: w})
            if alphabet.allowed(c.as_dict()):
                out.append(c)
    return out


def pick(alphabet, failing: list[Case]) -> Case:
    return min(failing, key=lambda c: (complexity(alphabet, c), c.key))


def slug(key: tuple) -> str:
    text = "-".join(str(k) for k in key[1:])
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80]


def describe(alphabet, case: Case) -> list[str]:
    return [f"- {d}: `{v}`: {alphabet.dim(d).value(v).what}" for d, v in case.values]


def cost_table(outcomes: list[dict]) -> list[dict]:
    """Median cost per acknowledged write for each (kernel, fs, durability,
    engine, completion, disk): syncs, log commits, flushes, FUA writes,
    write requests.  Deterministic counts: TCG's noise does not blur them."""
    rows: dict[tuple, list[dict]] = {}
    for o in outcomes:
        sig = o.get("signature") or {}
        if not sig.get("acks") or o["verdict"] == "INFRA" or "syncs" not in sig:
            continue
        case = dict(p.split("=", 1) for p in o["key"].split(","))
        key = (o.get("kernel", ""), case["fs"], case["durability"], case["engine"],
               case["completion"], case["disk"])
        rows.setdefault(key, []).append(sig)
    out = []
    for key, sigs in sorted(rows.items()):
        row = dict(zip(("kernel", "fs", "durability", "engine", "completion", "disk"), key))
        row["cases"] = len(sigs)
        for f in ("syncs", "log_commits", "flushes", "fua_writes", "write_requests"):
            row[f"{f}_per_ack"] = round(statistics.median(s.get(f, 0) / s["acks"] for s in sigs), 2)
        out.append(row)
    return out


def grown(costs: list[dict], field: str = "syncs_per_ack") -> list[dict]:
    """Shapes whose cost per ack differs between kernels: (fs, durability,
    engine, completion, disk) with the kernels' figures, the largest first."""
    by: dict[tuple, dict] = {}
    for r in costs:
        by.setdefault((r["fs"], r["durability"], r["engine"], r["completion"], r["disk"]),
                      {})[r["kernel"]] = r[field]
    out = [{"shape": dict(zip(("fs", "durability", "engine", "completion", "disk"), k)),
            "by_kernel": v} for k, v in by.items() if len(set(v.values())) > 1]
    return sorted(out, key=lambda r: -(max(r["by_kernel"].values()) - min(r["by_kernel"].values())))


# ----------------------------------------------------------- reproducers

REPRO_SH = """#!/bin/sh
# Reproducer for: {title}
# Kernel it was found on: {kernel}.  Needs root, and a scratch block device
# whose contents it destroys.  It makes the file system there, runs the
# case, and cuts the power right after {ack} (ack:N: the N-th
# acknowledgement; step:S: step S of case.txt) with
# dm-flakey's drop_writes (nothing written after it reaches the disk, as
# after a real power cut), then mounts and checks every write the kernel
# had promised.  Exit 0: kept; 1: lost (reproduced); 2: not run.
#   ./repro.sh /dev/SCRATCH
set -u
dev=${{1:?usage: $0 /dev/SCRATCH}}
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || {{ echo "repro: needs root"; exit 2; }}
[ -b "$dev" ] || {{ echo "repro: $dev is not a block device"; exit 2; }}
{disk_setup}
exec "$here/explore" repro "$here/case.txt" "$dev" {ack}
"""

DISK_SETUP = {
    "completed": ('# the case needs a disk without a volatile write cache (the kernel writes an\n'
                  '# O_DSYNC direct write through to it): say so for this one (6.6+)\n'
                  'q=/sys/block/$(basename "$(readlink -f "$dev")")/queue/write_cache\n'
                  '[ -w "$q" ] && echo "write through" > "$q"\n'
                  'echo "repro: $dev: $(cat "$q" 2>/dev/null)"'),
    "flushed": ('# the case ran on a disk with a volatile write cache; with FUA it is the\n'
                '# FUA path (NVMe with a cache), which the disk itself must offer\n'
                'q=/sys/block/$(basename "$(readlink -f "$dev")")/queue\n'
                'echo "repro: $dev: $(cat $q/write_cache 2>/dev/null) fua=$(cat $q/fua 2>/dev/null)"'),
}


def repro_case_text(program, cut) -> str:
    """The case file `explore repro` reads: the case on the whole device
    (its region and delay replaced there), then what must hold at the cut."""
    text = program.guest_text(0, 0)
    lines = [f"known /mnt/{p} {','.join(cut.known)}" for p in program.names] if cut.known else []
    return text + "\n".join(lines + [e.line() for e in cut.expects]) + "\n"


def write_kit(where: Path, finding: dict, program, cut, ack: int, binary: Path,
              model: str) -> Path:
    """findings/NN-slug/: repro.sh, the static program, case.txt, README.md."""
    where.mkdir(parents=True, exist_ok=True)
    (where / "case.txt").write_text(repro_case_text(program, cut))
    shutil.copy2(binary, where / "explore")
    sh = REPRO_SH.format(title=finding["title"], kernel=finding["kernel"], ack=ack,
                         disk_setup=DISK_SETUP.get(model, ""))
    (where / "repro.sh").write_text(sh)
    (where / "repro.sh").chmod(0o755)
    (where / "finding.json").write_text(json.dumps(finding, indent=1) + "\n")
    return where


def readme(finding: dict, alphabet) -> str:
    case = Case.parse(alphabet, finding["case"])
    sig = finding.get("signature", {})
    lines = [f"# {finding['title']}", "",
             f"Found by `harness explore` on **{finding['kernel']}** "
             f"({finding['failed']} of {finding['tried']} cases of this group failed; "
             f"this is the simplest).", "", "## The case", "", *describe(alphabet, case), "",
             "## What happened", "", finding["detail"], "",
             "Kernel-side signature of the measured writes: " +
             ", ".join(f"{k} {v}" for k, v in sorted(sig.items())), "",
             "## Reproduce", "",
             "On a real machine, as root, with a scratch disk:", "", "```",
             "./repro.sh /dev/SCRATCH", "```", "",
             "`explore` is the harness's static guest program "
             "(guest-config/workloads/explore.c); `case.txt` is the case and what must "
             "hold after the cut.", ""]
    if finding.get("verified"):
        lines += ["Verified in the harness's guests: " + finding["verified"], ""]
    lines += ["## Run it again in the harness", "", "```", rerun_command(finding), "```", ""]
    return "\n".join(lines)


def rerun_command(finding: dict) -> str:
    """The `harness explore` line that runs exactly this case on its kernel."""
    line, _, variant = finding["kernel"].partition("-")
    case = dict(p.split("=", 1) for p in finding["case"].split(","))
    only = " ".join(f"--only {d}={v}" for d, v in case.items() if d not in ("fs", "disk"))
    return (f".venv/bin/python -m harness explore --line {line} --variant {variant} "
            f"--fs {case['fs']} --disk {case['disk']} {only} --no-shrink --budget 0")
