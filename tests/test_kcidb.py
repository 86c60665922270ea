import json

import kcidb_io

from harness import kcidb

DOC = {
    "source": "debian linux-source-5.10 5.10.223-1", "accelerator": "tcg",
    "lines": {"5.10": {"bugs": {"seed-deadlock": {
        "what": "O_DSYNC direct write re-enters btrfs_sync_file()",
        "titles": ["^possible deadlock in btrfs_sync_file$"], "fixed_by": "0eb79294dbe3"}}}},
    "builds": [{"variant": "base", "key": "5.10-base", "seconds": 12.5}],
    "build_failures": {"5.10-workaround": "build of workaround failed (make exit 2): x.c:1: error"},
    "results": [
        {"line": "5.10", "run": 1, "variant": "base", "workload": "extending", "verdict": "FAIL",
         "title": "possible deadlock in btrfs_sync_file", "frame": "btrfs_sync_file",
         "source_commit": "a" * 40, "config_hash": "c0ffee", "accelerator": "tcg",
         "report": "WARNING: possible recursive locking detected\n...", "detail": "",
         "console_log": "5.10-base-extending-1/console.log", "timings": {"verdict": 9.1},
         "expected": "FAIL", "as_expected": True},
        {"variant": "base", "workload": "overwrite", "verdict": "PASS", "title": None,
         "source_commit": "a" * 40, "config_hash": "c0ffee", "timings": {}},
        {"variant": "base", "workload": "libaio", "verdict": "ERROR", "title": None,
         "detail": "verify-failed: x", "source_commit": "a" * 40, "config_hash": "c0ffee",
         "timings": {}},
        {"variant": "workaround", "workload": "unaligned", "verdict": "INFRA", "title": None,
         "detail": "build failed", "source_commit": "", "config_hash": "c0ffee",
         "timings": {}},
    ],
}


def test_export_validates_against_kcidb_schema():
    out = kcidb.export(DOC, "20261121-000000-abc", "https://ci.example/runs/1")
    kcidb_io.schema.LATEST.validate(out)            # raises on any schema error
    assert out["version"]["major"] == 5
    statuses = {t["path"]: t["status"] for t in out["tests"]}
    assert statuses == {"btrfs.dsync.extending": "FAIL", "btrfs.dsync.overwrite": "PASS",
                        "btrfs.dsync.libaio": "ERROR", "btrfs.dsync.unaligned": "MISS"}
    fail = [t for t in out["tests"] if t["status"] == "FAIL"][0]
    assert "recursive locking" in fail["log_excerpt"]
    assert fail["log_url"].endswith("/5.10-base-extending-1/console.log")
    assert fail["id"] == "kdsync:20261121-000000-abc:5.10:base:extending:1"
    assert fail["misc"]["line"] == "5.10"
    assert {b["status"] for b in out["builds"]} == {"PASS", "FAIL"}
    assert out["checkouts"][0]["git_commit_hash"] == "a" * 40
    assert all(t["id"].startswith("kdsync:") for t in out["tests"])


def test_export_dir_writes_kcidb_json(tmp_path):
    (tmp_path / "result.json").write_text(json.dumps(DOC))
    p = kcidb.export_dir(tmp_path)
    kcidb_io.schema.LATEST.validate(json.loads(p.read_text()))


def test_issues_and_incidents_link_failures_to_known_bugs():
    doc = json.loads(json.dumps(DOC))
    doc["results"].append({"line": "5.10", "run": 1, "variant": "nosync",
                           "workload": "extending", "verdict": "FAIL",
                           "title": "KASAN: use-after-free Read in foo", "source_commit": "b" * 40,
                           "config_hash": "c0ffee", "timings": {}})
    out = kcidb.export(doc, "20261123-000000-abc")
    kcidb_io.schema.LATEST.validate(out)
    issues = {i["id"]: i for i in out["issues"]}
    known = "kdsync:bug:5.10:seed-deadlock"
    assert issues[known]["misc"]["titles"] == ["^possible deadlock in btrfs_sync_file$"]
    by_test = {i["test_id"]: i for i in out["incidents"]}
    assert len(by_test) == 2                       # one incident per FAIL, none for PASS
    assert by_test["kdsync:20261123-000000-abc:5.10:base:extending:1"]["issue_id"] == known
    new = by_test["kdsync:20261123-000000-abc:5.10:nosync:extending:1"]["issue_id"]
    assert new != known and issues[new]["misc"]["new"]
    assert issues[new]["report_subject"] == "KASAN: use-after-free Read in foo"
    # the known bug's issue id is the same in every run
    again = kcidb.export(doc, "20261124-000000-def")
    assert known in {i["id"] for i in again["issues"]}
