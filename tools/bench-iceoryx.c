/* SPDX-License-Identifier: MIT */
/*
 * iceoryx 2 through its C binding, behind bench-peers.h: one runtime per
 * process, a publisher on topic "d<SIDE>" and a subscriber on the other.
 * Nothing may be lost, so a full subscriber queue blocks its publisher
 * (WAIT_FOR_CONSUMER with BLOCK_PRODUCER), as a full queue of the others
 * does.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "iceoryx_binding_c/log.h"
#include "iceoryx_binding_c/publisher.h"
#include "iceoryx_binding_c/runtime.h"
#include "iceoryx_binding_c/subscriber.h"
#include "iceoryx_binding_c/wait_set.h"

#include "bench-peers.h"

/* 256: the deepest subscriber queue iceoryx 2 allows by default */
enum { QUEUE_CAPACITY = 256, CONNECT_SECONDS = 20, DONE_SECONDS = 10 };

struct iox_side {
	iox_pub_storage_t pub_storage;
	iox_sub_storage_t sub_storage;
	iox_ws_storage_t ws_storage;
	iox_pub_t pub;
	iox_sub_t sub;
	iox_ws_t ws; /* NULL when polling */
	_Atomic int *done;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void side_free(struct iox_side *x)
{
	if (x->ws != NULL)
		iox_ws_deinit(x->ws);
	iox_sub_deinit(x->sub);
	iox_pub_deinit(x->pub);
	iox_runtime_shutdown();
	free(x);
}

int iox_side_open(struct iox_side **out, const char *instance, int side, int poll,
		  _Atomic int *done)
{
	struct iox_side *x = calloc(1, sizeof(*x));
	iox_pub_options_t po;
	iox_sub_options_t so;
	char app[64], topic[2][8] = { "d0", "d1" };
	double deadline;

	if (x == NULL)
		return -ENOMEM;
	x->done = done;
	snprintf(app, sizeof(app), "shmslab-bench-%ld", (long)getpid());
	iox_set_loglevel(Iceoryx_LogLevel_Warn);
	iox_runtime_init(app);
	iox_pub_options_init(&po);
	po.historyCapacity = 0;
	po.subscriberTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
	x->pub = iox_pub_init(&x->pub_storage, "shmslab-bench", instance, topic[side], &po);
	iox_sub_options_init(&so);
	so.queueCapacity = QUEUE_CAPACITY;
	so.historyRequest = 0;
	so.queueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;
	x->sub = iox_sub_init(&x->sub_storage, "shmslab-bench", instance, topic[1 - side], &so);
	if (!poll) {
		x->ws = iox_ws_init(&x->ws_storage);
		if (iox_ws_attach_subscriber_state(x->ws, x->sub, SubscriberState_HAS_DATA, 0,
						   NULL) != WaitSetResult_SUCCESS) {
			side_free(x);
			return -EIO;
		}
	}
	/* discovery goes through RouDi: a message published before the other side
	 * subscribed would be dropped */
	deadline = now_s() + CONNECT_SECONDS;
	while (iox_sub_get_subscription_state(x->sub) != SubscribeState_SUBSCRIBED ||
	       !iox_pub_has_subscribers(x->pub)) {
		if (now_s() > deadline) {
			side_free(x);
			return -ETIMEDOUT;
		}
		usleep(1000);
	}
	*out = x;
	return 0;
}

int iox_side_send(struct iox_side *x, const void *msg, size_t size)
{
	void *chunk;

	if (iox_pub_loan_chunk(x->pub, &chunk, (uint32_t)size) != AllocationResult_SUCCESS)
		return -ENOMEM;
	memcpy(chunk, msg, size);
	iox_pub_publish_chunk(x->pub, chunk);
	return 0;
}

int iox_side_recv(struct iox_side *x, void *buf, size_t size)
{
	const void *chunk;

	while (iox_sub_take_chunk(x->sub, &chunk) != ChunkReceiveResult_SUCCESS) {
		if (x->ws != NULL) {
			iox_notification_info_t events[1];
			uint64_t missed;

			iox_ws_wait(x->ws, events, 1, &missed);
		}
	}
	memcpy(buf, chunk, size);
	iox_sub_release_chunk(x->sub, chunk);
	return 0;
}

void iox_side_close(struct iox_side *x)
{
	/* chunks still queued to the other side go with our publisher: wait until
	 * both sides are done (bounded, for a side that failed) */
	double deadline = now_s() + DONE_SECONDS;

	atomic_fetch_add(x->done, 1);
	while (atomic_load(x->done) < 2 && now_s() < deadline)
		usleep(100);
	side_free(x);
}

/*
 * Fan-out: one publisher on topic "fan" and SUBS subscribers, each process
 * its own runtime.  READY counts the subscribers connected: the publisher
 * waits for all of them, since what it published before would not reach
 * them.
 */
struct iox_fan {
	iox_pub_storage_t pub_storage;
	iox_sub_storage_t sub_storage;
	iox_ws_storage_t ws_storage;
	iox_pub_t pub; /* the publisher's side, else NULL */
	iox_sub_t sub; /* a subscriber's side, else NULL */
	iox_ws_t ws;
};

static void fan_free(struct iox_fan *x)
{
	if (x->ws != NULL)
		iox_ws_deinit(x->ws);
	if (x->sub != NULL)
		iox_sub_deinit(x->sub);
	if (x->pub != NULL)
		iox_pub_deinit(x->pub);
	iox_runtime_shutdown();
	free(x);
}

/* Open the publisher's side (PUBLISHER) or a subscriber's of service INSTANCE. */
int iox_fan_open(struct iox_fan **out, const char *instance, int publisher, unsigned subs,
		 _Atomic uint32_t *ready)
{
	struct iox_fan *x = calloc(1, sizeof(*x));
	double deadline = now_s() + CONNECT_SECONDS;
	char app[64];

	if (x == NULL)
		return -ENOMEM;
	snprintf(app, sizeof(app), "shmslab-bench-%ld", (long)getpid());
	iox_set_loglevel(Iceoryx_LogLevel_Warn);
	iox_runtime_init(app);
	if (publisher) {
		iox_pub_options_t po;

		iox_pub_options_init(&po);
		po.historyCapacity = 0;
		po.subscriberTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
		x->pub = iox_pub_init(&x->pub_storage, "shmslab-bench", instance, "fan", &po);
		while (atomic_load(ready) < subs) {
			if (now_s() > deadline) {
				fan_free(x);
				return -ETIMEDOUT;
			}
			usleep(1000);
		}
	} else {
		iox_sub_options_t so;

		iox_sub_options_init(&so);
		so.queueCapacity = QUEUE_CAPACITY;
		so.historyRequest = 0;
		so.queueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;
		x->sub = iox_sub_init(&x->sub_storage, "shmslab-bench", instance, "fan", &so);
		x->ws = iox_ws_init(&x->ws_storage);
		if (iox_ws_attach_subscriber_state(x->ws, x->sub, SubscriberState_HAS_DATA, 0,
						   NULL) != WaitSetResult_SUCCESS) {
			fan_free(x);
			return -EIO;
		}
		while (iox_sub_get_subscription_state(x->sub) != SubscribeState_SUBSCRIBED) {
			if (now_s() > deadline) {
				fan_free(x);
				return -ETIMEDOUT;
			}
			usleep(1000);
		}
		atomic_fetch_add(ready, 1);
	}
	*out = x;
	return 0;
}

/* Publish SIZE bytes of MSG, written into a loaned chunk. */
int iox_fan_send(struct iox_fan *x, const void *msg, size_t size)
{
	void *chunk;

	if (iox_pub_loan_chunk(x->pub, &chunk, (uint32_t)size) != AllocationResult_SUCCESS)
		return -ENOMEM;
	memcpy(chunk, msg, size < 8 ? size : 8); /* written in place: its sequence number */
	iox_pub_publish_chunk(x->pub, chunk);
	return 0;
}

/* Take the next chunk, read its first 8 bytes in place into BUF, release it. */
int iox_fan_recv(struct iox_fan *x, void *buf, size_t size)
{
	const void *chunk;

	while (iox_sub_take_chunk(x->sub, &chunk) != ChunkReceiveResult_SUCCESS) {
		iox_notification_info_t events[1];
		uint64_t missed;

		iox_ws_wait(x->ws, events, 1, &missed);
	}
	memcpy(buf, chunk, size < 8 ? size : 8);
	iox_sub_release_chunk(x->sub, chunk);
	return 0;
}

/* Done: wait (bounded) until all TOTAL sides are, so no chunk goes with its publisher. */
void iox_fan_close(struct iox_fan *x, _Atomic int *done, int total)
{
	double deadline = now_s() + DONE_SECONDS;

	atomic_fetch_add(done, 1);
	while (atomic_load(done) < total && now_s() < deadline)
		usleep(100);
	fan_free(x);
}
