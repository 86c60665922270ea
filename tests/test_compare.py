import json

from harness import compare


def doc(cells):
    return {"results": [{"variant": v, "workload": w, "verdict": verdict, "title": title,
                         "timings": {"boot": boot}} for v, w, verdict, title, boot in cells]}


def write(tmp_path, name, cells):
    d = tmp_path / name
    d.mkdir()
    (d / "result.json").write_text(json.dumps(doc(cells)))
    return d


def test_new_failure_is_a_regression_and_exit_1(tmp_path, capsys):
    a = write(tmp_path, "a", [("fixed", "extending", "PASS", None, 5.0),
                              ("base", "extending", "FAIL", "possible deadlock in x", 5.0)])
    b = write(tmp_path, "b", [("fixed", "extending", "FAIL", "INFO: task hung in y", 5.0),
                              ("base", "extending", "FAIL", "possible deadlock in x", 5.0)])
    assert compare.cmd(str(a), str(b)) == 1
    out = capsys.readouterr().out
    assert "REGRESSION new-failure" in out and "fixed/extending" in out
    assert "1 regression(s), 0 fixed" in out


def test_fixed_and_timing_changes_are_not_regressions(tmp_path, capsys):
    a = write(tmp_path, "a", [("base", "extending", "FAIL", "possible deadlock in x", 5.0)])
    b = write(tmp_path, "b", [("base", "extending", "PASS", None, 12.0)])
    changes = compare.compare(compare.load(a), compare.load(b))
    assert [c.what for c in changes] == ["fixed", "slower"]
    assert compare.cmd(str(a), str(b)) == 0


def test_changed_title_is_a_regression(tmp_path):
    a = {"x/y": {"verdict": "FAIL", "title": "possible deadlock in a", "timings": {}}}
    b = {"x/y": {"verdict": "FAIL", "title": "possible deadlock in b", "timings": {}}}
    (c,) = compare.compare(a, b)
    assert c.what == "title-changed" and c.regression


def test_unreadable_run_is_one_line_error(tmp_path):
    import pytest

    from harness.errors import HarnessError
    with pytest.raises(HarnessError, match="not a results folder"):
        compare.load(tmp_path / "nope")
