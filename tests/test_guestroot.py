"""The guest's root: made by the harness, holding only what workloads need.

The unit tests check what goes in (and what never does); the VM tests boot
the real `base` kernel with it: a user's workload looking for host secrets
finds none, and a checkout under /tmp with a space in its path still
catches the deadlock."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from harness import guestroot, workload
from harness.errors import HarnessError
from harness.paths import GUEST_INIT


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_guest_paths_are_fixed_whatever_the_host_path(tmp_path, private_cache):
    assert guestroot.guest_path(GUEST_INIT) == "/harness/config/guest-init.sh"
    prog = private_cache / "guest-bin" / "dsync_shapes-0123"
    prog.parent.mkdir(parents=True)
    prog.write_bytes(b"\x7fELF")
    assert guestroot.guest_path(prog) == "/harness/bin/dsync_shapes-0123"
    user = tmp_path / "my dir" / "my job|1.fio"
    user.parent.mkdir()
    user.write_text("[job]\n")
    g = guestroot.guest_path(user)
    assert g.startswith("/harness/user/") and g.endswith("/my_job_1.fio")
    assert " " not in g and "|" not in g
    other = tmp_path / "other" / "my job|1.fio"      # same name, other content
    other.parent.mkdir()
    other.write_text("[other]\n")
    assert guestroot.guest_path(other) != g


def test_root_holds_the_tools_and_nothing_of_the_host(private_cache, tmp_path):
    files = guestroot.contents()
    for tool in ("sh", "mount", "mkfs.btrfs", "btrfs", "dmsetup", "xfs_io", "awk"):
        assert f"/bin/{tool}" in files
    # fio (and its ~75 MB of libraries) only for a user's workload
    assert "/bin/fio" not in files and "/bin/fio" in guestroot.contents(tools=guestroot.USER_TOOLS)
    assert "/harness/config/guest-init.sh" in files
    assert not any(g.startswith(("/root", "/etc/", "/home")) for g in files)
    assert not any("kconfig" in g for g in files)
    root = guestroot.build()
    assert (root / "harness/config/guest-init.sh").read_bytes() == GUEST_INIT.read_bytes()
    assert os.access(root / "bin/sh", os.X_OK)
    # the init's kernel markers: a static program at a fixed path
    assert guestroot.KMARK_GUEST in files and os.access(root / "harness/bin/kmark", os.X_OK)
    assert guestroot._libraries(files[guestroot.KMARK_GUEST]) == []
    # every dynamic tool finds its loader and libraries inside the root
    listed = {str(p.relative_to(root)) for p in root.rglob("*")}
    assert not any(p.startswith(("root", "home")) or p == "etc/shadow" for p in listed)
    assert sorted(os.listdir(root / "etc")) == ["fstab", "mtab"]
    assert (root / "etc/fstab").stat().st_size == 0
    cp = subprocess.run(["ldd", str(files["/bin/btrfs"])], capture_output=True, text=True)
    for ln in cp.stdout.splitlines():
        if "=>" in ln and "/" in ln.split("=>")[1]:
            lib = ln.split("=>")[1].split()[0]
            assert (root / lib.lstrip("/")).is_file(), lib


def test_root_is_cached_by_content(private_cache, tmp_path):
    a = guestroot.build()
    assert guestroot.build() == a                       # same content: same root
    user = tmp_path / "w.sh"
    user.write_text("#!/bin/sh\necho one\n")
    b = guestroot.build([user])
    in_b = b / guestroot.guest_path(user).lstrip("/")
    assert b != a and in_b.read_text().endswith("one\n")
    user.write_text("#!/bin/sh\necho two\n")            # an edit in place: same inode
    c = guestroot.build([user])
    assert c not in (a, b)
    # the root cached for "one" still holds "one": the project's and the
    # user's files are copies, not hard links an edit in place reaches
    assert in_b.read_text().endswith("one\n")
    init = guestroot.GUEST_CONFIG / "guest-init.sh"
    assert not (a / guestroot.guest_path(init).lstrip("/")).samefile(init)


def test_the_initramfs_is_the_root_as_cpio_reads_it(private_cache, tmp_path):
    """The archive the kernel unpacks, read back by GNU cpio: every file,
    link and directory of the root at its path with its bytes, owned by
    root, and the /dev/console node PID 1 needs before devtmpfs is up."""
    root = guestroot.build()
    packed = guestroot.archive(root)
    assert packed == root.with_name(root.name + ".cpio") and guestroot.archive(root) == packed
    listing = subprocess.run(["cpio", "-itv", "--quiet"], stdin=open(packed, "rb"),
                             capture_output=True, text=True, check=True).stdout.splitlines()
    byname = {ln.split()[-1] if "->" not in ln else ln.split()[-3]: ln for ln in listing}
    assert byname["dev/console"].startswith("crw-------") and "5,   1" in byname["dev/console"]
    assert byname["sbin"].startswith("l") and byname["sbin"].endswith("sbin -> bin")
    assert all(ln.split()[2:4] == ["root", "root"] for ln in listing)
    out = tmp_path / "x"
    out.mkdir()
    subprocess.run(["cpio", "-id", "--quiet"], stdin=open(packed, "rb"), cwd=out, check=True)
    for p in root.rglob("*"):
        got = out / p.relative_to(root)
        if p.is_symlink():
            assert os.readlink(got) == os.readlink(p)
        elif p.is_file():
            assert got.read_bytes() == p.read_bytes(), p
            assert os.access(got, os.X_OK) == os.access(p, os.X_OK), p
        else:
            assert got.is_dir(), p
    assert sorted(q.name for q in (out / "dev").iterdir()) == ["console"]


def test_write_newc_pads_every_header_and_body_to_four_bytes():
    import io
    buf = io.BytesIO()
    guestroot.write_newc(buf, [("a", 0o100644, b"xyz", (0, 0)), ("bb", 0o040755, b"", (0, 0))])
    raw = buf.getvalue()
    assert raw[:6] == b"070701" and len(raw) % 4 == 0
    first = raw[:110]
    assert int(first[6 + 6 * 8:6 + 7 * 8], 16) == 3            # c_filesize
    assert int(first[6 + 11 * 8:6 + 12 * 8], 16) == 2          # c_namesize, NUL included
    assert raw[110:112] == b"a\0" and raw[112:116] == b"xyz\0"  # name 110+2 -> 112; body 3 -> 4
    assert raw.endswith(b"TRAILER!!!\0" + b"\0" * (-(110 + 11) % 4))


def test_user_workloads_need_an_interpreter_the_guest_has(tmp_path):
    py = tmp_path / "w.py"
    py.write_text("#!/usr/bin/python3\nprint(1)\n")
    py.chmod(0o755)
    with pytest.raises(HarnessError, match="interpreter /usr/bin/python3 is not in the guest"):
        workload.user_workload(py)
    plain = tmp_path / "data.txt"
    plain.write_text("x\n")
    with pytest.raises(HarnessError, match="not executable"):
        workload.user_workload(plain)
    sh = tmp_path / "dir with space" / "w.sh"
    sh.parent.mkdir()
    sh.write_text("#!/bin/sh\ntrue\n")
    sh.chmod(0o755)
    assert workload.user_workload(sh).program == sh.resolve()
    assert workload.user_workload(sh).tools == guestroot.USER_TOOLS == ("fio",)


# ------------------------------------------------------------------ VM tier

SNOOP = """#!/bin/sh
# a user workload looking for the host's secrets
for f in /root /etc/shadow /home /work /usr/share /proc/1/root/etc/shadow; do
    if [ -e "$f" ]; then echo "SNOOP found $f"; else echo "SNOOP missing $f"; fi
done
ls / | tr '\\n' ' ' | sed 's/^/SNOOP root: /'; echo
echo data > /mnt/snoop && sync && echo "SNOOP wrote /mnt"
"""


def test_a_workload_sees_no_host_secret(tmp_path, harness_env):
    """Booted for real: the guest's / is the harness's root, and the results
    folder holds none of the host's secrets."""
    script = tmp_path / "snoop.sh"
    script.write_text(SNOOP)
    script.chmod(0o755)
    res = tmp_path / "res"
    cp = subprocess.run([sys.executable, "-m", "harness", "run", "--variant", "fixed",
                         "--workload", str(script), "--results", str(res)],
                        cwd=REPO, env=dict(harness_env, HARNESS_ACCEL="tcg"),
                        capture_output=True, text=True, timeout=900)
    print(cp.stdout[-3000:], cp.stderr[-2000:])
    assert cp.returncode == 0
    (run_dir,) = list(res.iterdir())
    logs = "".join(p.read_text(errors="replace") for p in run_dir.glob("*.console.log"))
    for f in ("/root", "/etc/shadow", "/home", "/work", "/usr/share", "/proc/1/root/etc/shadow"):
        assert f"SNOOP missing {f}" in logs and f"SNOOP found {f}\n" not in logs
    assert "SNOOP wrote /mnt" in logs
    shadow = Path("/etc/shadow")
    if shadow.exists():
        secret = [ln.split(":")[1] for ln in shadow.read_text().splitlines()
                  if ln.startswith("root:")]
        blob = b"".join(p.read_bytes() for p in run_dir.rglob("*") if p.is_file()
                        and p.stat().st_size < 50 << 20)
        assert not secret or len(secret[0]) < 4 or secret[0].encode() not in blob


def test_a_checkout_under_tmp_with_a_space(tmp_path, harness_env):
    """A clone under /tmp, in a folder whose name has a space, results next to
    it: base x extending still gives the deadlock, exit 0 as expected."""
    clone = Path(tmp_path) / "kd sync"
    assert str(clone).startswith("/tmp/") or os.environ.get("TMPDIR")
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    # the working tree's own changes too (uncommitted work under test)
    for rel in subprocess.run(["git", "ls-files", "-m", "-o", "--exclude-standard"], cwd=REPO,
                              capture_output=True, text=True).stdout.split("\n"):
        if rel and (REPO / rel).is_file():
            (clone / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, clone / rel)
    env = {k: v for k, v in harness_env.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(clone)
    env["HARNESS_ACCEL"] = "tcg"
    res = clone / "results dir"
    cp = subprocess.run([sys.executable, "-m", "harness", "run", "--variant", "base",
                         "--workload", "extending", "--results", str(res)],
                        cwd=clone, env=env, capture_output=True, text=True, timeout=900)
    print(cp.stdout[-3000:], cp.stderr[-2000:])
    assert cp.returncode == 0
    (run_dir,) = list(res.iterdir())
    (cell,) = json.loads((run_dir / "result.json").read_text())["results"]
    assert cell["verdict"] == "FAIL" and cell["title"] == "possible deadlock in btrfs_sync_file"


def test_a_guest_program_is_rebuilt_when_its_shared_header_changes(private_cache, tmp_path):
    """The workloads share guest-config/workloads/kdsync.h: the binary's
    cache key is the source and the headers beside it."""
    from harness import guestbin
    (tmp_path / "shared.h").write_text("#define ANSWER 42\n")
    src = tmp_path / "prog.c"
    src.write_text('#include <stdio.h>\n#include "shared.h"\n'
                   'int main(void) { printf("%d\\n", ANSWER); return 0; }\n')
    first = guestbin.compiled(src)
    assert subprocess.run([first], capture_output=True, text=True).stdout == "42\n"
    (tmp_path / "shared.h").write_text("#define ANSWER 7\n")
    second = guestbin.compiled(src)
    assert second != first
    assert subprocess.run([second], capture_output=True, text=True).stdout == "7\n"
