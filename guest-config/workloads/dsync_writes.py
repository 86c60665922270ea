#!/usr/bin/env python3
"""O_DSYNC / O_DIRECT write shapes that deadlocked or crashed btrfs on 5.10.

Runs inside the guest with the test btrfs as the working directory.  Every
mode writes a known pattern, reads it back with O_DIRECT (bypassing the page
cache) and exits non-zero on a mismatch.  It prints "@@harness progress N"
after each write so the host can tell a silent hang from slow progress.

Modes:
  extending  (a) extending O_DIRECT|O_DSYNC pwrite
  overwrite  (b) O_DIRECT|O_DSYNC overwrite inside EOF
  rwf-dsync  (e) O_DIRECT pwritev2(..., RWF_DSYNC)
  unaligned  (f) non-aligned O_DIRECT|O_DSYNC write (falls back to buffered)
  fsync-race (g) O_DIRECT writes racing fsync on the same fd
"""
import hashlib
import mmap
import os
import sys
import threading

BLOCK = 64 * 1024
COUNT = 16


def progress(n):
    print(f"@@harness progress {n}", flush=True)


def pattern(tag, index, size=BLOCK):
    seed = hashlib.sha256(f"{tag}:{index}".encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def aligned(data):
    buf = mmap.mmap(-1, max(len(data), mmap.PAGESIZE))
    buf[:len(data)] = data
    return buf


def read_direct(path, offset, size):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    try:
        start = offset - offset % 4096
        length = (offset + size - start + 4095) // 4096 * 4096
        buf = mmap.mmap(-1, length)
        got = os.preadv(fd, [buf], start)
        return bytes(buf[offset - start:offset - start + size]) if got else b""
    finally:
        os.close(fd)


def verify(path, expected):
    """expected: list of (offset, bytes)."""
    size = os.stat(path).st_size
    end = max(off + len(data) for off, data in expected)
    if size < end:
        fail(f"{path}: size {size} < {end}")
    for off, data in expected:
        got = read_direct(path, off, len(data))
        if got != data:
            bad = next(i for i, (a, b) in enumerate(zip(got, data)) if a != b) \
                if len(got) == len(data) else len(got)
            fail(f"{path}: data mismatch at offset {off + bad}")
    print(f"verified {len(expected)} extents of {path}", flush=True)


def fail(msg):
    print(f"@@harness verify-failed {msg}", flush=True)
    sys.exit(3)


def extending():
    path, expected = "extending.dat", []
    fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY | os.O_DIRECT | os.O_DSYNC, 0o644)
    for i in range(COUNT):
        data = pattern("ext", i)
        assert os.pwrite(fd, aligned(data), i * BLOCK) == BLOCK
        expected.append((i * BLOCK, data))
        progress(i + 1)
    os.close(fd)
    verify(path, expected)


def overwrite():
    path, size = "overwrite.dat", COUNT * BLOCK
    with open(path, "wb") as f:
        f.write(b"\0" * size)
        f.flush()
        os.fsync(f.fileno())
    expected = []
    fd = os.open(path, os.O_WRONLY | os.O_DIRECT | os.O_DSYNC)
    for n, i in enumerate(reversed(range(COUNT))):
        data = pattern("ovw", i)
        assert os.pwrite(fd, aligned(data), i * BLOCK) == BLOCK
        expected.append((i * BLOCK, data))
        progress(n + 1)
    os.close(fd)
    if os.stat(path).st_size != size:
        fail(f"{path}: size changed to {os.stat(path).st_size}")
    verify(path, expected)


def rwf_dsync():
    path, expected = "rwf-dsync.dat", []
    fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY | os.O_DIRECT, 0o644)
    for i in range(COUNT):
        data = pattern("rwf", i)
        assert os.pwritev(fd, [aligned(data)], i * BLOCK, os.RWF_DSYNC) == BLOCK
        expected.append((i * BLOCK, data))
        progress(i + 1)
    os.close(fd)
    verify(path, expected)


def unaligned():
    # btrfs/234 shape: 512 KiB at offset 1111 from a misaligned buffer; the
    # direct write cannot be done and falls back to a buffered write.
    path, size, offset = "unaligned.dat", 512 * 1024, 1111
    data = pattern("una", 0, size)
    backing = mmap.mmap(-1, size + mmap.PAGESIZE)
    backing[1:1 + size] = data
    view = memoryview(backing)[1:1 + size]
    fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY | os.O_DIRECT | os.O_DSYNC, 0o644)
    assert os.pwrite(fd, view, offset) == size
    progress(1)
    tail = pattern("una", 1, BLOCK)
    assert os.pwrite(fd, aligned(tail), 1024 * 1024) == BLOCK   # a direct write after it
    progress(2)
    view.release()
    os.close(fd)
    verify(path, [(offset, data), (1024 * 1024, tail)])


def fsync_race():
    path, expected, done = "fsync-race.dat", [], threading.Event()
    fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_RDWR | os.O_DIRECT, 0o644)
    errors = []

    def syncer():
        try:
            while not done.is_set():
                os.fsync(fd)
        except OSError as e:
            errors.append(e)

    t = threading.Thread(target=syncer)
    t.start()
    try:
        for i in range(COUNT * 2):
            data = pattern("race", i)
            assert os.pwrite(fd, aligned(data), i * BLOCK) == BLOCK
            expected.append((i * BLOCK, data))
            progress(i + 1)
    finally:
        done.set()
        t.join()
    os.fsync(fd)
    os.close(fd)
    if errors:
        fail(f"fsync failed: {errors[0]}")
    verify(path, expected)


MODES = {"extending": extending, "overwrite": overwrite, "rwf-dsync": rwf_dsync,
         "unaligned": unaligned, "fsync-race": fsync_race}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in MODES:
        sys.exit(f"usage: {sys.argv[0]} {{{'|'.join(MODES)}}}")
    MODES[sys.argv[1]]()
