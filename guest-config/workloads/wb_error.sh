#!/bin/sh
# (l) wb-error: a writeback error elsewhere in the file reaches the sync of an
# O_DIRECT|O_DSYNC write.  btrfs_sync_file() writes back the whole file, so a
# dirty page at 1 MiB whose write fails makes the sync of a direct write at 0
# fail with EIO: it leaves through out_release_extents, where, for a direct
# write (the writer holds the inode lock), it must not unlock the inode
# (e0391e92f9ab; syzbot: "bad unlock balance in btrfs_direct_write").
#
# $1: the cell's disk (a host-made btrfs).  btrfs sits on dm-linear; the file
# is NOCOW and preallocated, so its blocks stay where they are.  Then the
# physical range of its second MiB goes to the dm "error" target behind
# dm-delay (1 s), and its first MiB behind dm-delay (3 s); metadata stays on
# plain dm-linear.  One xfs_io dirties the page at 1 MiB and starts its
# writeback (sync_file_range: no wait, no error check); the next writes 4
# KiB at 0 with O_DIRECT|O_SYNC: the direct write's own flush of [0, 4K)
# sees no error yet, its bio takes 3 s, and by the time its sync runs the
# page's write has failed (1 s), so the sync's wait for writeback returns
# EIO, every time.  (A sync that waits while the error lands may miss it: 7.2
# clears a folio's writeback before it records the mapping's error, and the
# sync then gets the error only at its end, from errseq, not through
# out_release_extents.)
# MOUNT_OPTS: the kernel line's btrfs mount options.
set -e
raw=$1
sectors=$(blockdev --getsz $raw)
dmsetup create --noudevsync wberr --table "0 $sectors linear $raw 0"
dm=/dev/dm-$(dmsetup info -c --noheadings -o minor wberr)
mount -t btrfs -o ${MOUNT_OPTS:+$MOUNT_OPTS,}commit=1000 $dm /mnt
f=/mnt/wb-error.dat
: > $f
chattr +C $f
xfs_io -c "falloc 0 2m" -c fsync $f
sync
# the file's btrfs logical address (fiemap, 512-byte units) -> the device's
# sector, through the data chunk that holds it (single profile: stripe 0)
log=$(xfs_io -c "fiemap" $f | awk -F'[][ \t.:]+' '/^[ \t]*0:/ { print $5; exit }')
phys=$(btrfs inspect-internal dump-tree -t chunk $dm | awk -v l=$((log * 512)) '
    /CHUNK_ITEM/ { start = $6; sub(/\)/, "", start) }
    $1 == "length" { len = $2 }
    / type DATA/ { data = 1 }
    /stripe 0 devid/ { if (data && l >= start && l < start + len) { print $6 + l - start; exit }
                       data = 0 }')
[ -n "$phys" ] || { echo "wb-error: no data chunk maps logical $((log * 512))"; exit 2; }
good=$((phys / 512))                # the file's first MiB: the direct write
bad=$((good + 2048))                # its second MiB: the page that fails
dmsetup create --noudevsync wberr-bad --table "0 2048 error"
errdev=/dev/dm-$(dmsetup info -c --noheadings -o minor wberr-bad)
dmsetup suspend wberr
dmsetup load wberr --table "0 $good linear $raw 0
$good 2048 delay $raw $good 3000
$bad 2048 delay $errdev 0 1000
$((bad + 2048)) $((sectors - bad - 2048)) linear $raw $((bad + 2048))"
dmsetup resume wberr
echo "wb-error: file at logical $((log * 512)), device byte $phys; sectors $bad+2048 fail"
xfs_io -c "pwrite -q 1m 4k" -c "sync_range -w 1m 4k" $f
# the guest's evidence counts from here: the direct write, its sync and the
# writeback error reported to it (guest-init.sh's evidence_stop)
echo "kdsync-phase measured" > /sys/kernel/tracing/trace_marker 2>/dev/null ||
    echo "@@harness evidence phase-unmarked trace_marker write failed"
out=$(xfs_io -d -s -c "pwrite -q 0 4k" $f 2>&1) || true
echo "wb-error: O_DIRECT|O_SYNC pwrite at 0: ${out:-ok}"
echo "@@harness stat writes=1 direct_bytes=4096"
dmsetup suspend wberr
dmsetup load wberr --table "0 $sectors linear $raw 0"
dmsetup resume wberr
umount /mnt
dmsetup remove --noudevsync wberr
dmsetup remove --noudevsync wberr-bad
case "$out" in
    *"Input/output error"*) echo "wb-error: the writeback error reached the O_DSYNC write"; exit 0 ;;
    *) echo "wb-error: the sync did not see the writeback error: path not reached"; exit 3 ;;
esac
