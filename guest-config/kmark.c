/*
 * kmark: a harness marker in the kernel's own order (guest-init.sh's cell
 * boundaries).
 *
 *   kmark QUIET_MS MAX_MS TEXT...
 *
 * 1. tcdrain(1): everything the guest already wrote to the console tty (the
 *    previous markers) is on the wire, so the kernel's line cannot land in
 *    the middle of one of them (a kernel line and the tty share the serial
 *    port; the 8250 console cuts into the tty's output between FIFO loads).
 * 2. Waits until the kernel has logged nothing for QUIET_MS, at most MAX_MS
 *    (0 0: no wait): a report the cell set off in a worker, just after its
 *    last syscall returned, is logged before the marker.
 * 3. Writes "@@harness TEXT waited=MS" to /dev/kmsg: the kernel orders it
 *    with its own reports, so the host can charge every report to the cell
 *    whose markers enclose it (harness/vm.py, VmRun.cell_findings).
 *
 * One open of /dev/kmsg a marker: each open has its own rate limit (10 lines
 * in 5 s), which one line never meets.  Exit 0, or 1 with one line on
 * stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* the time waited until the log was quiet for quiet ms (or max ms passed) */
static long long wait_quiet(int quiet, int max)
{
	char rec[8192];
	long long start = now_ms(), last = start;
	int fd;

	if (quiet <= 0)
		return 0;
	fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return -1;
	lseek(fd, 0, SEEK_END);		/* only what is logged from now on */
	for (;;) {
		long long t = now_ms();
		int left = (int)(last + quiet - t);
		struct pollfd p = { fd, POLLIN, 0 };

		if (left <= 0 || t - start >= max)
			break;
		if (poll(&p, 1, left) > 0) {
			/* one record a read; EPIPE: records were overwritten */
			for (;;) {
				errno = 0;
				if (read(fd, rec, sizeof(rec)) > 0 || errno == EPIPE)
					continue;
				break;
			}
			last = now_ms();
		}
	}
	close(fd);
	return now_ms() - start;
}

int main(int argc, char **argv)
{
	char line[1024];
	int fd, n, i, len;
	long long waited;

	if (argc < 4) {
		fprintf(stderr, "usage: kmark QUIET_MS MAX_MS TEXT...\n");
		return 2;
	}
	tcdrain(1);
	waited = wait_quiet(atoi(argv[1]), atoi(argv[2]));
	/* <5>: notice, under the harness's loglevel=7: always on the console */
	len = snprintf(line, sizeof(line), "<5>@@harness");
	for (i = 3; i < argc && len < (int)sizeof(line); i++)
		len += snprintf(line + len, sizeof(line) - len, " %s", argv[i]);
	if (len < (int)sizeof(line))
		len += snprintf(line + len, sizeof(line) - len, " waited=%lld\n", waited);
	if (len >= (int)sizeof(line)) {
		fprintf(stderr, "kmark: marker too long\n");
		return 1;
	}
	fd = open("/dev/kmsg", O_WRONLY);
	if (fd < 0 || (n = write(fd, line, len)) != len) {
		fprintf(stderr, "kmark: /dev/kmsg: %s\n", strerror(errno));
		return 1;
	}
	close(fd);
	return 0;
}
