"""Find and name kernel reports in a console log, the way kernel developers
and syzbot name them ("possible deadlock in btrfs_sync_file",
"INFO: task hung in btrfs_sync_file").

Every kind of report is one row of KINDS: how it starts, how its title is
built, how its guilty frame is found, and which reports that follow it are
really part of it.  Adding a kind is adding a row.

The guilty frame is found by the row's strategies (`frame`), tried in order:

- "header": the function named on the start line (KASAN, KCSAN, ...);
- "at": the first function of lockdep's "..., at: FUNC+0x..." lock lines;
- "section": the stack that follows a line matching the row's `section`;
- "stack": the report's own stack (from its `stack_after` line if it has one),
  RIP first, up to the first foreign section (allocation stacks, other CPUs);
- "stall", "lockup": a stalled CPU loops anywhere below the point where its
  work was entered, so it is named by the frame just inside the first entry
  point or dispatcher (syscall, ioctl, timer, softirq, work item); "stall"
  looks only at the context the timer interrupt caught, "lockup" at it all;
- "field": the `fn` value read from the body (`fields`);
- "lock": lockdep's first lock line even in machinery, the last resort.

Every strategy but "lock" skips machinery (SKIP_FRAMES: locking, scheduler,
printk, debugging, entry, allocator and generic-helper frames, plus the row's
own `skip`).  A report whose frame cannot be found is titled "... in
corrupted", as syzbot does, and flagged corrupted; so is one whose stack is
another task's dump (fault injection, allocation failures) interleaved with it.

Which lines belong to a report: it starts on its row's start line, absorbs
the rows in its `absorbs` and any `weak` row (the panic that ends it), and
ends at "---[ end trace", at the next report of the same caller, or when its
caller goes quiet.  One-line reports (a netdev refcount wait) interleave with
others without cutting them; a lockdep report cut short by another kind of
report of the same task, before its own stack, takes that report's stack.

The same Parser serves the live monitor (feed() a line at a time) and
`harness parse-log` (parse() a whole log, with a fast path that hands only
the lines near a report to the line-by-line state machine).  Parsing is
pure: no I/O.  Odd input is not an error (any bytes parse); an exception
here is a bug of the parser, and it propagates: the monitor and the verdict
turn it into an ERROR that says so, never into "no report" and a PASS.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

# ------------------------------------------------------------ line cleaning

ESCAPE_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][A-Za-z0-9]|\x1b[=>cM78]")
PREFIX_RE = re.compile(
    r"^(?:\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(?:\.\d+)? )?"     # a log collector's date stamp
    r"(?:\S+ login: )?"                                     # a getty prompt
    # output that cut in before the timestamp (never a harness marker)
    r"(?:(?!@@harness)[^\[\n]*?(?=(?:<\d+>)?\[\s*\d+\.\d+\]))?"
    r"(?:<\d+>)?(?:\[\s*(?P<ts>\d+\.\d+)\])?(?:\[\s*(?P<caller>[TC]\d+)\])?\s?")
_ADDR = r"(?:\[<?[0-9a-f]+>?\]\s*)*"       # "[<ffffffff81234567>] ", "[c0000000012345]"
FRAME_RE = re.compile(
    r"^\s*" + _ADDR + r"(?P<unreliable>\? )?(?P<fn>[A-Za-z_][\w.]*)\+0x[0-9a-f]+/0x[0-9a-f]+")
ARM_FRAME_RE = re.compile(                 # arm32: "[<80de0078>] (dump_backtrace) from [<...>]"
    r"^\s*(?:\[<[0-9a-f]+>\]\s*)?\((?P<fn>[A-Za-z_][\w.]*)(?:\+0x[0-9a-f]+/0x[0-9a-f]+)?\)"
    r" from ")
# arm32's dump_backtrace_entry() prints "(%ps) from [<lr>] (%pS)": the
# function, then the return address it goes back to.  That return address is
# a frame of its own: after a noreturn call (a panic, a fortify failure) it
# lies in the function that follows the caller, which the next line does not
# show ("(__fortify_panic) from [<...>] (ext4_fileattr_get+0x0/0x78)")
ARM_FROM_RE = re.compile(r"\) from (?:\[<[0-9a-f]+>\]\s*)?\((?P<fn>[A-Za-z_][\w.]*)\+0x")
RIP_RE = re.compile(r"^(?:RIP|EIP|IP|NIP|pc|epc|PC is at|EIP is at)\s*:?\s*(?:\d{4}:)?" + _ADDR
                    + r"(?P<fn>[A-Za-z_][\w.]*)\+0x")
AT_RE = re.compile(r"\bat: " + _ADDR + r"(?P<fn>[A-Za-z_][\w.]*)\+0x")
SUFFIX_RE = re.compile(r"(\.(constprop|isra|part|cold|llvm|lto_priv|localalias)(\.\d+)?)+$")
# a syscall's entry frame, named the way syzbot names it
SYSCALL_RE = re.compile(r"^(?:__(?:x64|ia32|arm64|riscv|s390x?|x32)_(?P<sys>sys_\w+)"
                        r"|(?:SyS|sys|ksys|__se_sys|__do_sys|__se_compat_sys)_(?P<bare>\w+))$")
END_RE = re.compile(r"^---\[ end (trace|Kernel panic)")
# where the report's own stack ends: the allocation/free stacks of a
# sanitizer report, lockdep's chains, other CPUs' backtraces
STOP_RE = re.compile(
    r"^(?:Allocated by task|Freed by task|Last potentially related work|Second to last potentially"
    r"|The buggy address|Memory state around|Uninit was (?:created|stored)"
    r"|Local variable \S+ created|Showing all locks held|NMI backtrace for cpu|Sending NMI from CPU"
    r"|other info that might help"
    r"|the existing dependency chain|-> #\d|\{[A-Z-]+\} state was registered at"
    r"|\.\.\. which became|Kernel Offset:|Rebooting in)")
EMBEDDED_TS = re.compile(r"\[\s*(?P<ts>\d+\.\d+)\](?:\[\s*(?P<caller>[TC]\d+)\])? ?")
NUMBER_RE = re.compile(r"\b(?:0x)?[0-9a-f]*\d[0-9a-f]*\b")
MARKER = "@@harness"
MAX_REPORT_LINES = 1000   # a stack overflow prints a long trace
IDLE_LINES = 200        # a report whose caller printed nothing for this long is over


def read_log(path) -> str:
    """A console log as text, byte for byte: no newline translation (a
    serial console on a pty writes \\r\\r\\n, which text mode would turn
    into two lines) and no decoding errors."""
    with open(path, "rb") as fh:
        return fh.read().decode("utf-8", "replace")


def clean(raw: str) -> str:
    if "\x1b" in raw:
        raw = ESCAPE_RE.sub("", raw)
    return raw.replace("\r", "").replace("\x00", "")


@dataclass(frozen=True)
class Line:
    no: int             # 1-based line number in the log
    ts: float | None
    caller: str | None  # "T123" / "C0" (CONFIG_PRINTK_CALLER), or None
    text: str           # without timestamp and caller


def split_line(no: int, raw: str) -> Line:
    raw = clean(raw)
    m = PREFIX_RE.match(raw)
    ts = float(m.group("ts")) if m and m.group("ts") else None
    caller = m.group("caller") if m else None
    return Line(no, ts, caller, raw[m.end():] if m else raw)


# ------------------------------------------------ frames that are never guilty

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


# ------------------------------------------------------------ the kinds table

# lockdep's own lock lines ("is trying to acquire lock: ..., at: FUNC") end
# where the held-lock lists, chains and registration stacks begin
AT_UNTIL = (r"^(?:\d+ locks? held by|stack backtrace:|\{[A-Z-]+\} state was registered"
            r"|the existing dependency chain|\.\.\. which became|other info that might help)")


@dataclass(frozen=True)
class Kind:
    name: str
    category: str
    start: str                      # regex on the line text (no ts/caller prefix)
    title: str                      # format string: {frame}, named groups, fields;
                                    # "{x_n}" is group x with its numbers as NUM
    frame: str = "stack"            # strategies, tried in order (see the module doc)
    absorbs: tuple[str, ...] = ()   # kinds that continue this report
    skip: str | None = None         # extra frames this kind never blames
    fields: tuple[tuple[str, str], ...] = ()  # (name, regex) read from the body
    is_bug: bool = True             # False: information (blocked-task dumps)
    needs_frame: bool = True
    needle: str | None = None       # literal every start line contains (default:
                                    # the regex's literal beginning)
    weak: bool = False              # a consequence (panic): part of any open report
    stack_after: str | None = None  # "stack": the blamed stack follows this line
    section: str | None = None      # "section": the frames that follow this line
    at_until: str = AT_UNTIL        # "at": the lock lines end at this line
    lost: str | None = None         # a title (regex) that only a report whose own
                                    # header was lost gets: it is corrupted
    unnamed: str | None = None      # the title of a report whose frame is not found
                                    # (default: the title "in corrupted")
    variants: tuple[tuple, ...] = ()  # (groups, regex, title[, skip]): the first
                                    # whose groups ("a,b": joined by "|") match gives
                                    # the title, and frames its flavour never blames

    @property
    def literals(self) -> tuple[str, ...]:
        """Literals one of which every start line contains ("A|B": either)."""
        if self.needle:
            return tuple(self.needle.split("|"))
        m = re.match(r"\^?([A-Za-z0-9 :_,'!#-]+)", self.start)
        if not m or len(m.group(1)) < 4:
            raise ValueError(f"kind {self.name}: give it a needle")
        return (m.group(1),)

    @property
    def start_re(self) -> re.Pattern:
        return _compiled(self.start)


_CACHE: dict[str, re.Pattern] = {}


def _compiled(rx: str) -> re.Pattern:
    if rx not in _CACHE:
        _CACHE[rx] = re.compile(rx)
    return _CACHE[rx]


def words(*parts: str) -> str:
    """A skip pattern of frames that contain any of `parts`, whatever the
    prefix or suffix: "timer_" skips rose_timer_expiry and run_timer_softirq."""
    return r"\w*(?:" + "|".join(re.escape(w) for w in parts) + r")\w*"


LOCKDEP = r"^(?:WARNING: |\[ INFO: )"      # 4.14+ / older lockdep headers
OLD_OR_NEW = r"^(?:\[ )?(?P<sev>WARNING|BUG|INFO): "
LOCKDEP_STACK = r"^stack backtrace:"
# lockdep's deadlock reports are named by the lock lines under their header
# (print_circular_bug_header() and friends: "... is trying to acquire lock:
# ..., at: FUNC"); one cut before any of them, and before its stack, names
# nothing, and syzbot keeps its header as the title
LOCKDEP_HEADER = "{header}"
EITHER, ANY3 = "WARNING|INFO: ", "WARNING|BUG|INFO: "       # needles of those headers
DIE = ("oops", "internal-error")            # the "Oops: 0000 [#1]" line of a fault
OOPS_TAIL = ("oops", "invalid-opcode", "bug-at", "null-deref", "paging", "gpf", "panic",
             "internal-error")
PANIC = r"^Kernel panic - not syncing: "
OOPS = r"^(?:Oops: )?"                     # 6.x: "Oops: general protection fault, ..."
FUNC = r"(?:\[<[0-9a-f]+>\] )?(?P<fn>[A-Za-z_][\w.]*)"
KINDS: tuple[Kind, ...] = (
    # lockdep
    Kind("lockdep-recursive", "lockdep", LOCKDEP + r"possible recursive locking detected",
         "possible deadlock in {frame}", "at stack lock", stack_after=LOCKDEP_STACK,
         unnamed=LOCKDEP_HEADER, needle=EITHER),
    Kind("lockdep-circular", "lockdep", LOCKDEP + r"possible circular locking dependency detected",
         "possible deadlock in {frame}", "at stack section lock", section=r"^-> #\d+",
         stack_after=LOCKDEP_STACK, unnamed=LOCKDEP_HEADER, needle=EITHER),
    Kind("lockdep-inconsistent", "lockdep", LOCKDEP + r"inconsistent lock state",
         "inconsistent lock state in {frame}", "at stack lock", stack_after=LOCKDEP_STACK,
         unnamed=LOCKDEP_HEADER, needle=EITHER),
    Kind("lockdep-irq-inversion", "lockdep", LOCKDEP + r"possible irq lock inversion dependency",
         "possible deadlock in {frame}", "at stack lock", stack_after=LOCKDEP_STACK,
         unnamed=LOCKDEP_HEADER, needle=EITHER),
    Kind("lockdep-irq-order", "lockdep",
         LOCKDEP + r"(?:HARDIRQ|SOFTIRQ)-(?:safe|READ-safe) -> (?:HARDIRQ|SOFTIRQ)-\S+ lock order",
         "possible deadlock in {frame}", "section at stack lock", stack_after=LOCKDEP_STACK,
         section=r"^\.\.\. which became \S+-irq-safe at:", unnamed=LOCKDEP_HEADER, needle=EITHER),
    Kind("lockdep-bad-unlock", "lockdep", OLD_OR_NEW + r"bad unlock balance detected!",
         "{sev}: bad unlock balance in {frame}", "at stack", stack_after=LOCKDEP_STACK,
         needle=ANY3),
    Kind("lockdep-held-freed", "lockdep", OLD_OR_NEW + r"held lock freed!",
         "{sev}: held lock freed in {frame}", "at stack", stack_after=LOCKDEP_STACK,
         needle=ANY3),
    # lockdep_sys_exit() prints the held locks, not a stack
    Kind("lockdep-held-return", "lockdep", OLD_OR_NEW + r"lock held when returning to user space!",
         "{sev}: lock held when returning to user space in {frame}", "at",
         stack_after=LOCKDEP_STACK, at_until=LOCKDEP_STACK, needle=ANY3),
    Kind("lockdep-still-held", "lockdep", r"^WARNING: \S+ still has locks held!",
         "WARNING: still has locks held in {frame}", "at stack", stack_after=LOCKDEP_STACK,
         at_until=LOCKDEP_STACK, needle="WARNING"),
    Kind("lockdep-nested", "lockdep", r"^WARNING: Nested lock was not taken",
         "WARNING: nested lock was not taken in {frame}", "at stack", stack_after=LOCKDEP_STACK,
         needle="WARNING"),
    Kind("lockdep-wait-context", "lockdep", r"^\[ BUG: Invalid wait context \]",
         "WARNING: locking bug in {frame}", stack_after=LOCKDEP_STACK, needle="BUG"),
    # lockdep_rcu_suspicious() is called by the RCU-checked accessor: RCU's
    # own helpers and the allocators that check their RCU state for the caller
    # lockdep_rcu_suspicious() prints "%s:%d %s!" (file, line, what) under
    # the header: a report cut before that line names no site at all, and
    # syzbot keeps its header
    Kind("lockdep-rcu", "lockdep", OLD_OR_NEW + r"suspicious RCU usage",
         "{sev}: suspicious RCU usage in {frame}", stack_after=LOCKDEP_STACK,
         skip=words("rcu", "kmem", "slab", "kmalloc", "vmalloc", "kcalloc", "kzalloc"),
         fields=(("src", r"^\S*?([\w/.+-]+\.[ch]):\d+ \S"),),
         variants=(("src", r"^$", "{sev}: suspicious RCU usage"),), needle=ANY3),
    # register_lock_class() finds the key while a lock is taken for the first
    # time: the lock primitives and the stack/IRQ plumbing above them
    Kind("lockdep-static-key", "lockdep", r"^INFO: trying to register non-static key",
         "INFO: trying to register non-static key in {frame}",
         skip=words("stack", "lock", "IRQ"), needle="INFO: "),
    Kind("lockdep-limit", "lockdep", r"^BUG: (?P<what>MAX_\w+ too low!)", "BUG: {what}", "none",
         needs_frame=False, needle="BUG"),
    # spin_bug() runs inside the spinlock's debug checks (every spin_* frame)
    Kind("spinlock", "lockdep", r"^BUG: (?P<what>(?:spin|rw)lock [\w ]+?) on CPU#\d+",
         "BUG: {what} in {frame}", skip=words("spin_"), needle="BUG"),
    # check_preemption_disabled() runs inside the this_cpu accessor of the caller
    Kind("preemptible", "lockdep",
         r"^BUG: using (?P<what>[\w]+\(\)) in preemptible \[[0-9a-f]+\] code",
         "BUG: using {what} in preemptible code in {frame}",
         skip=words("dump_stack", "preempt"), needle="BUG"),
    # process_one_work(): "leaked lock or atomic: ... last function: %ps"
    # (5.x) or "leaked atomic, lock or RCU: ... workfn=%ps" (6.9+)
    Kind("workqueue-leak", "lockdep",
         r"^BUG: workqueue leaked (?P<what>lock or atomic|atomic, lock or RCU)",
         "BUG: workqueue leaked {what} in {frame}", "field",
         fields=(("fn", r"^(?:last function: |.* workfn=)(?:\[<[0-9a-f]+>\] )?([A-Za-z_][\w.]*)"),),
         needle="BUG"),
    # btrfs (before the generic BUG rows: an assertion is followed by a BUG)
    Kind("btrfs-assert", "btrfs",
         r"^(?:BTRFS: )?assertion failed: (?P<expr>.*), in (?P<file>\S+?):(?P<lineno>\d+)",
         "BTRFS: assertion failed in {frame}", absorbs=OOPS_TAIL + ("cut",),
         needle="assertion failed: "),
    Kind("btrfs-critical", "btrfs", r"^BTRFS critical \(device (?P<dev>[^)]*)\): (?P<msg>.*)",
         "BTRFS critical: {msg}", "none", needs_frame=False, needle="BTRFS"),
    Kind("btrfs-error", "btrfs",
         r"^BTRFS(?::? error)? \(device [^)]*\)(?: error)?:? (?:error )?in (?P<fn>[\w.]+):\d+",
         "BTRFS error in {frame}", "header", needs_frame=False, needle="BTRFS"),
    # sanitizers
    Kind("kasan", "sanitizer",
         r"^BUG: KASAN: (?:double-free or )?(?P<bugtype>[\w-]+)(?: in (?P<fn>[\w.]+))?"
         r"(?P<old>\+0x[0-9a-f]+/0x[0-9a-f]+ at addr )?",
         "KASAN: {bugtype}{access} in {frame}", "header stack", needle="BUG",
         fields=(("access", r"^(?:The buggy address|(Read|Write) (?:of size|at addr))"),),
         variants=(("fn", r"^$", "KASAN: {bugtype}{access}"),
                   # an old report cut before its access: syzbot keeps its first line
                   ("old,access", r"at addr\|$", "KASAN: {bugtype} in {fn_n} at addr ADDR"))),
    Kind("kmsan", "sanitizer", r"^BUG: KMSAN: (?P<bugtype>[\w-]+) in (?P<fn>[\w.]+)",
         "KMSAN: {bugtype} in {frame}", "header stack", needle="BUG"),
    Kind("kcsan-assert", "sanitizer", r"^BUG: KCSAN: assert: race in (?P<fn>[\w.]+)",
         "KCSAN: assert: race in {frame}", "header", needle="BUG"),
    Kind("kcsan", "sanitizer",
         r"^BUG: KCSAN: (?P<bugtype>[\w-]+) in (?P<fn>[\w.]+)(?: / (?P<other>[\w.]+))?",
         "KCSAN: {bugtype} in {frame}{pair}", "header", needle="BUG"),
    Kind("kfence", "sanitizer", r"^BUG: KFENCE: (?P<bugtype>[\w -]+?) in (?P<fn>[\w.]+)",
         "KFENCE: {bugtype} in {frame}", "header stack", needle="BUG"),
    Kind("ubsan", "sanitizer", r"^UBSAN: (?P<bugtype>[\w -]+?) in (?P<file>\S+)",
         "UBSAN: {bugtype_slug} in {frame}", skip=r"ubsan_\w+|__ubsan_\w+|handle_overflow"),
    # kmemleak's backtrace is the allocation's: every allocator and
    # allocating helper (strdup, memdup, kasprintf, idr, percpu, mmap'ed
    # objects) is how the leaker got the memory, not the leaker
    Kind("memory-leak", "sanitizer", r"^BUG: memory leak", "memory leak in {frame}",
         skip=words("kmemleak", "kmalloc", "kcalloc", "kzalloc", "vmalloc", "mmap", "kmem",
                    "slab", "alloc", "create_object", "idr_get", "list_lru_init", "kasprintf",
                    "kvasprintf", "pcpu_create", "strdup", "strndup", "memdup")
              + r"|k?v?a?sprintf\w*|debug_\w+|\w+_userns",
         needle="BUG"),
    # atomic context
    Kind("sleep-in-atomic", "atomic", r"^BUG: sleeping function called from invalid context",
         "BUG: sleeping function called from invalid context in {frame}", needle="BUG"),
    Kind("sched-atomic", "atomic", r"^BUG: scheduling while atomic",
         "BUG: scheduling while atomic in {frame}", needle="BUG"),
    # hangs and stalls
    # check_hung_task(): "INFO: task %s:%d blocked%s for more than %ld
    # seconds." (%s: " in I/O wait" since 6.x)
    Kind("hung-task", "hang",
         r"^INFO: task (?:(?P<comm>.+?):(?P<pid>\d+) blocked(?: in I/O wait)? for more than \d+"
         r" seconds|[^:]*$)",
         "INFO: task hung in {frame}", "hung", skip=HUNG_SKIP, needle="INFO: task "),
    Kind("task-cant-die", "hang", r"^INFO: task (?P<comm>.+?):(?P<pid>\d+) can't die for more than",
         "INFO: task can't die in {frame}", needle="INFO: task "),
    Kind("soft-lockup", "hang", r"^(?:(?:NMI )?watchdog: )?BUG: soft lockup - CPU#\d+ stuck for",
         "BUG: soft lockup in {frame}", "lockup", needle="BUG"),
    # watchdog_hardlockup_check(): "CPU%u: Watchdog detected hard LOCKUP on
    # cpu %u" (6.x), "NMI watchdog: Watchdog detected ..." before
    Kind("hard-lockup", "hang",
         r"^(?:NMI watchdog: |CPU\d+: )?Watchdog detected hard LOCKUP on cpu \d+",
         "BUG: hard lockup in {frame}", needle="LOCKUP"),
    Kind("rcu-stall", "hang",
         r"^(?:rcu: )?INFO: rcu_\w+ (?:self-)?detected (?:expedited )?stalls? on",
         "INFO: rcu detected stall in {frame}", "stall", skip=r"rcu_\w+|_*handle_irq\w*",
         absorbs=("cut", "warning"), needle="INFO: rcu"),
    Kind("workqueue-lockup", "hang", r"^BUG: workqueue lockup - pool",
         "BUG: workqueue lockup", "none", needs_frame=False, needle="BUG"),
    Kind("netdev-refcount", "hang", r"^unregister_netdevice: waiting for \S+ to become free",
         "unregister_netdevice: waiting for DEV to become free", "none", needs_frame=False),
    # memory faults
    Kind("null-deref", "memory",
         r"^(?:BUG: (?:unable to handle )?kernel NULL pointer dereference"
         r"|Unable to handle kernel NULL pointer dereference)",
         "BUG: unable to handle kernel NULL pointer dereference in {frame}", absorbs=DIE,
         needle="BUG|nable to handle kernel"),
    Kind("paging", "memory",
         r"^(?:BUG: unable to handle (?:kernel paging request|page fault)"
         r"|(?:BUG: )?Unable to handle kernel (?:paging request|data access))",
         "BUG: unable to handle kernel paging request in {frame}", absorbs=DIE,
         needle="BUG|nable to handle kernel"),
    Kind("user-access", "memory", r"^(?:BUG: u|U)nable to handle kernel access to user memory",
         "BUG: unable to handle kernel access to user memory in {frame}", absorbs=DIE,
         needle="nable to handle kernel"),
    # the second half of the fault header (printed apart) never came
    Kind("fault-cut", "memory", r"^BUG: unable to handle kernel\s*(?:\[\s*\d+\.\d+\].*)?$",
         "BUG: unable to handle kernel", "none", absorbs=DIE, needs_frame=False, lost="",
         needle="BUG"),
    Kind("gpf", "memory", OOPS + r"general protection fault",
         "general protection fault in {frame}", absorbs=("oops", "cut"),
         needle="general protection fault"),
    Kind("divide-error", "memory", OOPS + r"divide[ _]error: [0-9a-f]+ \[#\d+\]",
         "divide error in {frame}", needle=" [#"),
    Kind("stack-segment", "memory", OOPS + r"stack segment: [0-9a-f]+ \[#\d+\]",
         "stack segment fault in {frame}", needle=" [#"),
    Kind("int3", "memory", OOPS + r"int3: [0-9a-f]+ \[#\d+\]", "int3 in {frame}", needle=" [#"),
    Kind("double-fault", "memory", r"^PANIC: double fault", "PANIC: double fault in {frame}",
         absorbs=("oops",), needle="fault"),  # one scan for every "...fault" header
    Kind("stack-guard", "memory", r"^BUG: (?:\w+ )?stack guard page was hit",
         "BUG: stack guard page was hit in {frame}", "lockup", absorbs=DIE, needle="BUG"),
    Kind("arm-unhandled-fault", "memory", r"^Unhandled fault:", "Unhandled fault in {frame}",
         absorbs=DIE),
    Kind("arm-alignment", "memory", r"^Alignment trap:", "Alignment trap in {frame}",
         absorbs=DIE),
    Kind("bad-page-state", "memory", r"^BUG: Bad page state in process",
         "BUG: Bad page state in {frame}", "section", section=r"^page last allocated via",
         needle="BUG"),
    Kind("bad-page-map", "memory", r"^BUG: (?P<what>Bad page map|Bad rss-counter state)",
         "BUG: {what}", "none", needs_frame=False, needle="BUG"),
    Kind("usercopy", "memory", r"^usercopy: Kernel memory (?:exposure|overwrite) attempt",
         "BUG: bad usercopy in {frame}", absorbs=("cut", "bug-at", "invalid-opcode", "oops"),
         needle="usercopy: "),
    Kind("list-corruption", "memory", r"^list_(?:add|del) corruption",
         "BUG: corrupted list in {frame}", needle="corruption",
         absorbs=("cut", "bug-at", "invalid-opcode", "oops", "warning")),
    Kind("file-count", "memory", r"^VFS: Close: file count is (?:zero|0)",
         "VFS: Close: file count is zero (use-after-free)", "none", needs_frame=False),
    Kind("dentry-in-use", "memory", r"^BUG: Dentry \S+ +still in use \(\d+\) \[unmount of",
         "BUG: Dentry still in use in unmount", "none", absorbs=("cut", "warning"),
         needs_frame=False, needle="BUG"),
    Kind("slab-double-free", "memory", r"^BUG [\w-]+ \([^)]*\): (?P<what>Object already free)",
         "BUG: {what}", "none", absorbs=("slab-free",), needs_frame=False, needle="BUG"),
    Kind("slab-free", "memory", r"^INFO: (?P<what>Freed|Allocated) in (?P<fn>[\w.]+)\+0x\S+"
         r" (?P<rest>age=\d+ cpu=\d+ pid=\d+)", "INFO: {what} in {frame} {rest_n}", "header",
         lost="", needle="INFO: "),      # the tail of an old SLUB/KASAN report
    # bugs, warnings, panics
    Kind("bug-at", "bug", r"^kernel BUG at (?P<file>\S+?):(?P<lineno>\d+)!",
         "kernel BUG in {frame}", absorbs=("invalid-opcode", "oops", "internal-error"),
         needle="BUG",
         variants=(("file", r"mm/usercopy\.c", "BUG: bad usercopy in {frame}"),
                   ("file", r"lib/list_debug\.c", "BUG: corrupted list in {frame}"))),
    Kind("warning", "bug",
         # __warn(): "CPU: %d PID: %d at %pS" (up to 6.x), "%s:%d at %pS, CPU#%d:"
         # (7.x), "at %pS, CPU#%d:" (7.x, no file)
         r"^WARNING: (?:CPU: \d+ PID: -?\d+ at (?P<file>\S+) (?:(?P<fn>[\w.]+)\+0x)?"
         r"|(?:\[.*\] )?(?P<file2>\S+:\d+) at |at [\w.]+\+0x[0-9a-f]+/0x[0-9a-f]+, CPU#)",
         "WARNING in {frame}", needle="WARNING",
         # A flavour is the file that warned; the frames of its skip are the
         # callers that warn on someone else's behalf (syzkaller's rules)
         variants=(
             # lockdep's own WARN_ONs: the socket lock wrappers take the lock
             # for their caller
             ("file", r"kernel/locking/lockdep\.c", "WARNING: locking bug in {frame}",
              words("lock_sock", "release_sock")),
             # refcount_warn_saturate() warns for whoever dropped the count:
             # the refcount helpers and the kobject/kref puts built on them
             ("file", r"lib/refcount\.c", "WARNING: refcount bug in {frame}",
              words("refcount", "kobject_")),
             # debugobjects checks an object when its user (timers, work items,
             # RCU heads, hrtimers, percpu counters, kobjects) or the allocator
             # freeing it asks: those users are the reporting machinery
             ("file", r"lib/debugobjects\.c", "WARNING: ODEBUG bug in {frame}",
              words("debug_", "rcu", "hrtimer_", "timer_", "work_", "percpu_", "kmem_",
                    "slab_", "kfree", "vunmap", "vfree", "__free_", "kobject_")),
             # the hardened-usercopy checks run inside copy_{to,from}_user
             ("file", r"mm/usercopy\.c", "WARNING: bad usercopy in {frame}",
              words("usercopy", "__check")),
             ("file", r"lib/kobject\.c", "WARNING: kobject bug in {frame}", words("kobject_")),
             ("file", r"fs/proc/generic\.c", "WARNING: proc registration bug in {frame}",
              words("proc_")),
             # the allocator's size/flag checks: every allocator entry point
             ("file", r"mm/(?:slab_common|util)\.c", "WARNING: kmalloc bug in {frame}",
              words("kmalloc", "kcalloc", "kzalloc", "krealloc", "vmalloc", "slab", "kmem")),
             ("file", r"mm/vmalloc\.c", "WARNING: zero-size vmalloc in {frame}",
              words("vmalloc", "kvmalloc")),
             # usb_submit_urb() checks the URB for the driver; the synchronous
             # message helpers submit it for theirs
             ("file", r"drivers/usb/core/urb\.c", "WARNING in {frame}/usb_submit_urb",
              words("usb_submit_urb", "usb_start_wait_urb", "usb_bulk_msg",
                    "usb_interrupt_msg", "usb_control_msg")))),
    Kind("stack-regs", "bug", r"^WARNING: kernel stack (?:regs|frame pointer) at .* has bad",
         "WARNING: kernel stack regs has bad value", "none", needs_frame=False,
         needle="WARNING"),
    Kind("invalid-opcode", "bug", OOPS + r"invalid opcode: [0-9a-f]+",
         "invalid opcode in {frame}", needle=" [#"),
    Kind("internal-error", "bug", r"^Internal error: (?P<what>.*) \[#\d+\]",
         "Internal error in {frame}", needle=" [#"),
    Kind("oops", "bug", r"^Oops(?:: [0-9a-f]+)? \[#\d+\]", "Oops in {frame}", needle=" [#"),
    Kind("oom", "oom", r"^(?P<comm>\S+) invoked oom-killer:", "out of memory in {frame}",
         skip=r"out_of_memory|oom_\w+|dump_header|_*alloc_pages\w*|alloc_pages\w*|"
              r"_*page_cache_alloc|pagecache_get_page|_*kmalloc\w*|kmem_cache_alloc\w*|"
              r"__get_free_pages|get_page_from_freelist|__folio_alloc\w*",
         needle=" invoked oom-killer:"),
    Kind("panic-stack-protector", "bug",
         PANIC + r"stack-protector: Kernel stack is corrupted in: (?:" + FUNC + r"\+0x)?",
         "kernel panic: stack is corrupted in {frame}", "header stack", weak=True,
         skip=words("stack_chk"), needle="panic"),     # __stack_chk_fail panics for its caller
    Kind("panic-stack-end", "bug", PANIC + r"corrupted stack end detected",
         "kernel panic: corrupted stack end in {frame}", "lockup", weak=True, needle="panic"),
    Kind("panic-stack-overflow", "bug", PANIC + r"kernel stack overflow",
         "kernel stack overflow in {frame}", "lockup", weak=True, needle="panic",
         skip=r"\w*bad_stack\w*"),
    Kind("panic", "bug",
         PANIC + r"(?P<reason>.*?)(?: exitcode=.*| for \S+ --- .*|\.*)\s*(?:\]---)?$",
         "kernel panic: {reason_n}", "none", needs_frame=False, weak=True, needle="panic",
         # the panics that end a report (a die(), a WARNING under
         # panic_on_warn, a hung task under hung_task_panic): seen alone,
         # the report they end was lost
         lost=r"Fatal exception|panic_on_warn set|hung_task: blocked tasks"),
    # Trusty (the secure OS under Android) panics through lk's panic():
    # "panic (caller %p): " and its message; an ASSERT is "ASSERT FAILED at
    # (file:line): expr", titled by the expression
    Kind("trusty-panic", "trusty",
         r"^trusty: panic \(caller .*?\): (?:(?:DEBUG )?ASSERT FAILED at \([^)]*\): "
         r"(?P<expr>.*)|(?P<msg>.*))",
         "trusty: panic: {msg_n}", "none", needs_frame=False, needle="trusty: panic",
         variants=(("expr", r".", "trusty: ASSERT FAILED: {expr}"),)),
    # the Go runtime's throw() ("fatal error: ..." and a goroutine dump) of a
    # fuzzer or agent in the guest; one title for all, as syzkaller has it
    # (ALSA's "fatal error" messages are the kernel's, not Go's)
    Kind("go-runtime", "userspace", r"^fatal error: (?!cannot create timer)(?!.*ALSA)",
         "go runtime error", "none", needs_frame=False, needle="fatal error: "),
    # syzkaller's own failures (the executor's fail(), log.Fatal): titled, as
    # syzkaller titles them, by the line's text; one line, no stack
    Kind("syzfail", "syzkaller", r"^(?P<what>SYZFAIL|SYZFATAL): ?(?P<msg>.*)",
         "{what}: {msg}", "none", needs_frame=False, needle="SYZFA"),  # one pass for both
    # any other "BUG: ..." line the kernel prints (mm/, kernel/fork.c,
    # kernel/sched/, ...: "BUG: non-zero pgtables_bytes on freeing mm: %ld")
    # is a bug too; with no row of its own it is titled by its text, numbers
    # as NUM, as syzkaller titles a report no format matches
    Kind("bug-other", "bug", r"^BUG: (?P<what>\S.*)", "BUG: {what_n}", "none",
         needs_frame=False, needle="BUG"),
    # information, not a bug: the harness's own sysrq-w dump of blocked tasks
    Kind("blocked-tasks", "info", r"^sysrq: Show Blocked State", "task blocked in {frame}",
         is_bug=False),
    # "cut here" opens the WARNING/BUG that follows; never a report itself
    Kind("cut", "noise", r"^-+\[ cut here \]-+", "", "none", is_bug=False, needs_frame=False,
         needle="[ cut here ]"),
)
# literals that a start line must contain: str.find over a whole log runs at
# memory speed, so only lines holding one reach the regexes
_LITERALS = {n for k in KINDS for n in k.literals}
NEEDLES = sorted(n for n in _LITERALS if not any(o != n and o in n for o in _LITERALS))
# one regex that tells whether a line starts any kind of report
ANY_START = re.compile(
    r"^(?:<\d+>)?(?:\[[ \t]*\d+\.\d+\])?(?:\[[ \t]*[TC]\d+\])?[ \t]?(?:"
    + "|".join("(?:" + re.sub(r"\(\?P<\w+>", "(?:", k.start.lstrip("^")).replace("|^", "|")
               + ")" for k in KINDS) + ")", re.M)


def match_start(text: str) -> tuple[Kind, re.Match] | None:
    if not ANY_START.match(text):           # one regex screens out most lines
        return None
    for k in KINDS:
        m = k.start_re.match(text)
        if m:
            return k, m
    return None


# ---------------------------------------------------------------- findings

@dataclass
class Finding:
    kind: str
    category: str
    title: str
    frame: str | None
    corrupted: bool
    first_line: int
    last_line: int
    report: str
    is_bug: bool = True
    count: int = 1
    first_ts: float | None = None
    reason: str = ""        # why the title cannot be exact ("" when it is, as far as
                            # the parser knows): a cut report, a stack of machinery, ...

    def to_json(self) -> dict:
        return {"kind": self.kind, "category": self.category, "title": self.title,
                "frame": self.frame, "corrupted": self.corrupted, "reason": self.reason,
                "count": self.count,
                "first_line": self.first_line, "last_line": self.last_line,
                "is_bug": self.is_bug, "first_ts": self.first_ts, "report": self.report}


@dataclass
class _Open:
    kind: Kind
    match: re.Match
    lines: list[Line] = field(default_factory=list)
    start: int = 0                  # index in lines of the line that set kind
    borrowed: list[Line] = field(default_factory=list)  # the stack of the report that cut it


def _one_line(kind: Kind) -> bool:
    """A one-line report (a workqueue lockup, a netdev refcount wait): it
    interleaves with other reports and never cuts them."""
    return kind.is_bug and kind.frame == "none" and not kind.absorbs and not kind.weak


def _has_frames(rep: _Open) -> bool:
    return any(frame_of(ln.text) for ln in rep.lines[rep.start + 1:])


def _section_frame(lines: list[Line], rx: re.Pattern, skip: re.Pattern | None) -> str | None:
    for i, ln in enumerate(lines):
        if rx.match(ln.text.strip()):
            for nxt in lines[i + 1:]:
                fr = frame_of(nxt.text)
                if fr is None:
                    if nxt.text.strip() in ("", "..."):
                        continue
                    break
                if fr[1] and not _skipped(fr[0], skip):
                    return fr[0]
    return None


def _at_frame(lines: list[Line], until: re.Pattern, skip: re.Pattern | None,
              machinery: bool = False) -> str | None:
    """The first function of lockdep's "..., at: FUNC" lines (or of the line
    after one that ends in "at:") before `until`."""
    for i, ln in enumerate(lines):
        text = ln.text.strip()
        if until.match(text):
            break
        m = AT_RE.search(text)
        if m is None and text.endswith(" at:") and i + 1 < len(lines):
            m = FRAME_RE.match(lines[i + 1].text)
        if m and (machinery or not _skipped(normalize_fn(m.group("fn")), skip)):
            return normalize_fn(m.group("fn"))
    return None


def _main_stack(kind: Kind, body: list[Line], borrowed: list[Line]) -> list[Line]:
    """The report's own stack: from its `stack_after` line if it has one, up
    to the first foreign section; else the stack it borrowed."""
    if kind.stack_after:
        rx = _compiled(kind.stack_after)
        at = next((i for i, ln in enumerate(body) if rx.match(ln.text.strip())), None)
        body = body[at + 1:] if at is not None else []
    out = []
    for ln in body:
        if STOP_RE.match(ln.text.strip()):
            break
        out.append(ln)
    if borrowed and not any(frame_of(ln.text) for ln in out):
        out = [ln for ln in borrowed]
    return out


def _find_frame(kind: Kind, values: dict, body: list[Line], borrowed: list[Line],
                extra: str | None = None) -> str | None:
    skips = "|".join(s for s in (kind.skip, extra) if s)
    skip = _compiled(f"^(?:{skips})$") if skips else None
    for how in kind.frame.split():
        fn = None
        if how == "header" and values.get("fn"):
            fn = normalize_fn(values["fn"])
            fn = None if _skipped(fn, skip) else fn
        elif how == "field" and values.get("fn"):
            fn = normalize_fn(values["fn"])
        elif how == "at":
            fn = _at_frame(body, _compiled(kind.at_until), skip)
        elif how == "lock":     # the last resort: where the lock was taken, even in machinery
            fn = _at_frame(body, _compiled(kind.at_until), _compiled(r"^$"), machinery=True)
        elif how == "section" and kind.section:
            fn = _section_frame(body, _compiled(kind.section), skip)
        elif how == "stack":
            fn = guilty_frame(_main_stack(kind, body, borrowed), skip)
        elif how == "hung":
            stack = _main_stack(kind, body, borrowed)
            fn = hung_anchor(stack) or guilty_frame(stack, skip)
        elif how in ("stall", "lockup"):
            fn = stall_frame(body, skip, how == "stall")
        if fn:
            return fn
    return None


# why a title cannot be exact (Finding.reason; empty when it is, as far as
# the parser knows)
CUT_OFF = "report cut off before its stack"
ONLY_MACHINERY = "no frame outside machinery in the report's stack"
NO_HEADER_FN = "the header names no function"
NO_FIELD_FN = "the report names no function"
INTERLEAVED_DUMP = "another task's stack dump runs through the report's stack"
NO_IRQ = "the stall's stack shows no interrupted context"


def _no_frame_reason(kind: Kind, values: dict, body: list[Line], borrowed: list[Line]) -> str:
    """Why `_find_frame` found no frame: the first strategy's story, told
    from what the report holds."""
    hows = kind.frame.split()
    if hows[0] == "header" and not values.get("fn"):
        return NO_HEADER_FN
    if hows == ["header"]:
        return ONLY_MACHINERY
    if hows == ["field"]:
        return NO_FIELD_FN
    stack = _main_stack(kind, body, borrowed) if "stack" in hows else body + list(borrowed)
    frames = [fr for ln in stack if (fr := frame_of(ln.text))]
    if any(INTERLEAVED.search(ln.text) for ln in stack) \
            or any(FAULT_INJECTION.match(fn) for fn, _ in frames):
        return INTERLEAVED_DUMP
    if not frames:
        return CUT_OFF
    if any(h in ("stall",) for h in hows) and not any(
            ln.text.strip() in ("</IRQ>", "<EOI>") or IRQ_ENTRY.match(fr[0])
            for ln in stack if (fr := frame_of(ln.text) or ("", True))):
        return NO_IRQ
    return ONLY_MACHINERY


NO_STACK = "no stack trace in the report"
LOST_HEADER = "the report is a fragment: the part that names it is lost"
STACK_CUT = "the report's stack is cut off"
# the lines a stack follows: dump_stack()'s "Call Trace:" (arm64: "Call
# trace:"), a sanitizer's allocation and free stacks, kmemleak's and arm32's
# "backtrace:" (lockdep's "stack backtrace:" is followed by a Call Trace)
STACK_KEY = re.compile(r"Call [Tt]race|Allocated by task \d+:|Freed by task \d+:"
                       r"|(?<!stack )[Bb]acktrace:")


def _needs_stack(kind: Kind) -> bool:
    return any(h in ("stack", "stall", "lockup", "section", "hung") for h in kind.frame.split())


def _stack_line(text: str) -> bool:
    return bool(FRAME_RE.match(text) or ARM_FRAME_RE.match(text)) and not RIP_RE.match(text.strip())


def _stack_missing(lines: list[Line]) -> str:
    """Why a report that prints a stack is not whole (syzkaller's rule): it
    shows no stack at all (a RIP line is not one), or the first line of a
    kind that a stack follows ("Call Trace:", "Allocated by task N:", ...)
    has no frame in the 15 lines after it."""
    texts = [ln.text for ln in lines]
    keys = [i for i, t in enumerate(texts) if STACK_KEY.search(t)]
    if not keys:
        return "" if any(_stack_line(t) for t in texts) else NO_STACK
    firsts: dict[str, int] = {}
    for i in keys:
        firsts.setdefault(STACK_KEY.search(texts[i]).group(0).lower(), i)
    for i in firsts.values():
        after = texts[i + 1:i + 16]
        if len(after) < 2:
            return STACK_CUT
        for t in after:
            if STACK_KEY.search(t):
                return STACK_CUT        # the next stack starts before a frame
            if "(stack is not available)" in t or "<Same stack as" in t or frame_of(t):
                break
        else:
            return STACK_CUT
    return ""


def _finish(rep: _Open) -> Finding:
    kind, lines = rep.kind, rep.lines
    values = {k: (v or "").strip() for k, v in rep.match.groupdict().items()}
    values["pair"] = f" / {values['other']}" if values.get("other") else ""
    body = lines[rep.start + 1:]
    cut = None
    if lines[0].caller is None:
        # without caller tags nothing tells this report's lines from those
        # of a task that dumps its own stack (an allocation failure, an
        # injected fault) in the middle of it: the report ends there
        cut = next((i for i, ln in enumerate(body) if INTERLEAVED.search(ln.text)), None)
        if cut is not None:
            body = body[:cut]
    for name, rx in kind.fields:
        values[name] = next((m.group(1) or "" for ln in body
                             if (m := _compiled(rx).match(ln.text.strip()))), "")
    if values.get("access"):
        values["access"] = " " + values["access"]
    if values.get("file2") and not values.get("file"):
        values["file"] = values["file2"]
    for name, value in list(values.items()):
        values[name + "_n"] = NUMBER_RE.sub("NUM", value)
        values[name + "_slug"] = re.sub(r"\s+", "-", value.lower())
    variant = next((v for v in kind.variants
                    if _compiled(v[1]).search("|".join(values.get(g) or ""
                                                       for g in v[0].split(",")))), None)
    template = variant[2] if variant else kind.title
    extra = variant[3] if variant and len(variant) > 3 else None
    frame = (None if kind.frame == "none"
             else _find_frame(kind, values, body, rep.borrowed, extra))
    corrupted = kind.needs_frame and frame is None
    reason = ("" if not corrupted else INTERLEAVED_DUMP if cut is not None
              else _no_frame_reason(kind, values, body, rep.borrowed))
    values["frame"] = title_fn(frame) if frame else "corrupted"
    if frame is None and kind.unnamed:
        template = kind.unnamed
        values["header"] = lines[rep.start].text.strip().strip("[] ")
    try:
        title = template.format(**values)
    except (KeyError, IndexError, ValueError):
        title = kind.title
    title = " ".join(title.split())
    if kind.lost is not None and not corrupted and _compiled(kind.lost).search(title):
        corrupted, reason = True, LOST_HEADER
    if not corrupted and frame is not None and _needs_stack(kind):
        # named, but from a report whose stack is missing or empty: the
        # title may be right, the report is not whole (syzkaller's rule)
        reason = _stack_missing(body + list(rep.borrowed))
        corrupted = bool(reason)
    return Finding(kind.name, kind.category, title, frame, corrupted,
                   lines[0].no, lines[-1].no,
                   "\n".join((f"[{ln.ts:12.6f}] " if ln.ts is not None else "") + ln.text
                             for ln in lines),
                   kind.is_bug, 1, lines[0].ts, reason)


class Parser:
    """Line-at-a-time report finder.  Reports from different callers
    (CONFIG_PRINTK_CALLER tags) are followed separately, so interleaved
    reports from several CPUs do not mix."""

    def __init__(self) -> None:
        self.open: dict[str | None, _Open] = {}
        # lockdep reports (their stack comes last) cut short by another kind
        # of report from the same caller: the same task hit both, so the
        # stack that follows is theirs too
        self.waiting: dict[str | None, _Open] = {}
        self.findings: list[Finding] = []
        self._by_sig: dict[tuple[str, str], Finding] = {}
        self.lines_seen = 0

    # -- state machine
    def feed(self, raw: str, no: int | None = None) -> Finding | None:
        """Feed one console line; returns the kind of a bug report that
        *starts* on this line (the live monitor acts on that), else None."""
        return self._feed(raw, no)

    def _feed(self, raw: str, no: int | None) -> Finding | None:
        self.lines_seen += 1
        line = split_line(no if no is not None else self.lines_seen, raw)
        text = line.text.strip()
        if text.startswith(MARKER):
            for key in list(self.open):
                self._close(key)
            for key in list(self.waiting):
                self._settle(key)
            return None
        for k in [k for k, r in self.open.items() if line.no - r.lines[-1].no > IDLE_LINES]:
            self._close(k)
        started = match_start(text)
        if started is None and "[" in text:
            # a report that starts after other output on the same line
            m = EMBEDDED_TS.search(text)
            if m and (started := match_start(text[m.end():])):
                line = Line(line.no, float(m.group("ts")), m.group("caller") or line.caller,
                            text[m.end():])
                text = line.text
        key = line.caller
        cur = self.open.get(key)
        if started:
            kind, m = started
            if cur and (kind.name in cur.kind.absorbs or cur.kind.name == "cut"
                        or (kind.weak and cur.kind.is_bug)):
                if cur.kind.name == "cut":           # cut here + WARNING/BUG
                    cur.kind, cur.match, cur.start = kind, m, len(cur.lines)
                cur.lines.append(line)
                return None
            if cur and _one_line(kind) and cur.kind.is_bug:
                self._record(_finish(_Open(kind, m, [line])))
                return Finding(kind.name, kind.category, kind.title, None, False,
                               line.no, line.no, text, True, 1, line.ts)
            if cur and (cur.kind.is_bug and cur.kind.stack_after and cur.kind is not kind
                        and not _has_frames(cur)):
                self._settle(key)
                self.waiting[key] = self.open.pop(key)
            elif cur:
                self._close(key)
            self.open[key] = _Open(kind, m, [line])
            if kind.is_bug:
                return Finding(kind.name, kind.category, kind.title, None, False,
                               line.no, line.no, text, True, 1, line.ts)
            return None
        if cur is None:
            return None
        cur.lines.append(line)
        if END_RE.match(text) or len(cur.lines) >= MAX_REPORT_LINES:
            self._close(key)
        return None

    def _close(self, key) -> None:
        rep = self.open.pop(key, None)
        if rep is not None and rep.kind.name != "cut":
            self._record(_finish(rep))
        self._settle(key, rep.lines if rep is not None else [])

    def _settle(self, key, borrowed: list[Line] = ()) -> None:
        rep = self.waiting.pop(key, None)
        if rep is not None:
            rep.borrowed = list(borrowed)
            self._record(_finish(rep))

    def _record(self, f: Finding) -> None:
        sig = (f.kind, f.title)
        if sig in self._by_sig:
            self._by_sig[sig].count += 1
            return
        self._by_sig[sig] = f
        self.findings.append(f)

    def finish(self) -> list[Finding]:
        for key in list(self.open):
            self._close(key)
        for key in list(self.waiting):
            self._settle(key)
        self.findings.sort(key=lambda f: f.first_line)
        return self.findings


def parse(text: str) -> list[Finding]:
    """All distinct reports in a whole console log, in order of appearance."""
    return _parse(text)


def _parse(text: str) -> list[Finding]:
    if "\x1b" in text or "\r" in text or "\x00" in text:
        text = clean(text)
    hits = set()
    for needle in NEEDLES:
        i = text.find(needle)
        while i != -1:
            hits.add(text.rfind("\n", 0, i) + 1)       # where its line starts
            i = text.find(needle, i + 1)
    if not hits:
        return []
    p = Parser()
    # feed each candidate line, and every line after it while a report is open;
    # line numbers come from counting newlines, not from splitting the log
    pos, no = 0, 1
    for s in sorted(hits):
        if s < pos:
            continue
        no += text.count("\n", pos, s)
        pos = s
        first = True
        while pos < len(text) and (first or p.open):
            first = False
            end = text.find("\n", pos)
            if end == -1:
                end = len(text)
            p.feed(text[pos:end], no)
            pos, no = end + 1, no + 1
    return p.finish()


def bugs(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.is_bug]
