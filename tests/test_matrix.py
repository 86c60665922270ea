"""The product's main job, for real: build the variants of the default
source, boot each in QEMU, run every workload, and check that the verdicts
are the ones the matrix claims (base deadlocks in btrfs_sync_file,
workaround crashes on the non-aligned write, nosync loses acknowledged
O_DSYNC writes in the power-cut test, fixed passes everything)."""
import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from conftest import REPO, qemu_pids_with
from harness import workload


@pytest.fixture(scope="module")
def matrix(tmp_path_factory, harness_env, default_source):
    out = tmp_path_factory.mktemp("matrix")
    cp = subprocess.run([sys.executable, "-m", "harness", "run", "--results", str(out)],
                        cwd=REPO, env=harness_env, capture_output=True, text=True,
                        timeout=3600)
    sys.stderr.write(cp.stderr[-4000:])
    print(cp.stdout)
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    doc = json.loads((run_dir / "result.json").read_text())
    cells = {(r["variant"], r["workload"]): r for r in doc["results"]}
    return cp, run_dir, doc, cells


def test_exit_code_says_observed_equals_expected(matrix):
    cp, run_dir, doc, cells = matrix
    assert cp.returncode == 0, cp.stdout
    assert cp.stdout.strip().splitlines()[-1] == f"results: {run_dir}"
    assert "verdicts" in cp.stdout        # the table was printed


def test_every_cell_has_a_verdict(matrix):
    _, _, doc, cells = matrix
    names = [w.name for w in workload.WORKLOADS]
    variants = ("base", "workaround", "fixed", "nosync")
    assert set(cells) == {(v, w) for v in variants for w in names}
    assert all(r["as_expected"] is not False for r in doc["results"])


def test_base_deadlocks_in_btrfs_sync_file(matrix):
    _, run_dir, _, cells = matrix
    r = cells[("base", "extending")]
    assert r["verdict"] == "FAIL"
    assert r["title"] == "possible deadlock in btrfs_sync_file"
    assert r["frame"] == "btrfs_sync_file"
    assert "i_mutex_key" in r["report"] and "btrfs_file_write_iter" in r["report"]
    log = (run_dir / r["console_log"]).read_text()
    assert "WARNING: possible recursive locking detected" in log
    assert "sysrq: Show Blocked State" in log      # stacks captured before the stop
    # lockdep spoke: the harness did not wait for the hung-task timer
    t = r["timings"]
    assert t["first_report"] - t["workload_start"] < 10
    assert t["verdict"] - t["first_report"] < 8


def test_workaround_crashes_on_the_non_aligned_write(matrix):
    _, _, _, cells = matrix
    r = cells[("workaround", "unaligned")]
    assert r["verdict"] == "FAIL"
    assert "btrfs_reserve_data_bytes" in r["report"] or "assertion failed" in r["report"]


def test_power_cut_catches_the_lost_sync(matrix):
    _, _, _, cells = matrix
    lost = cells[("nosync", "durability")]
    assert lost["verdict"] == "FAIL"
    assert lost["title"].startswith("lost O_DSYNC write after power cut")
    d = lost["durability"]
    assert d["lost"] and d["cuts_lost"] and d["acknowledged"] == 72
    assert all(x.split("#")[0] in ("libaio", "uring") for x in d["lost"])   # psync syncs itself
    for v in ("fixed", "workaround"):
        ok = cells[(v, "durability")]
        assert ok["verdict"] == "PASS", ok["detail"]
        assert ok["durability"]["cut_points_checked"] >= 2
        assert ok["durability"]["acknowledged"] == 72 and not ok["durability"]["lost"]
        assert not ok["durability"]["fsck"]


def test_fixed_passes_everything(matrix):
    _, _, _, cells = matrix
    for w in workload.WORKLOADS:
        r = cells[("fixed", w.name)]
        assert r["verdict"] == "PASS", (w.name, r["detail"], r["title"])


def test_results_folder_contents(matrix):
    _, run_dir, doc, cells = matrix
    for r in doc["results"]:
        assert (run_dir / r["console_log"]).stat().st_size > 0
        assert len(r["source_commit"]) == 40 and r["config_hash"] and r["accelerator"]
        assert {"boot", "workload_start", "verdict"} <= set(r["timings"])
    for v in ("base", "workaround", "fixed", "nosync"):
        assert (run_dir / f"build-{v}.log").exists()
    suite = ET.parse(run_dir / "junit.xml").getroot()
    cases = suite.findall(".//testcase")
    assert len(cases) == 32
    assert (run_dir / "report.html").exists() and (run_dir / "kcidb.json").exists()
    fail = [c for c in cases if c.get("name") == "base.extending"][0]
    assert fail.find("failure").get("message") == "possible deadlock in btrfs_sync_file"
    assert "recursive locking" in fail.find("failure").text
    assert "[[ATTACHMENT|" in fail.find("system-out").text
    assert not qemu_pids_with(str(run_dir))
