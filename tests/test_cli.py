"""Bad input gets one clear line and a non-zero exit, never a traceback."""
import json
from pathlib import Path

import pytest
import subprocess
import sys

from conftest import REPO
from harness import cli, proc


def run_cli(args, env, **kw):
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300, **kw)


def one_line_error(cp, code, text):
    assert cp.returncode == code, cp.stderr
    assert "Traceback" not in cp.stderr + cp.stdout
    lines = [ln for ln in cp.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and text in lines[0], cp.stderr


def test_not_a_kernel_tree(tmp_path, harness_env):
    one_line_error(run_cli(["build", "--kernel-tree", str(tmp_path)], harness_env), 2,
                   "is not a kernel tree")


def test_unknown_variant_and_workload(harness_env):
    env = dict(harness_env, HARNESS_ACCEL="tcg")
    one_line_error(run_cli(["build", "--variant", "nope"], env), 2, "has no variant 'nope'")
    one_line_error(run_cli(["run", "--variant", "fixed", "--workload", "zzz"], env), 2,
                   "unknown workload 'zzz'")


def test_bad_cells(harness_env):
    """--cell is VARIANT:WORKLOAD, and either it or --variant/--workload."""
    env = dict(harness_env, HARNESS_ACCEL="tcg")
    one_line_error(run_cli(["run", "--cell", "fixed"], env), 2,
                   "--cell 'fixed': expected VARIANT:WORKLOAD")
    one_line_error(run_cli(["run", "--cell", "fixed:extending", "--variant", "base"], env), 2,
                   "give either --cell or --variant/--workload")
    one_line_error(run_cli(["run", "--cell", "fixed:zzz"], env), 2, "unknown workload 'zzz'")
    one_line_error(run_cli(["run", "--cell", "nope:a"], env), 2, "has no variant 'nope'")


def test_cells_select_their_variants_and_workloads():
    args = cli.parser().parse_args(["run", "--cell", "base:a,fixed:extending",
                                    "--cell", "base:libaio"])
    assert cli._cells(args) == {("base", "extending"), ("fixed", "extending"),
                                ("base", "libaio")}
    assert args.variant == ["base", "fixed"] and args.workload == ["extending", "libaio"]


def test_patch_that_does_not_apply(tmp_path, harness_env):
    bad = tmp_path / "bad.patch"
    bad.write_text("--- a/fs/btrfs/file.c\n+++ b/fs/btrfs/file.c\n@@ -1,2 +1,2 @@\n"
                   " nothing\n-like\n+this\n")
    env = dict(harness_env, HARNESS_BUILDS=str(tmp_path / "b"))
    one_line_error(run_cli(["build", "--variant", "fixed", "--patch", str(bad)], env), 2,
                   "bad.patch does not apply to")
    cp = run_cli(["build", "--variant", "fixed", "--patch", str(bad)], env)
    assert "fs/btrfs/file.c hunk #1" in cp.stderr


def test_missing_host_tool(monkeypatch, tmp_path, capsys, default_source):
    monkeypatch.setenv("HARNESS_BUILDS", str(tmp_path))
    real = proc.which
    monkeypatch.setattr(proc, "which", lambda t: None if t == "flex" else real(t))
    assert cli.main(["build", "--variant", "base"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["harness: missing host tool(s): flex; install the Debian package(s) flex "
                   "(or run `make setup`)"]


def test_no_disk_space(monkeypatch, tmp_path, capsys, default_source):
    import shutil
    monkeypatch.setenv("HARNESS_BUILDS", str(tmp_path))
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10, 9, 2**20))
    assert cli.main(["build", "--variant", "base"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not enough disk space for a kernel build" in err[0]


def test_option_dropped_by_kconfig(monkeypatch, tmp_path, capsys, default_source):
    frag = tmp_path / "99-bad.config"
    frag.write_text("CONFIG_9P_FS=y\n# CONFIG_INET is not set\n")
    monkeypatch.setenv("HARNESS_BUILDS", str(tmp_path / "b"))
    code = cli.main(["build", "--variant", "base", "--config-fragment", str(frag)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 125            # the kernel cannot be built as asked: bisect skips
    assert err[-1].startswith("harness: kconfig: CONFIG_9P_FS=y was dropped (now unset); "
                              "it depends on INET && NET_9P (fs/9p/Kconfig)")


def test_parse_log_unreadable_and_json(tmp_path, harness_env):
    one_line_error(run_cli(["parse-log", str(tmp_path / "nope.log")], harness_env), 2,
                   "cannot read")
    log = tmp_path / "c.log"
    log.write_text("[    1.0][  T9] INFO: task fio:9 blocked for more than 10 seconds.\n"
                   "[    1.0][  T9] Call Trace:\n[    1.0][  T9]  schedule+0x1/0x2\n"
                   "[    1.0][  T9]  btrfs_sync_file+0x9e/0x4f0\n")
    cp = run_cli(["parse-log", "--json", str(log)], harness_env)
    assert cp.returncode == 0
    (f,) = json.loads(cp.stdout)
    assert f["title"] == "INFO: task hung in btrfs_sync_file" and f["frame"] == "btrfs_sync_file"
    assert {"kind", "title", "frame", "corrupted", "count", "first_line", "last_line"} <= set(f)
    empty = tmp_path / "e.log"
    empty.write_text("nothing to see\n")
    cp = run_cli(["parse-log", "--json", str(empty)], harness_env)
    assert cp.returncode == 0 and json.loads(cp.stdout) == []


def test_bad_line_and_pins(harness_env, tmp_path):
    one_line_error(run_cli(["build", "--line", "9.9"], harness_env), 2,
                   "unknown kernel line '9.9'; choose from 5.10, 6.1, 6.12, 7.2")
    one_line_error(run_cli(["fetch", "--line", "6.1", "--line", "6.12", "--source-version",
                            "6.1.192-2"], harness_env), 2, "--source-version pins one line")
    # refused before any download: an empty cache stays empty
    empty = dict(harness_env, HARNESS_CACHE=str(tmp_path / "cache"))
    one_line_error(run_cli(["build", "--line", "6.1", "--variant", "base"], empty), 2,
                   "line 6.1 has no variant 'base'; choose from shipped, rebreak")
    one_line_error(run_cli(["run", "--line", "6.1,7.2", "--variant", "nosync"], empty), 2,
                   "no selected line has variant 'nosync'; the lines' variants: 6.1: shipped")
    assert not (tmp_path / "cache" / "src").exists()


def test_a_pinned_version_that_left_the_archive(harness_env):
    """One line naming what the suite has instead (needs the machine's apt
    mirror, as the default sources do)."""
    cp = run_cli(["fetch", "--line", "6.1", "--source-version", "6.1.0-1"], harness_env)
    one_line_error(cp, 2, "linux-source-6.1 6.1.0-1 is no longer in Debian bookworm-security; "
                          "available: ")
    # what the suite holds moves (6.1.192-3 arrived after -2); the line's own
    # pin is among what it names
    available = cp.stderr.split("available: ", 1)[1].split(" (pin", 1)[0].split(", ")
    assert "6.1.192-2" in available, cp.stderr


@pytest.mark.parametrize("value, says", [("abc", "whole number"), ("0", "between 1")])
def test_a_bad_harness_cpus_is_one_line_for_run_and_ignored_by_parse_log(value, says, tmp_path):
    """HARNESS_CPUS=abc used to be a traceback for every subcommand, and 0
    was taken as 0 CPUs."""
    import os
    import subprocess
    import sys
    env = dict(os.environ, HARNESS_CPUS=value)
    cp = subprocess.run([sys.executable, "-m", "harness", "run", "--variant", "nope"],
                        capture_output=True, text=True, env=env, cwd=Path(__file__).parent.parent)
    assert cp.returncode == 2 and says in cp.stderr + cp.stdout
    assert "Traceback" not in cp.stderr
    log = tmp_path / "c.log"
    log.write_text("nothing\n")
    cp = subprocess.run([sys.executable, "-m", "harness", "parse-log", str(log)],
                        capture_output=True, text=True, env=env, cwd=Path(__file__).parent.parent)
    assert cp.returncode == 0 and "Traceback" not in cp.stderr
