// SPDX-License-Identifier: GPL-2.0
/*
 * explore: the explorer's one guest program (harness/explore.py).  It
 * interprets generated cases, with no shell per case, and checks the
 * power-cut images the host rebuilt from the write log.
 *
 *   explore run CASEDEV DATADEV OUTDEV
 *   explore check PLANDEV LOGDEV
 *   explore repro CASEFILE DEV ack:N|step:S  (a standalone reproducer: below)
 *
 * run: CASEDEV holds text, NUL-padded, one case after the other:
 *
 *     case ID START_SECTOR SECTORS FS DELAY_MS MOUNT_OPTIONS|-
 *     mkfs PROGRAM ARG...                 (the device is appended)
 *     op NAME ARG...                      (the primitives, below)
 *     measure FILE OPEN ENGINE FLAGS RWF POST COUNT OFF LEN STRIDE DEPTH SEED
 *     op NAME ARG...                      (between the acks and the cut)
 *     end
 *
 * Every case gets a fresh file system on its own region of DATADEV (the
 * disk whose writes and flushes QEMU logs), through dm-linear, or dm-delay
 * when DELAY_MS > 0 (so that AIO completions run in a worker), mounted on
 * /mnt.  Files are /mnt/NAME.  The primitives (op):
 *
 *     create F [nocow]        O_CREAT|O_EXCL (chattr +C while empty)
 *     write F OFF LEN SEED direct|buffered
 *     falloc F OFF LEN keep|size
 *     punch F OFF LEN         truncate F SIZE
 *     fsync F   fdatasync F   syncfs   sync
 *     reflink SRC DST         (FICLONE: DST made a clone of SRC)
 *     snapshot NAME           (btrfs: the mount's subvolume snapshotted)
 *     chmod F MODE   setxattr F   chattr F A|S|d   rename F G   unlink F
 *     link F G   mkdir D
 *
 * measure: COUNT writes of LEN bytes at OFF, OFF+STRIDE, ..., DEPTH in
 * flight, to FILE opened O_DIRECT and OPEN (dsync, sync, none), through
 * ENGINE (pwrite, pwritev2, libaio, uring) with FLAGS (nowait, async: a
 * comma list or -) and the per-write RWF (dsync, sync, none), each followed
 * by POST (fdatasync, fsync, none).  A write is acknowledged when it (and
 * its POST) returned all its bytes.  With nowait, a write that returns
 * EAGAIN is issued again without it, as an application would.
 *
 * Write i's data: every 512-byte unit u of the file it covers holds
 * content(SEED + i, u) (splitmix); the check recomputes it.
 *
 * Everything the host needs to judge the case goes to the kernel's trace
 * through trace_marker, in the kernel's own order with the block layer's
 * events on DATADEV (issue and completion of every request, flushes and FUA
 * included) and the probes:
 *
 *     kdx case ID start|mounted|end rc=N
 *     kdx op ID SEQ start NAME ...    kdx op ID SEQ end rc=N
 *     kdx w ID SEQ I FILE OFF LEN SEED      (a measured write issued)
 *     kdx ack ID SEQ I RES                  (acknowledged: RES bytes)
 *     kdx err ID SEQ I RES                  (not acknowledged: -errno)
 *
 * At the end the trace and its loss counters go to OUTDEV ("KDXOUT 1"
 * header, then the text, NUL-terminated).  The console gets one line a case:
 * "@@harness progress xcase ID rc=N acks=A" (after "@@harness progress xstart ID").
 *
 * check: PLANDEV holds one image after the other:
 *
 *     image K FS SIZE MOUNT_OPTIONS|- FSCK
 *     apply LOGOFF DST LEN      (LEN bytes of LOGDEV at LOGOFF, to DST)
 *     zero DST LEN
 *     known PATH SEED,...       (every version PATH ever had: names a find)
 *     expect PATH[|PATH2] UNIT COUNT V,...   (V: a seed, z: zeros,
 *                                             a: past EOF or no file)
 *     end
 *
 * Each image is built in a sparse tmpfs file, mounted through a loop device
 * (the file system replays its log, as after a real power cut), every
 * expected unit is read back, the file system is unmounted and its fsck
 * run (FSCK 1), and the console gets
 *
 *     @@harness progress xcut K ok|lost|mount-failed|fsck-failed|error DETAIL
 *
 * repro: one case file (the "case" block above, then the known and expect
 * lines of one cut) run on a dm-flakey device over DEV: right after the
 * N-th acknowledgement (ack:N), or step S (step:S), the program loads
 * flakey's drop_writes table (a power cut: nothing more reaches the disk),
 * unmounts, loads the pass-through table again, mounts and checks.  Exit
 * 0: kept, 1: lost, 2: not reproduced (the case never got to the cut).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libaio.h>
#include <linux/btrfs.h>
#include <linux/dm-ioctl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <liburing.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "kdsync.h"

#define UNIT 512
#define MAXTOK 64
#define MAXDEPTH 16
#define MNT "/mnt"
#define TRACE "/sys/kernel/tracing"

static int markfd = -1;
static long case_id;
static int cur_seq;

static void die(const char *what, int err)
{
	printf("@@harness error explore %s: %s\n", what, strerror(err));
	fflush(stdout);
	exit(3);
}

/* ------------------------------------------------------------- content */

/* the 512 bytes of unit `unit` of a file, in the version `seed` */
static void content(uint64_t seed, uint64_t unit, unsigned char *out)
{
	uint64_t s = seed ^ (unit * 0xd1b54a32d192ed03ULL), *w = (uint64_t *)out;
	int i;

	for (i = 0; i < UNIT / 8; i++)
		w[i] = splitmix(&s);
}

static void fill(unsigned char *buf, uint64_t seed, off_t off, size_t len)
{
	size_t k;

	for (k = 0; k < len; k += UNIT)
		content(seed, (uint64_t)(off + k) / UNIT, buf + k);
}

/* ------------------------------------------------------------- markers */

static void mark(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	if (markfd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0 && write(markfd, buf, (size_t)n) != n)
		die("trace_marker write", errno);
}

/* --------------------------------------------------------- small tools */

static int split(char *line, char **tok)
{
	int n = 0;
	char *save = NULL, *t;

	for (t = strtok_r(line, " \t\n", &save); t && n < MAXTOK; t = strtok_r(NULL, " \t\n", &save))
		tok[n++] = t;
	return n;
}

static long long num(const char *s)
{
	return strtoll(s, NULL, 0);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_TRUNC), ok;

	if (fd < 0)
		return -errno;
	ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	close(fd);
	return ok ? 0 : -EIO;
}

static int append_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_APPEND), ok;

	if (fd < 0)
		return -errno;
	ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	close(fd);
	return ok ? 0 : -errno;
}

/* fork + exec ARGV, its output to OUT (NULL: /dev/null); the exit status */
static int run_prog(char **argv, char *out, size_t outlen)
{
	int p[2], status;
	pid_t pid;
	ssize_t n;
	size_t got = 0;

	if (pipe(p))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[0]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	while ((n = read(p[0], out ? out + got : (char[256]){0},
			 out ? outlen - 1 - got : 255)) > 0)
		if (out && (got += (size_t)n) >= outlen - 1)
			break;
	if (out)
		out[got] = 0;
	close(p[0]);
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static char *last_line(char *text)
{
	char *end = text + strlen(text), *p;

	while (end > text && (end[-1] == '\n' || end[-1] == ' '))
		*--end = 0;
	p = strrchr(text, '\n');
	return p ? p + 1 : text;
}

static char *read_dev_text(const char *dev, size_t max)
{
	char *text = malloc(max + 1);
	int fd = open(dev, O_RDONLY);
	ssize_t n, got = 0;

	if (!text || fd < 0)
		die(dev, errno);
	while ((size_t)got < max && (n = read(fd, text + got, max - (size_t)got)) > 0)
		got += n;
	close(fd);
	text[got] = 0;
	return text;                    /* NUL-padded: the text ends at the first NUL */
}

/* ------------------------------------------------------ device mapper */

static int dm_ioctl(unsigned long cmd, const char *name, const char *type,
		    unsigned long long sectors, const char *params, dev_t *dev)
{
	char buf[16384] __attribute__((aligned(8)));
	struct dm_ioctl *io = (struct dm_ioctl *)buf;
	struct dm_target_spec *spec;
	int fd, ret;

	memset(buf, 0, sizeof(buf));
	io->version[0] = DM_VERSION_MAJOR;
	io->version[1] = 0;
	io->version[2] = 0;
	io->data_size = sizeof(buf);
	io->data_start = sizeof(*io);
	strncpy(io->name, name, sizeof(io->name) - 1);
	if (type) {
		io->target_count = 1;
		spec = (struct dm_target_spec *)(buf + sizeof(*io));
		spec->sector_start = 0;
		spec->length = sectors;
		strncpy(spec->target_type, type, sizeof(spec->target_type) - 1);
		strcpy((char *)(spec + 1), params);
		spec->next = 0;
	}
	fd = open("/dev/mapper/control", O_RDWR);
	if (fd < 0)
		return -errno;
	ret = ioctl(fd, cmd, io) ? -errno : 0;
	close(fd);
	if (!ret && dev)
		*dev = (dev_t)io->dev;
	return ret;
}

/* a dm device NAME of one target; its node made at PATH */
static int dm_create(const char *name, const char *type, unsigned long long sectors,
		     const char *params, char *path, size_t pathlen)
{
	dev_t dev = 0;
	int ret;

	ret = dm_ioctl(DM_DEV_CREATE, name, NULL, 0, NULL, NULL);
	if (ret)
		return ret;
	ret = dm_ioctl(DM_TABLE_LOAD, name, type, sectors, params, NULL);
	if (!ret)
		ret = dm_ioctl(DM_DEV_SUSPEND, name, NULL, 0, NULL, &dev);   /* resume */
	if (ret) {
		dm_ioctl(DM_DEV_REMOVE, name, NULL, 0, NULL, NULL);
		return ret;
	}
	snprintf(path, pathlen, "/run/%s", name);
	unlink(path);
	if (mknod(path, S_IFBLK | 0600, dev))
		return -errno;
	return 0;
}

/* load TYPE PARAMS into the live device NAME (suspend, load, resume) */
static int dm_reload(const char *name, const char *type, unsigned long long sectors,
		     const char *params)
{
	char buf[sizeof(struct dm_ioctl)] __attribute__((aligned(8)));
	struct dm_ioctl *io = (struct dm_ioctl *)buf;
	int fd, ret;

	memset(buf, 0, sizeof(buf));
	io->version[0] = DM_VERSION_MAJOR;
	io->data_size = sizeof(buf);
	io->data_start = sizeof(*io);
	io->flags = DM_SUSPEND_FLAG;
	strncpy(io->name, name, sizeof(io->name) - 1);
	fd = open("/dev/mapper/control", O_RDWR);
	if (fd < 0)
		return -errno;
	ret = ioctl(fd, DM_DEV_SUSPEND, io) ? -errno : 0;
	close(fd);
	if (ret)
		return ret;
	ret = dm_ioctl(DM_TABLE_LOAD, name, type, sectors, params, NULL);
	if (ret)
		return ret;
	return dm_ioctl(DM_DEV_SUSPEND, name, NULL, 0, NULL, NULL);
}

static void dm_remove(const char *name)
{
	char path[64];

	dm_ioctl(DM_DEV_REMOVE, name, NULL, 0, NULL, NULL);
	snprintf(path, sizeof(path), "/run/%s", name);
	unlink(path);
}

static long read_taint(void)
{
	char buf[32] = "";
	int fd = open("/proc/sys/kernel/tainted", O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	return n > 0 ? atol(buf) : -1;
}

/* ---------------------------------------------------------------- ops */

static char *path_of(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, MNT "/%s", name);
	return buf;
}

static int do_write(const char *file, off_t off, size_t len, uint64_t seed, int direct)
{
	char p[256];
	unsigned char *buf = aligned(len ? len : UNIT);
	int fd = open(path_of(file, p, sizeof(p)), O_WRONLY | O_CREAT | (direct ? O_DIRECT : 0), 0644);
	ssize_t n = -1;

	if (fd >= 0) {
		fill(buf, seed, off, len);
		n = pwrite(fd, buf, len, off);
		if (n < 0)
			n = -errno;
		close(fd);
	} else {
		n = -errno;
	}
	free(buf);
	return n == (ssize_t)len ? 0 : n < 0 ? (int)n : -EIO;
}

static int with_fd(const char *file, int flags, int (*fn)(int fd, char **tok), char **tok)
{
	char p[256];
	int fd = open(path_of(file, p, sizeof(p)), flags), ret;

	if (fd < 0)
		return -errno;
	ret = fn(fd, tok);
	close(fd);
	return ret;
}

static int f_fsync(int fd, char **tok) { (void)tok; return fsync(fd) ? -errno : 0; }
static int f_fdatasync(int fd, char **tok) { (void)tok; return fdatasync(fd) ? -errno : 0; }
static int f_syncfs(int fd, char **tok) { (void)tok; return syncfs(fd) ? -errno : 0; }

static int f_falloc(int fd, char **tok)
{
	int mode = !strcmp(tok[4], "keep") ? FALLOC_FL_KEEP_SIZE : 0;

	return fallocate(fd, mode, num(tok[2]), num(tok[3])) ? -errno : 0;
}

static int f_punch(int fd, char **tok)
{
	return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, num(tok[2]),
			 num(tok[3])) ? -errno : 0;
}

static int f_truncate(int fd, char **tok) { return ftruncate(fd, num(tok[2])) ? -errno : 0; }
static int f_chmod(int fd, char **tok) { return fchmod(fd, (mode_t)strtol(tok[2], NULL, 8)) ? -errno : 0; }

static int f_setxattr(int fd, char **tok)
{
	(void)tok;
	return fsetxattr(fd, "user.kdx", "explorer", 8, 0) ? -errno : 0;
}

static int set_flag(int fd, int flag)
{
	int flags = 0;

	if (ioctl(fd, FS_IOC_GETFLAGS, &flags))
		return -errno;
	flags |= flag;
	return ioctl(fd, FS_IOC_SETFLAGS, &flags) ? -errno : 0;
}

static int f_chattr(int fd, char **tok)
{
	int flag = tok[2][0] == 'A' ? FS_NOATIME_FL : tok[2][0] == 'S' ? FS_SYNC_FL :
		   tok[2][0] == 'd' ? FS_NODUMP_FL : tok[2][0] == 'C' ? FS_NOCOW_FL : 0;

	return flag ? set_flag(fd, flag) : -EINVAL;
}

static int op_create(char **tok, int n)
{
	char p[256];
	int fd = open(path_of(tok[1], p, sizeof(p)), O_CREAT | O_EXCL | O_WRONLY, 0644), ret = 0;

	if (fd < 0)
		return -errno;
	if (n > 2 && !strcmp(tok[2], "nocow"))
		ret = set_flag(fd, FS_NOCOW_FL);
	close(fd);
	return ret;
}

static int op_reflink(char **tok)
{
	char s[256], d[256];
	int src = open(path_of(tok[1], s, sizeof(s)), O_RDONLY), dst, ret;

	if (src < 0)
		return -errno;
	dst = open(path_of(tok[2], d, sizeof(d)), O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (dst < 0) {
		ret = -errno;
		close(src);
		return ret;
	}
	ret = ioctl(dst, FICLONE, src) ? -errno : 0;
	close(src);
	close(dst);
	return ret;
}

static int op_snapshot(char **tok)
{
	struct btrfs_ioctl_vol_args_v2 args;
	int fd = open(MNT, O_RDONLY | O_DIRECTORY), ret;

	if (fd < 0)
		return -errno;
	memset(&args, 0, sizeof(args));
	args.fd = fd;
	strncpy(args.name, tok[1], sizeof(args.name) - 1);
	ret = ioctl(fd, BTRFS_IOC_SNAP_CREATE_V2, &args) ? -errno : 0;
	close(fd);
	return ret;
}

static int op_two_paths(char **tok, int (*fn)(const char *, const char *))
{
	char a[256], b[256];

	return fn(path_of(tok[1], a, sizeof(a)), path_of(tok[2], b, sizeof(b))) ? -errno : 0;
}

static int op(char **tok, int n)
{
	const char *name = tok[0];

	if (!strcmp(name, "create") && n >= 2)
		return op_create(tok, n);
	if (!strcmp(name, "write") && n == 6)
		return do_write(tok[1], num(tok[2]), num(tok[3]), strtoull(tok[4], NULL, 16),
				!strcmp(tok[5], "direct"));
	if (!strcmp(name, "falloc") && n == 5)
		return with_fd(tok[1], O_WRONLY, f_falloc, tok);
	if (!strcmp(name, "punch") && n == 4)
		return with_fd(tok[1], O_WRONLY, f_punch, tok);
	if (!strcmp(name, "truncate") && n == 3)
		return with_fd(tok[1], O_WRONLY, f_truncate, tok);
	if (!strcmp(name, "fsync") && n == 2)
		return with_fd(tok[1], O_RDONLY, f_fsync, tok);
	if (!strcmp(name, "fdatasync") && n == 2)
		return with_fd(tok[1], O_RDONLY, f_fdatasync, tok);
	if (!strcmp(name, "syncfs") && n == 1)
		return with_fd(".", O_RDONLY | O_DIRECTORY, f_syncfs, tok);
	if (!strcmp(name, "sync") && n == 1) {
		sync();
		return 0;
	}
	if (!strcmp(name, "reflink") && n == 3)
		return op_reflink(tok);
	if (!strcmp(name, "snapshot") && n == 2)
		return op_snapshot(tok);
	if (!strcmp(name, "chmod") && n == 3)
		return with_fd(tok[1], O_RDONLY, f_chmod, tok);
	if (!strcmp(name, "setxattr") && n == 2)
		return with_fd(tok[1], O_RDONLY, f_setxattr, tok);
	if (!strcmp(name, "chattr") && n == 3)
		return with_fd(tok[1], O_RDONLY, f_chattr, tok);
	if (!strcmp(name, "rename") && n == 3)
		return op_two_paths(tok, rename);
	if (!strcmp(name, "link") && n == 3)
		return op_two_paths(tok, link);
	if (!strcmp(name, "unlink") && n == 2) {
		char p[256];

		return unlink(path_of(tok[1], p, sizeof(p))) ? -errno : 0;
	}
	if (!strcmp(name, "mkdir") && n == 2) {
		char p[256];

		return mkdir(path_of(tok[1], p, sizeof(p)), 0755) ? -errno : 0;
	}
	return -ENOSYS;
}

/* ------------------------------------------------------------ measure */

struct measure {
	const char *file;
	int open_flags, rwf, nowait, async, post, count, depth, seq;
	const char *engine;
	off_t off, stride;
	size_t len;
	uint64_t seed;
	int acks, cut_ack, cut_step;    /* repro: the power cut after this ack or step (0: none) */
	void (*cut)(void);
};

static struct measure M;

static off_t w_off(int i) { return M.off + (off_t)i * M.stride; }

static int post_sync(int fd)
{
	if (M.post == 1 && fdatasync(fd))
		return -errno;
	if (M.post == 2 && fsync(fd))
		return -errno;
	return 0;
}

/* a write finished with RES: acknowledged, or not */
static void finished(int fd, int i, long res)
{
	if (res > 0) {
		int ret = post_sync(fd);

		if (ret) {
			mark("kdx err %ld %d %d %d post", case_id, M.seq, i, ret);
			return;
		}
		mark("kdx ack %ld %d %d %ld", case_id, M.seq, i, res);
		M.acks++;
		if (M.cut && M.acks == M.cut_ack)
			M.cut();
	} else {
		mark("kdx err %ld %d %d %ld", case_id, M.seq, i, res);
	}
}

static void issued(int i)
{
	mark("kdx w %ld %d %d %s %lld %zu %016" PRIx64, case_id, M.seq, i, M.file,
	     (long long)w_off(i), M.len, M.seed + (uint64_t)i);
}

static void run_sync_engine(int fd, unsigned char *buf)
{
	int i;

	for (i = 0; i < M.count; i++) {
		ssize_t n;
		struct iovec iov = { buf, M.len };

		fill(buf, M.seed + (uint64_t)i, w_off(i), M.len);
		issued(i);
		if (!strcmp(M.engine, "pwrite")) {
			n = pwrite(fd, buf, M.len, w_off(i));
		} else {
			n = pwritev2(fd, &iov, 1, w_off(i), M.rwf | (M.nowait ? RWF_NOWAIT : 0));
			if (n < 0 && errno == EAGAIN && M.nowait) {
				mark("kdx retry %ld %d %d", case_id, M.seq, i);
				n = pwritev2(fd, &iov, 1, w_off(i), M.rwf);
			}
		}
		finished(fd, i, n < 0 ? -errno : n);
	}
}

static void run_libaio(int fd, unsigned char **bufs)
{
	io_context_t ctx = 0;
	struct iocb cbs[MAXDEPTH], *cbp;
	struct io_event ev[MAXDEPTH];
	int next = 0, inflight = 0, slot, n, k, ret;

	ret = io_setup(M.depth, &ctx);
	if (ret)
		die("io_setup", -ret);
	for (slot = 0; slot < M.depth && next < M.count; slot++, next++, inflight++) {
		fill(bufs[slot], M.seed + (uint64_t)next, w_off(next), M.len);
		io_prep_pwrite(&cbs[slot], fd, bufs[slot], M.len, w_off(next));
		cbs[slot].aio_rw_flags = M.rwf | (M.nowait ? RWF_NOWAIT : 0);
		cbs[slot].data = (void *)(long)next;
		cbp = &cbs[slot];
		issued(next);
		if ((ret = io_submit(ctx, 1, &cbp)) != 1)
			finished(fd, next, ret < 0 ? ret : -EIO), inflight--;
	}
	while (inflight) {
		n = io_getevents(ctx, 1, M.depth, ev, NULL);
		if (n < 0)
			die("io_getevents", -n);
		for (k = 0; k < n; k++) {
			int i;
			long res = (long)ev[k].res;

			cbp = ev[k].obj;
			i = (int)(long)cbp->data;
			if (res == -EAGAIN && (cbp->aio_rw_flags & RWF_NOWAIT)) {
				mark("kdx retry %ld %d %d", case_id, M.seq, i);
				cbp->aio_rw_flags &= ~RWF_NOWAIT;
				if (io_submit(ctx, 1, &cbp) == 1)
					continue;
				res = -EIO;
			}
			inflight--;
			finished(fd, i, res);
			if (next < M.count) {
				slot = cbp - cbs;
				fill(bufs[slot], M.seed + (uint64_t)next, w_off(next), M.len);
				io_prep_pwrite(cbp, fd, bufs[slot], M.len, w_off(next));
				cbp->aio_rw_flags = M.rwf | (M.nowait ? RWF_NOWAIT : 0);
				cbp->data = (void *)(long)next;
				issued(next);
				if ((ret = io_submit(ctx, 1, &cbp)) == 1)
					inflight++;
				else
					finished(fd, next, ret < 0 ? ret : -EIO);
				next++;
			}
		}
	}
	io_destroy(ctx);
}

static void uring_prep(struct io_uring *ring, int fd, unsigned char *buf, int slot, int i, int nowait)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	io_uring_prep_write(sqe, fd, buf, M.len, w_off(i));
	sqe->rw_flags = M.rwf | (nowait ? RWF_NOWAIT : 0);
	if (M.async)
		sqe->flags |= IOSQE_ASYNC;
	io_uring_sqe_set_data64(sqe, ((uint64_t)slot << 32) | ((uint64_t)nowait << 31) | (uint64_t)i);
}

static void run_uring(int fd, unsigned char **bufs)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	int next = 0, inflight = 0, slot, i, ret, nowait;
	long res;

	ret = io_uring_queue_init(M.depth, &ring, 0);
	if (ret)
		die("io_uring_queue_init", -ret);
	for (slot = 0; slot < M.depth && next < M.count; slot++, next++, inflight++) {
		fill(bufs[slot], M.seed + (uint64_t)next, w_off(next), M.len);
		issued(next);
		uring_prep(&ring, fd, bufs[slot], slot, next, M.nowait);
	}
	if ((ret = io_uring_submit(&ring)) < 0)
		die("io_uring_submit", -ret);
	while (inflight) {
		uint64_t data;

		ret = io_uring_wait_cqe(&ring, &cqe);
		if (ret)
			die("io_uring_wait_cqe", -ret);
		res = cqe->res;
		data = io_uring_cqe_get_data64(cqe);
		io_uring_cqe_seen(&ring, cqe);
		slot = (int)(data >> 32);
		nowait = (int)((data >> 31) & 1);
		i = (int)(data & 0x7fffffff);
		if (res == -EAGAIN && nowait) {
			mark("kdx retry %ld %d %d", case_id, M.seq, i);
			uring_prep(&ring, fd, bufs[slot], slot, i, 0);
			if ((ret = io_uring_submit(&ring)) < 0)
				die("io_uring_submit", -ret);
			continue;
		}
		inflight--;
		finished(fd, i, res);
		if (next < M.count) {
			fill(bufs[slot], M.seed + (uint64_t)next, w_off(next), M.len);
			issued(next);
			uring_prep(&ring, fd, bufs[slot], slot, next, M.nowait);
			if ((ret = io_uring_submit(&ring)) < 0)
				die("io_uring_submit", -ret);
			next++;
			inflight++;
		}
	}
	io_uring_queue_exit(&ring);
}

/* measure FILE OPEN ENGINE FLAGS RWF POST COUNT OFF LEN STRIDE DEPTH SEED */
static int measure(char **tok, int n, int seq)
{
	unsigned char *bufs[MAXDEPTH];
	char p[256];
	int fd, k, cut_ack = M.cut_ack, cut_step = M.cut_step;
	void (*cut)(void) = M.cut;

	if (n != 13)
		return -EINVAL;
	memset(&M, 0, sizeof(M));
	M.cut_ack = cut_ack;
	M.cut_step = cut_step;
	M.cut = cut;
	M.seq = seq;
	M.file = tok[1];
	M.open_flags = !strcmp(tok[2], "dsync") ? O_DSYNC : !strcmp(tok[2], "sync") ? O_SYNC : 0;
	M.engine = tok[3];
	M.nowait = strstr(tok[4], "nowait") != NULL;
	M.async = strstr(tok[4], "async") != NULL;
	M.rwf = !strcmp(tok[5], "dsync") ? RWF_DSYNC : !strcmp(tok[5], "sync") ? RWF_SYNC : 0;
	M.post = !strcmp(tok[6], "fdatasync") ? 1 : !strcmp(tok[6], "fsync") ? 2 : 0;
	M.count = (int)num(tok[7]);
	M.off = num(tok[8]);
	M.len = (size_t)num(tok[9]);
	M.stride = num(tok[10]);
	M.depth = (int)num(tok[11]);
	M.seed = strtoull(tok[12], NULL, 16);
	if (M.count < 1 || M.depth < 1 || M.depth > MAXDEPTH || !M.len || M.len % UNIT ||
	    M.off % UNIT)
		return -EINVAL;
	fd = open(path_of(M.file, p, sizeof(p)), O_WRONLY | O_CREAT | O_DIRECT | M.open_flags, 0644);
	if (fd < 0)
		return -errno;
	for (k = 0; k < M.depth; k++)
		bufs[k] = aligned(M.len);
	if (!strcmp(M.engine, "pwrite") || !strcmp(M.engine, "pwritev2"))
		run_sync_engine(fd, bufs[0]);
	else if (!strcmp(M.engine, "libaio"))
		run_libaio(fd, bufs);
	else if (!strcmp(M.engine, "uring"))
		run_uring(fd, bufs);
	else
		return close(fd), -EINVAL;
	close(fd);
	for (k = 0; k < M.depth; k++)
		free(bufs[k]);
	return 0;
}

/* ----------------------------------------------------------- one case */

struct case_hdr {
	long id;
	unsigned long long start, sectors;
	char fs[16], opts[256];
	int delay;
};

static int parse_case(char **tok, int n, struct case_hdr *c)
{
	if (n != 7)
		return -EINVAL;
	c->id = num(tok[1]);
	c->start = (unsigned long long)num(tok[2]);
	c->sectors = (unsigned long long)num(tok[3]);
	snprintf(c->fs, sizeof(c->fs), "%s", tok[4]);
	c->delay = (int)num(tok[5]);
	snprintf(c->opts, sizeof(c->opts), "%s", strcmp(tok[6], "-") ? tok[6] : "");
	return 0;
}

static int make_fs(char **tok, int n, const char *dev, char *err, size_t errlen)
{
	char *argv[MAXTOK + 2];
	int k, rc;

	for (k = 1; k < n; k++)
		argv[k - 1] = tok[k];
	argv[n - 1] = (char *)dev;
	argv[n] = NULL;
	rc = run_prog(argv, err, errlen);
	return rc;
}

/* the lines of one case block: lines[0] is "case ..." and the last "end" */
static int run_case(char **lines, int nlines, const char *datadev_mm, int *acks_out)
{
	struct case_hdr c;
	char *tok[MAXTOK], name[32], dev[64], params[256], err[4096], copy[1024];
	int n, k, rc = 0, seq = 0, mounted = 0;
	const char *why = "";
	long taint0 = read_taint(), taint1;

	snprintf(copy, sizeof(copy), "%s", lines[0]);
	n = split(copy, tok);
	if (parse_case(tok, n, &c))
		return -EINVAL;
	case_id = c.id;
	M.acks = 0;
	printf("@@harness progress xstart %ld\n", c.id);
	fflush(stdout);
	mark("kdx case %ld start", c.id);
	snprintf(name, sizeof(name), "kdx%ld", c.id);
	if (c.delay > 0)
		snprintf(params, sizeof(params), "%s %llu 0 %s %llu %d %s %llu %d", datadev_mm,
			 c.start, datadev_mm, c.start, c.delay, datadev_mm, c.start, c.delay);
	else
		snprintf(params, sizeof(params), "%s %llu", datadev_mm, c.start);
	rc = dm_create(name, c.delay > 0 ? "delay" : "linear", c.sectors, params, dev, sizeof(dev));
	if (rc) {
		why = "dm table";
		goto out;
	}
	for (k = 1; k < nlines; k++) {
		snprintf(copy, sizeof(copy), "%s", lines[k]);
		n = split(copy, tok);
		if (!n)
			continue;
		if (!strcmp(tok[0], "end"))
			break;
		if (!strcmp(tok[0], "mkfs")) {
			rc = make_fs(tok, n, dev, err, sizeof(err));
			if (rc) {
				why = last_line(err);
				rc = rc > 0 ? -EIO : rc;
				goto out;
			}
			if (mount(dev, MNT, c.fs, 0, c.opts[0] ? c.opts : NULL)) {
				rc = -errno;
				why = "mount";
				goto out;
			}
			mounted = 1;
			mark("kdx case %ld mounted", c.id);
			continue;
		}
		seq++;
		mark("kdx op %ld %d start %s", c.id, seq, lines[k] + (tok[0] - copy) +
		     (strcmp(tok[0], "op") ? 0 : 3));
		cur_seq = seq;
		if (!strcmp(tok[0], "measure"))
			rc = measure(tok, n, seq);
		else if (!strcmp(tok[0], "op") && n > 1)
			rc = op(tok + 1, n - 1);
		else
			rc = -EINVAL;
		mark("kdx op %ld %d end rc=%d", c.id, seq, rc);
		if (M.cut && M.cut_step == seq)
			M.cut();
		if (rc) {
			snprintf(err, sizeof(err), "step %d (%s)", seq, lines[k]);
			why = err;
			goto out;
		}
	}
out:
	if (mounted) {
		int tries, ret = -1;

		/* io_uring's workers drop their file references a moment after
		 * the ring is gone: a busy mount is retried for up to 2 s */
		for (tries = 0; tries < 40 && (ret = umount(MNT)) && errno == EBUSY; tries++)
			usleep(50000);
		if (ret) {
			if (!rc) {
				rc = -errno;
				why = "umount";
			}
			umount2(MNT, MNT_DETACH);
		}
	}
	dm_remove(name);
	mark("kdx case %ld end rc=%d", c.id, rc);
	*acks_out = M.acks;
	taint1 = read_taint();
	if (rc)
		printf("@@harness progress xcase %ld rc=%d acks=%d taint=%ld,%ld error %s: %s\n",
		       c.id, rc, M.acks, taint0, taint1, why, strerror(-rc));
	else
		printf("@@harness progress xcase %ld rc=0 acks=%d taint=%ld,%ld\n", c.id, M.acks,
		       taint0, taint1);
	fflush(stdout);
	/* a taint bit stays set: a second problem of the same kind would go
	 * unseen in this kernel, so a case that tainted it ends the run (the
	 * host runs the rest in a fresh VM) */
	if (taint1 != taint0)
		return -EHWPOISON;
	return rc;
}

/* ------------------------------------------------------------- tracing */

static const char *PROBES[][2] = {
	{ "sync", "vfs_fsync_range comm=$comm" },
	{ "dio_complete", "iomap_dio_complete comm=$comm" },
	{ "sync_log", "btrfs_sync_log" },
	{ "btrfs_sync", "btrfs_sync_file comm=$comm" },
};

static void trace_setup(const char *datadev, char *probes, size_t plen)
{
	struct stat st;
	char filter[64], line[128];
	size_t k;

	if (access(TRACE "/trace_marker", W_OK))
		mount("nodev", TRACE, "tracefs", 0, NULL);
	if (stat(datadev, &st))
		die(datadev, errno);
	write_file(TRACE "/tracing_on", "0");
	if (write_file(TRACE "/trace_clock", "counter"))
		die("trace_clock counter", EINVAL);
	write_file(TRACE "/buffer_size_kb", "16384");
	write_file(TRACE "/trace", "");
	write_file(TRACE "/kprobe_events", "");
	probes[0] = 0;
	for (k = 0; k < sizeof(PROBES) / sizeof(PROBES[0]); k++) {
		snprintf(line, sizeof(line), "p:kdx/%s %s\n", PROBES[k][0], PROBES[k][1]);
		snprintf(probes + strlen(probes), plen - strlen(probes), " %s=%s", PROBES[k][0],
			 append_file(TRACE "/kprobe_events", line) ? "missing" : "ok");
	}
	write_file(TRACE "/events/kdx/enable", "1");
	snprintf(filter, sizeof(filter), "dev == %u", (major(st.st_rdev) << 20) | minor(st.st_rdev));
	if (write_file(TRACE "/events/block/block_rq_issue/filter", filter) ||
	    write_file(TRACE "/events/block/block_rq_complete/filter", filter) ||
	    write_file(TRACE "/events/block/block_rq_requeue/filter", filter) ||
	    write_file(TRACE "/events/block/block_rq_requeue/enable", "1") ||
	    write_file(TRACE "/events/block/block_rq_issue/enable", "1") ||
	    write_file(TRACE "/events/block/block_rq_complete/enable", "1"))
		die("block events", EINVAL);
	markfd = open(TRACE "/trace_marker", O_WRONLY);
	if (markfd < 0)
		die("trace_marker", errno);
	write_file(TRACE "/tracing_on", "1");
}

/* the trace and what it lost, to OUTDEV */
static void trace_out(const char *outdev, const char *probes, int ncases)
{
	char buf[1 << 16], path[128];
	long long lost[3] = { 0, 0, 0 };
	const char *keys[3] = { "overrun:", "commit overrun:", "dropped events:" };
	int cpu, out, in, k;
	ssize_t n;
	FILE *f;

	write_file(TRACE "/tracing_on", "0");
	for (cpu = 0; cpu < 64; cpu++) {
		snprintf(path, sizeof(path), TRACE "/per_cpu/cpu%d/stats", cpu);
		f = fopen(path, "r");
		if (!f)
			break;
		while (fgets(buf, sizeof(buf), f))
			for (k = 0; k < 3; k++)
				if (!strncmp(buf, keys[k], strlen(keys[k])))
					lost[k] += atoll(buf + strlen(keys[k]));
		fclose(f);
	}
	out = open(outdev, O_WRONLY);
	if (out < 0)
		die(outdev, errno);
	n = snprintf(buf, sizeof(buf), "KDXOUT 1\ncases %d\nlost overrun=%lld commit_overrun=%lld "
		     "dropped=%lld\nprobes%s\ntrace\n", ncases, lost[0], lost[1], lost[2], probes);
	if (write(out, buf, (size_t)n) != n)
		die("output write", errno);
	in = open(TRACE "/trace", O_RDONLY);
	if (in < 0)
		die("trace", errno);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			die("output write", errno);
	close(in);
	buf[0] = 0;
	if (write(out, buf, 1) != 1 || fsync(out))
		die("output write", errno);
	close(out);
	printf("@@harness xtrace lost overrun=%lld commit_overrun=%lld dropped=%lld\n",
	       lost[0], lost[1], lost[2]);
}

static int cmd_run(const char *casedev, const char *datadev, const char *outdev)
{
	char *text = read_dev_text(casedev, 16 << 20), *save = NULL, *line, *lines[4096];
	char probes[512], mm[32];
	struct stat st;
	int nlines = 0, k, start = -1, ncases = 0, failed = 0, acks;

	if (stat(datadev, &st))
		die(datadev, errno);
	snprintf(mm, sizeof(mm), "%u:%u", major(st.st_rdev), minor(st.st_rdev));
	for (line = strtok_r(text, "\n", &save); line && nlines < 4096; line = strtok_r(NULL, "\n", &save))
		lines[nlines++] = line;
	trace_setup(datadev, probes, sizeof(probes));
	printf("@@harness xboot taint=%ld\n", read_taint());
	for (k = 0; k < nlines; k++) {
		if (!strncmp(lines[k], "case ", 5))
			start = k;
		else if (!strcmp(lines[k], "end") && start >= 0) {
			int ret = run_case(lines + start, k - start + 1, mm, &acks);

			failed |= ret != 0;
			ncases++;
			start = -1;
			if (ret == -EHWPOISON) {
				printf("@@harness xstop tainted: the other cases need a fresh kernel\n");
				break;
			}
		}
	}
	trace_out(outdev, probes, ncases);
	printf("@@harness xrun cases=%d\n", ncases);
	return ncases ? 0 : 2;
}

/* -------------------------------------------------------------- check */

struct known {
	char path[64];
	uint64_t seeds[64];
	int n;
};

static struct known KNOWN[32];
static int nknown;

static int is_zero(const unsigned char *p, size_t n)
{
	while (n--)
		if (*p++)
			return 0;
	return 1;
}

/* what unit U of PATH holds, of its known versions: "z", a seed, or "?" */
static void name_unit(const char *path, uint64_t u, const unsigned char *got, int eof,
		      char *out, size_t len)
{
	unsigned char want[UNIT];
	int k, j;

	if (eof) {
		snprintf(out, len, "a");
		return;
	}
	if (is_zero(got, UNIT)) {
		snprintf(out, len, "z");
		return;
	}
	for (k = 0; k < nknown; k++) {
		if (strcmp(KNOWN[k].path, path))
			continue;
		for (j = 0; j < KNOWN[k].n; j++) {
			content(KNOWN[k].seeds[j], u, want);
			if (!memcmp(want, got, UNIT)) {
				snprintf(out, len, "%016" PRIx64, KNOWN[k].seeds[j]);
				return;
			}
		}
	}
	snprintf(out, len, "?");
}

/* expect PATH[|PATH2] UNIT COUNT V,...: the number of units not as allowed */
static int expect(char **tok, int n, char *detail, size_t dlen)
{
	char paths[256], *save = NULL, *p, *found = NULL, vals[2048], *v, *vsave = NULL;
	uint64_t u0, count, u, seeds[64];
	int nseeds = 0, allow_zero = 0, allow_absent = 0, bad = 0, fd, k;
	unsigned char *buf, want[UNIT];
	ssize_t got;
	struct stat st;

	if (n != 5)
		return -1;
	snprintf(paths, sizeof(paths), "%s", tok[1]);
	u0 = (uint64_t)num(tok[2]);
	count = (uint64_t)num(tok[3]);
	snprintf(vals, sizeof(vals), "%s", tok[4]);
	for (v = strtok_r(vals, ",", &vsave); v; v = strtok_r(NULL, ",", &vsave)) {
		if (!strcmp(v, "z"))
			allow_zero = 1;
		else if (!strcmp(v, "a"))
			allow_absent = 1;
		else if (nseeds < 64)
			seeds[nseeds++] = strtoull(v, NULL, 16);
	}
	for (p = strtok_r(paths, "|", &save); p; p = strtok_r(NULL, "|", &save))
		if (!stat(p, &st)) {
			found = p;
			break;
		}
	if (!found) {
		if (allow_absent)
			return 0;
		snprintf(detail, dlen, "%s missing (units %" PRIu64 "+%" PRIu64 ")", tok[1], u0, count);
		return (int)count;
	}
	fd = open(found, O_RDONLY);
	if (fd < 0) {
		snprintf(detail, dlen, "%s: open: %s", found, strerror(errno));
		return (int)count;
	}
	buf = aligned(count * UNIT);
	memset(buf, 0, count * UNIT);
	got = pread(fd, buf, count * UNIT, (off_t)(u0 * UNIT));
	close(fd);
	if (got < 0)
		got = 0;
	for (u = 0; u < count; u++) {
		unsigned char *b = buf + u * UNIT;
		int eof = (ssize_t)((u + 1) * UNIT) > got, ok = 0;

		if (eof)
			ok = allow_absent;
		else if (allow_zero && is_zero(b, UNIT))
			ok = 1;
		for (k = 0; !ok && !eof && k < nseeds; k++) {
			content(seeds[k], u0 + u, want);
			ok = !memcmp(want, b, UNIT);
		}
		if (!ok && !bad++) {
			char what[32];

			name_unit(found, u0 + u, b, eof, what, sizeof(what));
			snprintf(detail, dlen, "%s unit %" PRIu64 " holds %s, allowed %s", found,
				 u0 + u, what, tok[4]);
		}
	}
	free(buf);
	return bad;
}

static int loop_attach(int imgfd, char *dev, size_t len)
{
	int ctl = open("/dev/loop-control", O_RDWR), n, fd;

	if (ctl < 0)
		return -errno;
	n = ioctl(ctl, LOOP_CTL_GET_FREE);
	close(ctl);
	if (n < 0)
		return -errno;
	snprintf(dev, len, "/dev/loop%d", n);
	fd = open(dev, O_RDWR);
	if (fd < 0) {
		char node[64];

		snprintf(node, sizeof(node), "/run/loop%d", n);
		unlink(node);
		if (mknod(node, S_IFBLK | 0600, makedev(7, n)))
			return -errno;
		snprintf(dev, len, "%s", node);
		fd = open(dev, O_RDWR);
		if (fd < 0)
			return -errno;
	}
	if (ioctl(fd, LOOP_SET_FD, imgfd)) {
		n = -errno;
		close(fd);
		return n;
	}
	return fd;
}

static int fsck(const char *fs, const char *dev, char *detail, size_t dlen)
{
	char out[8192], *argv[6], *line, *save = NULL, *hit = NULL;
	int rc;

	if (!strcmp(fs, "btrfs"))
		argv[0] = "btrfs", argv[1] = "check", argv[2] = "--readonly", argv[3] = (char *)dev, argv[4] = NULL;
	else if (!strcmp(fs, "xfs"))
		argv[0] = "xfs_repair", argv[1] = "-n", argv[2] = (char *)dev, argv[3] = NULL;
	else
		argv[0] = "e2fsck", argv[1] = "-fn", argv[2] = (char *)dev, argv[3] = NULL;
	rc = run_prog(argv, out, sizeof(out));
	if (!rc)
		return 0;
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!hit && (strcasestr(line, "error") || strcasestr(line, "corrupt") ||
			     strcasestr(line, "invalid") || strcasestr(line, "fix")))
			hit = line;
	snprintf(detail, dlen, "%s rc=%d: %s", argv[0], rc, hit ? hit : "(no message)");
	return rc;
}

struct image {
	int k, fsck;
	char fs[16], opts[256];
	unsigned long long size;
};

static void check_image(struct image *im, char **lines, int nlines, int logfd)
{
	char *tok[MAXTOK], copy[4096], detail[1024] = "", dev[64], fdetail[1024];
	const char *img = "/run/kdx-image";
	int imgfd, loopfd, n, k, lost = 0, checked = 0;
	unsigned char *buf = NULL;
	size_t buflen = 0;

	nknown = 0;
	printf("@@harness progress xcheck-start %d taint=%ld\n", im->k, read_taint());
	fflush(stdout);
	unlink(img);
	imgfd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (imgfd < 0 || ftruncate(imgfd, (off_t)im->size)) {
		printf("@@harness progress xcut %d error image file: %s\n", im->k, strerror(errno));
		return;
	}
	for (k = 0; k < nlines; k++) {
		snprintf(copy, sizeof(copy), "%s", lines[k]);
		n = split(copy, tok);
		if (n == 4 && !strcmp(tok[0], "apply")) {
			size_t len = (size_t)num(tok[3]);

			if (len > buflen) {
				free(buf);
				buf = aligned(len);
				buflen = len;
			}
			if (pread(logfd, buf, len, num(tok[1])) != (ssize_t)len ||
			    pwrite(imgfd, buf, len, num(tok[2])) != (ssize_t)len) {
				printf("@@harness progress xcut %d error apply: %s\n", im->k, strerror(errno));
				goto out;
			}
		} else if (n == 3 && !strcmp(tok[0], "zero")) {
			if (fallocate(imgfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      num(tok[1]), num(tok[2]))) {
				printf("@@harness progress xcut %d error zero: %s\n", im->k, strerror(errno));
				goto out;
			}
		} else if (n == 3 && !strcmp(tok[0], "known") && nknown < 32) {
			char *save = NULL, *s;

			snprintf(KNOWN[nknown].path, sizeof(KNOWN[nknown].path), "%s", tok[1]);
			KNOWN[nknown].n = 0;
			for (s = strtok_r(tok[2], ",", &save); s && KNOWN[nknown].n < 64;
			     s = strtok_r(NULL, ",", &save))
				KNOWN[nknown].seeds[KNOWN[nknown].n++] = strtoull(s, NULL, 16);
			nknown++;
		}
	}
	loopfd = loop_attach(imgfd, dev, sizeof(dev));
	if (loopfd < 0) {
		printf("@@harness progress xcut %d error loop: %s\n", im->k, strerror(-loopfd));
		goto out;
	}
	if (mount(dev, MNT, im->fs, 0, im->opts[0] ? im->opts : NULL)) {
		printf("@@harness progress xcut %d mount-failed %s\n", im->k, strerror(errno));
		ioctl(loopfd, LOOP_CLR_FD, 0);
		close(loopfd);
		goto out;
	}
	for (k = 0; k < nlines; k++) {
		char d[1024] = "";
		int bad;

		snprintf(copy, sizeof(copy), "%s", lines[k]);
		n = split(copy, tok);
		if (!n || strcmp(tok[0], "expect"))
			continue;
		checked++;
		bad = expect(tok, n, d, sizeof(d));
		if (bad && !lost)
			snprintf(detail, sizeof(detail), "%s", d);
		lost += bad > 0 ? bad : 0;
	}
	if (umount(MNT))
		umount2(MNT, MNT_DETACH);
	fdetail[0] = 0;
	if (!lost && im->fsck && fsck(im->fs, dev, fdetail, sizeof(fdetail)))
		printf("@@harness progress xcut %d fsck-failed %s\n", im->k, fdetail);
	else if (lost)
		printf("@@harness progress xcut %d lost units=%d %s\n", im->k, lost, detail);
	else
		printf("@@harness progress xcut %d ok expects=%d\n", im->k, checked);
	ioctl(loopfd, LOOP_CLR_FD, 0);
	close(loopfd);
out:
	fflush(stdout);
	close(imgfd);
	unlink(img);
	free(buf);
}

static int cmd_check(const char *plandev, const char *logdev)
{
	char *text = read_dev_text(plandev, 64 << 20), *save = NULL, *line, **lines;
	int nlines = 0, k, start = -1, logfd = open(logdev, O_RDONLY), images = 0;
	size_t cap = 1 << 16;

	if (logfd < 0)
		die(logdev, errno);
	lines = malloc(cap * sizeof(*lines));
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if ((size_t)nlines == cap)
			lines = realloc(lines, (cap *= 2) * sizeof(*lines));
		lines[nlines++] = line;
	}
	for (k = 0; k < nlines; k++) {
		if (!strncmp(lines[k], "image ", 6)) {
			start = k;
		} else if (!strcmp(lines[k], "end") && start >= 0) {
			struct image im;
			char copy[1024], *tok[MAXTOK];
			int n;

			snprintf(copy, sizeof(copy), "%s", lines[start]);
			n = split(copy, tok);
			if (n != 6) {
				printf("@@harness error bad image line: %s\n", lines[start]);
				start = -1;
				continue;
			}
			im.k = (int)num(tok[1]);
			snprintf(im.fs, sizeof(im.fs), "%s", tok[2]);
			im.size = (unsigned long long)num(tok[3]);
			snprintf(im.opts, sizeof(im.opts), "%s", strcmp(tok[4], "-") ? tok[4] : "");
			im.fsck = (int)num(tok[5]);
			check_image(&im, lines + start + 1, k - start - 1, logfd);
			images++;
			start = -1;
		}
	}
	printf("@@harness progress xcheck-start %d taint=%ld\n", images, read_taint());
	printf("@@harness xcheck images=%d\n", images);
	fflush(stdout);
	return images ? 0 : 2;
}

/* -------------------------------------------------------------- repro */

static char R_NAME[] = "kdxrepro";
static char R_UP[256], R_DOWN[256];
static unsigned long long R_SECTORS;

static int R_CUT_DONE;

static void repro_cut(void)
{
	int ret = dm_reload(R_NAME, "flakey", R_SECTORS, R_DOWN);

	R_CUT_DONE = 1;
	printf("explore: power cut after %s %d (dm-flakey drop_writes): %s\n",
	       M.cut_step ? "step" : "acknowledgement", M.cut_step ? M.cut_step : M.acks,
	       ret ? strerror(-ret) : "ok");
	fflush(stdout);
}

static int cmd_repro(const char *casefile, const char *dev, const char *cutspec)
{
	char *text, *save = NULL, *line, *lines[4096], mm[32], fdev[64], *tok[MAXTOK], copy[4096];
	char detail[1024] = "", d[1024];
	int nlines = 0, k, n, acks = 0, lost = 0, fd, start = -1, end = -1;
	struct stat st;
	struct case_hdr c;
	unsigned long long bytes = 0;

	fd = open(casefile, O_RDONLY);
	if (fd < 0)
		die(casefile, errno);
	close(fd);
	text = read_dev_text(casefile, 1 << 20);
	if (stat(dev, &st) || !S_ISBLK(st.st_mode))
		die(dev, errno ? errno : ENOTBLK);
	fd = open(dev, O_RDONLY);
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &bytes))
		die(dev, errno);
	close(fd);
	R_SECTORS = bytes / 512;
	snprintf(mm, sizeof(mm), "%u:%u", major(st.st_rdev), minor(st.st_rdev));
	snprintf(R_UP, sizeof(R_UP), "%s 0 1 0", mm);
	snprintf(R_DOWN, sizeof(R_DOWN), "%s 0 0 1 1 drop_writes", mm);
	for (line = strtok_r(text, "\n", &save); line && nlines < 4096; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "case ", 5))
			start = nlines;
		if (!strcmp(line, "end") && end < 0)
			end = nlines;
		lines[nlines++] = line;
	}
	if (start < 0 || end < 0)
		die("case file: no case block", EINVAL);
	/* the case on the whole of a dm-flakey device over DEV */
	snprintf(copy, sizeof(copy), "%s", lines[start]);
	if (parse_case(tok, split(copy, tok), &c))
		die("case line", EINVAL);
	dm_remove(R_NAME);
	if ((k = dm_create(R_NAME, "flakey", R_SECTORS, R_UP, fdev, sizeof(fdev))))
		die("dm-flakey", -k);
	M.cut = repro_cut;
	if (!strncmp(cutspec, "ack:", 4))
		M.cut_ack = atoi(cutspec + 4);
	else if (!strncmp(cutspec, "step:", 5))
		M.cut_step = atoi(cutspec + 5);
	else
		die("cut: want ack:N or step:S", EINVAL);
	/* run_case makes its own dm device: here it goes on the flakey one */
	{
		char hdr[512], *patched[4096];
		struct stat fst;

		stat(fdev, &fst);
		snprintf(mm, sizeof(mm), "%u:%u", major(fst.st_rdev), minor(fst.st_rdev));
		/* its dm-delay (when it has one) on the flakey device: under a
		 * VM the delay is what makes AIO complete in a worker */
		snprintf(hdr, sizeof(hdr), "case %ld 0 %llu %s %d %s", c.id, R_SECTORS, c.fs,
			 c.delay, c.opts[0] ? c.opts : "-");
		patched[0] = hdr;
		for (k = start + 1; k <= end; k++)
			patched[k - start] = lines[k];
		run_case(patched, end - start + 1, mm, &acks);
	}
	if (!R_CUT_DONE) {
		printf("explore: the case never got to the cut (%s; %d acknowledgements): "
		       "not reproduced\n", cutspec, acks);
		dm_remove(R_NAME);
		return 2;
	}
	/* power back on: everything after the cut never reached the disk */
	if ((k = dm_reload(R_NAME, "flakey", R_SECTORS, R_UP)))
		die("dm-flakey up", -k);
	if (mount(fdev, MNT, c.fs, 0, c.opts[0] ? c.opts : NULL))
		die("mount after the cut", errno);
	for (k = end + 1; k < nlines; k++) {
		snprintf(copy, sizeof(copy), "%s", lines[k]);
		n = split(copy, tok);
		if (n == 3 && !strcmp(tok[0], "known") && nknown < 32) {
			char *s2 = NULL, *s;

			snprintf(KNOWN[nknown].path, sizeof(KNOWN[nknown].path), "%s", tok[1]);
			for (s = strtok_r(tok[2], ",", &s2); s && KNOWN[nknown].n < 64; s = strtok_r(NULL, ",", &s2))
				KNOWN[nknown].seeds[KNOWN[nknown].n++] = strtoull(s, NULL, 16);
			nknown++;
		} else if (n && !strcmp(tok[0], "expect")) {
			int bad = expect(tok, n, d, sizeof(d));

			if (bad > 0 && !lost)
				snprintf(detail, sizeof(detail), "%s", d);
			lost += bad > 0 ? bad : 0;
		}
	}
	umount(MNT);
	dm_remove(R_NAME);
	if (lost) {
		printf("explore: LOST: %d units not as acknowledged: %s\n", lost, detail);
		return 1;
	}
	printf("explore: kept: every acknowledged write is there after the cut\n");
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && !strcmp(argv[1], "run"))
		return cmd_run(argv[2], argv[3], argv[4]);
	if (argc == 4 && !strcmp(argv[1], "check"))
		return cmd_check(argv[2], argv[3]);
	if (argc == 5 && !strcmp(argv[1], "repro"))
		return cmd_repro(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: %s run CASEDEV DATADEV OUTDEV | check PLANDEV LOGDEV | "
		"repro CASEFILE DEV ack:N|step:S\n", argv[0]);
	return 2;
}
