#!/bin/sh
# The power-cut tests, write phase: O_DIRECT|O_DSYNC writes through pwrite,
# libaio and io_uring, each acknowledged on the console as it completes
# (dsync_ack prints "@@harness ack ..." and drops a marker on the disk).
#   durability.sh DSYNC_ACK DEV [PREP [COUNT]]
# $1 is the dsync_ack binary the harness compiled from dsync_ack.c, $2 the
# disk (the harness records its writes and flushes); the markers go to $2
# too.  PREP (default cow) is what the writes change (dsync_ack's PREP:
# cow, nocow, prealloc, extend; a +sync suffix opens the file O_SYNC), COUNT
# the writes per mode (default 16).
# MOUNT_OPTS: the kernel line's btrfs mount options.
#
# btrfs sits on dm-delay (5 ms per write and flush): under TCG a bare
# virtio disk completes a write before the submitting task has returned, so
# AIO writes would complete in the submitter, which syncs by itself, and the
# asynchronous path (btrfs's ->end_io must sync there) would never run.
# One write in flight: btrfs's fsync logs, and waits for, every in-flight
# extent of the inode, so with a deep queue one synced write covers the
# others and a lost sync in the asynchronous path stays hidden.
#
# "@@harness disk" says what the guest sees of the disk and of the dm device
# btrfs is on (queue/write_cache, queue/fua): the host holds it against the
# disk kind the cell claims.
#
# The power-cut model follows the block layer's contract from the guest's
# own order (harness/powercut.py): a trace instance records every request's
# issue and completion on the disk, flushes and FUA writes included, and
# dsync_ack marks each ack there (KDCUT_MARKER), all on the tracer's
# counter clock; at the end the trace goes to the console as
# "@@harness cuttrace LINE", and what the instance lost as
# "@@harness cuttrace-lost N" (anything lost: nothing may be claimed).
set -e
dev=$2 prep=${3:-cow} count=${4:-16}
T=/sys/kernel/tracing
[ -e $T/trace_marker ] || mount -t tracefs nodev $T
I=$T/instances/kdcut
mkdir -p $I
echo 0 > $I/tracing_on
echo counter > $I/trace_clock
echo 8192 > $I/buffer_size_kb
real=$(readlink -f $dev)
read -r mm < /sys/block/${real#/dev/}/dev
filter="dev == $(( (${mm%:*} << 20) | ${mm#*:} ))"
for e in block_rq_issue block_rq_complete block_rq_requeue; do
    echo "$filter" > $I/events/block/$e/filter
    echo 1 > $I/events/block/$e/enable
done
echo > $I/trace
echo 1 > $I/tracing_on
export KDCUT_MARKER=$I/trace_marker
sectors=$(blockdev --getsz $dev)
dmsetup create --noudevsync durability \
    --table "0 $sectors delay $dev 0 0 $dev 0 5 $dev 0 5"
minor=$(dmsetup info -c --noheadings -o minor durability)
real=$(readlink -f $dev)
for q in /sys/block/${real#/dev/}/queue /sys/block/dm-$minor/queue; do
    read -r wc < $q/write_cache
    read -r fua < $q/fua
    d=${q#/sys/block/}
    echo "@@harness disk dev=${d%/queue} write_cache=$(echo $wc | tr ' ' _) fua=$fua"
done
mount -t btrfs ${MOUNT_OPTS:+-o $MOUNT_OPTS} /dev/dm-$minor /mnt
for mode in psync libaio uring; do
    "$1" "$mode" "/mnt/durability-$mode.dat" $count 65536 $dev 32768 1 $prep
done
umount /mnt
dmsetup remove --noudevsync durability
echo 0 > $I/tracing_on
sed 's/^/@@harness cuttrace /' $I/trace
lost=0
for s in $I/per_cpu/cpu*/stats; do
    while read -r k v rest; do
        case "$k $v" in
            "overrun: "*) lost=$((lost + v)) ;;
            "dropped events:"|"commit overrun:") lost=$((lost + rest)) ;;
        esac
    done < $s
done
echo "@@harness cuttrace-lost $lost"
for e in block_rq_issue block_rq_complete block_rq_requeue; do
    echo 0 > $I/events/block/$e/enable
done
