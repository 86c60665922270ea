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
Call Trace:
 do_syscall_64+0x1/0x2
 entry_SYSCALL_64_after_hwframe+0x1/0x2
""", "possible deadlock in btrfs_record_root_in_trans", "btrfs_record_root_in_trans"),
    "lockdep-inconsistent": ("""
================================
WARNING: inconsistent lock state
--------------------------------
inconsistent {HARDIRQ-ON-W} -> {IN-HARDIRQ-W} usage.
swapper/0/0 [HC1[1]:SC0[0]:HE0:SE1] takes:
ffff8880 (&ctx->lock){?.+.}-{2:2}, at: foo_irq_handler+0x20/0x90
Call Trace:
 do_syscall_64+0x1/0x2
 entry_SYSCALL_64_after_hwframe+0x1/0x2
""", "inconsistent lock state in foo_irq_handler", "foo_irq_handler"),
    "lockdep-irq-inversion": ("""
WARNING: possible irq lock inversion dependency detected
kworker/0:2/33 just changed the state of lock:
ffff8880 (&q->lock){+.-.}-{2:2}, at: bar_timer_fn+0x10/0x50
Call Trace:
 do_syscall_64+0x1/0x2
 entry_SYSCALL_64_after_hwframe+0x1/0x2
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
ffff8880 (&thing->lock){+.+.}-{3:3}, at: thing_release+0x22/0x80
1 lock held by a.out/5:
 #0: ffff8880 (&thing->lock){+.+.}-{3:3}, at: thing_release+0x22/0x80

stack backtrace:
Call Trace:
 dump_stack+0x8b/0xb0
 debug_check_no_locks_freed+0x130/0x150
 kfree+0xa0/0x2c0
 free_thing+0x10/0x30
""", "WARNING: held lock freed in thing_release", "thing_release"),
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
    # a stall is named by the frame just inside the dispatcher (vfs_write)
    "soft-lockup": ("""
watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [fio:88]
Modules linked in:
CPU: 0 PID: 88 Comm: fio Not tainted 5.10.223 #1
RIP: 0010:_raw_spin_lock+0x20/0x30
Call Trace:
 btrfs_spin_forever+0x10/0x20 [btrfs]
 btrfs_write_thing+0x40/0x90 [btrfs]
 vfs_write+0xf6/0x11d
 ksys_write+0x62/0x7e
 do_syscall_64+0x31/0x40
""", "BUG: soft lockup in btrfs_write_thing", "btrfs_write_thing"),
    "hard-lockup": ("""
NMI watchdog: Watchdog detected hard LOCKUP on cpu 1
CPU: 1 PID: 0 Comm: swapper/1
RIP: 0010:spin_in_irq+0x5/0x10
Call Trace:
 do_syscall_64+0x1/0x2
 entry_SYSCALL_64_after_hwframe+0x1/0x2
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
 do_syscall_64+0x1/0x2
 entry_SYSCALL_64_after_hwframe+0x1/0x2
""", "BUG: unable to handle kernel NULL pointer dereference in start_transaction",
        "start_transaction"),
    "paging": ("""
BUG: unable to handle page fault for address: ffffc90000123000
#PF: supervisor write access in kernel mode
Oops: 0002 [#1] NOPTI
RIP: 0010:memcpy_orig+0x10/0x110
Call Trace:
 copy_thing+0x30/0x90
 do_syscall_64+0x1/0x2
 entry_SYSCALL_64_after_hwframe+0x1/0x2
""", "BUG: unable to handle kernel paging request in copy_thing", "copy_thing"),
    "gpf": ("""
general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] NOPTI
CPU: 0 PID: 91 Comm: python3 Not tainted 5.10.223 #1
RIP: 0010:btrfs_release_delayed_node+0x22/0x90
Call Trace:
 do_syscall_64+0x1/0x2
 entry_SYSCALL_64_after_hwframe+0x1/0x2
""", "general protection fault in btrfs_release_delayed_node", "btrfs_release_delayed_node"),
    "bug-at": ("""
------------[ cut here ]------------
kernel BUG at fs/btrfs/extent_io.c:4900!
invalid opcode: 0000 [#1] PREEMPT NOPTI
CPU: 0 PID: 93 Comm: fio Not tainted 5.10.223 #1
RIP: 0010:btrfs_release_extent_buffer_pages+0x1a3/0x1b0
Call Trace:
 release_extent_buffer+0x4e/0xb0
 do_syscall_64+0x1/0x2
 entry_SYSCALL_64_after_hwframe+0x1/0x2
""", "kernel BUG in btrfs_release_extent_buffer_pages", "btrfs_release_extent_buffer_pages"),
    "warning": ("""
------------[ cut here ]------------
WARNING: CPU: 0 PID: 94 at fs/btrfs/inode.c:3211 btrfs_finish_ordered_io+0x7a2/0x830
Modules linked in:
RIP: 0010:btrfs_finish_ordered_io+0x7a2/0x830
Call Trace:
 do_syscall_64+0x1/0x2
 entry_SYSCALL_64_after_hwframe+0x1/0x2
---[ end trace 1234567890abcdef ]---
""", "WARNING in btrfs_finish_ordered_io", "btrfs_finish_ordered_io"),
    "invalid-opcode": ("""
invalid opcode: 0000 [#1] NOPTI
RIP: 0010:ud2_here+0x4/0x10
Call Trace:
 do_syscall_64+0x1/0x2
 entry_SYSCALL_64_after_hwframe+0x1/0x2
""", "invalid opcode in ud2_here", "ud2_here"),
    "oops": ("""
Oops: 0000 [#1] SMP
RIP: 0010:weird_oops+0x4/0x10
Call Trace:
 do_syscall_64+0x1/0x2
 entry_SYSCALL_64_after_hwframe+0x1/0x2
""", "Oops in weird_oops", "weird_oops"),
    "panic": ("""
Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000009
---[ end Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000009 ]---
""", "kernel panic: Attempted to kill init!", None),
    "sleep-in-atomic": ("""
BUG: sleeping function called from invalid context at mm/slab.h:498
in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 95, name: fio
Call Trace:
 dump_stack+0x8b/0xb0
 ___might_sleep.cold+0xb6/0xc6
 kmem_cache_alloc+0x22d/0x290
 btrfs_alloc_thing+0x2b/0x60
""", "BUG: sleeping function called from invalid context in btrfs_alloc_thing",
        "btrfs_alloc_thing"),
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
Call Trace:
 do_syscall_64+0x1/0x2
 entry_SYSCALL_64_after_hwframe+0x1/0x2
""", "KASAN: use-after-free Read in btrfs_lookup_thing", "btrfs_lookup_thing"),
    "kcsan": ("""
BUG: KCSAN: data-race in btrfs_a / btrfs_b
""", "KCSAN: data-race in btrfs_a / btrfs_b", "btrfs_a"),
    "kfence": ("""
BUG: KFENCE: use-after-free read in btrfs_c+0x10/0x20
Call Trace:
 do_syscall_64+0x1/0x2
 entry_SYSCALL_64_after_hwframe+0x1/0x2
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
    # ---- the rows added for syzbot's naming rules (made-up logs)
    "lockdep-irq-order": ("""
=====================================================
WARNING: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected
fio/40 [HC0[0]:SC0[0]:HE0:SE1] is trying to acquire:
ffff8880 (&a->lock){+.+.}-{2:2}, at: thing_update+0x14/0x40
and this task is already holding:
ffff8881 (&b->lock){+.-.}-{2:2}, at: thing_flush+0x20/0x90
which would create a new lock dependency:
but this new dependency connects a SOFTIRQ-irq-safe lock:
 (&b->lock){+.-.}-{2:2}
... which became SOFTIRQ-irq-safe at:
  lock_acquire+0x29d/0x740
  _raw_spin_lock+0x39/0x50
  thing_timer_fn+0x7b/0xb0
  call_timer_fn+0x1a/0x90
""", "possible deadlock in thing_timer_fn", "thing_timer_fn"),
    "lockdep-still-held": ("""
WARNING: fio/41 still has locks held!
1 lock held by fio/41:
 #0: ffff8880 (&thing->mutex){+.+.}-{3:3}, at: thing_ioctl+0x53/0x120

stack backtrace:
Call Trace:
 dump_stack+0x8b/0xb0
 exit_to_user_mode_prepare+0x10/0x20
""", "WARNING: still has locks held in thing_ioctl", "thing_ioctl"),
    "lockdep-nested": ("""
WARNING: Nested lock was not taken
fio/42 is trying to lock:
ffff8880 (&inner->lock){+.+.}-{2:2}, at: thing_evict+0x90/0x334
but this task is not holding:
stack backtrace:
Call Trace:
 dump_stack+0x8b/0xb0
 _raw_spin_lock+0x54/0x6c
 thing_evict+0x90/0x334
""", "WARNING: nested lock was not taken in thing_evict", "thing_evict"),
    "lockdep-wait-context": ("""
=============================
[ BUG: Invalid wait context ]
fio/43 is trying to lock:
ffff8880 (&mm->mmap_lock){++++}-{3:3}, at: __might_fault+0x108/0x1b0
other info that might help us debug this:
stack backtrace:
Call trace:
 dump_backtrace+0x0/0x4d0
 lock_acquire+0x100/0x1f8
 __might_fault+0x108/0x1b0
 thing_wait4+0x50/0x90
""", "WARNING: locking bug in thing_wait4", "thing_wait4"),
    "lockdep-rcu": ("""
=============================
WARNING: suspicious RCU usage
5.10.223 #1 Not tainted
-----------------------------
fs/thing.c:77 suspicious rcu_dereference_check() usage!
stack backtrace:
Call Trace:
 dump_stack+0x8b/0xb0
 lockdep_rcu_suspicious+0x123/0x170
 thing_lookup+0x40/0x90
""", "WARNING: suspicious RCU usage in thing_lookup", "thing_lookup"),
    "lockdep-static-key": ("""
INFO: trying to register non-static key.
the code is fine but needs lockdep annotation, or maybe
Call Trace:
 dump_stack+0x8b/0xb0
 register_lock_class+0x10/0x20
 __lock_acquire+0x10/0x20
 lock_acquire+0x10/0x20
 _raw_spin_lock_irqsave+0x10/0x20
 del_timer_sync+0x10/0x20
 thing_disconnect+0x10/0x20
""", "INFO: trying to register non-static key in thing_disconnect", "thing_disconnect"),
    "lockdep-limit": ("""
BUG: MAX_LOCKDEP_ENTRIES too low!
turning off the locking correctness validator.
""", "BUG: MAX_LOCKDEP_ENTRIES too low!", None),
    "spinlock": ("""
BUG: spinlock bad magic on CPU#1, fio/44
 lock: 0xffff8880, .magic: 00000000, .owner: <none>/-1, .owner_cpu: 0
Call Trace:
 dump_stack+0x8b/0xb0
 spin_dump+0x10/0x20
 do_raw_spin_lock+0x10/0x20
 _raw_spin_lock_bh+0x10/0x20
 thing_nuke+0x10/0x20
""", "BUG: spinlock bad magic in thing_nuke", "thing_nuke"),
    "preemptible": ("""
BUG: using smp_processor_id() in preemptible [00000000] code: fio/45
caller is debug_smp_processor_id+0x1c/0x20
Call Trace:
 dump_stack+0x8b/0xb0
 check_preemption_disabled+0x10/0x20
 debug_smp_processor_id+0x1c/0x20
 thing_percpu_get+0x10/0x20
""", "BUG: using smp_processor_id() in preemptible code in thing_percpu_get",
        "thing_percpu_get"),
    "workqueue-leak": ("""
BUG: workqueue leaked lock or atomic: kworker/0:1/0x00000000/46
     last function: thing_work_fn
1 lock held by kworker/0:1/46:
""", "BUG: workqueue leaked lock or atomic in thing_work_fn", "thing_work_fn"),
    "kmsan": ("""
BUG: KMSAN: uninit-value in thing_parse+0x12/0x40
 thing_parse+0x12/0x40
 thing_ioctl+0x20/0x80
Uninit was created at:
 kmem_cache_alloc+0x10/0x20
""", "KMSAN: uninit-value in thing_parse", "thing_parse"),
    "kcsan-assert": ("""
BUG: KCSAN: assert: race in thing_dequeue / thing_enqueue
""", "KCSAN: assert: race in thing_dequeue", "thing_dequeue"),
    "memory-leak": ("""
BUG: memory leak
unreferenced object 0xffff888012345678 (size 32):
  comm "fio", pid 47, jiffies 4294767514 (age 15.374s)
  backtrace:
    [<000000005b8e4771>] kmem_cache_alloc+0x1c0/0x3c0
    [<0000000017059910>] thing_alloc_node+0x13/0x19
    [<00000000ba068e0d>] thing_create+0x69/0x1a0
""", "memory leak in thing_create", "thing_create"),
    "netdev-refcount": ("""
unregister_netdevice: waiting for lo to become free. Usage count = 2
""", "unregister_netdevice: waiting for DEV to become free", None),
    "trusty-panic": ("""
trusty: thing-srv: 146: Channel wait failed: 0(4)
trusty: panic (caller 0xffffffffe000fbb8): ASSERT FAILED at (trusty/kernel/lib/thing.c:47): !thing_ok(&t->node)
trusty: HALT: (reason = 9)
""", "trusty: ASSERT FAILED: !thing_ok(&t->node)", None),
    "go-runtime": ("""
runtime: out of memory: cannot allocate 1073741824-byte block (6446022656 in use)
fatal error: out of memory

goroutine 1 [running]:
runtime.throw({0x4772bc?, 0x20000?})
""", "go runtime error", None),
    "bug-other": ("""
BUG: non-zero pgtables_bytes on freeing mm: 4096
""", "BUG: non-zero pgtables_bytes on freeing mm: NUM", None),
    "syzfail": ("""
 (errno 11: Resource temporarily unavailable)
SYZFAIL: executor lost its shared memory
""", "SYZFAIL: executor lost its shared memory", None),
    "user-access": ("""
Unable to handle kernel access to user memory without uaccess routines at virtual address 0000000000001000
Oops [#1]
epc : thing_copy+0x72/0xb2
Call Trace:
 do_syscall_64+0x1/0x2
 entry_SYSCALL_64_after_hwframe+0x1/0x2
""", "BUG: unable to handle kernel access to user memory in thing_copy", "thing_copy"),
    "fault-cut": ("""
[   12.300000] BUG: unable to handle kernel [   12.345678] other output that cut the line
""", "BUG: unable to handle kernel", None),
    "divide-error": ("""
divide error: 0000 [#1] SMP
RIP: 0010:thing_ratio+0x10/0x20
Call Trace:
 do_syscall_64+0x1/0x2
 entry_SYSCALL_64_after_hwframe+0x1/0x2
""", "divide error in thing_ratio", "thing_ratio"),
    "stack-segment": ("""
stack segment: 0000 [#1] SMP
RIP: 0010:thing_walk+0x10/0x20
Call Trace:
 do_syscall_64+0x1/0x2
 entry_SYSCALL_64_after_hwframe+0x1/0x2
""", "stack segment fault in thing_walk", "thing_walk"),
    "int3": ("""
Oops: int3: 0000 [#1] SMP NOPTI
RIP: 0010:thing_patch+0x10/0x20
Call Trace:
 do_syscall_64+0x1/0x2
 entry_SYSCALL_64_after_hwframe+0x1/0x2
""", "int3 in thing_patch", "thing_patch"),
    "double-fault": ("""
PANIC: double fault, error_code: 0x0
RIP: 0010:thing_recurse+0x10/0x20
Call Trace:
 do_syscall_64+0x1/0x2
 entry_SYSCALL_64_after_hwframe+0x1/0x2
""", "PANIC: double fault in thing_recurse", "thing_recurse"),
    # a stack overflow is named like a stall: by the frame inside the dispatcher
    "stack-guard": ("""
BUG: TASK stack guard page was hit at ffffc90000000000 (stack is ffffc90000001000..ffffc90000009000)
Oops: stack guard page: 0000 [#1] SMP
RIP: 0010:thing_recurse+0x8/0xb0
Call Trace:
 thing_recurse+0x12d/0x2e0
 thing_recurse+0x12d/0x2e0
 thing_netlink_cmd+0x64/0xa0
 genl_rcv_msg+0x44e/0xb70
 netlink_rcv_skb+0x153/0x420
""", "BUG: stack guard page was hit in thing_netlink_cmd", "thing_netlink_cmd"),
    "arm-unhandled-fault": ("""
Unhandled fault: page domain fault (0x01b) at 0x00000ea3
Internal error: : 1b [#1] PREEMPT SMP ARM
PC is at thing_read+0x4c/0xd8
Call Trace:
 do_syscall_64+0x1/0x2
 entry_SYSCALL_64_after_hwframe+0x1/0x2
""", "Unhandled fault in thing_read", "thing_read"),
    "arm-alignment": ("""
Alignment trap: not handling instruction e1903f9f at [<8018b0a8>]
Internal error: Oops: 5 [#1] SMP ARM
PC is at thing_align+0x1c/0x90
Call Trace:
 do_syscall_64+0x1/0x2
 entry_SYSCALL_64_after_hwframe+0x1/0x2
""", "Alignment trap in thing_align", "thing_align"),
    "internal-error": ("""
Internal error: Oops - BUG: 0 [#1] PREEMPT SMP ARM
PC is at thing_check+0x10/0x40
Call Trace:
 do_syscall_64+0x1/0x2
 entry_SYSCALL_64_after_hwframe+0x1/0x2
""", "Internal error in thing_check", "thing_check"),
    "bad-page-state": ("""
BUG: Bad page state in process fio  pfn:7deea
page dumped because: PAGE_FLAGS_CHECK_AT_FREE flag(s) set
page last allocated via order 0, migratetype Unmovable, gfp_mask 0x40c40(GFP_NOFS)
 post_alloc_hook+0x1f3/0x230
 get_page_from_freelist+0x2e4c/0x2f10
 __alloc_pages+0x256/0x6c0
 thing_get_page+0x2b4/0x1050
page last free pid 5083 tgid 5083 stack trace:
 free_unref_page+0xd19/0xea0
""", "BUG: Bad page state in thing_get_page", "thing_get_page"),
    "bad-page-map": ("""
BUG: Bad rss-counter state mm:ffff88005fac4300 type:MM_ANONPAGES val:15
""", "BUG: Bad rss-counter state", None),
    "usercopy": ("""
usercopy: Kernel memory exposure attempt detected from SLUB object 'thing' (offset 64, size 16)!
------------[ cut here ]------------
kernel BUG at mm/usercopy.c:99!
invalid opcode: 0000 [#1] SMP
RIP: 0010:usercopy_abort+0x10/0x20
Call Trace:
 __check_object_size+0x10/0x20
 thing_getsockopt+0x10/0x20
""", "BUG: bad usercopy in thing_getsockopt", "thing_getsockopt"),
    "list-corruption": ("""
list_del corruption. prev->next should be ffff8880, but was ffff8881. (prev=ffff8882)
------------[ cut here ]------------
kernel BUG at lib/list_debug.c:62!
invalid opcode: 0000 [#1] SMP
RIP: 0010:__list_del_entry_valid+0x10/0x20
Call Trace:
 thing_remove+0x10/0x20
 do_syscall_64+0x1/0x2
 entry_SYSCALL_64_after_hwframe+0x1/0x2
""", "BUG: corrupted list in thing_remove", "thing_remove"),
    "file-count": ("""
VFS: Close: file count is 0
""", "VFS: Close: file count is zero (use-after-free)", None),
    "dentry-in-use": ("""
BUG: Dentry ffff88810e2ca880{i=0,n=thing}  still in use (1) [unmount of ext4 loop4]
------------[ cut here ]------------
WARNING: CPU: 0 PID: 48 at fs/dcache.c:1616 umount_check+0x18d/0x1d0
""", "BUG: Dentry still in use in unmount", None),
    "slab-double-free": ("""
BUG kmalloc-8 (Not tainted): Object already free
INFO: Allocated in thing_alloc+0x10/0x20 age=12 cpu=0 pid=49
""", "BUG: Object already free", None),
    "slab-free": ("""
INFO: Freed in thing_free+0x14/0x20 age=624 cpu=0 pid=3
 __slab_free+0x18c/0x2b0
""", "INFO: Freed in thing_free age=NUM cpu=NUM pid=NUM", "thing_free"),
    "stack-regs": ("""
WARNING: kernel stack regs at ffff8880 in fio:50 has bad 'bp' value 0000000000000000
""", "WARNING: kernel stack regs has bad value", None),
    "panic-stack-protector": ("""
Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: thing_xmit+0x12ec/0x1550
Call Trace:
 dump_stack+0x8b/0xb0
 panic+0x10/0x20
 __stack_chk_fail+0x10/0x20
 thing_xmit+0x12ec/0x1550
""", "kernel panic: stack is corrupted in thing_xmit", "thing_xmit"),
    "panic-stack-end": ("""
Kernel panic - not syncing: corrupted stack end detected inside scheduler
Workqueue: things thing_workfn
Call Trace:
 dump_stack+0x8b/0xb0
 panic+0x10/0x20
 __schedule+0x10/0x20
 thing_deep+0x10/0x20
 thing_workfn+0x10/0x20
 process_one_work+0x10/0x20
 worker_thread+0x10/0x20
""", "kernel panic: corrupted stack end in thing_workfn", "thing_workfn"),
    "panic-stack-overflow": ("""
Kernel panic - not syncing: kernel stack overflow
Call trace:
 dump_backtrace+0x1c4/0x1f0
 panic+0x218/0x50c
 handle_bad_stack+0x34/0x48
 __bad_stack+0x78/0x7c
 thing_recurse+0x10/0x20
 thing_recurse+0x10/0x20
 thing_ioctl+0x10/0x20
 __arm64_sys_ioctl+0x10/0x20
 el0_svc+0x58/0x150
""", "kernel stack overflow in thing_ioctl", "thing_ioctl"),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_every_kind(kind):
    text, title, frame = CASES[kind]
    found = kr.bugs(kr.parse(text))
    assert [f.kind for f in found] == [kind]
    assert found[0].title == title
    assert found[0].frame == frame
    # a fault header's first half alone, an old slab report's tail: always cut
    assert found[0].corrupted == (kind in ("fault-cut", "slab-free"))


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
 btrfs_start_ordered_extent+0x10/0x90 [btrfs]
"""
    (f,) = kr.bugs(kr.parse(text))
    assert f.frame == "btrfs_start_ordered_extent"


def test_a_hung_task_is_named_outside_its_wait():
    head = "INFO: task fio:7 blocked for more than 143 seconds.\nCall Trace:\n"
    sched = " __schedule+0x2f4/0x8b0\n schedule+0x4e/0xc0\n"
    # frames of the wait, whatever their prefix, are not where the task hung
    text = (head + sched + " thing_wait_for_io+0x1/0x2\n thing_queue_down+0x1/0x2\n"
            " __thing_rwsem_slowpath+0x1/0x2\n thing_sync_file+0x1/0x2\n")
    assert kr.bugs(kr.parse(text))[0].title == "INFO: task hung in thing_sync_file"
    # the RTNL mutex and RCU grace periods are buckets of their own
    rtnl = head + sched + " __mutex_lock+0x1/0x2\n rtnl_lock+0x1/0x2\n thing_ioctl+0x1/0x2\n"
    assert kr.bugs(kr.parse(rtnl))[0].title == "INFO: task hung in rtnl_lock"
    for sync in ("synchronize_srcu", "synchronize_net", "synchronize_rcu_expedited"):
        text = (head + sched + " wait_for_completion+0x1/0x2\n"
                f" {sync}+0x1/0x2\n thing_release+0x1/0x2\n")
        assert kr.bugs(kr.parse(text))[0].title == "INFO: task hung in synchronize_rcu", sync


def test_cut_report_is_marked_corrupted():
    (f,) = kr.bugs(kr.parse("INFO: task fio:7 blocked for more than 10 seconds.\nCall Tr"))
    assert f.corrupted and f.title == "INFO: task hung in corrupted" and f.frame is None


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


def test_warning_flavours_come_from_the_file_that_warned():
    head = "------------[ cut here ]------------\n"
    refcount = (head + "refcount_t: underflow; use-after-free.\n"
                "WARNING: CPU: 1 PID: 7 at lib/refcount.c:28 refcount_warn_saturate+0x1d/0x1e\n"
                "RIP: 0010:refcount_warn_saturate+0x1d/0x1e\nCall Trace:\n"
                " thing_put+0x10/0x20\n")
    urb = (head + "WARNING: CPU: 1 PID: 7 at drivers/usb/core/urb.c:477 usb_submit_urb+0x11/0x13\n"
           "RIP: 0010:usb_submit_urb+0x11/0x13\nCall Trace:\n thing_open+0x10/0x20\n")
    new_format = (head + "WARNING: fs/thing.c:829 at thing_check+0x334/0x430, CPU#0: fio/7\n"
                  "RIP: 0010:thing_check+0x334/0x430\n")
    assert kr.bugs(kr.parse(refcount))[0].title == "WARNING: refcount bug in thing_put"
    assert kr.bugs(kr.parse(urb))[0].title == "WARNING in thing_open/usb_submit_urb"
    assert kr.bugs(kr.parse(new_format))[0].title == "WARNING in thing_check"
    (f,) = kr.bugs(kr.parse("WARNING: CPU: 0 PID: 1 at fs/thing.c:1 thing_check+0x1/0x2\n"))
    assert f.title == "WARNING in corrupted" and f.corrupted     # no stack at all


RCU_STALL = """rcu: INFO: rcu_preempt self-detected stall on CPU
rcu: \t0-....: (10500 ticks this GP) idle=2fe/1/0x4000000000000002
rcu: rcu_preempt kthread starved for 10502 jiffies!
rcu: RCU grace-period kthread stack dump:
task:rcu_preempt     state:I stack:0 pid:10 ppid:2 flags:0x00004000
Call Trace:
 __schedule+0x2f4/0x8b0
 schedule+0x4e/0xc0
 rcu_gp_kthread+0x10/0x20
 kthread+0x10/0x20
NMI backtrace for cpu 0
Call Trace:
 <IRQ>
 dump_stack+0x8b/0xb0
 nmi_cpu_backtrace+0x10/0x20
 rcu_dump_cpu_stacks+0x10/0x20
 rcu_sched_clock_irq+0x6c0/0xb00
 update_process_times+0x8c/0xc0
 hrtimer_interrupt+0x10/0x20
 __sysvec_apic_timer_interrupt+0x10/0x20
 </IRQ>
 asm_sysvec_apic_timer_interrupt+0x12/0x20
RIP: 0010:_raw_spin_unlock_irqrestore+0x20/0x30
 thing_poll_hw+0x12/0x20
 thing_do_io+0x40/0x90
 thing_ioctl+0x40/0x90
 __x64_sys_ioctl+0x73/0xb0
 do_syscall_64+0x31/0x40
"""


def test_stalls_are_named_inside_the_entry_point_or_dispatcher():
    (f,) = kr.bugs(kr.parse(RCU_STALL))
    assert f.title == "INFO: rcu detected stall in thing_ioctl"
    # a syscall that is not a dispatcher names the stall itself, as syzbot writes it
    futex = RCU_STALL.replace(" thing_ioctl+0x40/0x90\n __x64_sys_ioctl", " __x64_sys_futex")
    assert kr.bugs(kr.parse(futex))[0].title == "INFO: rcu detected stall in sys_futex"
    # without the interrupt that caught the CPU, the stalled context is unknown
    no_irq = "\n".join(ln for ln in RCU_STALL.splitlines()
                       if "interrupt" not in ln and "IRQ" not in ln)
    (f,) = kr.bugs(kr.parse(no_irq))
    assert f.title == "INFO: rcu detected stall in corrupted" and f.corrupted


def test_lockdep_report_cut_short_by_a_fault_of_the_same_task_shares_its_stack():
    text = with_prefixes("""WARNING: Nested lock was not taken
fio/7 is trying to lock:
ffff8880 (&inner->lock){+.+.}-{2:2}, at: _atomic_dec_and_lock+0x9d/0x110

but this task is not holding:
general protection fault, probably for non-canonical address 0xdffffc0000000003: 0000 [#1]
RIP: 0010:__lock_acquire+0x1112/0x1f60
Call Trace:
 lock_acquire+0x182/0x3c0
 _raw_spin_lock+0x2a/0x40
 _atomic_dec_and_lock+0x9d/0x110
 iput+0x85/0x760
 thing_fill_super+0x3af3/0x42a0
""", "T7")
    found = kr.bugs(kr.parse(text))
    assert [f.title for f in found] == ["WARNING: nested lock was not taken in thing_fill_super",
                                        "general protection fault in thing_fill_super"]


def test_one_line_reports_do_not_cut_a_report():
    lines = CASES["hung-task"][0].strip("\n").splitlines()
    lines.insert(6, "unregister_netdevice: waiting for lo to become free. Usage count = 6")
    found = kr.bugs(kr.parse("\n".join(lines)))
    assert [f.title for f in found] == ["INFO: task hung in btrfs_sync_file",
                                        "unregister_netdevice: waiting for DEV to become free"]


def test_a_panic_is_part_of_the_report_it_ends():
    text = ("------------[ cut here ]------------\n"
            "WARNING: CPU: 0 PID: 9 at fs/thing.c:3 thing_check+0x1/0x2\n"
            "Kernel panic - not syncing: panic_on_warn set ...\n"
            "Call Trace:\n dump_stack+0x1/0x2\n panic+0x1/0x2\n __warn+0x1/0x2\n"
            " report_bug+0x1/0x2\nRIP: 0010:thing_check+0x1/0x2\n")
    (f,) = kr.bugs(kr.parse(text))
    assert f.title == "WARNING in thing_check" and f.last_line == 9
    (alone,) = kr.bugs(kr.parse("Kernel panic - not syncing: VFS: Unable to mount root fs on "
                                "unknown-block(0,0)\n"))
    assert alone.title == "kernel panic: VFS: Unable to mount root fs on unknown-block(NUM,NUM)"


def test_report_after_other_output_on_its_line():
    hung = with_prefixes(CASES["hung-task"][0], "T101").splitlines()
    for junk in ("syzkaller login: ", "** 12 printk messages dropped ** "):
        (f,) = kr.bugs(kr.parse("\n".join([junk + hung[0]] + hung[1:])))
        assert f.title == "INFO: task hung in btrfs_sync_file" and f.first_line == 1
    glued = "[    4.000000][ T101] fio: some output" + hung[0]
    (f,) = kr.bugs(kr.parse("\n".join([glued] + hung[1:])))
    assert f.title == "INFO: task hung in btrfs_sync_file"


def test_a_fault_injection_dump_is_not_the_reports_stack():
    text = ("WARNING: CPU: 0 PID: 9 at kernel/kthread.c:7 thing_check+0x1/0x2\n"
            "Call Trace:\n dump_stack+0x1/0x2\n should_fail+0x1/0x2\n"
            " should_failslab+0x1/0x2\n kmem_cache_alloc+0x1/0x2\n thing_alloc+0x1/0x2\n")
    (f,) = kr.bugs(kr.parse(text))
    assert f.title == "WARNING in corrupted" and f.corrupted


def test_kasan_old_and_cut_headers():
    old = ("BUG: KASAN: use-after-free in thing_write.part.3+0x1d/0x40 at addr ffff88003a6bd110\n"
           "Read of size 8 by task fio/62\n"
           "Call Trace:\n dump_stack+0x1/0x2\n kasan_report+0x1/0x2\n thing_write.part.3+0x1/0x2\n")
    assert kr.bugs(kr.parse(old))[0].title == "KASAN: use-after-free Read in thing_write"
    cut = "BUG: KASAN: use-after-free in thing_write.part.3+0x1d/0x40 at addr ffff88003a6bd110\n"
    assert kr.bugs(kr.parse(cut))[0].title == \
        "KASAN: use-after-free in thing_write.part.NUM at addr ADDR"


def test_the_harness_titles_on_6x_kernels():
    recursive = with_prefixes("""WARNING: possible recursive locking detected
6.1.192 #1 Not tainted
--------------------------------------------
python3/45 is trying to acquire lock:
ffff8880 (&sb->s_type->i_mutex_key#6){++++}-{3:3}, at: btrfs_inode_lock+0x45/0x90

but task is already holding lock:
ffff8880 (&sb->s_type->i_mutex_key#6){++++}-{3:3}, at: btrfs_inode_lock+0x45/0x90

stack backtrace:
Call Trace:
 <TASK>
 dump_stack_lvl+0x45/0x5e
 __lock_acquire.cold+0x175/0x2a5
 lock_acquire+0xc5/0x2f0
 down_write+0x3d/0x120
 btrfs_inode_lock+0x45/0x90
 btrfs_sync_file+0x9e/0x4f0
""", "T45")
    assert kr.bugs(kr.parse(recursive))[0].title == "possible deadlock in btrfs_inode_lock"
    assertion = with_prefixes("""assertion failed: inode_is_locked(&inode->vfs_inode), in fs/btrfs/ordered-data.c:1138
------------[ cut here ]------------
kernel BUG at fs/btrfs/messages.c:259!
Oops: invalid opcode: 0000 [#1] PREEMPT SMP NOPTI
RIP: 0010:btrfs_assertfail+0x18/0x20
Call Trace:
 <TASK>
 ? die+0x36/0x90
 btrfs_get_ordered_extents_for_logging+0x1c6/0x1e0
 btrfs_sync_file+0x4d/0xb0
""", "T46")
    (f,) = kr.bugs(kr.parse(assertion))
    assert f.title == "BTRFS: assertion failed in btrfs_get_ordered_extents_for_logging"
    warning = with_prefixes("""------------[ cut here ]------------
WARNING: CPU: 0 PID: 47 at fs/btrfs/ordered-data.c:1140 btrfs_get_ordered_extents_for_logging+0x1c6/0x1e0
Modules linked in:
RIP: 0010:btrfs_get_ordered_extents_for_logging+0x1c6/0x1e0
Call Trace:
 <TASK>
 btrfs_sync_file+0x4d/0xb0
""", "T47")
    (f,) = kr.bugs(kr.parse(warning))
    assert f.title == "WARNING in btrfs_get_ordered_extents_for_logging"


def test_harness_markers_never_report_and_end_reports():
    text = ("@@harness error BUG: soft lockup - CPU#0 stuck for 22s! [ 12.3] WARNING: x\n"
            "[    5.000000][ T1] @@harness cell-start general protection fault\n")
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


def test_real_console_logs_are_there():
    """The parametrised test below must not shrink to nothing: a missing or
    renamed fixture folder fails here instead of collecting no case."""
    logs = real_logs()
    assert len(logs) >= 6, f"console logs missing from {FIX / 'real'}"
    expected = sorted((FIX / "real").glob("*.console.expected.json"))
    assert [p.name.removesuffix(".log") for p in logs] == [
        p.name.removesuffix(".expected.json") for p in expected]


@pytest.mark.parametrize("log", real_logs(), ids=lambda p: p.name)
def test_real_console_logs(log):
    """Logs this harness captured; the expected findings sit beside them."""
    expected = json.loads(log.with_suffix(".expected.json").read_text())
    got = [{"kind": f.kind, "title": f.title, "frame": f.frame, "first_line": f.first_line,
            "last_line": f.last_line} for f in kr.bugs(kr.parse(kr.read_log(log)))]
    assert got == expected


# ---- why a title cannot be exact: Finding.reason, next to corrupted in the JSON

HUNG_HEAD = "INFO: task fio:7 blocked for more than 10 seconds.\n"


@pytest.mark.parametrize("text, reason", [
    (HUNG_HEAD + "Call Tr", kr.CUT_OFF),
    (HUNG_HEAD + "Call Trace:\n __schedule+0x1/0x2\n schedule+0x1/0x2\n"
     " rwsem_down_write_slowpath+0x1/0x2\n down_write+0x1/0x2\n kthread+0x1/0x2\n",
     kr.ONLY_MACHINERY),
    ("BUG: KASAN: null-ptr-deref on address 0000000000000010\n"
     "Read of size 8 by task fio/7\n", kr.NO_HEADER_FN),
    ("Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: "
     "ffffffff8123abcd\n", kr.NO_HEADER_FN),
    ("BUG: workqueue leaked lock or atomic: kworker/0:1/0x00000000/46\n"
     "1 lock held by kworker/0:1/46:\n", kr.NO_FIELD_FN),
    ("WARNING: CPU: 0 PID: 9 at kernel/kthread.c:7 thing_check+0x1/0x2\n"
     "Call Trace:\n dump_stack+0x1/0x2\n should_fail+0x1/0x2\n"
     " should_failslab+0x1/0x2\n kmem_cache_alloc+0x1/0x2\n thing_alloc+0x1/0x2\n",
     kr.INTERLEAVED_DUMP),
    ("\n".join(ln for ln in RCU_STALL.splitlines() if "interrupt" not in ln and "IRQ" not in ln),
     kr.NO_IRQ),
])
def test_a_report_without_its_frame_says_why(text, reason):
    (f,) = kr.bugs(kr.parse(text))
    assert f.corrupted and f.reason == reason, (f.title, f.reason)
    assert f.to_json()["reason"] == reason


def test_an_exact_title_has_no_reason():
    for name, (text, title, _frame) in CASES.items():
        for f in kr.bugs(kr.parse(text)):
            if name in ("fault-cut", "slab-free"):
                assert f.corrupted and f.reason == kr.LOST_HEADER
                continue
            assert f.reason == "" and not f.corrupted, (name, f.title, f.reason)


def test_a_named_report_without_its_stack_is_corrupted_but_keeps_its_title():
    paging = ("BUG: unable to handle page fault for address: ffffc90000a3f000\n"
              "#PF: supervisor read access in kernel mode\nOops: 0000 [#1] PREEMPT SMP\n"
              "RIP: 0010:thing_read+0x1/0x2\n")
    (f,) = kr.bugs(kr.parse(paging))
    assert f.title == "BUG: unable to handle kernel paging request in thing_read"
    assert f.corrupted and f.reason == kr.NO_STACK
    (f,) = kr.bugs(kr.parse(paging + "Call Trace:\n"))
    assert f.corrupted and f.reason == kr.STACK_CUT
    (f,) = kr.bugs(kr.parse(paging + "Call Trace:\n thing_ioctl+0x1/0x2\n"
                            " do_syscall_64+0x1/0x2\n"))
    assert not f.corrupted and f.reason == ""
    # KMSAN and KFENCE print their stack right under the header
    kmsan = "BUG: KMSAN: uninit-value in thing_parse+0x12/0x40\n thing_parse+0x12/0x40\n" \
            " thing_ioctl+0x20/0x80\n"
    assert not kr.bugs(kr.parse(kmsan))[0].corrupted
    # a panic that ends a report, seen alone
    (f,) = kr.bugs(kr.parse("Kernel panic - not syncing: panic_on_warn set ...\n"))
    assert f.title == "kernel panic: panic_on_warn set" and f.reason == kr.LOST_HEADER
    (f,) = kr.bugs(kr.parse("Kernel panic - not syncing: Attempted to kill init! "
                            "exitcode=0x00000009\n"))
    assert not f.corrupted


def test_parse_log_json_has_reason_next_to_corrupted(tmp_path):
    import subprocess
    import sys
    log = tmp_path / "c.log"
    log.write_text(HUNG_HEAD + "Call Tr\n" + CASES["hung-task"][0])
    cp = subprocess.run([sys.executable, "-m", "harness", "parse-log", "--json", str(log)],
                        cwd=Path(__file__).resolve().parent.parent, capture_output=True,
                        text=True, timeout=120)
    assert cp.returncode == 0, cp.stderr
    cut, whole = json.loads(cp.stdout)
    keys = list(cut)
    assert keys.index("reason") == keys.index("corrupted") + 1
    assert (cut["corrupted"], cut["reason"]) == (True, kr.CUT_OFF)
    assert (whole["corrupted"], whole["reason"]) == (False, "")
    cp = subprocess.run([sys.executable, "-m", "harness", "parse-log", str(log)],
                        cwd=Path(__file__).resolve().parent.parent, capture_output=True,
                        text=True, timeout=120)
    assert f"[corrupted: {kr.CUT_OFF}]" in cp.stdout


# ---- syzkaller's own failures

EXECUTOR_FAIL = """2026/12/04 10:00:00 executor 3 failed 11 times:
executor 3: exit status 67
th # 0: created=1 executing=0 colliding=0 ready=0 done=1 call_index=2 res=0 reserrno=14
 (errno 12: Cannot allocate memory)
SYZFAIL: failed to mmap  shared output
 (errno 0: Success)
SYZFAIL: child failed
loop exited with status 67
"""


def test_syzfail_is_titled_by_its_line():
    found = kr.bugs(kr.parse(EXECUTOR_FAIL))
    assert [f.title for f in found] == ["SYZFAIL: failed to mmap shared output",
                                        "SYZFAIL: child failed"]
    assert found[0].kind == "syzfail" and not found[0].corrupted and found[0].reason == ""
    (f,) = kr.bugs(kr.parse("2026/12/04 10:00:01 SYZFATAL: failed to recv rpc: EOF\n"))
    assert f.title == "SYZFATAL: failed to recv rpc: EOF"


def test_syzfail_after_a_kernel_report_does_not_take_its_place():
    text = CASES["hung-task"][0].rstrip("\n") + "\nSYZFAIL: failed to recv rpc\n"
    found = kr.bugs(kr.parse(text))
    assert [f.title for f in found] == ["INFO: task hung in btrfs_sync_file",
                                        "SYZFAIL: failed to recv rpc"]


# ---- the frames a flavour never blames: who reports on someone else's behalf

def _warn(file, fn, *stack):
    return ("------------[ cut here ]------------\n"
            f"WARNING: CPU: 0 PID: 7 at {file}:10 {fn}+0x1/0x2\n"
            f"RIP: 0010:{fn}+0x1/0x2\nCall Trace:\n"
            + "".join(f" {f}+0x1/0x2\n" for f in stack) + "---[ end trace 0 ]---\n")


@pytest.mark.parametrize("text, title", [
    # debugobjects reports for the timer, work and RCU users of the object
    (_warn("lib/debugobjects.c", "debug_print_object", "debug_object_assert_init",
           "thing_timer_expiry", "call_timer_fn", "run_timer_softirq", "handle_softirqs"),
     "WARNING: ODEBUG bug in handle_softirqs"),
    (_warn("lib/debugobjects.c", "debug_print_object", "__debug_check_no_obj_freed",
           "__free_thing_pages", "thing_percpu_counter_destroy", "thing_hrtimer_cancel",
           "thing_release"),
     "WARNING: ODEBUG bug in thing_release"),
    # refcount_warn_saturate() for whoever put the last reference
    (_warn("lib/refcount.c", "refcount_warn_saturate", "thing_refcount_put", "thing_close"),
     "WARNING: refcount bug in thing_close"),
    (_warn("kernel/locking/lockdep.c", "__lock_acquire", "thing_release_sock",
           "thing_connect"), "WARNING: locking bug in thing_connect"),
    (_warn("drivers/usb/core/urb.c", "usb_submit_urb", "usb_start_wait_urb_thing",
           "thing_probe"), "WARNING in thing_probe/usb_submit_urb"),
    (_warn("mm/util.c", "kvmalloc_node", "thing_kzalloc_node", "thing_resize"),
     "WARNING: kmalloc bug in thing_resize"),
])
def test_warning_flavours_skip_their_reporting_callers(text, title):
    assert kr.bugs(kr.parse(text))[0].title == title


@pytest.mark.parametrize("text, title", [
    ("=============================\nWARNING: suspicious RCU usage\n"
     "net/thing.c:7 suspicious rcu_dereference_check() usage!\n\nstack backtrace:\n"
     "Call Trace:\n dump_stack+0x1/0x2\n lockdep_rcu_suspicious+0x1/0x2\n"
     " thing_rcu_lookup+0x1/0x2\n thing_kmem_get+0x1/0x2\n thing_open+0x1/0x2\n",
     "WARNING: suspicious RCU usage in thing_open"),
    ("INFO: trying to register non-static key.\nCall Trace:\n dump_stack+0x1/0x2\n"
     " register_lock_class+0x1/0x2\n __lock_acquire+0x1/0x2\n thing_stack_push+0x1/0x2\n"
     " thing_init+0x1/0x2\n", "INFO: trying to register non-static key in thing_init"),
    ("BUG: memory leak\nunreferenced object 0xffff888 (size 64):\n  backtrace:\n"
     "    [<ffffffff81>] thing_mmap_region+0x1/0x2\n"
     "    [<ffffffff82>] thing_idr_get_free+0x1/0x2\n"
     "    [<ffffffff83>] thing_ioctl+0x1/0x2\n", "memory leak in thing_ioctl"),
    ("BUG: spinlock bad magic on CPU#0, fio/7\nCall Trace:\n dump_stack+0x1/0x2\n"
     " thing_spin_lock_debug+0x1/0x2\n thing_poll+0x1/0x2\n",
     "BUG: spinlock bad magic in thing_poll"),
    ("BUG: using smp_processor_id() in preemptible [00000000] code: fio/7\n"
     "Call Trace:\n dump_stack+0x1/0x2\n check_preemption_disabled+0x1/0x2\n"
     " thing_preempt_count+0x1/0x2\n thing_xmit+0x1/0x2\n",
     "BUG: using smp_processor_id() in preemptible code in thing_xmit"),
    ("Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: "
     "ffffffff8123abcd\nCall Trace:\n dump_stack+0x1/0x2\n panic+0x1/0x2\n"
     " __stack_chk_fail_local+0x1/0x2\n thing_xmit+0x1/0x2\n",
     "kernel panic: stack is corrupted in thing_xmit"),
    (_warn("mm/vmalloc.c", "__vmalloc_node_range", "thing_kvmalloc_node", "thing_map"),
     "WARNING: zero-size vmalloc in thing_map"),
])
def test_kind_skips_from_who_reports_for_whom(text, title):
    assert kr.bugs(kr.parse(text))[0].title == title


def test_arm32_return_addresses_are_frames_too():
    # after a noreturn call the return address lies in the function that
    # follows the caller, which no "(fn) from" line shows
    text = ("------------[ cut here ]------------\n"
            "WARNING: CPU: 0 PID: 7 at lib/string_helpers.c:1029 __fortify_report+0x6c/0x74\n"
            "Kernel panic - not syncing: kernel: panic_on_warn set ...\nCall trace: \n"
            "[<818df678>] (dump_backtrace) from [<818df774>] (show_stack+0x18/0x1c)\n"
            "[<818e00fc>] (panic) from [<80243d54>] (get_taint+0x0/0xa0)\n"
            "[<80243ce0>] (check_panic_on_warn) from [<80243f48>] (__warn+0x7c/0x180)\n"
            "[<8080fe10>] (__fortify_report) from [<818e9a40>] (__fortify_panic+0x10/0x14)\n"
            "[<818e9a30>] (__fortify_panic) from [<8062a3b0>] (thing_attr_get+0x0/0x78)\n"
            "[<8062829c>] (__thing_ioctl) from [<8062aaac>] (thing_ioctl+0x10/0x14)\n")
    assert kr.bugs(kr.parse(text))[0].title == "WARNING in thing_attr_get"
    fault = ("Unhandled fault: page domain fault (0x01b) at 0x00000e30\n"
             "Internal error: : 1b [#1] PREEMPT SMP ARM\n"
             "PC is at __sanitizer_cov_trace_pc+0x4c/0x78\nBacktrace: \n"
             "[<802b3ffc>] (__sanitizer_cov_trace_pc) from [<802e1324>] "
             "(trace_hardirqs_off+0x6c/0x120)\n"
             "[<802e12b8>] (trace_hardirqs_off) from [<80100a74>] (__dabt_svc+0x54/0xa0)\n")
    assert kr.bugs(kr.parse(fault))[0].title == "Unhandled fault in __dabt_svc"
    # kcov's comparison hook is where the fault is, as syzbot names it
    kcov = fault.replace("PC is at __sanitizer_cov_trace_pc", "PC is at write_comp_data")
    assert kr.bugs(kr.parse(kcov))[0].title == "Unhandled fault in write_comp_data"


@pytest.mark.parametrize("helper", ["i2c_del_adapter", "__unregister_client", "hwrng_unregister",
                                    "tty_unregister_device", "add_uevent_var",
                                    "device_for_each_child", "usb_hcd_submit_urb",
                                    "dummy_urb_enqueue"])
def test_teardown_helpers_are_not_the_driver(helper):
    text = _warn("drivers/thing/core.c", helper, "thing_disconnect", "usb_unbind_interface")
    assert kr.bugs(kr.parse(text))[0].title == "WARNING in thing_disconnect"


def test_a_stall_under_a_socket_call_is_the_protocols():
    text = RCU_STALL.replace(" thing_ioctl+0x40/0x90\n __x64_sys_ioctl+0x73/0xb0\n",
                             " thing_sendmsg+0x40/0x90\n sock_sendmsg+0x1/0x2\n"
                             " ____sys_sendmsg+0x1/0x2\n __sys_sendmsg+0x1/0x2\n"
                             " __x64_sys_sendmsg+0x73/0xb0\n")
    assert kr.bugs(kr.parse(text))[0].title == "INFO: rcu detected stall in thing_sendmsg"


def test_every_machinery_frame_says_why():
    assert all(why.strip() and group for why, group in kr.MACHINERY)
    patterns = [p for _, group in kr.MACHINERY for p in group]
    assert len(patterns) == len(set(patterns))
    for fn, word in [("mutex_lock_nested", "sleeping lock"), ("_raw_spin_lock", "spinlock"),
                     ("refcount_warn_saturate", "reference count"), ("__schedule", "scheduler"),
                     ("i2c_del_adapter", "teardown"), ("get_taint", "taint"),
                     ("drop_nlink", "VFS"), ("kmalloc_trace", "allocator")]:
        assert kr.SKIP_FRAMES.match(fn) and word in kr.why_machinery(fn), fn
    assert kr.why_machinery("btrfs_sync_file") is None


def test_mangled_frames_are_named_as_written():
    assert kr.demangle("_Z8fakeNameiii") == "fakeName"
    assert kr.demangle("_ZN3foo3barEv") == "foo::bar"
    assert kr.demangle("_ZN6kernel4sync3Arc4drop17h0123456789abcdefE") == "kernel::sync::Arc::drop"
    assert kr.demangle("_Zjunk") == "_Zjunk" and kr.demangle("_Z99x") == "_Z99x"
    text = ("WARNING: possible circular locking dependency detected\n"
            "fio/7 is trying to acquire lock:\n"
            "ffff8880 (&thing->lock){+.+.}-{3:3}, at: _Z11thing_ioctliii+0x1/0x2\n\n"
            "but task is already holding lock:\n")
    assert kr.bugs(kr.parse(text))[0].title == "possible deadlock in thing_ioctl"


def test_a_report_that_names_no_site_keeps_its_header():
    rcu_head = ("=============================\nWARNING: suspicious RCU usage\n"
                "5.10.0 #1 Not tainted\n")
    cut = kr.bugs(kr.parse(rcu_head))[0]
    assert cut.title == "WARNING: suspicious RCU usage" and cut.corrupted
    src = kr.bugs(kr.parse(rcu_head + "net/thing.c:7 suspicious rcu_dereference_check() usage!\n"))
    assert src[0].title == "WARNING: suspicious RCU usage in corrupted"
    circular = ("======================================================\n"
                "WARNING: possible circular locking dependency detected\n4.14.0 #22 Not tainted\n"
                "------------------------serialport: VM disconnected.\n")
    (f,) = kr.bugs(kr.parse(circular))
    assert f.title == "WARNING: possible circular locking dependency detected" and f.corrupted
    old = circular.replace("WARNING: possible circular locking dependency detected",
                           "[ INFO: possible circular locking dependency detected ]")
    assert kr.bugs(kr.parse(old))[0].title == "INFO: possible circular locking dependency detected"


def test_without_caller_tags_an_interleaved_dump_ends_the_report():
    text = ("WARNING: suspicious RCU usage\n5.10.0 #1 Not tainted\n"
            "fio: vmalloc: allocation failure: 17178296320 bytes, mode:0x14080c0\n"
            "net/thing.c:7 suspicious rcu_dereference_check() usage!\n"
            "stack backtrace:\nCall Trace:\n dump_stack+0x1/0x2\n warn_alloc+0x1/0x2\n"
            " __vmalloc_node_range+0x1/0x2\n thing_alloc_entries+0x1/0x2\n")
    (f,) = kr.bugs(kr.parse(text))
    assert f.title == "WARNING: suspicious RCU usage" and f.reason == kr.INTERLEAVED_DUMP
    # with caller tags the other task's lines are told apart instead
    tagged = "\n".join(f"[    5.{i:06d}][ T{'9' if 'allocation' in ln else '7'}] {ln}"
                       for i, ln in enumerate(text.splitlines()))
    (f,) = kr.bugs(kr.parse(tagged))
    assert f.title == "WARNING: suspicious RCU usage in thing_alloc_entries"


def test_trusty_panics_are_titled_by_their_message():
    text = ("[  117.129650] trusty: panic (caller [  117.140866] trusty: 0xffffffffe000fbd0): "
            "DEBUG ASSERT FAILED "
            "at (trusty/kernel/include/thing.h:63): thing_in_list(&ref->node)\n")
    assert kr.bugs(kr.parse(text))[0].title == "trusty: ASSERT FAILED: thing_in_list(&ref->node)"
    text = "trusty: panic (caller 0xffffffffe000fbd0): failed(-22) to start app 3\n"
    assert kr.bugs(kr.parse(text))[0].title == "trusty: panic: failed(-NUM) to start app NUM"


def test_go_runtime_errors_but_not_the_kernels_own():
    assert kr.bugs(kr.parse("fatal error: runtimer: bad p\n"))[0].title == "go runtime error"
    for line in ("fatal error: cannot create timer\n",
                 "fatal error: ALSA: snd_pcm_open failed\n"):
        assert kr.bugs(kr.parse(line)) == [], line


def test_the_7x_print_formats():
    # kernel/hung_task.c: "blocked%s for more than" with " in I/O wait"
    hung = CASES["hung-task"][0].replace(" blocked for more than",
                                         " blocked in I/O wait for more than")
    assert " in I/O wait" in hung
    assert kr.bugs(kr.parse(hung))[0].title == "INFO: task hung in btrfs_sync_file"
    # kernel/workqueue.c: "leaked atomic, lock or RCU: %s[%d]" and "workfn=%ps"
    wq = ("BUG: workqueue leaked atomic, lock or RCU: kworker/0:1[46]\n"
          "     preempt=0x00000000 lock=0->1 RCU=0->0 workfn=thing_work_fn\n"
          "1 lock held by kworker/0:1/46:\n")
    assert kr.bugs(kr.parse(wq))[0].title == \
        "BUG: workqueue leaked atomic, lock or RCU in thing_work_fn"
    # kernel/panic.c: "WARNING: at %pS, CPU#%d: %s/%d" when the site has no file
    warn = ("WARNING: at thing_check+0x334/0x430, CPU#0: fio/7\n"
            "RIP: 0010:thing_check+0x334/0x430\nCall Trace:\n thing_write+0x1/0x2\n")
    assert kr.bugs(kr.parse(warn))[0].title == "WARNING in thing_check"
    # kernel/watchdog.c: "CPU%u: Watchdog detected hard LOCKUP on cpu %u"
    hard = ("CPU1: Watchdog detected hard LOCKUP on cpu 0\n"
            "RIP: 0010:thing_spin+0x1/0x2\nCall Trace:\n thing_ioctl+0x1/0x2\n")
    assert kr.bugs(kr.parse(hard))[0].title == "BUG: hard lockup in thing_spin"


def test_other_bug_lines_are_bugs_but_odebug_is_not():
    (f,) = kr.bugs(kr.parse("BUG: scheduling in a non-blocking section: fio/7/1\n"))
    assert f.title == "BUG: scheduling in a non-blocking section: fio/NUM/NUM"
    assert kr.bugs(kr.parse("ODEBUG: Out of memory. ODEBUG disabled\n")) == []


def test_every_row_names_strategies_the_parser_has():
    """A row's frame strategies are names of parser.STRATEGIES (or "none":
    a report that names no frame): a misspelt one would never be tried."""
    for k in kr.KINDS:
        assert k.frame == "none" or (k.strategies and set(k.strategies) <= set(kr.STRATEGIES)), \
            (k.name, k.frame)


def test_a_workload_line_inside_a_report_does_not_cut_its_stack():
    """A racing thread's "@@harness progress" printed between a report's
    lines used to close the report there: its stack (and so its title's
    frame) was lost.  Only a cell's boundary ends a report."""
    text = ("INFO: task fio:7 blocked for more than 10 seconds.\n"
            "@@harness progress writer 120\n"
            "Call Trace:\n"
            " __schedule+0x2f4/0x8b0\n"
            " schedule+0x4e/0xc0\n"
            " btrfs_sync_file+0x9e/0x4f0\n"
            " do_fsync+0x38/0x70\n")
    (f,) = kr.bugs(kr.parse(text))
    assert f.title == "INFO: task hung in btrfs_sync_file" and not f.corrupted
