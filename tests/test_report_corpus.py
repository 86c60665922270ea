"""The parser against real console logs titled by syzbot (see
benchmarks/bench_report_corpus.py): the figures reached are floors, a little
below what was measured, so that a change that loses reports or titles fails.
Skipped where the corpus is not on the machine."""
import importlib.util
import sys
from pathlib import Path

import pytest

CORPUS = Path("/work/shared/corpora/syzkaller-linux-reports")
BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_report_corpus.py"

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no corpus at {CORPUS}")


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
