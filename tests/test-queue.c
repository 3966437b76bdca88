/* SPDX-License-Identifier: MIT */
/*
 * The handoff queue: exactly once and first in first out for each producer,
 * with producers and consumers in separate programs; blocking, polling and
 * timeouts; a consumer that went to sleep before any producer existed is
 * woken; a full queue answers -ENOSPC; ownership moves with the reference.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "internal.h"

extern char **environ;

static char name[TEST_NAME_MAX];
static struct shmslab *slab;

static void create(uint32_t slots, uint32_t depth)
{
	slab = test_segment(name, (struct shmslab_config){
					  .slot_count = slots, .slot_size = 64, .queue_depth = depth });
}

static void teardown(void)
{
	if (slab != NULL)
		shmslab_close(slab);
	slab = NULL;
	test_cleanup();
}

/* The entries the queue marks as having a thread asleep (the first 64). */
static uint64_t sleeping_entries(void)
{
	return atomic_load(&slab->sleepers[0]);
}

static shmslab_ref message(const char *text)
{
	shmslab_ref ref;

	ck_assert_int_eq(shmslab_alloc(slab, &ref), 0);
	ck_assert_int_eq(shmslab_store(slab, ref, text, strlen(text)), 0);
	return ref;
}

START_TEST(test_queue_fifo)
{
	shmslab_ref sent[40], got;
	char text[16], buf[16];

	create(64, 64);
	for (int i = 0; i < 40; i++) {
		snprintf(text, sizeof(text), "m%d", i);
		sent[i] = message(text);
		ck_assert_int_eq(shmslab_send(slab, sent[i]), 0);
	}
	for (int i = 0; i < 40; i++) {
		ck_assert_int_eq(shmslab_recv(slab, &got, 0), 0);
		ck_assert_uint_eq(got, sent[i]);
		snprintf(text, sizeof(text), "m%d", i);
		ck_assert_int_eq(shmslab_read(slab, got, buf, sizeof(buf)), (ssize_t)strlen(text));
		ck_assert_int_eq(memcmp(buf, text, strlen(text)), 0);
		ck_assert_int_eq(shmslab_free(slab, got), 0);
	}
	ck_assert_int_eq(shmslab_recv(slab, &got, 0), -EAGAIN);
}
END_TEST

START_TEST(test_queue_wraps_around)
{
	shmslab_ref ref, got;

	/* a depth that is not a power of two, around the ring many times */
	create(8, 3);
	for (int round = 0; round < 1000; round++) {
		for (int i = 0; i < 3; i++)
			ck_assert_int_eq(shmslab_send(slab, message("w")), 0);
		ref = message("x");
		ck_assert_int_eq(shmslab_send(slab, ref), -ENOSPC);
		ck_assert_int_eq(shmslab_free(slab, ref), 0);
		for (int i = 0; i < 3; i++) {
			ck_assert_int_eq(shmslab_recv(slab, &got, 0), 0);
			ck_assert_int_eq(shmslab_free(slab, got), 0);
		}
	}
}
END_TEST

START_TEST(test_queue_full)
{
	struct shmslab_slot_info info;
	struct shmslab_stats st;
	shmslab_ref refs[4], extra, got;
	char buf[8];

	create(8, 4);
	for (int i = 0; i < 4; i++) {
		refs[i] = message("q");
		ck_assert_int_eq(shmslab_send(slab, refs[i]), 0);
	}
	extra = message("left");
	ck_assert_int_eq(shmslab_send(slab, extra), -ENOSPC);
	/* a send refused for room leaves the slot with its owner, as it was */
	ck_assert_int_eq(shmslab_slot_info(slab, (uint32_t)extra, &info), 0);
	ck_assert_uint_eq(info.state, SHMSLAB_SLOT_OWNED);
	ck_assert_int_eq(shmslab_read(slab, extra, buf, sizeof(buf)), 4);
	ck_assert_int_eq(shmslab_stat(slab, &st), 0);
	ck_assert_uint_eq(st.queued, 4);
	ck_assert_int_eq(shmslab_recv(slab, &got, 0), 0);
	ck_assert_int_eq(shmslab_send(slab, extra), 0);
	ck_assert_int_eq(shmslab_free(slab, got), 0);
}
END_TEST

START_TEST(test_queue_ownership)
{
	struct shmslab_slot_info info;
	struct shmslab *other;
	shmslab_ref ref = SHMSLAB_REF_NONE, got;
	char buf[8];

	create(8, 8);
	ref = message("owned");
	ck_assert_int_eq(shmslab_send(slab, ref), 0);
	/* the queue's now: not ours to free or send, still there to read */
	ck_assert_int_eq(shmslab_slot_info(slab, (uint32_t)ref, &info), 0);
	ck_assert_uint_eq(info.state, SHMSLAB_SLOT_QUEUED);
	ck_assert_int_eq(info.owner, -1);
	ck_assert_int_eq(shmslab_free(slab, ref), -EBUSY);
	ck_assert_int_eq(shmslab_send(slab, ref), -EBUSY);
	ck_assert_int_eq(shmslab_read(slab, ref, buf, sizeof(buf)), 5);
	/* the receiver owns it */
	ck_assert_int_eq(shmslab_open(name, &other), 0);
	ck_assert_int_eq(shmslab_recv(other, &got, 0), 0);
	ck_assert_uint_eq(got, ref);
	ck_assert_int_eq(shmslab_slot_info(slab, (uint32_t)ref, &info), 0);
	ck_assert_uint_eq(info.state, SHMSLAB_SLOT_OWNED);
	ck_assert_int_eq(info.owner, (int32_t)other->self);
	ck_assert_int_eq(shmslab_free(other, got), 0);
	ck_assert_int_eq(shmslab_send(slab, ref), -ESTALE);
	shmslab_close(other);
}
END_TEST

START_TEST(test_queue_args)
{
	struct shmslab *inspector;
	shmslab_ref got;

	create(8, 8);
	ck_assert_int_eq(shmslab_recv(slab, NULL, 0), -EINVAL);
	ck_assert_int_eq(shmslab_recv(slab, &got, -2), -EINVAL);
	ck_assert_int_eq(shmslab_recv(NULL, &got, 0), -EINVAL);
	ck_assert_int_eq(shmslab_send(NULL, SHMSLAB_REF_NONE), -EINVAL);
	ck_assert_int_eq(shmslab_send(slab, SHMSLAB_REF_NONE), -EINVAL);
	ck_assert_int_eq(shmslab_send(slab, ((shmslab_ref)1 << 32) | 99), -EINVAL);
	ck_assert_int_eq(shmslab_inspect(name, &inspector), 0);
	ck_assert_int_eq(shmslab_recv(inspector, &got, 0), -EPERM);
	ck_assert_int_eq(shmslab_send(inspector, ((shmslab_ref)1 << 32) | 0), -EPERM);
	shmslab_close(inspector);
}
END_TEST

START_TEST(test_queue_burst_args)
{
	struct shmslab *inspector;
	shmslab_ref refs[2];

	create(8, 8);
	ck_assert_int_eq(shmslab_alloc_many(slab, NULL, 2), -EINVAL);
	ck_assert_int_eq(shmslab_alloc_many(slab, refs, 0), -EINVAL);
	ck_assert_int_eq(shmslab_alloc_many(NULL, refs, 2), -EINVAL);
	ck_assert_int_eq(shmslab_send_many(slab, NULL, 2), -EINVAL);
	ck_assert_int_eq(shmslab_send_many(slab, refs, 0), -EINVAL);
	ck_assert_int_eq(shmslab_recv_many(slab, NULL, 2, 0), -EINVAL);
	ck_assert_int_eq(shmslab_recv_many(slab, refs, 0, 0), -EINVAL);
	ck_assert_int_eq(shmslab_recv_many(slab, refs, 2, -2), -EINVAL);
	ck_assert_int_eq(shmslab_recv_many(slab, refs, 2, 0), -EAGAIN);
	ck_assert_int_eq(shmslab_recv_many(slab, refs, 2, 1), -ETIMEDOUT);
	ck_assert_int_eq(shmslab_inspect(name, &inspector), 0);
	ck_assert_int_eq(shmslab_alloc_many(inspector, refs, 2), -EPERM);
	ck_assert_int_eq(shmslab_recv_many(inspector, refs, 2, 0), -EPERM);
	shmslab_close(inspector);
}
END_TEST

/* A burst is that many single calls: FIFO, whole or in parts of any size. */
START_TEST(test_queue_burst_fifo)
{
	shmslab_ref sent[40], got[40];
	char text[16], buf[16];
	int n = 0;

	create(64, 64);
	ck_assert_int_eq(shmslab_alloc_many(slab, sent, 40), 40);
	for (int i = 0; i < 40; i++) {
		snprintf(text, sizeof(text), "m%d", i);
		ck_assert_int_eq(shmslab_store(slab, sent[i], text, strlen(text)), 0);
		for (int j = 0; j < i; j++)
			ck_assert_uint_ne(sent[i], sent[j]);
	}
	ck_assert_int_eq(shmslab_send_many(slab, sent, 25), 25);
	ck_assert_int_eq(shmslab_send_many(slab, sent + 25, 15), 15);
	/* received in parts that do not match the sends, the last one short */
	for (int part = 16; n < 40; part = 11) {
		int k = shmslab_recv_many(slab, got + n, (unsigned)part, 0);

		ck_assert_int_eq(k, n + part <= 40 ? part : 40 - n);
		n += k;
	}
	ck_assert_int_eq(shmslab_recv_many(slab, got, 4, 0), -EAGAIN);
	for (int i = 0; i < 40; i++) {
		ck_assert_uint_eq(got[i], sent[i]);
		snprintf(text, sizeof(text), "m%d", i);
		ck_assert_int_eq(shmslab_read(slab, got[i], buf, sizeof(buf)), (ssize_t)strlen(text));
		ck_assert_int_eq(memcmp(buf, text, strlen(text)), 0);
		ck_assert_int_eq(shmslab_free(slab, got[i]), 0);
	}
}
END_TEST

/* Nothing of a burst is sent when one of its references cannot be. */
START_TEST(test_queue_burst_checked_before_sending)
{
	struct shmslab_stats st;
	shmslab_ref refs[3], big[100], stale, queued, got;

	create(256, 256);
	ck_assert_int_eq(shmslab_alloc_many(slab, refs, 3), 3);
	stale = message("gone");
	ck_assert_int_eq(shmslab_free(slab, stale), 0);
	queued = message("queued");
	ck_assert_int_eq(shmslab_send(slab, queued), 0);
	ck_assert_int_eq(shmslab_recv(slab, &got, 0), 0);
	ck_assert_int_eq(shmslab_send(slab, queued), 0);

	refs[1] = stale;
	ck_assert_int_eq(shmslab_send_many(slab, refs, 3), -ESTALE);
	refs[1] = queued;
	ck_assert_int_eq(shmslab_send_many(slab, refs, 3), -EBUSY);
	refs[1] = SHMSLAB_REF_NONE;
	ck_assert_int_eq(shmslab_send_many(slab, refs, 3), -EINVAL);
	refs[1] = refs[2];
	ck_assert_int_eq(shmslab_send_many(slab, refs, 3), -EINVAL);
	/* a long burst, checked for repeats another way */
	ck_assert_int_eq(shmslab_alloc_many(slab, big, 100), 100);
	big[99] = big[3];
	ck_assert_int_eq(shmslab_send_many(slab, big, 100), -EINVAL);
	ck_assert_int_eq(shmslab_stat(slab, &st), 0);
	ck_assert_uint_eq(st.queued, 1); /* "queued" alone */
	ck_assert_int_eq(shmslab_send_many(slab, big, 99), 99);
	ck_assert_int_eq(shmslab_stat(slab, &st), 0);
	ck_assert_uint_eq(st.queued, 100);
}
END_TEST

/* As many slots as there are, up to the burst; -ENOSPC only for none. */
START_TEST(test_queue_burst_alloc)
{
	struct shmslab_stats st;
	shmslab_ref refs[20], more[10];

	create(8, 8);
	ck_assert_int_eq(shmslab_alloc_many(slab, refs, 20), 8);
	ck_assert_int_eq(shmslab_alloc_many(slab, more, 10), -ENOSPC);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(shmslab_free(slab, refs[i]), 0);
	ck_assert_int_eq(shmslab_alloc_many(slab, more, 10), 3);
	ck_assert_int_eq(shmslab_stat(slab, &st), 0);
	ck_assert_uint_eq(st.allocated, 8);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(shmslab_free(slab, more[i]), 0);
	ck_assert_int_eq(shmslab_free(slab, more[0]), -ESTALE);
}
END_TEST

/* A queue with room for some: the first are sent, the rest stay the caller's. */
START_TEST(test_queue_burst_partly_sent)
{
	struct shmslab_slot_info info;
	shmslab_ref refs[6], got[6];

	create(16, 4);
	ck_assert_int_eq(shmslab_alloc_many(slab, refs, 6), 6);
	ck_assert_int_eq(shmslab_send_many(slab, refs, 6), 4);
	for (int i = 4; i < 6; i++) {
		ck_assert_int_eq(shmslab_slot_info(slab, (uint32_t)refs[i], &info), 0);
		ck_assert_uint_eq(info.state, SHMSLAB_SLOT_OWNED);
		ck_assert_int_eq(info.owner, (int32_t)slab->self);
	}
	ck_assert_int_eq(shmslab_send_many(slab, refs + 4, 2), -ENOSPC);
	ck_assert_int_eq(shmslab_recv_many(slab, got, 1, 0), 1);
	ck_assert_uint_eq(got[0], refs[0]);
	ck_assert_int_eq(shmslab_send_many(slab, refs + 4, 2), 1);
	ck_assert_int_eq(shmslab_recv_many(slab, got + 1, 6, 0), 4);
	for (int i = 0; i < 5; i++)
		ck_assert_uint_eq(got[i], refs[i]);
	ck_assert_int_eq(shmslab_send_many(slab, refs + 5, 1), 1);
	ck_assert_int_eq(shmslab_recv_many(slab, got + 5, 6, -1), 1);
	ck_assert_uint_eq(got[5], refs[5]);
}
END_TEST

/*
 * A ring or counters that no queue can have, written by a broken or hostile
 * process: receivers and senders answer SHMSLAB_ECORRUPT rather than spin,
 * and a send that fails leaves the slot with its sender.
 */
START_TEST(test_queue_corrupt)
{
	shmslab_ref ref, got;
	uint64_t deq, enq, cell, lap;

	create(8, 8);
	ref = message("kept");
	/* the cell at deq two laps ahead, with deq where it is */
	deq = atomic_load(&slab->queue->deq);
	cell = atomic_load(&slab->queue->cells[deq & (slab->g.queue_ring - 1)]);
	atomic_store(&slab->queue->cells[deq & (slab->g.queue_ring - 1)],
		     cell + ((uint64_t)2 << 32) + 1);
	ck_assert_int_eq(shmslab_recv(slab, &got, 0), SHMSLAB_ECORRUPT);
	ck_assert_int_eq(shmslab_recv(slab, &got, 50), SHMSLAB_ECORRUPT);
	atomic_store(&slab->queue->cells[deq & (slab->g.queue_ring - 1)], cell);
	/* the cell at enq a lap behind and full, while deq says there is room */
	enq = atomic_load(&slab->queue->enq);
	cell = atomic_load(&slab->queue->cells[enq & (slab->g.queue_ring - 1)]);
	lap = (enq >> slab->g.queue_shift) & CELL_LAP_MASK;
	atomic_store(&slab->queue->cells[enq & (slab->g.queue_ring - 1)],
		     ((uint64_t)((lap - 1) & CELL_LAP_MASK) << 32) | 1);
	ck_assert_int_eq(shmslab_send(slab, ref), SHMSLAB_ECORRUPT);
	atomic_store(&slab->queue->cells[enq & (slab->g.queue_ring - 1)], cell);
	/* deq far past enq: a receiver sees it at once, a sender once it
	 * looks at deq (when the deq it saw last no longer shows room) */
	atomic_store(&slab->queue->deq, atomic_load(&slab->queue->enq) + 1000);
	ck_assert_int_eq(shmslab_recv(slab, &got, 0), SHMSLAB_ECORRUPT);
	atomic_store(&slab->deq_seen, atomic_load(&slab->queue->deq));
	ck_assert_int_eq(shmslab_send(slab, ref), SHMSLAB_ECORRUPT);
	atomic_store(&slab->queue->deq, deq);
	ck_assert_int_eq(shmslab_send(slab, ref), 0);
	ck_assert_int_eq(shmslab_recv(slab, &got, 0), 0);
	ck_assert_uint_eq(got, ref);
	ck_assert_int_eq(shmslab_free(slab, got), 0);
}
END_TEST

/* A write-lock field naming no process: an error for whoever waits, not a crash. */
START_TEST(test_queue_corrupt_writer)
{
	struct shmslab_view v;
	shmslab_ref ref;
	char buf[16];
	struct slot_meta *m;
	uint64_t st;

	create(8, 8);
	ref = message("locked");
	m = slot_meta(slab, ref_index(slab, ref));
	st = atomic_load(&m->state);
	atomic_store(&m->state, st | ST_WRITER_MASK);
	ck_assert_int_eq(shmslab_read(slab, ref, buf, sizeof(buf)), SHMSLAB_ECORRUPT);
	ck_assert_int_eq(shmslab_write_begin(slab, ref, &v), SHMSLAB_ECORRUPT);
	ck_assert_int_eq(shmslab_free(slab, ref), SHMSLAB_ECORRUPT);
	ck_assert_int_ge(shmslab_recover(slab), 0);
	atomic_store(&m->state, st);
	ck_assert_int_eq(shmslab_free(slab, ref), 0);
}
END_TEST

/*
 * enq moved ahead by damage leaves cells that no sender will ever fill:
 * receivers step over them, and every message sent after still arrives, in
 * order.  An enq further ahead than the queue can hold is no queue's.
 */
START_TEST(test_queue_hole_is_stepped_over)
{
	const uint64_t moves[] = { 1, 7 };
	shmslab_ref sent[3], got;

	create(16, 16);
	for (size_t k = 0; k < sizeof(moves) / sizeof(moves[0]); k++) {
		atomic_fetch_add(&slab->queue->enq, moves[k]);
		for (int i = 0; i < 3; i++) {
			char text[8];

			snprintf(text, sizeof(text), "m%d", i);
			sent[i] = message(text);
			ck_assert_int_eq(shmslab_send(slab, sent[i]), 0);
		}
		for (int i = 0; i < 3; i++) {
			ck_assert_int_eq(shmslab_recv(slab, &got, 0), 0);
			ck_assert_uint_eq(got, sent[i]);
			ck_assert_int_eq(shmslab_free(slab, got), 0);
		}
		ck_assert_int_eq(shmslab_recv(slab, &got, 0), -EAGAIN);
	}
	got = message("late");
	atomic_fetch_add(&slab->queue->enq, 1000);
	ck_assert_int_eq(shmslab_send(slab, got), SHMSLAB_ECORRUPT);
	atomic_fetch_sub(&slab->queue->enq, 1000);
	ck_assert_int_eq(shmslab_send(slab, got), 0);
	ck_assert_int_eq(shmslab_recv(slab, &got, 0), 0);
	ck_assert_int_eq(shmslab_free(slab, got), 0);
}
END_TEST

/* A queued slot whose generation damage set to 0 is received with a valid reference. */
START_TEST(test_queue_generation_zero_repaired)
{
	shmslab_ref ref, got;
	struct slot_meta *m;
	char buf[8];

	create(8, 8);
	ref = message("zero");
	ck_assert_int_eq(shmslab_send(slab, ref), 0);
	m = slot_meta(slab, ref_index(slab, ref));
	atomic_store(&m->state, atomic_load(&m->state) & UINT32_MAX);
	ck_assert_int_eq(shmslab_recv(slab, &got, 0), 0);
	ck_assert_uint_ne(got, SHMSLAB_REF_NONE);
	ck_assert_uint_ne(got >> 32, 0);
	ck_assert_int_eq(shmslab_read(slab, got, buf, sizeof(buf)), 4);
	ck_assert_int_eq(shmslab_free(slab, got), 0);
	ck_assert_int_eq(shmslab_free(slab, got), -ESTALE);
}
END_TEST

START_TEST(test_queue_timeouts)
{
	shmslab_ref got;
	uint64_t t0;

	create(8, 8);
	/* the bounds from above are far from what a busy machine shows: a poll that
	 * waited, or a wait that did not end, would take a slice or for ever */
	t0 = test_now_ms();
	ck_assert_int_eq(shmslab_recv(slab, &got, 0), -EAGAIN);
	ck_assert_uint_lt(test_now_ms() - t0, 10000);
	ck_assert_uint_eq(sleeping_entries(), 0); /* a poll never sleeps */
	t0 = test_now_ms();
	ck_assert_int_eq(shmslab_recv(slab, &got, 150), -ETIMEDOUT);
	ck_assert_uint_ge(test_now_ms() - t0, 149);
	ck_assert_uint_lt(test_now_ms() - t0, 10000);
}
END_TEST

struct receiver {
	_Atomic int done;
	int result;
	shmslab_ref got;
};

static void *receive(void *arg)
{
	struct receiver *r = arg;

	r->result = shmslab_recv(slab, &r->got, -1);
	atomic_store(&r->done, 1);
	return NULL;
}

START_TEST(test_queue_blocks_in_kernel)
{
	struct receiver r;
	pthread_t t;
	shmslab_ref ref;
	uint32_t signal_before;
	uint64_t cpu_ms;

	create(8, 8);
	/* with nobody waiting, a send makes no system call: the word stays still */
	signal_before = atomic_load(&slab->queue->signal);
	ref = message("early");
	ck_assert_int_eq(shmslab_send(slab, ref), 0);
	ck_assert_uint_eq(atomic_load(&slab->queue->signal), signal_before);
	ck_assert_int_eq(shmslab_recv(slab, &ref, 0), 0);
	ck_assert_int_eq(shmslab_free(slab, ref), 0);

	memset(&r, 0, sizeof(r));
	pthread_create(&t, NULL, receive, &r);
	/* asleep: marked in our entry's bit, and using no CPU */
	ck_assert(test_wait_for(sleeping_entries() == UINT64_C(1) << slab->self));
	ck_assert(!atomic_load(&r.done));
	cpu_ms = test_cpu_ms_over_wall(t);
	ck_assert_msg(cpu_ms <= TEST_SLEEPER_CPU_MS,
		      "the waiting receiver used %llu ms of CPU in %d ms", (unsigned long long)cpu_ms,
		      TEST_SLEEPER_WALL_MS);
	/* still marked: waited for, since each slice of the sleep ends with the
	 * bit cleared for the instant the receiver looks again */
	ck_assert(test_wait_for(sleeping_entries() == UINT64_C(1) << slab->self));
	ref = message("wake up");
	ck_assert_int_eq(shmslab_send(slab, ref), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(r.result, 0);
	ck_assert_uint_eq(r.got, ref);
	ck_assert_uint_eq(sleeping_entries(), 0);
	ck_assert_int_eq(shmslab_free(slab, r.got), 0);
}
END_TEST

static pid_t helper(const char *const args[], int *out)
{
	posix_spawn_file_actions_t fa;
	char *argv[8];
	int pipefd[2], n = 0;
	pid_t pid;

	argv[n++] = (char *)test_program("tests/slab-helper");
	for (; args[n - 1] != NULL; n++)
		argv[n] = (char *)args[n - 1];
	argv[n] = NULL;
	ck_assert_int_eq(pipe(pipefd), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_addclose(&fa, pipefd[0]);
	ck_assert_int_eq(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	*out = pipefd[0];
	return pid;
}

static int finish(pid_t pid)
{
	int status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static char *read_all(int fd)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	ssize_t n;

	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len < 1024)
			buf = realloc(buf, cap *= 2);
	}
	buf[len] = '\0';
	close(fd);
	return buf;
}

START_TEST(test_queue_wakes_early_consumer)
{
	const char *recv_args[] = { "recv", name, "10000", NULL };
	const char *send_args[] = { "send", name, "hello from a producer", NULL };
	int consumer_out, producer_out;
	pid_t consumer, producer;
	char *got;

	create(8, 8);
	/* the consumer goes to sleep before any producer exists */
	consumer = helper(recv_args, &consumer_out);
	ck_assert(test_wait_for(sleeping_entries() != 0));
	/* one process sleeps: one bit, not ours */
	ck_assert_uint_eq(__builtin_popcountll(sleeping_entries()), 1);
	ck_assert_uint_eq(sleeping_entries() & (UINT64_C(1) << slab->self), 0);
	producer = helper(send_args, &producer_out);
	ck_assert_int_eq(finish(producer), 0);
	close(producer_out);
	got = read_all(consumer_out);
	ck_assert_int_eq(finish(consumer), 0);
	ck_assert_str_eq(got, "hello from a producer\n");
	free(got);
}
END_TEST

/*
 * PRODUCERS and CONSUMERS as separate programs, each sending or receiving
 * COUNT messages per producer, one by one or (BURST not NULL) in bursts of
 * sizes that vary up to BURST: each message received exactly once, and
 * what one consumer gets of one producer in the order sent.
 */
static void exactly_once_fifo(unsigned producers, unsigned consumers, const char *burst)
{
	enum { MAX = 4, COUNT = 5000 };
	static unsigned char seen[MAX][COUNT];
	pid_t pid[MAX], cpid[MAX];
	int pout[MAX], cout[MAX];
	unsigned total = 0;

	ck_assert_uint_le(producers, MAX);
	ck_assert_uint_le(consumers, MAX);
	memset(seen, 0, sizeof(seen));
	/* fewer slots and a shallower queue than messages: everybody waits on everybody */
	create(48, 16);
	for (unsigned c = 0; c < consumers; c++) {
		const char *consume[] = { "qconsume", name, burst, NULL };

		cpid[c] = helper(consume, &cout[c]);
	}
	for (unsigned p = 0; p < producers; p++) {
		char id[8], count[16];
		const char *produce[] = { "qproduce", name, id, count, burst, NULL };

		snprintf(id, sizeof(id), "%u", p);
		snprintf(count, sizeof(count), "%u", (unsigned)COUNT);
		pid[p] = helper(produce, &pout[p]);
	}
	for (unsigned p = 0; p < producers; p++) {
		ck_assert_int_eq(finish(pid[p]), 0);
		close(pout[p]);
	}
	/* one stop for each consumer, after every message, as room is made */
	for (unsigned c = 0; c < consumers; c++) {
		shmslab_ref stop = message("stop");
		int err;

		while ((err = shmslab_send(slab, stop)) == -ENOSPC)
			usleep(1000);
		ck_assert_int_eq(err, 0);
	}
	for (unsigned c = 0; c < consumers; c++) {
		char *out = read_all(cout[c]), *line, *save = NULL;
		int last[MAX] = { -1, -1, -1, -1 };

		ck_assert_int_eq(finish(cpid[c]), 0);
		for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			unsigned id, seq;

			ck_assert_int_eq(sscanf(line, "%u %u", &id, &seq), 2);
			ck_assert_uint_lt(id, producers);
			ck_assert_uint_lt(seq, COUNT);
			ck_assert_msg(seen[id][seq]++ == 0, "message %u/%u received twice", id,
				      seq);
			ck_assert_msg((int)seq > last[id], "consumer %u got %u/%u after %u/%d", c,
				      id, seq, id, last[id]);
			last[id] = (int)seq;
			total++;
		}
		free(out);
	}
	ck_assert_uint_eq(total, producers * COUNT);
	for (unsigned p = 0; p < producers; p++)
		for (int i = 0; i < COUNT; i++)
			ck_assert_msg(seen[p][i] == 1, "message %u/%d lost", p, i);
}

START_TEST(test_queue_exactly_once_fifo_2p2c)
{
	exactly_once_fifo(2, 2, NULL);
}
END_TEST

/* Bursts of 1 to 13, larger than the queue's room at times, mixed with each other. */
START_TEST(test_queue_bursts_exactly_once_fifo_3p2c)
{
	exactly_once_fifo(3, 2, "13");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("queue");
	TCase *tc = tcase_create("queue");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_queue_fifo);
	tcase_add_test(tc, test_queue_wraps_around);
	tcase_add_test(tc, test_queue_full);
	tcase_add_test(tc, test_queue_ownership);
	tcase_add_test(tc, test_queue_args);
	tcase_add_test(tc, test_queue_burst_args);
	tcase_add_test(tc, test_queue_burst_fifo);
	tcase_add_test(tc, test_queue_burst_alloc);
	tcase_add_test(tc, test_queue_burst_checked_before_sending);
	tcase_add_test(tc, test_queue_burst_partly_sent);
	tcase_add_test(tc, test_queue_corrupt);
	tcase_add_test(tc, test_queue_corrupt_writer);
	tcase_add_test(tc, test_queue_timeouts);
	tcase_add_test(tc, test_queue_hole_is_stepped_over);
	tcase_add_test(tc, test_queue_generation_zero_repaired);
	tcase_add_test(tc, test_queue_blocks_in_kernel);
	tcase_add_test(tc, test_queue_wakes_early_consumer);
	tcase_add_test(tc, test_queue_exactly_once_fifo_2p2c);
	tcase_add_test(tc, test_queue_bursts_exactly_once_fifo_3p2c);
	suite_add_tcase(s, tc);
	return test_main(s);
}
