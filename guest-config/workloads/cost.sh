#!/bin/sh
# What an O_DSYNC direct write costs, against the same write followed by
# fdatasync (the cost@KIND rows; harness/cost.py judges them).
#   cost.sh DEV
# For each mode, on the line's btrfs on DEV: a file of 1 MiB committed
# (written, fsynced, syncfs), then 16 4 KiB O_DIRECT overwrites of it (COW:
# a new extent each), O_DSYNC in one mode, plain with an fdatasync after
# each in the other.  A trace instance of its own counts, while they run:
# btrfs_sync_file() calls, btrfs_sync_log() calls (log commits), the disk's
# flush requests, FUA writes and write requests.  One line a mode:
#   @@harness cost mode=MODE writes=16 syncs=S log_commits=L flushes=F fua=U write_ios=W
# MOUNT_OPTS: the kernel line's btrfs mount options.
set -e
dev=$1
T=/sys/kernel/tracing
[ -e $T/kprobe_events ] || mount -t tracefs nodev $T
I=$T/instances/kdcost
mkdir -p $I
# the probes: btrfs_sync_file and btrfs_sync_log, under their own group
grep -q '^p:kdcost/sync_file ' $T/kprobe_events 2>/dev/null ||
    echo 'p:kdcost/sync_file btrfs_sync_file' >> $T/kprobe_events
grep -q '^p:kdcost/sync_log ' $T/kprobe_events 2>/dev/null ||
    echo 'p:kdcost/sync_log btrfs_sync_log' >> $T/kprobe_events
real=$(readlink -f $dev)
read -r mm < /sys/block/${real#/dev/}/dev
major=${mm%:*} minor=${mm#*:}
echo 0 > $I/tracing_on
echo 4096 > $I/buffer_size_kb
echo 1 > $I/events/kdcost/enable
echo "dev == $(( (major << 20) | minor ))" > $I/events/block/block_rq_issue/filter
echo 1 > $I/events/block/block_rq_issue/enable
mount -t btrfs ${MOUNT_OPTS:+-o $MOUNT_OPTS} $dev /mnt
n=16
for mode in dsync fdatasync; do
    f=/mnt/cost-$mode
    xfs_io -f -d -c "pwrite -q -b 1m 0 1m" -c fsync $f
    sync -f $f
    echo > $I/trace
    echo 1 > $I/tracing_on
    if [ $mode = dsync ]; then
        # one write(2) a block, the file opened O_DIRECT|O_DSYNC
        dd if=/dev/zero of=$f bs=4096 count=$n oflag=direct,dsync conv=notrunc status=none
    else
        cmds=""
        i=0
        while [ $i -lt $n ]; do
            cmds="$cmds -c \"pwrite -q $((i * 4096)) 4096\" -c fdatasync"
            i=$((i + 1))
        done
        eval xfs_io -d $cmds $f
    fi
    echo 0 > $I/tracing_on
    awk -v mode=$mode -v n=$n '
        / sync_file: / { s++ }
        / sync_log: / { l++ }
        / block_rq_issue: / {
            for (i = 1; i <= NF; i++) if ($i == "block_rq_issue:") break
            rw = $(i + 2); nsect = $(i + 7)
            if (rw ~ /^F/ && rw !~ /^F[WRD]/) f++          # a flush request
            else if (rw ~ /W/) { w++; if (rw ~ /W.*F/) u++; if (rw ~ /^F/) f++ }
        }
        END { printf "@@harness cost mode=%s writes=%d syncs=%d log_commits=%d flushes=%d fua=%d write_ios=%d\n",
                     mode, n, s, l, f, u, w }' $I/trace
done
umount /mnt
echo 0 > $I/events/kdcost/enable
echo 0 > $I/events/block/block_rq_issue/enable
rmdir $I 2>/dev/null || :
