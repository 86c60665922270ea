"""--remote for real: an sshd the test starts on 127.0.0.1 (key auth only),
the `fixed` kernel and guest-config copied over SFTP, QEMU started there,
the console streamed back into the monitor, everything removed after."""
import getpass
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, default_sigint, qemu_pids_with

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    assert os.path.exists(SSHD), "openssh-server is installed by `make setup`"
    d = tmp_path_factory.mktemp("sshd")
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)],
                       check=True)
    (d / "authorized_keys").write_text((d / "client_key.pub").read_text())
    os.chmod(d / "authorized_keys", 0o600)
    port = free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host_key'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\nPidFile {d / 'sshd.pid'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
        "PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n"
        "Subsystem sftp internal-sftp\n")
    os.makedirs("/run/sshd", exist_ok=True)
    p = subprocess.Popen([SSHD, "-D", "-e", "-f", str(d / "sshd_config")],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        p.kill()
        pytest.fail(f"sshd did not start: {p.stdout.read()}")
    host_pub = (d / "host_key.pub").read_text().split()
    yield {"port": port, "key": str(d / "client_key"), "dir": d,
           "known_line": f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n"}
    p.terminate()
    p.wait(timeout=10)


def remote_args(sshd, known_hosts, *extra):
    return ["--remote", f"{getpass.getuser()}@127.0.0.1:{sshd['port']}",
            "--remote-key", sshd["key"], "--known-hosts", str(known_hosts), *extra]


def run(args, env, timeout=600):
    return subprocess.run([sys.executable, "-m", "harness", "run", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def remote_dirs():
    return set(glob.glob("/var/tmp/kdsync-remote.*"))


def test_unknown_host_key_is_refused(sshd, tmp_path, harness_env, fixed_build):
    kh = tmp_path / "known_hosts"
    kh.write_text("")
    before = remote_dirs()
    cp = run(["--variant", "fixed", "--workload", "extending", "--results", str(tmp_path),
              *remote_args(sshd, kh)], harness_env)
    assert cp.returncode == 2 and "Traceback" not in cp.stderr
    assert "is not known" in cp.stderr and "--accept-new-host-key" in cp.stderr
    assert kh.read_text() == "" and remote_dirs() == before


def test_remote_run_streams_console_and_cleans_up(sshd, tmp_path, harness_env, fixed_build):
    kh = tmp_path / "known_hosts"
    kh.write_text(sshd["known_line"])
    before = remote_dirs()
    env = dict(harness_env, HARNESS_ACCEL="tcg")
    cp = run(["--variant", "fixed", "--workload", "extending", "--results", str(tmp_path / "r"),
              *remote_args(sshd, kh)], env)
    assert cp.returncode == 0, cp.stderr[-2000:]
    (run_dir,) = (tmp_path / "r").iterdir()
    doc = json.loads((run_dir / "result.json").read_text())
    assert doc["vm_host"].endswith(f"@127.0.0.1:{sshd['port']}")
    (r,) = doc["results"]
    assert r["verdict"] == "PASS"
    log = (run_dir / r["console_log"]).read_text()
    assert "@@harness booted" in log and "verified 16 extents" in log
    # QEMU there booted the guest root uploaded there (not this host's files)
    (qemu_sh,) = run_dir.glob("*.qemu.sh")
    assert "path=/var/tmp/kdsync-remote." in qemu_sh.read_text()
    assert "/root/" not in qemu_sh.read_text().split("-fsdev")[1].split()[0]
    assert remote_dirs() == before                # removed on the way out
    assert not qemu_pids_with("/var/tmp/kdsync-remote.")


def test_a_packed_root_is_uploaded_once_as_a_file_or_a_tree(sshd, tmp_path):
    """put_root takes what guestroot.ROOTS packs: an initramfs file goes up
    as one file with its bytes and mode, a 9p directory as a tree; each once."""
    from harness import remote
    kh = tmp_path / "known_hosts"
    kh.write_text(sshd["known_line"])
    host = remote.RemoteHost(remote.Target.parse(f"{getpass.getuser()}@127.0.0.1:{sshd['port']}"),
                             sshd["key"], str(kh))
    try:
        packed = tmp_path / "0123abcd.cpio"
        packed.write_bytes(b"070701" + bytes(range(256)) * 3)
        tree = tmp_path / "0123abcd"
        (tree / "bin").mkdir(parents=True)
        (tree / "bin" / "sh").write_bytes(b"#!x\n")
        (tree / "bin" / "sh").chmod(0o755)
        (tree / "sbin").symlink_to("bin")
        got = host.put_root(packed)
        assert Path(got).read_bytes() == packed.read_bytes()       # the remote is this host
        assert host.put_root(packed) == got
        up = Path(host.put_root(tree))
        assert up != Path(got) and (up / "bin" / "sh").read_bytes() == b"#!x\n"
        assert os.access(up / "bin" / "sh", os.X_OK) and os.readlink(up / "sbin") == "bin"
    finally:
        host.close()
    assert not Path(got).exists()                                 # the remote tmp is gone


def test_accepting_a_new_host_key_records_it(sshd, tmp_path, harness_env, fixed_build):
    kh = tmp_path / "known_hosts"
    kh.write_text("")
    env = dict(harness_env, HARNESS_ACCEL="tcg")
    cp = run(["--variant", "fixed", "--workload", "unaligned", "--results", str(tmp_path),
              *remote_args(sshd, kh, "--accept-new-host-key")], env)
    assert cp.returncode == 0, cp.stderr[-2000:]
    assert sshd["known_line"].split()[2] in kh.read_text()


def test_interrupted_remote_run_leaves_nothing_behind(sshd, tmp_path, harness_env, fixed_build):
    import signal
    kh = tmp_path / "known_hosts"
    kh.write_text(sshd["known_line"])
    before = remote_dirs()
    p = subprocess.Popen([sys.executable, "-m", "harness", "run", "--variant", "fixed",
                          "--workload", "fsync-race", "--results", str(tmp_path),
                          *remote_args(sshd, kh)], cwd=REPO,
                         env=dict(harness_env, HARNESS_ACCEL="tcg"), preexec_fn=default_sigint,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while not qemu_pids_with("/var/tmp/kdsync-remote.") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert qemu_pids_with("/var/tmp/kdsync-remote."), "remote VM never started"
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=60)
    assert p.returncode == 130, out[-2000:]
    deadline = time.monotonic() + 10
    while qemu_pids_with("/var/tmp/kdsync-remote.") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not qemu_pids_with("/var/tmp/kdsync-remote.")
    assert remote_dirs() == before


# ------------------------------------------- --remote's target, no sshd needed

@pytest.mark.parametrize("spec, want", [
    ("alice@kvm1.example.org:2222", ("alice", "kvm1.example.org", 2222)),
    ("alice@kvm1", ("alice", "kvm1", 22)),
    ("root@10.0.0.7:22", ("root", "10.0.0.7", 22)),
    ("ci@runner@bastion:65535", ("ci@runner", "bastion", 65535)),   # the last @ splits
])
def test_remote_target_parses_user_host_port(spec, want):
    from harness.remote import Target
    t = Target.parse(spec)
    assert (t.user, t.host, t.port) == want


@pytest.mark.parametrize("spec", ["kvm1", "@kvm1", "kvm1:2200"])
def test_remote_target_without_user_is_the_local_user(spec, monkeypatch):
    from harness.remote import Target
    monkeypatch.setenv("USER", "bob")
    t = Target.parse(spec)
    assert (t.user, t.host) == ("bob", "kvm1")
    assert t.port == (2200 if spec.endswith(":2200") else 22)
    monkeypatch.delenv("USER")
    assert Target.parse(spec).user == "root"


@pytest.mark.parametrize("spec", ["", "alice@", "alice@:22", ":22", "alice@kvm1:",
                                  "alice@kvm1:ssh", "alice@kvm1:0", "alice@kvm1:65536",
                                  "alice@kvm1:-1", "alice@kvm1:22:23", "alice@kvm1: 22",
                                  "alice@kvm1:\u00b2"])
def test_bad_remote_target_is_one_line_usage_error(spec):
    from harness.errors import EXIT_USAGE, HarnessError
    from harness.remote import Target
    with pytest.raises(HarnessError) as e:
        Target.parse(spec)
    assert str(e.value) == (f"--remote {spec!r}: expected user@host[:port], "
                            "port a number from 1 to 65535")
    assert e.value.exit_code == EXIT_USAGE and "\n" not in str(e.value)
