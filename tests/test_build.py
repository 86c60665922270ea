import subprocess

from harness import build, source


def test_build_key_depends_on_commit_config_and_patches():
    k = build.build_key("/src", "a" * 40, [], "cfg1")
    assert k == build.build_key("/src", "a" * 40, [], "cfg1")
    assert k != build.build_key("/src", "b" * 40, [], "cfg1")
    assert k != build.build_key("/src", "a" * 40, [], "cfg2")
    assert k != build.build_key("/src", "a" * 40, ["p1"], "cfg1")
    assert k != build.build_key("/other", "a" * 40, [], "cfg1")


def test_really_builds_the_base_variant(default_source, monkeypatch):
    """Integration: the default source's base variant builds to a bootable
    bzImage whose .config has every fragment option, from the base commit.
    It builds into an empty build directory, so make really runs (ccache,
    shared with the other builds, may answer for the compiler)."""
    import os
    import shutil

    from harness.paths import cache_dir
    # beside the real builds dir: same depth under CCACHE_BASEDIR, so ccache hits
    private = cache_dir() / f"builds-test-{os.getpid()}"
    monkeypatch.setenv("HARNESS_BUILDS", str(private))
    try:
        _check_base_build(default_source)
    finally:
        shutil.rmtree(private, ignore_errors=True)


def _check_base_build(default_source):
    from harness import kconfig
    v = source.variants_for(default_source, ["base"])[0]
    b = build.build(v)
    assert not b.cached and b.units > 500          # a full build went through make
    # a fresh machine's progress count (the line table's) is this build's
    from harness import lines
    table = lines.get(v.line).cold_units
    assert abs(b.units - table) <= table * 0.05, (b.units, table)
    assert b.bzimage.is_file() and b.bzimage.stat().st_size > 1_000_000
    assert b.commit == subprocess.run(["git", "rev-parse", "variant/base"],
                                      cwd=default_source.path, capture_output=True,
                                      text=True, check=True).stdout.strip()
    cfg = (b.dir / ".config").read_text()
    assert kconfig.verify(cfg, kconfig.wanted(kconfig.default_fragments())) == []
    # the build is keyed: asking again is a no-op
    again = build.build(v)
    assert again.cached and again.dir == b.dir and again.seconds < 5
    log = (b.dir / "harness-build.log").read_text()
    assert f"# commit {b.commit}" in log and "arch/x86/boot/bzImage" in log
    # where the time went: every phase seen, in order, adding up to the build
    st = build._read_stamp(b.dir)
    assert list(st["phases"]) == ["prepare", "configure", "compile", "link", "image"]
    assert abs(sum(st["phases"].values()) - b.seconds) < 2
    assert "# seconds: prepare " in log


def test_prune_keeps_the_newest_finished_trees(tmp_path, monkeypatch):
    import json
    monkeypatch.setenv("HARNESS_KEEP_BUILDS", "3")
    for i in range(6):
        d = tmp_path / f"v-{i}"
        d.mkdir()
        (d / build.STAMP).write_text(json.dumps({"finished": 100 + i}))
    (tmp_path / ".work-x").mkdir()                  # in-progress work dir: untouched
    (tmp_path / "unfinished").mkdir()               # no stamp: untouched
    build._prune(tmp_path, keep=tmp_path / "v-0")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [".work-x", "unfinished", "v-0", "v-4", "v-5"]


def test_a_first_build_counts_against_its_lines_table_then_against_its_stamps(tmp_path):
    import json

    from harness import lines
    # a fresh machine: no stamps; each line's table says what a cold build compiles
    for name, line in lines.all_lines().items():
        assert line.cold_units > 1000
        assert build._expected_units(tmp_path, "c1", name) == line.cold_units
    assert build._expected_units(tmp_path, "c1", "tree") == build.DEFAULT_EXPECTED_UNITS
    # a finished cold build of the line with this config says better; one with
    # another config does not (the table is today's), another line's neither
    d = tmp_path / "7.2-shipped-x"
    d.mkdir()
    (d / build.STAMP).write_text(json.dumps({"cold": True, "line": "7.2", "units": 1612,
                                             "config_hash": "c0", "finished": 1}))
    assert build._expected_units(tmp_path, "c0", "7.2") == 1612
    assert build._expected_units(tmp_path, "c1", "7.2") == lines.get("7.2").cold_units
    assert build._expected_units(tmp_path, "c0", "6.12") == lines.get("6.12").cold_units
    # a tree of no line: any finished build of it beats the default
    (d / build.STAMP).write_text(json.dumps({"cold": True, "line": "tree", "units": 1400,
                                             "config_hash": "c0", "finished": 1}))
    assert build._expected_units(tmp_path, "c1", "tree") == 1400


def test_a_lines_cold_units_must_be_a_count():
    import pytest

    from harness import lines
    from harness.errors import HarnessError
    import re
    text = re.sub(r"cold_units = \d+", 'cold_units = "many"',
                  (lines.LINES_DIR / "7.2.toml").read_text())
    with pytest.raises(HarnessError, match="cold_units must be a whole number"):
        lines.parse(text, lines.LINES_DIR / "7.2.toml")


def test_progress_splits_a_build_into_its_phases(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(build.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(build.sys.stderr, "isatty", lambda: False)
    p = build.Progress("x", 10)                          # make starts
    p.line("  CC      fs/btrfs/file.o")
    p.line("  CC      arch/x86/boot/a20.o")              # not yet the image: no vmlinux
    now[0] = 160.0
    p.line("  LD      vmlinux.o")
    now[0] = 170.0
    p.line("  LD      vmlinux.o")                        # seen once
    now[0] = 175.0
    p.line("  OBJCOPY arch/x86/boot/vmlinux.bin")
    now[0] = 180.0
    p.close()
    assert p.phases() == {"compile": 60.0, "link": 15.0, "image": 5.0}
