"""A self-contained HTML page for a run: the verdict matrix (variants x
workloads), each failure's title and report text, timings, and links to
the console and build logs in the same folder."""
from __future__ import annotations

import html
import json
from pathlib import Path

COLOURS = {"PASS": "#2e7d32", "FAIL": "#c62828", "ERROR": "#ef6c00", "INFRA": "#6a1b9a"}
STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}
th,td{border:1px solid #bbb;padding:.35em .6em;text-align:left;vertical-align:top}
th{background:#eee}
td.v{color:#fff;font-weight:bold;text-align:center}
pre{background:#f6f6f6;border:1px solid #ddd;padding:.6em;overflow-x:auto;font-size:85%}
.unexpected{outline:3px solid #000}
small{color:#555}
"""


def render(doc: dict, run_name: str) -> str:
    results = doc["results"]
    variants = list(dict.fromkeys(r["variant"] for r in results))
    workloads = list(dict.fromkeys(r["workload"] for r in results))
    cell = {(r["variant"], r["workload"]): r for r in results}
    e = html.escape
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>kdsync {e(run_name)}</title>"
           f"<style>{STYLE}</style></head><body>",
           f"<h1>kdsync run {e(run_name)}</h1>",
           f"<p>source: {e(str(doc.get('source', '?')))}<br>accelerator: "
           f"{e(str(doc.get('accelerator', '?')))} &middot; {e(str(doc.get('qemu', '')))}<br>"
           f"finished {e(str(doc.get('finished', '?')))} in {doc.get('seconds', '?')} s</p>",
           "<h2>Verdicts</h2><table id='matrix'><tr><th>variant \\ workload</th>"]
    out += [f"<th>{e(w)}</th>" for w in workloads]
    out.append("</tr>")
    for v in variants:
        out.append(f"<tr><th>{e(v)}</th>")
        for w in workloads:
            r = cell.get((v, w))
            if r is None:
                out.append("<td></td>")
                continue
            cls = "v unexpected" if r.get("as_expected") is False else "v"
            tip = e(r.get("title") or r.get("detail") or "")
            out.append(f"<td class='{cls}' style='background:{COLOURS[r['verdict']]}' "
                       f"title='{tip}'><a style='color:#fff' href='#{e(v)}-{e(w)}'>"
                       f"{r['verdict']}</a></td>")
        out.append("</tr>")
    out.append("</table><p><small>A black outline marks a cell that differs from what "
               "the matrix expects.</small></p>")
    out.append("<h2>Cells</h2><table><tr><th>cell</th><th>verdict</th><th>expected</th>"
               "<th>title / detail</th><th>boot</th><th>workload start</th>"
               "<th>first report</th><th>verdict at</th><th>logs</th></tr>")
    for r in results:
        t = r.get("timings", {})
        fmt = lambda k: f"{t[k]:.1f} s" if k in t else ""  # noqa: E731
        logs = []
        if r.get("console_log"):
            logs.append(f"<a href='{e(r['console_log'])}'>console</a>")
        logs.append(f"<a href='build-{e(r['variant'])}.log'>build</a>")
        out.append(f"<tr id='{e(r['variant'])}-{e(r['workload'])}'><td>{e(r['variant'])}/"
                   f"{e(r['workload'])}</td><td style='color:{COLOURS[r['verdict']]}'>"
                   f"<b>{r['verdict']}</b></td><td>{e(str(r.get('expected') or '-'))}</td>"
                   f"<td>{e(r.get('title') or r.get('detail') or '')}</td><td>{fmt('boot')}</td>"
                   f"<td>{fmt('workload_start')}</td><td>{fmt('first_report')}</td>"
                   f"<td>{fmt('verdict')}</td><td>{' '.join(logs)}</td></tr>")
    out.append("</table>")
    fails = [r for r in results if r["verdict"] != "PASS"]
    if fails:
        out.append("<h2>Reports</h2>")
    for r in fails:
        out.append(f"<h3>{e(r['variant'])}/{e(r['workload'])}: {r['verdict']} "
                   f"{e(r.get('title') or '')}</h3>")
        if r.get("frame"):
            out.append(f"<p>guilty frame: <code>{e(r['frame'])}</code></p>")
        out.append(f"<pre>{e(r.get('report') or r.get('detail') or '')}</pre>")
    out.append("</body></html>\n")
    return "".join(out)


def write(run_dir: Path) -> Path:
    doc = json.loads((run_dir / "result.json").read_text())
    out = run_dir / "report.html"
    out.write_text(render(doc, run_dir.name))
    return out
