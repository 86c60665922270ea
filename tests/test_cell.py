"""A cell's one key and the plan line the guest reads."""
import pytest

from harness.cell import LEGACY_LINE, CellKey, PlanLine
from harness.errors import HarnessError


def test_a_cell_key_names_files_results_and_comparisons():
    k = CellKey("6.12", "revert-race", "fsync-race", 3)
    assert (k.id, k.path, k.group, str(k)) == (
        "6.12-revert-race-fsync-race-3", "6.12/revert-race/fsync-race/3",
        ("6.12", "revert-race", "fsync-race"), "6.12-revert-race-fsync-race-3")


def test_a_result_row_from_before_kernel_lines_is_5_10_run_1():
    assert CellKey.of({"variant": "base", "workload": "extending"}) == \
        CellKey(LEGACY_LINE, "base", "extending", 1) == CellKey("5.10", "base", "extending")
    assert CellKey.of({"line": "7.2", "variant": "shipped", "workload": "a", "run": 2}).id == \
        "7.2-shipped-a-2"


def test_a_plan_line_round_trips_and_keeps_bars_in_its_command():
    p = PlanLine("5.10-fixed-extending-1", "delay:/dev/vdb", "nodatasum",
                 "/harness/bin/x a|b")
    assert p.encode() == "5.10-fixed-extending-1|delay:/dev/vdb|nodatasum|/harness/bin/x a|b"
    assert PlanLine.decode(p.encode() + "\n") == p


@pytest.mark.parametrize("fields", [("a|b", "ram", "", "x"), ("a", "ram", "o|p", "x"),
                                    ("a", "ram", "", "x\ny")])
def test_a_plan_line_refuses_what_the_guest_would_split_wrongly(fields):
    with pytest.raises(HarnessError):
        PlanLine(*fields)


def test_text_that_is_not_a_plan_line_is_one_clear_error():
    with pytest.raises(HarnessError, match="not a plan line"):
        PlanLine.decode("just a command")
