"""Which frame of a report is guilty: the machinery a report never blames
(each group says why it is there), C++/Rust demangling, and the frame rules
of stacks, stalls and hung tasks."""
from __future__ import annotations

import re

from harness.kernel_reports.console import (ARM_FRAME_RE, ARM_FROM_RE, FRAME_RE, RIP_RE,
                                              SUFFIX_RE, SYSCALL_RE, Line)


# Every frame no report is blamed on, each group with why it is machinery.
# A frame in one of these runs on someone else's behalf: the guilty frame is
# the first caller outside them (syzkaller's rule, read from where the kernel
# prints each report).
MACHINERY: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("a spinlock or rwlock primitive: it takes or drops the lock its caller named", (
        r"_*raw_(?:spin|read|write)_\w+", r"_*(?:spin|read|write)_(?:try)?(?:un)?lock\w*",
        r"do_raw_(?:spin|read|write)_\w+", r"_*queued_(?:spin|read|write)_\w+",
        r"native_queued_spin\w*", r"_*pv_queued_spin\w*", r"spin_(?:dump|bug)",
        r"raw_spin_rq_\w+", r"rt_spin_\w+")),
    ("lockdep itself: it validates the lock its caller takes and prints the report", (
        r"lock_(?:acquire|release|contended|acquired|is_held\w*|downgrade|timer_base)",
        r"_*lock_acquire\w*", r"lockdep_\w+", r"mark_(?:lock|usage)\w*", r"\w*_held_locks?",
        r"hlock_class", r"(?:register|look_up)_lock_class", r"lock_class\w*",
        r"validate_chain")),
    ("a socket-lock wrapper: lock_sock()/release_sock() take sk_lock for the protocol", (
        r"lock_sock\w*", r"release_sock")),
    ("a sleeping lock (mutex, rt-mutex, rwsem, semaphore, percpu-rwsem, tty ldsem, "
     "console lock): it blocks or wakes for its caller", (
        r"_*mutex_\w+", r"_*rt_mutex\w*", r"task_blocks_on_rt_mutex", r"rwbase_\w+", r"osq_\w+",
        r"_*rwsem_\w+", r"_*down(?:_\w+)?", r"up", r"_*up_(?:read|write)\w*",
        r"percpu_(?:down|up)_\w+", r"percpu_rwsem_\w+", r"ldsem_down_\w+", r"tty_ldisc_lock\w*",
        r"console_(?:un|try)?lock")),
    ("a page, folio or inode lock helper: the caller holds what it locks", (
        r"_*lock_page\w*", r"unlock_page\w*", r"folio_unlock", r"inode_lock\w*",
        r"_*atomic_dec_and_\w*lock\w*")),
    ("a seqcount or bottom-half toggle: it guards its caller's critical section", (
        r"_*seqprop_\w+", r"_*(?:write|read)_seqcount\w*", r"_*local_bh_(?:enable|disable)\w*",
        r"_local_bh_enable")),
    ("the scheduler: a task sleeps in it where its caller chose to wait", (
        r"_*schedule", r"schedule_(?:timeout|hrtimeout|preempt_disabled)\w*", r"io_schedule\w*",
        r"preempt_schedule\w*", r"_*cond_resched\w*", r"_*schedule_bug", r"sched_show_task\w*",
        r"context_switch", r"__switch_to\w*", r"finish_task_switch\w*", r"try_to_wake_up",
        r"_*wake_up\w*")),
    ("a completion, wait queue or bit wait: the waiter is the caller", (
        r"complete(?:_all)?", r"_*wait_for_\w+", r"_*wait_on_\w+", r"out_of_line_wait_on_\w+",
        r"_*wait_event\w*", r"do_wait_for_common", r"(?:prepare_to|finish)_wait\w*",
        r"_*wait_rcu_gp", r"bit_wait\w*", r"_*folio_wait\w*", r"\w*fdatawait\w*")),
    ("a workqueue call: it queues, flushes or cancels the caller's work item", (
        r"_*flush_work\w*", r"_*flush_workqueue", r"drain_workqueue", r"destroy_workqueue",
        r"_*cancel_\w*work\w*", r"_*queue_work\w*", r"_*queue_delayed_work\w*",
        r"mod_delayed_work\w*", r"insert_work", r"try_to_grab_pending", r"kthread_stop\w*")),
    ("a timer call: it arms or deletes the caller's timer (and waits for its handler)", (
        r"_*(?:try_to_)?del_timer\w*", r"_*timer_delete\w*", r"_*init_timer\w*",
        r"sk_(?:stop|reset)_timer\w*")),
    ("a wait for others to finish: an SRCU cleanup waits for readers, a synchronous "
     "URB for the device", (
        r"cleanup_srcu_struct", r"usb_start_wait_urb")),
    ("a string or memory helper: it copies, compares or scans what its caller passed", (
        r"_*mem(?:cpy|set|move|cmp|chr|scan|dup)\w*",
        r"_*str(?:n?cpy|n?cmp|n?len|lcpy|scpy|n?chr|rchr|n?cat|lcat|n?dup|sep|c?spn|pbrk|n?str"
        r"|n?casecmp)\w*")),
    ("a user-copy or instrumented access: the caller chose the buffer", (
        r"\w*copy_(?:to|from)_(?:user|iter)\w*", r"copy_user_\w+",
        r"copy_page_(?:to|from)_iter\w*", r"copyin", r"copyout", r"_*(?:get|put)_user\w*",
        r"raw_copy_\w+", r"instrument_\w+", r"read_word_at_a_time", r"_*(?:read|write)_once\w*")),
    ("an atomic or bit operation: it acts on its caller's word", (
        r"(?:arch_)?atomic\w*_(?:read|set|inc|dec|add|sub|fetch|xchg|cmpxchg|try|and|or|xor)\w*",
        r"_*(?:test_and_)?(?:set|clear|change)_bit\w*", r"test_bit\w*")),
    ("a list, tree, hash, xarray or IDR helper: it walks the caller's structure (its "
     "debug checks report the caller's corruption)", (
        r"_*list_(?:add|del|replace|move|splice)\w*", r"_*list_\w+_valid\w*", r"_*rb_\w+",
        r"klist_\w+", r"_*rhashtable_\w+", r"rht_\w+", r"xas?_\w+", r"idr_\w+", r"ida_\w+")),
    ("a reference count: refcount_t, kref and ref_tracker warn for whoever got or put it", (
        r"_*refcount_\w+", r"kref_\w+", r"ref_tracker_\w+")),
    ("a checksum over the caller's data", (r"crc\w*", r"__crc\w*")),
    ("vsprintf and its format helpers: they format what the caller printed", (
        r"v?sn?printf", r"v?scnprintf", r"format_decode", r"hex_string", r"\w*hex_dump\w*",
        r"va_format", r"string(?:_nocheck)?", r"pointer")),
    ("a retpoline or return thunk: an indirect call's trampoline, not a function", (
        r"_*x86_indirect_thunk_\w+", r"__x86_return_thunk")),
    ("an address translation check (CONFIG_DEBUG_VIRTUAL): it checks the caller's pointer", (
        r"__phys_addr\w*", r"__virt_addr_valid", r"__virt_to_phys\w*")),
    ("an sk_buff helper: skb_put/push/pull and their over/underrun panics act on the "
     "caller's buffer, kfree_skb frees it", (
        r"_*skb_(?:put|push|pull)", r"skb_(?:over|under)?_?panic", r"kfree_skb\w*")),
    ("the driver model: kobjects, sysfs, devres and device registration act on the "
     "driver's objects", (
        r"_*kobject_\w+", r"_*sysfs_\w+", r"dpm_sysfs_\w+", r"devres_\w+",
        r"_*device_(?:add|del|register|unregister|release|remove_\w+|create_\w+)",
        r"get_device_parent", r"(?:get|put)_device", r"device_destroy")),
    ("a registration helper (procfs entries, net devices): it registers what its caller built", (
        r"proc_(?:register|create\w*|mkdir\w*)", r"rollback_registered\w*",
        r"unregister_netdev\w*")),
    ("a VFS object helper: link counts, inode and dentry puts, dirty buffers warn about "
     "the filesystem that called them", (
        r"(?:drop|clear|inc|set)_nlink", r"iput", r"(?:fast_)?dput", r"mark_buffer_dirty\w*")),
    ("a USB core call: it submits, kills or sends the driver's URB", (
        r"usb_(?:submit_urb|kill_\w+|poison_\w+|control_msg\w*|bulk_msg|interrupt_msg)",)),
    ("a subsystem teardown or queueing path on the driver's behalf (the driver's remove "
     "or disconnect called it): the I2C adapter and its clients, the hwrng, a tty device, "
     "uevents, the walk over a device's children, the HCD (or dummy_hcd) queueing an URB", (
        r"i2c_del_adapter", r"_*unregister_client", r"hwrng_unregister",
        r"tty_unregister_device", r"add_uevent_var", r"device_for_each_child\w*",
        r"usb_hcd_submit_urb", r"dummy_urb_enqueue")),
    ("the slab and vmalloc allocators: they allocate or free for their caller", (
        r"_*kmalloc\w*", r"_*kmem_cache_(?:alloc|free)\w*", r"kzalloc\w*", r"kcalloc\w*",
        r"_*krealloc\w*", r"kmemdup\w*", r"kstrdup\w*", r"memdup_user\w*", r"vmemdup_user",
        r"_*do_kmalloc\w*", r"_*kvmalloc\w*", r"kvzalloc\w*", r"_*v[mz]alloc\w*", r"_*vfree\w*",
        r"_*vunmap\w*", r"_*k[vz]?free\w*", r"kfree_sensitive", r"_*slab_\w+", r"allocate_slab",
        r"new_slab", r"alloc_slab_page", r"_*cache_free\w*")),
    ("the page allocator and page cache allocation: pages for the caller", (
        r"\w*alloc_pages\w*", r"alloc_page\w*", r"_*alloc_frozen_pages\w*", r"_*folio_alloc\w*",
        r"filemap_alloc_folio\w*", r"_*filemap_get_folio\w*", r"\w*page_pool_alloc\w*",
        r"get_page_from_freelist", r"__get_free_pages", r"_*page_cache_alloc",
        r"pagecache_get_page", r"_*free_pages\w*", r"free_unref_page\w*", r"post_alloc_hook",
        r"prep_new_page", r"_*set_page_owner", r"free_pages_prepare", r"free_page_is_bad\w*",
        r"bad_page", r"check_new_page\w*")),
    ("fault injection: should_fail() decides for the allocation its caller made", (
        r"_*should_fail\w*",)),
    ("printk and dev_*() printing: they print what their caller reported", (
        r"\w*printk\w*", r"_dev_(?:info|err|warn|notice|emerg|crit|alert)")),
    ("a stack dump or stack walk: it prints the report's stack from inside it", (
        r"_*dump_stack\w*", r"dump_backtrace\w*", r"show_stack\w*", r"show_trace\w*",
        r"show_regs", r"walk_stackframe", r"stack_trace_\w+", r"arch_stack_walk",
        r"stack_depot_\w+", r"save_stack\w*", r"__save_stack_trace")),
    ("the WARN()/BUG() path (kernel/panic.c, lib/bug.c, the trap handlers): it runs "
     "after the warning site, which the RIP line names", (
        r"_*warn\w*", r"check_panic_on_warn", r"report_bug", r"fixup_bug", r"handle_bug",
        r"exc_\w+", r"asm_exc_\w+", r"asm_\w+", r"do_error_trap", r"do_trap\w*",
        r"do_invalid_op", r"invalid_op", r"do_general_protection", r"general_protection",
        r"(?:do_)?double_fault", r"df_debug", r"_*die\w*", r"oops_\w+", r"_*panic\w*",
        r"_*bad_stack", r"handle_bad_stack", r"__stack_chk_fail")),
    ("kernel/panic.c's taint helpers sit beside panic() and __warn(): a noreturn "
     "panic()'s return address lands in whichever of them follows its caller", (
        r"(?:add|get|test)_taint\w*", r"print_tainted\w*")),
    ("a tracepoint's perf handler: it records the event its caller raised", (
        r"perf_trace_\w+",)),
    ("lockdep's report printers and checks: they describe the caller's locking", (
        r"print_(?:circular_bug\w*|deadlock_bug|usage_bug|bad_irq_dependency"
        r"|unlock_imbalance_bug|report|lock\w*|address_description\w*|tainted|trailer"
        r"|irqtrace_events)",
        r"check_(?:prev_add|prevs_add|noncircular|deadlock|irq_usage|path|usage\w*|flags"
        r"|unlock\w*|chain_key|memory_region\w*|preemption_disabled|stack_object|heap_object"
        r"|object_size|bytes_and_report|copy_size|region_inline)")),
    ("hardened usercopy and fortify checks: they check the caller's copy", (
        r"_*check_object_size", r"_*check_heap_object", r"usercopy_\w+", r"_*fortify_\w+")),
    ("a debug check (debugobjects, DEBUG_PREEMPT, ...): it reports on the caller's object", (
        r"_*debug_\w+", r"\w+_is_static_object", r"__this_cpu_preempt_check")),
    ("a sanitizer's runtime (KASAN, KCSAN, KMSAN, UBSAN, KFENCE, kcov's __sanitizer "
     "hooks, MTE tag faults): it checks the access its caller made", (
        r"_*kasan_\w+", r"_*(?:hw)?asan_\w+", r"kcsan_\w+", r"_*tsan_\w+", r"_*k?msan_\w+",
        r"_*ubsan_\w+", r"_*kfence_\w+", r"_*sanitizer_\w+", r"do_tag_check_fault",
        r"do_tag_recovery")),
    ("irq-state tracing and RCU read-side markers: bookkeeping around the caller's section", (
        r"trace_hardirqs\w*", r"rcu_read_(?:un)?lock\w*", r"rcu_lock_(?:acquire|release)")),
    ("a might_sleep()/might_fault() annotation: it checks the context its caller is in", (
        r"_*might_sleep\w*", r"_*might_fault", r"_*might_resched", r"__cant_sleep")),
    ("an assertion helper: it fails for the assertion its caller wrote", (
        r"assertfail", r"btrfs_assertfail")),
    ("the page-fault path (x86 and arm64): it handles the caller's bad access", (
        r"page_fault_oops", r"do_user_addr_fault", r"do_kern_addr_fault", r"no_context",
        r"kernelmode_fixup_or_oops", r"fixup_exception", r"spurious_kernel_fault",
        r"_*do_kernel_fault", r"_*do_(?:page|translation)_fault", r"do_mem_abort",
        r"el1_(?:abort|da)", r"el1h?_(?:64_)?sync\w*", r"do_DataAbort", r"do_bad_area",
        r"handle_page_fault")),
    ("a watchdog (hung-task, soft/hard lockup, RCU stall, NMI backtrace): it reports "
     "the CPU or task it watches", (
        r"watchdog\w*", r"check_hung_\w+", r"khungtaskd", r"rcu_\w*stall\w*",
        r"print_other_cpu_stall", r"nmi_cpu_backtrace\w*", r"nmi_trigger_cpumask_backtrace",
        r"arch_trigger_cpumask_backtrace")),
    ("the timer tick and hrtimer core: they interrupt the code they run the watchdog on", (
        r"_*hrtimer_\w+", r"tick_\w+", r"update_process_times")),
    ("interrupt entry and exit: they enter the handler from whatever was running", (
        r"_*sysvec_\w+", r"irq_exit\w*", r"_*irq_exit_rcu", r"irqentry_\w+",
        r"\w*apic_timer_interrupt", r"_*common_interrupt", r"_*handle_domain_irq",
        r"gic_handle_irq", r"__irq_svc", r"el1h?_(?:64_)?irq\w*", r"el1_interrupt",
        r"call_on_irq_stack", r"do_interrupt_handler", r"generic_handle_\w+")),
    ("system-call entry and exit: it calls the syscall, which is named instead", (
        r"do_syscall_\w+", r"entry_SYSCALL_64\w*", r"entry_SYSENTER\w*", r"entry_INT80\w*",
        r"x64_sys_call", r"_*do_fast_syscall\w*", r"do_int80_syscall_32", r"syscall_exit\w*",
        r"el0_svc\w*", r"do_el0_svc\w*", r"el0t_64_sync\w*", r"invoke_syscall\w*",
        r"ret_fast_syscall")),
    ("thread start and the workqueue worker: they run the thread function or work item", (
        r"ret_from_fork\w*", r"kthread", r"worker_thread", r"process_one_work",
        r"process_scheduled_works")),
)
SKIP_FRAMES = re.compile(r"^(?:" + "|".join(p for _, group in MACHINERY for p in group) + r")$")


def why_machinery(fn: str) -> str | None:
    """Why a frame is never guilty (the MACHINERY group it belongs to), or None."""
    return next((why for why, group in MACHINERY
                 if any(re.fullmatch(p, fn) for p in group)), None)

# A stalled CPU loops somewhere below the point where its work was entered:
# a stall is named by the frame just inside the first of these (the syscall,
# the timer, the softirq, the work item; for a dispatcher such as ioctl or
# netlink, the handler it called: "rcu detected stall in kvm_vcpu_ioctl").
STALL_ANCHORS = re.compile(r"^(?:" + "|".join([
    # entries
    r"do_syscall_\w+", r"_*do_fast_syscall\w*", r"do_int80_syscall_32", r"entry_\w+",
    r"x64_sys_call", r"el0_svc\w*", r"do_el0_svc\w*", r"invoke_syscall\w*", r"ret_fast_syscall",
    r"ret_from_fork\w*", r"kthread", r"worker_thread", r"process_one_work", r"smpboot_thread_fn",
    r"run_ksoftirqd", r"call_timer_fn", r"_*run_timers?\w*", r"expire_timers",
    r"run_timer_softirq", r"_*do_softirq\w*", r"handle_softirqs", r"irq_exit\w*",
    r"tasklet_\w*action\w*", r"net_rx_action", r"_*napi_poll", r"process_backlog",
    r"_*netif_receive_skb\w*", r"_*hrtimer_run_\w+", r"rcu_do_batch", r"rcu_core\w*",
    r"cpu_startup_entry", r"do_idle", r"cpu_idle\w*", r"start_secondary", r"rest_init",
    r"exit_to_user_?mode_(?:loop|prepare)", r"task_work_run", r"_*fput\w*", r"net_tx_action",
    # dispatchers
    r"(?:do_vfs|vfs|ksys)_ioctl", r"\w*(?:sys|SyS|SYSC)_ioctl", r"\w*blkdev_ioctl",
    r"_*vfs_(?:iter_)?(?:read|write)\w*", r"ksys_(?:read|write|pread64|pwrite64)",
    r"new_sync_(?:read|write)", r"do_iter_\w+", r"do_loop_readv_writev", r"do_readv",
    r"do_writev", r"sock_(?:read|write)_iter", r"sock_common_(?:set|get)sockopt",
    r"_*sys_(?:set|get)sockopt", r"\w*netlink_rcv\w*", r"genl_\w*rcv\w*", r"_*netlink_dump\w*",
    r"__skb_datagram_iter", r"__do_fault", r"mmap_region", r"do_mmap\w*", r"do_dentry_open",
    # socket calls go through the protocol's proto_ops, netlink messages
    # through the family's handler, file calls through file_operations: the
    # stall is the callee's (a fault is not a dispatcher: a stall in a fault
    # taken by copy_from_user is the syscall's)
    r"sock_(?:sendmsg|recvmsg|release|mmap|do_ioctl|ioctl)\w*", r"__sock_release",
    r"compat_sock_ioctl\w*", r"kernel_(?:setsockopt|listen|accept)", r"__sys_(?:listen|accept)\w*",
    r"sk_common_release", r"(?:nf|rt)netlink_rcv_msg", r"call_(?:read_iter|write_iter|mmap)",
    r"vfs_open", r"\w*(?:sys|SyS|SYSC)_(?:connect|socketpair)",
]) + r")$")
# interrupt entries: a stall's interrupted context starts after the first run of them
IRQ_ENTRY = re.compile(r"^(?:\w*apic_timer_interrupt\w*|_*sysvec_\w+|asm_sysvec_\w+|__irq_svc"
                       r"|el1h?_(?:64_)?irq\w*|el1_interrupt|irq_exit\w*|_*irq_exit_rcu"
                       r"|asm_common_interrupt|ret_from_intr|call_on_irq_stack|gic_handle_irq"
                       r"|_*handle_domain_irq|generic_handle_arch_irq)$")
# frames that name a stall themselves, whatever they called
STALL_SELF = re.compile(r"^(smp_call_function)\w*$")
# compat wrappers of a dispatcher: they name a stall only when nothing else does
STALL_WEAK = re.compile(r"^\w+_compat_ioctl\w*$")
# fault injection prints the stack of the failing allocation: a report whose
# stack runs through it shows someone else's stack
FAULT_INJECTION = re.compile(r"^_*should_fail\w*$")
# messages that come with a stack dump of their own, interleaved with the report's
INTERLEAVED = re.compile(r"FAULT_INJECTION: forcing a failure|allocation failure: ")


def normalize_fn(fn: str) -> str:
    fn = SUFFIX_RE.sub("", fn)
    return demangle(fn) if fn.startswith("_Z") else fn


_ITANIUM_ID = re.compile(r"(\d+)")


def demangle(fn: str) -> str:
    """A C++ (or legacy Rust) symbol the way a title names it: the Itanium
    ABI's "_Z<len><name><args>" is <name>, a nested "_ZN<len><a><len><b>...E"
    is a::b (without legacy Rust's trailing "h<16 hex>" hash).  Anything
    else is left as it is."""
    nested = fn.startswith("_ZN")
    pos, parts = 3 if nested else 2, []
    while pos < len(fn):
        m = _ITANIUM_ID.match(fn, pos)
        if not m:
            break
        n, start = int(m.group(1)), m.end()
        if n == 0 or start + n > len(fn):
            return fn
        parts.append(fn[start:start + n])
        pos = start + n
        if not nested:
            break
    if not parts or (nested and not fn.startswith("E", pos)):
        return fn
    if nested and len(parts) > 1 and re.fullmatch(r"h[0-9a-f]{16}", parts[-1]):
        parts.pop()
    return "::".join(parts)


def title_fn(fn: str) -> str:
    """A frame as syzbot writes it in a title: "__x64_sys_futex" -> "sys_futex"."""
    m = SYSCALL_RE.match(fn)
    if not m:
        return fn
    return m.group("sys") or m.group("bare")


def frame_of(text: str) -> tuple[str, bool] | None:
    """(function, reliable) of a stack-trace line, or None."""
    m = RIP_RE.match(text.strip()) or FRAME_RE.match(text)
    if m:
        return normalize_fn(m.group("fn")), not (m.groupdict().get("unreliable")
                                                 or text.rstrip().endswith("(unreliable)"))
    m = ARM_FRAME_RE.match(text)
    if m:
        return normalize_fn(m.group("fn")), True
    return None


def frames_of(text: str) -> list[tuple[str, bool]]:
    """Every frame a stack-trace line shows, innermost first: one, or two
    on arm32 (the function and the return address it was called from)."""
    fr = frame_of(text)
    if fr is None:
        return []
    if ") from " in text and (m := ARM_FROM_RE.search(text)):
        return [fr, (normalize_fn(m.group("fn")), True)]
    return [fr]


def _skipped(fn: str, extra: re.Pattern | None) -> bool:
    return bool(SKIP_FRAMES.match(fn) or (extra and extra.match(fn)))


def guilty_frame(lines: list[Line], extra_skip: re.Pattern | None = None) -> str | None:
    """The first reliable frame (RIP or stack) that is not machinery (nor
    the frame of a "Preemption disabled at:" note)."""
    after_at = False
    for ln in lines:
        if INTERLEAVED.search(ln.text):
            return None             # another task's dump runs through this stack
        for fr in () if after_at else frames_of(ln.text):
            if not fr[1]:
                continue
            if FAULT_INJECTION.match(fr[0]):
                return None         # a fault-injection dump, not this report's stack
            if not _skipped(fr[0], extra_skip):
                return fr[0]
        after_at = ln.text.rstrip().endswith(" at:")
    return None


# where one CPU's trace ends and another's begins (a user-mode RIP ends a trace)
TRACE_BREAK = re.compile(r"(?:rcu: )?(?:RIP: 00[23][0-9a-f]:|NMI backtrace for cpu|Sending NMI"
                         r"|Task dump for CPU|Kernel panic|\S+ kthread starved"
                         r"|RCU grace-period kthread)")
IGNORED_TRACE = re.compile(r"(?:rcu: )?(?:\S+ kthread starved|RCU grace-period kthread)")


def stall_frame(lines: list[Line], extra_skip: re.Pattern | None, needs_irq: bool) -> str | None:
    """The frame a stalled CPU loops in.  In the first trace of the report
    (the grace-period kthread's is not one), after the timer interrupt that
    caught the CPU when `needs_irq`: the frame just inside the first entry
    point or dispatcher, or the outermost frame if the trace shows none."""
    traces: list[list[tuple[str, bool]]] = [[]]
    ignored = False
    for ln in lines:
        text = ln.text.strip()
        frs = frames_of(ln.text)
        if frs:
            for fr in frs:
                if fr[1] and not ignored:
                    traces[-1].append((fr[0], False))
        elif text in ("</IRQ>", "<EOI>"):
            traces[-1].append(("", True))
        elif TRACE_BREAK.match(text):
            ignored = bool(IGNORED_TRACE.match(text))
            traces.append([])
    trace = next((t for t in traces if any(fn for fn, _ in t)), [])
    cut = 0
    if needs_irq:
        first = next((i for i, (fn, irq) in enumerate(trace) if irq or IRQ_ENTRY.match(fn)), None)
        if first is None:
            return None
        cut = first
        while cut < len(trace) and (trace[cut][1] or IRQ_ENTRY.match(trace[cut][0])):
            cut += 1
    prev = None
    for fn, irq in trace[cut:]:
        if irq:
            continue
        if STALL_SELF.match(fn):
            return STALL_SELF.match(fn).group(1)
        if STALL_ANCHORS.match(fn):
            if prev:
                return prev
            continue
        if not _skipped(fn, extra_skip) and not (prev and STALL_WEAK.match(fn)):
            prev = fn
    return prev


# A hung task's stack (kernel/hung_task.c: sched_show_task() of the task
# that slept too long in D state) is the stack of its wait: it names the
# frame that waits, not the one that holds what it waits for.
# Two waits are buckets of their own whatever called them (syzkaller's
# rule): every task stuck behind the RTNL mutex ("rtnl_lock"), and every
# task waiting for an RCU grace period ("synchronize_rcu": srcu, net and
# sched are the same wait behind another door).
HUNG_ANCHORS = re.compile(r"(?P<rtnl>\w*rtnl_lock\w*)|\w*synchronize_(?:rcu|srcu|net|sched)\w*")
# frames of a wait, whatever their subsystem prefix: the scheduler
# ("sched"), sleeping locks and their slow paths ("_lock", "_slowlock",
# "down", "rwsem"), completions and wait queues ("completion", "wait"),
# grace periods ("synchronize"), the kthread that waits and the context
# switch itself, and the cancel of a delayed work item that waits for it
HUNG_SKIP = (r"\w*(?:sched|_lock|_slowlock|down|rwsem|completion|kthread|wait|synchronize"
             r"|context_switch|__switch_to|cancel_delayed_work)\w*")


def hung_anchor(lines: list[Line]) -> str | None:
    for ln in lines:
        fr = frame_of(ln.text)
        if fr and fr[1] and (m := HUNG_ANCHORS.fullmatch(fr[0])):
            return m.group(0) if m.group("rtnl") else "synchronize_rcu"
    return None
