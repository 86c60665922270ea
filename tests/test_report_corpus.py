"""The parser against real console logs titled by syzbot (see
benchmarks/bench_report_corpus.py): the figures reached are floors, a little
below what was measured, so that a change that loses reports or titles fails.
The corpus is found beside the checkout (../shared/corpora/) or at
HARNESS_CORPUS; skipped where it is not there, except under CI (CI set),
where a missing corpus fails: the published figures must be checked."""
import importlib.util
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "benchmarks" / "bench_report_corpus.py"
CORPUS = Path(os.environ.get("HARNESS_CORPUS")
              or REPO.parent / "shared" / "corpora" / "syzkaller-linux-reports")

if not CORPUS.is_dir():
    if os.environ.get("CI"):
        raise RuntimeError(f"CI: no report corpus at {CORPUS} (set HARNESS_CORPUS)")
    pytestmark = pytest.mark.skip(reason=f"no corpus at {CORPUS}")


@pytest.fixture(scope="module")
def result():
    spec = importlib.util.spec_from_file_location("bench_report_corpus", BENCH)
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench          # its dataclasses look themselves up there
    spec.loader.exec_module(bench)
    return bench.measure(bench.load(CORPUS))


def test_reports_are_detected(result):
    assert result.detected_pct() >= 97.5, result.headline()        # measured 98.3


def test_titles_are_syzbots(result):
    assert result.exact_pct() >= 92.5, result.headline()           # measured 93.7
    assert result.exact_pct("LOCKDEP") >= 95.5, result.headline()  # measured 97.1
    assert result.exact_pct("HANG") >= 96.5, result.headline()     # measured 98.2


def test_no_false_positives(result):
    assert result.negatives >= 20
    assert result.false_positives == [], result.false_positives


def test_corrupted_flag_mostly_agrees(result):
    t = result.total
    assert t.pct(t.corrupted_agree) >= 88.0, result.headline()     # measured 90.1
