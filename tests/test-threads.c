/* SPDX-License-Identifier: MIT */
/*
 * Many threads of one process on one segment: nothing is lost, duplicated
 * or torn, including with more threads than a process has journal lanes.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "internal.h"

#define SLOTS	  64
#define SLOT_SIZE 256

static char name[TEST_NAME_MAX];
static struct shmslab *slab;

static void setup(void)
{
	test_name(name);
	slab = test_create(name, SLOTS, SLOT_SIZE);
}

static void teardown(void)
{
	shmslab_close(slab);
	ck_assert_int_eq(shmslab_unlink(name), 0);
}

static void assert_all_free(void)
{
	struct shmslab_stats st;

	ck_assert_int_eq(shmslab_stat(slab, &st), 0);
	ck_assert_uint_eq(st.available, SLOTS);
	ck_assert_uint_eq(st.allocated, 0);
	ck_assert_uint_eq(st.busy, 0);
}

struct churner {
	uint32_t id;
	int rounds;
	int errors;
	int enospc;
};

/* Allocate, store a message naming this thread and round, read it back, free. */
static void *churn(void *arg)
{
	struct churner *c = arg;
	char msg[SLOT_SIZE], buf[SLOT_SIZE];

	for (int r = 0; r < c->rounds; r++) {
		shmslab_ref ref;
		int len = snprintf(msg, sizeof(msg), "thread %u round %d", c->id, r);
		int err = shmslab_alloc(slab, &ref);

		if (err == -ENOSPC) {
			c->enospc++;
			continue;
		}
		if (err || shmslab_store(slab, ref, msg, (size_t)len) != 0 ||
		    shmslab_read(slab, ref, buf, sizeof(buf)) != len ||
		    memcmp(msg, buf, (size_t)len) != 0 || shmslab_free(slab, ref) != 0 ||
		    shmslab_free(slab, ref) != -ESTALE)
			c->errors++;
	}
	return NULL;
}

static void run_churners(unsigned n, int rounds)
{
	struct churner c[32];
	pthread_t t[32];

	ck_assert_uint_le(n, 32);
	for (unsigned i = 0; i < n; i++) {
		c[i] = (struct churner){ i, rounds, 0, 0 };
		pthread_create(&t[i], NULL, churn, &c[i]);
	}
	for (unsigned i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		ck_assert_msg(c[i].errors == 0, "thread %u: %d errors", i, c[i].errors);
	}
}

START_TEST(test_threads_churn)
{
	run_churners(8, 20000);
	assert_all_free();
}
END_TEST

START_TEST(test_threads_more_than_lanes)
{
	/* past LANES - 1 threads, the rest share one lane under a mutex */
	run_churners(LANES + 8, 3000);
	assert_all_free();
}
END_TEST

struct holder {
	int held, errors;
};

/* Take every slot there is, hold them a moment, give them all back. */
static void *hoard(void *arg)
{
	struct holder *h = arg;
	shmslab_ref refs[SLOTS];

	for (int round = 0; round < 200; round++) {
		int n = 0;

		while (n < SLOTS && shmslab_alloc(slab, &refs[n]) == 0)
			n++;
		h->held += n;
		while (n > 0)
			if (shmslab_free(slab, refs[--n]) != 0)
				h->errors++;
	}
	return NULL;
}

START_TEST(test_threads_exhaustion_loses_nothing)
{
	struct holder h[6] = { { 0, 0 } };
	pthread_t t[6];
	int held = 0;

	for (int i = 0; i < 6; i++)
		pthread_create(&t[i], NULL, hoard, &h[i]);
	for (int i = 0; i < 6; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(h[i].errors, 0);
		held += h[i].held;
	}
	ck_assert_int_gt(held, 0);
	assert_all_free();
}
END_TEST

/* Writers fill the whole message with one byte value; readers must never see two. */
struct rw {
	shmslab_ref ref;
	_Atomic int stop;
	_Atomic int inside; /* writers inside at once */
	_Atomic int reads_so_far, writes_so_far;
	int violations, reads, writes;
	pthread_mutex_t count_lock;
};

static void *rw_writer(void *arg)
{
	struct rw *rw = arg;
	struct shmslab_view v;
	int writes = 0, bad = 0;

	for (uint8_t value = 1; !atomic_load(&rw->stop); value++) {
		if (shmslab_write_begin(slab, rw->ref, &v) != 0) {
			bad++;
			break;
		}
		if (atomic_fetch_add(&rw->inside, 1) != 0)
			bad++;
		memset(v.data, value, v.cap);
		v.len = v.cap;
		atomic_fetch_sub(&rw->inside, 1);
		if (shmslab_write_end(slab, &v) != 0)
			bad++;
		writes++;
		atomic_fetch_add(&rw->writes_so_far, 1);
	}
	pthread_mutex_lock(&rw->count_lock);
	rw->violations += bad;
	rw->writes += writes;
	pthread_mutex_unlock(&rw->count_lock);
	return NULL;
}

static void *rw_reader(void *arg)
{
	struct rw *rw = arg;
	struct shmslab_view v;
	int reads = 0, bad = 0;

	while (!atomic_load(&rw->stop)) {
		const uint8_t *p;

		if (shmslab_read_begin(slab, rw->ref, &v) != 0) {
			bad++;
			break;
		}
		if (atomic_load(&rw->inside) != 0)
			bad++;
		p = v.data;
		for (size_t i = 1; i < v.len; i++)
			bad += p[i] != p[0];
		if (shmslab_read_end(slab, &v) != 0)
			bad++;
		reads++;
		atomic_fetch_add(&rw->reads_so_far, 1);
	}
	pthread_mutex_lock(&rw->count_lock);
	rw->violations += bad;
	rw->reads += reads;
	pthread_mutex_unlock(&rw->count_lock);
	return NULL;
}

START_TEST(test_threads_readers_writers_one_slot)
{
	struct rw rw;
	pthread_t t[6];

	memset(&rw, 0, sizeof(rw));
	pthread_mutex_init(&rw.count_lock, NULL);
	ck_assert_int_eq(shmslab_alloc(slab, &rw.ref), 0);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, rw_writer, &rw);
	for (int i = 2; i < 6; i++)
		pthread_create(&t[i], NULL, rw_reader, &rw);
	/* until both sides have been in many times, however busy the machine */
	ck_assert(test_wait_for(atomic_load(&rw.reads_so_far) >= 20000 &&
				atomic_load(&rw.writes_so_far) >= 5000));
	atomic_store(&rw.stop, 1);
	for (int i = 0; i < 6; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(rw.violations, 0);
	ck_assert_int_gt(rw.reads, 0);
	ck_assert_int_gt(rw.writes, 0);
	ck_assert_int_eq(shmslab_free(slab, rw.ref), 0);
	pthread_mutex_destroy(&rw.count_lock);
}
END_TEST

/* ---- Stopping a thread that waits ------------------------------------------ */

struct waiter {
	struct shmslab *slab;
	shmslab_ref ref;
	_Atomic pid_t tid;
	int result;
};

static void *wait_to_receive(void *arg)
{
	struct waiter *w = arg;

	atomic_store(&w->tid, (pid_t)gettid());
	w->result = shmslab_recv(w->slab, &w->ref, -1);
	return NULL;
}

static void *wait_to_read(void *arg)
{
	struct waiter *w = arg;
	char buf[SLOT_SIZE];

	w->result = (int)shmslab_read(w->slab, w->ref, buf, sizeof(buf));
	return NULL;
}

static void *wait_to_recover(void *arg)
{
	struct waiter *w = arg;

	atomic_store(&w->tid, (pid_t)gettid());
	w->result = shmslab_recover(w->slab);
	/* cancelled meanwhile: this is where it takes effect */
	pthread_testcancel();
	return NULL;
}

static bool asleep_on_queue(struct shmslab *h)
{
	return (atomic_load(&h->sleepers[h->self / 64]) >> (h->self % 64)) & 1;
}

static void no_op(int sig)
{
	(void)sig;
}

/* shmslab_close from another thread wakes a receiver, which answers -EBADF. */
START_TEST(test_threads_close_wakes_a_receiver)
{
	struct waiter w = { 0 };
	pthread_t t;

	ck_assert_int_eq(shmslab_open(name, &w.slab), 0);
	pthread_create(&t, NULL, wait_to_receive, &w);
	ck_assert(test_wait_for(asleep_on_queue(w.slab)));
	ck_assert_int_eq(shmslab_close(w.slab), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(w.result, -EBADF);
	assert_all_free();
}
END_TEST

/* ...and a thread waiting for a slot's writer answers -EBADF within a slice. */
START_TEST(test_threads_close_ends_a_lock_wait)
{
	struct waiter w = { 0 };
	struct shmslab_view v;
	pthread_t t;

	ck_assert_int_eq(shmslab_alloc(slab, &w.ref), 0);
	ck_assert_int_eq(shmslab_write_begin(slab, w.ref, &v), 0);
	ck_assert_int_eq(shmslab_open(name, &w.slab), 0);
	pthread_create(&t, NULL, wait_to_read, &w);
	ck_assert(test_wait_for(st_low(atomic_load(&slot_meta(slab, ref_index(slab, w.ref))->state)) &
				ST_WAITERS));
	ck_assert_int_eq(shmslab_close(w.slab), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(w.result, -EBADF);
	ck_assert_int_eq(shmslab_write_end(slab, &v), 0);
	ck_assert_int_eq(shmslab_free(slab, w.ref), 0);
}
END_TEST

/* A signal handler that runs interrupts a receiver's wait: -EINTR, as POSIX waits do. */
START_TEST(test_threads_signal_interrupts_recv)
{
	struct sigaction sa;
	struct waiter w = { 0 };
	pthread_t t;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = no_op; /* no SA_RESTART: it would not matter */
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	w.slab = slab;
	pthread_create(&t, NULL, wait_to_receive, &w);
	ck_assert(test_wait_for(asleep_on_queue(slab)));
	ck_assert_int_eq(pthread_kill(t, SIGUSR1), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(w.result, -EINTR);
	ck_assert(!asleep_on_queue(slab));
}
END_TEST

/* A receiver's wait is a cancellation point; cancelled, it leaves no mark. */
START_TEST(test_threads_cancel_in_recv)
{
	struct waiter w = { 0 };
	struct shmslab *h;
	void *res;
	pthread_t t;

	ck_assert_int_eq(shmslab_open(name, &h), 0);
	w.slab = h;
	pthread_create(&t, NULL, wait_to_receive, &w);
	ck_assert(test_wait_for(asleep_on_queue(h)));
	ck_assert_int_eq(pthread_cancel(t), 0);
	pthread_join(t, &res);
	ck_assert_ptr_eq(res, PTHREAD_CANCELED);
	ck_assert(!asleep_on_queue(h));
	/* its call is over: the close does not wait for it */
	ck_assert_int_eq(shmslab_close(h), 0);
}
END_TEST

/* Whether thread TID of this process sleeps in the system call NR. */
static bool in_syscall(pid_t tid, long nr)
{
	char path[64];
	long got = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	if (fscanf(f, "%ld", &got) != 1)
		got = -1;
	fclose(f);
	return got == nr;
}

/*
 * A thread cancelled while it waits for the recovery lock, which another
 * process holds: the cancel takes effect once the call is over, and the
 * handle's own lock is not left held: the next recovery goes through.
 */
START_TEST(test_threads_cancel_in_recovery_wait)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 1 };
	struct waiter w = { 0 };
	int locked[2], release[2], status;
	pid_t holder;
	void *res;
	pthread_t t;
	char byte;

	fl.l_start = (off_t)lock_byte_recovery(slab->g.max_procs);
	ck_assert_int_eq(pipe(locked), 0);
	ck_assert_int_eq(pipe(release), 0);
	holder = fork();
	ck_assert_int_ge(holder, 0);
	if (holder == 0) {
		int fd = shm_open(name, O_RDWR, 0);

		close(release[1]);
		if (fd < 0 || fcntl(fd, F_OFD_SETLK, &fl) != 0 || write(locked[1], "x", 1) != 1)
			_exit(1);
		while (read(release[0], &byte, 1) > 0)
			;
		_exit(0);
	}
	close(release[0]);
	ck_assert_int_eq(read(locked[0], &byte, 1), 1);
	w.slab = slab;
	pthread_create(&t, NULL, wait_to_recover, &w);
	ck_assert(test_wait_for(atomic_load(&w.tid) != 0 && in_syscall(atomic_load(&w.tid), SYS_fcntl)));
	ck_assert_int_eq(pthread_cancel(t), 0);
	close(release[1]); /* the holder lets go, and ends */
	ck_assert_int_eq(waitpid(holder, &status, 0), holder);
	pthread_join(t, &res);
	ck_assert_ptr_eq(res, PTHREAD_CANCELED);
	ck_assert_int_eq(w.result, 0);
	ck_assert_int_eq(shmslab_recover(slab), 0);
	close(locked[0]);
	close(locked[1]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("threads");
	TCase *tc = tcase_create("threads");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_threads_churn);
	tcase_add_test(tc, test_threads_more_than_lanes);
	tcase_add_test(tc, test_threads_exhaustion_loses_nothing);
	tcase_add_test(tc, test_threads_readers_writers_one_slot);
	tcase_add_test(tc, test_threads_close_wakes_a_receiver);
	tcase_add_test(tc, test_threads_close_ends_a_lock_wait);
	tcase_add_test(tc, test_threads_signal_interrupts_recv);
	tcase_add_test(tc, test_threads_cancel_in_recv);
	tcase_add_test(tc, test_threads_cancel_in_recovery_wait);
	suite_add_tcase(s, tc);
	return test_main(s);
}
