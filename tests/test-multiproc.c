/* SPDX-License-Identifier: MIT */
/*
 * Unrelated processes on one segment: tests/slab-helper, executed as a
 * program of its own, creates, attaches, allocates, stores, reads and frees
 * beside this one, and readers and writers of one slot in different
 * processes exclude each other.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

extern char **environ;

static char name[TEST_NAME_MAX];

static void setup(void)
{
	test_name(name);
}

static void teardown(void)
{
	test_cleanup();
}

/* Start slab-helper with ARGS; connect its stdin and stdout to pipes if asked. */
static pid_t helper(const char *const args[], int *to_child, int *from_child)
{
	int in, out;
	pid_t pid = test_spawn("tests/slab-helper", args, &in, &out);

	if (to_child)
		*to_child = in;
	else
		close(in);
	if (from_child)
		*from_child = out;
	else
		close(out);
	return pid;
}

static int helper_status(pid_t pid)
{
	int status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "helper %d did not exit normally", (int)pid);
	return WEXITSTATUS(status);
}

/* Everything the helper printed, until it closes its stdout. */
static char *read_all(int fd)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	ssize_t n;

	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len < 2)
			buf = realloc(buf, cap *= 2);
	}
	buf[len] = '\0';
	close(fd);
	return buf;
}

static int message(char *buf, size_t cap, unsigned i)
{
	unsigned sum = 0;

	for (unsigned v = i * 7919u; v; v /= 10)
		sum += v % 10;
	return snprintf(buf, cap, "n=%u sum=%u", i, sum);
}

static void assert_all_free(struct shmslab *slab)
{
	struct shmslab_stats st;

	ck_assert_int_eq(shmslab_stat(slab, &st), 0);
	ck_assert_uint_eq(st.available, st.slot_count);
	ck_assert_uint_eq(st.allocated, 0);
}

START_TEST(test_multiproc_created_elsewhere)
{
	const char *create[] = { "create", name, "32", "128", NULL };
	const char *produce[] = { "produce", name, "20", NULL };
	struct shmslab_stats st;
	struct shmslab *slab;
	char *out, *line, msg[64], want[64];
	int fd;
	unsigned n = 0;

	ck_assert_int_eq(helper_status(helper(create, NULL, NULL)), 0);
	ck_assert_int_eq(shmslab_open(name, &slab), 0);
	ck_assert_int_eq(shmslab_stat(slab, &st), 0);
	ck_assert_uint_eq(st.slot_count, 32);
	ck_assert_uint_eq(st.slot_size, 128);

	out = read_all((helper(produce, NULL, &fd), fd));
	for (line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n"), n++) {
		shmslab_ref ref = strtoull(line, NULL, 16);
		ssize_t len = shmslab_read(slab, ref, msg, sizeof(msg));

		ck_assert_int_eq(len, message(want, sizeof(want), n));
		ck_assert_int_eq(memcmp(msg, want, (size_t)len), 0);
		ck_assert_int_eq(shmslab_free(slab, ref), 0);
	}
	free(out);
	ck_assert_uint_eq(n, 20);
	assert_all_free(slab);
	shmslab_close(slab);
}
END_TEST

START_TEST(test_multiproc_consumed_elsewhere)
{
	const char *consume[] = { "consume", name, NULL };
	struct shmslab *slab = test_create(name, 64, 64);
	char msg[64], line[32], *out;
	int to, from;
	pid_t pid = helper(consume, &to, &from);

	/* more messages than slots: the consumer frees while we produce */
	for (unsigned i = 0; i < 500; i++) {
		shmslab_ref ref;
		int len = message(msg, sizeof(msg), i), err, n;

		while ((err = shmslab_alloc(slab, &ref)) == -ENOSPC)
			usleep(100);
		ck_assert_int_eq(err, 0);
		ck_assert_int_eq(shmslab_store(slab, ref, msg, (size_t)len), 0);
		n = snprintf(line, sizeof(line), "%" PRIx64 "\n", ref);
		ck_assert_int_eq(write(to, line, (size_t)n), n);
	}
	close(to);
	out = read_all(from);
	ck_assert_int_eq(helper_status(pid), 0);
	ck_assert_str_eq(out, "500\n");
	free(out);
	assert_all_free(slab);
	shmslab_close(slab);
}
END_TEST

START_TEST(test_multiproc_pipeline_of_helpers)
{
	const char *produce[] = { "produce", name, "300", NULL };
	const char *consume[] = { "consume", name, NULL };
	struct shmslab *slab = test_create(name, 512, 64);
	int from_producer, to_consumer, from_consumer;
	pid_t producer = helper(produce, NULL, &from_producer);
	pid_t consumer = helper(consume, &to_consumer, &from_consumer);
	char *refs = read_all(from_producer), *out;

	ck_assert_int_eq(helper_status(producer), 0);
	/* the producer has detached: its slots live on for the consumer */
	ck_assert_int_eq(write(to_consumer, refs, strlen(refs)), (ssize_t)strlen(refs));
	close(to_consumer);
	out = read_all(from_consumer);
	ck_assert_int_eq(helper_status(consumer), 0);
	ck_assert_str_eq(out, "300\n");
	free(refs);
	free(out);
	assert_all_free(slab);
	shmslab_close(slab);
}
END_TEST

START_TEST(test_multiproc_mutual_exclusion)
{
	struct shmslab *slab = test_create(name, 4, 4096);
	char refstr[32], zeros[4096] = { 0 };
	const char *writer[] = { "writer", name, refstr, "1500", NULL };
	const char *reader[] = { "reader", name, refstr, "1500", NULL };
	shmslab_ref ref;
	pid_t pids[4];
	int fds[4];

	ck_assert_int_eq(shmslab_alloc(slab, &ref), 0);
	ck_assert_int_eq(shmslab_store(slab, ref, zeros, sizeof(zeros)), 0);
	snprintf(refstr, sizeof(refstr), "%" PRIx64, ref);
	pids[0] = helper(writer, NULL, &fds[0]);
	pids[1] = helper(writer, NULL, &fds[1]);
	pids[2] = helper(reader, NULL, &fds[2]);
	pids[3] = helper(reader, NULL, &fds[3]);
	for (int i = 0; i < 4; i++) {
		char *out = read_all(fds[i]);
		int status = helper_status(pids[i]);

		/* 3: a writer found another writer inside, or a reader a writer or a torn message */
		ck_assert_msg(status == 0, "%s %d exited %d", i < 2 ? "writer" : "reader", i,
			      status);
		ck_assert_int_gt(atoi(out), 0);
		free(out);
	}
	ck_assert_int_eq(shmslab_free(slab, ref), 0);
	shmslab_close(slab);
}
END_TEST

struct blocked {
	struct shmslab *slab;
	shmslab_ref ref;
	int write;
	_Atomic int done;
	int result;
	char buf[64];
};

static void *blocked_op(void *arg)
{
	struct blocked *b = arg;

	if (b->write)
		b->result = shmslab_store(b->slab, b->ref, "from test", 9);
	else
		b->result = (int)shmslab_read(b->slab, b->ref, b->buf, sizeof(b->buf));
	atomic_store(&b->done, 1);
	return NULL;
}

/* A helper holds a view of the slot; our opposite operation must wait for it. */
static void waits_for_other_process(const char *hold, int write)
{
	struct shmslab *slab = test_create(name, 4, 64);
	struct blocked b;
	char refstr[32], held[8] = "";
	const char *args[] = { hold, name, refstr, NULL };
	pthread_t t;
	int to, from;
	pid_t pid;

	memset(&b, 0, sizeof(b));
	b.slab = slab;
	b.write = write;
	ck_assert_int_eq(shmslab_alloc(slab, &b.ref), 0);
	ck_assert_int_eq(shmslab_store(slab, b.ref, "before", 6), 0);
	snprintf(refstr, sizeof(refstr), "%" PRIx64, b.ref);
	pid = helper(args, &to, &from);
	ck_assert_int_eq(read(from, held, 5), 5);
	ck_assert_str_eq(held, "held\n");
	pthread_create(&t, NULL, blocked_op, &b);
	usleep(300 * 1000);
	ck_assert_msg(!atomic_load(&b.done), "did not wait for the other process's view");
	close(to);
	pthread_join(t, NULL);
	ck_assert_int_eq(helper_status(pid), 0);
	close(from);
	if (write) {
		ck_assert_int_eq(b.result, 0);
	} else {
		/* the reader got the helper's whole message, written while it waited */
		ck_assert_int_eq(b.result, 11);
		ck_assert_int_eq(memcmp(b.buf, "from helper", 11), 0);
	}
	shmslab_close(slab);
}

START_TEST(test_multiproc_writer_waits_for_reader)
{
	waits_for_other_process("hold-read", 1);
}
END_TEST

START_TEST(test_multiproc_reader_waits_for_writer)
{
	waits_for_other_process("hold-write", 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("multiproc");
	TCase *tc = tcase_create("multiproc");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_multiproc_created_elsewhere);
	tcase_add_test(tc, test_multiproc_consumed_elsewhere);
	tcase_add_test(tc, test_multiproc_pipeline_of_helpers);
	tcase_add_test(tc, test_multiproc_mutual_exclusion);
	tcase_add_test(tc, test_multiproc_writer_waits_for_reader);
	tcase_add_test(tc, test_multiproc_reader_waits_for_writer);
	suite_add_tcase(s, tc);
	return test_main(s);
}
