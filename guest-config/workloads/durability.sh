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
set -e
dev=$2 prep=${3:-cow} count=${4:-16}
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
