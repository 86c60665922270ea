"""The table of report kinds: one row a kind of report the kernel prints
(how it starts, how its title is built, which frame strategies name it,
what it absorbs), and the fast matcher of their start lines."""
from __future__ import annotations

import re
from dataclasses import dataclass

from harness.kernel_reports.frames import HUNG_SKIP


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
    def strategies(self) -> tuple[str, ...]:
        """The frame strategies this row names, in order (parser.STRATEGIES)."""
        return tuple(self.frame.split())

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
