/* SPDX-License-Identifier: MIT */
/*
 * The channels shmslab-bench compares: a message of SIZE bytes from one
 * process to the other, both ways, through libshmslab's queue (copying, or
 * zero-copy through views) or through what a user would otherwise pick (a
 * pipe, a Unix socket pair, a POSIX message queue, Boost.Interprocess's
 * message_queue, iceoryx), and the two limits shared memory sets: the floor
 * of latency, the message itself bounced between the two processes, and the
 * limit of streaming, a bare single-producer ring with no allocation and no
 * crash safety.
 *
 * A channel is set up before fork; each process then attaches to its side:
 * side 0 sends on the first direction and receives on the second, side 1 the
 * other way round.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench-peers.h"
#include "bench-transports.h"
#include "shmslab.h"

const char *const transport_names[] = { "shmslab", "shmslab-zc", "pipe",	"unix", "mq",
					"boost",   "iceoryx",	 "cacheline", "ring" };

enum {
	SLOTS = 1024,	     /* libshmslab's slots, Boost's queue and the ring: one depth */
	RING_PUBLISH = 16,   /* the ring publishes its indices every 16 messages */
	PIPE_BYTES = 1 << 20 /* what a user streaming through a pipe would ask for */
};

/*
 * One direction of the bare ring: Rigtorp's single-producer queue, each side
 * keeping a private copy of the other's index and reading the shared one
 * only when its copy says full or empty.
 */
struct ring {
	_Alignas(64) _Atomic uint64_t head; /* written by the producer */
	_Alignas(64) _Atomic uint64_t tail; /* written by the consumer */
	_Alignas(64) char cells[];
};

int transport_parse(const char *name)
{
	for (int t = 0; t < TRANSPORTS; t++)
		if (strcmp(name, transport_names[t]) == 0)
			return t;
	return -1;
}

bool transport_built(int t)
{
#ifndef HAVE_BOOST_INTERPROCESS
	if (t == T_BOOST)
		return false;
#endif
#ifndef HAVE_ICEORYX
	if (t == T_ICEORYX)
		return false;
#endif
	return t >= 0 && t < TRANSPORTS;
}

static int err_of(int r)
{
	return r < 0 ? -errno : 0;
}

static size_t cell_size(const struct chan *c)
{
	return (c->size + 63) & ~(size_t)63;
}

static struct ring *ring_of(const struct chan *c, int direction)
{
	return (struct ring *)((char *)c->shared +
			       (size_t)direction * (sizeof(struct ring) + SLOTS * cell_size(c)));
}

/* Shared memory for the channel's own structures, before fork. */
static int share(struct chan *c, size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	c->shared = p;
	c->shared_len = len;
	return 0;
}

static int setup_shmslab(struct chan *c)
{
	for (int d = 0; d < 2; d++) {
		struct shmslab_config cfg;
		struct shmslab *slab;
		int err;

		snprintf(c->name[d], sizeof(c->name[d]), "/shmslab-bench-%ld-%d", (long)getpid(),
			 d);
		shmslab_config_init(&cfg);
		cfg.slot_size = (uint32_t)(c->size < 64 ? 64 : c->size);
		cfg.slot_count = SLOTS;
		cfg.max_procs = 4;
		err = shmslab_create(c->name[d], &cfg, &slab);
		if (err) {
			c->name[d][0] = '\0'; /* not ours to unlink */
			return err;
		}
		shmslab_close(slab);
	}
	return 0;
}

static int setup(struct chan *c)
{
	switch (c->transport) {
	case T_SHMSLAB:
	case T_SHMSLAB_ZC:
		return setup_shmslab(c);
	case T_PIPE:
		for (int d = 0; d < 2; d++) {
			if (pipe(c->fd[d]) != 0)
				return -errno;
			/* a smaller buffer is what the pipe keeps if it cannot have this one */
			(void)fcntl(c->fd[d][1], F_SETPIPE_SZ, PIPE_BYTES);
		}
		return 0;
	case T_UNIX:
		return err_of(socketpair(AF_UNIX, SOCK_STREAM, 0, c->fd[0]));
	case T_MQ:
		for (int d = 0; d < 2; d++) {
			/* 10: the most an unprivileged process may ask for */
			struct mq_attr attr = { .mq_maxmsg = 10, .mq_msgsize = (long)c->size };

			snprintf(c->name[d], sizeof(c->name[d]), "/shmslab-bench-mq-%ld-%d",
				 (long)getpid(), d);
			c->mq[d] = mq_open(c->name[d], O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
			if (c->mq[d] == (mqd_t)-1) {
				c->name[d][0] = '\0';
				return -errno;
			}
		}
		return 0;
	case T_BOOST:
#ifdef HAVE_BOOST_INTERPROCESS
		for (int d = 0; d < 2; d++) {
			int err;

			snprintf(c->name[d], sizeof(c->name[d]), "shmslab-bench-boost-%ld-%d",
				 (long)getpid(), d);
			err = boost_mq_create(c->name[d], c->size, SLOTS);
			if (err) {
				c->name[d][0] = '\0';
				return err;
			}
		}
		return 0;
#else
		return -ENOSYS;
#endif
	case T_ICEORYX:
#ifdef HAVE_ICEORYX
		snprintf(c->name[0], sizeof(c->name[0]), "run%ld", (long)getpid());
		return share(c, sizeof(_Atomic int));
#else
		return -ENOSYS;
#endif
	case T_CACHELINE:
		return share(c, cell_size(c));
	case T_RING:
		return share(c, 2 * (sizeof(struct ring) + SLOTS * cell_size(c)));
	}
	return -EINVAL;
}

int chan_setup(struct chan *c, int transport, size_t size, int poll)
{
	int err;

	memset(c, 0, sizeof(*c));
	c->transport = transport;
	c->size = size;
	c->read_bytes = size;
	c->poll = poll;
	c->fd[0][0] = c->fd[0][1] = c->fd[1][0] = c->fd[1][1] = -1;
	c->mq[0] = c->mq[1] = (mqd_t)-1;
	err = setup(c);
	if (err)
		chan_teardown(c); /* what the part that worked made */
	return err;
}

/* In each process after fork: open what it uses, close what it does not. */
int chan_attach(struct chan *c, int side)
{
	int err = 0;

	c->side = side;
	switch (c->transport) {
	case T_SHMSLAB:
	case T_SHMSLAB_ZC:
		for (int d = 0; d < 2 && err == 0; d++)
			err = shmslab_open(c->name[d], &c->slab[d]);
		break;
	case T_PIPE:
		/* direction 0 goes from side 0 (writes fd[0][1]) to side 1 (reads fd[0][0]) */
		close(c->fd[0][side == 0 ? 0 : 1]);
		close(c->fd[1][side == 0 ? 1 : 0]);
		c->fd[0][side == 0 ? 0 : 1] = -1;
		c->fd[1][side == 0 ? 1 : 0] = -1;
		break;
	case T_UNIX:
		close(c->fd[0][1 - side]);
		c->fd[0][1 - side] = -1;
		break;
#ifdef HAVE_BOOST_INTERPROCESS
	case T_BOOST:
		for (int d = 0; d < 2 && err == 0; d++)
			err = boost_mq_open(c->name[d], &c->boost[d]);
		break;
#endif
#ifdef HAVE_ICEORYX
	case T_ICEORYX:
		err = iox_side_open(&c->iox, c->name[0], side, c->poll, c->shared);
		break;
#endif
	default:
		break;
	}
	return err;
}

/* Wait for the next message on a shmslab queue: polling, or asleep in the kernel. */
static int shmslab_take(struct chan *c, struct shmslab *slab, shmslab_ref *ref)
{
	int err;

	while ((err = shmslab_recv(slab, ref, c->poll ? 0 : -1)) == -EAGAIN)
		;
	return err;
}

/* A free slot of SLAB, waiting while the other side still holds them all. */
static int shmslab_take_free(struct shmslab *slab, shmslab_ref *ref)
{
	int err;

	while ((err = shmslab_alloc(slab, ref)) == -ENOSPC)
		sched_yield();
	return err;
}

static int shmslab_hand(struct shmslab *slab, shmslab_ref ref)
{
	int err;

	while ((err = shmslab_send(slab, ref)) == -ENOSPC)
		sched_yield();
	return err;
}

/* Put MSG in the slot REF: copied in, or written in place. */
static int fill_shmslab(struct chan *c, struct shmslab *slab, shmslab_ref ref, const void *msg)
{
	struct shmslab_view v;
	int err;

	if (c->transport == T_SHMSLAB)
		return shmslab_store(slab, ref, msg, c->size);
	err = shmslab_write_begin(slab, ref, &v);
	if (err == 0) {
		memcpy(v.data, msg, c->size);
		v.len = c->size;
		err = shmslab_write_end(slab, &v);
	}
	return err;
}

/* Take the message of the slot REF into BUF, copied out or read in place, and free it. */
static int drain_shmslab(struct chan *c, struct shmslab *slab, shmslab_ref ref, void *buf)
{
	struct shmslab_view v;
	int err;

	if (c->transport == T_SHMSLAB) {
		ssize_t n = shmslab_read(slab, ref, buf, c->size);

		err = n == (ssize_t)c->size ? 0 : n < 0 ? (int)n : -EMSGSIZE;
	} else {
		err = shmslab_read_begin(slab, ref, &v);
		if (err == 0) {
			int ended;

			if (v.len == c->size)
				memcpy(buf, v.data, c->read_bytes);
			else
				err = -EMSGSIZE;
			ended = shmslab_read_end(slab, &v);
			if (err == 0)
				err = ended;
		}
	}
	return err ? err : shmslab_free(slab, ref);
}

static int send_shmslab(struct chan *c, struct shmslab *slab, const void *msg)
{
	shmslab_ref ref;
	int err = shmslab_take_free(slab, &ref);

	if (err == 0)
		err = fill_shmslab(c, slab, ref, msg);
	return err ? err : shmslab_hand(slab, ref);
}

static int recv_shmslab(struct chan *c, struct shmslab *slab, void *buf)
{
	shmslab_ref ref;
	int err = shmslab_take(c, slab, &ref);

	return err ? err : drain_shmslab(c, slab, ref, buf);
}

/* Whether C moves bursts (libshmslab's transports) and N is one. */
static bool burst_fits(const struct chan *c, unsigned n)
{
	return (c->transport == T_SHMSLAB || c->transport == T_SHMSLAB_ZC) && n > 0 &&
	       n <= CHAN_BURST_MAX;
}

int chan_send_burst(struct chan *c, void *msg, uint64_t first, unsigned n)
{
	struct shmslab *slab = c->slab[c->side];
	shmslab_ref refs[CHAN_BURST_MAX];
	unsigned got = 0, sent = 0;
	int k, err = 0;

	if (!burst_fits(c, n))
		return -EINVAL;
	while (got < n) {
		k = shmslab_alloc_many(slab, refs + got, n - got);
		if (k == -ENOSPC)
			sched_yield(); /* the other side still holds them all */
		else if (k < 0)
			return k;
		else
			got += (unsigned)k;
	}
	for (unsigned i = 0; i < n && err == 0; i++) {
		uint64_t seq = first + i;

		memcpy(msg, &seq, sizeof(seq));
		err = fill_shmslab(c, slab, refs[i], msg);
	}
	while (err == 0 && sent < n) {
		k = shmslab_send_many(slab, refs + sent, n - sent);
		if (k == -ENOSPC)
			sched_yield();
		else if (k < 0)
			err = k;
		else
			sent += (unsigned)k;
	}
	return err;
}

int chan_recv_burst(struct chan *c, void *bufs, unsigned n)
{
	struct shmslab *slab = c->slab[1 - c->side];
	shmslab_ref refs[CHAN_BURST_MAX];
	int k, err = 0;

	if (!burst_fits(c, n))
		return -EINVAL;
	while ((k = shmslab_recv_many(slab, refs, n, c->poll ? 0 : -1)) == -EAGAIN)
		;
	for (int i = 0; i < k && err == 0; i++)
		err = drain_shmslab(c, slab, refs[i], (char *)bufs + (size_t)i * c->size);
	return err ? err : k;
}

static void ring_publish_head(struct chan *c)
{
	/* release: the cells written before it are the consumer's once it sees it */
	atomic_store_explicit(&ring_of(c, c->side)->head, c->head, memory_order_release);
}

static void ring_send(struct chan *c, const void *msg)
{
	struct ring *r = ring_of(c, c->side);

	while (c->head - c->cached >= SLOTS)
		/* acquire: the consumer has read the cells it passed */
		c->cached = atomic_load_explicit(&r->tail, memory_order_acquire);
	memcpy(r->cells + (c->head % SLOTS) * cell_size(c), msg, c->size);
	if (++c->head % RING_PUBLISH == 0)
		ring_publish_head(c);
}

static void ring_recv(struct chan *c, void *buf)
{
	struct ring *r = ring_of(c, 1 - c->side);

	while (c->tail == c->cached)
		/* acquire: pairs with the producer's release of the cells */
		c->cached = atomic_load_explicit(&r->head, memory_order_acquire);
	memcpy(buf, r->cells + (c->tail % SLOTS) * cell_size(c), c->size);
	if (++c->tail % RING_PUBLISH == 0 || c->tail == c->cached)
		/* release: our reads of the cells are done before the producer reuses them */
		atomic_store_explicit(&r->tail, c->tail, memory_order_release);
}

int chan_send(struct chan *c, const void *msg)
{
	int d = c->side; /* side 0 sends on direction 0, side 1 on direction 1 */
	const char *p = msg;
	size_t left = c->size;

	switch (c->transport) {
	case T_SHMSLAB:
	case T_SHMSLAB_ZC:
		return send_shmslab(c, c->slab[d], msg);
	case T_PIPE:
	case T_UNIX: {
		int fd = c->transport == T_PIPE ? c->fd[d][1] : c->fd[0][c->side];

		while (left > 0) {
			ssize_t n = write(fd, p, left);

			if (n < 0)
				return -errno;
			p += n;
			left -= (size_t)n;
		}
		return 0;
	}
	case T_MQ:
		return err_of(mq_send(c->mq[d], msg, c->size, 0));
#ifdef HAVE_BOOST_INTERPROCESS
	case T_BOOST:
		return boost_mq_send(c->boost[d], msg, c->size);
#endif
#ifdef HAVE_ICEORYX
	case T_ICEORYX:
		return iox_side_send(c->iox, msg, c->size);
#endif
	case T_CACHELINE: {
		/* the message is the line: its payload, then its sequence number,
		 * which the receiver waits for, in the same line */
		uint64_t seq;

		memcpy((char *)c->shared + 8, p + 8, c->size - 8);
		memcpy(&seq, msg, sizeof(seq));
		/* release: the payload is there for whoever sees the number */
		atomic_store_explicit((_Atomic uint64_t *)c->shared, seq, memory_order_release);
		return 0;
	}
	case T_RING:
		ring_send(c, msg);
		return 0;
	}
	return -EINVAL;
}

int chan_recv(struct chan *c, void *buf)
{
	int d = 1 - c->side;
	char *p = buf;
	size_t left = c->size;
	ssize_t n;

	switch (c->transport) {
	case T_SHMSLAB:
	case T_SHMSLAB_ZC:
		return recv_shmslab(c, c->slab[d], buf);
	case T_PIPE:
	case T_UNIX: {
		int fd = c->transport == T_PIPE ? c->fd[d][0] : c->fd[0][c->side];

		while (left > 0) {
			n = read(fd, p, left);
			if (n <= 0)
				return n < 0 ? -errno : -EPIPE;
			p += n;
			left -= (size_t)n;
		}
		return 0;
	}
	case T_MQ:
		n = mq_receive(c->mq[d], buf, c->size, NULL);
		return n == (ssize_t)c->size ? 0 : n < 0 ? -errno : -EMSGSIZE;
#ifdef HAVE_BOOST_INTERPROCESS
	case T_BOOST:
		return boost_mq_recv(c->boost[d], buf, c->size);
#endif
#ifdef HAVE_ICEORYX
	case T_ICEORYX:
		return iox_side_recv(c->iox, buf, c->size);
#endif
	case T_CACHELINE: {
		uint64_t want;

		memcpy(&want, buf, sizeof(want));
		/* acquire: pairs with the sender's release, so the payload is whole */
		while (atomic_load_explicit((_Atomic uint64_t *)c->shared, memory_order_acquire) !=
		       want)
			;
		memcpy(p + 8, (char *)c->shared + 8, c->size - 8);
		return 0;
	}
	case T_RING:
		ring_recv(c, buf);
		return 0;
	}
	return -EINVAL;
}

void chan_detach(struct chan *c)
{
	for (int d = 0; d < 2; d++) {
		if (c->slab[d] != NULL)
			shmslab_close(c->slab[d]);
		c->slab[d] = NULL;
#ifdef HAVE_BOOST_INTERPROCESS
		if (c->boost[d] != NULL)
			boost_mq_close(c->boost[d]);
		c->boost[d] = NULL;
#endif
	}
#ifdef HAVE_ICEORYX
	if (c->iox != NULL)
		iox_side_close(c->iox);
	c->iox = NULL;
#endif
	if (c->transport == T_RING && c->head % RING_PUBLISH != 0)
		ring_publish_head(c); /* the last messages, short of a whole batch */
}

/* In the process that set the channel up, after both sides are done. */
void chan_teardown(struct chan *c)
{
	for (int d = 0; d < 2; d++) {
		bool named = c->name[d][0] != '\0';

		if ((c->transport == T_SHMSLAB || c->transport == T_SHMSLAB_ZC) && named)
			(void)!shmslab_unlink(c->name[d]);
		if (c->mq[d] != (mqd_t)-1)
			mq_close(c->mq[d]);
		if (c->transport == T_MQ && named)
			mq_unlink(c->name[d]);
#ifdef HAVE_BOOST_INTERPROCESS
		if (c->transport == T_BOOST && named)
			boost_mq_remove(c->name[d]);
#endif
		for (int e = 0; e < 2; e++)
			if (c->fd[d][e] >= 0)
				close(c->fd[d][e]);
	}
	if (c->shared != NULL)
		munmap(c->shared, c->shared_len);
}
