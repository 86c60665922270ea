"""The run's HTML report, opened in headless Chromium: the screenshot must
show the verdict matrix in its colours (red FAIL, green PASS)."""
import json
import re
import shutil
import subprocess

from PIL import Image

from harness import html_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

DOC = {"source": "debian linux-source-5.10 5.10.223-1", "accelerator": "tcg", "seconds": 200,
       "results": [
           {"line": "5.10", "run": 1, "id": f"5.10-{v}-{w}-1", "variant": v, "workload": w,
            "verdict": verdict, "title": title,
            "report": "WARNING: possible recursive locking detected" if title else "",
            "detail": "" if verdict != "UNPROVEN" else "0 B of 1 MiB went down the direct IO "
                                                       "path, 1 MiB buffered",
            "console_log": f"5.10-{v}-{w}-1/console.log", "expected": exp,
            "as_expected": verdict == exp.split()[0],
            "guest": {"cpus_up": 2, "preempt": "full"},
            "evidence": {"available": True, "direct_bytes": 1048576, "buffered_bytes": 0,
                         "inline_completions": 16, "async_completions": 0, "stats": {}},
            "timings": {"boot": 5.1, "workload_start": 5.3, "verdict": 9.0}}
           for v, w, verdict, title, exp in [
               ("base", "extending", "FAIL", "possible deadlock in btrfs_sync_file",
                "FAIL seed-deadlock"),
               ("base", "overwrite", "FAIL", "possible deadlock in btrfs_sync_file",
                "FAIL seed-deadlock"),
               ("base", "unaligned", "PASS", None, "FAIL seed-deadlock"),   # control lost
               ("fixed", "extending", "PASS", None, "PASS"),
               ("fixed", "overwrite", "UNPROVEN", None, "PASS")]]}


def colour_pixels(png, rgb, tol=30):
    img = Image.open(png).convert("RGB")
    return sum(1 for px in img.getdata() if all(abs(a - b) <= tol for a, b in zip(px, rgb)))


def test_report_is_self_contained_html(tmp_path):
    (tmp_path / "result.json").write_text(json.dumps(DOC))
    page = html_report.write(tmp_path).read_text()
    assert "<script" not in page and "http" not in page       # no outside resources
    assert "possible deadlock in btrfs_sync_file" in page
    assert "href='5.10-base-extending-1/console.log'" in page
    assert "href='build-5.10-base.log'" in page
    assert "2 CPUs, preempt full" in page and "completions 16 inline / 0 async" in page
    # the cells whose verdict is not their claim are outlined, and only those
    cells = dict((cell, cls) for cls, cell in
                 re.findall(r"<td class='([^']*)'[^>]*><a [^>]*href='#([^']+)'>", page))
    assert cells == {"5.10-base-extending-1": "v", "5.10-base-overwrite-1": "v",
                     "5.10-base-unaligned-1": "v unexpected", "5.10-fixed-extending-1": "v",
                     "5.10-fixed-overwrite-1": "v unexpected"}
    assert "0 B of 1 MiB went down the direct IO path" in page


def test_chromium_renders_the_matrix(tmp_path):
    assert CHROMIUM, "Debian chromium is installed by `make setup`"
    (tmp_path / "result.json").write_text(json.dumps(DOC))
    page = html_report.write(tmp_path)
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'ud'}",
                    "--window-size=1000,700", f"--screenshot={shot}", f"file://{page}"],
                   check=True, capture_output=True, timeout=120)
    red = colour_pixels(shot, (0xc6, 0x28, 0x28))
    green = colour_pixels(shot, (0x2e, 0x7d, 0x32))
    assert red > 500 and green > 500, (red, green)     # FAIL and PASS cells drawn
    assert Image.open(shot).size == (1000, 700)
