/* SPDX-License-Identifier: MIT */
/*
 * Publish/subscribe: what one process sees of the calls, then publishers and
 * subscribers as separate programs (every subscriber gets every message
 * exactly once, all in the same order), and subscribers and publishers that
 * die: recovery lets go of what they held, and nobody is held back.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common.h"
#include "internal.h"
#include "invariant.h"

static char name[TEST_NAME_MAX];
static struct shmslab *slab;

static void create(uint32_t slots, uint32_t subscribers, uint32_t depth)
{
	slab = test_segment(name, (struct shmslab_config){ .slot_count = slots,
							   .slot_size = 64,
							   .max_subscribers = subscribers,
							   .fanout_depth = depth });
}

static void teardown(void)
{
	if (slab != NULL)
		ck_assert_int_eq(shmslab_close(slab), 0);
	slab = NULL;
	test_cleanup();
}

static void assert_invariant(void)
{
	char why[256];
	const char *err = invariant_check(slab, why, sizeof(why));

	ck_assert_msg(err == NULL, "%s", err);
}

/* A slot holding TEXT. */
static shmslab_ref message(const char *text)
{
	shmslab_ref ref;

	ck_assert_int_eq(shmslab_alloc(slab, &ref), 0);
	ck_assert_int_eq(shmslab_store(slab, ref, text, strlen(text)), 0);
	return ref;
}

static uint64_t available(void)
{
	struct shmslab_stats st;

	ck_assert_int_eq(shmslab_stat(slab, &st), 0);
	return st.available;
}

/* Receive on SUB at once and check the message is TEXT; its reference. */
static shmslab_ref receive(struct shmslab_sub *sub, const char *text)
{
	char buf[64];
	shmslab_ref ref;
	ssize_t len;

	ck_assert_int_eq(shmslab_sub_recv(sub, &ref, 0), 0);
	len = shmslab_read(slab, ref, buf, sizeof(buf) - 1);
	ck_assert_int_ge(len, 0);
	buf[len] = '\0';
	ck_assert_str_eq(buf, text);
	return ref;
}

START_TEST(test_pubsub_config)
{
	struct shmslab_config cfg;
	struct shmslab_stats st;
	struct shmslab *s;
	char other[TEST_NAME_MAX];

	shmslab_config_init(&cfg);
	ck_assert_uint_eq(cfg.max_subscribers, 16);
	ck_assert_uint_eq(cfg.fanout_depth, 0);
	test_name(other);
	cfg.max_subscribers = SHMSLAB_SUBSCRIBERS_MAX + 1;
	ck_assert_int_eq(shmslab_create(other, &cfg, &s), -EINVAL);
	cfg.max_subscribers = 16;
	cfg.fanout_depth = SHMSLAB_SLOTS_MAX + 1u;
	ck_assert_int_eq(shmslab_create(other, &cfg, &s), -EINVAL);
	create(16, 0, 0);
	ck_assert_int_eq(shmslab_stat(slab, &st), 0);
	ck_assert_uint_eq(st.max_subscribers, 16);
	ck_assert_uint_eq(st.fanout_depth, 16);
	ck_assert_uint_eq(st.subscribers, 0);
}
END_TEST

START_TEST(test_pubsub_bad_arguments)
{
	struct shmslab_sub *sub;
	shmslab_ref ref;

	create(16, 4, 8);
	ck_assert_int_eq(shmslab_subscribe(NULL, &sub), -EINVAL);
	ck_assert_int_eq(shmslab_subscribe(slab, NULL), -EINVAL);
	ck_assert_int_eq(shmslab_unsubscribe(NULL), -EINVAL);
	ck_assert_int_eq(shmslab_publish(slab, SHMSLAB_REF_NONE), -EINVAL);
	ck_assert_int_eq(shmslab_sub_recv(NULL, &ref, 0), -EINVAL);
	ck_assert_int_eq(shmslab_sub_release(NULL, 1), -EINVAL);
	ck_assert_int_eq(shmslab_subscribe(slab, &sub), 0);
	ck_assert_int_eq(shmslab_sub_recv(sub, NULL, 0), -EINVAL);
	ck_assert_int_eq(shmslab_sub_recv(sub, &ref, -2), -EINVAL);
	ck_assert_int_eq(shmslab_sub_release(sub, SHMSLAB_REF_NONE), -EINVAL);
	ck_assert_int_eq(shmslab_sub_recv(sub, &ref, 0), -EAGAIN);
	ck_assert_int_eq(shmslab_sub_recv(sub, &ref, 20), -ETIMEDOUT);
	ck_assert_int_eq(shmslab_unsubscribe(sub), 0);
}
END_TEST

START_TEST(test_pubsub_no_subscriber_frees)
{
	uint64_t before;
	shmslab_ref ref;

	create(16, 4, 8);
	before = available();
	ref = message("to nobody");
	ck_assert_int_eq(shmslab_publish(slab, ref), 0);
	ck_assert_uint_eq(available(), before);
	ck_assert_int_eq(shmslab_free(slab, ref), -ESTALE);
	assert_invariant();
}
END_TEST

START_TEST(test_pubsub_every_subscriber_gets_it)
{
	struct shmslab_sub *a, *b, *c;
	struct shmslab_stats st;
	uint64_t before;
	shmslab_ref ref, got[3];

	create(16, 4, 8);
	before = available();
	ck_assert_int_eq(shmslab_subscribe(slab, &a), 0);
	ck_assert_int_eq(shmslab_subscribe(slab, &b), 0);
	ck_assert_int_eq(shmslab_subscribe(slab, &c), 0);
	ck_assert_int_eq(shmslab_stat(slab, &st), 0);
	ck_assert_uint_eq(st.subscribers, 3);
	ref = message("fan out");
	ck_assert_int_eq(shmslab_publish(slab, ref), 3);
	ck_assert_int_eq(shmslab_stat(slab, &st), 0);
	ck_assert_uint_eq(st.published, 1);
	got[0] = receive(a, "fan out");
	got[1] = receive(b, "fan out");
	got[2] = receive(c, "fan out");
	ck_assert_uint_eq(got[0], ref);
	ck_assert_uint_eq(got[1], ref);
	ck_assert_uint_eq(got[2], ref);
	/* each once */
	ck_assert_int_eq(shmslab_sub_recv(a, &ref, 0), -EAGAIN);
	assert_invariant();
	ck_assert_int_eq(shmslab_sub_release(a, got[0]), 0);
	ck_assert_int_eq(shmslab_sub_release(b, got[1]), 0);
	ck_assert_uint_eq(available(), before - 1); /* c holds it */
	ck_assert_int_eq(shmslab_sub_release(c, got[2]), 0);
	ck_assert_uint_eq(available(), before);
	/* the last release freed it: its reference is stale everywhere */
	ck_assert_int_eq(shmslab_sub_release(c, got[2]), -ESTALE);
	ck_assert_int_eq(shmslab_read(slab, got[2], NULL, 0), -ESTALE);
	ck_assert_int_eq(shmslab_unsubscribe(a), 0);
	ck_assert_int_eq(shmslab_unsubscribe(b), 0);
	ck_assert_int_eq(shmslab_unsubscribe(c), 0);
	assert_invariant();
}
END_TEST

START_TEST(test_pubsub_published_is_read_only)
{
	struct shmslab_sub *sub;
	struct shmslab_view v;
	shmslab_ref ref, got, other;

	create(16, 4, 8);
	ck_assert_int_eq(shmslab_subscribe(slab, &sub), 0);
	ref = message("read only");
	ck_assert_int_eq(shmslab_publish(slab, ref), 1);
	ck_assert_int_eq(shmslab_store(slab, ref, "x", 1), -EBUSY);
	ck_assert_int_eq(shmslab_write_begin(slab, ref, &v), -EBUSY);
	ck_assert_int_eq(shmslab_free(slab, ref), -EBUSY);
	ck_assert_int_eq(shmslab_send(slab, ref), -EBUSY);
	ck_assert_int_eq(shmslab_publish(slab, ref), -EBUSY);
	ck_assert_int_eq(shmslab_send_many(slab, &ref, 1), -EBUSY);
	/* reading works, in place too */
	ck_assert_int_eq(shmslab_read_begin(slab, ref, &v), 0);
	ck_assert_uint_eq(v.len, 9);
	ck_assert_int_eq(memcmp(v.data, "read only", 9), 0);
	ck_assert_int_eq(shmslab_read_end(slab, &v), 0);
	got = receive(sub, "read only");
	ck_assert_int_eq(shmslab_sub_release(sub, got), 0);
	/* a queued slot cannot be published, nor one being written */
	other = message("queued");
	ck_assert_int_eq(shmslab_send(slab, other), 0);
	ck_assert_int_eq(shmslab_publish(slab, other), -EBUSY);
	ck_assert_int_eq(shmslab_recv(slab, &got, 0), 0);
	ck_assert_int_eq(shmslab_write_begin(slab, got, &v), 0);
	ck_assert_int_eq(shmslab_publish(slab, got), -EBUSY);
	v.len = 0;
	ck_assert_int_eq(shmslab_write_end(slab, &v), 0);
	ck_assert_int_eq(shmslab_free(slab, got), 0);
	/* a freed slot's reference is stale */
	ck_assert_int_eq(shmslab_publish(slab, got), -ESTALE);
	ck_assert_int_eq(shmslab_sub_recv(sub, &got, 0), -EAGAIN);
	ck_assert_int_eq(shmslab_unsubscribe(sub), 0);
	assert_invariant();
}
END_TEST

START_TEST(test_pubsub_only_after_subscribe)
{
	struct shmslab_sub *early, *late;
	shmslab_ref first, second, got;

	create(16, 4, 8);
	ck_assert_int_eq(shmslab_subscribe(slab, &early), 0);
	first = message("first");
	ck_assert_int_eq(shmslab_publish(slab, first), 1);
	ck_assert_int_eq(shmslab_subscribe(slab, &late), 0);
	second = message("second");
	ck_assert_int_eq(shmslab_publish(slab, second), 2);
	/* the late one gets only what came after it */
	got = receive(late, "second");
	ck_assert_uint_eq(got, second);
	ck_assert_int_eq(shmslab_sub_recv(late, &got, 0), -EAGAIN);
	/* and may not release what it never received */
	ck_assert_int_eq(shmslab_sub_release(late, first), -EINVAL);
	/* nor may the early one release what it has not received yet */
	ck_assert_int_eq(shmslab_sub_release(early, second), -EINVAL);
	ck_assert_uint_eq(receive(early, "first"), first);
	ck_assert_uint_eq(receive(early, "second"), second);
	ck_assert_int_eq(shmslab_sub_release(early, first), 0);
	/* a second release while another still holds it */
	ck_assert_int_eq(shmslab_sub_release(early, second), 0);
	ck_assert_int_eq(shmslab_sub_release(early, second), -ESTALE);
	ck_assert_int_eq(shmslab_sub_release(late, second), 0);
	ck_assert_int_eq(shmslab_unsubscribe(early), 0);
	ck_assert_int_eq(shmslab_unsubscribe(late), 0);
	assert_invariant();
}
END_TEST

START_TEST(test_pubsub_depth_refuses_and_loses_nothing)
{
	enum { DEPTH = 4 };
	struct shmslab_sub *fast, *slow;
	shmslab_ref refs[DEPTH], extra, got;
	char text[16];

	create(16, 4, DEPTH);
	ck_assert_int_eq(shmslab_subscribe(slab, &fast), 0);
	ck_assert_int_eq(shmslab_subscribe(slab, &slow), 0);
	for (unsigned i = 0; i < DEPTH; i++) {
		snprintf(text, sizeof(text), "m%u", i);
		refs[i] = message(text);
		ck_assert_int_eq(shmslab_publish(slab, refs[i]), 2);
		got = receive(fast, text);
		ck_assert_int_eq(shmslab_sub_release(fast, got), 0);
	}
	/* slow has DEPTH waiting: no more, and the slot stays the publisher's */
	extra = message("extra");
	ck_assert_int_eq(shmslab_publish(slab, extra), -ENOSPC);
	ck_assert_int_eq(shmslab_store(slab, extra, "still mine", 10), 0);
	ck_assert_int_eq(shmslab_sub_recv(fast, &got, 0), -EAGAIN);
	/* received and held does not count: one taken makes room for one */
	got = receive(slow, "m0");
	ck_assert_int_eq(shmslab_publish(slab, extra), 2);
	ck_assert_int_eq(shmslab_sub_release(slow, got), 0);
	for (unsigned i = 1; i < DEPTH; i++) {
		snprintf(text, sizeof(text), "m%u", i);
		got = receive(slow, text);
		ck_assert_int_eq(shmslab_sub_release(slow, got), 0);
	}
	ck_assert_int_eq(shmslab_sub_release(slow, receive(slow, "still mine")), 0);
	ck_assert_int_eq(shmslab_sub_release(fast, receive(fast, "still mine")), 0);
	ck_assert_int_eq(shmslab_unsubscribe(fast), 0);
	ck_assert_int_eq(shmslab_unsubscribe(slow), 0);
	assert_invariant();
}
END_TEST

START_TEST(test_pubsub_ring_laps)
{
	struct shmslab_sub *a, *b;
	char text[16];

	/* many times round a ring of 4, with subscribers taking turns lagging */
	create(8, 4, 4);
	ck_assert_int_eq(shmslab_subscribe(slab, &a), 0);
	ck_assert_int_eq(shmslab_subscribe(slab, &b), 0);
	for (unsigned i = 0; i < 200; i += 2) {
		shmslab_ref one, two;

		snprintf(text, sizeof(text), "n%u", i);
		one = message(text);
		ck_assert_int_eq(shmslab_publish(slab, one), 2);
		snprintf(text, sizeof(text), "n%u", i + 1);
		two = message(text);
		ck_assert_int_eq(shmslab_publish(slab, two), 2);
		snprintf(text, sizeof(text), "n%u", i);
		ck_assert_int_eq(shmslab_sub_release(a, receive(a, text)), 0);
		ck_assert_int_eq(shmslab_sub_release(b, receive(b, text)), 0);
		snprintf(text, sizeof(text), "n%u", i + 1);
		ck_assert_int_eq(shmslab_sub_release(b, receive(b, text)), 0);
		ck_assert_int_eq(shmslab_sub_release(a, receive(a, text)), 0);
	}
	ck_assert_int_eq(shmslab_unsubscribe(a), 0);
	ck_assert_int_eq(shmslab_unsubscribe(b), 0);
	assert_invariant();
}
END_TEST

START_TEST(test_pubsub_unsubscribe_lets_go)
{
	struct shmslab_sub *sub, *other;
	uint64_t before;
	shmslab_ref held, waiting, shared;

	create(16, 4, 8);
	before = available();
	ck_assert_int_eq(shmslab_subscribe(slab, &sub), 0);
	ck_assert_int_eq(shmslab_publish(slab, message("held")), 1);
	ck_assert_int_eq(shmslab_publish(slab, message("waiting")), 1);
	held = receive(sub, "held");
	ck_assert_int_eq(shmslab_subscribe(slab, &other), 0);
	shared = message("shared");
	ck_assert_int_eq(shmslab_publish(slab, shared), 2);
	ck_assert_uint_eq(available(), before - 3);
	/* it held one, had two waiting: all three let go, one still the other's */
	ck_assert_int_eq(shmslab_unsubscribe(sub), 0);
	ck_assert_uint_eq(available(), before - 1);
	ck_assert_int_eq(shmslab_read(slab, held, NULL, 0), -ESTALE);
	waiting = receive(other, "shared");
	ck_assert_uint_eq(waiting, shared);
	assert_invariant();
	/* closing the handle ends its subscriptions the same way */
	ck_assert_int_eq(shmslab_close(slab), 0);
	slab = NULL;
	ck_assert_int_eq(shmslab_open(name, &slab), 0);
	ck_assert_uint_eq(available(), before);
	assert_invariant();
}
END_TEST

START_TEST(test_pubsub_table_full)
{
	struct shmslab_sub *subs[3], *more;
	struct shmslab_sub_info info;

	create(16, 3, 8);
	for (unsigned i = 0; i < 3; i++)
		ck_assert_int_eq(shmslab_subscribe(slab, &subs[i]), 0);
	ck_assert_int_eq(shmslab_subscribe(slab, &more), -EUSERS);
	ck_assert_int_eq(shmslab_sub_info(slab, 3, &info), -EINVAL);
	ck_assert_int_eq(shmslab_sub_info(slab, 1, &info), 0);
	ck_assert_uint_eq(info.live, 1);
	ck_assert_int_eq(info.entry, (int32_t)slab->self);
	ck_assert_int_eq(shmslab_unsubscribe(subs[1]), 0);
	ck_assert_int_eq(shmslab_sub_info(slab, 1, &info), 0);
	ck_assert_uint_eq(info.live, 0);
	ck_assert_int_eq(shmslab_subscribe(slab, &more), 0);
	ck_assert_int_eq(shmslab_unsubscribe(more), 0);
	ck_assert_int_eq(shmslab_unsubscribe(subs[0]), 0);
	ck_assert_int_eq(shmslab_unsubscribe(subs[2]), 0);
}
END_TEST

START_TEST(test_pubsub_sub_info_counts)
{
	struct shmslab_sub *sub;
	struct shmslab_sub_info info;
	shmslab_ref got;

	create(16, 4, 8);
	ck_assert_int_eq(shmslab_subscribe(slab, &sub), 0);
	for (unsigned i = 0; i < 3; i++)
		ck_assert_int_eq(shmslab_publish(slab, message("x")), 1);
	got = receive(sub, "x");
	ck_assert_int_eq(shmslab_sub_info(slab, 0, &info), 0);
	ck_assert_uint_eq(info.waiting, 2);
	ck_assert_uint_eq(info.held, 1);
	ck_assert_uint_eq(info.received, 1);
	ck_assert_uint_eq(info.alive, 1);
	ck_assert_int_eq(shmslab_sub_release(sub, got), 0);
	ck_assert_int_eq(shmslab_sub_info(slab, 0, &info), 0);
	ck_assert_uint_eq(info.held, 0);
	ck_assert_int_eq(shmslab_unsubscribe(sub), 0);
}
END_TEST

/* A subscriber sleeping for a message wakes when it is published. */
static void *sleepy_subscriber(void *arg)
{
	struct shmslab_sub *sub = arg;
	shmslab_ref *got = malloc(sizeof(*got));

	ck_assert_int_eq(shmslab_sub_recv(sub, got, 30000), 0);
	return got;
}

START_TEST(test_pubsub_wakes_sleeper)
{
	struct shmslab_sub *sub;
	shmslab_ref ref, *got;
	pthread_t t;

	create(16, 4, 8);
	ck_assert_int_eq(shmslab_subscribe(slab, &sub), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, sleepy_subscriber, sub), 0);
	/* asleep: its bit is up */
	ck_assert(test_wait_for(atomic_load(&slab->fan->sleepers) != 0));
	ref = message("wake up");
	ck_assert_int_eq(shmslab_publish(slab, ref), 1);
	ck_assert_int_eq(pthread_join(t, (void **)&got), 0);
	ck_assert_uint_eq(*got, ref);
	ck_assert_uint_eq(atomic_load(&slab->fan->sleepers), 0);
	ck_assert_int_eq(shmslab_sub_release(sub, *got), 0);
	free(got);
	ck_assert_int_eq(shmslab_unsubscribe(sub), 0);
}
END_TEST

static void *waits_forever(void *arg)
{
	shmslab_ref ref;

	return (void *)(intptr_t)shmslab_sub_recv(arg, &ref, -1);
}

/* Closing the handle wakes a thread asleep on one of its subscriptions. */
START_TEST(test_pubsub_close_wakes_sleeper)
{
	struct shmslab_sub *sub;
	pthread_t t;
	void *err;

	create(16, 4, 8);
	ck_assert_int_eq(shmslab_subscribe(slab, &sub), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, waits_forever, sub), 0);
	ck_assert(test_wait_for(atomic_load(&slab->fan->sleepers) != 0));
	ck_assert_int_eq(shmslab_close(slab), 0);
	slab = NULL;
	ck_assert_int_eq(pthread_join(t, &err), 0);
	ck_assert_int_eq((int)(intptr_t)err, -EBADF);
}
END_TEST

/*
 * PUBLISHERS and SUBSCRIBERS as separate programs: every subscriber gets
 * every message of every publisher exactly once, each publisher's in the
 * order it published, and all subscribers in one and the same order.
 */
static void fan_out(unsigned publishers, unsigned subscribers)
{
	enum { MAX = 4, COUNT = 2000 };
	char count[16], total[16], ids[MAX][8], line[64];
	const char *sub_args[] = { "subscribe", name, total, NULL };
	pid_t ppid[MAX], spid[MAX];
	int pin[MAX], pout[MAX], sin[MAX], sout[MAX];
	char *got[MAX];

	create(16, 8, 8); /* fewer slots than messages: publishers wait for releases */
	snprintf(count, sizeof(count), "%u", COUNT);
	snprintf(total, sizeof(total), "%u", COUNT * publishers);
	for (unsigned i = 0; i < subscribers; i++) {
		spid[i] = test_spawn("tests/slab-helper", sub_args, &sin[i], &sout[i]);
		ck_assert(test_read_line(sout[i], line, sizeof(line)));
		ck_assert_str_eq(line, "ready");
	}
	for (unsigned p = 0; p < publishers; p++) {
		const char *pub_args[] = { "publish", name, ids[p], count, NULL };

		snprintf(ids[p], sizeof(ids[p]), "%u", p);
		ppid[p] = test_spawn("tests/slab-helper", pub_args, &pin[p], &pout[p]);
	}
	for (unsigned p = 0; p < publishers; p++) {
		ck_assert_int_eq(test_finish(ppid[p]), 0);
		close(pin[p]);
		close(pout[p]);
	}
	for (unsigned i = 0; i < subscribers; i++) {
		unsigned next[MAX] = { 0 }, n = 0;
		char *at;

		got[i] = test_read_all(sout[i]);
		ck_assert_int_eq(test_finish(spid[i]), 0);
		close(sin[i]);
		for (at = got[i]; *at != '\0'; at = strchr(at, '\n') + 1, n++) {
			unsigned id, seq;

			ck_assert_int_eq(sscanf(at, "%u %u", &id, &seq), 2);
			ck_assert_uint_lt(id, publishers);
			ck_assert_msg(seq == next[id], "subscriber %u got %u of publisher %u, not %u",
				      i, seq, id, next[id]);
			next[id]++;
		}
		ck_assert_uint_eq(n, COUNT * publishers);
		/* one order for all */
		if (i > 0)
			ck_assert_msg(strcmp(got[i], got[0]) == 0,
				      "subscribers 0 and %u received in different orders", i);
	}
	for (unsigned i = 0; i < subscribers; i++)
		free(got[i]);
	assert_invariant();
}

START_TEST(test_pubsub_one_to_three)
{
	fan_out(1, 3);
}
END_TEST

START_TEST(test_pubsub_two_to_two)
{
	fan_out(2, 2);
}
END_TEST

/*
 * A subscriber killed holding messages, with fanout_depth more waiting: a
 * publish it holds back recovers, goes on, and what the dead one held
 * comes back.
 */
START_TEST(test_pubsub_dead_subscriber_holds_nobody_back)
{
	enum { DEPTH = 3 };
	const char *args[] = { "subscribe-hold", name, "2", NULL };
	struct shmslab_recovery what;
	struct shmslab_sub *live;
	uint64_t before;
	char line[64];
	int in, out, status;
	pid_t pid;
	shmslab_ref ref;

	create(16, 4, DEPTH);
	before = available();
	ck_assert_int_eq(shmslab_subscribe(slab, &live), 0);
	pid = test_spawn("tests/slab-helper", args, &in, &out);
	ck_assert(test_read_line(out, line, sizeof(line)));
	ck_assert_str_eq(line, "ready");
	for (unsigned i = 0; i < 2 + DEPTH; i++) {
		ck_assert_int_eq(shmslab_publish(slab, message("m")), 2);
		ck_assert_int_eq(shmslab_sub_release(live, receive(live, "m")), 0);
		if (i == 1) {
			/* the helper holds the first two before the rest come */
			ck_assert(test_read_line(out, line, sizeof(line)));
			ck_assert_str_eq(line, "held");
		}
	}
	/* the helper holds 2 and has DEPTH waiting: full */
	ref = message("blocked");
	ck_assert_int_eq(shmslab_publish(slab, ref), -ENOSPC);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	close(in);
	close(out);
	/* dead, and full: publish recovers first */
	ck_assert_int_eq(shmslab_publish(slab, ref), 1);
	ck_assert_int_eq(shmslab_sub_release(live, receive(live, "blocked")), 0);
	ck_assert_uint_eq(available(), before);
	ck_assert_int_eq(shmslab_recover_counts(slab, &what), 0);
	ck_assert_int_eq(shmslab_unsubscribe(live), 0);
	assert_invariant();
}
END_TEST

/* A subscriber killed while it holds messages: recovery gives them back and counts it. */
START_TEST(test_pubsub_recover_counts_dead_subscription)
{
	const char *args[] = { "subscribe-hold", name, "1", NULL };
	struct shmslab_recovery what;
	struct shmslab_stats st;
	uint64_t before;
	char line[64];
	int in, out, status;
	pid_t pid;

	create(16, 4, 8);
	before = available();
	pid = test_spawn("tests/slab-helper", args, &in, &out);
	ck_assert(test_read_line(out, line, sizeof(line)));
	ck_assert_int_eq(shmslab_publish(slab, message("one")), 1);
	ck_assert_int_eq(shmslab_publish(slab, message("two")), 1);
	ck_assert(test_read_line(out, line, sizeof(line)));
	ck_assert_str_eq(line, "held");
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	close(in);
	close(out);
	ck_assert_int_gt(shmslab_recover_counts(slab, &what), 0);
	ck_assert_uint_eq(what.subscriptions, 1);
	ck_assert_uint_eq(what.slots, 2);
	ck_assert_uint_eq(available(), before);
	ck_assert_int_eq(shmslab_stat(slab, &st), 0);
	ck_assert_uint_eq(st.subscribers, 0);
	assert_invariant();
}
END_TEST

/* Run kp-helper NAME HOW and see it die by SIGKILL at kill point KP. */
static void helper_killed_at(const char *how, const char *kp)
{
	const char *args[] = { name, how, NULL };
	int status = test_run("tests/kp-helper", args, kp);

	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		      "kp-helper %s did not die at kill point %s (status %#x)", how, kp, status);
}

/* The ring goes on: one more message reaches SUB, which then leaves, and all is in place. */
static void assert_goes_on(struct shmslab_sub *sub)
{
	ck_assert_int_eq(shmslab_publish(slab, message("after")), 1);
	ck_assert_int_eq(shmslab_sub_release(sub, receive(sub, "after")), 0);
	ck_assert_int_eq(shmslab_unsubscribe(sub), 0);
	assert_invariant();
}

/*
 * A publisher killed at each step of its publish: the live subscriber gets
 * the message once its cell was filled, and never otherwise; either way
 * the slot is not lost.
 */
static void publisher_killed_at(const char *kp, bool delivered)
{
	struct shmslab_sub *sub;
	shmslab_ref got;
	uint64_t before;

	create(16, 4, 8);
	before = available();
	ck_assert_int_eq(shmslab_subscribe(slab, &sub), 0);
	helper_killed_at("publish", kp);
	ck_assert_int_gt(shmslab_recover(slab), 0);
	if (delivered) {
		got = receive(sub, "fanned out");
		ck_assert_int_eq(shmslab_sub_release(sub, got), 0);
	}
	ck_assert_int_eq(shmslab_sub_recv(sub, &got, 0), -EAGAIN);
	ck_assert_uint_eq(available(), before);
	assert_invariant();
	assert_goes_on(sub);
}

START_TEST(test_pubsub_publisher_killed_journaled)
{
	publisher_killed_at("publish_journaled", false);
}
END_TEST

START_TEST(test_pubsub_publisher_killed_in_turn)
{
	publisher_killed_at("publish_turn", false);
}
END_TEST

START_TEST(test_pubsub_publisher_killed_prepared)
{
	publisher_killed_at("publish_prepared", false);
}
END_TEST

START_TEST(test_pubsub_publisher_killed_marked)
{
	publisher_killed_at("publish_marked", false);
}
END_TEST

START_TEST(test_pubsub_publisher_killed_filled)
{
	publisher_killed_at("publish_filled", true);
}
END_TEST

/* A turn a dead publisher kept is taken back by the next publish, which recovers. */
START_TEST(test_pubsub_dead_turn_recovered_by_publish)
{
	struct shmslab_sub *sub;

	create(16, 4, 8);
	ck_assert_int_eq(shmslab_subscribe(slab, &sub), 0);
	helper_killed_at("publish", "publish_marked");
	ck_assert_uint_ne(atomic_load(&slab->fan->busy), 0);
	assert_goes_on(sub);
}
END_TEST

/*
 * A publisher killed with its cell filled and its ticket not moved on, its
 * message received and released before anyone recovers: recovery still
 * moves the ticket on, so the next message is not written over it.
 */
START_TEST(test_pubsub_filled_and_released_before_recovery)
{
	struct shmslab_sub *sub;

	create(16, 4, 8);
	ck_assert_int_eq(shmslab_subscribe(slab, &sub), 0);
	helper_killed_at("publish", "publish_filled");
	ck_assert_int_eq(shmslab_sub_release(sub, receive(sub, "fanned out")), 0);
	ck_assert_int_gt(shmslab_recover(slab), 0);
	ck_assert_uint_eq(atomic_load(&slab->fan->ticket), 1);
	assert_goes_on(sub);
}
END_TEST

/*
 * A recoverer killed at each step of settling a dead publisher's turn: the
 * next recovery finishes the publish (its cell was filled) or undoes it,
 * whoever held the turn last.
 */
static void recoverer_killed_at(const char *publish_kp, const char *recover_kp, bool delivered)
{
	struct shmslab_sub *sub;
	shmslab_ref got;
	uint64_t before;

	create(16, 4, 8);
	before = available();
	ck_assert_int_eq(shmslab_subscribe(slab, &sub), 0);
	helper_killed_at("publish", publish_kp);
	helper_killed_at("recover", recover_kp);
	ck_assert_int_gt(shmslab_recover(slab), 0);
	if (delivered)
		ck_assert_int_eq(shmslab_sub_release(sub, receive(sub, "fanned out")), 0);
	ck_assert_int_eq(shmslab_sub_recv(sub, &got, 0), -EAGAIN);
	ck_assert_uint_eq(available(), before);
	assert_invariant();
	assert_goes_on(sub);
}

START_TEST(test_pubsub_recoverer_killed_with_filled_turn)
{
	recoverer_killed_at("publish_filled", "recover_fan_taken", true);
}
END_TEST

START_TEST(test_pubsub_recoverer_killed_with_marked_turn)
{
	recoverer_killed_at("publish_marked", "recover_fan_taken", false);
}
END_TEST

START_TEST(test_pubsub_recoverer_killed_after_settling)
{
	recoverer_killed_at("publish_marked", "recover_fan_settled", false);
}
END_TEST

/*
 * The recovery of an attach that finds the table full has no entry of its
 * own: it still takes the turn, as the recovery lock's holder, and a death
 * there is settled by the next recovery.
 */
START_TEST(test_pubsub_attach_recovery_takes_the_turn)
{
	struct shmslab_sub *sub;

	slab = test_segment(name, (struct shmslab_config){ .slot_count = 16, .slot_size = 64,
							   .max_procs = 2, .max_subscribers = 4,
							   .fanout_depth = 8 });
	ck_assert_int_eq(shmslab_subscribe(slab, &sub), 0);
	helper_killed_at("publish", "publish_filled");
	/* the helper's open finds the table full of us and the dead publisher */
	helper_killed_at("recover", "recover_fan_taken");
	ck_assert_uint_eq(atomic_load(&slab->fan->busy), slab->g.max_procs + 1);
	/* a publish finds the recovery dead in its turn, recovers, and goes on;
	 * the dead publisher's filled cell comes first */
	ck_assert_int_eq(shmslab_publish(slab, message("after")), 1);
	ck_assert_int_eq(shmslab_sub_release(sub, receive(sub, "fanned out")), 0);
	ck_assert_int_eq(shmslab_sub_release(sub, receive(sub, "after")), 0);
	ck_assert_int_eq(shmslab_unsubscribe(sub), 0);
	assert_invariant();
}
END_TEST

/* A member bit beyond the subscription table is damage: an error, and nothing is lost. */
START_TEST(test_pubsub_member_beyond_table)
{
	struct shmslab_sub *sub;
	shmslab_ref ref;
	uint64_t before;

	create(16, 1, 4);
	before = available();
	ck_assert_int_eq(shmslab_subscribe(slab, &sub), 0);
	atomic_fetch_or(&slab->fan->members, UINT64_C(1) << 3);
	ref = message("a");
	ck_assert_int_eq(shmslab_publish(slab, ref), SHMSLAB_ECORRUPT);
	ck_assert_int_eq(shmslab_free(slab, ref), 0); /* still the caller's */
	atomic_fetch_and(&slab->fan->members, ~(UINT64_C(1) << 3));
	ck_assert_int_eq(shmslab_unsubscribe(sub), 0);
	ck_assert_uint_eq(available(), before);
}
END_TEST

/* A turn held by an entry that nobody holds is damage: an error, not a wait forever. */
START_TEST(test_pubsub_turn_of_nobody)
{
	uint64_t before;
	shmslab_ref ref;

	create(16, 4, 8);
	before = available();
	atomic_store(&slab->fan->busy, 3); /* entry 2: free */
	ref = message("a");
	ck_assert_int_eq(shmslab_publish(slab, ref), SHMSLAB_ECORRUPT);
	ck_assert_int_eq(shmslab_free(slab, ref), 0);
	atomic_store(&slab->fan->busy, 0);
	ck_assert_uint_eq(available(), before);
}
END_TEST

/*
 * A turn a live process keeps holds back only the dead entries that need
 * it (a dead subscriber's), not an unrelated dead one.
 */
START_TEST(test_pubsub_kept_turn_holds_back_only_its_own)
{
	const char *hold[] = { "subscribe-hold", name, "0", NULL };
	const char *rec[] = { name, "recover", NULL };
	struct shmslab_recovery what;
	struct shmslab_stats st;
	char line[64];
	int in, out, status;
	pid_t pid;

	create(16, 4, 8);
	pid = test_spawn("tests/slab-helper", hold, &in, &out);
	ck_assert(test_read_line(out, line, sizeof(line)));
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	close(in);
	close(out);
	/* another dies just after attaching: no subscription, no turn */
	status = test_run("tests/kp-helper", rec, "attach_live");
	ck_assert(WIFSIGNALED(status));
	atomic_store(&slab->fan->busy, slab->self + 1); /* as if a thread of ours were publishing */
	memset(&what, 0, sizeof(what));
	ck_assert_int_ge(shmslab_recover_counts(slab, &what), 0);
	ck_assert_uint_eq(what.procs, 1);
	ck_assert_uint_eq(what.subscriptions, 0);
	atomic_store(&slab->fan->busy, 0);
	/* the turn free again, the subscriber's entry and place follow */
	ck_assert_int_gt(shmslab_recover_counts(slab, &what), 0);
	ck_assert_uint_eq(what.subscriptions, 1);
	ck_assert_int_eq(shmslab_stat(slab, &st), 0);
	ck_assert_uint_eq(st.dead_procs, 0);
	ck_assert_uint_eq(st.subscribers, 0);
	assert_invariant();
}
END_TEST

/*
 * A close whose subscription cannot be ended leaves its entry DEAD, and
 * recovery ends the subscription: it holds no publisher back.
 */
START_TEST(test_pubsub_close_that_cannot_leave)
{
	struct shmslab *other;
	struct shmslab_sub *sub;
	int err, n = 0;

	create(16, 4, 4);
	ck_assert_int_eq(shmslab_open(name, &other), 0);
	ck_assert_int_eq(shmslab_subscribe(other, &sub), 0);
	atomic_store(&slab->fan->busy, 3); /* damage: entry 2, which nobody holds, keeps the turn */
	ck_assert_int_eq(shmslab_close(other), 0);
	atomic_store(&slab->fan->busy, 0);
	/* four fill it; the fifth finds its process gone, recovers, and has nobody to go to */
	while ((err = shmslab_publish(slab, message("x"))) == 1)
		n++;
	ck_assert_int_eq(err, 0);
	ck_assert_int_eq(n, 4);
	assert_invariant();
}
END_TEST

struct sharer {
	struct shmslab_sub *sub;
	unsigned got;
	unsigned char *seen;
};

/* A thread of a subscription shared by two: receive until "stop", marking what came. */
static void *share_receive(void *arg)
{
	struct sharer *t = arg;
	char buf[16];

	for (;;) {
		shmslab_ref ref;
		ssize_t len;
		unsigned n;

		ck_assert_int_eq(shmslab_sub_recv(t->sub, &ref, 30000), 0);
		len = shmslab_read(slab, ref, buf, sizeof(buf) - 1);
		ck_assert_int_gt(len, 0);
		buf[len] = '\0';
		ck_assert_int_eq(shmslab_sub_release(t->sub, ref), 0);
		if (strcmp(buf, "stop") == 0)
			return NULL;
		ck_assert_int_eq(sscanf(buf, "%u", &n), 1);
		/* each message to one thread of the subscription: marked once */
		ck_assert_uint_eq(__atomic_fetch_add(&t->seen[n], 1, __ATOMIC_RELAXED), 0);
		t->got++;
	}
}

/* Threads sharing one subscription receive each message once between them. */
START_TEST(test_pubsub_threads_share_a_subscription)
{
	enum { COUNT = 3000 };
	static unsigned char seen[COUNT];
	struct sharer a = { .seen = seen }, b = { .seen = seen };
	pthread_t ta, tb;
	char text[16];

	memset(seen, 0, sizeof(seen));
	create(16, 4, 8);
	ck_assert_int_eq(shmslab_subscribe(slab, &a.sub), 0);
	b.sub = a.sub;
	ck_assert_int_eq(pthread_create(&ta, NULL, share_receive, &a), 0);
	ck_assert_int_eq(pthread_create(&tb, NULL, share_receive, &b), 0);
	for (unsigned i = 0; i < COUNT + 2; i++) {
		shmslab_ref ref;
		int err;

		snprintf(text, sizeof(text), i < COUNT ? "%u" : "stop", i);
		while ((err = shmslab_alloc(slab, &ref)) == -ENOSPC)
			sched_yield();
		ck_assert_int_eq(err, 0);
		ck_assert_int_eq(shmslab_store(slab, ref, text, strlen(text)), 0);
		while ((err = shmslab_publish(slab, ref)) == -ENOSPC)
			sched_yield();
		ck_assert_int_eq(err, 1);
	}
	ck_assert_int_eq(pthread_join(ta, NULL), 0);
	ck_assert_int_eq(pthread_join(tb, NULL), 0);
	ck_assert_uint_eq(a.got + b.got, COUNT);
	for (unsigned i = 0; i < COUNT; i++)
		ck_assert_uint_eq(seen[i], 1);
	ck_assert_int_eq(shmslab_unsubscribe(a.sub), 0);
	assert_invariant();
}
END_TEST

/* A fork child's close of the inherited handle leaves the parent's subscription alone. */
START_TEST(test_pubsub_fork_child_leaves_the_subscription)
{
	struct shmslab_sub *sub;
	int status;
	pid_t pid;

	create(16, 4, 8);
	ck_assert_int_eq(shmslab_subscribe(slab, &sub), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(shmslab_sub_release(sub, 1) == -ECHILD && shmslab_close(slab) == 0 ? 0 : 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(shmslab_publish(slab, message("still here")), 1);
	ck_assert_int_eq(shmslab_sub_release(sub, receive(sub, "still here")), 0);
	ck_assert_int_eq(shmslab_unsubscribe(sub), 0);
	assert_invariant();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pubsub");
	TCase *tc = tcase_create("pubsub");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_pubsub_config);
	tcase_add_test(tc, test_pubsub_bad_arguments);
	tcase_add_test(tc, test_pubsub_no_subscriber_frees);
	tcase_add_test(tc, test_pubsub_every_subscriber_gets_it);
	tcase_add_test(tc, test_pubsub_published_is_read_only);
	tcase_add_test(tc, test_pubsub_only_after_subscribe);
	tcase_add_test(tc, test_pubsub_depth_refuses_and_loses_nothing);
	tcase_add_test(tc, test_pubsub_ring_laps);
	tcase_add_test(tc, test_pubsub_unsubscribe_lets_go);
	tcase_add_test(tc, test_pubsub_table_full);
	tcase_add_test(tc, test_pubsub_sub_info_counts);
	tcase_add_test(tc, test_pubsub_wakes_sleeper);
	tcase_add_test(tc, test_pubsub_close_wakes_sleeper);
	tcase_add_test(tc, test_pubsub_threads_share_a_subscription);
	tcase_add_test(tc, test_pubsub_fork_child_leaves_the_subscription);
	tcase_add_test(tc, test_pubsub_one_to_three);
	tcase_add_test(tc, test_pubsub_two_to_two);
	tcase_add_test(tc, test_pubsub_dead_subscriber_holds_nobody_back);
	tcase_add_test(tc, test_pubsub_recover_counts_dead_subscription);
	tcase_add_test(tc, test_pubsub_publisher_killed_journaled);
	tcase_add_test(tc, test_pubsub_publisher_killed_in_turn);
	tcase_add_test(tc, test_pubsub_publisher_killed_prepared);
	tcase_add_test(tc, test_pubsub_publisher_killed_marked);
	tcase_add_test(tc, test_pubsub_publisher_killed_filled);
	tcase_add_test(tc, test_pubsub_dead_turn_recovered_by_publish);
	tcase_add_test(tc, test_pubsub_filled_and_released_before_recovery);
	tcase_add_test(tc, test_pubsub_recoverer_killed_with_filled_turn);
	tcase_add_test(tc, test_pubsub_recoverer_killed_with_marked_turn);
	tcase_add_test(tc, test_pubsub_recoverer_killed_after_settling);
	tcase_add_test(tc, test_pubsub_attach_recovery_takes_the_turn);
	tcase_add_test(tc, test_pubsub_member_beyond_table);
	tcase_add_test(tc, test_pubsub_turn_of_nobody);
	tcase_add_test(tc, test_pubsub_kept_turn_holds_back_only_its_own);
	tcase_add_test(tc, test_pubsub_close_that_cannot_leave);
	suite_add_tcase(s, tc);
	return test_main(s);
}
