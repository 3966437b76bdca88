/* SPDX-License-Identifier: MIT */
/*
 * The channels shmslab-bench compares; see bench-transports.c.
 */
#ifndef SHMSLAB_BENCH_TRANSPORTS_H
#define SHMSLAB_BENCH_TRANSPORTS_H

#include <mqueue.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	T_SHMSLAB,    /* alloc, store, send; recv, read, free */
	T_SHMSLAB_ZC, /* the same with write_begin/_end and read_begin/_end */
	T_PIPE,
	T_UNIX,
	T_MQ,
	T_BOOST,     /* Boost.Interprocess message_queue, where built in */
	T_ICEORYX,   /* iceoryx through its C binding, where built in */
	T_CACHELINE, /* the latency floor */
	T_RING,      /* the streaming limit */
	TRANSPORTS
};

extern const char *const transport_names[TRANSPORTS];

struct ring;
struct iox_side;

struct chan {
	int transport, side, poll;
	size_t size;
	size_t read_bytes; /* shmslab-zc: how much of each message the receiver reads */
	char name[2][64];  /* segments, message queues: one per direction */
	struct shmslab *slab[2];
	int fd[2][2]; /* pipes: one per direction; unix: fd[0] is the pair */
	mqd_t mq[2];
	void *boost[2];
	struct iox_side *iox;
	void *shared; /* cacheline: the message; ring: both rings; iceoryx: a done count */
	size_t shared_len;
	uint64_t head, tail, cached; /* ring: this side's private indices */
};

/* The transport called NAME, or -1. */
int transport_parse(const char *name);
/* Whether transport T was built into this program. */
bool transport_built(int t);

/* Before fork.  POLL: receivers spin instead of sleeping (those that can). */
int chan_setup(struct chan *c, int transport, size_t size, int poll);
/* In each process after fork, SIDE 0 or 1. */
int chan_attach(struct chan *c, int side);
/* One message of c->size bytes, its sequence number in its first 8, to the other side. */
int chan_send(struct chan *c, const void *msg);
/* One message from the other side into BUF, which holds, for cacheline,
 * the sequence number to wait for in its first 8 bytes. */
int chan_recv(struct chan *c, void *buf);
/* The most messages chan_send_burst and chan_recv_burst move at once. */
#define CHAN_BURST_MAX 256
/*
 * shmslab and shmslab-zc: N messages in one burst of each call, from
 * MSG, whose first 8 bytes get the sequence numbers FIRST, FIRST + 1, ...
 */
int chan_send_burst(struct chan *c, void *msg, uint64_t first, unsigned n);
/* Up to N messages into BUFS, c->size bytes apart: how many, or an error. */
int chan_recv_burst(struct chan *c, void *bufs, unsigned n);
/* What a side does when it has sent its last message, and before it exits. */
void chan_detach(struct chan *c);
/* In the process that set it up, once both sides are done. */
void chan_teardown(struct chan *c);

#endif /* SHMSLAB_BENCH_TRANSPORTS_H */
