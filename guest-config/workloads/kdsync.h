/*
 * What the guest workloads (dsync_shapes.c, dsync_ack.c) share: the data
 * generator, aligned buffers, and the libaio and io_uring loops that keep
 * DEPTH writes of BLOCK bytes in flight.  Header-only, so each program stays
 * one static binary (harness/guestbin.py compiles it, and rebuilds it when
 * this header changes).
 *
 * A program that includes it defines die(), which reports and exits.
 */
#ifndef KDSYNC_H
#define KDSYNC_H

#include <errno.h>
#include <libaio.h>
#include <liburing.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>

#define KD_MAXDEPTH 64

static void die(const char *what, int err);

static inline uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline void *aligned(size_t len)
{
	void *p;

	if (posix_memalign(&p, 4096, len))
		die("posix_memalign", ENOMEM);
	return p;
}

/*
 * One async write loop: writes 0..COUNT-1, write i of BLOCK bytes at
 * i * BLOCK, DEPTH in flight.  fill(buf, i) makes write i's data; done(i,
 * buf, res) is called as each completes (res: bytes written, or -errno).
 */
struct kd_writes {
	int fd, count, depth;
	size_t block;
	void (*fill)(void *buf, int index);
	void (*done)(int index, void *buf, long res);
};

static inline void kd_libaio(const struct kd_writes *w)
{
	io_context_t ctx = 0;
	struct iocb cbs[KD_MAXDEPTH], *cbp;
	struct io_event ev[KD_MAXDEPTH];
	void *bufs[KD_MAXDEPTH];
	int next = 0, inflight = 0, slot, n, i, ret;

	if (w->depth < 1 || w->depth > KD_MAXDEPTH)
		die("depth", EINVAL);
	ret = io_setup(w->depth, &ctx);
	if (ret)
		die("io_setup", -ret);
	for (slot = 0; slot < w->depth; slot++)
		bufs[slot] = aligned(w->block);
	for (slot = 0; slot < w->depth && next < w->count; slot++, next++, inflight++) {
		w->fill(bufs[slot], next);
		io_prep_pwrite(&cbs[slot], w->fd, bufs[slot], w->block, (long long)next * w->block);
		cbs[slot].data = (void *)(long)next;
		cbp = &cbs[slot];
		ret = io_submit(ctx, 1, &cbp);
		if (ret != 1)
			die("io_submit", ret < 0 ? -ret : EIO);
	}
	while (inflight) {
		n = io_getevents(ctx, 1, w->depth, ev, NULL);
		if (n < 0)
			die("io_getevents", -n);
		for (i = 0; i < n; i++, inflight--) {
			cbp = ev[i].obj;
			slot = cbp - cbs;
			w->done((int)(long)cbp->data, bufs[slot], (long)ev[i].res);
			if (next < w->count) {
				w->fill(bufs[slot], next);
				io_prep_pwrite(cbp, w->fd, bufs[slot], w->block,
					       (long long)next * w->block);
				cbp->data = (void *)(long)next++;
				ret = io_submit(ctx, 1, &cbp);
				if (ret != 1)
					die("io_submit", ret < 0 ? -ret : EIO);
				inflight++;
			}
		}
	}
	io_destroy(ctx);
}

static inline void kd_uring_prep(struct io_uring *ring, const struct kd_writes *w,
				 void *buf, int slot, int index)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	w->fill(buf, index);
	io_uring_prep_write(sqe, w->fd, buf, w->block, (off_t)index * w->block);
	io_uring_sqe_set_data64(sqe, ((uint64_t)slot << 32) | (uint64_t)index);
}

static inline void kd_uring_submit(struct io_uring *ring)
{
	int ret = io_uring_submit(ring);

	if (ret < 0)
		die("io_uring_submit", -ret);
}

static inline void kd_uring(const struct kd_writes *w)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	void *bufs[KD_MAXDEPTH];
	int next = 0, inflight = 0, slot, index, ret;
	long res;

	if (w->depth < 1 || w->depth > KD_MAXDEPTH)
		die("depth", EINVAL);
	ret = io_uring_queue_init(w->depth, &ring, 0);
	if (ret)
		die("io_uring_queue_init", -ret);
	for (slot = 0; slot < w->depth; slot++)
		bufs[slot] = aligned(w->block);
	/* the first DEPTH writes in one submission, then one as each completes */
	for (slot = 0; slot < w->depth && next < w->count; slot++, next++, inflight++)
		kd_uring_prep(&ring, w, bufs[slot], slot, next);
	kd_uring_submit(&ring);
	while (inflight) {
		ret = io_uring_wait_cqe(&ring, &cqe);
		if (ret)
			die("io_uring_wait_cqe", -ret);
		res = cqe->res;
		slot = (int)(io_uring_cqe_get_data64(cqe) >> 32);
		index = (int)(io_uring_cqe_get_data64(cqe) & 0xffffffff);
		io_uring_cqe_seen(&ring, cqe);
		inflight--;
		w->done(index, bufs[slot], res);
		if (next < w->count) {
			kd_uring_prep(&ring, w, bufs[slot], slot, next++);
			kd_uring_submit(&ring);
			inflight++;
		}
	}
	io_uring_queue_exit(&ring);
}

#endif
