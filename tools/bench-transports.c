/* SPDX-License-Identifier: MIT */
/*
 * The channels shmslab-bench compares: a message of SIZE bytes from one
 * process to the other, both ways, through libshmslab's queue or through
 * what a user would otherwise pick (a pipe, a Unix socket pair, a POSIX
 * message queue), and the floor, one cache line bounced between the two.
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

#include "bench-transports.h"
#include "shmslab.h"

const char *const transport_names[] = { "shmslab", "pipe", "unix", "mq", "cacheline" };

int transport_parse(const char *name)
{
	for (int t = 0; t < TRANSPORTS; t++)
		if (strcmp(name, transport_names[t]) == 0)
			return t;
	return -1;
}

static int err_of(int r)
{
	return r < 0 ? -errno : 0;
}

static int setup(struct chan *c)
{
	switch (c->transport) {
	case T_SHMSLAB:
		for (int d = 0; d < 2; d++) {
			struct shmslab_config cfg;
			struct shmslab *slab;
			int err;

			snprintf(c->name[d], sizeof(c->name[d]), "/shmslab-bench-%ld-%d",
				 (long)getpid(), d);
			shmslab_config_init(&cfg);
			cfg.slot_size = (uint32_t)(c->size < 64 ? 64 : c->size);
			cfg.slot_count = 1024;
			cfg.max_procs = 4;
			err = shmslab_create(c->name[d], &cfg, &slab);
			if (err) {
				c->name[d][0] = '\0'; /* not ours to unlink */
				return err;
			}
			shmslab_close(slab);
		}
		return 0;
	case T_PIPE:
		for (int d = 0; d < 2; d++)
			if (pipe(c->fd[d]) != 0)
				return -errno;
		return 0;
	case T_UNIX:
		return err_of(socketpair(AF_UNIX, SOCK_STREAM, 0, c->fd[0]));
	case T_MQ:
		for (int d = 0; d < 2; d++) {
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
	case T_CACHELINE:
		c->line = mmap(NULL, 64, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (c->line == MAP_FAILED) {
			c->line = NULL;
			return -errno;
		}
		return 0;
	}
	return -EINVAL;
}

int chan_setup(struct chan *c, int transport, size_t size, int poll)
{
	int err;

	memset(c, 0, sizeof(*c));
	c->transport = transport;
	c->size = size;
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

int chan_send(struct chan *c, const void *msg)
{
	int d = c->side; /* side 0 sends on direction 0, side 1 on direction 1 */
	const char *p = msg;
	size_t left = c->size;
	shmslab_ref ref;
	int err;

	switch (c->transport) {
	case T_SHMSLAB:
		while ((err = shmslab_alloc(c->slab[d], &ref)) == -ENOSPC)
			sched_yield();
		if (err == 0)
			err = shmslab_store(c->slab[d], ref, msg, c->size);
		while (err == 0 && (err = shmslab_send(c->slab[d], ref)) == -ENOSPC)
			sched_yield();
		return err;
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
	case T_CACHELINE: {
		uint64_t v;

		memcpy(&v, msg, sizeof(v));
		atomic_store_explicit((_Atomic uint64_t *)c->line, v, memory_order_release);
		return 0;
	}
	}
	return -EINVAL;
}

int chan_recv(struct chan *c, void *buf)
{
	int d = 1 - c->side;
	char *p = buf;
	size_t left = c->size;
	shmslab_ref ref;
	ssize_t n;
	int err;

	switch (c->transport) {
	case T_SHMSLAB:
		err = shmslab_take(c, c->slab[d], &ref);
		if (err)
			return err;
		n = shmslab_read(c->slab[d], ref, buf, c->size);
		if (n < 0)
			return (int)n;
		return shmslab_free(c->slab[d], ref);
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
	case T_CACHELINE: {
		/* the line holds the last value sent; wait until it is the one expected */
		uint64_t want;

		memcpy(&want, buf, sizeof(want));
		while (atomic_load_explicit((_Atomic uint64_t *)c->line, memory_order_acquire) !=
		       want)
			;
		return 0;
	}
	}
	return -EINVAL;
}

void chan_detach(struct chan *c)
{
	for (int d = 0; d < 2; d++)
		if (c->slab[d] != NULL)
			shmslab_close(c->slab[d]);
}

/* In the process that set the channel up, after both sides are done. */
void chan_teardown(struct chan *c)
{
	for (int d = 0; d < 2; d++) {
		if (c->transport == T_SHMSLAB && c->name[d][0] != '\0')
			(void)!shmslab_unlink(c->name[d]);
		if (c->mq[d] != (mqd_t)-1)
			mq_close(c->mq[d]);
		if (c->transport == T_MQ && c->name[d][0] != '\0')
			mq_unlink(c->name[d]);
		for (int e = 0; e < 2; e++)
			if (c->fd[d][e] >= 0)
				close(c->fd[d][e]);
	}
	if (c->line != NULL)
		munmap(c->line, 64);
}
