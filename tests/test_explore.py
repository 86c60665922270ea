"""The explorer's judging, from what its VMs print (pure; no VM)."""
from harness import alphabet, cases, explore, powercut
from harness.cases import Case, Timeline

A = alphabet.load()
BASE = dict(fs="btrfs", mount="nodatasum", prior="committed", meta="none", meta2="none",
            write="inside", size="64k", durability="o_dsync", engine="uring",
            completion="worker", between="fsync-other", disk="nocache")
PROG = cases.compile_case(A, Case.of(A, BASE), 3)


def cut(why="after ack 0"):
    return explore.Cut(3, 10, why, (), (), ())


def judge(case_line=(0, "rc=0 acks=2 taint=0,0"), reports=(), cuts=None, results=None,
          creports=None, model_error=None, boot_taint=0, check_taint=None):
    cuts = [cut()] if cuts is None else cuts
    image_of = {id(c): k for k, c in enumerate(cuts)}
    results = {k: ("ok", "expects=1") for k in range(len(cuts))} if results is None else results
    return explore.judge(PROG, case_line, list(reports), cuts, results, creports or {},
                         image_of, model_error, boot_taint, check_taint)


def test_a_pass_names_every_oracle_it_rests_on():
    o = judge()
    assert o.verdict == "PASS" and not o.missing
    assert set(o.oracles) == {"kernel", "taint", "steps", "powercut", "fsck", "check_kernel",
                              "check_taint"}


def test_a_lost_unit_fails_the_case():
    o = judge(results={0: ("lost", "units=8 /mnt/A unit 0 holds z, allowed 1")})
    assert o.verdict == "FAIL" and o.title.startswith("lost O_DSYNC uring write")


def test_a_cut_the_check_vm_never_answered_is_not_a_pass():
    o = judge(results={})
    assert o.verdict == "INFRA" and "powercut" in o.missing


def test_records_that_do_not_fit_are_not_a_pass():
    o = judge(cuts=[], model_error="the trace lost events")
    assert o.verdict == "INFRA" and "powercut" in o.missing


def test_a_case_that_never_finished_is_not_a_pass():
    assert judge(case_line=None).verdict == "INFRA"


def test_an_unrecognised_taint_fails_its_case():
    o = judge(case_line=(0, "rc=0 acks=2 taint=0,512"))
    assert o.verdict == "FAIL" and o.title == "kernel tainted (W) with no recognised report"


def test_a_taint_from_log_replay_fails_the_case_whose_image_it_was():
    o = judge(check_taint={0: 128})
    assert o.verdict == "FAIL" and "(D)" in o.title and "mounted" in o.detail


def test_a_kernel_tainted_at_boot_blinds_the_taint_oracle():
    o = judge(boot_taint=512)
    assert o.verdict == "INFRA" and "taint" in o.missing


def test_no_taint_reading_is_not_a_clean_kernel():
    o = judge(case_line=(0, "rc=0 acks=2"))
    assert o.verdict == "INFRA" and "taint" in o.missing


def test_a_kernel_report_outranks_the_rest():
    o = judge(reports=["WARNING in btrfs_sync_log"],
              results={0: ("lost", "units=1 ...")})
    assert o.verdict == "FAIL" and o.title == "WARNING in btrfs_sync_log"


def test_image_taints_are_charged_to_the_image_before_the_reading():
    prog = [("xcheck-start", 0, "taint=0"), ("xcut", 0, "ok"), ("xcheck-start", 1, "taint=0"),
            ("xcut", 1, "ok"), ("xcheck-start", 2, "taint=512")]
    assert explore.image_taints(prog) == {1: 512}


def test_timelines_from_the_markers():
    ms = [powercut.Marker(1, "kdx op 3 1 start create A"), powercut.Marker(2, "kdx op 3 1 end rc=0"),
          powercut.Marker(5, "kdx w 3 7 0 A 0 4096 00ff"), powercut.Marker(9, "kdx ack 3 7 0 4096"),
          powercut.Marker(10, "kdx w 3 7 1 A 4096 4096 0100"),
          powercut.Marker(12, "kdx err 3 7 1 -5"), powercut.Marker(20, "kdx case 3 end rc=0")]
    tl = explore.timelines(ms)[3]
    assert tl.steps == {1: (1, 2, 0)}
    assert tl.writes == {0: (5, 9, 4096), 1: (10, None, -5)}
    assert tl.case_end == 20


def test_cut_points_every_ack_and_every_step_after_the_writes():
    m = next(s.seq for s in PROG.steps if s.kind == "measure")
    steps = {s.seq: (10 * s.seq, 10 * s.seq + 5, 0) for s in PROG.steps if s.kind != "measure"}
    steps[m] = (10 * m, 10 * m + 5, 0)
    tl = Timeline(steps, {0: (10 * m + 1, 10 * m + 2, 65536), 1: (10 * m + 3, 10 * m + 4, 65536)})
    whys = [why for _, why in explore.cut_points(PROG, tl)]
    assert whys[:3] == ["before the writes", "after ack 0", "after ack 1"]
    assert len(whys) == 3 + sum(1 for s in PROG.steps if s.phase == "between")


def test_repro_cut_of_a_failing_cut():
    cuts = [cut("before the writes"), cut("after ack 1")]
    image_of = {id(c): k for k, c in enumerate(cuts)}
    r = explore.repro_of(PROG, cuts, {0: ("ok", ""), 1: ("lost", "")}, image_of)
    assert r["cut"] == "ack:2"
