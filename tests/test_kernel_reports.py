"""The report parser: one hand-made case per kind (modelled on real 5.10
output), real-world noise, real logs the harness captured, and a property
test that it never raises."""
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import kernel_reports as kr

FIX = Path(__file__).parent / "fixtures"

CASES = {
    "lockdep-recursive": ("""
============================================
WARNING: possible recursive locking detected
5.10.223 #1 Not tainted
--------------------------------------------
python3/101 is trying to acquire lock:
ffff888004a1e5c8 (&sb->s_type->i_mutex_key#10){+.+.}-{3:3}, at: btrfs_sync_file+0x9e/0x4f0

but task is already holding lock:
ffff888004a1e5c8 (&sb->s_type->i_mutex_key#10){+.+.}-{3:3}, at: btrfs_file_write_iter+0x7a/0x6e0
stack backtrace:
Call Trace:
 dump_stack+0x8b/0xb0
 __lock_acquire.cold+0x175/0x2a5
 lock_acquire+0xc5/0x2f0
 down_write+0x3d/0x120
 btrfs_sync_file+0x9e/0x4f0
 iomap_dio_complete+0x120/0x140
""", "possible deadlock in btrfs_sync_file", "btrfs_sync_file"),
    "lockdep-circular": ("""
======================================================
WARNING: possible circular locking dependency detected
------------------------------------------------------
kworker/0:1/12 is trying to acquire lock:
ffff8880 (&fs_info->reloc_mutex){+.+.}-{3:3}, at: btrfs_record_root_in_trans+0x44/0x70

but task is already holding lock:
ffff8881 (sb_internal#2){.+.+}-{0:0}, at: start_transaction+0x3d6/0x5d0
""", "possible deadlock in btrfs_record_root_in_trans", "btrfs_record_root_in_trans"),
    "lockdep-inconsistent": ("""
================================
WARNING: inconsistent lock state
--------------------------------
inconsistent {HARDIRQ-ON-W} -> {IN-HARDIRQ-W} usage.
swapper/0/0 [HC1[1]:SC0[0]:HE0:SE1] takes:
ffff8880 (&ctx->lock){?.+.}-{2:2}, at: foo_irq_handler+0x20/0x90
""", "inconsistent lock state in foo_irq_handler", "foo_irq_handler"),
    "lockdep-irq-inversion": ("""
WARNING: possible irq lock inversion dependency detected
kworker/0:2/33 just changed the state of lock:
ffff8880 (&q->lock){+.-.}-{2:2}, at: bar_timer_fn+0x10/0x50
""", "possible deadlock in bar_timer_fn", "bar_timer_fn"),
    "lockdep-bad-unlock": ("""
=====================================
WARNING: bad unlock balance detected!
-------------------------------------
fio/77 is trying to release lock (&ei->dio_sem) at:
[<ffffffff81234567>] btrfs_direct_IO+0x1a0/0x3c0
but there are no more locks to release!
Call Trace:
 dump_stack+0x8b/0xb0
 lock_release+0x1a2/0x2e0
 up_read+0x17/0x90
 btrfs_direct_IO+0x1a0/0x3c0
""", "WARNING: bad unlock balance in btrfs_direct_IO", "btrfs_direct_IO"),
    "lockdep-held-freed": ("""
=========================
WARNING: held lock freed!
-------------------------
a.out/5 is freeing memory ffff8880-ffff8881, with a lock still held there!
Call Trace:
 dump_stack+0x8b/0xb0
 debug_check_no_locks_freed+0x130/0x150
 kfree+0xa0/0x2c0
 free_thing+0x10/0x30
""", "WARNING: held lock freed in kfree", "kfree"),
    "lockdep-held-return": ("""
================================================
WARNING: lock held when returning to user space!
------------------------------------------------
a.out/9 is leaving the kernel with locks still held!
1 lock held by a.out/9:
 #0: ffff8880 (&sb->s_type->i_mutex_key#10){+.+.}-{3:3}, at: btrfs_file_write_iter+0x7a/0x6e0
""", "WARNING: lock held when returning to user space in btrfs_file_write_iter",
        "btrfs_file_write_iter"),
    "hung-task": ("""
INFO: task python3:101 blocked for more than 10 seconds.
      Not tainted 5.10.223 #1
"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.
task:python3         state:D stack:    0 pid:  101 ppid:     1 flags:0x00004000
Call Trace:
 __schedule+0x2f4/0x8b0
 schedule+0x4e/0xc0
 rwsem_down_write_slowpath+0x2a1/0x5a0
 down_write+0x10e/0x120
 btrfs_sync_file+0x9e/0x4f0
 generic_write_sync+0x6b/0xa0
 ? trace_hardirqs_on+0x1c/0xf0
""", "INFO: task hung in btrfs_sync_file", "btrfs_sync_file"),
    "task-cant-die": ("""
INFO: task a.out:7 can't die for more than 143 seconds.
task:a.out state:D stack:0 pid:7
Call Trace:
 __schedule+0x2f4/0x8b0
 schedule+0x4e/0xc0
 fuse_wait_answer+0x20/0x90
""", "INFO: task can't die in fuse_wait_answer", "fuse_wait_answer"),
    "soft-lockup": ("""
watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [fio:88]
Modules linked in:
CPU: 0 PID: 88 Comm: fio Not tainted 5.10.223 #1
RIP: 0010:_raw_spin_lock+0x20/0x30
Call Trace:
 btrfs_spin_forever+0x10/0x20 [btrfs]
 btrfs_write_thing+0x40/0x90 [btrfs]
""", "BUG: soft lockup in btrfs_spin_forever", "btrfs_spin_forever"),
    "hard-lockup": ("""
NMI watchdog: Watchdog detected hard LOCKUP on cpu 1
CPU: 1 PID: 0 Comm: swapper/1
RIP: 0010:spin_in_irq+0x5/0x10
""", "BUG: hard lockup in spin_in_irq", "spin_in_irq"),
    "rcu-stall": ("""
rcu: INFO: rcu_preempt self-detected stall on CPU
rcu: \t0-....: (2100 ticks this GP) idle=2fe/1/0x4000000000000002
Call Trace:
 <IRQ>
 rcu_sched_clock_irq+0x6c0/0xb00
 update_process_times+0x8c/0xc0
 </IRQ>
 loop_forever+0x12/0x20
""", "INFO: rcu detected stall in loop_forever", "loop_forever"),
    "workqueue-lockup": ("""
BUG: workqueue lockup - pool cpus=0 node=0 flags=0x0 nice=0 stuck for 31s!
""", "BUG: workqueue lockup", None),
    "null-deref": ("""
BUG: kernel NULL pointer dereference, address: 0000000000000008
#PF: supervisor read access in kernel mode
#PF: error_code(0x0000) - not-present page
Oops: 0000 [#1] PREEMPT NOPTI
CPU: 0 PID: 90 Comm: python3 Not tainted 5.10.223 #1
RIP: 0010:start_transaction+0x53/0x5d0
Call Trace:
 btrfs_dirty_inode+0x3c/0xd0
""", "BUG: kernel NULL pointer dereference in start_transaction", "start_transaction"),
    "paging": ("""
BUG: unable to handle page fault for address: ffffc90000123000
#PF: supervisor write access in kernel mode
Oops: 0002 [#1] NOPTI
RIP: 0010:memcpy_orig+0x10/0x110
Call Trace:
 copy_thing+0x30/0x90
""", "BUG: unable to handle page fault in copy_thing", "copy_thing"),
    "gpf": ("""
general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] NOPTI
CPU: 0 PID: 91 Comm: python3 Not tainted 5.10.223 #1
RIP: 0010:btrfs_release_delayed_node+0x22/0x90
""", "general protection fault in btrfs_release_delayed_node", "btrfs_release_delayed_node"),
    "bug-at": ("""
------------[ cut here ]------------
kernel BUG at fs/btrfs/extent_io.c:4900!
invalid opcode: 0000 [#1] PREEMPT NOPTI
CPU: 0 PID: 93 Comm: fio Not tainted 5.10.223 #1
RIP: 0010:btrfs_release_extent_buffer_pages+0x1a3/0x1b0
Call Trace:
 release_extent_buffer+0x4e/0xb0
""", "kernel BUG in btrfs_release_extent_buffer_pages", "btrfs_release_extent_buffer_pages"),
    "warning": ("""
------------[ cut here ]------------
WARNING: CPU: 0 PID: 94 at fs/btrfs/inode.c:3211 btrfs_finish_ordered_io+0x7a2/0x830
Modules linked in:
RIP: 0010:btrfs_finish_ordered_io+0x7a2/0x830
---[ end trace 1234567890abcdef ]---
""", "WARNING in btrfs_finish_ordered_io", "btrfs_finish_ordered_io"),
    "invalid-opcode": ("""
invalid opcode: 0000 [#1] NOPTI
RIP: 0010:ud2_here+0x4/0x10
""", "invalid opcode in ud2_here", "ud2_here"),
    "oops": ("""
Oops: 0000 [#1] SMP
RIP: 0010:weird_oops+0x4/0x10
""", "Oops in weird_oops", "weird_oops"),
    "panic": ("""
Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000009
---[ end Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000009 ]---
""", "kernel panic: Attempted to kill init! exitcode=0x00000009", None),
    "sleep-in-atomic": ("""
BUG: sleeping function called from invalid context at mm/slab.h:498
in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 95, name: fio
Call Trace:
 dump_stack+0x8b/0xb0
 ___might_sleep.cold+0xb6/0xc6
 kmem_cache_alloc+0x22d/0x290
 btrfs_alloc_thing+0x2b/0x60
""", "BUG: sleeping function called from invalid context in kmem_cache_alloc",
        "kmem_cache_alloc"),
    "sched-atomic": ("""
BUG: scheduling while atomic: fio/96/0x00000002
Call Trace:
 dump_stack+0x8b/0xb0
 __schedule_bug.cold+0x47/0x53
 __schedule+0x5c2/0x8b0
 schedule+0x4e/0xc0
 btrfs_wait_thing+0x55/0xa0
""", "BUG: scheduling while atomic in btrfs_wait_thing", "btrfs_wait_thing"),
    "kasan": ("""
==================================================================
BUG: KASAN: use-after-free in btrfs_lookup_thing+0x4f/0x90
Read of size 8 at addr ffff888004a1e5c8 by task fio/97
""", "KASAN: use-after-free Read in btrfs_lookup_thing", "btrfs_lookup_thing"),
    "kcsan": ("""
BUG: KCSAN: data-race in btrfs_a / btrfs_b
""", "KCSAN: data-race in btrfs_a / btrfs_b", "btrfs_a"),
    "kfence": ("""
BUG: KFENCE: use-after-free read in btrfs_c+0x10/0x20
""", "KFENCE: use-after-free read in btrfs_c", "btrfs_c"),
    "ubsan": ("""
================================================================================
UBSAN: shift-out-of-bounds in fs/btrfs/ctree.c:1234:15
shift exponent 64 is too large for 64-bit type 'long long unsigned int'
Call Trace:
 dump_stack+0x8b/0xb0
 ubsan_epilogue+0x5/0x40
 __ubsan_handle_shift_out_of_bounds.cold+0x61/0x10e
 btrfs_shift_thing+0x40/0x90
""", "UBSAN: shift-out-of-bounds in btrfs_shift_thing", "btrfs_shift_thing"),
    "btrfs-assert": ("""
assertion failed: !current->journal_info || flush != BTRFS_RESERVE_FLUSH_DATA, in fs/btrfs/space-info.c:1489
------------[ cut here ]------------
kernel BUG at fs/btrfs/ctree.h:3276!
invalid opcode: 0000 [#1] PREEMPT NOPTI
CPU: 0 PID: 98 Comm: python3 Not tainted 5.10.223 #1
RIP: 0010:assertfail.constprop.0+0x18/0x1a
Call Trace:
 btrfs_reserve_data_bytes+0x1c6/0x1e0
 btrfs_check_data_free_space+0x4d/0xb0
 btrfs_buffered_write+0x1a0/0x7a0
""", "BTRFS: assertion failed in btrfs_reserve_data_bytes", "btrfs_reserve_data_bytes"),
    "btrfs-critical": ("""
BTRFS critical (device vda): corrupt leaf: root=5 block=30408704 slot=4, invalid key
""", "BTRFS critical: corrupt leaf: root=5 block=30408704 slot=4, invalid key", None),
    "btrfs-error": ("""
BTRFS: error (device vda) in btrfs_finish_ordered_io:3120: errno=-5 IO failure
""", "BTRFS error in btrfs_finish_ordered_io", "btrfs_finish_ordered_io"),
    "oom": ("""
fio invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0
Call Trace:
 dump_stack+0x8b/0xb0
 dump_header+0x4a/0x1f0
 oom_kill_process.cold+0xb/0x10
 out_of_memory+0x1bc/0x4e0
 __alloc_pages_slowpath.constprop.0+0xb73/0xc60
 __alloc_pages_nodemask+0x2d9/0x320
 btrfs_alloc_page_array+0x30/0x90
""", "out of memory in btrfs_alloc_page_array", "btrfs_alloc_page_array"),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_every_kind(kind):
    text, title, frame = CASES[kind]
    found = kr.bugs(kr.parse(text))
    assert [f.kind for f in found] == [kind]
    assert found[0].title == title
    assert found[0].frame == frame
    assert not found[0].corrupted


def test_every_kind_in_the_table_has_a_case():
    bug_kinds = {k.name for k in kr.KINDS if k.is_bug}
    assert bug_kinds <= set(CASES), bug_kinds - set(CASES)


def with_prefixes(text, caller="T101", t0=5.0):
    return "\n".join(f"[{t0 + i / 1000:12.6f}][{caller:>6}] {ln}"
                     for i, ln in enumerate(text.strip("\n").splitlines()))


def test_timestamps_callers_escapes_and_cr():
    text, title, frame = CASES["lockdep-recursive"]
    noisy = with_prefixes(text).replace("\n", "\r\n").replace("WARNING: possible",
                                                                "\x1b[0mWARNING: possible")
    (f,) = kr.bugs(kr.parse(noisy))
    assert f.title == title and f.frame == frame and f.first_ts == pytest.approx(5.001)


def test_interleaved_reports_from_two_cpus_stay_apart():
    a = with_prefixes(CASES["hung-task"][0], "T50").splitlines()
    b = with_prefixes(CASES["warning"][0], "C1").splitlines()
    mixed = [x for pair in zip(a, b) for x in pair] + a[len(b):] + b[len(a):]
    found = kr.bugs(kr.parse("\n".join(mixed)))
    assert sorted(f.title for f in found) == ["INFO: task hung in btrfs_sync_file",
                                              "WARNING in btrfs_finish_ordered_io"]


def test_repeated_reports_are_counted_once():
    text = CASES["hung-task"][0] * 3
    (f,) = kr.bugs(kr.parse(text))
    assert f.count == 3


def test_unreliable_frames_and_module_tags():
    text = """INFO: task fio:7 blocked for more than 10 seconds.
Call Trace:
 ? lucky_guess+0x1/0x2
 __schedule+0x2f4/0x8b0
 schedule+0x4e/0xc0
 btrfs_wait_ordered_range+0x10/0x90 [btrfs]
"""
    (f,) = kr.bugs(kr.parse(text))
    assert f.frame == "btrfs_wait_ordered_range"


def test_cut_report_is_marked_corrupted():
    (f,) = kr.bugs(kr.parse("INFO: task fio:7 blocked for more than 10 seconds.\nCall Tr"))
    assert f.corrupted and f.title == "INFO: task hung in ?"


def test_reports_end_at_harness_markers_and_end_trace():
    text = CASES["warning"][0] + "@@harness workload-end x rc=0\n" + CASES["gpf"][0]
    found = kr.bugs(kr.parse(text))
    assert [f.kind for f in found] == ["warning", "gpf"]
    assert found[0].last_line < found[1].first_line


def test_sysrq_blocked_dump_is_information_not_a_bug():
    text = """sysrq: Show Blocked State
task:python3 state:D stack:    0 pid:  101 ppid:     1 flags:0x00004000
Call Trace:
 __schedule+0x2f4/0x8b0
 schedule+0x4e/0xc0
 btrfs_sync_file+0x9e/0x4f0
"""
    found = kr.parse(text)
    assert kr.bugs(found) == [] and found[0].title == "task blocked in btrfs_sync_file"


def test_live_feed_and_whole_log_agree():
    text = "\n".join(CASES[k][0] for k in sorted(CASES))
    p = kr.Parser()
    for line in text.split("\n"):
        p.feed(line)
    live = [(f.kind, f.title, f.first_line) for f in p.finish()]
    assert live == [(f.kind, f.title, f.first_line) for f in kr.parse(text)]


def test_plain_boot_log_has_no_findings():
    text = ("[    0.000000][    T0] Linux version 5.10.223\n"
            "[    0.100000][    T1] WARNING: kernel not compiled with CPU_FREQ\n"
            "random: crng init done\n")
    assert kr.bugs(kr.parse(text)) == []


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4000))
def test_never_raises_on_arbitrary_bytes(data):
    text = data.decode("utf-8", "replace")
    kr.parse(text)
    p = kr.Parser()
    for line in text.split("\n"):
        p.feed(line)
    p.finish()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(sorted(CASES)), min_size=1, max_size=4),
       st.integers(min_value=0, max_value=300))
def test_never_raises_on_cut_and_spliced_reports(kinds, cut):
    text = "".join(CASES[k][0][: cut + 20] for k in kinds)
    for f in kr.parse(text):
        assert f.first_line <= f.last_line


def real_logs():
    return sorted((FIX / "real").glob("*.console.log"))


@pytest.mark.parametrize("log", real_logs(), ids=lambda p: p.name)
def test_real_console_logs(log):
    """Logs this harness captured; the expected findings sit beside them."""
    expected = json.loads(log.with_suffix(".expected.json").read_text())
    got = [{"kind": f.kind, "title": f.title, "frame": f.frame, "first_line": f.first_line,
            "last_line": f.last_line} for f in kr.bugs(kr.parse(kr.read_log(log)))]
    assert got == expected
