#!/bin/sh
# (l) wb-error: a writeback error elsewhere in the file reaches the sync of an
# O_DIRECT|O_DSYNC write.  btrfs_sync_file() writes back the whole file, so a
# dirty page at 1 MiB whose write fails makes the sync of a direct write at 0
# fail with EIO: it leaves through out_release_extents, where, for a direct
# write (the writer holds the inode lock), it must not unlock the inode
# (e0391e92f9ab; syzbot: "bad unlock balance in btrfs_direct_write").
#
# $1: the cell's disk (a host-made btrfs).  btrfs sits on dm-linear; the file
# is NOCOW and preallocated, so its blocks stay where they are, and only the
# physical range of its second MiB is swapped to the dm "error" target, so
# metadata and the direct write's own block stay good.  The failing range
# goes through dm-delay (100 ms) first: the page's write is still in flight
# when btrfs_sync_file() has started writeback and goes on to wait for it,
# so the error always surfaces in that wait (-> out_release_extents), never
# in the writeback calls before it (a bio failed at submission did so once
# in 20 runs on 7.2).
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
bad=$((phys / 512 + 2048))          # the file's second MiB, 2048 sectors
dmsetup create --noudevsync wberr-bad --table "0 2048 error"
errdev=/dev/dm-$(dmsetup info -c --noheadings -o minor wberr-bad)
dmsetup suspend wberr
dmsetup load wberr --table "0 $bad linear $raw 0
$bad 2048 delay $errdev 0 100
$((bad + 2048)) $((sectors - bad - 2048)) linear $raw $((bad + 2048))"
dmsetup resume wberr
echo "wb-error: file at logical $((log * 512)), device byte $phys; sectors $bad+2048 fail"
# a dirty page at 1 MiB, then the O_DIRECT|O_SYNC write at 0 (O_SYNC is
# O_DSYNC and more: the same iomap sync; xfs_io has no O_DSYNC flag): its sync
# writes the page back, the write fails, the sync returns EIO
xfs_io -c "pwrite -q 1m 4k" $f
out=$(xfs_io -d -s -c "pwrite -q 0 4k" $f 2>&1) || true
echo "wb-error: O_DIRECT|O_DSYNC pwrite at 0: ${out:-ok}"
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
