import json

import pytest

from harness import compare
from harness.errors import HarnessError


def doc(cells):
    """cells: (variant, workload, verdict, title, boot[, extra keys])"""
    return {"results": [{"variant": v, "workload": w, "verdict": verdict, "title": title,
                         "timings": {"boot": boot}, **(more[0] if more else {})}
                        for v, w, verdict, title, boot, *more in cells]}


def write(tmp_path, name, cells):
    d = tmp_path / name
    d.mkdir()
    (d / "result.json").write_text(json.dumps(doc(cells)))
    return d


def test_load_keys_cells_by_line_variant_workload_run(tmp_path):
    d = write(tmp_path, "a", [("base", "extending", "FAIL", "t", 5.0),
                              ("base", "extending", "FAIL", "t", 5.0, {"run": 2}),
                              ("fixed", "libaio", "PASS", None, 5.0,
                               {"line": "6.1", "run": 3})])
    cells = compare.load(d)
    assert sorted(cells) == ["5.10/base/extending/1", "5.10/base/extending/2",
                             "6.1/fixed/libaio/3"]
    assert compare.load(d / "result.json") == cells          # the file works too


def test_new_failure_is_a_regression_and_exit_1(tmp_path, capsys):
    a = write(tmp_path, "a", [("fixed", "extending", "PASS", None, 5.0),
                              ("base", "extending", "FAIL", "possible deadlock in x", 5.0)])
    b = write(tmp_path, "b", [("fixed", "extending", "FAIL", "INFO: task hung in y", 5.0),
                              ("base", "extending", "FAIL", "possible deadlock in x", 5.0)])
    (c,) = compare.compare(compare.load(a), compare.load(b))
    assert (c.cell, c.what, c.regression) == ("5.10/fixed/extending/1", "new-failure", True)
    assert compare.cmd(str(a), str(b)) == 1
    out = capsys.readouterr().out
    assert "REGRESSION new-failure" in out and "5.10/fixed/extending/1" in out
    assert "5.10/base/extending/1" not in out
    assert "1 regression(s), 0 fixed" in out


def test_fixed_and_timing_changes_are_not_regressions(tmp_path, capsys):
    a = write(tmp_path, "a", [("base", "extending", "FAIL", "possible deadlock in x", 5.0)])
    b = write(tmp_path, "b", [("base", "extending", "PASS", None, 12.0)])
    changes = compare.compare(compare.load(a), compare.load(b))
    assert [(c.cell, c.what) for c in changes] == [("5.10/base/extending/1", "fixed"),
                                                   ("5.10/base/extending/1", "slower")]
    assert not any(c.regression for c in changes)
    assert compare.cmd(str(a), str(b)) == 0
    assert "0 regression(s), 1 fixed" in capsys.readouterr().out


def test_changed_title_is_a_regression():
    a = {"5.10/x/y/1": {"verdict": "FAIL", "title": "possible deadlock in a", "timings": {}}}
    b = {"5.10/x/y/1": {"verdict": "FAIL", "title": "possible deadlock in b", "timings": {}}}
    (c,) = compare.compare(a, b)
    assert c.what == "title-changed" and c.regression


def test_same_variant_and_workload_on_two_lines_are_different_cells(tmp_path):
    a = write(tmp_path, "a", [("fixed", "extending", "PASS", None, 5.0, {"line": "5.10"})])
    b = write(tmp_path, "b", [("fixed", "extending", "PASS", None, 5.0, {"line": "5.10"}),
                              ("fixed", "extending", "FAIL", "possible deadlock in x", 5.0,
                               {"line": "6.1"})])
    cells = compare.load(b)
    assert cells["5.10/fixed/extending/1"]["verdict"] == "PASS"
    assert cells["6.1/fixed/extending/1"]["verdict"] == "FAIL"
    (c,) = compare.compare(compare.load(a), cells)
    assert (c.cell, c.what, c.regression) == ("6.1/fixed/extending/1", "new-cell", False)


def test_unreadable_run_is_one_line_error(tmp_path):
    with pytest.raises(HarnessError, match="not a results folder"):
        compare.load(tmp_path / "nope")


def test_a_cell_gone_from_b_is_a_regression_and_exit_1(tmp_path, capsys):
    """A cell of A that B did not run left its claim unchecked: never fine."""
    a = write(tmp_path, "a", [("fixed", "extending", "PASS", None, 5.0),
                              ("base", "extending", "FAIL", "possible deadlock in x", 5.0)])
    b = write(tmp_path, "b", [("fixed", "extending", "PASS", None, 5.0)])
    (c,) = compare.compare(compare.load(a), compare.load(b))
    assert (c.cell, c.what, c.regression) == ("5.10/base/extending/1", "gone", True)
    assert (c.before, c.after) == ("FAIL: possible deadlock in x", "-")
    assert compare.cmd(str(a), str(b)) == 1
    out = capsys.readouterr().out
    assert "REGRESSION gone" in out and "5.10/base/extending/1" in out
    assert "1 regression(s), 0 fixed" in out
    assert compare.cmd(str(b), str(a)) == 0          # the other way it is a new cell
    assert "REGRESSION" not in capsys.readouterr().out


def test_identical_runs_print_no_changes(tmp_path, capsys):
    cells = [("fixed", "extending", "PASS", None, 5.0),
             ("base", "extending", "FAIL", "possible deadlock in x", 5.0)]
    a, b = write(tmp_path, "a", cells), write(tmp_path, "b", cells)
    assert compare.cmd(str(a), str(b)) == 0
    assert capsys.readouterr().out.splitlines() == ["no changes", "0 regression(s), 0 fixed"]


def test_json_output_flags_regressions_and_keeps_the_exit_code(tmp_path, capsys):
    a = write(tmp_path, "a", [("fixed", "extending", "PASS", None, 5.0),
                              ("fixed", "overwrite", "PASS", None, 5.0)])
    b = write(tmp_path, "b", [("fixed", "extending", "ERROR", None, 5.0)])
    assert compare.cmd(str(a), str(b), as_json=True) == 1
    doc = json.loads(capsys.readouterr().out)           # nothing but the JSON
    assert doc == [{"cell": "5.10/fixed/extending/1", "what": "new-failure", "before": "PASS",
                    "after": "ERROR", "regression": True},
                   {"cell": "5.10/fixed/overwrite/1", "what": "gone", "before": "PASS",
                    "after": "-", "regression": True}]


def test_small_or_proportionally_small_timing_changes_are_not_reported():
    def run(boot, verdict_at):
        return {"5.10/x/y/1": {"verdict": "PASS", "timings": {"boot": boot,
                                                              "verdict": verdict_at}}}
    assert compare.compare(run(1.0, 100.0), run(2.9, 140.0)) == []   # < 2 s; < 1.5x
    (c,) = compare.compare(run(5.0, 100.0), run(5.0, 40.0))
    assert (c.what, c.before, c.after, c.regression) == ("faster", "verdict 100.0 s",
                                                         "verdict 40.0 s", False)


def test_an_unchanged_failure_is_no_change_and_infra_to_pass_is_fixed():
    a = {"5.10/x/y/1": {"verdict": "FAIL", "title": "t", "timings": {}}}
    b = {"5.10/x/y/1": {"verdict": "FAIL", "title": "t", "timings": {}}}
    assert compare.compare(a, b) == []
    (c,) = compare.compare({"5.10/x/y/1": {"verdict": "INFRA", "timings": {}}},
                           {"5.10/x/y/1": {"verdict": "PASS", "timings": {}}})
    assert (c.what, c.before, c.after, c.regression) == ("fixed", "INFRA", "PASS", False)


def test_a_file_that_is_not_json_is_one_line_error(tmp_path):
    f = tmp_path / "result.json"
    f.write_text("{not json")
    with pytest.raises(HarnessError, match="not a results folder or result.json"):
        compare.load(tmp_path)


def claimed(verdict, title=None, held=True):
    return {"verdict": verdict, "title": title, "as_expected": held, "timings": {}}


@pytest.mark.parametrize("before, after, what, regression", [
    # a positive control that stops failing: the harness went blind, not a fix
    (claimed("FAIL", "possible deadlock in a"), claimed("PASS", None, False),
     "claim-broken", True),
    (claimed("FAIL", "possible deadlock in a"), claimed("ERROR", None, False),
     "claim-broken", True),
    (claimed("PASS"), claimed("FAIL", "WARNING in x", False), "claim-broken", True),
    (claimed("PASS", None, False), claimed("PASS"), "claim-restored", False),
    # one bug, another first symptom of its family: reported, not a regression
    (claimed("FAIL", "WARNING in f"), claimed("FAIL", "BTRFS: assertion failed in f"),
     "other-symptom", False),
    (claimed("FAIL", "a", False), claimed("FAIL", "b", False), "title-changed", True),
])
def test_claimed_cells_compare_by_their_claims(before, after, what, regression):
    (c,) = compare.compare({"6.1/x/y/1": before}, {"6.1/x/y/1": after})
    assert (c.what, c.regression) == (what, regression)


def test_unclaimed_fail_that_turns_error_is_a_regression():
    a = {"t/x/y/1": {"verdict": "FAIL", "title": "possible deadlock in a", "timings": {}}}
    for v in ("ERROR", "INFRA", "UNPROVEN"):
        (c,) = compare.compare(a, {"t/x/y/1": {"verdict": v, "title": None, "timings": {}}})
        assert (c.what, c.regression) == ("verdict-changed", True), v
    same = {"t/x/y/1": claimed("FAIL", "possible deadlock in a")}
    assert compare.compare(same, same) == []
