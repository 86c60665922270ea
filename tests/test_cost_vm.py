"""The double sync, for real (make test's share; every line's every cost
cell is make test-lines'): on 7.2 the shipped kernel's O_DSYNC
direct write costs twice what the same write plus fdatasync costs on a disk
with a volatile cache, and both fixes together (fix-both) bring it to one
sync, one log commit and the same flushes.  The claims are written here,
not read from harness/lines/*.toml."""
import json
import subprocess
import sys

import pytest

from conftest import REPO

SOURCES = ("7.2",)           # 6.1's and every other line's: make test-lines


@pytest.fixture(scope="module", params=SOURCES)
def cost_run(request, tmp_path_factory, harness_env):
    line = request.param
    out = tmp_path_factory.mktemp(f"cost-{line}")
    cp = subprocess.run([sys.executable, "-m", "harness", "run", "--results", str(out),
                         "--line", line, "--cell", "shipped:cost@cache,fix-both:cost@cache"],
                        cwd=REPO, env=harness_env, capture_output=True, text=True,
                        timeout=3600)
    sys.stderr.write(cp.stderr[-3000:])
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    doc = json.loads((run_dir / "result.json").read_text())
    return line, cp, {r["variant"]: r for r in doc["results"]}


def test_shipped_syncs_twice_and_the_fix_once(cost_run):
    line, cp, cells = cost_run
    assert cp.returncode == 0, cp.stdout[-3000:]
    shipped, fixed = cells["shipped"], cells["fix-both"]
    assert shipped["verdict"] == "FAIL" and shipped["kind"] == "cost", shipped["detail"]
    d, f = shipped["cost@cache"]["dsync"], shipped["cost@cache"]["fdatasync"]
    assert d["syncs"] == 2 * f["syncs"] == 2
    assert d["log_commits"] > f["log_commits"] == 1
    assert d["flushes"] > f["flushes"]
    assert fixed["verdict"] == "PASS", fixed["detail"]
    d, f = fixed["cost@cache"]["dsync"], fixed["cost@cache"]["fdatasync"]
    assert (d["syncs"], d["log_commits"], d["flushes"]) == (f["syncs"], f["log_commits"],
                                                            f["flushes"]) == (1, 1, 2)
