"""The README's claims for every line, written out as the README states
them ("The 5.10 matrix and what it claims", "On 6.1, 6.12 and 7.2", "The
write-through finding"), not read from harness/lines/*.toml.

claims(line) -> {(variant, workload): (verdict, bug)}: verdict PASS, FAIL or
MAY (PASS, or FAIL with the bug), bug the line table's bug id.  Two tiers
hold them: tests/test_readme_claims.py against the line tables (in `make
test`: a table that changes one claim turns it red), and
tests/test_lines_full_vm.py against every line's full matrix run (`make
test-lines`, the nightly tier).
"""
from __future__ import annotations

from harness import lines as linesmod
from harness import workload as workloadmod

PASS, FAIL, MAY = "PASS", "FAIL", "MAY"
SHAPES = ("cow", "prealloc", "extend")                 # the writes that change metadata
OSYNC_TWIN = "cut-cow-osync@nocache"
# the O_DSYNC shapes whose write completes in the writing task, under its
# locks (the seed's deadlock path); libaio and io_uring complete inline on
# their RAM disk
IN_WRITER = ("extending", "overwrite", "libaio", "io_uring", "rwf-dsync", "unaligned",
             "durability", "wb-error", "overwrite-race")
# the disk kinds each line writes O_DSYNC through to: FUA since 4.18 (5.10
# only without the workaround's IOCB_DSYNC clearing), no volatile cache
# since 6.6
WRITES_THROUGH = {"5.10": ("fua",), "6.1": ("fua",), "6.12": ("nocache", "fua"),
                  "7.2": ("nocache", "fua"), "7.3-rc": ("nocache", "fua")}
# revert-unlock x overwrite-race reaches e0391e92f9ab's exit only sometimes
# on 6.1, 7.2 and 7.3-rc (the README's "may" row); 6.12 keeps its PASS claim
MAY_UNLOCK_RACE = ("6.1", "7.2", "7.3-rc")
# the variants of each line and the shapes it does not run, as the README's
# "Kernel lines" table and its "Skipped shapes" say: written here, not taken
# from the table under test (a variant dropped from a table, or a claim
# hidden by skipping its shape, turns the test red)
CURRENT = ("shipped", "rebreak", "revert-race", "revert-unlock", "fix-writethrough")
FIXES = ("fix-double-sync", "fix-both")
# 6.1 also carries the double sync's origin: 8184620ae212's sync ownership
# put back (docs/findings/double-sync.md, "Where it began")
VARIANTS = {"5.10": ("base", "workaround", "fixed", "nosync"),
            "6.1": CURRENT + ("revert-dsync",) + FIXES,
            "6.12": CURRENT + FIXES, "7.2": CURRENT + FIXES, "7.3-rc": CURRENT + FIXES}
# the cost rows ("A second finding: every synchronous O_DSYNC direct write
# is synced twice", docs/findings/double-sync.md): O_DSYNC against fdatasync
COST = {d: f"cost@{d}" for d in ("cache", "nocache", "fua")}
SKIPPED = {"5.10": (), "6.1": (), "6.12": ("libaio", "io_uring"),
           "7.2": ("libaio", "io_uring"), "7.3-rc": ("libaio", "io_uring")}


def cut(prep: str, disk: str) -> str:
    return f"cut-{prep}@{disk}"


def claims(line: str) -> dict[tuple[str, str], tuple[str, str | None]]:
    every = [w.name for w in workloadmod.all_workloads() if w.name not in SKIPPED[line]]
    out = {(v, w): (PASS, None) for v in VARIANTS[line] for w in every}
    variants = VARIANTS[line]

    def fail(variant, names, bug, verdict=FAIL):
        for w in names:
            if w in every:
                out[(variant, w)] = (verdict, bug)

    if line == "5.10":
        nocache = [cut(p, "nocache") for p in (*SHAPES, "nocow")]
        # base: the seed deadlock wherever the write completes in the writer;
        # with FUA it writes through instead (no deadlock) and loses the
        # async syncs of writes that change metadata
        fail("base", [*IN_WRITER, *nocache, OSYNC_TWIN], "seed-deadlock")
        fail("base", [cut(p, "fua") for p in SHAPES], "writethrough-lost-sync")
        fail("workaround", ["unaligned"], "stub-leak")
        # nosync: the async completions lose their sync; a NOCOW overwrite on
        # the disk without a cache is durable once written, on the FUA disk
        # it waits in the cache (5.10 writes nothing with FUA)
        fail("nosync", ["unaligned"], "stub-leak")
        # the cost rows' psync O_DSYNC writes deadlock where iomap syncs them
        # (with FUA it writes them through); the workaround syncs once
        fail("base", [COST["cache"], COST["nocache"]], "seed-deadlock")
        fail("nosync", ["durability", "libaio-async", "io_uring-async",
                        *[cut(p, "nocache") for p in SHAPES],
                        *[cut(p, "fua") for p in (*SHAPES, "nocow")], OSYNC_TWIN], "lost-sync")
        return out

    through = [cut(p, d) for d in WRITES_THROUGH[line] for p in SHAPES]
    # every variant but the fix loses the async O_DSYNC writes that change
    # metadata on a disk the line writes through to
    for v in variants:
        if v not in ("fix-writethrough", "fix-both", "revert-dsync"):
            fail(v, through, "writethrough-lost-sync")
    # revert-dsync: btrfs clears IOCB_DSYNC for iomap again and syncs once
    # itself: no double sync, nothing written through, and the asynchronous
    # completions lose their sync (the bug 8184620ae212 fixed), as 5.10 nosync
    if "revert-dsync" in variants:
        fail("revert-dsync", ["durability", "libaio-async", "io_uring-async",
                              *[cut(p, "nocache") for p in SHAPES],
                              *[cut(p, "fua") for p in (*SHAPES, "nocow")], OSYNC_TWIN],
             "async-dsync-lost")
    # the double sync: iomap's completion syncs, then btrfs again; where the
    # line writes a COW write through, iomap does not sync and btrfs syncs
    # once, unless the write-through fix makes iomap sync it
    synced = [COST[d] for d in COST if d not in WRITES_THROUGH[line]]
    for v in ("shipped", "revert-race", "revert-unlock"):
        fail(v, synced, "double-sync")
    fail("fix-writethrough", list(COST.values()), "double-sync")
    fail("rebreak", synced, "seed-deadlock")
    not_through = [cut(p, d) for d in ("nocache", "fua") if d not in WRITES_THROUGH[line]
                   for p in (*SHAPES, "nocow")]
    # rebreak: the seed deadlock on every O_DSYNC shape that completes in the
    # writer, the O_SYNC twin included (never written through)
    fail("rebreak", [*IN_WRITER, *not_through, OSYNC_TWIN], "seed-deadlock")
    fail("revert-race", ["fsync-race"], "dio-fsync-race")
    fail("revert-unlock", ["wb-error"], "dio-sync-double-unlock")
    if line in MAY_UNLOCK_RACE:
        fail("revert-unlock", ["overwrite-race"], "dio-sync-double-unlock", MAY)
    return out


def table_claims(line: str) -> dict[tuple[str, str], tuple[str, str | None]]:
    """The same, as the line's table states it."""
    L = linesmod.get(line)
    every = [w.name for w in workloadmod.all_workloads() if w.name not in L.skip_workloads]
    out = {}
    for v in L.variants:
        for w in every:
            c = v.claim(w)
            out[(v.name, w)] = (c.verdict, c.bug.id if c.bug else None)
    return out
