"""The power-cut machinery's pure parts: the dm-log-writes log QEMU writes,
the guest's power-cut trace, cut points by the block layer's contract and
image rebuilds.  (The real thing, with
VMs, runs in test_matrix: fixed and workaround pass, nosync fails.)"""
import struct

from harness import durability as d, powercut

SS = 512


def log_bytes(entries):
    """A dm-log-writes log: entries are (sector, flags, data bytes)."""
    out = bytearray(struct.pack("<QQQI", powercut.LOG_MAGIC, 1, len(entries), SS).ljust(SS, b"\0"))
    for sector, flags, data in entries:
        out += struct.pack("<QQQQ", sector, len(data) // SS, flags, 0).ljust(SS, b"\0")
        out += data
    return bytes(out)


def ev(ts, what, rwbs, sector, n):
    ev_ = "block_rq_issue" if what == "issue" else "block_rq_complete"
    size = f"{n * 512} " if what == "issue" else ""
    return (f"@@harness cuttrace  kworker/0:1-42  [000] ..... {ts}: {ev_}: "
            f"254,16 {rwbs} {size}() {sector} + {n} [kworker/0:1]")


def ack(ts, mode, i):
    return f"@@harness cuttrace  dsync_ack-9  [000] ..... {ts}: tracing_mark_write: kdx ack {mode} {i}"


# psync#0's write completes, then its sync's flush is issued and completes,
# then the ack; libaio#0's write is issued before a flush and completes
# after it was issued: that flush does not cover it (QEMU's log puts it
# before the flush all the same)
DATA = [
    (8, 0, b"A" * 4096),                    # 0 psync#0's write
    (0, powercut.LOG_FLUSH, b""),           # 1 its flush
    (16, 0, b"B" * 4096),                   # 2 libaio#0's write
    (0, powercut.LOG_FLUSH, b""),           # 3 a flush issued while it was in flight
]
CONSOLE = "\n".join([
    ev(1, "issue", "WS", 8, 8), ev(2, "complete", "WS", 8, 8),
    ev(3, "issue", "FF", 0, 0), ev(4, "complete", "FF", 0, 0), ack(5, "psync", 0),
    ev(6, "issue", "WS", 16, 8), ev(7, "issue", "FF", 0, 0), ev(8, "complete", "WS", 16, 8),
    ev(9, "complete", "FF", 0, 0), ack(10, "libaio", 0),
    "@@harness cuttrace-lost 0"])
ACKS = [d.Ack("psync", 0, 0, 4096, "x"), d.Ack("libaio", 0, 0, 4096, "y")]


def cuts(model="flushed"):
    text, lost = d.cut_trace(CONSOLE)
    assert lost == 0
    ss, entries = d.parse_log(log_bytes(DATA))
    return d.cuts_from_trace(powercut.parse_trace(text), entries, ss, ACKS, 1 << 20, model)


def test_a_write_in_flight_when_the_flush_was_issued_is_not_durable_at_its_ack():
    """The block layer's contract: the flush issued at 7 covers writes that
    completed before 7; libaio#0's completed at 8.  So at libaio#0's ack the
    disk holds psync#0's write only, and the check must find libaio#0
    missing (the old log-order model kept it)."""
    (only,) = cuts()      # both acks leave the same disk: one cut, holding both
    assert len(only.acks) == 2
    assert [(st.offset, st.length) for st in only.steps] == [(8 * SS, 4096)]


def test_without_a_volatile_cache_every_completed_write_is_durable():
    got = cuts("completed")
    assert [(st.offset, st.length) for st in got[-1].steps] == [(8 * SS, 4096), (16 * SS, 4096)]


def test_an_ack_without_its_mark_in_the_trace_is_a_model_error():
    text, _ = d.cut_trace(CONSOLE)
    ss, entries = d.parse_log(log_bytes(DATA))
    import pytest
    with pytest.raises(powercut.ModelError):
        d.cuts_from_trace(powercut.parse_trace(text), entries, ss,
                          ACKS + [d.Ack("uring", 0, 0, 4096, "z")], 1 << 20, "flushed")


def test_rebuild_applies_the_steps_to_the_fresh_image(tmp_path):
    data = log_bytes(DATA)
    base = tmp_path / "fresh.img"
    base.write_bytes(b"\0" * (64 * SS))
    out = tmp_path / "cut.img"
    d.rebuild(base, data, cuts()[-1].steps, out)
    img = out.read_bytes()
    assert img[8 * SS:8 * SS + 4096] == b"A" * 4096 and img[16 * SS:16 * SS + 8] == b"\0" * 8


def test_log_cut_short_by_a_killed_vm_is_read_up_to_the_cut():
    data = log_bytes(DATA)
    ss, entries = d.parse_log(data[:-SS - 1])     # the last flush and a byte torn off
    assert len(entries) == 2


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
