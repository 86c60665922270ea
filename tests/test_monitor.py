from harness.monitor import REPORT_MAX, Monitor

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


def test_events_and_timings():
    m = Monitor()
    m.start(100.0)
    feed_lines(m, "[    1.0] booting\n@@harness booted uptime=3.91\n", 104.0)
    feed_lines(m, "@@harness workload-start extending\n@@harness progress 1\n", 105.0)
    assert m.times["booted"] == 4.0 and m.times["workload_start"] == 5.0
    assert m.times["guest_uptime_at_boot"] == 3.91
    assert m.progress == 1 and m.stop_reason(105.5) is None
    feed_lines(m, "@@harness workload-end extending rc=0\n@@harness done rc=0\n", 106.0)
    assert m.rc == 0 and m.done_rc == 0 and m.stop_reason(106.0) == "done"


def test_marker_glued_to_kernel_output_is_still_seen():
    m = Monitor()
    m.start(0.0)
    feed_lines(m, "[    2.000000][    T1] random: crng init done@@harness booted uptime=2.0\n", 1.0)
    assert "booted" in m.times


def test_partial_lines_are_joined():
    m = Monitor()
    m.start(0.0)
    m.feed(b"@@harness boo", 1.0)
    assert "booted" not in m.times
    m.feed(b"ted uptime=1\n", 1.1)
    assert "booted" in m.times


def test_report_stops_the_run_after_a_quiet_spell_not_the_hung_task_timer():
    m = Monitor()
    m.start(0.0)
    feed_lines(m, "@@harness booted uptime=3\n@@harness workload-start extending\n", 4.0)
    feed_lines(m, LOCKDEP, 6.0)
    assert m.first_report == "lockdep-recursive" and m.times["first_report"] == 6.0
    assert m.stop_reason(6.2) is None            # the rest of the report is still coming
    assert m.stop_reason(6.7) == "report"        # quiet for REPORT_QUIET
    m2 = Monitor()
    m2.start(0.0)
    feed_lines(m2, LOCKDEP, 1.0)
    for t in range(2, 5):                        # a report that keeps printing
        feed_lines(m2, "[ 9.0][  T101]  btrfs_sync_file+0x9e/0x4f0\n", float(t))
        assert m2.stop_reason(float(t)) is None
    assert m2.stop_reason(1.0 + REPORT_MAX) == "report"


def test_silent_hang_is_caught_by_the_progress_deadline():
    m = Monitor(progress_deadline=10.0)
    m.start(0.0)
    feed_lines(m, "@@harness booted uptime=1\n@@harness workload-start x\n", 2.0)
    feed_lines(m, "@@harness progress 1\n", 5.0)
    assert m.stop_reason(14.9) is None
    assert m.stop_reason(15.1) == "no-progress"


def test_boot_timeout():
    m = Monitor(boot_deadline=30.0)
    m.start(0.0)
    feed_lines(m, "[    0.1] Linux version 5.10.223\n", 1.0)
    assert m.stop_reason(29.0) is None
    assert m.stop_reason(31.0) == "boot-timeout"


def test_verify_failure_is_recorded():
    m = Monitor()
    m.start(0.0)
    feed_lines(m, "@@harness verify-failed x.dat: data mismatch at offset 4096\n", 1.0)
    assert m.errors == ["verify-failed: x.dat: data mismatch at offset 4096"]
