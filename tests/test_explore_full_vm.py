"""The explorer's positive and negative controls, with no hint (the nightly
tier: `make test-lines`, marker `lines`).

Each run is `harness explore` on one kernel over the whole alphabet (btrfs,
every disk kind), seed 0, with the per-kernel share of the default budget:
`make explore` gives its two kernels 30 minutes, 12 of them each for cases
and the rest for shrinking; here one kernel gets --budget 15 (12 minutes of
cases).  No dimension is cut: what it finds, it finds by itself.

- It rediscovers the write-through loss: on shipped 7.2, 6.12 and 7.3-rc a
  lost acknowledged O_DSYNC-family write, issued asynchronously and
  acknowledged without a sync, on the disk without a volatile cache; on
  shipped 6.1 the same on the disk with FUA (6.1 writes through only with
  FUA).
- It rediscovers 5.10 `nosync`'s lost syncs: an async write lost.
- It finds nothing on 5.10 `fixed`, nor on xfs and ext4 (shipped 7.2).
Every finding's reproducer kit reproduces on its kernel."""
import json
import subprocess
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.lines

# (line, variant, fs, the disk a finding must be on, or None: nothing found)
RUNS = [("7.2", "shipped", "btrfs", "nocache"), ("6.12", "shipped", "btrfs", "nocache"),
        ("7.3-rc", "shipped", "btrfs", "nocache"), ("6.1", "shipped", "btrfs", "fua"),
        ("5.10", "nosync", "btrfs", "any"), ("5.10", "fixed", "btrfs", None),
        ("7.2", "shipped", "xfs,ext4", None)]
SOURCES = tuple(dict.fromkeys(r[0] for r in RUNS))
ASYNC = ("libaio", "uring")


@pytest.fixture(scope="module", params=RUNS, ids=lambda r: f"{r[0]}-{r[1]}-{r[2]}")
def explored(request, tmp_path_factory, harness_env):
    line, variant, fs, disk = request.param
    out = tmp_path_factory.mktemp(f"explore-{line}-{variant}")
    cp = subprocess.run([sys.executable, "-m", "harness", "explore", "--results", str(out),
                         "--line", line, "--variant", variant, "--fs", fs, "--budget", "15"],
                        cwd=REPO, env=harness_env, capture_output=True, text=True,
                        timeout=3 * 3600)
    sys.stderr.write(cp.stderr[-3000:])
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    summary = json.loads((run_dir / "summary.json").read_text())
    return request.param, cp, summary


def test_it_finds_what_is_there_and_nothing_else(explored):
    (line, variant, fs, disk), cp, summary = explored
    counts = summary["by_kernel"][f"{line}-{variant}"]
    assert counts["PASS"] > 100, counts
    assert counts.get("INFRA", 0) <= counts["PASS"] // 50, counts
    if disk is None:
        assert not summary["findings"], [f["title"] + " " + f["case"] for f in summary["findings"]]
        assert cp.returncode == 0
        return
    assert cp.returncode == 1
    hits = []
    for f in summary["findings"]:
        case = dict(p.split("=", 1) for p in f["case"].split(","))
        if f["group"][2].startswith("lost-acked") and case["engine"].split("-")[0] in ASYNC \
                and (disk == "any" or case["disk"] == disk):
            hits.append(f)
    assert hits, [(f["title"], f["case"]) for f in summary["findings"]]
    if line != "5.10":
        assert any(f["signature"].get("written_through") for f in hits), hits
    for f in hits:
        assert f["verified"].startswith("reproduced"), f
