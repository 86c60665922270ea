"""The power-cut machinery's pure parts: the dm-log-writes log QEMU writes,
the ack markers, cut points and image rebuilds.  (The real thing, with
VMs, runs in test_matrix: fixed and workaround pass, nosync fails.)"""
import struct

from harness import durability as d

SS = 512


def log_bytes(entries):
    """A dm-log-writes log: entries are (sector, flags, data bytes)."""
    out = bytearray(struct.pack("<QQQI", d.LOG_MAGIC, 1, len(entries), SS).ljust(SS, b"\0"))
    for sector, flags, data in entries:
        out += struct.pack("<QQQQ", sector, len(data) // SS, flags, 0).ljust(SS, b"\0")
        out += data
    return bytes(out)


def mark(mode, i):
    return f"KDSYNC-ACK {mode} {i}\n".encode().ljust(4096, b"\0")


MARK_SECTOR = d.MARK_OFFSET // SS
DATA = [
    (100, 0, b"A" * 4096),                  # 0 write of ack psync#0
    (0, d.LOG_FLUSH, b""),                  # 1 flush (its sync)
    (MARK_SECTOR, 0, mark("psync", 0)),     # 2 marker: acked after flush 1
    (200, 0, b"B" * 4096),                  # 3 write of ack libaio#0, never flushed
    (MARK_SECTOR, 0, mark("libaio", 0)),    # 4 marker: last flush before it is 1
    (300, 0, b"C" * 1024),                  # 5 unrelated write
    (0, d.LOG_FLUSH, b""),                  # 6 flush
]
ACKS = [d.Ack("psync", 0, 0, 4096, "x"), d.Ack("libaio", 0, 0, 4096, "y")]


def test_parse_log_and_markers():
    data = log_bytes(DATA)
    ss, entries = d.parse_log(data)
    assert ss == SS and len(entries) == 7
    assert entries[1].flags & d.LOG_FLUSH and entries[1].nr == 0
    assert data[entries[3].data:entries[3].data + 4] == b"BBBB"
    assert d.markers(data, ss, entries) == {("psync", 0): 2, ("libaio", 0): 4}


def test_log_cut_short_by_a_killed_vm_is_read_up_to_the_cut():
    data = log_bytes(DATA)
    ss, entries = d.parse_log(data[:-SS - 1024 - 1])     # last entries torn off
    assert len(entries) == 5


def test_cut_points_require_what_was_acknowledged_before():
    data = log_bytes(DATA)
    ss, entries = d.parse_log(data)
    cuts = d.cut_points(entries, d.markers(data, ss, entries), ACKS)
    # both acks' markers come after flush 1 and before flush 6
    assert list(cuts) == [d.Cut(1)] and cuts[d.Cut(1)] == ACKS


def test_without_a_volatile_cache_every_ack_is_its_own_cut_point():
    # the same log on a disk that writes through: every write is durable as
    # it completes, so libaio#0's never-flushed write must be there at its ack
    data = log_bytes(DATA)
    ss, entries = d.parse_log(data)
    cuts = d.cut_points(entries, d.markers(data, ss, entries), ACKS, "completed")
    assert list(cuts) == [d.Cut(1), d.Cut(3)]
    assert cuts[d.Cut(1)] == ACKS[:1] and cuts[d.Cut(3)] == ACKS
    assert d.Cut(3).entries() == [0, 1, 2, 3]


def test_a_fua_write_is_durable_when_it_completes_on_a_volatile_cache():
    log = [(100, 0, b"A" * 4096),                   # 0 psync#0's data
           (0, d.LOG_FLUSH, b""),                   # 1 flush
           (MARK_SECTOR, 0, mark("psync", 0)),      # 2 marker
           (200, d.LOG_FUA, b"B" * 4096),           # 3 libaio#0 written FUA
           (300, 0, b"C" * 4096),                   # 4 a plain write, not flushed
           (MARK_SECTOR, 0, mark("libaio", 0))]     # 5 marker
    data = log_bytes(log)
    ss, entries = d.parse_log(data)
    cuts = d.cut_points(entries, d.markers(data, ss, entries), ACKS, "flushed")
    assert list(cuts) == [d.Cut(1), d.Cut(1, (3,))]
    assert cuts[d.Cut(1, (3,))] == ACKS


def test_rebuild_at_a_fua_cut_has_the_fua_write_and_not_the_unflushed_one(tmp_path):
    log = [(100, 0, b"A" * 4096), (0, d.LOG_FLUSH, b""), (200, d.LOG_FUA, b"B" * 4096),
           (300, 0, b"C" * 4096)]
    data = log_bytes(log)
    ss, entries = d.parse_log(data)
    base = tmp_path / "base.img"
    base.write_bytes(b"\0" * 400 * SS)
    out = tmp_path / "cut.img"
    d.rebuild(base, data, ss, entries, d.durable_at(entries, 4, "flushed"), out)
    img = out.read_bytes()
    assert img[100 * SS:100 * SS + 4] == b"AAAA" and img[200 * SS:200 * SS + 4] == b"BBBB"
    assert img[300 * SS:300 * SS + 4] == b"\0" * 4


def test_an_unknown_power_cut_model_is_refused():
    import pytest
    with pytest.raises(ValueError):
        d.durable_at([], 0, "maybe")


def test_rebuild_applies_writes_up_to_the_cut(tmp_path):
    data = log_bytes(DATA)
    ss, entries = d.parse_log(data)
    base = tmp_path / "base.img"
    base.write_bytes(b"\0" * 400 * SS)
    out = tmp_path / "cut.img"
    d.rebuild(base, data, ss, entries, 1, out)
    img = out.read_bytes()
    assert img[100 * SS:100 * SS + 4096] == b"A" * 4096        # flushed: there
    assert img[200 * SS:200 * SS + 4096] == b"\0" * 4096       # acked but never flushed: lost
    assert base.read_bytes() == b"\0" * 400 * SS               # the fresh image is untouched


def test_parse_acks_from_console():
    text = ("[ 5.0][ T9] noise\r\n@@harness ack libaio 3 196608 65536 00ff00ff00ff00ff\r\n"
            "@@harness ack uring 0 0 65536 0123456789abcdef\n")
    assert d.parse_acks(text) == [d.Ack("libaio", 3, 196608, 65536, "00ff00ff00ff00ff"),
                                  d.Ack("uring", 0, 0, 65536, "0123456789abcdef")]


def test_a_lost_line_the_kernel_continued_is_still_one_write():
    """6.12 revert-unlock x cut-extend@fua counted 17 lost of 16: the kernel's
    console went on on the helper's line, and "1[" became a write of its own."""
    text = ("@@harness lost libaio 0\n"
            "@@harness lost libaio 1[   13.484711][   T66] BTRFS info (device vdk): "
            "last unmount of filesystem c9b22129\n"
            "@@harness lost libaio 1\n@@harness lost uring all (/mnt/x: No such file)\n")
    assert d.parse_lost(text) == ["libaio#0", "libaio#1", "uring#all"]


def test_judge_names_the_lost_modes():
    info = {"cut_points": 26, "cut_points_checked": 8, "acknowledged": 72,
            "lost": ["libaio#3", "uring#0"], "cuts_lost": [7], "fsck": {}}
    v, title, detail = d.judge(info)
    assert (v, title) == ("FAIL", "lost O_DSYNC write after power cut (libaio, uring)")
    assert "2 acknowledged writes missing at cut point(s) [7]" in detail
    ok = dict(info, lost=[], cuts_lost=[])
    assert d.judge(ok)[0] == "PASS"
    assert d.judge(dict(ok, fsck={2: "ERROR: bad tree"}))[1] == "btrfs check failed after power cut"


def test_a_check_vm_that_never_booted_is_infra_not_a_failed_mount():
    info = {"cut_points": 24, "cut_points_checked": 24, "acknowledged": 24, "lost": [],
            "cuts_lost": [], "fsck": {}, "mount_failed": [], "unchecked": list(range(24))}
    v, title, detail = d.judge(dict(info, check_vm="boot-timeout", check_vm_booted=False))
    assert (v, title) == ("INFRA", None) and "did not reach userspace (boot-timeout)" in detail
    # a check VM that booted and left cut points unanswered: their mounts failed
    assert d.judge(dict(info, check_vm="deadline", check_vm_booted=True))[:2] == \
        ("FAIL", "btrfs mount failed after power cut")


def test_the_acks_are_held_against_the_writes_the_workload_made():
    text = ("@@harness ack psync 0 0 65536 aa\n@@harness ack psync 1 65536 65536 bb\n"
            "@@harness stat writes=2 bytes=131072 direct_bytes=131072\n"
            "@@harness ack uring 0 0 65536 cc\n@@harness stat writes=2 bytes=1 direct_bytes=1\n")
    assert d.written(text) == 4 and len(d.parse_acks(text)) == 3
    assert d.written("no stat line") is None
