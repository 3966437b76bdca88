/* SPDX-License-Identifier: MIT */
/*
 * A hostile world around the segment: a FIFO or an empty object planted at
 * its name, a creator killed half way or raced by an opener, the descriptor
 * limit, the file-size limit, an address space too small for a page another
 * process grew, and lists left blocked by a recoverer that died while the
 * next one cannot finish.  Every call comes back with an error, never a
 * signal or a hang, and leaves nothing behind it.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "internal.h"

static char name[TEST_NAME_MAX];
static struct shmslab *slab;

static void teardown(void)
{
	if (slab != NULL)
		shmslab_close(slab);
	slab = NULL;
	test_cleanup();
}

static bool name_exists(void)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "/dev/shm%s", name);
	return stat(path, &st) == 0;
}

static struct shmslab *create(uint32_t slots, uint32_t max_slots, uint32_t slot_size)
{
	return test_segment(name, (struct shmslab_config){ .slot_count = slots,
							   .max_slots = max_slots,
							   .slot_size = slot_size,
							   .max_procs = 8 });
}

/* Anyone may put a FIFO at the name: nothing opens it and waits for a writer. */
START_TEST(test_hostile_fifo_at_the_name)
{
	char path[PATH_MAX];
	struct shmslab *s;

	test_name(name);
	snprintf(path, sizeof(path), "/dev/shm%s", name);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(shmslab_unlink(name), SHMSLAB_EFORMAT);
	ck_assert_int_eq(shmslab_inspect(name, &s), SHMSLAB_EFORMAT);
	ck_assert_int_eq(shmslab_open(name, &s), SHMSLAB_EFORMAT);
	ck_assert_int_eq(shmslab_create(name, NULL, &s), -EEXIST);
	ck_assert(name_exists());
	unlink(path);
}
END_TEST

/*
 * A creator killed at each step of creating leaves an object that
 * shmslab_unlink removes; an opener answers SHMSLAB_EFORMAT (after a short
 * wait), since no live creator will finish it; create then works again.
 */
static void creator_killed_at(const char *kp)
{
	const char *args[] = { name, "create", NULL };
	struct shmslab *s;
	int status;

	test_name(name);
	status = test_run("tests/kp-helper", args, kp);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		      "the creator did not die at %s (status %#x)", kp, status);
	ck_assert(name_exists());
	ck_assert_int_eq(shmslab_open(name, &s), SHMSLAB_EFORMAT);
	ck_assert_int_eq(shmslab_create(name, NULL, &s), -EEXIST);
	ck_assert_int_eq(shmslab_unlink(name), 0);
	ck_assert(!name_exists());
	slab = create(8, 0, 64);
}

#define KP_CREATE_TEST(kp)                     \
	START_TEST(test_hostile_creator_killed_##kp) \
	{                                      \
		creator_killed_at(#kp);        \
	}                                      \
	END_TEST
SHMSLAB_KILLPOINT_CREATE_LIST(KP_CREATE_TEST)
#undef KP_CREATE_TEST

/*
 * An opener that finds the object still being laid out waits for it; while
 * a live creator holds it past the wait, the answer is -EAGAIN, to retry.
 */
START_TEST(test_hostile_open_while_being_created)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 1 };
	struct shmslab *s;
	int fd;

	test_name(name);
	fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	fl.l_start = (off_t)CREATE_LOCK_BYTE;
	ck_assert_int_eq(fcntl(fd, F_OFD_SETLK, &fl), 0);
	ck_assert_int_eq(shmslab_open(name, &s), -EAGAIN);
	ck_assert_int_eq(shmslab_inspect(name, &s), -EAGAIN);
	close(fd); /* the "creator" dies */
	ck_assert_int_eq(shmslab_open(name, &s), SHMSLAB_EFORMAT);
	ck_assert_int_eq(shmslab_unlink(name), 0);
}
END_TEST

/* A consumer that retries its open next to its producer never gets "not a segment". */
START_TEST(test_hostile_open_racing_its_creator)
{
	for (int trial = 0; trial < 40; trial++) {
		const char *args[] = { name, "create", NULL };
		struct shmslab *s;
		int err, status;
		pid_t pid;

		test_name(name);
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0)
			_exit(WEXITSTATUS(test_run("tests/kp-helper", args, NULL)));
		while ((err = shmslab_open(name, &s)) == -ENOENT || err == -EAGAIN)
			;
		ck_assert_msg(err == 0, "trial %d: open racing its creator: %s", trial,
			      shmslab_strerror(err));
		shmslab_close(s);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert_int_eq(shmslab_unlink(name), 0);
	}
}
END_TEST

static unsigned open_descriptors(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n - 3; /* ".", ".." and the directory's own */
}

/* At the descriptor limit, a create that fails leaves nothing behind. */
START_TEST(test_hostile_create_at_the_descriptor_limit)
{
	unsigned open = open_descriptors();
	struct rlimit old, rl;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	for (unsigned spare = 0; spare <= 4; spare++) {
		struct shmslab *s = NULL;
		int err;

		test_name(name);
		rl = old;
		rl.rlim_cur = open + spare;
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
		err = shmslab_create(name, NULL, &s);
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
		if (err == 0) {
			shmslab_close(s);
			ck_assert_int_eq(shmslab_unlink(name), 0);
			continue;
		}
		ck_assert_msg(err == -EMFILE, "%u spare: %s", spare, shmslab_strerror(err));
		ck_assert_msg(!name_exists(), "%u spare: a failed create left %s", spare, name);
	}
}
END_TEST

static volatile sig_atomic_t xfsz_seen;

static void on_xfsz(int sig)
{
	(void)sig;
	xfsz_seen++;
}

/* Past RLIMIT_FSIZE: -EFBIG, the program alive, its handler not run. */
START_TEST(test_hostile_file_size_limit)
{
	struct rlimit rl = { 1 << 20, 1 << 20 };
	struct shmslab_config cfg;
	struct sigaction sa;
	shmslab_ref ref;
	struct shmslab *s;
	int err = 0, n = 0;

	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	/* the default action of SIGXFSZ would kill this test */
	test_name(name);
	shmslab_config_init(&cfg);
	cfg.slot_count = 4096;
	ck_assert_int_eq(shmslab_create(name, &cfg, &s), -EFBIG);
	ck_assert(!name_exists());
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_xfsz;
	ck_assert_int_eq(sigaction(SIGXFSZ, &sa, NULL), 0);
	/* room for the first page, not for growing far */
	slab = create(64, 4096, 4096);
	while (n < 4096 && (err = shmslab_alloc(slab, &ref)) == 0)
		n++;
	ck_assert_int_eq(err, -EFBIG);
	ck_assert_int_ge(n, 64);
	ck_assert_int_eq(xfsz_seen, 0);
	sa.sa_handler = SIG_DFL;
	ck_assert_int_eq(sigaction(SIGXFSZ, &sa, NULL), 0);
	ck_assert_int_eq(shmslab_alloc(slab, &ref), -EFBIG);
}
END_TEST

static uint64_t address_space(void)
{
	unsigned long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%lu", &pages), 1);
	fclose(f);
	return (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Hold the address space to what it is now, and a little. */
static void limit_address_space(void)
{
	struct rlimit rl;

	rl.rlim_cur = rl.rlim_max = address_space() + (2u << 20);
	ck_assert_int_eq(setrlimit(RLIMIT_AS, &rl), 0);
}

/*
 * Another process grows the segment (a page of 16 slots of 1 MiB) and sends
 * a slot of the new page; this one, short of address space, cannot map it:
 * receiving that slot, or allocating when only such slots are free, answers
 * -ENOMEM, which is what it is, not SHMSLAB_ECORRUPT.
 */
START_TEST(test_hostile_no_address_space_for_a_page)
{
	shmslab_ref ref;
	int status;
	pid_t pid;

	slab = create(8, 24, 1 << 20);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct shmslab *grower;
		shmslab_ref r = 0;

		if (shmslab_open(name, &grower) != 0)
			_exit(1);
		for (int i = 0; i < 9; i++)
			if (shmslab_alloc(grower, &r) != 0)
				_exit(2);
		/* the ninth came from the new page; the first eight stay allocated */
		_exit(shmslab_send(grower, r) == 0 ? 0 : 3);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(status, 0);
	limit_address_space();
	ck_assert_int_eq(shmslab_recv(slab, &ref, 0), -ENOMEM);
	ck_assert_int_eq(shmslab_alloc(slab, &ref), -ENOMEM);
	ck_assert_int_eq(shmslab_recv(slab, &ref, 0), -ENOMEM);
}
END_TEST

/*
 * A recoverer killed with the lists blocked, and the next process cannot
 * finish its work (no address space for a page): it gives the lists back
 * all the same, and every call comes back instead of spinning.
 */
START_TEST(test_hostile_blocked_lists_and_failing_recovery)
{
	const char *args[] = { name, NULL };
	shmslab_ref ref;
	int err;

	slab = create(8, 64, 256 << 10);
	/* one dies in a free window, so the next recovery walks the lists... */
	ck_assert(WIFSIGNALED(test_run("tests/kp-helper", args, "free_marked")));
	/* ...and dies with them blocked, after growing the segment */
	ck_assert(WIFSIGNALED(test_run("tests/kp-helper", args, "recover_blocked")));
	ck_assert(shmslab__freelist_is_blocked(slab, 0));
	limit_address_space();
	/* the dead hold every slot: no slot, but an answer */
	err = shmslab_alloc(slab, &ref);
	ck_assert_msg(err == -ENOSPC || err == -ENOMEM, "alloc: %s", shmslab_strerror(err));
	ck_assert(!shmslab__freelist_is_blocked(slab, 0));
	ck_assert(!shmslab__queue_is_blocked(slab));
	err = shmslab_recv(slab, &ref, 0);
	ck_assert_msg(err == 0 || err == -EAGAIN || err == -ENOMEM, "recv: %s",
		      shmslab_strerror(err));
}
END_TEST

/* One hostile word (capacity 0) and a blocked cell: alloc and recv(0) come back. */
START_TEST(test_hostile_impossible_capacity_with_a_blocked_cell)
{
	shmslab_ref ref;
	uint32_t cap;
	int err;

	slab = create(8, 64, 64);
	cap = atomic_load(&slab->control->capacity);
	atomic_store(&slab->control->capacity, 0);
	atomic_fetch_or(&slab->queue->cells[0], CELL_BLOCKED);
	shmslab__freelist_block(slab, 0);
	err = shmslab_recv(slab, &ref, 0);
	ck_assert_msg(err == -EAGAIN || err == SHMSLAB_ECORRUPT, "recv: %s", shmslab_strerror(err));
	err = shmslab_alloc(slab, &ref);
	ck_assert_msg(err == 0 || err == SHMSLAB_ECORRUPT, "alloc: %s", shmslab_strerror(err));
	if (err == 0)
		ck_assert_int_eq(shmslab_free(slab, ref), 0);
	atomic_store(&slab->control->capacity, cap);
	ck_assert(!shmslab__queue_is_blocked(slab));
	ck_assert_int_ge(shmslab_recover(slab), 0);
	ck_assert(!shmslab__freelist_is_blocked(slab, 0));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc = tcase_create("hostile");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_hostile_fifo_at_the_name);
#define KP_CREATE_ADD(kp) tcase_add_test(tc, test_hostile_creator_killed_##kp);
	SHMSLAB_KILLPOINT_CREATE_LIST(KP_CREATE_ADD)
#undef KP_CREATE_ADD
	tcase_add_test(tc, test_hostile_open_while_being_created);
	tcase_add_test(tc, test_hostile_open_racing_its_creator);
	tcase_add_test(tc, test_hostile_create_at_the_descriptor_limit);
	tcase_add_test(tc, test_hostile_file_size_limit);
	tcase_add_test(tc, test_hostile_no_address_space_for_a_page);
	tcase_add_test(tc, test_hostile_blocked_lists_and_failing_recovery);
	tcase_add_test(tc, test_hostile_impossible_capacity_with_a_blocked_cell);
	suite_add_tcase(s, tc);
	return test_main(s);
}
