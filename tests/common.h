/* SPDX-License-Identifier: MIT */
/*
 * What the Check test programs share: unique segment names that are always
 * unlinked, even when a test crashes, and a runner that reports every test
 * case as TAP, so that the test-suite counts each case.
 */
#ifndef SHMSLAB_TEST_COMMON_H
#define SHMSLAB_TEST_COMMON_H

#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>

#include "shmslab.h"

#define TEST_NAME_MAX 64

/* A segment name no other test or test run uses: "/shmslab-t<runner>-<pid>-<n>". */
void test_name(char *buf);

/* Unlink every segment this test program made (all names under its prefix). */
void test_cleanup(void);

/* Create NAME with SLOTS slots of SIZE bytes (defaults for the rest), or fail the test. */
struct shmslab *test_create(const char *name, uint32_t slots, uint32_t size);

/*
 * The segment fixture: a fresh name in NAME (test_name's), created with the
 * defaults but for the fields CHANGES sets to something other than 0, or
 * the test fails.  test_cleanup removes it, however the test ends.
 */
struct shmslab *test_segment(char *name, struct shmslab_config changes);

/* Run SUITE in fork mode, reporting every test case as TAP on standard output. */
int test_main(Suite *suite);

/* Path of a program built in the tree, e.g. "tests/slab-helper". */
const char *test_program(const char *relative);

/*
 * Run the tree's PROGRAM with ARGS (NULL-terminated), and with
 * SHMSLAB_KILLPOINT=KILLPOINT in its environment if KILLPOINT is not NULL;
 * answer its wait status.
 */
int test_run(const char *program, const char *const args[], const char *killpoint);

/*
 * Start the tree's PROGRAM with ARGS (NULL-terminated): its standard output
 * is a pipe we read from *OUT, its standard input one we write to *IN (it
 * sees end of file once we close it).  Answers its pid.
 */
pid_t test_spawn(const char *program, const char *const args[], int *in, int *out);

/* Read one line from FD into BUF, without its newline: false at end of file first. */
bool test_read_line(int fd, char *buf, size_t cap);

/* Everything FD gives until end of file, NUL-terminated (free it); FD is closed. */
char *test_read_all(int fd);

/* Wait for PID, which must exit; its exit status. */
int test_finish(pid_t pid);

/* Map the whole object NAME read-write, bypassing the library; *len gets its size. */
void *test_map_raw(const char *name, size_t *len);

/* Milliseconds on the monotonic clock. */
uint64_t test_now_ms(void);

/*
 * How many milliseconds of CPU thread T of this process uses over
 * TEST_SLEEPER_WALL_MS of wall time.  A thread blocked in the kernel uses
 * next to none, however busy the machine; one that spins uses most of it on
 * an idle machine, and less on a busy one, which can only make a spinner
 * pass, never a sleeper fail.
 */
uint64_t test_cpu_ms_over_wall(pthread_t t);
#define TEST_SLEEPER_WALL_MS   200
#define TEST_SLEEPER_CPU_MS    50

/*
 * Wait until COND holds, looking every millisecond, for at most
 * TEST_EVENT_MS: long enough for a machine busy installing packages to start
 * a process, short of the test's own timeout.  Answers whether it holds.
 */
#define TEST_EVENT_MS 30000
#define test_wait_for(cond)                                                  \
	({                                                                   \
		uint64_t until_ = test_now_ms() + TEST_EVENT_MS;             \
		while (!(cond) && test_now_ms() < until_)                    \
			usleep(1000);                                        \
		(bool)(cond);                                                \
	})

#endif /* SHMSLAB_TEST_COMMON_H */
