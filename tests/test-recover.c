/* SPDX-License-Identifier: MIT */
/*
 * Crash recovery.  A process killed at any kill point leaves state that
 * another process recovers from completely (tests/invariant.h), and the
 * segment keeps working; locks held by killed processes do not stop anyone
 * for long; a full table of dead processes does not keep a new one out.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "internal.h"
#include "invariant.h"

extern char **environ;

static char name[TEST_NAME_MAX];
static struct shmslab *slab;

static void teardown(void)
{
	if (slab != NULL)
		shmslab_close(slab);
	slab = NULL;
	test_cleanup();
}

static void create(uint32_t slots, uint32_t max_slots, uint32_t max_procs)
{
	slab = test_segment(name, (struct shmslab_config){ .slot_count = slots,
							   .max_slots = max_slots,
							   .slot_size = 64,
							   .max_procs = max_procs });
}

/* Run the kill-point scenario and see it die by SIGKILL at KP. */
static void killed_at(const char *kp)
{
	const char *args[] = { name, NULL };
	int status = test_run("tests/kp-helper", args, kp);

	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		      "kp-helper did not die at kill point %s (status %#x)", kp, status);
}

static void assert_invariant(void)
{
	char why[256];
	const char *err = invariant_check(slab, why, sizeof(why));

	ck_assert_msg(err == NULL, "%s", err);
}

static void assert_keeps_working(void)
{
	char why[256];
	const char *err = invariant_exercise(slab, why, sizeof(why));

	ck_assert_msg(err == NULL, "%s", err);
	assert_invariant();
}

/*
 * What the queue must hold once kp-helper died at KP and was recovered, in
 * order: its two sends put "first" and "second" in the queue, and its two
 * receives take them out.  A send that had published its cell counts as
 * made; a receive counts as made once it had emptied the cell.  A burst
 * dead partway has handed over its first message and none of the others.
 */
static const char *queue_after(const char *kp)
{
	if (strcmp(kp, "send_published") == 0)
		return "first";
	if (strcmp(kp, "recv_journaled") == 0)
		return "first second";
	if (strcmp(kp, "recv_taken") == 0 || strcmp(kp, "recv_owned") == 0)
		return "second";
	/* later, a burst sends "x y z" and receives it */
	if (strcmp(kp, "send_many_partway") == 0)
		return "x";
	if (strcmp(kp, "recv_many_partway") == 0)
		return "y z";
	return "";
}

/* Receive all that is queued: the messages must be WANT, no more, no fewer. */
static void assert_queue_holds(const char *kp, const char *want)
{
	char got[64] = "", msg[64];
	shmslab_ref ref;
	ssize_t len;

	while (shmslab_recv(slab, &ref, 0) == 0) {
		len = shmslab_read(slab, ref, msg, sizeof(msg) - 1);
		ck_assert_msg(len > 0, "a queued message after %s does not read: %s", kp,
			      shmslab_strerror((int)len));
		msg[len] = '\0';
		ck_assert_int_lt(strlen(got) + (size_t)len + 2, sizeof(got));
		if (got[0] != '\0')
			strcat(got, " ");
		strcat(got, msg);
		ck_assert_int_eq(shmslab_free(slab, ref), 0);
	}
	ck_assert_msg(strcmp(got, want) == 0, "after %s the queue held \"%s\", not \"%s\"", kp, got,
		      want);
}

/*
 * The process dies at kill point KP, after another died inside a free; a
 * third recovers, finds everything in its place, what was sent and not
 * received still queued, and the segment works.
 */
static void recover_after(const char *kp)
{
	int n;

	create(8, 64, 8);
	/* a victim first, dead inside a free: recovery meets limbo, and the
	 * scenario's own recovery has something to do */
	killed_at("free_marked");
	killed_at(kp);
	n = shmslab_recover(slab);
	ck_assert_msg(n > 0, "recovery after %s reclaimed %d", kp, n);
	assert_invariant();
	/* nothing is left for a second recovery */
	ck_assert_int_eq(shmslab_recover(slab), 0);
	assert_queue_holds(kp, queue_after(kp));
	assert_invariant();
	assert_keeps_working();
}

/* One test per kill point, named after it. */
#define KP_TEST(kp)                      \
	START_TEST(test_recover_at_##kp) \
	{                                \
		recover_after(#kp);      \
	}                                \
	END_TEST
SHMSLAB_KILLPOINT_LIST(KP_TEST)
#undef KP_TEST

START_TEST(test_recover_nothing_dead)
{
	shmslab_ref ref;

	create(8, 0, 4);
	ck_assert_int_eq(shmslab_alloc(slab, &ref), 0);
	ck_assert_int_eq(shmslab_recover(slab), 0);
	assert_invariant();
	ck_assert_int_eq(shmslab_free(slab, ref), 0);
}
END_TEST

/*
 * A helper holds a view of REF until killed; someone else then needs the
 * write lock.  With BAD_LIST, the helper also died in a pop window, and a
 * free list has a link that cannot be followed: every recovery finds the
 * lists unreadable, so it cannot tell which slots the helper lost.
 */
static void killed_holder_does_not_block(const char *hold, bool bad_list)
{
	char refstr[32], held[8] = "";
	const char *args[] = { hold, name, refstr, NULL };
	uint32_t shard = 0, top = 0, link0 = 0;
	struct lane *dead_lane = NULL;
	struct shmslab_stats st;
	struct shmslab_view v;
	shmslab_ref ref;
	uint64_t t0;
	int in, out, status;
	pid_t pid;

	create(4, 0, 8);
	ck_assert_int_eq(shmslab_alloc(slab, &ref), 0);
	ck_assert_int_eq(shmslab_store(slab, ref, "before", 6), 0);
	snprintf(refstr, sizeof(refstr), "%llx", (unsigned long long)ref);
	/* its stdin stays open until it dies: it holds the view until then */
	pid = test_spawn("tests/slab-helper", args, &in, &out);
	ck_assert_int_eq(read(out, held, 5), 5);
	ck_assert_str_eq(held, "held\n");
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status));
	close(in);
	close(out);
	if (bad_list) {
		uint64_t bits = atomic_load(&slot_meta(slab, ref_index(slab, ref))->readers[0]);

		ck_assert_uint_ne(bits, 0);
		dead_lane = &shmslab__proc_entry(slab, (uint32_t)__builtin_ctzll(bits))->lanes[0];
		shmslab__lane_set(dead_lane, LANE_POP, ref_index(slab, ref));
		top = shmslab__freelist_nil(slab);
		while (top == shmslab__freelist_nil(slab))
			top = (uint32_t)(atomic_load(&slab->shards[shard++].head) &
					 slab->g.idx_mask);
		link0 = atomic_load(&slot_meta(slab, top)->next);
		atomic_store(&slot_meta(slab, top)->next, slab->g.slot_count + 1);
	}
	t0 = test_now_ms();
	ck_assert_int_eq(shmslab_write_begin(slab, ref, &v), 0);
	/* about a slice; far below for ever, and far above what a busy machine shows */
	ck_assert_msg(test_now_ms() - t0 < 10000, "took %llu ms",
		      (unsigned long long)(test_now_ms() - t0));
	memcpy(v.data, "after", 5);
	v.len = 5;
	ck_assert_int_eq(shmslab_write_end(slab, &v), 0);
	if (bad_list) {
		/* the locks came back, the entry did not */
		ck_assert_int_eq(shmslab_recover(slab), SHMSLAB_ECORRUPT);
		ck_assert_int_eq(shmslab_stat(slab, &st), 0);
		ck_assert_uint_eq(st.dead_procs, 1);
		atomic_store(&slot_meta(slab, top)->next, link0);
		shmslab__lane_set(dead_lane, LANE_IDLE, 0);
		ck_assert_int_eq(shmslab_recover(slab), 1);
	}
	ck_assert_int_eq(shmslab_free(slab, ref), 0);
	/* the wait found the holder dead and recovered all it held */
	ck_assert_int_eq(shmslab_recover(slab), 0);
	assert_invariant();
}

START_TEST(test_recover_killed_reader_releases)
{
	killed_holder_does_not_block("hold-read", false);
}
END_TEST

START_TEST(test_recover_killed_writer_releases)
{
	killed_holder_does_not_block("hold-write", false);
}
END_TEST

START_TEST(test_recover_killed_reader_releases_despite_bad_list)
{
	killed_holder_does_not_block("hold-read", true);
}
END_TEST

/*
 * A writer dies asleep in its drain wait, waiting for a live reader to
 * leave: recovery takes its lock (the message is torn) and clears the drain
 * word it set, so that the reader's leaving wakes nobody, and nothing says a
 * writer waits.
 */
START_TEST(test_recover_dead_drainer_leaves_no_mark)
{
	char refstr[32], held[8] = "";
	const char *reader_args[] = { "hold-read", name, refstr, NULL };
	const char *writer_args[] = { "hold-write", name, refstr, NULL };
	struct slot_meta *m;
	shmslab_ref ref;
	int rin, rout, win, wout, status;
	pid_t reader, writer;

	create(4, 0, 8);
	ck_assert_int_eq(shmslab_alloc(slab, &ref), 0);
	ck_assert_int_eq(shmslab_store(slab, ref, "whole", 5), 0);
	m = slot_meta(slab, ref_index(slab, ref));
	snprintf(refstr, sizeof(refstr), "%llx", (unsigned long long)ref);
	reader = test_spawn("tests/slab-helper", reader_args, &rin, &rout);
	ck_assert_int_eq(read(rout, held, 5), 5);
	writer = test_spawn("tests/slab-helper", writer_args, &win, &wout);
	ck_assert(test_wait_for(atomic_load(&m->drain) == 1));
	ck_assert_int_eq(kill(writer, SIGKILL), 0);
	ck_assert_int_eq(waitpid(writer, &status, 0), writer);
	close(win);
	close(wout);
	ck_assert_int_gt(shmslab_recover(slab), 0);
	ck_assert_uint_eq(st_writer(atomic_load(&m->state)), 0);
	ck_assert_uint_eq(atomic_load(&m->drain), 0);
	close(rin); /* the reader lets go and ends */
	ck_assert_int_eq(waitpid(reader, &status, 0), reader);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(rout);
	ck_assert_int_eq(shmslab_recover(slab), 0);
	assert_invariant();
	ck_assert_int_eq(shmslab_free(slab, ref), 0);
}
END_TEST

START_TEST(test_recover_torn_for_live_owner)
{
	char refstr[32], held[8] = "";
	const char *args[] = { "hold-write", name, refstr, NULL };
	char buf[16];
	shmslab_ref ref;
	int in, out, status;
	pid_t pid;

	create(4, 0, 8);
	ck_assert_int_eq(shmslab_alloc(slab, &ref), 0);
	ck_assert_int_eq(shmslab_store(slab, ref, "whole", 5), 0);
	snprintf(refstr, sizeof(refstr), "%llx", (unsigned long long)ref);
	pid = test_spawn("tests/slab-helper", args, &in, &out);
	ck_assert_int_eq(read(out, held, 5), 5);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	close(in);
	close(out);
	/* our slot, written by a process that died mid-write: never read as valid */
	ck_assert_int_eq(shmslab_read(slab, ref, buf, sizeof(buf)), -EOWNERDEAD);
	ck_assert_int_eq(shmslab_read(slab, ref, buf, sizeof(buf)), -EOWNERDEAD);
	ck_assert_int_eq(shmslab_store(slab, ref, "again", 5), 0);
	ck_assert_int_eq(shmslab_read(slab, ref, buf, sizeof(buf)), 5);
	ck_assert_int_eq(memcmp(buf, "again", 5), 0);
	ck_assert_int_eq(shmslab_free(slab, ref), 0);
}
END_TEST

/* kp-helper sends REF, a slot of ours, and dies at kill point KP. */
static void killed_sending(shmslab_ref ref, const char *kp)
{
	char refstr[32];
	const char *args[] = { name, "send", refstr, NULL };
	int status;

	snprintf(refstr, sizeof(refstr), "%#llx", (unsigned long long)ref);
	status = test_run("tests/kp-helper", args, kp);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		      "kp-helper did not die at kill point %s (status %#x)", kp, status);
}

static uint64_t slot_state(uint32_t idx)
{
	return atomic_load(&slot_meta(slab, idx)->state);
}

/*
 * A slot may be sent while it is written.  Its sender dies before the queue
 * has it: recovery takes the slot back, but not the live writer's lock, and
 * the slot goes back to the free lists only once the write is over.
 */
START_TEST(test_recover_dead_sender_spares_live_writer)
{
	struct shmslab_view v;
	shmslab_ref ref;
	uint32_t idx;

	create(8, 0, 8);
	ck_assert_int_eq(shmslab_alloc(slab, &ref), 0);
	idx = ref_index(slab, ref);
	ck_assert_int_eq(shmslab_write_begin(slab, ref, &v), 0);
	killed_sending(ref, "send_queued");
	/* nothing comes back yet: the slot waits for its writer */
	ck_assert_int_eq(shmslab_recover(slab), 0);
	ck_assert_uint_eq(st_writer(slot_state(idx)), slab->self + 1);
	ck_assert_uint_ne(st_kind(slot_state(idx)), KIND_FREE);
	memcpy(v.data, "still mine", 10);
	v.len = 10;
	ck_assert_int_eq(shmslab_write_end(slab, &v), 0);
	/* the write is over: now the slot the dead sender lost goes back */
	ck_assert_int_gt(shmslab_recover(slab), 0);
	ck_assert_uint_eq(st_kind(slot_state(idx)), KIND_FREE);
	assert_invariant();
	assert_keeps_working();
}
END_TEST

struct sleeper {
	shmslab_ref got;
	int result;
};

static void *sleep_on_queue(void *arg)
{
	struct sleeper *r = arg;

	r->result = shmslab_recv(slab, &r->got, -1);
	return NULL;
}

/* Whether a thread of ours is asleep on the queue, our sleeper bit saying so. */
static bool we_sleep_on_queue(void)
{
	return (atomic_load(&slab->sleepers[slab->self / 64]) >> (slab->self % 64)) & 1;
}

/*
 * A receiver sleeps, its lane marked WAIT, while a sender dies with slot 0
 * half sent: the sleeper's lane names no slot, so it must not keep slot 0
 * from being reclaimed.
 */
START_TEST(test_recover_sleeper_does_not_hide_slot_0)
{
	struct sleeper r = { 0, -1 };
	shmslab_ref refs[8], zero = SHMSLAB_REF_NONE, wake;
	pthread_t t;

	create(8, 0, 8);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(shmslab_alloc(slab, &refs[i]), 0);
	for (int i = 0; i < 8; i++) {
		if (ref_index(slab, refs[i]) == 0)
			zero = refs[i];
		else
			ck_assert_int_eq(shmslab_free(slab, refs[i]), 0);
	}
	ck_assert(zero != SHMSLAB_REF_NONE);
	ck_assert_int_eq(pthread_create(&t, NULL, sleep_on_queue, &r), 0);
	ck_assert(test_wait_for(we_sleep_on_queue()));
	killed_sending(zero, "send_queued");
	ck_assert_int_gt(shmslab_recover(slab), 0);
	ck_assert_uint_eq(st_kind(slot_state(0)), KIND_FREE);
	/* wake the sleeper with a message; it gets that one, and nothing else */
	ck_assert_int_eq(shmslab_alloc(slab, &wake), 0);
	ck_assert_int_eq(shmslab_send(slab, wake), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(r.result, 0);
	ck_assert_uint_eq(r.got, wake);
	ck_assert_int_eq(shmslab_free(slab, r.got), 0);
	assert_invariant();
}
END_TEST

/*
 * A receiver dies having emptied a cell, while a live lane names the same
 * slot (a receiver whose CAS lost to the dead one's, not yet moved on).
 * Recovery must leave the slot for later rather than decide it, and must
 * remember the dead receiver's window so that a later recovery does.
 */
START_TEST(test_recover_undecided_window_is_kept)
{
	struct shmslab_stats st;
	struct lane *ours;
	uint32_t x = UINT32_MAX;

	create(8, 64, 8);
	killed_at("recv_taken");
	for (uint32_t e = 0; e < slab->g.max_procs && x == UINT32_MAX; e++)
		for (uint32_t l = 0; l < LANES; l++) {
			uint64_t w = atomic_load(&shmslab__proc_entry(slab, e)->lanes[l].window);

			if (w >> 32 == LANE_RECV)
				x = (uint32_t)w;
		}
	ck_assert_uint_ne(x, UINT32_MAX);
	ours = shmslab__lane_enter(slab);
	shmslab__lane_set(ours, LANE_RECV, x);
	ck_assert_int_gt(shmslab_recover(slab), 0);
	ck_assert_uint_eq(st_kind(slot_state(x)), KIND_QUEUED);
	ck_assert_int_eq(shmslab_stat(slab, &st), 0);
	ck_assert_uint_eq(st.dead_procs, 1);
	shmslab__lane_set(ours, LANE_IDLE, 0);
	shmslab__lane_leave(slab, ours);
	ck_assert_int_gt(shmslab_recover(slab), 0);
	ck_assert_uint_eq(st_kind(slot_state(x)), KIND_FREE);
	ck_assert_int_eq(shmslab_stat(slab, &st), 0);
	ck_assert_uint_eq(st.dead_procs, 0);
	assert_queue_holds("recv_taken", "second");
	assert_invariant();
}
END_TEST

/*
 * A ring that cannot be read (two cells name one slot) does not stop
 * recovery: what a dead process held outside the queue still comes back.
 */
START_TEST(test_recover_despite_corrupt_ring)
{
	struct shmslab_stats st;
	uint64_t saved[2];

	create(8, 64, 8);
	killed_at("free_marked");
	for (int i = 0; i < 2; i++) {
		saved[i] = atomic_load(&slab->queue->cells[i]);
		atomic_store(&slab->queue->cells[i], (saved[0] & ~(uint64_t)UINT32_MAX) | 1);
	}
	ck_assert_int_gt(shmslab_recover(slab), 0);
	ck_assert_int_eq(shmslab_stat(slab, &st), 0);
	ck_assert_uint_eq(st.dead_procs, 0);
	for (int i = 0; i < 2; i++)
		atomic_store(&slab->queue->cells[i], saved[i]);
	assert_invariant();
	assert_keeps_working();
}
END_TEST

START_TEST(test_recover_full_table_of_dead)
{
	struct shmslab_stats st;
	struct shmslab *late;

	create(8, 64, 3);
	/* two processes die attached, with slots; the table is full with us */
	killed_at("alloc_kept_claimed");
	killed_at("alloc_kept_claimed");
	ck_assert_int_eq(shmslab_stat(slab, &st), 0);
	ck_assert_uint_eq(st.procs, 1);
	ck_assert_uint_eq(st.dead_procs, 2);
	/* the newcomer reclaims the dead entries, and their slots, to get in */
	ck_assert_int_eq(shmslab_open(name, &late), 0);
	ck_assert_int_eq(shmslab_stat(slab, &st), 0);
	ck_assert_uint_eq(st.procs, 2);
	ck_assert_uint_eq(st.dead_procs, 0);
	shmslab_close(late);
	ck_assert_int_eq(shmslab_recover(slab), 0);
	assert_invariant();
	assert_keeps_working();
}
END_TEST

START_TEST(test_recover_alloc_recovers_before_enospc)
{
	struct shmslab_stats st;
	shmslab_ref refs[64];
	int n = 0;

	create(8, 64, 4);
	/* dies holding a kept slot and the 16 slots of the growth test */
	killed_at("grow_pushed");
	ck_assert_int_eq(shmslab_stat(slab, &st), 0);
	/* every free slot, and then the dead process's: alloc recovers on its own */
	while (n < 64 && shmslab_alloc(slab, &refs[n]) == 0)
		n++;
	ck_assert_int_eq(n, 64);
	while (n > 0)
		ck_assert_int_eq(shmslab_free(slab, refs[--n]), 0);
	assert_invariant();
}
END_TEST

START_TEST(test_recover_pid_liveness)
{
	create(8, 64, 8);
	setenv("SHMSLAB_LIVENESS", "pid", 1);
	killed_at("free_marked");
	unsetenv("SHMSLAB_LIVENESS");
	ck_assert_int_gt(shmslab_recover(slab), 0);
	assert_invariant();
	assert_keeps_working();
}
END_TEST

struct recoverer {
	int result;
};

static void *recover_thread(void *arg)
{
	struct recoverer *r = arg;
	struct shmslab *own;

	r->result = shmslab_open(name, &own);
	if (r->result == 0) {
		r->result = shmslab_recover(own);
		shmslab_close(own);
	}
	return NULL;
}

START_TEST(test_recover_concurrent_recoverers)
{
	struct recoverer r[3];
	pthread_t t[3];
	int total = 0;

	create(8, 64, 8);
	killed_at("free_marked");
	killed_at("store_copied");
	/* three attachments recover at once: one does it all, none double-frees */
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, recover_thread, &r[i]);
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_ge(r[i].result, 0);
		total += r[i].result > 0;
	}
	ck_assert_int_eq(total, 1);
	assert_invariant();
	assert_keeps_working();
}
END_TEST

START_TEST(test_recover_stat_shows_dead)
{
	struct shmslab_proc_info info;
	int dead = 0;

	create(8, 64, 4);
	killed_at("write_drained");
	for (uint32_t e = 0; e < 4; e++) {
		ck_assert_int_eq(shmslab_proc_info(slab, e, &info), 0);
		dead += info.attached && !info.alive;
	}
	ck_assert_int_eq(dead, 1);
	ck_assert_int_gt(shmslab_recover(slab), 0);
	for (uint32_t e = 0; e < 4; e++) {
		ck_assert_int_eq(shmslab_proc_info(slab, e, &info), 0);
		ck_assert(!info.attached || info.alive);
	}
}
END_TEST

/* A process that died sending, or receiving, says so in its entry's detail. */
START_TEST(test_recover_stat_names_queue_windows)
{
	const char *points[] = { "send_queued", "recv_taken" };
	const uint32_t want[] = { 4, 5 };

	for (int k = 0; k < 2; k++) {
		struct shmslab_proc_info info;
		uint32_t died_in = 0;

		create(8, 64, 4);
		killed_at(points[k]);
		for (uint32_t e = 0; e < 4; e++) {
			ck_assert_int_eq(shmslab_proc_info(slab, e, &info), 0);
			if (info.attached && !info.alive)
				died_in = info.died_in;
		}
		ck_assert_msg(died_in == want[k], "died at %s: died_in %u", points[k], died_in);
		ck_assert_int_gt(shmslab_recover(slab), 0);
		teardown();
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("recover");
	TCase *tc = tcase_create("recover");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
#define KP_ADD(kp) tcase_add_test(tc, test_recover_at_##kp);
	SHMSLAB_KILLPOINT_LIST(KP_ADD)
#undef KP_ADD
	tcase_add_test(tc, test_recover_nothing_dead);
	tcase_add_test(tc, test_recover_killed_reader_releases);
	tcase_add_test(tc, test_recover_killed_writer_releases);
	tcase_add_test(tc, test_recover_killed_reader_releases_despite_bad_list);
	tcase_add_test(tc, test_recover_dead_drainer_leaves_no_mark);
	tcase_add_test(tc, test_recover_torn_for_live_owner);
	tcase_add_test(tc, test_recover_dead_sender_spares_live_writer);
	tcase_add_test(tc, test_recover_sleeper_does_not_hide_slot_0);
	tcase_add_test(tc, test_recover_undecided_window_is_kept);
	tcase_add_test(tc, test_recover_despite_corrupt_ring);
	tcase_add_test(tc, test_recover_full_table_of_dead);
	tcase_add_test(tc, test_recover_alloc_recovers_before_enospc);
	tcase_add_test(tc, test_recover_pid_liveness);
	tcase_add_test(tc, test_recover_concurrent_recoverers);
	tcase_add_test(tc, test_recover_stat_shows_dead);
	tcase_add_test(tc, test_recover_stat_names_queue_windows);
	suite_add_tcase(s, tc);
	return test_main(s);
}
