/* SPDX-License-Identifier: MIT */
/*
 * Growth: a segment created with max_slots above slot_count adds pages of
 * slots when alloc finds none free, up to max_slots; existing slots never
 * move, and every process maps the new pages when it first meets them.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "internal.h"

#define START 100
#define MAX   1000

static char name[TEST_NAME_MAX];
static struct shmslab *slab;

static void setup(void)
{
	slab = test_segment(name, (struct shmslab_config){
					  .slot_count = START, .max_slots = MAX, .slot_size = 64 });
}

static void teardown(void)
{
	shmslab_close(slab);
	ck_assert_int_eq(shmslab_unlink(name), 0);
}

static uint64_t capacity(struct shmslab *s)
{
	struct shmslab_stats st;

	ck_assert_int_eq(shmslab_stat(s, &st), 0);
	ck_assert_uint_eq(st.max_slots, MAX);
	return st.slot_count;
}

static uint64_t object_size(void)
{
	struct stat st;
	int fd = shm_open(name, O_RDONLY, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	close(fd);
	return (uint64_t)st.st_size;
}

START_TEST(test_growth_on_demand)
{
	/* pages of 128, 256, 512 and the 104 left to reach MAX */
	static const uint64_t steps[] = { 128, 384, 896, 1000 };
	static bool seen[MAX];
	shmslab_ref ref;
	unsigned step = 0;
	uint64_t small = object_size();

	ck_assert_uint_eq(capacity(slab), START);
	for (unsigned n = 0; n < MAX; n++) {
		uint64_t before = capacity(slab);

		ck_assert_int_eq(shmslab_alloc(slab, &ref), 0);
		ck_assert_uint_lt((uint32_t)ref, MAX);
		ck_assert(!seen[(uint32_t)ref]);
		seen[(uint32_t)ref] = true;
		if (capacity(slab) != before)
			ck_assert_uint_eq(capacity(slab), steps[step++]);
		/* the object grows with the capacity, not to max_slots at once */
		ck_assert_uint_eq(object_size(),
				  shmslab__capacity_bytes(&slab->g, (uint32_t)capacity(slab)));
	}
	ck_assert_uint_eq(step, 4);
	ck_assert_uint_gt(object_size(), small);
	ck_assert_int_eq(shmslab_alloc(slab, &ref), -ENOSPC);
}
END_TEST

START_TEST(test_growth_slots_never_move)
{
	struct shmslab *later;
	shmslab_ref first, ref;
	char buf[16];

	ck_assert_int_eq(shmslab_alloc(slab, &first), 0);
	ck_assert_int_eq(shmslab_store(slab, first, "anchor", 6), 0);
	while (shmslab_alloc(slab, &ref) == 0)
		;
	ck_assert_uint_eq(capacity(slab), MAX);
	ck_assert_int_eq(shmslab_read(slab, first, buf, sizeof(buf)), 6);
	ck_assert_int_eq(memcmp(buf, "anchor", 6), 0);
	/* a process attaching after the growth finds it where it was */
	ck_assert_int_eq(shmslab_open(name, &later), 0);
	ck_assert_int_eq(shmslab_read(later, first, buf, sizeof(buf)), 6);
	ck_assert_int_eq(memcmp(buf, "anchor", 6), 0);
	shmslab_close(later);
}
END_TEST

START_TEST(test_growth_seen_by_other_process)
{
	struct shmslab *other;
	shmslab_ref refs[MAX];
	char buf[16];
	int n = 0;

	/* attached before the growth: it maps the new pages when it meets them */
	ck_assert_int_eq(shmslab_open(name, &other), 0);
	while (n < MAX && shmslab_alloc(slab, &refs[n]) == 0)
		n++;
	ck_assert_int_eq(n, MAX);
	ck_assert_int_eq(shmslab_store(slab, refs[MAX - 1], "far", 3), 0);
	ck_assert_uint_ge((uint32_t)refs[MAX - 1], 896);
	ck_assert_int_eq(shmslab_read(other, refs[MAX - 1], buf, sizeof(buf)), 3);
	ck_assert_int_eq(memcmp(buf, "far", 3), 0);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(shmslab_free(other, refs[i]), 0);
	ck_assert_uint_eq(capacity(other), MAX);
	shmslab_close(other);
}
END_TEST

static _Atomic int total;

static void *grab_all(void *arg)
{
	struct shmslab *own;
	shmslab_ref ref;
	int n = 0;

	(void)arg;
	if (shmslab_open(name, &own) != 0)
		return NULL;
	while (shmslab_alloc(own, &ref) == 0)
		n++;
	atomic_fetch_add(&total, n);
	shmslab_close(own);
	return NULL;
}

START_TEST(test_growth_concurrent)
{
	struct shmslab_stats st;
	pthread_t t[6];

	/* six attachments race to grow; every slot is handed out exactly once */
	for (int i = 0; i < 6; i++)
		pthread_create(&t[i], NULL, grab_all, NULL);
	for (int i = 0; i < 6; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(atomic_load(&total), MAX);
	ck_assert_int_eq(shmslab_stat(slab, &st), 0);
	ck_assert_uint_eq(st.slot_count, MAX);
	ck_assert_uint_eq(st.allocated, MAX);
	ck_assert_uint_eq(st.available, 0);
}
END_TEST

START_TEST(test_growth_hostile_capacity)
{
	struct shmslab *other;
	size_t len;
	uint8_t *raw = test_map_raw(name, &len);
	struct seg_control *ctl = (struct seg_control *)(raw + SEG_CONTROL_OFF);
	char buf[8];

	/* a capacity word raised without the object growing: an error, not SIGBUS */
	atomic_store(&ctl->capacity, 896);
	ck_assert_int_eq(shmslab_read(slab, ((shmslab_ref)1 << 32) | 500, buf, sizeof(buf)),
			 SHMSLAB_ECORRUPT);
	ck_assert_int_eq(shmslab_open(name, &other), SHMSLAB_ECORRUPT);
	atomic_store(&ctl->capacity, START);
	munmap(raw, len);
}
END_TEST

/*
 * A capacity word lowered under slots in use (still within the limits): the
 * process that saw more refuses it, and no process builds those slots again,
 * so no slot is handed to a second owner.
 */
START_TEST(test_growth_capacity_lowered)
{
	static shmslab_ref refs[384];
	struct shmslab *newcomer;
	shmslab_ref extra;
	size_t len;
	uint8_t *raw;
	struct seg_control *ctl;
	char msg[16], got[16];

	/* pages of 128 and 256 slots, all in use */
	for (int i = 0; i < 384; i++) {
		ck_assert_int_eq(shmslab_alloc(slab, &refs[i]), 0);
		snprintf(msg, sizeof(msg), "slot %d", i);
		ck_assert_int_eq(shmslab_store(slab, refs[i], msg, strlen(msg)), 0);
	}
	ck_assert_uint_eq(capacity(slab), 384);
	raw = test_map_raw(name, &len);
	ctl = (struct seg_control *)(raw + SEG_CONTROL_OFF);
	atomic_store(&ctl->capacity, 128);
	/* a newcomer sees only 128 slots: growing would build 128..383 again */
	ck_assert_int_eq(shmslab_open(name, &newcomer), 0);
	ck_assert_int_eq(shmslab_alloc(newcomer, &extra), SHMSLAB_ECORRUPT);
	shmslab_close(newcomer);
	/* we saw 384: less is damage, and so is building what we hold */
	ck_assert_int_eq(shmslab_alloc(slab, &extra), SHMSLAB_ECORRUPT);
	ck_assert_int_eq(shmslab_stat(slab, &(struct shmslab_stats){ 0 }), SHMSLAB_ECORRUPT);
	atomic_store(&ctl->capacity, 384);
	munmap(raw, len);
	for (int i = 0; i < 384; i++) {
		ssize_t n = shmslab_read(slab, refs[i], got, sizeof(got));

		snprintf(msg, sizeof(msg), "slot %d", i);
		ck_assert_int_eq(n, (ssize_t)strlen(msg));
		ck_assert_int_eq(memcmp(got, msg, (size_t)n), 0);
		ck_assert_int_eq(shmslab_free(slab, refs[i]), 0);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("growth");
	TCase *tc = tcase_create("growth");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_growth_on_demand);
	tcase_add_test(tc, test_growth_slots_never_move);
	tcase_add_test(tc, test_growth_seen_by_other_process);
	tcase_add_test(tc, test_growth_concurrent);
	tcase_add_test(tc, test_growth_hostile_capacity);
	tcase_add_test(tc, test_growth_capacity_lowered);
	suite_add_tcase(s, tc);
	return test_main(s);
}
