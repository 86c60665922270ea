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
    from harness import source
    return source.default_source(progress=lambda m: print(m, file=sys.stderr))


@pytest.fixture(scope="session")
def harness_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    return env
