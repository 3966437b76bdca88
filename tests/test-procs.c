/* SPDX-License-Identifier: MIT */
/*
 * The process table: one entry per attachment, -EUSERS past max_procs,
 * entries reused after detach, and the byte lock that proves an entry's
 * holder is alive, which a fork child must not keep on its parent's behalf.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "internal.h"

#define PROCS 3

static char name[TEST_NAME_MAX];
static struct shmslab *creator;

static void setup(void)
{
	creator = test_segment(name, (struct shmslab_config){
					     .slot_count = 8, .slot_size = 64, .max_procs = PROCS });
}

static void teardown(void)
{
	shmslab_close(creator);
	ck_assert_int_eq(shmslab_unlink(name), 0);
}

/* Whether someone holds the byte lock of process-table entry ENTRY. */
static bool entry_locked(uint32_t entry)
{
	struct flock fl;
	int fd = shm_open(name, O_RDWR, 0);

	ck_assert_int_ge(fd, 0);
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = entry;
	fl.l_len = 1;
	ck_assert_int_eq(fcntl(fd, F_OFD_GETLK, &fl), 0);
	close(fd);
	return fl.l_type != F_UNLCK;
}

static uint64_t procs_attached(void)
{
	struct shmslab_stats st;

	ck_assert_int_eq(shmslab_stat(creator, &st), 0);
	return st.procs;
}

START_TEST(test_procs_eusers)
{
	struct shmslab *h[PROCS], *extra = (struct shmslab *)&extra, *inspector;

	ck_assert_uint_eq(procs_attached(), 1);
	for (int i = 1; i < PROCS; i++)
		ck_assert_int_eq(shmslab_open(name, &h[i]), 0);
	ck_assert_uint_eq(procs_attached(), PROCS);
	ck_assert_int_eq(shmslab_open(name, &extra), -EUSERS);
	ck_assert_ptr_null(extra);
	/* inspection takes no entry, so it works on a full table */
	ck_assert_int_eq(shmslab_inspect(name, &inspector), 0);
	shmslab_close(inspector);
	/* a freed entry is taken again */
	shmslab_close(h[1]);
	ck_assert_uint_eq(procs_attached(), PROCS - 1);
	ck_assert_int_eq(shmslab_open(name, &h[1]), 0);
	ck_assert_int_eq(shmslab_open(name, &extra), -EUSERS);
	for (int i = 1; i < PROCS; i++)
		shmslab_close(h[i]);
	ck_assert_uint_eq(procs_attached(), 1);
}
END_TEST

START_TEST(test_procs_info)
{
	struct shmslab_proc_info info;
	struct shmslab *h;
	int attached = 0, self = 0;

	ck_assert_int_eq(shmslab_open(name, &h), 0);
	for (uint32_t e = 0; e < PROCS; e++) {
		ck_assert_int_eq(shmslab_proc_info(creator, e, &info), 0);
		ck_assert_uint_eq(info.entry, e);
		if (info.attached) {
			attached++;
			ck_assert_int_eq(info.pid, getpid());
		}
		self += info.self;
	}
	ck_assert_int_eq(attached, 2);
	ck_assert_int_eq(self, 1);
	ck_assert_int_eq(shmslab_proc_info(creator, PROCS, &info), -EINVAL);
	shmslab_close(h);
}
END_TEST

START_TEST(test_procs_liveness_lock)
{
	struct shmslab *h;
	uint32_t entry;

	ck_assert_int_eq(shmslab_open(name, &h), 0);
	entry = h->self;
	ck_assert(entry_locked(creator->self));
	ck_assert(entry_locked(entry));
	ck_assert(!entry_locked(PROCS - 1));
	shmslab_close(h);
	ck_assert(!entry_locked(entry));
}
END_TEST

START_TEST(test_procs_fork_child_drops_parent_lock)
{
	struct shmslab *h;
	uint32_t entry;
	int pipefd[2], ready[2], status;
	pid_t child;
	char c;

	ck_assert_int_eq(shmslab_open(name, &h), 0);
	entry = h->self;
	ck_assert_int_eq(pipe(pipefd), 0);
	ck_assert_int_eq(pipe(ready), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		/* past fork(), the library's handler has run: say so, then keep
		 * living, with the inherited handle, until the parent says */
		close(pipefd[1]);
		_exit(write(ready[1], "r", 1) == 1 && read(pipefd[0], &c, 1) >= 0 ? 0 : 1);
	}
	close(pipefd[0]);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	/* the parent detaches while its child lives on: the entry must read free,
	 * so the child's inherited descriptor must not hold the parent's lock */
	shmslab_close(h);
	ck_assert(!entry_locked(entry));
	close(pipefd[1]);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

struct churn {
	_Atomic int stop;
	int rounds;
};

/* Open and close the segment, over and over, while another thread forks. */
static void *open_close(void *arg)
{
	struct churn *c = arg;

	while (!atomic_load(&c->stop)) {
		struct shmslab *s;

		if (shmslab_open(name, &s) == 0)
			shmslab_close(s);
		c->rounds++;
	}
	return NULL;
}

/*
 * A process forks while another of its threads opens and closes the
 * segment, and dies; its children live on.  None of them keeps a descriptor
 * of a handle that was half open or half closed at the fork: the dead
 * process's entry reads dead at once, and every entry can be claimed again.
 */
START_TEST(test_procs_fork_racing_open_and_close)
{
	enum { FORKS = 200 };
	int hold[2], report[2], started[2], status;
	pid_t racer;

	ck_assert_int_eq(pipe(hold), 0);
	ck_assert_int_eq(pipe(report), 0);
	ck_assert_int_eq(pipe(started), 0);
	racer = fork();
	ck_assert_int_ge(racer, 0);
	if (racer == 0) {
		struct churn c = { 0, 0 };
		struct shmslab *held;
		pthread_t t;
		char ok = 1;

		close(hold[1]);
		close(report[0]);
		if (shmslab_open(name, &held) != 0)
			_exit(1);
		pthread_create(&t, NULL, open_close, &c);
		for (int i = 0; i < FORKS; i++) {
			pid_t child = fork();

			if (child == 0) {
				char byte;

				/* it runs: its fork handler has closed what it inherited */
				if (write(started[1], "s", 1) != 1)
					_exit(1);
				/* lives until the test closes its end of the pipe */
				while (read(hold[0], &byte, 1) > 0)
					;
				_exit(0);
			}
		}
		atomic_store(&c.stop, 1);
		pthread_join(t, NULL);
		/* a child that has not run yet still holds the copies its fork
		 * handler will close: wait until every one has */
		close(started[1]);
		for (int i = 0; i < FORKS; i++) {
			char byte;

			if (read(started[0], &byte, 1) != 1)
				_exit(1);
		}
		/* one last open, held, to die with */
		if (write(report[1], &ok, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(hold[0]);
	close(report[1]);
	close(started[0]);
	close(started[1]);
	{
		char byte;

		ck_assert_int_eq(read(report[0], &byte, 1), 1);
	}
	ck_assert_int_eq(kill(racer, SIGKILL), 0);
	ck_assert_int_eq(waitpid(racer, &status, 0), racer);
	/* the dead process's entry is dead now, whatever its children hold */
	ck_assert_int_gt(shmslab_recover(creator), 0);
	{
		struct shmslab_stats st;
		struct shmslab *others[PROCS - 1];

		ck_assert_int_eq(shmslab_stat(creator, &st), 0);
		ck_assert_uint_eq(st.procs, 1);
		ck_assert_uint_eq(st.dead_procs, 0);
		/* and every other entry can be claimed */
		for (int i = 0; i < PROCS - 1; i++)
			ck_assert_int_eq(shmslab_open(name, &others[i]), 0);
		for (int i = 0; i < PROCS - 1; i++)
			shmslab_close(others[i]);
	}
	close(hold[1]); /* the children end */
	close(report[0]);
}
END_TEST

START_TEST(test_procs_child_attaches_itself)
{
	struct shmslab_proc_info info;
	int status, found = 0;
	pid_t child = fork();

	ck_assert_int_ge(child, 0);
	if (child == 0) {
		struct shmslab *own;
		shmslab_ref ref;
		int ok = shmslab_alloc(creator, &ref) == -ECHILD && shmslab_open(name, &own) == 0 &&
			 shmslab_alloc(own, &ref) == 0 && shmslab_store(own, ref, "kid", 3) == 0;

		/* stay attached until killed, so the parent sees the entry */
		if (ok) {
			raise(SIGSTOP);
			pause();
		}
		_exit(1);
	}
	ck_assert_int_eq(waitpid(child, &status, WUNTRACED), child);
	ck_assert(WIFSTOPPED(status));
	for (uint32_t e = 0; e < PROCS; e++) {
		ck_assert_int_eq(shmslab_proc_info(creator, e, &info), 0);
		found += info.attached && info.pid == child;
	}
	ck_assert_int_eq(found, 1);
	kill(child, SIGKILL);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("procs");
	TCase *tc = tcase_create("procs");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_procs_eusers);
	tcase_add_test(tc, test_procs_info);
	tcase_add_test(tc, test_procs_liveness_lock);
	tcase_add_test(tc, test_procs_fork_child_drops_parent_lock);
	tcase_add_test(tc, test_procs_child_attaches_itself);
	tcase_add_test(tc, test_procs_fork_racing_open_and_close);
	suite_add_tcase(s, tc);
	return test_main(s);
}
