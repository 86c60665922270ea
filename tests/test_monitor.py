from harness.monitor import BOOT_SILENCE, REPORT_MAX, REPORT_QUIET, Monitor

LOCKDEP = """[    6.100000][  T101] 
[    6.100100][  T101] ============================================
[    6.100200][  T101] WARNING: possible recursive locking detected
[    6.100300][  T101] 5.10.223 #1 Not tainted
[    6.100400][  T101] --------------------------------------------
[    6.100500][  T101] python3/101 is trying to acquire lock:
[    6.100600][  T101] ffff888004a1e5c8 (&sb->s_type->i_mutex_key#10){+.+.}-{3:3}, at: btrfs_sync_file+0x9e/0x4f0
"""


def feed_lines(mon, text, now):
    mon.feed(text.encode(), now)


def booted(t0=0.0, **kw):
    m = Monitor(**kw)
    m.start(t0)
    feed_lines(m, "@@harness booted uptime=1\n", t0 + 1.0)
    return m


def test_events_and_timings():
    m = Monitor()
    m.start(100.0)
    feed_lines(m, "[    1.0] booting\n@@harness booted uptime=3.91\n", 104.0)
    feed_lines(m, "@@harness cell-start extending\n@@harness workload-start extending\n"
                  "@@harness progress 1\n", 105.0)
    assert m.times["booted"] == 4.0 and m.times["guest_uptime_at_boot"] == 3.91
    c = m.cells["extending"]
    assert m.current is c and c.times == {"start": 5.0, "workload_start": 5.0}
    assert c.progress == 1 and m.stop_reason(105.5) is None
    feed_lines(m, "@@harness workload-end extending rc=0\n@@harness fsck clean\n", 106.0)
    feed_lines(m, "@@harness cell-end extending\n@@harness done rc=0\n", 107.0)
    assert c.rc == 0 and c.fsck == "" and c.times["workload_end"] == 6.0
    assert c.times["end"] == 7.0 and m.current is None
    assert m.done_rc == 0 and m.stop_reason(107.0) == "done"


def test_two_cells_in_one_vm():
    m = Monitor()
    m.start(0.0)
    feed_lines(m, "[ 0.1] Linux version x\n"                       # line 1
                  "@@harness booted uptime=1\n"                    # 2
                  "@@harness cell-start a\n"                       # 3
                  "@@harness workload-start a\n"                   # 4
                  "@@harness workload-end a rc=0\n"                # 5
                  "@@harness cell-end a rc=0\n", 2.0)              # 6
    feed_lines(m, "@@harness cell-start b\n"                       # 7
                  "@@harness workload-start b\n"                   # 8
                  "@@harness progress 1\n@@harness progress 2\n"   # 9, 10
                  "@@harness workload-end b rc=3\n"                # 11
                  "@@harness cell-end b rc=0\n", 3.0)              # 12
    assert list(m.cells) == ["a", "b"]
    a, b = m.cells["a"], m.cells["b"]
    assert (a.first_line, a.last_line, a.rc, a.progress) == (3, 6, 0, 0)
    assert (b.first_line, b.last_line, b.rc, b.progress) == (7, 12, 3, 2)
    assert a.times["start"] == 2.0 and b.times["start"] == 3.0


def test_cell_end_rc_counts_when_the_workload_printed_none():
    m = booted()
    feed_lines(m, "@@harness cell-start a\n@@harness cell-end a rc=7\n", 2.0)
    assert m.cells["a"].rc == 7 and m.cells["a"].last_line == 3


def test_marker_glued_to_kernel_output_is_still_seen():
    m = Monitor()
    m.start(0.0)
    feed_lines(m, "[    2.000000][    T1] random: crng init done@@harness booted uptime=2.0\n",
               1.0)
    assert m.times["booted"] == 1.0
    feed_lines(m, "[    2.1][    T1] foo@@harness cell-start a\n", 2.0)
    assert m.current is m.cells["a"]


def test_partial_lines_are_joined():
    m = Monitor()
    m.start(0.0)
    m.feed(b"@@harness boo", 1.0)
    assert "booted" not in m.times and m.lineno == 0
    m.feed(b"ted uptime=1\r\n", 1.1)
    assert m.times["booted"] == 1.1 and m.lineno == 1
    m.feed(b"@@harness done rc=0", 2.0)
    assert "done" not in m.times
    m.times["end"] = 3.0            # vm.py sets it before close()
    m.close()
    assert m.times["done"] == 3.0 and m.done_rc == 0


def test_report_stops_the_run_after_a_quiet_spell_not_the_hung_task_timer():
    m = booted()
    feed_lines(m, "@@harness cell-start extending\n@@harness workload-start extending\n", 4.0)
    feed_lines(m, LOCKDEP, 6.0)
    assert m.first_report == "lockdep-recursive" and m.times["first_report"] == 6.0
    assert m.report_cell == "extending"
    assert m.stop_reason(6.0 + REPORT_QUIET - 0.1) is None   # the rest is still coming
    assert m.stop_reason(6.0 + REPORT_QUIET + 0.1) == "report"
    assert m.times["verdict"] == 6.0 + REPORT_QUIET + 0.1
    m2 = booted()
    feed_lines(m2, LOCKDEP, 1.0)
    assert m2.report_cell is None
    for t in range(2, 5):                        # a report that keeps printing
        feed_lines(m2, "[ 9.0][  T101]  btrfs_sync_file+0x9e/0x4f0\n", float(t))
        assert m2.stop_reason(float(t)) is None
    assert m2.stop_reason(1.0 + REPORT_MAX) == "report"


def test_progress_markers_after_a_report_do_not_hold_the_verdict():
    """A race shape's other thread goes on printing progress after the oops:
    the report is out once the kernel is quiet, markers or not."""
    m = booted()
    feed_lines(m, "@@harness cell-start fsync-race\n@@harness workload-start fsync-race\n", 2.0)
    feed_lines(m, LOCKDEP, 3.0)
    t = 3.0
    while t < 3.0 + REPORT_QUIET + 0.2:
        t += 0.1
        feed_lines(m, "@@harness progress 700\n", t)
    assert m.stop_reason(t) == "report"
    assert m.times["verdict"] < 3.0 + REPORT_QUIET + 0.3 < 3.0 + REPORT_MAX
    m2 = booted()                                # a kernel line still coming in
    feed_lines(m2, LOCKDEP, 1.0)
    m2.feed(b"[ 9.0][  T101]  btrfs_sy", 1.4)
    assert m2.stop_reason(1.0 + REPORT_QUIET + 0.1) is None


def test_report_wins_over_done():
    m = booted()
    feed_lines(m, LOCKDEP + "@@harness done rc=0\n", 2.0)
    assert m.stop_reason(2.1) is None and m.stop_reason(2.0 + REPORT_MAX) == "report"


def test_report_in_the_second_cell_belongs_to_it():
    m = booted()
    feed_lines(m, "@@harness cell-start a\n@@harness workload-start a\n"
                  "@@harness workload-end a rc=0\n@@harness cell-end a rc=0\n", 2.0)
    feed_lines(m, "@@harness cell-start b\n@@harness workload-start b\n", 3.0)
    feed_lines(m, LOCKDEP, 5.0)
    assert m.report_cell == "b"
    assert m.cells["b"].times["first_report"] == 5.0
    assert "first_report" not in m.cells["a"].times
    feed_lines(m, LOCKDEP.replace("T101", "T102"), 5.5)     # the first report stays
    assert m.times["first_report"] == 5.0


def test_silent_hang_is_caught_by_the_cells_own_deadline():
    m = booted(deadlines={"slow": 60.0, "quick": 10.0})
    feed_lines(m, "@@harness cell-start slow\n@@harness workload-start slow\n", 2.0)
    feed_lines(m, "@@harness progress 1\n", 5.0)
    assert m.stop_reason(64.9) is None
    assert m.stop_reason(65.1) == "no-progress" and m.times["verdict"] == 65.1

    m = booted(deadlines={"slow": 60.0, "quick": 10.0})
    feed_lines(m, "@@harness cell-start quick\n@@harness workload-start quick\n", 2.0)
    feed_lines(m, "@@harness progress 1\n", 5.0)
    assert m.stop_reason(14.9) is None
    assert m.stop_reason(15.1) == "no-progress"


def test_no_progress_only_while_a_workload_runs():
    m = booted(deadlines={"a": 5.0})
    feed_lines(m, "@@harness cell-start a\n", 2.0)
    assert m.stop_reason(100.0) is None              # fsck, setup: not the workload
    feed_lines(m, "@@harness workload-start a\n@@harness workload-end a rc=0\n", 101.0)
    assert m.stop_reason(200.0) is None


def test_boot_timeout():
    m = Monitor(boot_deadline=30.0)
    m.start(0.0)
    for t in range(1, 30, 5):                       # a slow boot that keeps printing
        feed_lines(m, f"[    {t}.0] Linux version 5.10.223\n", float(t))
        assert m.stop_reason(t + 0.5) is None
    assert m.stop_reason(31.0) == "boot-timeout"
    feed_lines(m, "@@harness booted uptime=30\n", 31.5)
    assert m.stop_reason(32.0) is None


def test_a_boot_that_goes_silent_is_hung():
    m = Monitor(boot_deadline=90.0)
    m.start(0.0)
    assert m.stop_reason(25.0) is None              # nothing printed yet: the deadline decides
    feed_lines(m, "[    0.392000][    T1] Running RCU-tasks wait API self tests\n", 26.0)
    assert m.stop_reason(26.0 + BOOT_SILENCE - 1) is None
    assert m.stop_reason(26.0 + BOOT_SILENCE + 0.5) == "boot-hung"
    feed_lines(m, "@@harness booted uptime=3\n", 27.0)
    assert m.stop_reason(80.0) is None              # in userspace, silence is the cells' business


def test_fsck_results():
    m = booted()
    feed_lines(m, "@@harness cell-start a\n", 2.0)
    assert m.cells["a"].fsck is None
    feed_lines(m, "@@harness fsck clean\n", 2.0)
    assert m.cells["a"].fsck == ""
    feed_lines(m, "@@harness fsck error bad tree\n", 2.0)
    assert m.cells["a"].fsck == "bad tree"
    # a check that failed without an "error" line (killed, crashed) is no clean check
    feed_lines(m, "@@harness fsck error\n", 2.0)
    assert m.cells["a"].fsck == "failed, with no message"


def test_errors_go_to_the_cell_or_the_vm():
    m = booted()
    feed_lines(m, "@@harness error mkfs failed\n", 2.0)
    feed_lines(m, "@@harness cell-start a\n"
                  "@@harness verify-failed x.dat: data mismatch at offset 4096\n", 3.0)
    assert m.errors == ["error: mkfs failed"]
    assert m.cells["a"].errors == ["verify-failed: x.dat: data mismatch at offset 4096"]


# ------------------------------------------------------------------ taint

def test_the_taint_reading_is_kept_per_cell():
    m = booted()
    feed_lines(m, "@@harness cell-start a\n@@harness taint before=0 after=512\n"
                  "@@harness cell-end a rc=0\n@@harness cell-start b\n"
                  "@@harness taint garbled\n@@harness cell-end b rc=0\n", 2.0)
    t = m.cells["a"].taint
    assert (t.before, t.after, t.new) == (0, 512, 512)
    assert t.to_json() == {"before": 0, "after": 512, "new": "W", "flags": "W"}
    assert m.cells["b"].taint is None


def test_a_kernel_line_glued_to_a_tty_marker_is_not_part_of_it():
    """The kernel printed before the tty's newline: the marker keeps its own
    text (a user workload's /dev/kmsg marker is an event of its own)."""
    m = booted()
    feed_lines(m, "@@harness cell-start a\n"
                  "@@harness taint before=0 after=0[   15.419791][    T1] "
                  "@@harness workload-start a\n"
                  "@@harness cell-end a rc=0[   15.5] BTRFS info (device vdb): 12=3\n", 2.0)
    a = m.cells["a"]
    assert (a.taint.before, a.taint.after) == (0, 0)
    assert "workload_start" in a.times and a.rc == 0


def test_the_guest_reads_no_sysctl_with_the_shells_read():
    """A sysctl file answers only a read at offset 0, and the shell's read
    builtin takes one byte at a time: /proc/sys/kernel/tainted's "128" read
    as "1" (P instead of D, seen on 5.10 after an oops)."""
    import re

    from conftest import REPO
    init = (REPO / "guest-config/guest-init.sh").read_text()
    assert not re.search(r"\bread\b[^\n|;]*<\s*/proc/sys/", init)
    assert "$(cat /proc/sys/kernel/tainted)" in init


# ------------------------------------------------- cells in the kernel's order

def _late_report_console() -> str:
    """Cell a's workload set off a report (in a worker) that the kernel
    logged before a's kcell-end (/dev/kmsg, after the kernel was quiet),
    while the tty's markers had gone on: console order is that of two
    writers, the kernel's order is one."""
    body = LOCKDEP.replace("[    6.1", "[    7.1")
    return ("[    0.000000][    T0] Linux version 5.10.223 #1 SMP PREEMPT\n"
            "@@harness booted uptime=1\n"
            "[    5.000000][  T100] @@harness kcell-start a waited=0\n"
            "@@harness cell-start a\n"
            "@@harness workload-start a\n"
            "@@harness workload-end a rc=0\n"
            "@@harness taint before=0 after=0\n"
            "@@harness cell-end a rc=0\n"
            "@@harness cell-start b\n"
            + body +
            "[    8.000000][  T100] @@harness kcell-end a waited=230\n"
            "[    8.100000][  T100] @@harness kcell-start b waited=0\n"
            "@@harness workload-start b\n"
            "@@harness workload-end b rc=0\n"
            "[    9.000000][  T100] @@harness kcell-end b waited=200\n"
            "@@harness taint before=0 after=0\n"
            "@@harness cell-end b rc=0\n"
            "@@harness done rc=0\n")


def test_a_report_logged_before_a_cell_ended_is_that_cells():
    from pathlib import Path

    from harness.kernel_reports import parse
    from harness.vm import VmRun
    text = _late_report_console()
    lines = text.splitlines()
    m = Monitor()
    m.start(0.0)
    feed_lines(m, text, 1.0)
    a, b = m.cells["a"], m.cells["b"]
    assert a.kstart == 3 and a.kend == 1 + lines.index(
        "[    8.000000][  T100] @@harness kcell-end a waited=230")
    assert b.kstart > a.kend
    assert m.report_cell == "a"         # live: the kernel's order, not the tty's
    r = VmRun("vm0", "tcg", Path("/nowhere"), "done", m.times, m.cells, parse(text), text=text)
    (f,) = r.cell_findings("a", ["a", "b"])
    assert "deadlock" in f.title or "recursive" in f.title
    assert r.cell_findings("b", ["a", "b"]) == []
    assert "recursive locking" in r.cell_text("a")
    assert "recursive locking" not in r.cell_text("b")
    assert "workload-start b" in r.cell_text("b") and "workload-start b" not in r.cell_text("a")


def test_without_kernel_markers_the_tty_markers_bound_the_cells():
    """A guest that writes no kcell markers (an older init, a user's own)
    still gets its reports charged by the tty's cell-start."""
    from pathlib import Path

    from harness.kernel_reports import parse
    from harness.vm import VmRun
    text = "\n".join(ln for ln in _late_report_console().splitlines()
                     if "kcell-" not in ln) + "\n"
    m = Monitor()
    m.start(0.0)
    feed_lines(m, text, 1.0)
    assert m.report_cell == "b"
    r = VmRun("vm0", "tcg", Path("/nowhere"), "done", m.times, m.cells, parse(text), text=text)
    assert len(r.cell_findings("b", ["a", "b"])) == 1


def test_the_guest_bounds_cells_through_the_kernel():
    """guest-init.sh writes kcell-start before the tty's cell-start, and
    kcell-end after the kernel was quiet, before the taint is read."""
    from conftest import REPO
    init = (REPO / "guest-config/guest-init.sh").read_text()
    loop = init[init.index("while IFS='|' read"):]
    order = [loop.index(s) for s in ("kmark 0 0 kcell-start", "mark cell-start",
                                     "run_cell ", "kmark 200 3000 kcell-end",
                                     "$(cat /proc/sys/kernel/tainted)", "mark cell-end")]
    assert order == sorted(order)


def test_a_kernel_record_that_cuts_a_tty_marker_leaves_both_whole():
    """Seen on 7.3-rc: kmark's record, printed after its write returned,
    landed inside the tty's next marker ("@@harness cell-s" ... "tart c1"):
    the cell never started for the monitor (ERROR).  The record is read in
    its place, the marker where it ends; line numbers are kept."""
    from harness.kernel_reports import untangle
    console = ("@@harness booted uptime=1\n"
               "@@harness cell-s[   18.969101][  T196] @@harness kcell-start c1 waited=0\n"
               "tart c1\n"
               "@@harness workload-start c1\n"
               "@@harness workload-end c1 rc=0\n"
               "@@harness taint before=0 af[   19.100000][  T197] @@harness kcell-end c1 "
               "waited=200\n"
               "[   19.100001][  T198] BTRFS info (device vdb): last unmount\n"
               "ter=0\n"
               "@@harness cell-end c1 rc=0\n")
    m = Monitor()
    m.start(0.0)
    feed_lines(m, console, 1.0)
    c = m.cells["c1"]
    assert c.first_line == 3 and c.kstart == 2 and c.kend == 6
    assert c.rc == 0 and (c.taint.before, c.taint.after) == (0, 0) and "end" in c.times
    lines = untangle(console).split("\n")
    assert len(lines) == len(console.split("\n"))
    assert lines[1].startswith("[   18.969101][  T196] @@harness kcell-start c1")
    assert lines[2] == "@@harness cell-start c1"
    assert lines[7] == "@@harness taint before=0 after=0"


def test_untangling_leaves_whole_lines_alone():
    from harness.kernel_reports import untangle
    text = ("[    1.000000][    T1] Run /init as init process\n@@harness booted uptime=1\n"
            "plain output\n[    2.000000][   T50] BTRFS: device fsid\n")
    assert untangle(text) == text
