from harness.report import groups, tally
from harness.verdict import FAIL, PASS, Verdict


def runs(verdicts, line="5.10", variant="base", workload="extending"):
    return [Verdict(line, variant, workload, i + 1, v) for i, v in enumerate(verdicts)]


def test_tally_of_one_run_is_its_verdict():
    assert tally(runs([FAIL])) == "FAIL"
    assert tally(runs([PASS])) == "PASS"


def test_tally_of_identical_runs():
    assert tally(runs([PASS] * 20)) == "PASS 20/20"


def test_tally_of_mixed_runs_lists_the_most_common_first():
    assert tally(runs([PASS, PASS] + [FAIL] * 18)) == "FAIL 18/20, PASS 2/20"
    assert tally(runs([FAIL, "ERROR", "ERROR"])) == "ERROR 2/3, FAIL 1/3"


def test_groups_keep_the_runs_of_each_cell_together_in_order():
    a = runs([PASS, PASS], variant="fixed")
    b = runs([FAIL, FAIL])
    c = runs([PASS], line="6.1", variant="fixed")
    d = runs([PASS], workload="fsync-race")
    interleaved = [a[0], b[0], c[0], a[1], d[0], b[1]]
    assert groups(interleaved) == [a, b, c, d]
    assert [r.run for r in groups(interleaved)[0]] == [1, 2]
    assert groups([]) == []


def test_the_guest_column_and_result_json_carry_a_cells_new_taint():
    from harness.report import _guest, verdict_json
    vs = runs([FAIL, PASS])
    for v in vs:
        v.facts = {"cpus_up": 2, "preempt": "full"}
    vs[0].taint = {"before": 0, "after": 512, "new": "W", "flags": "W"}
    vs[1].taint = {"before": 512, "after": 512, "new": "", "flags": "W"}
    assert _guest(vs) == "2 CPUs, full, tainted W"
    assert _guest(vs[1:]) == "2 CPUs, full"
    assert verdict_json(vs[0])["taint"]["new"] == "W"
