"""A self-contained HTML page for a run: the verdict matrix (variants x
workloads), each failure's title and report text, timings, and links to
the console and build logs in the same folder."""
from __future__ import annotations

import html
import json
from pathlib import Path

from harness.cell import CellKey

COLOURS = {"PASS": "#2e7d32", "FAIL": "#c62828", "ERROR": "#ef6c00", "INFRA": "#6a1b9a",
           "UNPROVEN": "#8d6e00"}
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


def _tally(runs: list[dict]) -> str:
    if len(runs) == 1:
        return runs[0]["verdict"]
    counts: dict[str, int] = {}
    for r in runs:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    return ", ".join(f"{k} {n}/{len(runs)}" for k, n in sorted(counts.items(),
                                                              key=lambda kv: -kv[1]))


def _evidence(r: dict) -> str:
    ev, g = r.get("evidence") or {}, r.get("guest") or {}
    parts = []
    if g.get("cpus_up"):
        parts.append(f"{g['cpus_up']} CPUs, preempt {g.get('preempt') or '?'}")
    if ev.get("available"):
        parts.append(f"direct {ev.get('direct_bytes', 0)} B, buffered "
                     f"{ev.get('buffered_bytes', 0)} B")
        if ev.get("inline_completions") or ev.get("async_completions"):
            parts.append(f"completions {ev.get('inline_completions', 0)} inline / "
                         f"{ev.get('async_completions', 0)} async")
        st = ev.get("stats") or {}
        if "fsyncs" in st:
            parts.append(f"{st.get('writes')} writes (CPU{st.get('writer_cpu')}) vs "
                         f"{st.get('fsyncs')} fsyncs (CPU{st.get('fsync_cpu')})")
    elif ev.get("unavailable"):
        parts.append(f"no evidence: {ev['unavailable']}")
    return "; ".join(parts)


def render(doc: dict, run_name: str) -> str:
    results = [dict(r) for r in doc["results"]]
    for r in results:              # results from before kernel lines had no id
        r.setdefault("id", CellKey.of(r).id)
    e = html.escape
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault(CellKey.of(r).group, []).append(r)
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>kdsync {e(run_name)}</title>"
           f"<style>{STYLE}</style></head><body>",
           f"<h1>kdsync run {e(run_name)}</h1>",
           f"<p>source: {e(str(doc.get('source', '?')))}<br>accelerator: "
           f"{e(str(doc.get('accelerator', '?')))} &middot; {e(str(doc.get('qemu', '')))}"
           f" &middot; {doc.get('cpus', '?')} CPUs per guest &middot; "
           f"{doc.get('repeat', 1)} run(s) per cell<br>"
           f"finished {e(str(doc.get('finished', '?')))} in {doc.get('seconds', '?')} s</p>"]
    for line in dict.fromkeys(k[0] for k in groups):
        variants = list(dict.fromkeys(k[1] for k in groups if k[0] == line))
        workloads = list(dict.fromkeys(k[2] for k in groups if k[0] == line))
        out.append(f"<h2>Line {e(line)}</h2><table class='matrix' id='matrix-{e(line)}'>"
                   "<tr><th>variant \\ workload</th>")
        out += [f"<th>{e(w)}</th>" for w in workloads]
        out.append("</tr>")
        for v in variants:
            out.append(f"<tr><th>{e(v)}</th>")
            for w in workloads:
                runs = groups.get((line, v, w))
                if not runs:
                    out.append("<td></td>")
                    continue
                bad = next((r for r in runs if r.get("as_expected") is False), runs[0])
                cls = "v unexpected" if bad.get("as_expected") is False else "v"
                tip = e(bad.get("title") or bad.get("detail") or "")
                out.append(f"<td class='{cls}' style='background:{COLOURS[bad['verdict']]}' "
                           f"title='{tip}'><a style='color:#fff' href='#{e(bad['id'])}'>"
                           f"{e(_tally(runs))}</a></td>")
            out.append("</tr>")
        out.append("</table>")
    out.append("<p><small>A black outline marks a cell that differs from what "
               "its line's table claims.</small></p>")
    out.append("<h2>Cells</h2><table><tr><th>cell</th><th>verdict</th><th>expected</th>"
               "<th>title / detail</th><th>evidence</th><th>boot</th><th>workload start</th>"
               "<th>first report</th><th>verdict at</th><th>logs</th></tr>")
    for r in results:
        t = r.get("timings", {})
        fmt = lambda k: f"{t[k]:.1f} s" if k in t else ""  # noqa: E731
        logs = []
        if r.get("console_log"):
            logs.append(f"<a href='{e(r['console_log'])}'>console</a>")
        logs.append(f"<a href='build-{e(r.get('line', '5.10'))}-{e(r['variant'])}.log'>build</a>")
        out.append(f"<tr id='{e(r['id'])}'><td>{e(r['id'])}</td>"
                   f"<td style='color:{COLOURS[r['verdict']]}'><b>{r['verdict']}</b></td>"
                   f"<td>{e(str(r.get('expected') or '-'))}</td>"
                   f"<td>{e(r.get('title') or r.get('detail') or '')}</td>"
                   f"<td><small>{e(_evidence(r))}</small></td><td>{fmt('boot')}</td>"
                   f"<td>{fmt('workload_start')}</td><td>{fmt('first_report')}</td>"
                   f"<td>{fmt('verdict')}</td><td>{' '.join(logs)}</td></tr>")
    out.append("</table>")
    fails = [r for r in results if r["verdict"] != "PASS"]
    if fails:
        out.append("<h2>Reports</h2>")
    for r in fails:
        out.append(f"<h3>{e(r['id'])}: {r['verdict']} {e(r.get('title') or '')}</h3>")
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
