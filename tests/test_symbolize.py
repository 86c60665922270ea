"""parse-log --vmlinux: frames resolve to file:line through the kernel's own
scripts/decode_stacktrace.sh (nm + addr2line).  The "vmlinux" here is a tiny
ELF with debug info built by the test, so the check needs no debug kernel."""
import json
import subprocess
import sys

from conftest import REPO

SRC = """int btrfs_fake_leaf(int x)
{
\treturn x * 3 + 1;
}

int btrfs_fake_sync_file(int x)
{
\tint y = btrfs_fake_leaf(x);
\treturn y + 7;
}

int main(void) { return btrfs_fake_sync_file(2); }
"""


def test_frames_resolve_to_file_and_line(tmp_path, harness_env, default_source):
    (tmp_path / "fake.c").write_text(SRC)
    elf = tmp_path / "vmlinux"
    subprocess.run(["gcc", "-g", "-O0", "-fno-pie", "-no-pie", "-o", str(elf),
                    str(tmp_path / "fake.c")], check=True)
    log = tmp_path / "console.log"
    log.write_text("[   12.5][  T45] INFO: task fio:45 blocked for more than 10 seconds.\n"
                   "[   12.5][  T45] Call Trace:\n"
                   "[   12.5][  T45]  __schedule+0x2f4/0x8b0\n"
                   "[   12.5][  T45]  btrfs_fake_sync_file+0x10/0x2a\n")
    cp = subprocess.run([sys.executable, "-m", "harness", "parse-log", "--json", str(log),
                         "--vmlinux", str(elf), "--kernel-tree", str(default_source.path)],
                        cwd=REPO, env=harness_env, capture_output=True, text=True, timeout=120)
    assert cp.returncode == 0, cp.stderr
    (f,) = json.loads(cp.stdout)
    assert f["title"] == "INFO: task hung in btrfs_fake_sync_file"
    assert f"btrfs_fake_sync_file ({tmp_path}/fake.c:8)" in f["report"]


def test_missing_vmlinux_is_one_line(tmp_path, harness_env, default_source):
    log = tmp_path / "c.log"
    log.write_text("INFO: task a:1 blocked for more than 10 seconds.\nCall Trace:\n f+0x1/0x2\n")
    cp = subprocess.run([sys.executable, "-m", "harness", "parse-log", str(log), "--vmlinux",
                         str(tmp_path / "nope"), "--kernel-tree", str(default_source.path)],
                        cwd=REPO, env=harness_env, capture_output=True, text=True)
    assert cp.returncode == 2 and "no such file" in cp.stderr and "Traceback" not in cp.stderr
