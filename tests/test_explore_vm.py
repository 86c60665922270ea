"""The explorer, for real, on a small seeded plan with known answers (make
test's share; the whole space is the nightly's, tests/test_explore_full_vm.py).

The alphabet is cut to two prior states (committed COW data, committed NOCOW
data), two ways of asking for durability (O_DSYNC, O_SYNC) and two engines
(pwrite, io_uring), with completions in a worker: eight cases, every triple
of them.  Known answers, from the write-through finding (README, "The
write-through finding"):

- on a disk that writes through (7.2: no volatile cache), the shipped
  kernel loses exactly the async O_DSYNC COW writes (iomap writes
  them through and runs no sync); the NOCOW overwrite, O_SYNC and pwrite
  keep theirs; `fix-writethrough` keeps every one;
- 5.10 `nosync` (its async completion skips the sync) loses async writes,
  and only async ones; 5.10 `fixed` keeps every one.

Each finding's reproducer kit is run in a guest on the kernel it names, and
must fail there."""
import json
import subprocess
import sys

import pytest

from conftest import REPO

ONLY = ["prior=committed,committed-nocow", "meta=none", "meta2=none", "write=inside",
        "size=64k", "durability=o_dsync,o_sync", "engine=pwrite,uring", "completion=worker",
        "between=nothing", "mount=nodatasum"]
LOST_ASYNC_COW = {("committed", "o_dsync", "uring")}
# line, disk, variants, the cases each variant loses (None: some async ones)
# (6.1 on the disk with FUA, and every line with no hint: make test-lines,
# tests/test_explore_full_vm.py)
RUNS = [("7.2", "nocache", {"shipped": LOST_ASYNC_COW, "fix-writethrough": set()}),
        ("5.10", "cache", {"fixed": set(), "nosync": None})]
SOURCES = tuple(line for line, _, _ in RUNS)


@pytest.fixture(scope="module", params=RUNS, ids=lambda p: f"{p[0]}@{p[1]}")
def explored(request, tmp_path_factory, harness_env):
    line, disk, claims = request.param
    out = tmp_path_factory.mktemp(f"explore-{line}")
    cmd = [sys.executable, "-m", "harness", "explore", "--results", str(out), "--line", line,
           "--variant", ",".join(claims), "--disk", disk, "--seed", "7", "--no-shrink"]
    for o in ONLY:
        cmd += ["--only", o]
    cp = subprocess.run(cmd, cwd=REPO, env=harness_env, capture_output=True, text=True,
                        timeout=3600)
    sys.stderr.write(cp.stderr[-3000:])
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    rows = [json.loads(ln) for ln in (run_dir / "explore.jsonl").read_text().splitlines()]
    summary = json.loads((run_dir / "summary.json").read_text())
    return line, claims, cp, rows, summary, run_dir


def shape(row):
    c = dict(p.split("=", 1) for p in row["key"].split(","))
    return c["prior"], c["durability"], c["engine"].split("-")[0]


def test_every_case_is_judged_and_the_answers_are_the_known_ones(explored):
    line, claims, cp, rows, summary, _ = explored
    for variant, lost in claims.items():
        mine = [r for r in rows if r["variant"] == variant and r["id"] < 100000]   # not shrinking's
        assert len({r["key"] for r in mine}) == 8, (variant, cp.stdout[-2000:])
        assert all(r["verdict"] in ("PASS", "FAIL") for r in mine), \
            [(r["key"], r["detail"]) for r in mine if r["verdict"] == "INFRA"]
        failed = {shape(r) for r in mine if r["verdict"] == "FAIL"}
        if lost is None:
            assert failed and all(s[2] == "uring" for s in failed), (variant, failed)
        else:
            assert failed == lost, (line, variant, failed)
        for r in mine:
            if r["verdict"] == "PASS":
                # every PASS names the oracles it rests on, all of which ran
                assert not r["missing"], r
                assert {"steps", "kernel", "powercut", "fsck", "check_kernel"} <= set(r["oracles"])
    assert cp.returncode == (1 if any(v is None or v for v in claims.values()) else 0)


def test_a_lost_write_was_written_through_without_a_sync(explored):
    line, claims, _, rows, _, _ = explored
    if line == "5.10":
        pytest.skip("5.10 writes through only with FUA; nosync loses by skipping the sync")
    for r in rows:
        if r["verdict"] == "FAIL":
            assert r["signature"]["written_through"] and r["signature"]["syncs"] == 0, r


def test_each_finding_has_a_kit_that_fails_on_its_kernel(explored):
    line, claims, _, rows, summary, run_dir = explored
    want = {v for v, lost in claims.items() if lost is None or lost}
    assert {f["kernel"].split("-", 1)[1] for f in summary["findings"]} == want
    for f in summary["findings"]:
        kit = run_dir / "findings"
        assert f["kit"] and (kit / f["kit"].split("/findings/")[1] / "repro.sh").is_file()
        assert f["verified"].startswith("reproduced on "), f["verified"]
