"""harness.proc's promise that no process outlives the harness, without a
kernel: a worker thread that starts a VM after SIGTERM ended the others
(a cell's write phase done, its power-cut check VM next) gets no VM."""
import io
import os
import threading

import pytest

from harness import proc


@pytest.fixture
def stopping():
    """The state SIGTERM leaves (proc._on_sigterm), undone afterwards."""
    proc._STOPPING.set()
    yield
    proc._STOPPING.clear()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purposes
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().split(") ")[1][0] != "Z"


def test_no_new_console_once_stopping(stopping, tmp_path):
    got = {}

    def worker():
        try:
            proc.spawn_console(["sleep", "60"], open(tmp_path / "c.log", "wb"))
            got["spawned"] = True
        except KeyboardInterrupt as e:
            got["refused"] = str(e)

    t = threading.Thread(target=worker)
    t.start()
    t.join(10)
    assert "refused" in got and "stopping" in got["refused"]
    assert not proc._LIVE
    # nothing called sleep 60 survives (the child was ended at once)
    left = [p for p in os.listdir("/proc") if p.isdigit() and _alive(int(p))
            and open(f"/proc/{p}/cmdline", "rb").read() == b"sleep\x0060\x00"]
    assert not left


def test_no_new_command_once_stopping(stopping):
    with pytest.raises(KeyboardInterrupt):
        proc.stream(["sleep", "60"], timeout=30, log=io.StringIO())
    assert not proc._LIVE


def test_sigterm_ends_what_runs_and_refuses_what_comes(tmp_path):
    c = proc.spawn_console(["sleep", "60"], open(tmp_path / "c.log", "wb"))
    assert c.pid in proc._LIVE
    try:
        with pytest.raises(KeyboardInterrupt):
            proc._on_sigterm(15, None)
        assert not proc._LIVE and not c.alive()
        with pytest.raises(KeyboardInterrupt):
            proc.spawn_console(["sleep", "60"], open(tmp_path / "d.log", "wb"))
    finally:
        proc._STOPPING.clear()
        c.close()
