"""The session's background fetch of line sources (conftest.Prefetch): which
lines, in which order, and that nothing of it outlives the session."""
import os
import time
from types import SimpleNamespace

from conftest import Prefetch, needed_sources


def item(module_sources=None, fixtures=(), params=None):
    module = SimpleNamespace(SOURCES=module_sources) if module_sources else SimpleNamespace()
    it = SimpleNamespace(module=module, fixturenames=list(fixtures))
    if params is not None:
        it.callspec = SimpleNamespace(params=params)
    return it


def test_the_lines_the_selected_tests_need_in_the_order_they_need_them():
    items = [item(), item(fixtures=["tmp_path"]),
             item(fixtures=["fixed_build", "default_source"]),     # 5.10, through a fixture
             item(("6.1", "6.12", "7.2")), item(("7.2", "6.1")),
             item(("6.12",), fixtures=["default_source"])]
    assert needed_sources(items) == ["5.10", "6.1", "6.12", "7.2"]
    assert needed_sources([item(), item(fixtures=["tmp_path"])]) == []   # unit tests: none
    # a test parametrized by a line (or a tuple that starts with one) needs
    # that line only: `-k 7.2` fetches 7.2, not the module's every line
    full = ("5.10", "6.1", "7.2", "7.3-rc")
    assert needed_sources([item(full, params={"line": "7.2"}),
                           item(full, params={"line": "5.10"})]) == ["7.2", "5.10"]
    assert needed_sources([item(full, params={"wt_run": ("6.1", "fua", ("cow",))})]) == ["6.1"]
    assert needed_sources([item(full, params={"n": 3})]) == list(full)


def test_a_fetch_under_way_is_ended_with_the_session(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    pf = Prefetch(["5.10", "6.1"], tmp_path / "prefetch.log")
    pf.start()
    end = time.monotonic() + 30
    while pf.proc is None and time.monotonic() < end:
        time.sleep(0.1)
    time.sleep(2)                          # apt or the download under way
    p = pf.proc
    assert p is not None and p.poll() is None
    pf.stop()
    assert p.poll() is not None and not pf.is_alive()
    assert pf.proc is p                    # 6.1 never started
    try:                                   # its process group is gone too (tar, git, apt)
        os.killpg(p.pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive
