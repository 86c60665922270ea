"""The results folder of a run: console logs (streamed there by vm), build
logs, result.json, junit.xml, and the verdict table on the terminal."""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import secrets
import shutil
from pathlib import Path

from junitparser import Error, Failure, JUnitXml, Property, Properties, TestCase, TestSuite
from rich.console import Console
from rich.table import Table

from harness import __version__
from harness.paths import results_root
from harness.verdict import ERROR, FAIL, INFRA, PASS, Verdict

COLOURS = {PASS: "green", FAIL: "red", ERROR: "yellow", INFRA: "magenta"}


def new_results_dir(root: Path | None = None) -> Path:
    """A fresh folder for this run; an existing one is never reused."""
    root = root or results_root()
    root.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    while True:
        d = root / f"{stamp}-{secrets.token_hex(3)}"
        try:
            d.mkdir()
            return d
        except FileExistsError:
            continue


def copy_build_log(build, outdir: Path) -> str:
    dst = outdir / f"build-{build.variant}.log"
    if build.log.exists():
        shutil.copyfile(build.log, dst)
    else:
        dst.write_text(f"(build was cached: {build.dir})\n")
    return dst.name


def verdict_json(v: Verdict) -> dict:
    return {
        "variant": v.variant, "workload": v.workload, "source_commit": v.commit,
        "config_hash": v.config_hash, "accelerator": v.accel, "verdict": v.verdict,
        "title": v.title, "frame": v.frame, "kind": v.kind, "detail": v.detail,
        "expected": str(v.expected) if v.expected else None,
        "as_expected": v.as_expected, "timings": v.timings,
        "console_log": v.console_log, "report": v.report,
        "findings": [f.to_json() for f in v.findings],
        **({v.workload: v.extra} if v.extra else {}),
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
        case = TestCase(f"{v.variant}.{v.workload}", classname=f"kdsync.{v.variant}",
                        time=round(v.timings.get("verdict", 0.0), 3))
        if v.verdict == FAIL:
            res = Failure(v.title or "kernel report", "kernel-report")
            res.text = v.report or v.detail
            case.result = [res]
        elif v.verdict in (ERROR, INFRA):
            res = Error(v.detail or v.verdict, v.verdict.lower())
            res.text = v.detail
            case.result = [res]
        if v.console_log:
            case.system_out = f"[[ATTACHMENT|{path.parent / v.console_log}]]\n"
        props = Properties()
        for k, val in (("verdict", v.verdict), ("expected", str(v.expected or "-")),
                       ("as_expected", str(v.as_expected)), ("source_commit", v.commit),
                       ("accelerator", v.accel)):
            props.add_property(Property(k, val))
        case.append(props)
        suite.add_testcase(case)
    xml = JUnitXml()
    xml.add_testsuite(suite)
    xml.write(str(path), pretty=True)


def print_table(verdicts: list[Verdict], console: Console | None = None) -> None:
    import sys
    console = console or Console(highlight=False,
                                 width=None if sys.stdout.isatty() else 150)
    table = Table(title="verdicts", show_lines=False)
    for col in ("variant", "workload", "verdict", "expected", "", "title / detail", "verdict at"):
        table.add_column(col)
    for v in verdicts:
        ok = v.as_expected
        mark = {True: "[green]ok[/]", False: "[bold red]UNEXPECTED[/]", None: ""}[ok]
        at = v.timings.get("verdict")
        table.add_row(v.variant, v.workload, f"[{COLOURS[v.verdict]}]{v.verdict}[/]",
                      str(v.expected.verdict) if v.expected else "-", mark,
                      (v.title or v.detail or "")[:90], f"{at:.1f} s" if at else "")
    console.print(table)
