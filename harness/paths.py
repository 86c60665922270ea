"""Where downloaded sources, build trees, images and results live.

Nothing here is inside the git tree unless the user points it there:
the cache defaults to $XDG_CACHE_HOME/kdsync-harness (override with
HARNESS_CACHE) and results to ./results (git-ignored; HARNESS_RESULTS).
"""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GUEST_CONFIG = REPO / "guest-config"
GUEST_INIT = GUEST_CONFIG / "guest-init.sh"      # the guest's PID 1
PATCHES = REPO / "patches"


def cache_dir() -> Path:
    env = os.environ.get("HARNESS_CACHE")
    if env:
        return Path(env).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser().resolve() / "kdsync-harness"


def results_root() -> Path:
    env = os.environ.get("HARNESS_RESULTS")
    return Path(env).expanduser().resolve() if env else REPO / "results"


@contextmanager
def locked(path: Path):
    """An exclusive lock on `path` (made if missing), held for the block: two
    harness processes never prepare one tree, build or apt state at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield
