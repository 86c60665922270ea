"""Export a run's result.json as KCIDB v5 JSON: one checkout per source
commit, one build per (line, variant), one test per cell run, one issue per
known bug of the run's lines (the title families of harness/lines/*.toml;
their ids are stable from run to run), and one incident per FAIL, linking
its test to the issue its title belongs to, or to a new issue named after an
unknown title."""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from harness import arch as archmod
from harness.cell import CellKey

ORIGIN = "kdsync"
STATUS = {"PASS": "PASS", "FAIL": "FAIL", "ERROR": "ERROR", "INFRA": "MISS",
          "UNPROVEN": "ERROR"}
EXCERPT_MAX = 16000


def _id(*parts: str) -> str:
    return f"{ORIGIN}:" + ":".join(p.replace(":", "_") for p in parts if p)


def export(doc: dict, run_id: str, log_base_url: str | None = None) -> dict:
    """The KCIDB document for a result.json `doc` of run `run_id`."""
    checkouts, builds, tests = {}, {}, []
    by_variant = {b.get("key", b["variant"]): b for b in doc.get("builds", [])}
    for r in doc["results"]:
        line = CellKey.of(r).line
        vkey = f"{line}-{r['variant']}"
        commit = r.get("source_commit") or ""
        git_hash = commit[:40] if len(commit) >= 40 and all(
            c in "0123456789abcdef" for c in commit[:40]) else None
        co_id = _id(run_id, commit or vkey)
        if co_id not in checkouts:
            co = {"id": co_id, "origin": ORIGIN, "tree_name": doc.get("source", "")[:100],
                  "comment": f"{r.get('source') or doc.get('source', '')} line {line} "
                             f"variant {r['variant']}", "valid": True}
            if git_hash:
                co["git_commit_hash"] = git_hash
            checkouts[co_id] = co
        b_id = _id(run_id, vkey, r.get("config_hash", ""))
        if b_id not in builds:
            b = by_variant.get(vkey, {})
            failed = r["verdict"] == "INFRA" and vkey in doc.get("build_failures", {})
            builds[b_id] = {
                "id": b_id, "checkout_id": co_id, "origin": ORIGIN,
                "architecture": archmod.get().kcidb, "compiler": "gcc",
                "config_name": f"tinyconfig+guest-config ({r.get('config_hash', '?')})",
                "status": "FAIL" if failed else "PASS",
                **({"duration": round(b["seconds"], 1)} if b.get("seconds") else {}),
                **({"log_excerpt": doc["build_failures"][vkey][:EXCERPT_MAX]}
                   if failed else {}),
            }
        test = {
            "id": _id(run_id, line, r["variant"], r["workload"], str(r.get("run", 1))),
            "build_id": b_id,
            "origin": ORIGIN, "path": f"btrfs.dsync.{r['workload'].replace('-', '_')}",
            "status": STATUS[r["verdict"]],
            "environment": {"comment": f"QEMU {r.get('accelerator', '?')}"},
            "comment": r.get("title") or r.get("detail") or r["verdict"],
            "misc": {"line": line, "variant": r["variant"], "run": r.get("run", 1),
                     "title": r.get("title"), "frame": r.get("frame"),
                     "expected": r.get("expected"), "as_expected": r.get("as_expected")},
        }
        excerpt = r.get("report") or r.get("detail") or ""
        if excerpt:
            test["log_excerpt"] = excerpt[:EXCERPT_MAX]
        if log_base_url and r.get("console_log"):
            test["log_url"] = f"{log_base_url.rstrip('/')}/{r['console_log']}"
        if r.get("timings", {}).get("verdict"):
            test["duration"] = r["timings"]["verdict"]
        tests.append(test)
    issues, incidents = _issues(doc, tests)
    return {"version": {"major": 5, "minor": 3}, "checkouts": list(checkouts.values()),
            "builds": list(builds.values()), "tests": tests, "issues": issues,
            "incidents": incidents}


def _issues(doc: dict, tests: list[dict]) -> tuple[list[dict], list[dict]]:
    issues: dict[str, dict] = {}
    known: list[tuple[str, str, list[str]]] = []      # (line, issue id, title regexes)
    for line, info in sorted(doc.get("lines", {}).items()):
        for bug_id, bug in sorted(info.get("bugs", {}).items()):
            iid = _id("bug", line, bug_id)
            issues[iid] = {"id": iid, "version": 1, "origin": ORIGIN,
                           "report_subject": f"{line}: {bug_id}",
                           "comment": bug.get("what", bug_id)[:1000],
                           "culprit": {"code": True, "tool": False, "harness": False},
                           "misc": {"line": line, "titles": bug.get("titles", []),
                                    "fixed_by": bug.get("fixed_by", "")}}
            known.append((line, iid, bug.get("titles", [])))
    incidents = []
    for t in tests:
        if t["status"] != "FAIL":
            continue
        title, line = t["misc"].get("title") or t.get("comment", ""), t["misc"].get("line")
        iid = next((i for ln, i, rxs in known
                    if ln == line and any(re.search(rx, title) for rx in rxs)), None)
        if iid is None:                      # a bug the tables do not know: a new issue
            iid = _id("title", hashlib.sha256(title.encode()).hexdigest()[:16])
            issues.setdefault(iid, {"id": iid, "version": 1, "origin": ORIGIN,
                                    "report_subject": title[:200], "comment": title[:1000],
                                    "culprit": {"code": True, "tool": False,
                                                "harness": False},
                                    "misc": {"new": True}})
        incidents.append({"id": t["id"] + ":incident", "origin": ORIGIN, "issue_id": iid,
                          "issue_version": 1, "build_id": t["build_id"], "test_id": t["id"],
                          "present": True, "comment": title[:1000]})
    return list(issues.values()), incidents


def export_dir(run_dir: Path, log_base_url: str | None = None) -> Path:
    doc = json.loads((run_dir / "result.json").read_text())
    out = run_dir / "kcidb.json"
    out.write_text(json.dumps(export(doc, run_dir.name, log_base_url), indent=1) + "\n")
    return out
