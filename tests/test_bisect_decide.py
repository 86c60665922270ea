"""A bisect step's decision from its runs (the end-to-end test is test_bisect)."""
from harness.bisect import decide

DL = "^possible deadlock in btrfs_sync_file$"


def test_k_of_n_runs_make_a_bad_step():
    runs = [("FAIL", "possible deadlock in btrfs_sync_file"), ("PASS", None), ("PASS", None)]
    assert decide(runs, DL, 1)[0] == "bug"
    assert decide(runs, DL, 2)[0] == "no-bug"          # flaky: 1 of 3 is not enough


def test_infra_runs_count_for_nothing():
    runs = [("INFRA", None), ("FAIL", "possible deadlock in btrfs_sync_file"), ("INFRA", None)]
    assert decide(runs, DL, 1) == ("bug", 1, 0, 2)
    assert decide([("INFRA", None)] * 3, DL, 1)[0] == "skip"
    assert decide([("INFRA", None), ("PASS", None)], DL, 1)[0] == "no-bug"


def test_an_unrelated_crash_is_a_skip_not_a_bad():
    runs = [("FAIL", "general protection fault in btrfs_release_delayed_node"), ("PASS", None)]
    assert decide(runs, DL, 1)[0] == "skip"
    runs.append(("FAIL", "possible deadlock in btrfs_sync_file"))
    assert decide(runs, DL, 1)[0] == "bug"              # ours is there too
