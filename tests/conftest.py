import os
import sys
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
