import pytest

from harness import kconfig


def test_parse_reads_set_and_unset_options():
    text = "# comment\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"x y\"\nCONFIG_D=0x1\n"
    assert kconfig.parse(text) == {"CONFIG_A": "y", "CONFIG_B": "n", "CONFIG_C": "x y",
                                   "CONFIG_D": "0x1"}


def test_later_fragment_overrides_earlier(tmp_path):
    a, b = tmp_path / "10-a.config", tmp_path / "20-b.config"
    a.write_text("CONFIG_X=y\nCONFIG_Y=y\n")
    b.write_text("# CONFIG_Y is not set\n")
    assert kconfig.wanted([a, b]) == {"CONFIG_X": "y", "CONFIG_Y": "n"}


def test_verify_reports_dropped_and_changed_options():
    want = {"CONFIG_A": "y", "CONFIG_B": "y", "CONFIG_T": "10", "CONFIG_N": "n"}
    have = "CONFIG_A=y\nCONFIG_T=120\n"
    bad = {m.option: m for m in kconfig.verify(have, want)}
    assert set(bad) == {"CONFIG_B", "CONFIG_T"}
    assert bad["CONFIG_B"].describe() == "CONFIG_B=y was dropped (now unset)"
    assert bad["CONFIG_T"].describe() == "CONFIG_T=10 is 120"


def test_default_fragments_ask_for_the_debug_set():
    want = kconfig.wanted(kconfig.default_fragments())
    for opt in ("PROVE_LOCKING", "DEBUG_ATOMIC_SLEEP", "DETECT_HUNG_TASK", "SOFTLOCKUP_DETECTOR",
                "BTRFS_ASSERT", "KALLSYMS_ALL", "FRAME_POINTER", "MAGIC_SYSRQ", "PRINTK_TIME",
                "PRINTK_CALLER", "VIRTIO_BLK", "9P_FS", "NET_9P_VIRTIO", "SERIAL_8250_CONSOLE",
                "BTRFS_FS", "IO_URING", "AIO"):
        assert want[f"CONFIG_{opt}"] == "y", opt
    assert int(want["CONFIG_DEFAULT_HUNG_TASK_TIMEOUT"]) <= 30


def test_config_hash_follows_fragment_content(tmp_path):
    f = tmp_path / "x.config"
    f.write_text("CONFIG_A=y\n")
    h1 = kconfig.config_hash([f])
    assert kconfig.config_hash([f]) == h1
    f.write_text("CONFIG_A=n\n")
    assert kconfig.config_hash([f]) != h1


def test_dependency_hint_from_a_kconfig_tree(tmp_path):
    (tmp_path / "fs/9p").mkdir(parents=True)
    (tmp_path / "fs/9p/Kconfig").write_text(
        "config 9P_FS\n\ttristate \"Plan 9\"\n\tdepends on INET && NET_9P\n\thelp\n\t  x\n"
        "config 9P_FS_POSIX_ACL\n\tdepends on 9P_FS\n")
    m = kconfig.Mismatch("CONFIG_9P_FS", "y", "n")
    assert m.describe(tmp_path) == ("CONFIG_9P_FS=y was dropped (now unset); it depends on "
                                    "INET && NET_9P (fs/9p/Kconfig)")
    assert "no such option" in kconfig.dependency_hint(tmp_path, "CONFIG_NOPE")


def test_dependency_hint_on_the_real_tree(default_source):
    hint = kconfig.dependency_hint(default_source.path, "CONFIG_9P_FS")
    assert hint == "it depends on INET && NET_9P (fs/9p/Kconfig)"


def test_missing_fragment_is_an_error(tmp_path):
    with pytest.raises(Exception, match="no such file"):
        kconfig.wanted([tmp_path / "nope.config"])


def test_inputs_hash_follows_what_configure_reads(tmp_path):
    (tmp_path / "fs/btrfs").mkdir(parents=True)
    (tmp_path / "kernel/configs").mkdir(parents=True)
    (tmp_path / "fs/btrfs/Kconfig").write_text("config BTRFS_FS\n")
    (tmp_path / "fs/btrfs/inode.c").write_text("int x;\n")
    (tmp_path / "kernel/configs/tiny.config").write_text("CONFIG_A=y\n")
    (tmp_path / ".git").mkdir()
    h = kconfig.inputs_hash(tmp_path)
    (tmp_path / "fs/btrfs/inode.c").write_text("int y;\n")      # code: same config
    (tmp_path / ".git/Kconfig").write_text("x")
    assert kconfig.inputs_hash(tmp_path) == h
    (tmp_path / "fs/btrfs/Kconfig").write_text("config BTRFS_FS\n\tdefault y\n")
    h2 = kconfig.inputs_hash(tmp_path)
    assert h2 != h
    (tmp_path / "kernel/configs/tiny.config").write_text("CONFIG_A=n\n")
    assert kconfig.inputs_hash(tmp_path) != h2


def test_a_kept_config_is_still_checked(tmp_path):
    import io
    frag = tmp_path / "f.config"
    frag.write_text("CONFIG_A=y\n")
    out = tmp_path / "o"
    out.mkdir()
    (out / ".config").write_text("CONFIG_A=y\n")
    log = io.StringIO()
    # no make runs (srctree does not exist): the seed's .config is the answer
    assert kconfig.configure(tmp_path / "nosrc", out, [frag], log, {}, reuse=True) == \
        "CONFIG_A=y\n"
    assert "kept from the seed" in log.getvalue()
    (out / ".config").write_text("# CONFIG_A is not set\n")
    with pytest.raises(Exception, match="CONFIG_A=y was dropped"):
        kconfig.configure(tmp_path / "nosrc", out, [frag], log, {}, reuse=True)
