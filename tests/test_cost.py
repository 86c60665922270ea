"""The cost claim (harness/cost.py): O_DSYNC against fdatasync, per write."""
from harness import cost, workload

LINE = "@@harness cost mode={} writes=16 syncs={} log_commits={} flushes={} fua=0 write_ios={}\n"


def text(dsync, fdatasync=(16, 16, 32, 100)):
    return LINE.format("dsync", *dsync) + LINE.format("fdatasync", *fdatasync)


def test_twice_the_syncs_log_commits_and_flushes_is_a_cost_fail():
    r = cost.judge(text((32, 24, 48, 200)))
    assert r.verdict == "FAIL" and r.kind == "cost"
    assert r.title == "O_DSYNC direct write costs more than write + fdatasync " \
                      "(syncs, log_commits, flushes)"
    assert r.figures["dsync"]["log_commits"] == 1.5


def test_the_same_cost_passes_and_says_what_it_counted():
    r = cost.judge(text((16, 16, 32, 100)))
    assert r.verdict == "PASS" and "log_commits 1 vs 1" in r.detail


def test_one_more_flush_alone_fails():
    r = cost.judge(text((16, 16, 33, 100)))
    assert r.verdict == "FAIL" and r.title.endswith("(flushes)")


def test_missing_counts_or_a_dead_probe_are_no_verdict():
    assert cost.judge(LINE.format("dsync", 16, 16, 32, 100)).verdict == "ERROR"
    assert cost.judge(text((16, 16, 32, 100), (0, 0, 0, 100))).verdict == "ERROR"


def test_every_disk_kind_has_its_cost_row():
    from harness import disks
    names = {w.name for w in workload.all_workloads()}
    assert {f"cost@{d}" for d in disks.kinds()} <= names
