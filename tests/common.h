/* SPDX-License-Identifier: MIT */
/*
 * What the Check test programs share: unique segment names that are always
 * unlinked, even when a test crashes, and a runner that reports every test
 * case as TAP, so that the test-suite counts each case.
 */
#ifndef SHMSLAB_TEST_COMMON_H
#define SHMSLAB_TEST_COMMON_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shmslab.h"

#define TEST_NAME_MAX 64

/* A segment name no other test or test run uses: "/shmslab-t<runner>-<pid>-<n>". */
void test_name(char *buf);

/* Unlink every segment this test program made (all names under its prefix). */
void test_cleanup(void);

/* Create NAME with SLOTS slots of SIZE bytes (defaults for the rest), or fail the test. */
struct shmslab *test_create(const char *name, uint32_t slots, uint32_t size);

/* Run SUITE in fork mode, reporting every test case as TAP on standard output. */
int test_main(Suite *suite);

/* Path of a program built in the tree, e.g. "tests/slab-helper". */
const char *test_program(const char *relative);

/* Map the whole object NAME read-write, bypassing the library; *len gets its size. */
void *test_map_raw(const char *name, size_t *len);

/* Milliseconds on the monotonic clock. */
uint64_t test_now_ms(void);

/*
 * Sample thread TID of this process 20 times over 40 ms and answer in how
 * many it was asleep in the kernel (state 'S') rather than running.
 */
int test_asleep_samples(pid_t tid);

/*
 * Samples a thread blocked in the kernel is asleep in, at least: one that
 * spins is seen running in nearly all, while a sleeper woken once a slice
 * may wait a few samples for a CPU on a busy machine.
 */
#define TEST_ASLEEP_MIN 12

#endif /* SHMSLAB_TEST_COMMON_H */
