"""benchmarks/bench_build.py's compile profile: the shim's log, summed per directory."""
import importlib.util
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location(
    "bench_build", Path(__file__).resolve().parent.parent / "benchmarks" / "bench_build.py")
bench_build = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(bench_build)

LOG = """\
1000000000 3000000000 fs/btrfs/super.o
1000000000 2000000000 fs/btrfs/ctree.o
1000000000 1500000000 /c/builds/.work-abc/tools/objtool/check.o
2000000000 2100000000
2000000000 2100000000 /dev/null
3000000000 3250000000 fs/namei.o
"""


def test_the_profile_sums_each_directory_and_leaves_out_calls_without_an_output():
    total, calls, rows = bench_build.compile_profile(LOG.splitlines(), "/c/builds")
    assert calls == 4
    assert total == pytest.approx(3.75)
    assert rows[0] == ("fs/btrfs", pytest.approx(3.0), 2)
    # an absolute output under the builds root counts under its tree path
    assert ("tools/objtool", pytest.approx(0.5), 1) in rows
    assert ("fs", pytest.approx(0.25), 1) in rows


def test_the_shim_keeps_the_compilers_exit_status(tmp_path):
    import subprocess
    log = tmp_path / "times.log"
    shim = tmp_path / "gcc"
    shim.write_text(bench_build.SHIM.format(gcc="false", log=log))
    shim.chmod(0o755)
    assert subprocess.run([str(shim), "-c", "x.c", "-o", "x.o"]).returncode == 1
    t0, t1, out = log.read_text().split()
    assert out == "x.o" and int(t1) >= int(t0)
