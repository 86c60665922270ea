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
