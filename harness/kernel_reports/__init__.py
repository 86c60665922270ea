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

The package, one job a file: `console` (line cleaning, shared patterns),
`frames` (machinery and frame rules), `kinds` (the KINDS table), `parser`
(findings, frame strategies, the parser).  This file hands their public
names on.
"""
from harness.kernel_reports.console import (MARKER, Line, Untangler, clean, read_log,
                                            split_line, untangle)
from harness.kernel_reports.frames import (MACHINERY, SKIP_FRAMES, demangle,
                                           frame_of, guilty_frame, why_machinery)
from harness.kernel_reports.kinds import KINDS, Kind, match_start
from harness.kernel_reports.parser import (CUT_OFF, INTERLEAVED_DUMP, LOST_HEADER,
                                           NO_FIELD_FN, NO_HEADER_FN, NO_IRQ, NO_STACK,
                                           ONLY_MACHINERY, STACK_CUT, STRATEGIES, Finding,
                                           Parser, bugs, parse)

__all__ = ["MARKER", "Line", "Untangler", "clean", "read_log", "split_line", "untangle", "MACHINERY", "SKIP_FRAMES",
           "demangle", "frame_of", "guilty_frame", "why_machinery", "KINDS", "Kind",
           "match_start", "CUT_OFF", "INTERLEAVED_DUMP", "LOST_HEADER", "NO_FIELD_FN",
           "NO_HEADER_FN", "NO_IRQ", "NO_STACK", "ONLY_MACHINERY", "STACK_CUT", "STRATEGIES",
           "Finding", "Parser", "bugs", "parse"]
