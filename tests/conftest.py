import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def default_source():
    """The real default kernel source (downloaded once into the cache)."""
    from harness import lines, source
    return source.resolve(line=lines.get("5.10"), progress=lambda m: print(m, file=sys.stderr))


@pytest.fixture(scope="session")
def harness_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    return env


@pytest.fixture(scope="session")
def fixed_build(default_source):
    """The real `fixed` kernel (built once, then cached)."""
    from harness import build, source
    return build.build(source.variants_for(default_source, ["fixed"])[0])


def qemu_pids_with(needle: str) -> list[int]:
    """QEMU processes whose command line mentions `needle`."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "qemu-system" in cmd and needle in cmd:
                pids.append(int(d.name))
    return pids


def default_sigint() -> None:
    """preexec_fn for a harness that a test interrupts with SIGINT.  A shell
    starts a background job (`make test &`, nohup) with SIGINT ignored, and
    Python then keeps it ignored; the tests are about what the harness does
    on SIGINT, so its child starts with the default disposition."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def pytest_configure(config):
    config.addinivalue_line("markers", "lines: every line's full matrix (make test-lines, "
                                       "the nightly tier; not in make test)")


# ------------------------------------------------------ sources, prefetched
# A test module names the line sources its tests fetch in SOURCES (a test
# that takes default_source needs 5.10).  Once collection is over the
# session fetches them, in the order the tests need them, one at a time in
# the background (`harness fetch --line L`, niced): unpacking and recording
# a source is ~60 s of mostly one core and the disk, which the early tests
# (unit tests, the first builds' serial steps, VMs waiting on dm-delay)
# leave free.  A test that gets there first waits on the source's own lock.
# HARNESS_PREFETCH=0 turns it off.
PREFETCH_NICE = 10


def needed_sources(items) -> list[str]:
    """The lines the selected tests fetch, in the order they need them.  A
    test parametrized by one of its module's SOURCES (a line, or a tuple that
    starts with one) needs only that line."""
    lines: list[str] = []
    for item in items:
        need = list(getattr(getattr(item, "module", None), "SOURCES", ()))
        for v in getattr(getattr(item, "callspec", None), "params", {}).values():
            v = v[0] if isinstance(v, tuple) and v else v
            if isinstance(v, str) and v in need:
                need = [v]
                break
        if "default_source" in getattr(item, "fixturenames", ()):
            need.insert(0, "5.10")
        lines += [ln for ln in need if ln not in lines]
    return lines


class Prefetch(threading.Thread):
    def __init__(self, lines: list[str], log: Path):
        super().__init__(daemon=True, name="prefetch")
        self.lines, self.log = lines, log
        self.proc: subprocess.Popen | None = None
        self.stopping = False
        self.lock = threading.Lock()      # no fetch starts once stop() has begun

    def run(self):
        env = dict(os.environ, PYTHONPATH=str(REPO))
        with open(self.log, "a") as out:
            for line in self.lines:
                with self.lock:
                    if self.stopping:
                        return
                    self.proc = p = subprocess.Popen(
                        ["nice", "-n", str(PREFETCH_NICE), sys.executable, "-m", "harness",
                         "fetch", "--line", line], cwd=REPO, env=env, stdout=out,
                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                        start_new_session=True)
                p.wait()

    def stop(self):
        """At the session's end: a fetch still under way is ended (the next
        fetch of that line starts it again)."""
        with self.lock:
            self.stopping = True
            p = self.proc
        if p and p.poll() is None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:      # gone on its own meanwhile
                    break
                try:
                    p.wait(timeout=30)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self.join(timeout=30)


def pytest_collection_finish(session):
    if os.environ.get("HARNESS_PREFETCH", "1") == "0" or session.config.option.collectonly:
        return
    lines = needed_sources(session.items)
    if not lines:
        return
    from harness.paths import cache_dir
    log = cache_dir() / "prefetch.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    session.config.stash[PREFETCH] = pf = Prefetch(lines, log)
    pf.start()
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    if tr:
        tr.write_line(f"fetching line sources in the background: {' '.join(lines)} "
                      f"(log: {log})")


def pytest_sessionfinish(session):
    pf = session.config.stash.get(PREFETCH, None)
    if pf:
        pf.stop()


PREFETCH = pytest.StashKey[Prefetch]()
