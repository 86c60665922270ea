"""The product's main job, for real: build the 5.10 variants, boot each in
QEMU with 2 CPUs, run every workload, and check the verdicts against the
claims the README publishes.  The claims are written out here, not read
from harness/lines/5.10.toml: editing the table to match a wrong result
must turn this red."""
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from conftest import REPO, qemu_pids_with

DEADLOCK = r"^possible deadlock in btrfs_sync_file$"
STUB_LEAK = r"^BTRFS: assertion failed in btrfs_reserve_data_bytes$"
LOST_SYNC = r"^lost O_DSYNC write after power cut \((libaio|uring)(, (libaio|uring))?\)$"
NO_SYNC = r"^O_DSYNC direct write completed without its sync \(async completion\)$"
WORKLOADS = ["extending", "overwrite", "libaio", "io_uring", "rwf-dsync", "unaligned",
             "fsync-race", "durability", "libaio-async", "io_uring-async", "overwrite-race",
             "wb-error", *(f"cut-{p}@{d}" for d in ("nocache", "fua")
                           for p in ("cow", "prealloc", "extend", "nocow")),
             "cut-cow-osync@nocache"]
# the README's table "What the 5.10 matrix claims": (variant, workload) -> FAIL title
FAILS = {
    **{("base", w): DEADLOCK for w in ("extending", "overwrite", "libaio", "io_uring",
                                       "rwf-dsync", "unaligned", "durability",
                                       "overwrite-race", "wb-error",
                                       *(w for w in WORKLOADS if w.endswith("@nocache")))},
    # with FUA, base writes through: no completion re-enters fsync, so no
    # deadlock, and the async writes that change metadata lose their sync
    # (the write-through bug: 0eb79294dbe3 cleared IOCB_DSYNC, which hid it)
    **{("base", f"cut-{p}@fua"): LOST_SYNC for p in ("cow", "prealloc", "extend")},
    # on a disk without a volatile cache too; a NOCOW overwrite of committed
    # blocks is durable once written there, sync or not
    **{("nosync", f"cut-{p}@nocache"): LOST_SYNC for p in ("cow", "prealloc", "extend")},
    # with FUA as well: 5.10 clears IOCB_DSYNC for iomap, so nothing is written
    # with FUA and even the NOCOW overwrite waits in the cache for the sync
    **{("nosync", f"cut-{p}@fua"): LOST_SYNC for p in ("cow", "prealloc", "extend", "nocow")},
    ("workaround", "unaligned"): STUB_LEAK,
    ("nosync", "unaligned"): STUB_LEAK,
    ("nosync", "durability"): LOST_SYNC,
    # O_SYNC sets IOCB_DSYNC too, which 5.10 clears for iomap: no sync left
    ("nosync", "cut-cow-osync@nocache"): LOST_SYNC,
    ("nosync", "libaio-async"): NO_SYNC,       # the evidence shows the skipped sync
    ("nosync", "io_uring-async"): NO_SYNC,
}
VARIANTS = ("base", "workaround", "fixed", "nosync")
# what each workload claims to exercise: direct writes, and where completions run
INLINE = {"extending", "overwrite", "libaio", "io_uring", "rwf-dsync", "unaligned"}
ASYNC = {"libaio-async", "io_uring-async"}
# rounds of each racing thread a race shape's PASS claims
RACE_MIN = {"fsync-race": 200, "overwrite-race": 50}


@pytest.fixture(scope="module")
def matrix(tmp_path_factory, harness_env, default_source):
    out = tmp_path_factory.mktemp("matrix")
    # the cost rows' claims on 5.10 are make test-lines' (tests/test_lines_full_vm.py)
    cp = subprocess.run([sys.executable, "-m", "harness", "run", "--results", str(out),
                         "--workload", ",".join(WORKLOADS)],
                        cwd=REPO, env=harness_env, capture_output=True, text=True,
                        timeout=3600)
    sys.stderr.write(cp.stderr[-4000:])
    print(cp.stdout)
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    doc = json.loads((run_dir / "result.json").read_text())
    cells = {(r["variant"], r["workload"]): r for r in doc["results"]}
    return cp, run_dir, doc, cells


def test_every_published_claim_holds(matrix):
    _, _, doc, cells = matrix
    assert set(cells) == {(v, w) for v in VARIANTS for w in WORKLOADS}
    wrong = []
    for (v, w), r in sorted(cells.items()):
        title = FAILS.get((v, w))
        ok = (r["verdict"] == "FAIL" and re.search(title, r["title"] or "")) if title \
            else r["verdict"] == "PASS"
        if not ok:
            wrong.append(f"{v}/{w}: {r['verdict']} {r['title'] or r['detail']}")
    assert not wrong, wrong


def test_exit_code_and_the_code_agree_with_the_claims(matrix):
    cp, run_dir, doc, _ = matrix
    assert cp.returncode == 0, cp.stdout
    assert all(r["as_expected"] is True for r in doc["results"])   # no cell without a claim
    assert cp.stdout.strip().splitlines()[-1] == f"results: {run_dir}"
    assert "verdicts" in cp.stdout        # the table was printed


def test_every_cell_ran_on_two_preemptible_cpus(matrix):
    _, run_dir, doc, cells = matrix
    for r in doc["results"]:
        assert r["guest"]["cpus_up"] == 2 and r["guest"]["preempt"] == "full", r["id"]
    for vmrun in doc["vms"]:
        log = (run_dir / vmrun["console_log"]).read_text(errors="replace")
        assert "smp: Brought up 1 node, 2 CPUs" in log and " SMP PREEMPT " in log


def test_every_pass_proves_its_path(matrix):
    _, _, _, cells = matrix
    for (v, w), r in cells.items():
        if r["verdict"] != "PASS":
            continue
        ev = r["evidence"]
        assert ev["available"], (v, w)
        st = ev["stats"]
        assert ev["direct_bytes"] >= st["direct_bytes"] > 0, (v, w, ev)
        if w in INLINE:       # (unaligned: only its second write is direct)
            want = 1 if w == "unaligned" else st["writes"]
            assert ev["inline_completions"] >= want and not ev["async_completions"], (v, w)
            assert ev["inline_syncs"] >= st["writes"] and not ev["async_syncs"], (v, w)
        if w in ASYNC:
            assert ev["async_completions"] >= 64 and not ev["inline_completions"], (v, w)
            assert ev["async_syncs"] >= 64 and not ev["inline_syncs"], (v, w)
        if w == "durability":
            assert ev["async_completions"] >= 32 and ev["inline_completions"]
        if w in ("fsync-race", "overwrite-race"):
            assert st["writer_cpu"] != st["fsync_cpu"], st
            assert min(st["writes"], st["fsyncs"]) >= RACE_MIN[w], st   # the rounds it claims


def test_base_deadlocks_in_btrfs_sync_file(matrix):
    _, run_dir, _, cells = matrix
    r = cells[("base", "extending")]
    assert r["frame"] == "btrfs_sync_file"
    assert "i_mutex_key" in r["report"] and "btrfs_file_write_iter" in r["report"]
    log = (run_dir / r["console_log"]).read_text()
    assert "WARNING: possible recursive locking detected" in log
    assert "sysrq: Show Blocked State" in log      # stacks captured before the stop
    t = r["timings"]
    assert t["first_report"] - t["workload_start"] < 10     # lockdep spoke: no hung-task wait
    assert t["verdict"] - t["first_report"] < 5
    # the inline AIO shapes deadlock the same way, in the submitting task
    assert "iomap_dio_complete" in cells[("base", "libaio")]["report"]


def test_power_cut_catches_the_lost_sync(matrix):
    _, _, _, cells = matrix
    d = cells[("nosync", "durability")]["durability"]
    assert d["lost"] and d["cuts_lost"] and d["acknowledged"] == 48
    assert all(x.split("#")[0] in ("libaio", "uring") for x in d["lost"])   # psync syncs itself
    for v in ("fixed", "workaround"):
        ok = cells[(v, "durability")]["durability"]
        assert ok["cut_points_checked"] >= 2 and ok["acknowledged"] == 48
        assert not ok["lost"] and not ok["fsck"]


def test_every_ack_is_checked_at_its_own_cut_on_a_disk_without_a_cache(matrix):
    _, _, _, cells = matrix
    for p in ("cow", "prealloc", "extend", "nocow"):
        d = cells[("fixed", f"cut-{p}@nocache")][f"cut-{p}@nocache"]   # its after-run figures
        assert d["model"] == "completed" and d["acknowledged"] == 24, d
        assert d["cut_points"] == d["cut_points_checked"] == 24 and not d["lost"], d
        assert {s["write_cache"] for s in d["disk_seen"].values()} == {"write through"}
    lost = cells[("nosync", "cut-cow@nocache")]["cut-cow@nocache"]["lost"]
    assert lost and all(x.split("#")[0] in ("libaio", "uring") for x in lost)


def test_the_power_cut_check_vm_boots_one_cpu_and_no_probes(matrix):
    """The check VM mounts its rebuilt images one after the other and counts
    nothing by the tracefs probes: it boots one vCPU and sets none up
    (durability.CHECK_CPUS, HARNESS_EVIDENCE=off), and still answers for
    every cut point it was given."""
    _, run_dir, _, cells = matrix
    seen = 0
    for (v, w), r in cells.items():
        d = r.get(w)
        if not isinstance(d, dict) or "check_consoles" not in d:
            continue
        answered = 0
        for console in d["check_consoles"]:     # one per 24 cut points
            text = (run_dir / console).read_text(errors="replace")
            assert "@@harness booted uptime=" in text and " cpus=1" in text, (v, w)
            assert "@@harness evidence unavailable not asked for" in text, (v, w)
            assert "evidence-selftest" not in text, (v, w)
            answered += len(re.findall(r"@@harness cut \d+ (?:ok|lost)", text))
        assert answered == d["cut_points_checked"] > 0, (v, w)
        seen += 1
    assert seen >= 30      # fixed, workaround: 11 each; nosync and base: the rest


def test_failing_cells_keep_a_reproducer(matrix):
    _, run_dir, doc, cells = matrix
    for (v, w), r in cells.items():
        d = run_dir / r["cell_dir"]
        assert (d / "console.log").stat().st_size > 0
        if r["verdict"] == "PASS":
            assert not (d / "disk.img").exists()
            continue
        cell = json.loads((d / "cell.json").read_text())
        assert cell["line"] == "5.10" and cell["variant"] == v and cell["workload"] == w
        assert (d / "config").read_text().count("CONFIG_SMP=y") == 1
        assert (d / "qemu.sh").exists() and (d / "plan").read_text().startswith(r["id"] + "|")
        assert (d / "patches" / "series").exists()


def test_results_folder_contents(matrix):
    _, run_dir, doc, cells = matrix
    for r in doc["results"]:
        assert len(r["source_commit"]) == 40 and r["config_hash"] and r["accelerator"]
        assert {"boot", "workload_start", "verdict"} <= set(r["timings"])
    for v in VARIANTS:
        assert (run_dir / f"build-5.10-{v}.log").exists()
    suite = ET.parse(run_dir / "junit.xml").getroot()
    cases = suite.findall(".//testcase")
    assert len(cases) == len(VARIANTS) * len(WORKLOADS)
    assert (run_dir / "report.html").exists() and (run_dir / "kcidb.json").exists()
    fail = [c for c in cases if c.get("name") == "5.10.base.extending.1"][0]
    assert fail.find("failure").get("message") == "possible deadlock in btrfs_sync_file"
    assert "recursive locking" in fail.find("failure").text
    assert "[[ATTACHMENT|" in fail.find("system-out").text
    assert not qemu_pids_with(str(run_dir))


def test_replay_reruns_a_failing_cell(matrix, harness_env, tmp_path):
    _, run_dir, _, cells = matrix
    cell_dir = run_dir / cells[("workaround", "unaligned")]["cell_dir"]
    cp = subprocess.run([sys.executable, "-m", "harness", "replay", str(cell_dir),
                         "--results", str(tmp_path)], cwd=REPO, env=harness_env,
                        capture_output=True, text=True, timeout=600)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "BTRFS: assertion failed in btrfs_reserve_data_bytes" in cp.stdout
    cp = subprocess.run([sys.executable, "-m", "harness", "replay", str(tmp_path)],
                        cwd=REPO, env=harness_env, capture_output=True, text=True, timeout=60)
    assert cp.returncode == 2 and "no cell.json" in cp.stderr
