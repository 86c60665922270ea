// SPDX-License-Identifier: GPL-2.0
/*
 * dsync_shapes: the O_DSYNC / O_DIRECT write shapes that deadlocked, crashed
 * or raced in btrfs, as real threads (no interpreter lock), each verifying
 * what it wrote.  The harness compiles it on the host; the guest runs it in
 * the test file system's mount point.
 *
 *   dsync_shapes MODE [-n COUNT] [-b BLOCK] [-d DEPTH] [-t SECONDS] [-m MIN]
 *
 *   extending   (a) extending O_DIRECT|O_DSYNC pwrite
 *   overwrite   (b) O_DIRECT|O_DSYNC overwrites inside EOF (file prefilled)
 *   libaio      (c) libaio O_DIRECT writes on an O_DSYNC file, DEPTH in flight
 *   io_uring    (d) io_uring O_DIRECT writes on an O_DSYNC file, DEPTH in flight
 *   rwf-dsync   (e) pwritev2(..., RWF_DSYNC) on an O_DIRECT fd
 *   unaligned   (f) 512 KiB at offset 1111 from a misaligned buffer (btrfs/234),
 *                   then an aligned direct write after it
 *   fsync-race  (g) one thread loops 4 KiB O_DIRECT pwrite at offset 0, another
 *                   loops fsync on the same fd, for SECONDS (generic/364),
 *                   and on until each thread did MIN rounds (a slow guest
 *                   still races as often as it claims), 20 s more at most
 *   overwrite-race (k) two threads, on two CPUs, each with its own fd, loop
 *                   4 KiB O_DIRECT|O_DSYNC overwrites inside EOF of one file
 *                   (offsets 0 and 64 KiB),
 *                   for SECONDS: both hold the inode lock shared, and one
 *                   thread's fsync can log the other's write, whose own fsync
 *                   then finds nothing to log (e0391e92f9ab's exit)
 *
 * Threads are pinned to different CPUs where there are several.  The task
 * that issues writes is named "kdsync-write", the fsync loop "kdsync-fsync"
 * and the read-back "kdsync-verify": the guest's kprobe on
 * iomap_dio_complete() records the name of the task it ran in, which tells
 * a completion run inline by the submitter from one run by a dio worker.
 *
 * Output: "@@harness progress N" while writing, "@@harness stat KEY=VALUE..."
 * with what was done (writes, fsyncs, the CPU each thread ran on), and
 * "@@harness verify-failed WHY" (exit 3) when data read back with O_DIRECT
 * is not what was written.  Exit 2: bad usage; 4: a system call failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libaio.h>
#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "kdsync.h"

#define MAXDEPTH KD_MAXDEPTH

static const char *mode;
static int count = 16, depth = 16;
static size_t block = 65536;
static double seconds = 4.0;
static long long race_min = 0;        /* rounds each race thread does at least */
#define RACE_MAX_EXTRA 20.0           /* seconds past -t that -m may take */

static void die(const char *what, int err)
{
	printf("@@harness error dsync_shapes %s: %s: %s\n", mode, what, strerror(err));
	fflush(stdout);
	exit(4);
}

static void verify_failed(const char *fmt, long long a, long long b)
{
	printf("@@harness verify-failed %s: ", mode);
	printf(fmt, a, b);
	printf("\n");
	fflush(stdout);
	exit(3);
}

static void progress(int n)
{
	printf("@@harness progress %d\n", n);
	fflush(stdout);
}

static void name_task(const char *name)
{
	prctl(PR_SET_NAME, name, 0, 0, 0);
}

static int ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}

/* pin the calling thread to CPU (cpu % online CPUs) */
static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu % ncpus(), &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* the content of write INDEX of this mode: LEN bytes */
static void fill(void *buf, size_t len, uint64_t index)
{
	uint64_t seed = ((uint64_t)(unsigned char)mode[0] << 40) ^
			((uint64_t)(unsigned char)mode[1] << 32) ^ index;
	unsigned char *p = buf;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t v = splitmix(&seed);

		memcpy(p + i, &v, 8);
	}
	for (; i < len; i++)
		p[i] = (unsigned char)splitmix(&seed);
}

static int open_file(const char *path, int flags)
{
	int fd = open(path, flags, 0644);

	if (fd < 0)
		die(path, errno);
	return fd;
}

static void write_all(int fd, const void *buf, size_t len, off_t off, const char *what)
{
	ssize_t n = pwrite(fd, buf, len, off);

	if (n < 0)
		die(what, errno);
	if ((size_t)n != len)
		verify_failed("short write: %lld of %lld bytes", n, (long long)len);
}

/* read [off, off+len) back with O_DIRECT (no page cache) into out */
static void read_direct(const char *path, off_t off, size_t len, unsigned char *out)
{
	off_t start = off & ~4095LL;
	size_t span = ((off + len - start) + 4095) & ~4095UL;
	unsigned char *buf = aligned(span);
	int fd = open_file(path, O_RDONLY | O_DIRECT);
	ssize_t got = pread(fd, buf, span, start);

	if (got < 0)
		die("read back", errno);
	if ((size_t)got < off - start + len)
		verify_failed("short read back at offset %lld: %lld bytes", (long long)off,
			      (long long)got);
	memcpy(out, buf + (off - start), len);
	close(fd);
	free(buf);
}

/* every (offset, index, len) of `n` writes reads back as written */
struct extent { off_t off; uint64_t index; size_t len; };

static void verify_in_thread(const char *path, const struct extent *ext, int n)
{
	unsigned char *want, *got;
	struct stat st;
	int i;

	if (stat(path, &st))
		die("stat", errno);
	for (i = 0; i < n; i++) {
		if (st.st_size < ext[i].off + (off_t)ext[i].len)
			verify_failed("file size %lld < end of a write at %lld", st.st_size,
				      (long long)(ext[i].off + ext[i].len));
		want = malloc(ext[i].len);
		got = malloc(ext[i].len);
		if (!want || !got)
			die("malloc", ENOMEM);
		fill(want, ext[i].len, ext[i].index);
		read_direct(path, ext[i].off, ext[i].len, got);
		if (memcmp(want, got, ext[i].len)) {
			size_t k = 0;

			while (want[k] == got[k])
				k++;
			verify_failed("data mismatch at offset %lld (write %lld)",
				      (long long)(ext[i].off + k), (long long)ext[i].index);
		}
		free(want);
		free(got);
	}
	printf("verified %d extents of %s\n", n, path);
	printf("@@harness stat verified=%d\n", n);
	fflush(stdout);
}

struct verify_args { const char *path; const struct extent *ext; int n; };

static void *verify_thread(void *arg)
{
	struct verify_args *a = arg;

	name_task("kdsync-verify");
	verify_in_thread(a->path, a->ext, a->n);
	return NULL;
}

/* read back in a task of its own: its direct reads are told apart from the
 * writes in the kernel-side evidence by the task's name */
static void verify(const char *path, const struct extent *ext, int n)
{
	struct verify_args a = { path, ext, n };
	pthread_t t;

	if (pthread_create(&t, NULL, verify_thread, &a))
		die("pthread_create", errno);
	pthread_join(t, NULL);
}

static struct extent *extents(int n)
{
	struct extent *e = calloc(n, sizeof(*e));

	if (!e)
		die("calloc", ENOMEM);
	return e;
}

/* what was written, and how much of it (bytes, writes) was meant to go
 * direct */
static void stat_writes(int writes, long long bytes, long long direct, int direct_writes)
{
	printf("@@harness stat writes=%d bytes=%lld direct_bytes=%lld direct_writes=%d cpus=%d "
	       "writer_cpu=%d\n", writes, bytes, direct, direct_writes, ncpus(), sched_getcpu());
	fflush(stdout);
}

/* the measured phase starts here: the guest's evidence counts only the
 * events after this mark in the trace (a prefill's writes, completions and
 * fsync are not the shape's) */
static void phase_measured(void)
{
	int fd = open("/sys/kernel/tracing/trace_marker", O_WRONLY);

	/* unmarked, the guest's counts would take the preparation for the
	 * measured phase: say so, and the evidence proves nothing */
	if (fd < 0 || write(fd, "kdsync-phase measured\n", 22) != 22)
		printf("@@harness evidence phase-unmarked trace_marker: %s\n", strerror(errno));
	if (fd >= 0)
		close(fd);
	fflush(stdout);
}

/* (a) and (e): extending direct writes, O_DSYNC or RWF_DSYNC */
static void extending(int rwf)
{
	const char *path = rwf ? "rwf-dsync.dat" : "extending.dat";
	int fd = open_file(path, O_CREAT | O_TRUNC | O_WRONLY | O_DIRECT | (rwf ? 0 : O_DSYNC));
	struct extent *ext = extents(count);
	void *buf = aligned(block);
	int i;

	for (i = 0; i < count; i++) {
		fill(buf, block, i);
		if (rwf) {
			struct iovec iov = { buf, block };
			ssize_t n = pwritev2(fd, &iov, 1, (off_t)i * block, RWF_DSYNC);

			if (n < 0)
				die("pwritev2", errno);
			if ((size_t)n != block)
				verify_failed("short write: %lld of %lld", n, (long long)block);
		} else {
			write_all(fd, buf, block, (off_t)i * block, "pwrite");
		}
		ext[i] = (struct extent){ (off_t)i * block, i, block };
		progress(i + 1);
	}
	stat_writes(count, (long long)count * block, (long long)count * block, count);
	close(fd);
	verify(path, ext, count);
}

/* prefill with zeros by direct writes (no page cache, and no buffered
 * ordered extents in the evidence) and make it stable: every direct write
 * after this is an overwrite inside EOF */
static void prefill(const char *path, off_t size)
{
	int fd = open_file(path, O_CREAT | O_TRUNC | O_WRONLY | O_DIRECT);
	void *zero = aligned(block);
	off_t off;

	memset(zero, 0, block);
	for (off = 0; off < size; off += block)
		write_all(fd, zero, block, off, "prefill");
	if (fsync(fd))
		die("fsync", errno);
	close(fd);
	free(zero);
}

/* (b) overwrites inside EOF, last block first */
static void overwrite(void)
{
	const char *path = "overwrite.dat";
	struct extent *ext = extents(count);
	void *buf = aligned(block);
	struct stat st;
	int fd, i, n = 0;

	prefill(path, (off_t)count * block);
	phase_measured();
	fd = open_file(path, O_WRONLY | O_DIRECT | O_DSYNC);
	for (i = count - 1; i >= 0; i--, n++) {
		fill(buf, block, i);
		write_all(fd, buf, block, (off_t)i * block, "pwrite");
		ext[n] = (struct extent){ (off_t)i * block, i, block };
		progress(n + 1);
	}
	stat_writes(count, (long long)count * block, (long long)count * block, count);
	close(fd);
	if (stat(path, &st) || st.st_size != (off_t)((off_t)count * (off_t)block))
		verify_failed("size changed to %lld (want %lld)", st.st_size,
			      (long long)count * block);
	verify(path, ext, count);
}

/* (f) btrfs/234: a non-aligned write (falls back to buffered), then a
 * direct one after it */
static void unaligned(void)
{
	const char *path = "unaligned.dat";
	size_t size = 512 * 1024;
	off_t offset = 1111, tail_off = 1024 * 1024;
	unsigned char *backing = aligned(size + 4096);
	void *tail = aligned(block);
	struct extent ext[2] = { { offset, 0, size }, { tail_off, 1, block } };
	int fd = open_file(path, O_CREAT | O_TRUNC | O_WRONLY | O_DIRECT | O_DSYNC);

	fill(backing + 1, size, 0);
	write_all(fd, backing + 1, size, offset, "non-aligned pwrite");
	progress(1);
	fill(tail, block, 1);
	write_all(fd, tail, block, tail_off, "aligned pwrite after it");
	progress(2);
	stat_writes(2, (long long)(size + block), (long long)block, 1);
	close(fd);
	verify(path, ext, 2);
}

/* the async shapes' writes: write INDEX's data, and its completion */
static struct extent *async_ext;
static int async_done;

static void async_fill(void *buf, int index)
{
	fill(buf, block, (uint64_t)index);
}

static void async_complete(int index, void *buf, long res)
{
	if (res < 0)
		die(mode[0] == 'i' ? "uring write" : "aio write", (int)-res);
	if (res != (long)block)
		verify_failed(mode[0] == 'i' ? "short uring write: %lld of %lld"
			      : "short aio write: %lld of %lld", res, (long long)block);
	async_ext[async_done++] = (struct extent){ (off_t)index * block, index, block };
	progress(async_done);
}

/* (c), (d) libaio or io_uring, DEPTH in flight, extending writes of an
 * O_DSYNC file */
static void run_async(const char *path, int uring)
{
	int fd = open_file(path, O_CREAT | O_TRUNC | O_WRONLY | O_DIRECT | O_DSYNC);
	struct kd_writes w = { fd, count, depth, block, async_fill, async_complete };

	async_ext = extents(count);
	async_done = 0;
	if (uring)
		kd_uring(&w);
	else
		kd_libaio(&w);
	stat_writes(count, (long long)count * block, (long long)count * block, count);
	close(fd);
	verify(path, async_ext, count);
}

/* (g) generic/364: direct writes and fsync on the same fd, at once */
static atomic_int race_stop;
static atomic_llong race_writes, race_fsyncs;
static int race_fd, race_error, writer_cpu = -1, syncer_cpu = -1;

static void *race_syncer(void *arg)
{
	(void)arg;
	pin(1);
	name_task("kdsync-fsync");
	while (!atomic_load(&race_stop)) {
		if (fsync(race_fd)) {
			race_error = errno;
			break;
		}
		atomic_fetch_add(&race_fsyncs, 1);
	}
	syncer_cpu = sched_getcpu();
	return NULL;
}

/* (k)'s second writer: O_DSYNC overwrites at 64 KiB, through a file
 * descriptor of its own (one struct file per writer: the shape races two
 * writers of one inode, not two users of one fd, which is fsync-race's) */
static atomic_llong second_writes;
static long long second_last = -1;
static int second_fd = -1;

static void *second_writer(void *arg)
{
	void *buf = aligned(4096);

	(void)arg;
	pin(1);
	name_task("kdsync-write2");
	while (!atomic_load(&race_stop) && !race_error) {
		long long i = atomic_load(&second_writes);

		fill(buf, 4096, (1ULL << 32) + (uint64_t)i);
		if (pwrite(second_fd, buf, 4096, 65536) != 4096) {
			race_error = errno ? errno : EIO;
			break;
		}
		second_last = i;
		atomic_fetch_add(&second_writes, 1);
	}
	syncer_cpu = sched_getcpu();
	free(buf);
	return NULL;
}

/* (g) generic/364: direct writes and fsync on the same fd, at once;
 * (k) two O_DSYNC direct overwriters of one file, at once */
static void fsync_race(int overwriters)
{
	const char *path = overwriters ? "overwrite-race.dat" : "fsync-race.dat";
	size_t len = 4096;
	void *buf = aligned(len);
	double end, next_report;
	pthread_t t;
	long long i = 0, mine, other;
	struct extent ext[2];

	if (overwriters) {
		prefill(path, 2 * 65536);
		phase_measured();
	}
	race_fd = open_file(path, overwriters ? O_RDWR | O_DIRECT | O_DSYNC
					      : O_CREAT | O_TRUNC | O_RDWR | O_DIRECT);
	if (overwriters)
		second_fd = open_file(path, O_RDWR | O_DIRECT | O_DSYNC);
	pin(0);
	name_task("kdsync-write");
	if (pthread_create(&t, NULL, overwriters ? second_writer : race_syncer, NULL))
		die("pthread_create", errno);
	end = now() + seconds;
	next_report = now() + 0.5;
	while (!race_error && (now() < end || (now() < end + RACE_MAX_EXTRA &&
		(atomic_load(&race_writes) < race_min ||
		 atomic_load(overwriters ? &second_writes : &race_fsyncs) < race_min)))) {
		fill(buf, len, i);
		write_all(race_fd, buf, len, 0, "pwrite");
		atomic_fetch_add(&race_writes, 1);
		i++;
		if (now() >= next_report) {
			progress((int)i);
			next_report = now() + 0.5;
		}
	}
	writer_cpu = sched_getcpu();
	atomic_store(&race_stop, 1);
	pthread_join(t, NULL);
	if (race_error)
		die(overwriters ? "second writer" : "fsync", race_error);
	if (fsync(race_fd))
		die("final fsync", errno);
	/* each writer's own direct bytes too: one thread's direct writes must
	 * not hide the other's going buffered (the guest counts each task's
	 * DIRECT ordered extents) */
	mine = (long long)i * (long long)len;
	other = overwriters ? (long long)atomic_load(&second_writes) * 4096 : 0;
	printf("@@harness stat-thread task=kdsync-write direct_bytes=%lld\n", mine);
	if (overwriters)
		printf("@@harness stat-thread task=kdsync-write2 direct_bytes=%lld\n", other);
	printf("@@harness stat writes=%lld fsyncs=%lld bytes=%lld direct_bytes=%lld cpus=%d "
	       "writer_cpu=%d fsync_cpu=%d seconds=%.1f min=%lld\n", (long long)atomic_load(&race_writes),
	       (long long)(overwriters ? atomic_load(&second_writes) : atomic_load(&race_fsyncs)),
	       mine + other, mine + other, ncpus(), writer_cpu, syncer_cpu, seconds, race_min);
	fflush(stdout);
	close(race_fd);
	ext[0] = (struct extent){ 0, (uint64_t)(i - 1), len };
	ext[1] = (struct extent){ 65536, (1ULL << 32) + (uint64_t)second_last, len };
	verify(path, ext, overwriters && second_last >= 0 ? 2 : 1);
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s extending|overwrite|libaio|io_uring|rwf-dsync|unaligned|"
		"fsync-race|overwrite-race [-n COUNT] [-b BLOCK] [-d DEPTH] [-t SECONDS] [-m MIN]\n", argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	int opt;

	if (argc < 2)
		usage(argv[0]);
	mode = argv[1];
	optind = 2;
	while ((opt = getopt(argc, argv, "n:b:d:t:m:")) != -1) {
		switch (opt) {
		case 'n': count = atoi(optarg); break;
		case 'b': block = strtoul(optarg, NULL, 0); break;
		case 'd': depth = atoi(optarg); break;
		case 't': seconds = atof(optarg); break;
		case 'm': race_min = atoll(optarg); break;
		default: usage(argv[0]);
		}
	}
	if (count < 1 || block < 4096 || block % 4096 || depth < 1 || depth > MAXDEPTH ||
	    seconds <= 0 || race_min < 0)
		usage(argv[0]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(mode, "fsync-race") && strcmp(mode, "overwrite-race")) {
		pin(0);
		name_task("kdsync-write");
	}
	if (!strcmp(mode, "extending"))
		extending(0);
	else if (!strcmp(mode, "rwf-dsync"))
		extending(1);
	else if (!strcmp(mode, "overwrite"))
		overwrite();
	else if (!strcmp(mode, "unaligned"))
		unaligned();
	else if (!strcmp(mode, "libaio"))
		run_async("libaio.dat", 0);
	else if (!strcmp(mode, "io_uring"))
		run_async("io_uring.dat", 1);
	else if (!strcmp(mode, "fsync-race"))
		fsync_race(0);
	else if (!strcmp(mode, "overwrite-race"))
		fsync_race(1);
	else
		usage(argv[0]);
	return 0;
}
