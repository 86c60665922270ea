import subprocess
from pathlib import Path
from types import SimpleNamespace

from harness import evidence
from harness.evidence import Evidence, check, guest_facts, parse

STAT = "@@harness stat writes=16 bytes=1048576 direct_bytes=1048576 cpus=2 writer_cpu=0"
DIRECT = [
    STAT,
    "@@harness evidence dio_complete task=kdsync-write n=16",
    "@@harness evidence dio_complete task=kworker/1:3 n=4",
    "@@harness evidence dio_complete task=kdsync-verify n=16",
    "@@harness evidence sync task=kdsync-write n=16",
    "@@harness evidence ordered direct n=16 bytes=1048576",
    "@@harness evidence ordered other n=2 bytes=532480",
    "@@harness evidence overrun n=0",
]

VERSION_510 = ("[    0.000000][    T0] Linux version 5.10.223+ (harness@harness) (gcc (Debian "
               "12.2.0-14+deb12u1) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 {flags}")
SMP2 = "[    0.523898][    T1] smp: Brought up 1 node, 2 CPUs"
VERSION_61 = ("[    0.000000][    T0] Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org) "
              "(gcc-12 (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) "
              "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)")


def claims(direct=True, completions=None, race=False, race_min=0):
    return SimpleNamespace(direct=direct, completions=completions, race=race, race_min=race_min)


def ev_with(completions=None, stats=None, direct_bytes=1 << 20, buffered_bytes=0, syncs=None):
    """Evidence whose O_DSYNC syncs ran where its completions did, unless given."""
    return Evidence(available=True, direct_bytes=direct_bytes, buffered_bytes=buffered_bytes,
                    completions=completions or {},
                    syncs=dict(completions or {}) if syncs is None else syncs,
                    stats={"writes": 16, "bytes": 1 << 20, "direct_bytes": 1 << 20,
                           **(stats or {})})


# ------------------------------------------------------------------ parse

def test_parse_counts_inline_async_and_bytes():
    ev = parse(DIRECT)
    assert ev.available and ev.unavailable == ""
    assert ev.completions == {"kdsync-write": 16, "kworker/1:3": 4, "kdsync-verify": 16}
    assert ev.inline == 16            # the reader's completions are not counted
    assert ev.asynchronous == 4
    assert (ev.direct_extents, ev.direct_bytes) == (16, 1048576)
    assert (ev.buffered_extents, ev.buffered_bytes) == (2, 532480)
    assert ev.overrun == 0
    assert ev.stats == {"writes": 16, "bytes": 1048576, "direct_bytes": 1048576,
                        "cpus": 2, "writer_cpu": 0}


def test_any_other_task_is_inline_and_kworkers_add_up():
    ev = parse(["@@harness evidence dio_complete task=iou-wrk-70 n=3",
                "@@harness evidence dio_complete task=kdsync-write n=2",
                "@@harness evidence dio_complete task=kworker/0:1 n=5",
                "@@harness evidence dio_complete task=kworker/u4:2 n=1",
                "@@harness evidence dio_complete task=kworker/0:1 n=2"])
    assert ev.inline == 5 and ev.asynchronous == 8
    assert ev.completions["kworker/0:1"] == 7


def test_markers_glued_after_kernel_text_are_seen():
    ev = parse(["[ 1.0][ T1] foo@@harness evidence ordered direct n=2 bytes=8192",
                "[ 1.1][ T1] bar@@harness evidence dio_complete task=kworker/1:0 n=2",
                "[ 1.2][ T1] baz@@harness stat writes=2 bytes=8192",
                "[ 1.3][ T1] no marker here: ordered direct n=9 bytes=9"])
    assert ev.available and ev.direct_bytes == 8192 and ev.direct_extents == 2
    assert ev.asynchronous == 2 and ev.stats == {"writes": 2, "bytes": 8192}


def test_stats_sum_counters_and_overwrite_the_rest():
    ev = parse(["@@harness stat writes=16 bytes=1048576 direct_bytes=65536 cpus=2 writer_cpu=0",
                "@@harness stat writes=4 bytes=4096 direct_bytes=4096 cpus=4 writer_cpu=1 "
                "fsyncs=7 fsync_cpu=0"])
    assert ev.stats == {"writes": 20, "bytes": 1052672, "direct_bytes": 69632,
                        "cpus": 4, "writer_cpu": 1, "fsyncs": 7, "fsync_cpu": 0}
    assert not ev.available           # a workload's stats are not kernel evidence


def test_unavailable_keeps_the_reason_and_is_not_available():
    ev = parse([STAT, "@@harness evidence unavailable kprobe iomap_dio_complete: "
                      "No such file or directory"])
    assert not ev.available
    assert ev.unavailable == "kprobe iomap_dio_complete: No such file or directory"
    assert parse([]).available is False
    assert parse(["@@harness evidence overrun n=3"]).overrun == 3


# ------------------------------------------------------------------ check

def test_evidence_of_the_claimed_inline_direct_path_passes():
    ev = parse([l for l in DIRECT if "kworker" not in l])
    assert check(claims(completions="inline"), ev) == []


def test_direct_write_that_went_buffered_is_a_problem():
    ev = ev_with({"kdsync-write": 16}, direct_bytes=0, buffered_bytes=1 << 20)
    (p,) = check(claims(completions="inline"), ev)
    assert "buffered" in p and "1 MiB" in p
    ev.overrun = 5
    assert "lost 5 events" in check(claims(), ev)[0]


def test_unaligned_shape_counts_only_the_direct_bytes():
    ev = parse(["@@harness stat writes=2 bytes=589824 direct_bytes=65536",
                "@@harness evidence ordered direct n=1 bytes=65536",
                "@@harness evidence ordered other n=1 bytes=532480",
                "@@harness evidence dio_complete task=kdsync-write n=2",
                "@@harness evidence sync task=kdsync-write n=2"])
    assert (ev.direct_bytes, ev.buffered_bytes) == (65536, 532480)
    assert check(claims(completions="inline"), ev) == []
    ev.direct_bytes = 65535
    assert len(check(claims(completions="inline"), ev)) == 1


def test_no_direct_writes_reported_is_a_problem():
    ev = ev_with({"kdsync-write": 1}, stats={"writes": 0, "bytes": 0, "direct_bytes": 0})
    assert check(claims(), ev) == ["the workload reported no direct writes"]


def test_unavailable_evidence_is_exactly_one_problem_naming_the_reason():
    ev = parse([STAT, "@@harness evidence unavailable kprobe iomap_dio_complete: EBUSY"])
    problems = check(claims(completions="inline", race=True), ev)
    assert len(problems) == 1
    assert "kprobe iomap_dio_complete: EBUSY" in problems[0]
    assert "the guest reported none" in check(claims(), parse([STAT]))[0]


def test_buffered_claim_needs_no_evidence():
    assert check(claims(direct=False), parse([STAT])) == []


def test_inline_claim_fails_on_any_async_completion():
    assert check(claims(completions="inline"), ev_with({"kdsync-write": 16})) == []
    (p,) = check(claims(completions="inline"),
                 ev_with({"kdsync-write": 15, "kworker/0:2": 1}, syncs={"kdsync-write": 16}))
    assert "1 of 16" in p and "dio worker" in p
    # writes but not a single completion seen anywhere
    assert check(claims(completions="inline"), ev_with({"kdsync-verify": 16}))


def test_async_claim_fails_on_inline_completions():
    assert check(claims(completions="async"), ev_with({"kworker/1:1": 16})) == []
    (p,) = check(claims(completions="async"),
                 ev_with({"kworker/1:1": 14, "iou-wrk-70": 2}, syncs={"kworker/1:1": 16}))
    assert "2 of 16" in p and "inline" in p
    assert check(claims(completions="async"), ev_with({}))


def test_mixed_claim_needs_both_kinds():
    assert check(claims(completions="mixed"), ev_with({"a": 1, "kworker/0:0": 1})) == []
    assert check(claims(completions="mixed"), ev_with({"a": 3}))
    assert check(claims(completions="mixed"), ev_with({"kworker/0:0": 3}))
    # the verifier's completions do not make up the inline side
    assert check(claims(completions="mixed"), ev_with({"kdsync-verify": 3, "kworker/0:0": 3}))


RACE_OK = {"writes": 100, "fsyncs": 50, "writer_cpu": 0, "fsync_cpu": 1, "cpus": 2}


def test_race_passes_on_two_cpus_with_both_loops_running():
    assert check(claims(race=True), ev_with(stats=RACE_OK)) == []


def test_race_fails_on_one_cpu_same_cpu_or_no_fsyncs():
    for bad in ({"fsync_cpu": 0}, {"cpus": 1}, {"fsyncs": 0}, {"writes": 0}):
        problems = check(claims(direct=False, race=True), ev_with(stats=RACE_OK | bad))
        assert len(problems) == 1 and problems[0].startswith("no race"), bad


def test_race_needs_the_rounds_its_row_claims():
    # 5.10's 1 s race once did 95 fsyncs in CI: fewer rounds than claimed is no PASS
    assert check(claims(race=True, race_min=50), ev_with(stats=RACE_OK)) == []
    problems = check(claims(race=True, race_min=51), ev_with(stats=RACE_OK))
    assert problems == ["no race: 100 writes, 50 fsyncs (the shape claims 51 of each)"]


# ------------------------------------------------------------------ guest facts

def test_smp_preempt_guest_with_two_cpus():
    f = guest_facts(VERSION_510.format(flags="SMP PREEMPT harness") + "\n" + SMP2 + "\n")
    assert (f.kernel, f.cpus_up, f.preempt) == ("5.10.223+", 2, "full")
    assert f.preemptible and f.problem(2) is None
    assert "2 of 3 CPUs" in f.problem(3)
    assert f.to_json() == {"kernel": "5.10.223+", "cpus_up": 2, "preempt": "full"}


def test_non_preemptible_kernel_is_a_problem():
    f = guest_facts(VERSION_510.format(flags="SMP harness") + "\n" + SMP2)
    assert f.preempt == "none" and not f.preemptible
    assert "not preemptible" in f.problem(2)


def test_up_kernel_has_one_cpu():
    f = guest_facts(VERSION_510.format(flags="PREEMPT harness"))
    assert f.cpus_up == 1 and f.preempt == "full"
    assert "1 of 2 CPUs" in f.problem(2)


def test_dynamic_preempt_line_decides():
    f = guest_facts(VERSION_61 + "\n" + SMP2 + "\n[    0.1][ T0] Dynamic Preempt: full\n")
    assert (f.kernel, f.cpus_up, f.preempt) == ("6.1.0-18-amd64", 2, "full")
    assert f.problem(2) is None
    f = guest_facts(VERSION_61 + "\n" + SMP2 + "\n[    0.1][ T0] Dynamic Preempt: voluntary\n")
    assert f.preempt == "voluntary" and "not preemptible" in f.problem(2)


def test_singular_cpu_and_rt():
    text = VERSION_510.format(flags="SMP PREEMPT_RT x") + "\nsmp: Brought up 1 node, 1 CPU\n"
    f = guest_facts(text)
    assert f.cpus_up == 1 and f.preempt == "rt"
    assert f.problem(1) is None and "1 of 2 CPUs" in f.problem(2)


def test_no_kernel_banner_or_smp_line_is_a_problem():
    """Silence is not a guest: a console without the banner, or without the
    smp: line, cannot back a verdict (INFRA in judge)."""
    f = guest_facts("garbage\n")
    assert f == evidence.GuestFacts() and "no kernel banner" in f.problem(2)
    f = guest_facts(VERSION_510.format(flags="SMP PREEMPT harness") + "\n")
    assert f.cpus_up is None and "smp: Brought up" in f.problem(2)


# ------------------------------------------------------------------ output

def test_summary_and_json_carry_the_completion_counts():
    ev = parse(DIRECT + ["@@harness stat fsyncs=5 fsync_cpu=1"])
    s = ev.summary()
    assert "completions 16 inline/4 async" in s
    assert "direct 1 MiB" in s and "buffered 520 KiB" in s
    assert "16 writes on CPU0 vs 5 fsyncs on CPU1" in s
    d = ev.to_json()
    assert d["inline_completions"] == 16 and d["async_completions"] == 4
    assert d["direct_bytes"] == 1048576 and d["completions"]["kworker/1:3"] == 4
    assert parse(["@@harness evidence unavailable no tracefs"]).summary() == \
        "no evidence (no tracefs)"


def test_inline_completions_without_their_sync_are_unproven():
    """iomap (6.6+) writes an O_DSYNC direct write through with FUA and skips
    the sync on a device with FUA or without a volatile cache: the inline
    completions are there, the path of the seed's deadlock is not."""
    ev = ev_with({"kdsync-write": 16}, syncs={})
    (p,) = check(claims(completions="inline"), ev)
    assert "sync ran 0 times in the submitter" in p and "written through" in p
    ev = ev_with({"kworker/0:1": 16}, syncs={"kdsync-write": 16})
    assert any("ran 0 times in a worker" in p
               for p in check(claims(completions="async"), ev))
    # the fsync thread's own fsyncs are not the O_DSYNC sync
    ev = parse([STAT, "@@harness evidence dio_complete task=kdsync-write n=16",
                "@@harness evidence sync task=kdsync-fsync n=40",
                "@@harness evidence ordered direct n=16 bytes=1048576"])
    assert (ev.sync_inline, ev.sync_async) == (0, 0)


def test_a_missing_sync_on_a_cached_device_is_a_kernel_bug():
    cached = SimpleNamespace(direct=True, completions="async", race=False, needs_sync=True)
    ev = ev_with({"kworker/0:1": 16}, syncs={})
    assert evidence.missing_sync(cached, ev) == \
        "O_DSYNC direct write completed without its sync (async completion)"
    assert evidence.missing_sync(cached, ev_with({"kworker/0:1": 16})) is None
    # brd has no volatile cache: iomap may write through instead (not a bug)
    ram = SimpleNamespace(direct=True, completions="inline", race=False, needs_sync=False)
    assert evidence.missing_sync(ram, ev_with({"kdsync-write": 16}, syncs={})) is None
    assert check(ram, ev_with({"kdsync-write": 16}, syncs={}))       # but it proves nothing


def test_a_write_through_that_left_metadata_unsynced_is_a_kernel_bug():
    """7.2 on brd (measured): the extending AIO writes that completed inline
    were synced by btrfs_do_write_iter(), the ones a worker completed were
    not.  Before, missing_sync() exempted every device without a volatile
    cache; only a write that changes no metadata may go unsynced there."""
    from harness import workload
    libaio = workload.by_name()["libaio"]                  # brd, extending writes
    ev = ev_with({"kdsync-write": 42, "kworker/0:0": 11, "kworker/1:1": 11},
                 syncs={"kdsync-write": 42})
    assert libaio.writes_through and libaio.needs_sync
    assert evidence.missing_sync(libaio, ev) == \
        "O_DSYNC direct write completed without its sync (async completion)"
    # a pure overwrite on a disk without a volatile cache may be written through
    nocow = workload.by_name()["cut-nocow@nocache"]
    assert not nocow.needs_sync
    assert evidence.missing_sync(nocow, ev_with({"kworker/0:1": 16}, syncs={})) is None
    cow = workload.by_name()["cut-cow@nocache"]
    assert evidence.missing_sync(cow, ev_with({"kworker/0:1": 16}, syncs={})) == \
        "O_DSYNC direct write completed without its sync (async completion)"
    # FUA: iomap writes a pure overwrite through with REQ_FUA (6.1.192 on
    # the fua disk, measured: 16 worker completions, 0 syncs, all 24 acks
    # present after every cut); everything else still needs its sync
    assert not workload.by_name()["cut-nocow@fua"].needs_sync
    assert workload.by_name()["cut-cow@fua"].needs_sync
    assert workload.by_name()["durability"].needs_sync       # a cache disk, no FUA
    # one worker completion of 16 without its sync is already the bug
    assert evidence.missing_sync(cow, ev_with({"kworker/0:1": 16},
                                              syncs={"kworker/0:1": 15}))


def test_no_completion_seen_is_no_missing_sync():
    """A probe that recorded nothing makes no FAIL: a missing sync needs
    completions seen."""
    cow = SimpleNamespace(direct=True, completions="async", race=False, needs_sync=True)
    assert evidence.missing_sync(cow, ev_with({}, syncs={})) is None


def test_an_inline_claim_needs_one_inline_completion_per_direct_write():
    """One inline completion cannot stand for sixteen: writes that went
    buffered (and synced inline) would hide behind it."""
    few = ev_with({"kdsync-write": 1}, syncs={"kdsync-write": 16})
    (p,) = check(claims(completions="inline"), few)
    assert p == "1 inline completions for 16 direct writes of the measured phase"
    # the workload says how many of its writes were meant to go direct
    ok = ev_with({"kdsync-write": 1}, stats={"direct_writes": 1, "writes": 2},
                 syncs={"kdsync-write": 2})
    assert check(claims(completions="inline"), ok) == []


def test_the_measured_phase_mark_is_written_by_the_shapes_that_prefill():
    """The guest's evidence forgets everything before the mark: the
    shapes with a prefill write it after the prefill."""
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    src = (root / "guest-config/workloads/dsync_shapes.c").read_text()
    init = (root / "guest-config/guest-init.sh").read_text()
    assert src.count("prefill(path") == src.count("phase_measured();")
    assert "tracing_mark_write: kdsync-phase measured" in init


def test_an_async_claim_needs_one_worker_completion_per_direct_write():
    (p,) = check(claims(completions="async"), ev_with({"kworker/1:1": 3},
                                                     syncs={"kworker/1:1": 16}))
    assert p == "3 completions in a dio worker for 16 direct writes of the measured phase"


def test_the_sync_error_is_counted_per_error_and_task():
    ev = parse([*DIRECT, "@@harness evidence sync_error task=xfs_io ret=-5 n=1",
                "x @@harness evidence sync_error task=xfs_io ret=-5 n=2"])
    assert ev.sync_errors == {-5: 3}
    assert ev.sync_error_tasks == {"xfs_io": 3}
    assert "sync returned -5 x3" in ev.summary()
    assert ev.to_json()["sync_errors"] == {-5: 3}


WB = SimpleNamespace(direct=True, completions=None, race=False, race_min=0, sync_error=True)


def test_a_writeback_error_claim_needs_the_sync_to_return_it():
    """wb-error's PASS rested on its script seeing EIO: now the kernel must
    show the error reported to a task that ran btrfs_sync_file()."""
    ev = ev_with(stats={"writes": 1, "direct_bytes": 4096}, direct_bytes=4096,
                 syncs={"xfs_io": 1})
    (problem,) = check(WB, ev)
    assert "no fsync reported a writeback error" in problem
    ev.sync_errors, ev.sync_error_tasks = {-5: 1}, {"xfs_io": 1}
    assert check(WB, ev) == []


def test_a_writeback_error_reported_elsewhere_is_not_the_syncs():
    ev = ev_with(stats={"writes": 1, "direct_bytes": 4096}, direct_bytes=4096,
                 syncs={"xfs_io": 1})
    ev.sync_errors, ev.sync_error_tasks = {-5: 1}, {"sh": 1}
    (problem,) = check(WB, ev)
    assert problem == "the writeback error was reported to sh, which ran no btrfs_sync_file()"


def test_the_wb_error_row_claims_the_sync_error():
    from harness.workload import by_name
    assert by_name()["wb-error"].sync_error


def _guest_awk() -> str:
    """evidence_stop's awk program, as guest-init.sh runs it."""
    init = (Path(__file__).parent.parent / "guest-config/guest-init.sh").read_text()
    body = init[init.index("evidence_stop() {"):]
    return body[body.index("awk '") + 5:body.index("' $T/trace")]


def test_the_guest_reads_the_errno_out_of_the_errseq(tmp_path):
    """The tracepoint prints the file's errseq after the check: the errno
    (EIO, 5) is its low 12 bits, the rest a counter and the SEEN flag."""
    trace = tmp_path / "trace"
    trace.write_text(
        "# tracer: nop\n"
        "  xfs_io-301 [001] ..... 12.5: btrfs_sync_file: (btrfs_sync_file+0x0/0x4a0) "
        "comm=\"xfs_io\"\n"
        "  xfs_io-301 [001] ..... 12.9: file_check_and_advance_wb_err: "
        "file=00000000a1b2c3d4 dev=0:33 ino=0x101 old=0x0 new=0x1005\n"
        "  sh-280 [000] ..... 13.0: file_check_and_advance_wb_err: "
        "file=00000000a1b2c3d5 dev=0:33 ino=0x101 old=0x1005 new=0x1005\n")
    stats = tmp_path / "stats"
    stats.write_text("overrun: 0\n")
    out = subprocess.run(["awk", _guest_awk(), str(trace), str(stats)], check=True,
                         capture_output=True, text=True).stdout
    ev = parse(out.splitlines())
    assert ev.sync_errors == {-5: 2}
    assert ev.sync_error_tasks == {"xfs_io": 1, "sh": 1}
    assert ev.syncs == {"xfs_io": 1}


def test_each_racing_writer_needs_its_own_direct_bytes():
    """overwrite-race: the second writer's direct bytes hid a first writer
    gone buffered, when only totals were compared."""
    lines = ["@@harness stat-thread task=kdsync-write direct_bytes=409600",
             "@@harness stat-thread task=kdsync-write2 direct_bytes=409600",
             "@@harness stat writes=100 fsyncs=100 bytes=819200 direct_bytes=819200 cpus=2 "
             "writer_cpu=0 fsync_cpu=1",
             "@@harness evidence ordered direct n=200 bytes=819200",
             "@@harness evidence ordered_task task=kdsync-write2 n=200 bytes=819200",
             "@@harness evidence overrun n=0"]
    ev = parse(lines)
    assert ev.thread_claims == {"kdsync-write": 409600, "kdsync-write2": 409600}
    assert ev.direct_by_task == {"kdsync-write2": 819200}
    (problem,) = check(claims(), ev)
    assert problem == "kdsync-write: 0 B of its 400 KiB went down the direct IO path"
    ev = parse(lines + ["@@harness evidence ordered_task task=kdsync-write n=100 bytes=409600"])
    assert check(claims(), ev) == []


def test_lost_trace_events_are_never_a_clean_bill():
    """An overrun of 5000 used to leave check() == []: counts from a trace
    that lost events prove nothing."""
    ev = parse([l for l in DIRECT if "kworker" not in l and "overrun" not in l]
               + ["@@harness evidence overrun n=5000"])
    problems = check(claims(completions="inline"), ev)
    assert problems and "lost 5000 events" in problems[0]
    assert evidence.missing_sync(SimpleNamespace(direct=True, completions="inline",
                                                 needs_sync=True, race=False, race_min=0),
                                 ev) is None


def test_the_guest_counts_dropped_and_commit_overrun_events_as_lost(tmp_path):
    trace = tmp_path / "trace"
    trace.write_text("# tracer: nop\n")
    stats = tmp_path / "stats"
    stats.write_text("entries: 10\noverrun: 0\ncommit overrun: 2\nbytes: 100\n"
                     "dropped events: 7\nread events: 0\n")
    out = subprocess.run(["awk", _guest_awk(), str(trace), str(stats)], check=True,
                         capture_output=True, text=True).stdout
    assert parse(out.splitlines()).overrun == 9


def test_an_unmarked_measured_phase_proves_nothing():
    ev = parse([l for l in DIRECT if "kworker" not in l]
               + ["@@harness evidence phase-unmarked trace_marker: No such file or directory"])
    problems = check(claims(completions="inline"), ev)
    assert problems and "not marked" in problems[0]


def test_the_shapes_say_when_they_could_not_mark_the_phase():
    src = (Path(__file__).parent.parent / "guest-config" / "workloads" / "dsync_shapes.c").read_text()
    assert "phase-unmarked" in src
    sh = (Path(__file__).parent.parent / "guest-config" / "workloads" / "wb_error.sh").read_text()
    assert "phase-unmarked" in sh and "trace_marker 2>/dev/null || :" not in sh


def test_an_interrupt_context_or_unnamed_task_is_not_the_submitter():
    """swapper/N (an IRQ-context completion), ksoftirqd and "<...>" (a name
    saved_cmdlines lost) used to count as inline completions."""
    ev = ev_with({"kdsync-write": 8, "swapper/0": 6, "<...>": 2})
    assert ev.inline == 8 and ev.elsewhere == {"swapper/0": 12, "<...>": 4}
    problems = check(claims(completions="inline"), ev)
    assert any("swapper/0" in p for p in problems) and any("<...>" in p for p in problems)
    # an io_uring worker that issued the write is its submitter
    assert ev_with({"iou-wrk-301": 16}).inline == 16


def test_a_marked_preparation_is_left_out_of_the_counts(tmp_path):
    """dsync_ack runs once a mode in one cell: each preparing fsync lies
    between "prepare" and "measured" and is not counted as the O_DSYNC
    writes' sync; a plain "measured" still forgets everything before it."""
    sync = ("  dsync_ack-{p} [000] ..... {t}: btrfs_sync_file: (btrfs_sync_file+0x0/0x4a0) "
            "comm=\"dsync_ack\"\n")
    mark = "  dsync_ack-{p} [000] ..... {t}: tracing_mark_write: kdsync-phase {w}\n"
    trace = tmp_path / "trace"
    trace.write_text("# tracer: nop\n"
                     + mark.format(p=1, t=1.0, w="prepare") + sync.format(p=1, t=1.1)
                     + mark.format(p=1, t=1.2, w="measured") + sync.format(p=1, t=1.3)
                     + mark.format(p=2, t=2.0, w="prepare") + sync.format(p=2, t=2.1)
                     + mark.format(p=2, t=2.2, w="measured") + sync.format(p=2, t=2.3))
    stats = tmp_path / "stats"
    stats.write_text("overrun: 0\n")
    out = subprocess.run(["awk", _guest_awk(), str(trace), str(stats)], check=True,
                         capture_output=True, text=True).stdout
    assert parse(out.splitlines()).syncs == {"dsync_ack": 2}
