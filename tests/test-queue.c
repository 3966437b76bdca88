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
	/* deq far past enq */
	atomic_store(&slab->queue->deq, atomic_load(&slab->queue->enq) + 1000);
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
	ck_assert_uint_eq(sleeping_entries(), UINT64_C(1) << slab->self);
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

START_TEST(test_queue_exactly_once_fifo_2p2c)
{
	enum { PRODUCERS = 2, CONSUMERS = 2, COUNT = 5000 };
	const char *count = "5000";
	const char *produce0[] = { "qproduce", name, "0", count, NULL };
	const char *produce1[] = { "qproduce", name, "1", count, NULL };
	const char *consume[] = { "qconsume", name, NULL };
	static unsigned char seen[PRODUCERS][COUNT];
	pid_t producers[PRODUCERS], consumers[CONSUMERS];
	int pout[PRODUCERS], cout[CONSUMERS];
	unsigned total = 0;

	/* fewer slots and a shallower queue than messages: everybody waits on everybody */
	create(48, 16);
	for (int c = 0; c < CONSUMERS; c++)
		consumers[c] = helper(consume, &cout[c]);
	producers[0] = helper(produce0, &pout[0]);
	producers[1] = helper(produce1, &pout[1]);
	for (int p = 0; p < PRODUCERS; p++) {
		ck_assert_int_eq(finish(producers[p]), 0);
		close(pout[p]);
	}
	/* one stop for each consumer, after every message, as room is made */
	for (int c = 0; c < CONSUMERS; c++) {
		shmslab_ref stop = message("stop");
		int err;

		while ((err = shmslab_send(slab, stop)) == -ENOSPC)
			usleep(1000);
		ck_assert_int_eq(err, 0);
	}
	for (int c = 0; c < CONSUMERS; c++) {
		char *out = read_all(cout[c]), *line, *save = NULL;
		int last[PRODUCERS] = { -1, -1 };

		ck_assert_int_eq(finish(consumers[c]), 0);
		for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			unsigned id, seq;

			ck_assert_int_eq(sscanf(line, "%u %u", &id, &seq), 2);
			ck_assert_uint_lt(id, PRODUCERS);
			ck_assert_uint_lt(seq, COUNT);
			ck_assert_msg(seen[id][seq]++ == 0, "message %u/%u received twice", id,
				      seq);
			/* what one consumer gets of one producer comes in the order sent */
			ck_assert_msg((int)seq > last[id], "consumer %d got %u/%u after %u/%d", c,
				      id, seq, id, last[id]);
			last[id] = (int)seq;
			total++;
		}
		free(out);
	}
	ck_assert_uint_eq(total, PRODUCERS * COUNT);
	for (int p = 0; p < PRODUCERS; p++)
		for (int i = 0; i < COUNT; i++)
			ck_assert_msg(seen[p][i] == 1, "message %d/%d lost", p, i);
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
	tcase_add_test(tc, test_queue_corrupt);
	tcase_add_test(tc, test_queue_corrupt_writer);
	tcase_add_test(tc, test_queue_timeouts);
	tcase_add_test(tc, test_queue_hole_is_stepped_over);
	tcase_add_test(tc, test_queue_generation_zero_repaired);
	tcase_add_test(tc, test_queue_blocks_in_kernel);
	tcase_add_test(tc, test_queue_wakes_early_consumer);
	tcase_add_test(tc, test_queue_exactly_once_fifo_2p2c);
	suite_add_tcase(s, tc);
	return test_main(s);
}
