/* SPDX-License-Identifier: MIT */
/*
 * The peers shmslab-bench measures where configure found them, each as one
 * side of a two-way channel between two processes.  A side sends on
 * direction SIDE and receives on direction 1 - SIDE, as bench-transports.c's
 * channels do; messages carry their sequence number in their first 8 bytes.
 * Every function answers 0 or a negative errno value.
 */
#ifndef SHMSLAB_BENCH_PEERS_H
#define SHMSLAB_BENCH_PEERS_H

#include <stddef.h>
#include <stdint.h>
#ifndef __cplusplus
#include <stdatomic.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Boost.Interprocess message_queue (bench-boost.cpp): NAME (without a
 * slash) holds DEPTH messages of SIZE bytes; created before fork, opened by
 * each process after.  Its receivers block, on a process-shared condition
 * variable.
 */
int boost_mq_create(const char *name, size_t size, unsigned depth);
int boost_mq_open(const char *name, void **queue);
int boost_mq_send(void *queue, const void *msg, size_t size);
int boost_mq_recv(void *queue, void *buf, size_t size);
void boost_mq_close(void *queue);
void boost_mq_remove(const char *name);

#ifndef __cplusplus
/*
 * iceoryx through its C binding (bench-iceoryx.c), zero-copy: a message is
 * a loaned chunk, written and published; the receiver takes it, reads it
 * and releases it.  Needs a running iox-roudi whose mempools fit the size
 * (scripts/bench.sh starts one).  Opened after fork, in each process, as
 * service INSTANCE; it waits (20 s at most) until both directions are
 * connected.  POLL: a receiver spins on the subscriber instead of sleeping
 * in a wait set.  DONE, shared by the two sides, keeps a side's publisher
 * alive until the other has taken everything.
 */
struct iox_side;
int iox_side_open(struct iox_side **out, const char *instance, int side, int poll,
		  _Atomic int *done);
int iox_side_send(struct iox_side *x, const void *msg, size_t size);
int iox_side_recv(struct iox_side *x, void *buf, size_t size);
void iox_side_close(struct iox_side *x);

/* Fan-out through iceoryx, for shmslab-bench fanout (bench-iceoryx.c). */
struct iox_fan;
int iox_fan_open(struct iox_fan **out, const char *instance, int publisher, unsigned subs,
		 _Atomic uint32_t *ready);
int iox_fan_send(struct iox_fan *x, const void *msg, size_t size);
int iox_fan_recv(struct iox_fan *x, void *buf, size_t size);
void iox_fan_close(struct iox_fan *x, _Atomic int *done, int total);
#endif

#ifdef __cplusplus
}
#endif

#endif /* SHMSLAB_BENCH_PEERS_H */
