"""What an O_DSYNC direct write costs, as a claim (the cost@KIND rows).

guest-config/workloads/cost.sh writes 16 COW overwrites twice, O_DSYNC and
plain with an fdatasync after each, and counts what the kernel did for
each: btrfs_sync_file() calls, btrfs_sync_log() calls (log commits), the
disk's flush requests, FUA writes and write requests.  Those counts are the
kernel's own, so TCG's noise cannot blur them.  The claim: asking for
durability with O_DSYNC costs no more than asking for it with fdatasync,
in syncs, log commits and flushes, per write.  More is a FAIL of kind
`cost`, titled with what doubled.
"""
from __future__ import annotations

import re

from harness.afterrun import AfterResult

COST_RE = re.compile(r"@@harness cost mode=(\w+) writes=(\d+) syncs=(\d+) log_commits=(\d+) "
                     r"flushes=(\d+) fua=(\d+) write_ios=(\d+)")
FIELDS = ("syncs", "log_commits", "flushes", "fua", "write_ios")
# what the claim bounds: what makes a write wait (a sync, a log commit, a
# device flush); FUA writes and write requests are reported, not bounded
BOUNDED = ("syncs", "log_commits", "flushes")
TITLE = "O_DSYNC direct write costs more than write + fdatasync"


def parse(text: str) -> dict[str, dict]:
    """mode -> {writes, syncs, log_commits, flushes, fua, write_ios}."""
    out = {}
    for m in COST_RE.finditer(text):
        vals = [int(x) for x in m.groups()[1:]]
        out[m.group(1)] = dict(zip(("writes",) + FIELDS, vals))
    return out


def per_write(counts: dict) -> dict[str, float]:
    n = counts["writes"] or 1
    return {f: round(counts[f] / n, 2) for f in FIELDS}


def judge(text: str) -> AfterResult:
    """PASS when O_DSYNC costs no more than fdatasync in every bounded
    count; FAIL (kind cost) naming what is more; ERROR when a mode's counts
    are missing, or a mode made no sync at all (the counts prove nothing)."""
    got = parse(text)
    missing = [m for m in ("dsync", "fdatasync") if m not in got]
    if missing:
        return AfterResult("ERROR", detail=f"the cost counts of {', '.join(missing)} are "
                                           "missing from the console")
    d, f = per_write(got["dsync"]), per_write(got["fdatasync"])
    figures = {"dsync": d, "fdatasync": f, "writes": got["dsync"]["writes"]}
    if not f["syncs"]:
        return AfterResult("ERROR", detail="fdatasync made no btrfs_sync_file() call: the "
                                           "probe saw nothing", figures=figures)
    more = [k for k in BOUNDED if d[k] > f[k]]
    table = ", ".join(f"{k} {d[k]:g} vs {f[k]:g}" for k in BOUNDED)
    if more:
        return AfterResult("FAIL", title=f"{TITLE} ({', '.join(more)})", kind="cost",
                           detail=f"per write, O_DSYNC vs fdatasync: {table}", figures=figures)
    return AfterResult("PASS", detail=f"per write, O_DSYNC vs fdatasync: {table}",
                       figures=figures)


def after_run(cell, r, ctx) -> AfterResult:
    """The row's after-run check: its console, judged (no VM of its own)."""
    return judge(r.cell_text(cell.id))
