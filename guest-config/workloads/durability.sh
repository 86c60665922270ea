#!/bin/sh
# (h) durability, write phase: O_DIRECT|O_DSYNC overwrites through pwrite,
# libaio and io_uring, each acknowledged on the console as it completes
# (dsync_ack prints "@@harness ack ..." and drops a marker on /dev/vda).
# $1 is the dsync_ack binary the harness compiled from dsync_ack.c.
#
# btrfs sits on dm-delay (10 ms per write and flush): under TCG a bare
# virtio disk completes a write before the submitting task has returned, so
# AIO writes would complete in the submitter, which syncs by itself, and the
# asynchronous path (btrfs's ->end_io must sync there) would never run.
# One write in flight: btrfs's fsync logs, and waits for, every in-flight
# extent of the inode, so with a deep queue one synced write covers the
# others and a lost sync in the asynchronous path stays hidden.
set -e
sectors=$(blockdev --getsz /dev/vda)
dmsetup create --noudevsync slow \
    --table "0 $sectors delay /dev/vda 0 0 /dev/vda 0 10 /dev/vda 0 10"
mount -t btrfs /dev/dm-0 /mnt
for mode in psync libaio uring; do
    "$1" "$mode" "/mnt/durability-$mode.dat" 24 65536 /dev/vda 32768 1
done
umount /mnt
dmsetup remove --noudevsync slow
