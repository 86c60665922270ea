#!/bin/sh
# PID 1 of a harness guest.  The root file system is the host's, mounted
# read-only over virtio-9p; the test disk is /dev/vda (a fresh btrfs).
# The kernel passes HARNESS_* settings from its command line as environment.
# Everything this prints goes to the serial console, where the host reads
# lines starting with "@@harness" as events.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp LANG=C PYTHONDONTWRITEBYTECODE=1 PYTHONHASHSEED=0

mark() { echo "@@harness $*"; }
finish() {
    mark done rc=$1
    sync
    # reboot=t + QEMU -no-reboot: a reboot ends the VM without ACPI
    echo b > /proc/sysrq-trigger
    sleep 5
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
echo 1 > /proc/sys/kernel/sysrq
[ -n "$HARNESS_HUNG" ] && echo "$HARNESS_HUNG" > /proc/sys/kernel/hung_task_timeout_secs
mark booted uptime=$(cut -d' ' -f1 /proc/uptime)

[ "$HARNESS_WORKLOAD" = probe ] && finish 0

# HARNESS_NOMOUNT=1: the workload mounts its own disks (durability check)
if [ "$HARNESS_NOMOUNT" != 1 ]; then
    if ! mount -t btrfs /dev/vda /mnt; then
        mark error "mount of /dev/vda failed"
        finish 1
    fi
    cd /mnt || finish 1
fi

# kernel command-line values cannot hold spaces: arguments come comma-separated
ARGS=$(echo "$HARNESS_ARGS" | tr ',' ' ')
mark workload-start "$HARNESS_WORKLOAD"
case "$HARNESS_FILE" in
    *.fio) fio --output-format=terse --terse-version=3 "$HARNESS_FILE" > /tmp/fio.out 2>&1
           rc=$?
           # terse v3: 3 job, 5 error, 6 KiB read (the verify pass), 47 KiB written
           grep -v ';' /tmp/fio.out | head -20
           awk -F';' 'NF > 47 { print "fio job=" $3 " error=" $5 " written_kib=" $47 " verified_kib=" $6
                                if ($47 == 0 || $6 == 0) bad = 1 } END { exit bad }' /tmp/fio.out || rc=4 ;;
    *.py)  python3 "$HARNESS_FILE" $ARGS; rc=$? ;;
    *)     sh "$HARNESS_FILE" $ARGS; rc=$? ;;
esac
mark workload-end "$HARNESS_WORKLOAD" rc=$rc

cd /
if [ "$HARNESS_NOMOUNT" != 1 ]; then
    umount /mnt || { mark error "umount /mnt failed"; rc=1; }
fi
finish $rc
