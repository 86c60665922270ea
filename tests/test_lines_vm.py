"""Kernel lines 6.1, 6.12 and 7.2, for real (make test's tier): each
line's Debian source is fetched, its shipped kernel and controls are built
and booted with 2 CPUs, and on the shapes that carry the README's claims
each control FAILs as claimed and the shipped kernel PASSes.  The claims
are written here, not read from harness/lines/*.toml; every other cell of
every line is make test-lines' (tests/test_lines_full_vm.py).

README claims covered: "On 6.1, 6.12 and 7.2" - rebreak FAILs extending
(the seed's deadlock), revert-race FAILs fsync-race, revert-unlock FAILs
wb-error (bad unlock balance), shipped PASSes extending, fsync-race and
wb-error with the evidence of direct IO on two CPUs; the lines' guest roots;
6.12's buffered fallback is UNPROVEN."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

SEED = r"^possible deadlock in (btrfs_inode_lock|btrfs_sync_file)$|^INFO: task hung in btrfs_"
RACE = (r"^(BTRFS: assertion failed|WARNING|kernel BUG|invalid opcode) in "
        r"(btrfs_get_ordered_extents_for_logging|btrfs_release_log_ctx_extents)$")
UNLOCK = (r"^(WARNING|BUG): bad unlock balance in btrfs_(direct_write|inode_unlock)$"
          r"|^WARNING in btrfs_inode_unlock$")
# (variant, workload) -> FAIL title family, or None for PASS: every cell run
# (the cells that carry the claims: each control's FAIL, the shipped PASS)
CLAIMS = {
    ("shipped", "extending"): None,
    ("shipped", "fsync-race"): None,
    ("shipped", "wb-error"): None,
    ("rebreak", "extending"): SEED,
    ("revert-race", "fsync-race"): RACE,
    ("revert-unlock", "wb-error"): UNLOCK,
}


def harness_run(env, out, *args):
    cp = subprocess.run([sys.executable, "-m", "harness", "run", "--results", str(out), *args],
                        cwd=REPO, env=env, capture_output=True, text=True, timeout=3600)
    sys.stderr.write(cp.stderr[-3000:])
    run_dir = max(p for p in out.iterdir() if p.is_dir())
    doc = json.loads((run_dir / "result.json").read_text())
    return cp, doc, {(r["variant"], r["workload"]): r for r in doc["results"]}


# the line sources these tests fetch (conftest fetches them in the background)
SOURCES = ("6.1", "6.12", "7.2")


@pytest.fixture(scope="module", params=SOURCES)
def line_run(request, tmp_path_factory, harness_env):
    line = request.param
    out = tmp_path_factory.mktemp(f"line-{line}")
    cp, doc, cells = harness_run(harness_env, out, "--line", line,
                                 "--cell", ",".join(f"{v}:{w}" for v, w in CLAIMS))
    return line, cp, doc, cells, out


def test_the_line_claims_hold(line_run):
    line, cp, doc, cells, _ = line_run
    assert cp.returncode == 0, cp.stdout[-3000:]
    assert set(cells) == set(CLAIMS)                # no cell without a written claim
    for key, title in CLAIMS.items():
        r = cells[key]
        if title:
            assert r["verdict"] == "FAIL" and re.search(title, r["title"]), (line, key, r)
        else:
            assert r["verdict"] == "PASS", (line, key, r["detail"])
    assert all(r["line"] == line and r["id"].startswith(line + "-") for r in doc["results"])
    assert doc["sources"][0]["line"] == line and not doc["sources"][0]["broken_variants"]


def test_shipped_passes_prove_direct_io_on_two_cpus(line_run):
    line, _, doc, cells, _ = line_run
    for r in doc["results"]:
        assert r["guest"]["cpus_up"] == 2 and r["guest"]["preempt"] == "full", r["id"]
    ext = cells[("shipped", "extending")]["evidence"]
    assert ext["direct_bytes"] >= 1 << 20 and ext["buffered_bytes"] == 0, (line, ext)
    race = cells[("shipped", "fsync-race")]["evidence"]["stats"]
    assert race["writer_cpu"] != race["fsync_cpu"] and race["fsyncs"] > 0


def test_each_line_boots_the_guest_root_its_table_names(line_run):
    """6.1 over 9p; 6.12 and 7.2 from an initramfs, with kernels that have
    no network stack at all (their table's root = "initramfs")."""
    line, _, doc, _, out = line_run
    want = {"6.1": "9p", "6.12": "initramfs", "7.2": "initramfs"}[line]
    assert {b["root"] for b in doc["builds"]} == {want}
    for b in doc["builds"]:
        config = (Path(b["dir"]) / ".config").read_text()
        assert ("CONFIG_NET=y" in config) == (want == "9p"), b["variant"]
        assert ("CONFIG_BLK_DEV_INITRD=y" in config) == (want == "initramfs"), b["variant"]
    run_dir = max(p for p in out.iterdir() if p.is_dir())
    for v in doc["vms"]:
        qemu = (run_dir / f"{v['name']}.qemu.sh").read_text()
        assert ("-initrd" in qemu) == (want == "initramfs") != ("virtio-9p-pci" in qemu)


def test_buffered_fallback_is_unproven_not_pass(harness_env, tmp_path):
    """6.12 sends O_DIRECT writes of a datasum inode down the buffered path:
    on a default mount the shipped kernel's "direct" cell must not PASS."""
    cp, doc, cells = harness_run(harness_env, tmp_path, "--line", "6.12", "--variant",
                                 "shipped", "--workload", "extending",
                                 "--mount-options", "defaults")
    r = cells[("shipped", "extending")]
    assert r["verdict"] == "UNPROVEN" and "buffered" in r["detail"], r
    assert r["evidence"]["direct_bytes"] == 0 and r["evidence"]["buffered_bytes"] >= 1 << 20
    assert cp.returncode == 1 and r["as_expected"] is False
