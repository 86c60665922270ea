"""Grouping, shrinking and the cost table of the explorer's findings, and its
batching (pure; no VM)."""
import json

from harness import alphabet, exploration, findings
from harness.cases import Case

A = alphabet.load()
BASE = dict(fs="btrfs", mount="nodatasum", prior="committed", meta="none", meta2="none",
            write="inside", size="64k", durability="o_dsync", engine="uring",
            completion="worker", between="nothing", disk="nocache")


def outcome(verdict="FAIL", title="lost O_DSYNC uring write after power cut (btrfs)",
            detail="after ack 0: units=128 /mnt/A unit 0 holds z, allowed 1", **changes):
    c = Case.of(A, dict(BASE, **changes))
    return {"key": c.key, "id": 1, "verdict": verdict, "title": title, "detail": detail,
            "kernel": "7.2-shipped", "signature": {"acks": 2, "syncs": 0, "written_through": True,
                                                   "disk": c["disk"], "flushes": 0,
                                                   "fua_writes": 0, "write_requests": 2,
                                                   "log_commits": 0}}


def test_cases_that_failed_the_same_way_on_the_same_path_group_together():
    g = findings.group([outcome(), outcome(prior="new", write="extending"),
                        outcome(engine="libaio"), outcome(engine="pwrite"),
                        outcome(verdict="PASS")], A)
    sizes = sorted(len(v) for v in g.values())
    # the three async ones together, the synchronous engine apart; a PASS in none
    assert sizes == [1, 3]


def test_a_missing_file_and_a_mount_failure_are_other_failures():
    assert findings.failure_kind(outcome()) == "lost-acked"
    assert findings.failure_kind(outcome(detail="after ack 0: units=8 /mnt/A missing (units 0+8)")) \
        == "lost-acked-file"
    assert findings.failure_kind(outcome(detail="before the writes: units=1 ...")) == \
        "lost-before-writes"
    assert findings.failure_kind(outcome(title="btrfs mount failed after power cut")) == "mount"
    assert findings.failure_kind(outcome(title="WARNING in btrfs_sync_log")).startswith("kernel")


def test_simpler_cases_change_one_dimension_to_an_earlier_value():
    c = Case.of(A, dict(BASE, prior="logged", engine="uring"))
    got = findings.simpler(A, c)
    assert got and all(sum(a != b for a, b in zip(c.values, s.values)) == 1 for s in got)
    assert all(findings.complexity(A, s) < findings.complexity(A, c) for s in got)
    assert all(s["disk"] == c["disk"] for s in got)
    assert all(A.allowed(s.as_dict()) for s in got)


def test_pick_takes_the_simplest():
    a = Case.of(A, dict(BASE, prior="logged"))
    b = Case.of(A, dict(BASE, prior="committed"))
    assert findings.pick(A, [a, b]) == b


def test_cost_per_ack_and_what_differs_between_kernels():
    o1 = outcome(verdict="PASS")
    o2 = dict(outcome(verdict="PASS"), kernel="5.10-fixed",
              signature={"acks": 2, "syncs": 2, "log_commits": 2, "flushes": 4,
                         "fua_writes": 0, "write_requests": 10})
    costs = findings.cost_table([o1, o2])
    assert [(r["kernel"], r["syncs_per_ack"]) for r in costs] == [("5.10-fixed", 1.0),
                                                                 ("7.2-shipped", 0.0)]
    grown = findings.grown(costs)
    assert grown[0]["by_kernel"] == {"5.10-fixed": 1.0, "7.2-shipped": 0.0}


def test_batches_are_of_one_disk_and_interleave_the_disks():
    cs = [Case.of(A, dict(BASE, disk=d, size=s)) for d in ("cache", "nocache")
          for s in ("4k", "64k", "1m")]
    got = exploration.batches_of(cs, 2)
    assert [{c["disk"] for _, c in b} for b in got] == [{"cache"}, {"nocache"},
                                                        {"cache"}, {"nocache"}]
    assert sorted(i for b in got for i, _ in b) == list(range(1, 7))


def test_merge_regroups_shards(tmp_path):
    for i, rows in enumerate(([outcome()], [outcome(prior="new"), outcome(verdict="PASS")])):
        d = tmp_path / f"s{i}"
        d.mkdir()
        (d / "explore.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    s = exploration.merge([tmp_path / "s0", tmp_path / "s1"], tmp_path / "out", A)
    assert s["outcomes"] == 3 and len(s["findings"]) == 1
    assert s["findings"][0]["failed"] == 2
    assert "prior=new" in s["findings"][0]["case"]       # the simpler of the two
    assert (tmp_path / "out" / "summary.json").is_file()


def test_a_finding_says_how_to_run_it_again():
    from harness import cli
    f = {"kernel": "7.2-fix-writethrough", "case": Case.of(A, BASE).key}
    cmd = findings.rerun_command(f)
    args = cli.parser().parse_args(cmd.split()[3:])
    assert args.line == ["7.2"] and args.variant == ["fix-writethrough"]
    assert "prior=committed" in args.only and args.budget == 0
