"""The results folder of a run: console logs (streamed there by vm), build
logs, result.json, junit.xml, and the verdict table on the terminal."""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import secrets
from pathlib import Path

from junitparser import Error, Failure, JUnitXml, Property, Properties, TestCase, TestSuite
from rich.console import Console
from rich.table import Table

from harness import __version__, html_report, kcidb, vm
from harness.paths import results_root
from harness.verdict import ERROR, FAIL, INFRA, PASS, UNPROVEN, Verdict, exit_code

COLOURS = {PASS: "green", FAIL: "red", ERROR: "yellow", INFRA: "magenta", UNPROVEN: "yellow"}


def new_results_dir(root: Path | None = None, prefix: str = "") -> Path:
    """A fresh folder for this run; an existing one is never reused."""
    root = root or results_root()
    root.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    while True:
        d = root / f"{prefix}{stamp}-{secrets.token_hex(3)}"
        try:
            d.mkdir()
            return d
        except FileExistsError:
            continue


def verdict_json(v: Verdict) -> dict:
    return {
        "id": v.id, "line": v.line, "variant": v.variant, "workload": v.workload,
        "run": v.run, "source": v.source, "source_commit": v.commit,
        "config_hash": v.config_hash, "accelerator": v.accel, "verdict": v.verdict,
        "title": v.title, "frame": v.frame, "kind": v.kind, "detail": v.detail,
        "expected": str(v.expected) if v.expected else None,
        "claim": v.expected.to_json() if v.expected else None,
        "as_expected": v.as_expected, "timings": v.timings,
        "guest": v.facts, "evidence": v.evidence, "taint": v.taint, "oracles": v.oracles,
        "console_log": v.console_log, "cell_dir": v.cell_dir, "report": v.report,
        "findings": [f.to_json() for f in v.findings],
        **({v.workload: v.extra} if v.extra and "harness_fault" not in v.extra else {}),
        **({"harness_fault": v.extra["harness_fault"]} if "harness_fault" in v.extra
           else {}),
    }


def write_results(outdir: Path, verdicts: list[Verdict], meta: dict) -> None:
    doc = {"harness": __version__, "host": platform.node(),
           "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
           **meta, "results": [verdict_json(v) for v in verdicts]}
    tmp = outdir / "result.json.tmp"
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp, outdir / "result.json")
    write_junit(outdir / "junit.xml", verdicts)


def write_junit(path: Path, verdicts: list[Verdict]) -> None:
    suite = TestSuite("kdsync-harness")
    for v in verdicts:
        case = TestCase(f"{v.line}.{v.variant}.{v.workload}.{v.run}",
                        classname=f"kdsync.{v.line}.{v.variant}",
                        time=round(v.timings.get("verdict", 0.0) or 0.0, 3))
        if v.verdict == FAIL:
            res = Failure(v.title or "kernel report", "kernel-report")
            res.text = v.report or v.detail
            case.result = [res]
        elif v.verdict != PASS:
            res = Error(v.detail or v.verdict, v.verdict.lower())
            res.text = v.detail
            case.result = [res]
        if v.console_log:
            case.system_out = f"[[ATTACHMENT|{path.parent / v.console_log}]]\n"
        props = Properties()
        for k, val in (("verdict", v.verdict), ("expected", str(v.expected or "-")),
                       ("as_expected", str(v.as_expected)), ("source_commit", v.commit),
                       ("accelerator", v.accel), ("line", v.line),
                       ("cpus_up", str(v.facts.get("cpus_up"))),
                       ("preempt", str(v.facts.get("preempt")))):
            props.add_property(Property(k, val))
        case.append(props)
        suite.add_testcase(case)
    xml = JUnitXml()
    xml.add_testsuite(suite)
    xml.write(str(path), pretty=True)


def groups(verdicts: list[Verdict]) -> list[list[Verdict]]:
    """The runs of each (line, variant, workload), in order."""
    out: dict[tuple, list[Verdict]] = {}
    for v in verdicts:
        out.setdefault((v.line, v.variant, v.workload), []).append(v)
    return list(out.values())


def tally(runs: list[Verdict]) -> str:
    """"PASS" for one run; "PASS 20/20" or "FAIL 18/20, PASS 2/20" for more."""
    if len(runs) == 1:
        return runs[0].verdict
    counts: dict[str, int] = {}
    for v in runs:
        counts[v.verdict] = counts.get(v.verdict, 0) + 1
    return ", ".join(f"{k} {n}/{len(runs)}" for k, n in
                     sorted(counts.items(), key=lambda kv: -kv[1]))


def _guest(runs: list[Verdict]) -> str:
    f = runs[0].facts or {}
    if not f.get("cpus_up"):
        return ""
    cpus = sorted({v.facts.get("cpus_up") for v in runs if v.facts.get("cpus_up")})
    tainted = "/".join(sorted({(v.taint or {}).get("new", "") for v in runs} - {""}))
    return f"{'/'.join(map(str, cpus))} CPUs, {f.get('preempt') or '?'}" + (
        f", tainted {tainted}" if tainted else "")


def print_table(verdicts: list[Verdict], console: Console | None = None) -> None:
    import sys
    console = console or Console(highlight=False,
                                 width=None if sys.stdout.isatty() else 190)
    table = Table(title="verdicts", show_lines=False)
    for col in ("line", "variant", "workload", "verdict", "expected", "", "title / detail",
                "guest", "verdict at"):
        table.add_column(col)
    for runs in groups(verdicts):
        v = runs[0]
        held = [r.as_expected for r in runs]
        mark = ("" if v.expected is None else "[green]ok[/]" if all(held) else
                f"[bold red]UNEXPECTED {held.count(False)}/{len(runs)}[/]")
        bad = next((r for r in runs if r.as_expected is False), v)
        at = sorted(r.timings.get("verdict") or 0 for r in runs)[len(runs) // 2]
        colour = COLOURS.get(bad.verdict, "yellow")
        table.add_row(v.line, v.variant, v.workload, f"[{colour}]{tally(runs)}[/]",
                      str(v.expected) if v.expected else "-", mark,
                      (bad.title or bad.detail or "")[:90], _guest(runs),
                      f"{at:.1f} s" if at else "")
    console.print(table)


def finish_run(outdir: Path, outcome, variants, vm_host: str, cpus: int, repeat: int) -> int:
    """The end of every run (`harness run`, `replay`): result.json, junit.xml,
    report.html, kcidb.json, the table; returns the exit code."""
    sources = list(dict.fromkeys(v.source for v in variants))
    meta = {"sources": [{"line": s.line.name if s.line else None, "label": s.label,
                         "version": s.version, "kind": s.kind,
                         "broken_variants": {b.variant: b.why for b in s.broken}}
                        for s in sources],
            "source": "; ".join(s.label for s in sources),
            "accelerator": outcome.accel, "vm_host": vm_host, "cpus": cpus,
            "repeat": repeat, "qemu": vm.qemu_version(), "seconds": round(outcome.seconds, 1),
            "builds": [b.to_json() | {"key": k} for k, b in outcome.builds.items()],
            "build_failures": outcome.build_failures, "vms": [m.to_json() for m in outcome.vms],
            "lines": {s.line.name: {"bugs": {b.id: {"what": b.what, "titles": list(b.titles),
                                                    "fixed_by": b.fixed_by}
                                             for b in s.line.bugs.values()}}
                      for s in sources if s.line}}
    write_results(outdir, outcome.verdicts, meta)
    html_report.write(outdir)
    kcidb.export_dir(outdir)
    print_table(outcome.verdicts)
    code = exit_code(outcome.verdicts)
    summary = {0: "as expected", 1: "UNEXPECTED results", 125: "build/boot failure (bisect: skip)"}
    if not outcome.verdicts:
        summary[code] = "nothing ran: no cell, no verdict"
    held = sum(1 for v in outcome.verdicts if v.as_expected)
    print(f"{summary.get(code, code)}: {held}/{len(outcome.verdicts)} cell runs as claimed "
          f"in {outcome.seconds:.0f} s; exit {code}")
    print(f"results: {outdir}")
    return code
