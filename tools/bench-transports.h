/* SPDX-License-Identifier: MIT */
/*
 * The channels shmslab-bench compares; see bench-transports.c.
 */
#ifndef SHMSLAB_BENCH_TRANSPORTS_H
#define SHMSLAB_BENCH_TRANSPORTS_H

#include <mqueue.h>
#include <stddef.h>

enum { T_SHMSLAB, T_PIPE, T_UNIX, T_MQ, T_CACHELINE, TRANSPORTS };

extern const char *const transport_names[TRANSPORTS];

struct chan {
	int transport, side, poll;
	size_t size;
	char name[2][64]; /* shmslab segments, message queues: one per direction */
	struct shmslab *slab[2];
	int fd[2][2]; /* pipes: one per direction; unix: fd[0] is the pair */
	mqd_t mq[2];
	void *line; /* cacheline: the shared line */
};

/* The transport called NAME, or -1. */
int transport_parse(const char *name);

/* Before fork.  POLL: receivers of the shmslab queue spin instead of sleeping. */
int chan_setup(struct chan *c, int transport, size_t size, int poll);
/* In each process after fork, SIDE 0 or 1. */
int chan_attach(struct chan *c, int side);
/* One message of c->size bytes to the other side.  For cacheline, only its
 * first 8 bytes, a value the receiver waits for. */
int chan_send(struct chan *c, const void *msg);
/* One message from the other side into BUF.  For cacheline, BUF holds the
 * value to wait for. */
int chan_recv(struct chan *c, void *buf);
void chan_detach(struct chan *c);
/* In the process that set it up, once both sides are done. */
void chan_teardown(struct chan *c);

#endif /* SHMSLAB_BENCH_TRANSPORTS_H */
