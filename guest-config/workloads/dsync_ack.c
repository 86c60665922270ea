// SPDX-License-Identifier: GPL-2.0
/*
 * dsync_ack: O_DIRECT|O_DSYNC overwrites that report each write as it is
 * acknowledged, for the harness's power-cut (durability) test.
 *
 *   dsync_ack MODE FILE COUNT BLOCK MARKDEV MARKOFF [DEPTH [PREP]]
 *   dsync_ack check MODE FILE BLOCK INDEX[,INDEX...]
 *   dsync_ack cuts LISTDEV [MOUNT_OPTIONS]
 *
 * MODE is psync (pwrite), libaio (io_submit) or uring (io_uring), with
 * DEPTH writes in flight (default 16, at most 16).  PREP says what the
 * acknowledged writes change, by how FILE is made first:
 *   cow       (default) filled with zeros by direct writes and fsynced: every
 *             write is a COW overwrite inside EOF (a new extent each)
 *   nocow     the same on a NOCOW file (chattr +C while empty), then the file
 *             system's transaction committed (syncfs): every write is a pure
 *             overwrite of committed blocks, the one kind that changes no
 *             metadata and that iomap may rightly write through
 *   prealloc  a NOCOW file, fallocated, fsynced and committed: every write
 *             converts a preallocated extent (generic/703's shape)
 *   extend    empty, fsynced and committed: every write extends i_size
 * A PREP ending in "+sync" (cow+sync, ...) opens FILE O_SYNC instead of
 * O_DSYNC: iomap never writes an O_SYNC write through without its sync, so
 * the twin shows the lost sync is O_DSYNC's alone.
 * With AIO on a slow device the writes complete in a worker, the path where
 * btrfs must still run generic_write_sync() (the seed's ->end_io on 5.10,
 * iomap's completion on 6.x, unless iomap wrote the data through).
 *
 * For every completion it prints
 *     @@harness ack MODE INDEX OFFSET LENGTH HASH
 * and then writes a marker block "KDSYNC-ACK MODE INDEX" to MARKDEV at
 * MARKOFF (a spot btrfs never uses), without any sync.  In the host's log
 * of the disk's writes and flushes, the marker shows where the ack was
 * given: whatever the kernel had flushed by then must contain the data.
 *
 * `check` reads the given writes back (O_DIRECT) from a reconstructed
 * image and prints "@@harness lost MODE INDEX" for each one whose content
 * is not what MODE wrote; it exits 1 if any was lost.
 *
 * `cuts` is the power-cut check in one process (no exec per step: each costs
 * ~0.1 s under TCG).  LISTDEV holds text lines, NUL-padded:
 *     block BYTES
 *     cut K DEVICE MODE INDEX,INDEX... [MODE INDEX,...]...
 * For every cut it mounts DEVICE on /mnt (btrfs replays its log tree, as
 * after a real power cut), checks the listed writes of each mode in
 * /mnt/durability-MODE.dat, unmounts, and prints
 *     @@harness cut K ok|lost|mount-failed checked=N lost=M
 * It exits 1 if any cut lost a write or did not mount.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libaio.h>
#include <linux/fs.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <unistd.h>

#include "kdsync.h"

#define MAXDEPTH 16

static const char *mode;
static int depth = MAXDEPTH;
static int markfd;
static off_t markoff;
static size_t block;

static void die(const char *what, int err)
{
	printf("@@harness verify-failed dsync_ack %s %s: %s\n", mode, what, strerror(err));
	fflush(stdout);
	exit(3);
}

/* the content of write INDEX of MODE; the guest checker recomputes it */
static void fill(void *buf, int index)
{
	uint64_t seed = ((uint64_t)mode[0] << 32) | (uint64_t)index, *w = buf;
	size_t i;

	for (i = 0; i < block / 8; i++)
		w[i] = splitmix(&seed);
}

static uint64_t fnv1a(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t h = 0xcbf29ce484222325ULL;

	while (len--)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

static int cutfd = -2;

/* the ack in the power-cut trace (durability.sh's KDCUT_MARKER), in the
 * kernel's own order with the disk's requests */
static void ack_trace(int index)
{
	char text[64];
	int n;

	if (cutfd == -2) {
		const char *path = getenv("KDCUT_MARKER");

		cutfd = path ? open(path, O_WRONLY) : -1;
		if (path && cutfd < 0)
			die("open KDCUT_MARKER", errno);
	}
	if (cutfd < 0)
		return;
	n = snprintf(text, sizeof(text), "kdx ack %s %d\n", mode, index);
	if (write(cutfd, text, (size_t)n) != n)
		die("power-cut trace marker", errno);
}

static void ack(int index, void *buf)
{
	static char mark[4096] __attribute__((aligned(4096)));

	ack_trace(index);
	printf("@@harness ack %s %d %lld %zu %016" PRIx64 "\n", mode, index,
	       (long long)index * block, block, fnv1a(buf, block));
	fflush(stdout);
	memset(mark, 0, sizeof(mark));
	snprintf(mark, sizeof(mark), "KDSYNC-ACK %s %d\n", mode, index);
	if (pwrite(markfd, mark, sizeof(mark), markoff) != sizeof(mark))
		die("marker write", errno);
}

/* the preparing writes and fsync are not the measured ones: they go between
 * "kdsync-phase prepare" and "kdsync-phase measured" in the trace, which the
 * guest's evidence leaves out (guest-init.sh's evidence_stop; this program
 * runs once a mode in one cell, so each preparation is cut out on its own);
 * unmarked, the evidence says so and proves nothing */
static void mark_phase(const char *what)
{
	char text[64];
	int fd = open("/sys/kernel/tracing/trace_marker", O_WRONLY);
	int n = snprintf(text, sizeof(text), "kdsync-phase %s\n", what);

	if (fd < 0 || write(fd, text, (size_t)n) != n)
		printf("@@harness evidence phase-unmarked trace_marker: %s\n", strerror(errno));
	if (fd >= 0)
		close(fd);
	fflush(stdout);
}

static void prepare(const char *path, int count, const char *prep)
{
	void *zero = aligned(block);
	int fd, i, flags = 0;
	int nocow = !strcmp(prep, "nocow") || !strcmp(prep, "prealloc");

	if (strcmp(prep, "cow") && !nocow && strcmp(prep, "extend"))
		die("prep", EINVAL);
	memset(zero, 0, block);
	/* O_DIRECT: no page cache, so the writes below stay direct (iomap falls
	 * back to a buffered write when it cannot invalidate cached pages) */
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_DIRECT, 0644);
	if (fd < 0)
		die("create", errno);
	if (nocow) {
		if (ioctl(fd, FS_IOC_GETFLAGS, &flags))
			die("FS_IOC_GETFLAGS", errno);
		flags |= FS_NOCOW_FL;
		if (ioctl(fd, FS_IOC_SETFLAGS, &flags))
			die("FS_IOC_SETFLAGS (chattr +C)", errno);
	}
	if (!strcmp(prep, "prealloc")) {
		if (fallocate(fd, 0, 0, (off_t)count * block))
			die("fallocate", errno);
	} else if (strcmp(prep, "extend")) {
		for (i = 0; i < count; i++)
			if (pwrite(fd, zero, block, (off_t)i * block) != (ssize_t)block)
				die("prefill", errno);
	}
	if (fsync(fd))
		die("fsync", errno);
	/* all but the default: the prepared file's metadata committed, so what
	 * the acknowledged writes change is theirs alone */
	if (strcmp(prep, "cow") && syncfs(fd))
		die("syncfs", errno);
	close(fd);
	free(zero);
}

static void run_psync(int fd, int count)
{
	void *buf = aligned(block);
	int i;

	for (i = 0; i < count; i++) {
		fill(buf, i);
		if (pwrite(fd, buf, block, (off_t)i * block) != (ssize_t)block)
			die("pwrite", errno);
		ack(i, buf);
	}
}

/* an async write's completion: acknowledged once it returned all its bytes */
static void aio_done(int index, void *buf, long res)
{
	if (res != (long)block)
		die(mode[0] == 'u' ? "uring write" : "aio write", res > 0 ? EIO : (int)-res);
	ack(index, buf);
}

static void run_async(int fd, int count, int uring)
{
	struct kd_writes w = { fd, count, depth, block, fill, aio_done };

	if (uring)
		kd_uring(&w);
	else
		kd_libaio(&w);
}

static int check(const char *path, const char *list);

/* returns 1 if a write was lost or the image did not mount */
static int check_cut(char *line, const char *opts)
{
	char *save = NULL, *tok, *dev, *list;
	int k, lost = 0, checked = 0;

	strtok_r(line, " ", &save);                       /* "cut" */
	k = atoi(strtok_r(NULL, " ", &save));
	dev = strtok_r(NULL, " ", &save);
	if (mount(dev, "/mnt", "btrfs", 0, opts)) {
		printf("@@harness cut %d mount-failed (%s: %s)\n", k, dev, strerror(errno));
		fflush(stdout);
		return 1;
	}
	while ((tok = strtok_r(NULL, " ", &save)) && (list = strtok_r(NULL, " \n", &save))) {
		char path[64];
		const char *c;

		mode = tok;
		snprintf(path, sizeof(path), "/mnt/durability-%s.dat", mode);
		for (c = list, checked++; *c; c++)
			checked += *c == ',';
		lost += check(path, list);
	}
	if (umount("/mnt"))
		printf("@@harness error umount /mnt: %s\n", strerror(errno));
	printf("@@harness cut %d %s checked=%d\n", k, lost ? "lost" : "ok", checked);
	fflush(stdout);
	return lost ? 1 : 0;
}

static int cuts(const char *listdev, const char *opts)
{
	static char text[1 << 20];
	char *line, *save = NULL;
	int fd = open(listdev, O_RDONLY), failed = 0;
	ssize_t n;

	if (fd < 0 || (n = read(fd, text, sizeof(text) - 1)) <= 0) {
		printf("@@harness error cannot read the cut list %s\n", listdev);
		return 2;
	}
	close(fd);
	text[n] = 0;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "block ", 6))
			block = strtoul(line + 6, NULL, 0);
		else if (!strncmp(line, "cut ", 4))
			failed |= check_cut(line, opts);
	}
	return failed;
}

static int check(const char *path, const char *list)
{
	void *want = aligned(block), *got = aligned(block);
	int fd = open(path, O_RDONLY | O_DIRECT), lost = 0, n = 0;
	char *copy = strdup(list), *tok, *save = NULL;

	if (fd < 0) {
		printf("@@harness lost %s all (%s: %s)\n", mode, path, strerror(errno));
		return 1;
	}
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save), n++) {
		int index = atoi(tok);

		fill(want, index);
		if (pread(fd, got, block, (off_t)index * block) != (ssize_t)block ||
		    memcmp(want, got, block)) {
			printf("@@harness lost %s %d\n", mode, index);
			lost++;
		}
	}
	printf("checked %d %s writes in %s: %d lost\n", n, mode, path, lost);
	fflush(stdout);
	close(fd);
	free(copy);
	free(want);
	free(got);
	return lost ? 1 : 0;
}

int main(int argc, char **argv)
{
	int count, fd, sync_flag = O_DSYNC;
	char prep[32] = "cow", *plus;
	long long direct;

	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "cuts"))
		return cuts(argv[2], argc == 4 ? argv[3] : "");
	if (argc == 6 && !strcmp(argv[1], "check")) {
		mode = argv[2];
		block = strtoul(argv[4], NULL, 0);
		return check(argv[3], argv[5]);
	}

	if (argc < 7 || argc > 9) {
		fprintf(stderr, "usage: %s psync|libaio|uring FILE COUNT BLOCK MARKDEV MARKOFF "
			"[DEPTH [cow|nocow|prealloc|extend][+sync]]\n", argv[0]);
		return 2;
	}
	if (argc >= 8)
		depth = atoi(argv[7]);
	if (argc == 9 && strlen(argv[8]) < sizeof(prep))
		strcpy(prep, argv[8]);
	else if (argc == 9)
		die("prep", EINVAL);
	plus = strchr(prep, '+');
	if (plus && !strcmp(plus, "+sync")) {
		*plus = 0;
		sync_flag = O_SYNC;
	} else if (plus) {
		die("prep", EINVAL);
	}
	if (depth < 1 || depth > MAXDEPTH)
		die("depth", EINVAL);
	mode = argv[1];
	count = atoi(argv[3]);
	block = strtoul(argv[4], NULL, 0);
	markoff = strtoll(argv[6], NULL, 0);
	if (count <= 0 || block == 0 || block % 4096)
		die("arguments", EINVAL);
	markfd = open(argv[5], O_WRONLY | O_DIRECT);
	if (markfd < 0)
		die("open marker device", errno);
	mark_phase("prepare");
	prepare(argv[2], count, prep);
	mark_phase("measured");
	fd = open(argv[2], O_WRONLY | O_DIRECT | sync_flag);
	if (fd < 0)
		die("open", errno);
	if (!strcmp(mode, "psync"))
		run_psync(fd, count);
	else if (!strcmp(mode, "libaio"))
		run_async(fd, count, 0);
	else if (!strcmp(mode, "uring"))
		run_async(fd, count, 1);
	else
		die("mode", EINVAL);
	close(fd);
	printf("acknowledged %d %s writes\n", count, mode);
	/* the acknowledged writes were all meant to go direct; the prefill's
	 * lie in the prepare phase, which the evidence leaves out */
	direct = (long long)count * block;
	printf("@@harness stat writes=%d bytes=%lld direct_bytes=%lld\n", count, direct, direct);
	return 0;
}
