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

if ! mount -t btrfs /dev/vda /mnt; then
    mark error "mount of /dev/vda failed"
    finish 1
fi
cd /mnt || finish 1

mark workload-start "$HARNESS_WORKLOAD"
case "$HARNESS_FILE" in
    *.fio) fio --output-format=terse --terse-version=3 "$HARNESS_FILE" > /tmp/fio.out 2>&1
           rc=$?
           # terse v3: field 5 is the error code; show it and any verify error
           grep -iE 'verify|error|bad' /tmp/fio.out | head -20
           cut -d';' -f3,5 /tmp/fio.out | sed 's/^/fio job;error: /' ;;
    *.py)  python3 "$HARNESS_FILE" $HARNESS_ARGS; rc=$? ;;
    *)     sh "$HARNESS_FILE" $HARNESS_ARGS; rc=$? ;;
esac
mark workload-end "$HARNESS_WORKLOAD" rc=$rc

cd /
umount /mnt || { mark error "umount /mnt failed"; rc=1; }
finish $rc
