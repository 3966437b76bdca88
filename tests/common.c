/* SPDX-License-Identifier: MIT */
/*
 * Shared test helpers; see common.h.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

extern char **environ;

/* The pid of the runner process: forked test children inherit it. */
static pid_t runner_pid;
static unsigned name_counter;

static void name_prefix(char *buf, size_t len)
{
	snprintf(buf, len, "shmslab-t%ld-", (long)runner_pid);
}

void test_name(char *buf)
{
	char prefix[32];

	name_prefix(prefix, sizeof(prefix));
	snprintf(buf, TEST_NAME_MAX, "/%s%ld-%u", prefix, (long)getpid(), ++name_counter);
}

void test_cleanup(void)
{
	char prefix[32], path[PATH_MAX];
	struct dirent *d;
	DIR *dir = opendir("/dev/shm");

	if (dir == NULL)
		return;
	name_prefix(prefix, sizeof(prefix));
	while ((d = readdir(dir)) != NULL) {
		if (strncmp(d->d_name, prefix, strlen(prefix)) != 0)
			continue;
		snprintf(path, sizeof(path), "/%s", d->d_name);
		shm_unlink(path);
	}
	closedir(dir);
}

static struct shmslab *create_as(const char *name, const struct shmslab_config *changes)
{
	struct shmslab_config cfg;
	struct shmslab *slab = NULL;
	int err;

	shmslab_config_init(&cfg);
#define CHANGE(field)                     \
	if (changes->field != 0)          \
		cfg.field = changes->field;
	CHANGE(slot_size)
	CHANGE(slot_count)
	CHANGE(max_slots)
	CHANGE(max_procs)
	CHANGE(queue_depth)
	CHANGE(mode)
	CHANGE(shards)
	CHANGE(max_subscribers)
	CHANGE(fanout_depth)
#undef CHANGE
	err = shmslab_create(name, &cfg, &slab);
	ck_assert_msg(err == 0, "create %s: %s", name, shmslab_strerror(err));
	return slab;
}

struct shmslab *test_create(const char *name, uint32_t slots, uint32_t size)
{
	return create_as(name, &(struct shmslab_config){ .slot_count = slots, .slot_size = size });
}

struct shmslab *test_segment(char *name, struct shmslab_config changes)
{
	test_name(name);
	return create_as(name, &changes);
}

int test_main(Suite *suite)
{
	SRunner *sr;

	runner_pid = getpid();
	sr = srunner_create(suite);
	srunner_set_fork_status(sr, CK_FORK);
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	srunner_free(sr);
	/* the tests ran in children, some of which may have crashed before
	 * unlinking: whatever any of them made goes now */
	test_cleanup();
	/* every result, failures included, went out as TAP: the exit status is
	 * kept for the runner itself failing, so a failure counts once */
	return 0;
}

const char *test_program(const char *relative)
{
	static char path[PATH_MAX];
	const char *top = getenv("top_builddir");

	snprintf(path, sizeof(path), "%s/%s", top ? top : ".", relative);
	return path;
}

int test_run(const char *program, const char *const args[], const char *killpoint)
{
	char *argv[16], *envp[256], kpvar[96];
	int n = 0, e = 0, status;
	pid_t pid;

	argv[n++] = (char *)test_program(program);
	for (; args[n - 1] != NULL && n < 15; n++)
		argv[n] = (char *)args[n - 1];
	argv[n] = NULL;
	for (char **p = environ; *p != NULL && e < 254; p++)
		if (strncmp(*p, "SHMSLAB_KILLPOINT=", 18) != 0)
			envp[e++] = *p;
	if (killpoint != NULL) {
		snprintf(kpvar, sizeof(kpvar), "SHMSLAB_KILLPOINT=%s", killpoint);
		envp[e++] = kpvar;
	}
	envp[e] = NULL;
	ck_assert_int_eq(posix_spawn(&pid, argv[0], NULL, NULL, argv, envp), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

pid_t test_spawn(const char *program, const char *const args[], int *in, int *out)
{
	posix_spawn_file_actions_t fa;
	char *argv[16];
	int outpipe[2], inpipe[2], n = 0;
	pid_t pid;

	argv[n++] = (char *)test_program(program);
	for (; args[n - 1] != NULL && n < 15; n++)
		argv[n] = (char *)args[n - 1];
	argv[n] = NULL;
	ck_assert_int_eq(pipe(outpipe), 0);
	ck_assert_int_eq(pipe(inpipe), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, outpipe[1], 1);
	posix_spawn_file_actions_addclose(&fa, outpipe[0]);
	posix_spawn_file_actions_adddup2(&fa, inpipe[0], 0);
	posix_spawn_file_actions_addclose(&fa, inpipe[1]);
	ck_assert_int_eq(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(outpipe[1]);
	close(inpipe[0]);
	*out = outpipe[0];
	*in = inpipe[1];
	return pid;
}

bool test_read_line(int fd, char *buf, size_t cap)
{
	size_t len = 0;

	while (len + 1 < cap) {
		char c;
		ssize_t n = read(fd, &c, 1);

		if (n <= 0)
			break;
		if (c == '\n') {
			buf[len] = '\0';
			return true;
		}
		buf[len++] = c;
	}
	buf[len] = '\0';
	return false;
}

char *test_read_all(int fd)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	ssize_t n;

	ck_assert_ptr_nonnull(buf);
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len < 1024) {
			buf = realloc(buf, cap *= 2);
			ck_assert_ptr_nonnull(buf);
		}
	}
	buf[len] = '\0';
	close(fd);
	return buf;
}

int test_finish(pid_t pid)
{
	int status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "process %d did not exit (status %#x)", (int)pid, status);
	return WEXITSTATUS(status);
}

void *test_map_raw(const char *name, size_t *len)
{
	struct stat st;
	void *p;
	int fd = shm_open(name, O_RDWR, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	ck_assert_ptr_ne(p, MAP_FAILED);
	*len = (size_t)st.st_size;
	return p;
}

uint64_t test_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t test_cpu_ms_over_wall(pthread_t t)
{
	struct timespec before, after;
	clockid_t clock;

	ck_assert_int_eq(pthread_getcpuclockid(t, &clock), 0);
	ck_assert_int_eq(clock_gettime(clock, &before), 0);
	usleep(TEST_SLEEPER_WALL_MS * 1000);
	ck_assert_int_eq(clock_gettime(clock, &after), 0);
	return (uint64_t)((after.tv_sec - before.tv_sec) * 1000 +
			  (after.tv_nsec - before.tv_nsec) / 1000000);
}
