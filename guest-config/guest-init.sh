#!/bin/sh
# PID 1 of a harness guest.  The root file system is a directory the harness
# made (harness/guestroot.py: tools, this folder as /harness/config, the
# workloads), mounted read-only over virtio-9p or unpacked from an initramfs
# (a line's [guest] root); nothing else of the host is visible.  Scratch
# space is a tmpfs on /run.  The kernel passes HARNESS_* settings from its
# command line as environment.  The plan is on the first
# disk, /dev/vda (text, NUL-padded), one cell a line:
#
#     NAME|DEVICE|MOUNT_OPTIONS|COMMAND ARGS...
#
# DEVICE is where the cell's fresh btrfs lives:
#     /dev/vdX        a fresh btrfs image the host made (one per cell, from vdb;
#                     /dev/scsiN for a disk on virtio-scsi, made below)
#     ram             /dev/ram0 (brd), with a fresh btrfs made here: every bio
#                     completes inside submit_bio, so AIO completions (and
#                     their O_DSYNC sync) run in the submitter
#     delay:/dev/vdX  the host's image under dm-delay (100 ms per write,
#                     10 ms per flush): AIO completions run in the dio worker,
#                     even when the host preempts the submitting vCPU between
#                     its submit_bio and the end of its ->write_iter (10 ms
#                     was not enough beside two busy host tasks: 2 of 12
#                     async cells had one inline completion; kernel argument
#                     HARNESS_DELAY_MS=N sets it: benchmarks/bench_async_load.py)
#     none            the command mounts what it needs itself
#
# Every cell is enclosed in "@@harness kcell-start NAME" and "@@harness
# kcell-end NAME" written through /dev/kmsg, so the kernel orders them with
# its own reports: kcell-end only once the kernel has been quiet for 200 ms
# (at most 3 s), so a report the cell set off in a worker is logged inside
# it.  The host charges every report to the cell whose kernel markers
# enclose it (the last kcell-start before it).
# For every cell it prints "@@harness cell-start NAME", the command's
# output, kernel-side evidence of the path taken ("@@harness evidence ...",
# from tracefs: see guest-config/kconfig/50-evidence.config), the kernel's
# taint mask before and after ("@@harness taint before=N after=M"), and
# "@@harness cell-end NAME rc=N".  The host reads lines starting with
# "@@harness" as events; everything else is the kernel's console.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/run TMPDIR=/run LANG=C PYTHONDONTWRITEBYTECODE=1 PYTHONHASHSEED=0

mark() { echo "@@harness $*"; }
# a marker through /dev/kmsg, in the kernel's own order (guest-config/kmark.c:
# the tty drained first; QUIET_MS of kernel silence waited for, MAX_MS at most)
kmark() {
    q=$1 m=$2; shift 2
    /harness/bin/kmark "$q" "$m" "$@" || mark error "kmark $*: no kernel marker"
}
finish() {
    mark done rc=$1
    sync
    # reboot=t + QEMU -no-reboot: a reboot ends the VM without ACPI
    echo b > /proc/sysrq-trigger
    sleep 5
}

# devtmpfs is on /dev already over 9p (CONFIG_DEVTMPFS_MOUNT), not in an
# initramfs (only /dev/console is); /proc first (mount -a reads it), then one
# exec for the rest, then a check of each with builtins
[ -e /dev/null ] || mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc 2>/dev/null
mount -a -T "${0%/*}/guest-fstab" 2>/dev/null
[ -e /proc/self ] || mount -t proc proc /proc
[ -d /sys/kernel ] || mount -t sysfs sysfs /sys
{ : > /run/.rw; } 2>/dev/null || mount -t tmpfs tmpfs /run
echo 1 > /proc/sys/kernel/sysrq
[ -n "$HARNESS_HUNG" ] && echo "$HARNESS_HUNG" > /proc/sys/kernel/hung_task_timeout_secs
read -r uptime _ < /proc/uptime
set -- /sys/devices/system/cpu/cpu[0-9]*
mark booted uptime=$uptime cpus=$#

[ "$HARNESS_WORKLOAD" = probe ] && finish 0

# ------------------------------------------------------------------ evidence
T=/sys/kernel/tracing
EVIDENCE="" EVIDENCE_WHY="not set up"
# why there is no evidence, printed again in every cell (a cell's evidence
# is read from its own lines)
no_evidence() { EVIDENCE_WHY="$*"; mark evidence unavailable "$*"; }
evidence_setup() {
    [ -e $T/kprobe_events ] || mount -t tracefs nodev $T 2>/dev/null
    if [ ! -w $T/kprobe_events ]; then
        no_evidence no tracefs kprobe_events
        return
    fi
    echo 8192 > $T/buffer_size_kb
    # events in the order they happened, on every CPU: the reader leaves out
    # what lies before a workload's "measured" mark, and a timestamp clock
    # can sort an event on the other CPU just after the mark before it (the
    # per-CPU clock: 5.10 cut-extend saw 23 of 24 io_uring ordered extents;
    # "global" clamps a lagging CPU to the last stamp, a tie: overwrite-race
    # saw 50 of 51).  "counter" is one atomic count: a strict order
    echo counter > $T/trace_clock
    # the task names of the trace lines ("<...>" once this table overflows)
    echo 1024 > $T/saved_cmdlines_size 2>/dev/null
    # where each direct IO completion, and each O_DSYNC sync, runs: the
    # submitting task, or a worker
    for fn in iomap_dio_complete btrfs_sync_file; do
        if ! echo "p:kdsync/$fn $fn comm=\$comm" >> $T/kprobe_events 2>/run/kprobe.err; then
            no_evidence kprobe $fn: $(cat /run/kprobe.err)
            return
        fi
    done
    # the ordered extents btrfs creates: flag DIRECT for direct IO
    ev=$T/events/btrfs/btrfs_ordered_extent_add
    if [ ! -d $ev ]; then
        no_evidence no btrfs_ordered_extent_add tracepoint
        return
    fi
    # a writeback error an fsync reports (file_check_and_advance_wb_err(),
    # which btrfs_sync_file() calls at its end, on every exit): "new=" is the
    # file's errseq after the check, the errno in its low 12 bits.  It fires
    # only when the file's mapping has a new error, so no self-test provokes
    # it; a row that claims it (wb-error) is UNPROVEN when it never fires
    wb=$T/events/filemap/file_check_and_advance_wb_err
    if [ ! -d $wb ]; then
        no_evidence no file_check_and_advance_wb_err tracepoint
        return
    fi
    echo 0 > $T/tracing_on
    echo 1 > $T/events/kdsync/enable
    echo 1 > $ev/enable
    echo 1 > $wb/enable
    for e in $T/events/kdsync/iomap_dio_complete $T/events/kdsync/btrfs_sync_file $ev $wb; do
        read -r on < $e/enable
        [ "$on" = 1 ] || { no_evidence event ${e##*/} not enabled; return; }
    done
    evidence_selftest && EVIDENCE=1
}
# every probe must see an event the harness provokes before it may count
# anything: a 64 KiB direct write to a NOCOW file (a direct ordered extent of
# the fs tree, a direct completion) and its fsync, on a btrfs on /dev/ram0
# (a ram cell makes its own again).  HARNESS_SELFTEST_SKIP=fsync leaves the
# fsync out: the test of a dead probe.
evidence_selftest() {
    mkfs.btrfs -q -f /dev/ram0 > /run/mkfs.out 2>&1 && mount -t btrfs /dev/ram0 /mnt ||
        { no_evidence probe self-test: no btrfs on /dev/ram0; return 1; }
    touch /mnt/selftest && chattr +C /mnt/selftest
    fsync="-c fsync"
    [ "$HARNESS_SELFTEST_SKIP" = fsync ] && fsync=""
    echo > $T/trace
    echo 1 > $T/tracing_on
    xfs_io -d -c "pwrite -q 0 65536" $fsync /mnt/selftest
    echo 0 > $T/tracing_on
    umount /mnt
    dead=$(awk '
        / iomap_dio_complete:/ { d++ }
        / btrfs_sync_file:/ { s++ }
        / btrfs_ordered_extent_add:/ && / root=5\(/ && /flags=[A-Z_|]*DIRECT/ { o++ }
        END { if (!d) printf " iomap_dio_complete"; if (!s) printf " btrfs_sync_file"
              if (!o) printf " btrfs_ordered_extent_add" }' $T/trace)
    if [ -n "$dead" ]; then
        no_evidence probe self-test: nothing recorded by$dead
        return 1
    fi
    mark evidence-selftest ok
}
evidence_start() {
    [ -n "$EVIDENCE" ] || { mark evidence unavailable "$EVIDENCE_WHY"; return 0; }
    echo > $T/trace
    echo 1 > $T/tracing_on
}
# one line per (event, task) with counts, DIRECT/other bytes of the ordered
# extents of the file system tree (root 5), and the events the ring buffer
# lost (its per-CPU stats): one awk, as an exec costs ~0.1 s under TCG
evidence_stop() {
    [ -n "$EVIDENCE" ] || return 0
    echo 0 > $T/tracing_on
    awk '
        # every way the ring buffer loses events: overwritten, dropped, commit overrun
        FILENAME ~ /\/stats$/ { if ($1 == "overrun:") lost += $2
                                else if ($1 $2 == "droppedevents:" || $1 $2 == "commitoverrun:") lost += $3
                                next }
        /^#/ { next }
        # the workload says where its measured phase starts: forget the rest;
        # one that runs several times marks each preparation ("prepare" ...
        # "measured"), and only what lies between those is left out
        / tracing_mark_write: kdsync-phase prepare/ { skip = 1; next }
        / tracing_mark_write: kdsync-phase measured/ { if (skip) { skip = 0; next }
                                                       delete dio; delete syn; delete oe
                                                       delete bytes; delete err
                                                       delete toe; delete tbytes; next }
        skip { next }
        {
            task = $1; sub(/-[0-9]+$/, "", task)
            if (match($0, / comm="[^"]*"/)) task = substr($0, RSTART + 7, RLENGTH - 8)
            ev = ""
            for (i = 2; i <= NF; i++) if ($i ~ /:$/ && $i !~ /^[0-9.]+:$/) { ev = $i; break }
            sub(/:$/, "", ev)
            if (ev == "iomap_dio_complete") { dio[task]++ }
            else if (ev == "btrfs_sync_file") { syn[task]++ }
            else if (ev == "file_check_and_advance_wb_err") {
                # the errno: the low 12 bits (3 hex digits) of the errseq
                e = $0; sub(/.* new=0x/, "", e); sub(/[^0-9a-f].*/, "", e)
                e = substr("000" e, length(e) + 1); v = 0
                for (i = 1; i <= 3; i++) v = v * 16 + index("0123456789abcdef", substr(e, i, 1)) - 1
                if (v) err[task " " v]++
            }
            else if (ev == "btrfs_ordered_extent_add" && $0 ~ / root=5\(/) {
                kind = ($0 ~ /flags=[A-Z_|]*DIRECT/) ? "direct" : "other"
                len = $0; sub(/.* len=/, "", len); sub(/ .*/, "", len)
                oe[kind]++; bytes[kind] += len
                # the ordered extent of a direct write is made in the writing task
                if (kind == "direct") { toe[task]++; tbytes[task] += len }
            }
        }
        END {
            for (t in dio) printf "@@harness evidence dio_complete task=%s n=%d\n", t, dio[t]
            for (t in syn) printf "@@harness evidence sync task=%s n=%d\n", t, syn[t]
            for (k in oe) printf "@@harness evidence ordered %s n=%d bytes=%d\n", k, oe[k], bytes[k]
            for (t in toe) printf "@@harness evidence ordered_task task=%s n=%d bytes=%d\n", t, toe[t], tbytes[t]
            for (k in err) { split(k, te, " ")
                             printf "@@harness evidence sync_error task=%s ret=-%d n=%d\n", te[1], te[2], err[k] }
            printf "@@harness evidence overrun n=%d\n", lost
        }' $T/trace $T/per_cpu/cpu*/stats
}

# --------------------------------------------------------------- one cell
DM=0
run_cell() {
    name=$1 device=$2 opts=$3 cmd=$4
    dev="" rc=0 guestfsck=""
    case "$device" in
        ram)   dev=/dev/ram0 guestfsck=1
               mkfs.btrfs -q -f -K $dev > /run/mkfs.out 2>&1 ||
                   { mark error "mkfs.btrfs $dev: $(tail -1 /run/mkfs.out)"; return 1; } ;;
        delay:*) raw=${device#delay:}
               DM=$((DM + 1))
               sectors=$(blockdev --getsz $raw)
               dmsetup create --noudevsync slow$DM \
                   --table "0 $sectors delay $raw 0 0 $raw 0 ${HARNESS_DELAY_MS:-100} $raw 0 10" ||
                   { mark error "dmsetup delay on $raw failed"; return 1; }
               dev=/dev/dm-$(dmsetup info -c --noheadings -o minor slow$DM) ;;
        none)  ;;
        *)     dev=$device ;;
    esac
    if [ -n "$dev" ]; then
        if ! mount -t btrfs ${opts:+-o $opts} $dev /mnt; then
            mark error "mount -t btrfs ${opts:+-o $opts} $dev failed"
            return 1
        fi
        cd /mnt || return 1
    fi
    export MOUNT_OPTS="$opts"
    mark workload-start "$name"
    evidence_start
    # kernel command-line values cannot hold spaces: the plan's can
    case "$cmd" in
        *.sh\ *|*.sh) sh $cmd < /dev/null; rc=$? ;;
        *) $cmd < /dev/null; rc=$? ;;
    esac
    evidence_stop
    mark workload-end "$name" rc=$rc
    cd /
    if [ -n "$dev" ]; then
        umount /mnt || { mark error "umount /mnt failed"; rc=1; }
        case "$device" in delay:*) dmsetup remove --noudevsync slow$DM ;; esac
        if [ -n "$guestfsck" ] && [ $rc = 0 ]; then
            if btrfs check --readonly $dev > /run/fsck.out 2>&1; then
                mark fsck clean
            else
                mark fsck error "$(grep -i error /run/fsck.out | head -1)"
            fi
        fi
    fi
    return $rc
}

# SCSI disks (the fua kind) by target id: /dev/scsiN is the disk QEMU was
# given with scsi-id=N (the sdX names follow asynchronous probing)
for b in /sys/bus/scsi/devices/*:*:*:*/block/*; do
    [ -e "$b" ] || continue
    t=${b%/block/*}; t=${t##*/}; t=${t#*:*:}
    ln -sf "/dev/${b##*/}" "/dev/scsi${t%:*}"
done

# a VM whose verdict counts nothing by the probes (the power-cut check VM)
# boots without them: no tracefs set-up, no self-test (~1.4 s of a TCG boot)
if [ "$HARNESS_EVIDENCE" = off ]; then
    no_evidence not asked for by this VM "(HARNESS_EVIDENCE=off)"
else
    evidence_setup
fi
if ! tr -d '\000' < /dev/vda > /run/plan 2>/dev/null || [ ! -s /run/plan ]; then
    mark error "no plan on /dev/vda"
    finish 1
fi
worst=0
# the taint mask with cat, not the shell's read: read takes one byte at a
# time, and a sysctl file answers only a read at offset 0 ("128" read as
# "1"); a cell's "before" is the previous cell's "after" (one exec a cell)
taint=$(cat /proc/sys/kernel/tainted)
exec 3< /run/plan
while IFS='|' read -r name device opts cmd <&3; do
    case "$name" in ''|'#'*) continue ;; esac
    taint0=$taint
    kmark 0 0 kcell-start "$name"
    mark cell-start "$name"
    run_cell "$name" "$device" "$opts" "$cmd"
    rc=$?
    # the kernel quiet first: a late report's taint is this cell's too
    kmark 200 3000 kcell-end "$name"
    taint=$(cat /proc/sys/kernel/tainted)
    mark taint before=$taint0 after=$taint
    mark cell-end "$name" rc=$rc
    [ $rc = 0 ] || worst=$rc
done
finish $worst
