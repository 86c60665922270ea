"""`make test-lines`, the nightly tier: every line's full matrix (every
variant x every workload the line runs) is built, booted and judged, and
every cell must show what the README claims (tests/readme_claims.py,
written out from the README, not read from the line tables): FAIL with a
title of the bug's family as the README names it, PASS, or either for a
`may` cell.  Deselected from `make test` (marker `lines`); hours on a 2-core
TCG host, minutes per line on KVM."""
import json
import re
import subprocess
import sys

import pytest

import readme_claims
from conftest import REPO
from harness import lines

pytestmark = pytest.mark.lines

# the title families as the README names them
TITLES = {
    "seed-deadlock": r"^possible deadlock in (btrfs_inode_lock|btrfs_sync_file)$"
                     r"|^INFO: task hung in btrfs_",
    "dio-fsync-race": r"^(BTRFS: assertion failed|WARNING|kernel BUG|invalid opcode) in "
                      r"(btrfs_get_ordered_extents_for_logging|btrfs_release_log_ctx_extents)$"
                      r"|^(WARNING|kernel BUG): bad unlock balance in btrfs_",
    "dio-sync-double-unlock": r"^(WARNING|BUG): bad unlock balance in btrfs_"
                              r"|^WARNING in btrfs_inode_unlock$",
    "writethrough-lost-sync": r"^lost O_DSYNC write after power cut \((libaio|uring)"
                              r"(, (libaio|uring))?\)$"
                              r"|^O_DSYNC direct write completed without its sync",
    "lost-sync": r"^lost O_DSYNC write after power cut \((libaio|uring)(, (libaio|uring))?\)$"
                 r"|^O_DSYNC direct write completed without its sync \(async completion\)$",
    "stub-leak": r"^BTRFS: assertion failed in btrfs_reserve_data_bytes$",
}


SOURCES = tuple(sorted(lines.all_lines()))     # conftest's prefetch, in the tests' order


def cell_ok(claim, r) -> bool:
    verdict, bug = claim
    if verdict == "PASS":
        return r["verdict"] == "PASS"
    failed = r["verdict"] == "FAIL" and bool(re.search(TITLES[bug], r["title"] or ""))
    return failed or (verdict == "MAY" and r["verdict"] == "PASS")


def test_every_bug_the_claims_name_has_a_title_family():
    named = {bug for line in lines.all_lines() for _, bug in readme_claims.claims(line).values()}
    assert named - {None} <= set(TITLES)


@pytest.mark.parametrize("line", sorted(lines.all_lines()))
def test_the_full_line_matrix_holds_the_readme_claims(line, harness_env, tmp_path):
    cp = subprocess.run([sys.executable, "-m", "harness", "run", "--line", line,
                         "--results", str(tmp_path)], cwd=REPO, env=harness_env,
                        capture_output=True, text=True, timeout=6 * 3600)
    sys.stderr.write(cp.stderr[-3000:])
    run_dir = max(p for p in tmp_path.iterdir() if p.is_dir())
    doc = json.loads((run_dir / "result.json").read_text())
    cells = {(r["variant"], r["workload"]): r for r in doc["results"]}
    want = readme_claims.claims(line)
    assert set(cells) == set(want)          # every cell run, none without a written claim
    wrong = {k: (cells[k]["verdict"], cells[k]["title"], cells[k]["detail"])
             for k, c in want.items() if not cell_ok(c, cells[k])}
    assert not wrong, wrong
    assert cp.returncode == 0, cp.stdout[-3000:]
