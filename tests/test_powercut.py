"""The power-cut model follows the block layer's contract (hand-made traces
and write logs; no VM)."""
import struct

import pytest

from harness import powercut as pc

SS = 512


def log(entries):
    """A dm-log-writes log: [(sector, nr, flags)], data = the entry index
    in every byte of its sectors."""
    blob = bytearray(SS)
    struct.pack_into("<QQQI", blob, 0, pc.LOG_MAGIC, 1, len(entries), SS)
    for i, (sector, nr, flags) in enumerate(entries):
        hdr = bytearray(SS)
        struct.pack_into("<QQQQ", hdr, 0, sector, nr, flags, 0)
        blob += hdr
        if not flags & pc.LOG_DISCARD:
            blob += bytes([i + 1]) * (nr * SS)
    return bytes(blob)


def trace(*events):
    """Trace text from (ts, event, rest) tuples, as tracefs prints them."""
    return "\n".join(f"  kworker/0:1-42  [000] ..... {ts}: {ev}: {rest}" for ts, ev, rest in events)


def rq(ts, what, rwbs, sector, n):
    ev = "block_rq_issue" if what == "issue" else "block_rq_complete"
    size = f"{n * 512} " if what == "issue" else ""
    return (ts, ev, f"254,16 {rwbs} {size}() {sector} + {n} [kworker/0:1]")


def model(events, entries):
    t = pc.parse_trace(trace(*events))
    ss, ents = pc.parse_log(log(entries))
    return t, pc.match(ents, ss, t), pc.Flushes.of(t)


def test_a_flush_does_not_cover_a_write_that_completed_after_it_was_issued():
    # W1 issued, then the flush issued, then W1 completes, then the flush:
    # QEMU logs W1 before the flush (it logs at completion), but the
    # contract says the flush covers only what completed before its issue
    t, placed, flushes = model([rq(1, "issue", "WS", 8, 8), rq(2, "issue", "FF", 0, 0),
                                rq(3, "complete", "WS", 8, 8), rq(4, "complete", "FF", 0, 0)],
                               [(8, 8, 0), (0, 0, pc.LOG_FLUSH)])
    assert [p.index for p in placed] == [0]
    assert pc.durable(placed, flushes, 10, pc.FLUSHED) == []


def test_a_flush_covers_a_write_completed_before_it_was_issued():
    t, placed, flushes = model([rq(1, "issue", "WS", 8, 8), rq(2, "complete", "WS", 8, 8),
                                rq(3, "issue", "FF", 0, 0), rq(4, "complete", "FF", 0, 0)],
                               [(8, 8, 0), (0, 0, pc.LOG_FLUSH)])
    assert [p.index for p in pc.durable(placed, flushes, 10, pc.FLUSHED)] == [0]
    # ... once the flush has completed: a cut before that keeps nothing
    assert pc.durable(placed, flushes, 4, pc.FLUSHED) == []


def test_a_fua_write_is_durable_once_complete_and_covers_nothing_else():
    t, placed, flushes = model([rq(1, "issue", "WS", 8, 8), rq(2, "complete", "WS", 8, 8),
                                rq(3, "issue", "WFS", 64, 8), rq(4, "complete", "WFS", 64, 8)],
                               [(8, 8, 0), (64, 8, 0), (0, 0, pc.LOG_FLUSH)])
    # QEMU emulates FUA with a flush after the write (logged): the old model
    # counted that flush as covering the first write; the contract does not
    assert [p.index for p in pc.durable(placed, flushes, 10, pc.FLUSHED)] == [1]


def test_without_a_volatile_cache_a_completed_write_is_durable():
    t, placed, flushes = model([rq(1, "issue", "WS", 8, 8), rq(2, "complete", "WS", 8, 8),
                                rq(3, "issue", "WS", 16, 8)],
                               [(8, 8, 0)])
    assert [p.index for p in pc.durable(placed, flushes, 3, pc.COMPLETED)] == [0]
    assert pc.durable(placed, flushes, 2, pc.COMPLETED) == []


def test_merged_requests_are_one_log_entry():
    # QEMU's virtio-blk merges adjacent requests: one entry for two
    t, placed, _ = model([rq(1, "issue", "W", 8, 8), rq(2, "issue", "W", 16, 8),
                          rq(3, "complete", "W", 16, 8), rq(4, "complete", "W", 8, 8)],
                         [(8, 16, 0)])
    assert len(placed) == 1 and placed[0].done == 4


def test_a_log_entry_no_request_explains_is_a_model_error():
    with pytest.raises(pc.ModelError):
        model([rq(1, "issue", "W", 8, 8), rq(2, "complete", "W", 8, 8)], [(8, 16, 0)])


def test_a_completed_request_missing_from_the_log_is_a_model_error():
    with pytest.raises(pc.ModelError):
        model([rq(1, "issue", "W", 8, 8), rq(2, "complete", "W", 8, 8)], [])


def test_a_completion_with_no_issue_is_a_model_error():
    with pytest.raises(pc.ModelError):
        pc.parse_trace(trace(rq(2, "complete", "W", 8, 8)))


def test_a_requeued_request_counts_from_its_last_issue():
    t = pc.parse_trace(trace(rq(1, "issue", "FF", 0, 0),
                             (2, "block_rq_requeue", "254,16 FF () 0 + 0 [0]"),
                             rq(5, "issue", "FF", 0, 0), rq(6, "complete", "FF", 0, 0)))
    assert [(r.issue, r.done) for r in t.requests] == [(5, 6)]


def test_a_discard_zeroes_its_range_from_its_issue_on():
    t, placed, flushes = model([rq(1, "issue", "W", 8, 8), rq(2, "complete", "W", 8, 8),
                                rq(3, "issue", "FF", 0, 0), rq(4, "complete", "FF", 0, 0),
                                rq(5, "issue", "D", 8, 8)],
                               [(8, 8, 0), (0, 0, pc.LOG_FLUSH)])
    discards = [r for r in t.requests if r.op == "D"]
    on = pc.durable(placed, flushes, 9, pc.FLUSHED)
    steps = pc.image_steps(on, discards, SS, 0, 1 << 20, 9)
    assert [(s.offset, s.length, s.data is None) for s in steps] == \
        [(8 * SS, 8 * SS, False), (8 * SS, 8 * SS, True)]
    # a cut before the discard keeps the data
    steps = pc.image_steps(on, discards, SS, 0, 1 << 20, 5)
    assert [s.data is None for s in steps] == [False]


def test_image_steps_clip_to_the_region():
    t, placed, flushes = model([rq(1, "issue", "W", 0, 16), rq(2, "complete", "W", 0, 16)],
                               [(0, 16, 0)])
    steps = pc.image_steps(placed, [], SS, 4 * SS, 4 * SS, 9)
    assert [(s.offset, s.length) for s in steps] == [(0, 4 * SS)]
    assert steps[0].data == placed[0].entry.data + 4 * SS


def test_rwbs():
    assert pc.rwbs("FWFS") == ("W", True, True)
    assert pc.rwbs("WFS") == ("W", True, False)
    assert pc.rwbs("FF") == ("F", False, True)
    assert pc.rwbs("WS") == ("W", False, False)
    assert pc.rwbs("D") == ("D", False, False)


def test_a_flush_completion_pairs_with_its_issue_whatever_sector_it_prints():
    # as 7.2 prints them: the completion of a flush request says sector -1,
    # and the empty PREFLUSH write the flush machinery finishes itself
    # completes with no issue of its own
    t = pc.parse_trace(trace(rq(1, "issue", "FF", 0, 0),
                             (2, "block_rq_complete", "8,0 FF () 18446744073709551615 + 0 none,0,0 [0]"),
                             (3, "block_rq_complete", "8,0 WS () 0 + 0 be,0,4 [0]")))
    assert [(r.op, r.issue, r.done) for r in t.requests] == [("F", 1, 2)]


def test_a_request_that_failed_is_not_expected_in_the_log():
    """A write the device failed (the guest's "I/O error") completes with an
    error: QEMU's log has nothing of it, so it must not be looked for there."""
    t = pc.parse_trace(trace(rq(1, "issue", "WS", 8, 8),
                             (2, "block_rq_complete", "254,16 WS () 8 + 8 be,0,4 [-5]"),
                             rq(3, "issue", "WS", 16, 8), rq(4, "complete", "WS", 16, 8)))
    ss, ents = pc.parse_log(log([(16, 8, 0)]))
    assert [p.index for p in pc.match(ents, ss, t)] == [0]


def test_a_hole_qemu_left_for_a_failed_request_is_skipped():
    """QEMU reserves a request's place in the log before it writes it; one
    that failed leaves zeros there, and the entries after it must still be
    read (they were: as a run of empty entries, and everything after lost)."""
    good = log([(8, 8, 0), (16, 8, 0)])
    hole = bytes(SS + 8 * SS)                      # a header and its data, zero
    first = SS + SS + 8 * SS                       # super + entry 0
    data = good[:first] + hole + good[first:]
    ss, ents = pc.parse_log(data)
    assert [(e.sector, e.nr) for e in ents] == [(8, 8), (16, 8)]
