"""verdict.judge() on every path, the cell's claim, and the run's exit code,
from the real dataclasses a VM run fills in (no VM here)."""
from pathlib import Path

import pytest

from harness import lines, verdict, workload
from harness.build import Build
from harness.errors import EXIT_BUG, EXIT_OK, EXIT_SKIP
from harness.evidence import Evidence, GuestFacts
from harness.kernel_reports import Finding
from harness.lines import Claim
from harness.afterrun import AfterResult
from harness.cell import Cell
from harness.monitor import CellTimes
from harness.source import Source, Variant
from harness.taint import Taint
from harness.verdict import ERROR, FAIL, INFRA, PASS, UNPROVEN, Verdict
from harness.vm import VmRun

DEADLOCK = "possible deadlock in btrfs_sync_file"
BUILD = Build("base", "5.10-base", "c0ffee" * 6 + "abcd", "cafe", Path("/nowhere"), 1.0, True)
GOOD_GUEST = GuestFacts("5.10.223", 2, "full")


def cell(variant="base", wl="extending", line="5.10", ref="default", extra=()):
    ln = lines.get(line) if line else None
    src = Source("debian", Path("/nowhere"), "debian linux-source-5.10 5.10.223-1", ln)
    ref = f"variant/{variant}" if ref == "default" else ref
    return Cell(Variant(variant, src, ref, extra), workload.by_name()[wl], 1)


def vm_run(reason="done", booted=True, facts=GOOD_GUEST, **kw):
    times = {"booted": 5.0, "guest_uptime_at_boot": 1.25, **kw.pop("times", {})}
    if not booted:
        times.pop("booted")
    return VmRun("vm0", "tcg", Path("/nowhere/console.log"), reason, times, {}, facts=facts, **kw)


def cell_times(rc=0, end=True, taint=Taint(0, 0), **kw):
    t = {"start": 6.0, "workload_start": 6.5, **({"end": 9.0} if end else {})}
    return CellTimes("5.10-base-extending-1", 10, times=t, rc=rc, taint=taint, **kw)


def proven(writes=16, where="dsync_shapes"):
    """Evidence that proves the extending shape: all direct, inline, synced."""
    return Evidence(available=True, direct_bytes=1 << 20, direct_extents=16,
                    completions={where: writes}, syncs={where: writes},
                    stats={"writes": writes, "bytes": 1 << 20})


def finding(title=DEADLOCK, kind="lockdep-recursive", frame="btrfs_sync_file", is_bug=True,
            corrupted=False):
    return Finding(kind, "lockdep", title, frame, corrupted, 100, 140, f"report of {title}",
                   is_bug=is_bug)


def judge(c=None, r=None, times="default", findings=(), ev=None, fsck=None, after=None,
          cpus=2, expectations=True):
    return verdict.judge(c or cell(), r or vm_run(), cell_times() if times == "default" else times,
                         list(findings), ev or proven(), fsck, after, cpus, BUILD, "tcg",
                         expectations)


# ------------------------------------------------------------------ PASS

def test_clean_run_with_proving_evidence_is_pass():
    v = judge(cell("fixed"))
    assert (v.verdict, v.title, v.kind) == (PASS, None, None)
    assert v.detail == "direct 1 MiB, completions 16 inline/0 async, syncs 16 inline/0 async"
    assert v.as_expected is True and str(v.expected) == "PASS"
    assert v.id == "5.10-fixed-extending-1"
    assert v.console_log == "5.10-fixed-extending-1/console.log"
    assert (v.commit, v.config_hash, v.accel) == (BUILD.commit, "cafe", "tcg")
    assert v.timings == {"boot": 5.0, "start": 6.0, "workload_start": 6.5, "verdict": 9.0,
                         "guest_uptime_at_boot": 1.25}
    assert v.evidence["inline_completions"] == 16 and v.facts["cpus_up"] == 2
    assert v.source == "debian linux-source-5.10 5.10.223-1"


def test_pass_keeps_the_after_checks_detail_and_figures():
    after = AfterResult(PASS, detail="48 acknowledged writes survived", figures={"acked": 48})
    v = judge(cell("fixed"), after=after)
    assert v.verdict == PASS and v.detail.startswith("48 acknowledged writes survived; direct ")
    assert v.extra == {"verdict": PASS, "title": None, "kind": None,
                       "detail": "48 acknowledged writes survived", "acked": 48}


def test_pass_on_a_cell_claimed_to_fail_is_unexpected():
    v = judge(cell("base"))
    assert v.verdict == PASS and str(v.expected) == "FAIL seed-deadlock"
    assert v.as_expected is False
    assert verdict.exit_code([v]) == EXIT_BUG


# ------------------------------------------------------------------ FAIL

def test_a_kernel_report_is_fail_with_its_title():
    noise = finding("task blocked in x", "blocked-tasks", "x", is_bug=False)
    r = vm_run("report", times={"first_report": 7.5, "verdict": 8.25})
    v = judge(cell("base"), r, cell_times(end=False), [noise, finding(), finding("second")])
    assert (v.verdict, v.title, v.frame, v.kind) == (FAIL, DEADLOCK, "btrfs_sync_file",
                                                     "lockdep-recursive")
    assert v.report == f"report of {DEADLOCK}" and v.detail == "2 distinct report(s)"
    assert [f.title for f in v.findings] == [DEADLOCK, "second"]     # bugs only
    assert v.timings["first_report"] == 7.5 and v.timings["verdict"] == 8.25
    assert v.as_expected is True
    assert verdict.exit_code([v]) == EXIT_OK


def test_a_report_beats_every_other_problem():
    """A bug report is the verdict even when the cell also broke otherwise."""
    r = vm_run("report", facts=GuestFacts("5.10.223", 1, "full"), errors=["x"])
    v = judge(cell("base"), r, cell_times(rc=3, errors=["bad data"]), [finding()],
              fsck="errors found")
    assert v.verdict == FAIL and v.title == DEADLOCK


def test_a_corrupted_report_says_so():
    v = judge(findings=[finding(corrupted=True)])
    assert v.verdict == FAIL and v.detail == "1 distinct report(s); corrupted report"


def test_a_report_on_a_cell_claimed_to_pass_is_unexpected():
    v = judge(cell("fixed"), findings=[finding()])
    assert v.verdict == FAIL and v.as_expected is False


def test_another_bug_on_a_failing_control_is_unexpected():
    v = judge(cell("base"), findings=[finding("BUG: unable to handle page fault in foo")])
    assert v.verdict == FAIL and v.as_expected is False


@pytest.mark.parametrize("reason", ["no-progress", "deadline"])
def test_no_progress_names_the_blocked_frame(reason):
    blocked = finding("task blocked in btrfs_sync_file", "blocked-tasks", "btrfs_sync_file",
                      is_bug=False)
    r = vm_run(reason, times={"verdict": 40.0})
    v = judge(cell("base"), r, cell_times(end=False), [blocked])
    assert (v.verdict, v.title, v.frame, v.kind) == (
        FAIL, "no progress: task blocked in btrfs_sync_file", "btrfs_sync_file", "no-progress")
    assert v.report == blocked.report and v.findings == []
    assert v.detail == f"the workload printed no progress for its deadline ({reason})"
    assert v.timings["verdict"] == 40.0          # the VM's time: the cell never ended
    assert v.as_expected is False                # a hang is not the seed's lockdep title


def test_no_progress_without_a_blocked_task():
    frameless = finding("task blocked", "blocked-tasks", None, is_bug=False)
    v = judge(r=vm_run("no-progress"), times=cell_times(end=False), findings=[frameless])
    assert (v.verdict, v.title, v.frame, v.report) == (FAIL, "no progress (no kernel report)",
                                                      None, "")


def test_a_cell_that_ended_before_the_deadline_is_not_a_hang():
    v = judge(cell("fixed"), vm_run("deadline"))
    assert v.verdict == PASS


# ------------------------------------------------------------------ ERROR

def test_a_harness_fault_is_error_never_pass():
    fault = "monitor.feed\nTraceback (most recent call last):\n  ...\nKeyError: 'x'\n"
    v = judge(cell("fixed"), vm_run(fault=fault), findings=[finding()])
    assert v.verdict == ERROR and v.title is None
    assert v.detail == "harness fault, not a kernel verdict: monitor.feed KeyError: 'x'"
    assert v.extra["harness_fault"] == fault
    assert v.as_expected is False and verdict.exit_code([v]) == EXIT_BUG


def test_vm_ended_before_the_cell_started():
    v = judge(r=vm_run("eof"), times=None)
    assert v.verdict == ERROR
    assert v.detail == "the VM ended before the cell started (eof)"
    assert "start" not in v.timings and "verdict" not in v.timings


def test_vm_errors_before_the_cell_started_are_the_detail():
    v = judge(r=vm_run("eof", errors=["mount failed", "no /dev/vdb"]), times=None)
    assert (v.verdict, v.detail) == (ERROR, "mount failed; no /dev/vdb")


def test_cell_errors_are_error():
    v = judge(times=cell_times(errors=["verify: extent 3 differs", "short read"]))
    assert (v.verdict, v.detail) == (ERROR, "verify: extent 3 differs; short read")


def test_nonzero_workload_exit_is_error():
    v = judge(times=cell_times(rc=2))
    assert (v.verdict, v.detail) == (ERROR, "workload exited 2")


def test_cell_without_an_end_is_error():
    v = judge(r=vm_run("eof"), times=cell_times(rc=None, end=False))
    assert (v.verdict, v.detail) == (ERROR, "the VM ended before the cell finished (eof)")


def test_btrfs_check_complaint_is_error():
    v = judge(cell("fixed"), fsck="root 5 inode 257 errors 200")
    assert (v.verdict, v.detail) == (ERROR, "btrfs check: root 5 inode 257 errors 200")
    assert v.as_expected is False


# ------------------------------------------------------------------ INFRA

def test_a_kernel_that_did_not_boot_is_infra():
    r = vm_run("boot-timeout", booted=False, tail="Kernel panic - not syncing: VFS")
    v = judge(cell("fixed"), r, None)
    assert v.verdict == INFRA
    assert v.detail == ("kernel did not reach userspace (boot-timeout): "
                        "Kernel panic - not syncing: VFS")
    assert "boot" not in v.timings
    assert verdict.exit_code([v]) == EXIT_SKIP


def test_a_report_before_userspace_is_infra_and_keeps_its_title():
    """A panic during boot (CI: "IO-APIC + timer doesn't work!" under a
    loaded TCG host) means the kernel was not tested: INFRA, which a bisect
    skips, never a FAIL of the cell that had not started; the report is kept."""
    title = "kernel panic: IO-APIC + timer doesn't work! Boot with apic=debug"
    v = judge(cell("fixed"), vm_run("eof", booted=False), None,
              findings=[finding(title, kind="panic", frame=None)])
    assert (v.verdict, v.title, v.kind) == (INFRA, title, "panic")
    assert v.detail == f"kernel did not reach userspace (eof): {title}"
    assert v.report == f"report of {title}"
    assert verdict.exit_code([v]) == EXIT_SKIP and v.as_expected is False


def test_a_boot_failure_without_console_tail_says_only_why():
    v = judge(r=vm_run("eof", booted=False), times=None)
    assert (v.verdict, v.detail) == (INFRA, "kernel did not reach userspace (eof)")


def test_fewer_cpus_than_asked_is_infra_not_pass():
    v = judge(cell("fixed", "fsync-race"), vm_run(facts=GuestFacts("5.10.223", 1, "full")),
              cpus=2)
    assert v.verdict == INFRA
    assert v.detail.startswith("the guest brought up 1 of 2 CPUs")


def test_a_kernel_that_is_not_preemptible_is_infra():
    v = judge(r=vm_run(facts=GuestFacts("5.10.223", 2, "voluntary")))
    assert v.verdict == INFRA and "not preemptible (preemption: voluntary)" in v.detail


def test_infra_helper_keeps_the_claim():
    v = verdict.infra(cell("base"), "make failed")
    assert (v.verdict, v.detail, str(v.expected)) == (INFRA, "make failed", "FAIL seed-deadlock")
    assert v.id == "5.10-base-extending-1" and v.as_expected is False


# --------------------------------------------- after-run checks and evidence

def test_a_failed_after_run_check_is_its_verdict():
    after = AfterResult(FAIL, title="lost O_DSYNC write after power cut (libaio)",
                        detail="47 of 48 survived", kind="durability", report="write 7 lost")
    v = judge(cell("nosync", "durability"), ev=Evidence(), after=after)
    assert (v.verdict, v.title, v.kind, v.report, v.detail) == (
        FAIL, "lost O_DSYNC write after power cut (libaio)", "durability", "write 7 lost",
        "47 of 48 survived")
    assert v.frame is None and v.as_expected is True


def test_an_after_run_check_that_could_not_be_made_is_error():
    v = judge(cell("fixed", "durability"), after=AfterResult(ERROR, detail="after-run check: x"))
    assert (v.verdict, v.title, v.detail) == (ERROR, None, "after-run check: x")


def test_writes_without_their_sync_on_a_cached_device_is_fail():
    ev = proven()
    ev.syncs = {}
    v = judge(cell("nosync", "extending"), ev=ev)
    assert (v.verdict, v.kind) == (FAIL, "evidence")
    assert v.title == "O_DSYNC direct write completed without its sync (inline completion)"
    assert v.detail.startswith("16 O_DSYNC writes, syncs 0 inline / 0 async")


def test_async_completions_without_sync_match_the_nosync_claim():
    ev = Evidence(available=True, direct_bytes=4 << 20, completions={"kworker/1:2": 64},
                  stats={"writes": 64, "bytes": 4 << 20})
    v = judge(cell("nosync", "libaio-async"), ev=ev)
    assert v.title == "O_DSYNC direct write completed without its sync (async completion)"
    assert v.as_expected is True


def test_evidence_that_contradicts_the_claim_is_unproven():
    ev = proven()
    ev.direct_bytes, ev.buffered_bytes = 0, 1 << 20
    v = judge(cell("fixed"), ev=ev)
    assert v.verdict == UNPROVEN and v.title is None
    assert "0 B of 1 MiB went down the direct IO path, 1 MiB buffered" in v.detail
    assert v.as_expected is False and verdict.exit_code([v]) == EXIT_BUG


def test_no_evidence_at_all_is_unproven():
    v = judge(cell("fixed"), ev=Evidence(unavailable="no kprobes"))
    assert v.verdict == UNPROVEN
    assert v.detail == "no kernel-side evidence of the direct IO path (no kprobes)"


def test_a_user_workload_claims_no_path():
    job = workload.Workload("job", "-", "user fio job job.fio", None, ("fio",), direct=False)
    c = Cell(cell("fixed").variant, job)
    v = judge(c, ev=Evidence())
    assert v.verdict == PASS and v.detail == "no evidence (none reported)"


# ---------------------------------------------------------- expectations

def test_expectations_off_or_no_line_expect_pass():
    assert verdict.expectation(cell("base"), expectations=False) is verdict.NO_BUG
    assert verdict.expectation(cell("base", line=None)) is verdict.NO_BUG
    assert verdict.expectation(cell("base", ref=None)) is verdict.NO_BUG
    assert verdict.expectation(cell("base", extra=("my.patch",))) is verdict.NO_BUG
    assert verdict.expectation(cell("base")) == lines.get("5.10").claim("base", "extending")
    v = judge(cell("base"), findings=[finding()], expectations=False)
    assert v.verdict == FAIL and v.as_expected is False      # a bug in a user's tree


def test_no_claim_is_neither_expected_nor_unexpected():
    v = Verdict("5.10", "x", "y", 1, FAIL, "t")
    assert v.as_expected is None and verdict.exit_code([v]) == EXIT_OK


# -------------------------------------------------------------- exit code

def _v(verdict_, expected):
    return Verdict("5.10", "v", "w", 1, verdict_, expected=expected)


def test_exit_code_all_as_expected_is_0():
    assert verdict.exit_code([_v(PASS, Claim(PASS)), _v(FAIL, Claim(FAIL))]) == EXIT_OK


def test_exit_code_unexpected_is_1():
    assert verdict.exit_code([_v(PASS, Claim(PASS)), _v(FAIL, Claim(PASS))]) == EXIT_BUG
    assert verdict.exit_code([_v(PASS, Claim(FAIL))]) == EXIT_BUG
    assert verdict.exit_code([_v(ERROR, Claim(PASS))]) == EXIT_BUG


def test_exit_code_an_unexpected_bug_wins_over_infra():
    """1 before 125: a commit one of whose cells shows the regression is bad,
    whatever another cell could not do; skipping it would let `git bisect
    run` step over the regression.  INFRA alone still skips."""
    vs = [_v(FAIL, Claim(PASS)), _v(INFRA, Claim(PASS)), _v(PASS, Claim(PASS))]
    assert verdict.exit_code(vs) == EXIT_BUG
    assert verdict.exit_code(list(reversed(vs))) == EXIT_BUG
    assert verdict.exit_code([_v(INFRA, Claim(PASS)), _v(PASS, Claim(PASS))]) == 125
    assert verdict.exit_code([_v(INFRA, None)]) == 125


def test_a_power_cut_row_without_its_check_is_not_a_pass():
    """The row needs its after-run check: a clean cell whose check was never
    made (after=None) is ERROR naming it, never a PASS on evidence alone."""
    c = cell("fixed", "durability")
    ev = Evidence(available=True, direct_bytes=3 << 20, direct_extents=48,
                  completions={"dsync_ack": 16, "kworker/u4:1": 32},
                  syncs={"dsync_ack": 16, "kworker/u4:1": 32}, stats={"writes": 48})
    v = judge(c, ev=ev, after=None)
    assert v.verdict == ERROR and "power-cut" in v.detail
    assert v.oracles["missing"] and "power-cut" in v.oracles["missing"]


def test_a_pass_records_the_oracles_it_rests_on():
    v = judge(cell("fixed"))
    assert v.verdict == PASS
    assert set(v.oracles["ran"]) >= {"exit", "kernel", "taint", "evidence"}
    assert not v.oracles["missing"]


def test_an_empty_run_is_not_a_pass():
    assert verdict.exit_code([]) == 2


def test_a_missing_exit_code_is_an_error_not_a_pass():
    v = judge(cell("fixed"), times=cell_times(rc=None))
    assert v.verdict == ERROR and "exit code is missing" in v.detail


def test_an_after_run_check_without_a_verdict_is_an_error_not_a_pass():
    """A check that hands back figures (a dict) and no AfterResult gave no
    verdict: ERROR."""
    v = judge(cell("fixed"), after={"detail": "figures only"})
    assert v.verdict == ERROR and "no verdict" in v.detail


# ------------------------------------------------------------------ taint

def test_a_taint_with_no_recognised_report_fails_with_its_flags():
    """The kernel's own oracle: a WARN the parser did not know is a FAIL."""
    v = judge(cell("fixed"), times=cell_times(taint=Taint(0, 512)))
    assert (v.verdict, v.title, v.kind) == (
        FAIL, "kernel tainted (W) with no recognised report", "taint")
    assert "W: a WARN" in v.detail and v.as_expected is False
    assert v.taint == {"before": 0, "after": 512, "new": "W", "flags": "W"}


def test_a_taint_from_an_earlier_cell_is_not_this_ones():
    v = judge(cell("fixed"), times=cell_times(taint=Taint(512, 512)))
    assert v.verdict == PASS and v.taint["flags"] == "W" and v.taint["new"] == ""


def test_a_taint_with_its_report_is_judged_by_the_report():
    v = judge(cell("base"), findings=[finding()], times=cell_times(taint=Taint(0, 640)))
    assert (v.verdict, v.title) == (FAIL, DEADLOCK)


def test_no_taint_reading_for_a_finished_cell_is_an_error():
    v = judge(cell("fixed"), times=cell_times(taint=None))
    assert v.verdict == ERROR and "no taint reading" in v.detail


def test_no_kernel_banner_is_infra():
    v = judge(cell("fixed"), r=vm_run(facts=GuestFacts()))
    assert v.verdict == INFRA and "no kernel banner" in v.detail
