"""The matrix's scheduling rules, without VMs: which cell a stopped VM is
judged in, which run again, the order cells take in a VM, and which shapes
a line skips."""
from pathlib import Path
from types import SimpleNamespace

from harness import chain, lines, matrix, plan, workload
from harness.cell import Cell
from harness.scheduler import ChainQueue
from harness.monitor import CellTimes
from harness.source import Source, Variant



def cache_disk_workloads():
    """The workloads on today's disk kind (the planner's tests were written
    for them; the power-cut rows of other disk kinds wait like durability)."""
    return tuple(w for w in workload.all_workloads() if w.disk == "cache")

def vmrun(reason, cells, report_cell=None, booted=True):
    times = {"booted": 1.0} if booted else {}
    return SimpleNamespace(reason=reason, booted=booted, report_cell=report_cell,
                           cells={n: CellTimes(n, i * 10 + 1) for i, n in enumerate(cells)},
                           times=times)


IDS = ["a", "b", "c", "d"]


def test_a_plan_that_ran_to_the_end_judges_every_cell():
    assert chain.stopping_cell(vmrun("done", IDS), IDS) is None


def test_a_report_stops_at_its_cell_and_later_cells_rerun():
    # the guest went on to "c" after the crash in "b" (the writer was killed,
    # not the kernel): "c" started but must run again on a fresh kernel
    assert chain.stopping_cell(vmrun("report", ["a", "b", "c"], "b"), IDS) == 1


def test_a_hang_stops_at_the_last_started_cell():
    assert chain.stopping_cell(vmrun("no-progress", ["a", "b"]), IDS) == 1


def test_a_report_during_boot_is_the_first_cells():
    assert chain.stopping_cell(vmrun("report", []), IDS) == 0


def test_no_boot_judges_every_cell_infra():
    assert chain.stopping_cell(vmrun("boot-timeout", [], booted=False), IDS) is None


def test_only_a_silent_early_qemu_exit_boots_again():
    def r(reason="eof", booted=False, end=0.9, findings=(), fault=None):
        return SimpleNamespace(reason=reason, booted=booted, findings=list(findings),
                               fault=fault, times={"end": end})
    assert chain.died_early(r())                                  # gone at 0.9 s, silent
    assert not chain.died_early(r(findings=["Kernel panic"]))     # the console says why
    assert not chain.died_early(r(booted=True))                   # userspace: cells judge
    assert not chain.died_early(r(reason="boot-timeout"))         # hung, not gone
    assert not chain.died_early(r(end=45.0))
    assert not chain.died_early(r(fault="parser"))
    # a boot that went silent is booted once more too, unless the console says why
    assert chain.hung_boot(r(reason="boot-hung"))
    assert not chain.hung_boot(r(reason="boot-hung", findings=["INFO: task hung"]))
    assert not chain.hung_boot(r(reason="boot-timeout"))
    assert not chain.hung_boot(r(reason="boot-hung", booted=True))


def variant(line_name, name):
    line = lines.get(line_name)
    src = Source("debian", Path("/nonexistent"), "test", line, "0")
    return Variant(name, src, f"variant/{name}")


def test_cells_claimed_to_pass_run_first_in_a_vm():
    v = variant("5.10", "workaround")
    cells = [Cell(v, w) for w in cache_disk_workloads()]
    order = [c.workload.name for c in plan._vm_order(cells, True)]
    assert order[-1] == "unaligned"           # the one claimed to FAIL (ends the VM)
    assert sorted(order) == sorted(c.workload.name for c in cells)
    # without claims the order is the workloads' own
    assert [c.workload.name for c in plan._vm_order(cells, False)] == \
        [c.workload.name for c in cells]


def test_a_cell_that_may_fail_runs_after_the_passes_before_the_fails():
    v = variant("7.2", "revert-unlock")
    cells = [Cell(v, w) for w in cache_disk_workloads()]
    chain, waiting, quiet = plan.plan_chains(cells, True)
    assert chain[-1].workload.name == "overwrite-race"   # may FAIL: last, and does not end it
    assert [c.workload.name for c in waiting] == ["durability"]
    assert [c.workload.name for c in quiet] == ["wb-error"]   # the timing FAIL, alone
    assert [plan.chain_kind(ch, True) for ch in (chain, waiting, quiet)] == \
        [plan.HEAVY, plan.LIGHT, plan.QUIET]


def test_a_line_skips_its_shapes_unless_asked_by_name():
    said = []
    ws = workload.all_workloads()
    kept = [w.name for w in plan.line_workloads(variant("6.12", "shipped"), ws, (),
                                                said.append)]
    assert "libaio" not in kept and "io_uring" not in kept and "libaio-async" in kept
    assert said and "not running libaio, io_uring" in said[0]
    kept = [w.name for w in plan.line_workloads(variant("6.12", "shipped"), ws, ("libaio",),
                                                said.append)]
    assert "libaio" in kept and "io_uring" not in kept
    assert [w.name for w in plan.line_workloads(variant("5.10", "base"), ws, ("libaio",),
                                                said.append)] == [w.name for w in ws]


def test_cell_ids_carry_the_line():
    c = Cell(variant("6.1", "revert-race"), workload.by_name()["g"], 3)
    assert c.id == "6.1-revert-race-fsync-race-3" and c.line == "6.1"


def test_cells_claimed_to_fail_get_their_own_vms_from_the_start():
    v = variant("7.2", "rebreak")
    cells = [Cell(v, w) for w in cache_disk_workloads()]
    chains = plan.plan_chains(cells, True)
    ids = [c.id for ch in chains for c in ch]
    assert sorted(ids) == sorted(c.id for c in cells)        # every cell, once
    fails = {c.id for c in cells if plan._ends_vm(c, True)}
    assert len(fails) >= 2
    first, *singles = chains
    # the PASS cells share one VM, and the first FAIL ends it; the others stand alone
    assert [plan._ends_vm(c, True) for c in first] == [False] * (len(first) - 1) + [True]
    assert all(len(ch) == 1 and ch[0].id in fails for ch in singles)
    assert len(singles) == len(fails) - 1


def test_a_fail_the_harness_finds_itself_shares_its_vm():
    """5.10 nosync loses acknowledged writes at a power cut (the harness's
    own finding, after the VM; `kernel_report = false` in the line's table):
    the kernel goes on, so those cells share VMs like passing ones instead
    of a boot each.  The seed's deadlock (a kernel report) still ends its VM."""
    from harness import verdict
    cells = [Cell(variant("5.10", "nosync"), w) for w in workload.all_workloads()]
    claims = {c.workload.name: verdict.expectation(c, True) for c in cells}
    lost = [n for n, e in claims.items() if e.verdict == "FAIL" and e.bug.id == "lost-sync"]
    assert len(lost) >= 10 and not any(claims[n].bug.kernel_report for n in lost)
    chains = plan.plan_chains(cells, True)
    assert sorted(c.id for ch in chains for c in ch) == sorted(c.id for c in cells)
    # the lost-sync cells share VMs; a VM of its own only for a kernel report
    # (unaligned's stub leak, once the passing cells fill their VMs)
    assert all(len(ch) > 1 for ch in chains if any(c.workload.name in lost for c in ch))
    singles = [ch[0].workload.name for ch in chains if len(ch) == 1]
    assert all(claims[n].bug and claims[n].bug.kernel_report for n in singles), singles
    assert len(chains) <= 3
    # only the stub leak's assertion (a kernel report) ends a VM: the last cell of one
    assert [c.workload.name for c in cells if plan._ends_vm(c, True)] == ["unaligned"]
    assert [ch[-1].workload.name for ch in chains].count("unaligned") == 1
    base = [Cell(variant("5.10", "base"), w) for w in workload.all_workloads()]
    singles = [ch[0] for ch in plan.plan_chains(base, True) if len(ch) == 1]
    assert len(singles) >= 10
    assert all(verdict.expectation(c, True).bug.id == "seed-deadlock" for c in singles)


def test_a_race_control_gets_a_quiet_chain_of_its_own():
    v = variant("6.1", "revert-race")
    cells = [Cell(v, w) for w in cache_disk_workloads()]
    chains = plan.plan_chains(cells, True)
    # the rest, the two that mostly wait (their own light VM), the race control
    assert [len(ch) for ch in chains] == [len(cells) - 3, 2, 1]
    assert sorted(c.workload.name for c in chains[1]) == ["durability", "wb-error"]
    (race,) = chains[2]
    assert race.workload.name == "fsync-race" and plan.timing_fail(race, True)
    assert [plan.chain_kind(ch, True) for ch in chains] == \
        [plan.HEAVY, plan.LIGHT, plan.QUIET]
    assert sorted(c.id for ch in chains for c in ch) == sorted(c.id for c in cells)
    # the race shapes claimed to PASS stay in the shared chain; so does the
    # seed's deadlock in a race shape (deterministic: it needs no race)
    assert "overwrite-race" in [c.workload.name for c in chains[0]]
    rebreak = [Cell(variant("6.1", "rebreak"), w) for w in cache_disk_workloads()]
    assert not any(plan.timing_fail(c, True) for c in rebreak)
    # the delay-ordered double unlock is a timing claim too
    unlock = Cell(variant("7.2", "revert-unlock"), workload.by_name()["wb-error"])
    assert plan.timing_fail(unlock, True) and not plan.timing_fail(unlock, False)


def test_a_variant_with_one_claimed_fail_stays_one_vm():
    v = variant("5.10", "workaround")
    chains = plan.plan_chains([Cell(v, w) for w in cache_disk_workloads()], True)
    # besides the light VM of the two that mostly wait
    assert len(chains) == 2 and chains[0][-1].workload.name == "unaligned"
    assert all(c.workload.waits for c in chains[1])
    # without claims nothing is known to end a VM: chains of MAX_CELLS_PER_VM
    many = [Cell(v, w, r) for r in (1, 2) for w in cache_disk_workloads()
            if not w.waits][:13]
    assert [len(ch) for ch in plan.plan_chains(many, False)] == [plan.MAX_CELLS_PER_VM, 1]


def test_a_free_vm_slot_takes_the_longest_chain():
    v = variant("6.1", "shipped")
    ws = workload.by_name()
    q = ChainQueue(jobs=2)
    short = [Cell(v, ws["extending"])]
    race = [Cell(v, ws["fsync-race"])]           # 15 s of race on 6.1's shipped
    both = [Cell(v, ws["extending"]), Cell(v, ws["overwrite"])]
    for ch in (short, both, race):
        q.put(ch)
    q.close()
    assert plan.chain_seconds(race) > plan.chain_seconds(both) > plan.chain_seconds(short)
    got = [q.get(), q.get()]
    assert got == [race, both]
    q.done_one(race)
    assert q.get() == short
    for ch in (both, short):
        q.done_one(ch)
    assert q.get() is None


def sharing_queue(jobs=1, shared_jobs=2):
    return ChainQueue(jobs, shared_jobs, lambda ch: plan.chain_kind(ch, True))


def test_only_deterministic_fails_share_the_host():
    ws = workload.by_name()
    rebreak, race = variant("7.2", "rebreak"), variant("7.2", "revert-race")
    deadlock = [Cell(rebreak, ws["extending"])]       # seed-deadlock: deterministic
    assert plan.shareable(deadlock, True)
    assert plan.chain_kind(deadlock, True) == plan.LIGHT
    assert not plan.shareable([Cell(race, ws["fsync-race"])], True)   # a race
    assert not plan.shareable([Cell(rebreak, ws["libaio-async"])], True)  # a PASS
    assert not plan.shareable(deadlock + [Cell(rebreak, ws["libaio-async"])], True)
    assert not plan.shareable(deadlock, False)            # no claims, nothing known
    assert not plan.shareable([Cell(variant("7.2", "revert-unlock"), ws["wb-error"])],
                                True)                      # its delays are timing
    # the seed's deadlock in a race shape is still deterministic: it needs no race
    assert plan.chain_kind([Cell(rebreak, ws["overwrite-race"])], True) == plan.LIGHT


def test_a_light_vm_runs_beside_a_heavy_one_never_two_heavy():
    ws = workload.by_name()
    rebreak = variant("7.2", "rebreak")
    a, b, c = ([Cell(rebreak, ws[w])] for w in ("extending", "overwrite", "rwf-dsync"))
    shipped = variant("7.2", "shipped")
    dur = [Cell(shipped, ws[w]) for w in ("overwrite", "libaio-async", "io_uring-async")]
    short = [Cell(shipped, ws["extending"])]
    q = sharing_queue()
    for ch in (a, b, c, short, dur):
        q.put(ch)
    q.close()
    assert q.get() == dur                     # heavy first, the longest
    assert not q._may_start(short)            # never a second heavy VM beside it
    light = q.get()                           # a deadlock fills the second slot
    assert light in (a, b, c) and not q._may_start(a)    # two VMs at most
    q.done_one(dur)
    assert q.get() == short                   # the heavy chain before the light ones
    q.done_one(light)
    q.done_one(short)
    two = [q.get(), q.get()]                  # the last two deadlocks, side by side
    assert all(x in (a, b, c) for x in two) and len(q.running) == 2


def test_the_default_three_slots_hold_one_heavy_and_two_light_vms():
    ws = workload.by_name()
    rebreak, shipped = variant("6.1", "rebreak"), variant("6.1", "shipped")
    a, b, c = ([Cell(rebreak, ws[w])] for w in ("extending", "overwrite", "rwf-dsync"))
    heavy = [Cell(shipped, ws[w]) for w in ("overwrite", "libaio-async")]
    other = [Cell(shipped, ws["extending"])]
    q = sharing_queue(shared_jobs=matrix.Settings(outdir=None).shared_jobs)
    for ch in (a, b, c, heavy, other):
        q.put(ch)
    assert q.get() == heavy
    lights = [q.get(), q.get()]
    assert all(x in (a, b, c) for x in lights) and len(q.running) == 3
    assert not q._may_start(other) and not any(
        q._may_start(x) for x in (a, b, c) if x not in lights)   # three VMs at most
    q.done_one(lights[0])
    assert not q._may_start(other)            # a free slot is not a second heavy VM


def test_a_race_runs_alone_once_every_build_is_done():
    ws = workload.by_name()
    shipped, rebreak = variant("6.1", "shipped"), variant("6.1", "rebreak")
    race = [Cell(variant("6.1", "revert-race"), ws["fsync-race"])]
    heavy = [Cell(shipped, ws["extending"])]
    light = [Cell(rebreak, ws["extending"])]
    q = sharing_queue()
    for ch in (race, heavy, light):
        q.put(ch)
    assert not q._may_start(race)             # the builder is still at work
    assert q.get() == heavy and q.get() == light
    q.close()                                 # every build done
    assert not q._may_start(race)             # but two VMs still run
    q.done_one(heavy)
    assert not q._may_start(race)
    q.done_one(light)
    assert q.get() == race
    q.put(list(light))
    assert not q._may_start(light)            # nothing beside a race, not even a light VM


def test_a_chain_whose_vm_is_over_makes_room_for_the_next_heavy_one():
    ws = workload.by_name()
    shipped = variant("7.2", "shipped")
    dur = [Cell(shipped, ws["extending"]), Cell(shipped, ws["durability"])]
    nxt = [Cell(shipped, ws["overwrite"])]
    q = sharing_queue()
    q.put(dur)
    q.put(nxt)
    assert q.get() == dur and not q._may_start(nxt)
    q.release(dur)                            # its VM is over: it holds no slot
    assert q.get() == nxt
    with q.light_slot():                      # its power-cut check VM runs beside nxt
        assert len(q.running) == 2
    q1 = sharing_queue(shared_jobs=1)         # --shared-jobs 1: one VM at a time, always
    q1.put(dur)
    q1.put(nxt)
    q1.get()
    q1.release(dur)
    with q1.light_slot():                     # the check VM holds the only slot
        assert not q1._may_start(nxt)
    assert q1._may_start(nxt)


def test_a_check_vm_waits_for_a_slot_like_a_light_chain():
    """The power-cut checks of chains whose VMs are over run side by side in
    the queue's slots, never past them."""
    import threading
    import time
    ws = workload.by_name()
    shipped = variant("7.2", "shipped")
    q = sharing_queue(shared_jobs=1)
    busy = [Cell(shipped, ws["overwrite"])]
    q.put(busy)
    assert q.get() == busy                    # the only slot is taken
    got = []

    def check():
        with q.light_slot():
            got.append(time.monotonic())
    t = threading.Thread(target=check)
    t.start()
    time.sleep(0.3)
    assert not got                            # waiting for the slot
    q.done_one(busy)
    t.join(5)
    assert got and not q.running


def test_a_shared_chain_waits_while_the_host_is_full():
    ws = workload.by_name()
    q = sharing_queue(shared_jobs=1)
    deadlock = [Cell(variant("7.2", "rebreak"), ws["extending"])]
    q.put(deadlock)
    q.put(list(deadlock))
    q.get()
    assert not q._may_start(deadlock)


def test_a_control_that_cannot_be_made_is_infra_on_its_lines_cells_only(tmp_path):
    """A variant whose patches do not apply is INFRA for every cell it would
    have run: its line's workloads (6.12 skips libaio and io_uring), or
    just the --cell cells, never the shapes the line does not run (seen on
    7.3-rc: the INFRA rows listed libaio and io_uring)."""
    from dataclasses import replace

    from harness.source import Broken
    v = variant("6.12", "rebreak")
    v = replace(v, source=replace(v.source, broken=(Broken("rebreak", "hunk 1 failed"),)))
    ws = list(workload.all_workloads())
    s = matrix.Settings(tmp_path, accel="tcg", progress=lambda m: None)
    out = matrix.run([v], ws, s)
    got = {x.workload for x in out.verdicts}
    assert got == {w.name for w in ws} - {"libaio", "io_uring"}
    assert {x.verdict for x in out.verdicts} == {"INFRA"}
    s = matrix.Settings(tmp_path, accel="tcg", progress=lambda m: None,
                        cells=frozenset({("rebreak", "extending")}))
    assert [x.workload for x in matrix.run([v], ws, s).verdicts] == ["extending"]
