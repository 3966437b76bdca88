/* SPDX-License-Identifier: MIT */
/*
 * References and generations: every stale reference and every double free
 * answers -ESTALE, every time, even after the slot was allocated again.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "common.h"
#include "internal.h"

static char name[TEST_NAME_MAX];
static struct shmslab *slab;

static void setup(void)
{
	test_name(name);
	slab = test_create(name, 4, 64);
}

static void teardown(void)
{
	shmslab_close(slab);
	ck_assert_int_eq(shmslab_unlink(name), 0);
}

static void assert_stale(shmslab_ref ref)
{
	struct shmslab_view v;
	char buf[64];

	for (int round = 0; round < 3; round++) {
		ck_assert_int_eq(shmslab_store(slab, ref, "x", 1), -ESTALE);
		ck_assert_int_eq(shmslab_read(slab, ref, buf, sizeof(buf)), -ESTALE);
		ck_assert_int_eq(shmslab_read_begin(slab, ref, &v), -ESTALE);
		ck_assert_int_eq(shmslab_write_begin(slab, ref, &v), -ESTALE);
		ck_assert_int_eq(shmslab_free(slab, ref), -ESTALE);
	}
}

START_TEST(test_refs_distinct)
{
	shmslab_ref refs[4];

	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(shmslab_alloc(slab, &refs[i]), 0);
		ck_assert_uint_ne(refs[i], SHMSLAB_REF_NONE);
		ck_assert_uint_ne(refs[i] >> 32, 0); /* generation */
		ck_assert_uint_lt((uint32_t)refs[i], 4);
		for (int j = 0; j < i; j++)
			ck_assert_uint_ne((uint32_t)refs[i], (uint32_t)refs[j]);
	}
}
END_TEST

START_TEST(test_refs_stale_after_free)
{
	shmslab_ref ref;

	ck_assert_int_eq(shmslab_alloc(slab, &ref), 0);
	ck_assert_int_eq(shmslab_store(slab, ref, "hello", 5), 0);
	ck_assert_int_eq(shmslab_free(slab, ref), 0);
	assert_stale(ref);
}
END_TEST

START_TEST(test_refs_stale_after_realloc)
{
	shmslab_ref old, fresh[4];
	char buf[8];
	int same = -1;

	ck_assert_int_eq(shmslab_alloc(slab, &old), 0);
	ck_assert_int_eq(shmslab_free(slab, old), 0);
	/* take every slot, so the old one is among them */
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(shmslab_alloc(slab, &fresh[i]), 0);
		if ((uint32_t)fresh[i] == (uint32_t)old)
			same = i;
	}
	ck_assert_int_ge(same, 0);
	ck_assert_uint_ne(fresh[same], old);
	assert_stale(old);
	ck_assert_int_eq(shmslab_store(slab, fresh[same], "new", 3), 0);
	ck_assert_int_eq(shmslab_read(slab, fresh[same], buf, sizeof(buf)), 3);
	ck_assert_int_eq(memcmp(buf, "new", 3), 0);
}
END_TEST

START_TEST(test_refs_double_free)
{
	shmslab_ref ref;

	ck_assert_int_eq(shmslab_alloc(slab, &ref), 0);
	ck_assert_int_eq(shmslab_free(slab, ref), 0);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(shmslab_free(slab, ref), -ESTALE);
}
END_TEST

START_TEST(test_refs_malformed)
{
	shmslab_ref ref;
	struct shmslab_view v;
	char buf[8];
	const shmslab_ref bad[] = {
		SHMSLAB_REF_NONE, (shmslab_ref)0,    /* generation 0, index 0 */
		((shmslab_ref)1 << 32) | 4,	     /* index = capacity */
		((shmslab_ref)1 << 32) | UINT32_MAX, /* index far out */
	};

	ck_assert_int_eq(shmslab_alloc(slab, &ref), 0);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(shmslab_free(slab, bad[i]), -EINVAL);
		ck_assert_int_eq(shmslab_store(slab, bad[i], "x", 1), -EINVAL);
		ck_assert_int_eq(shmslab_read(slab, bad[i], buf, sizeof(buf)), -EINVAL);
		ck_assert_int_eq(shmslab_read_begin(slab, bad[i], &v), -EINVAL);
		ck_assert_int_eq(shmslab_write_begin(slab, bad[i], &v), -EINVAL);
	}
	/* a valid index with generation 0 is never a reference */
	ck_assert_int_eq(shmslab_free(slab, (shmslab_ref)(uint32_t)ref), -EINVAL);
	ck_assert_int_eq(shmslab_free(slab, ref), 0);
}
END_TEST

START_TEST(test_refs_generation_skips_zero)
{
	struct slot_meta *m;
	shmslab_ref ref, next;
	uint64_t st;

	ck_assert_int_eq(shmslab_alloc(slab, &ref), 0);
	m = slot_meta(slab, ref_index(slab, ref));
	st = atomic_load(&m->state);
	/* age the slot to the last generation */
	atomic_store(&m->state, (st & UINT32_MAX) | ((uint64_t)UINT32_MAX << 32));
	ref = ((shmslab_ref)UINT32_MAX << 32) | (uint32_t)ref;
	ck_assert_int_eq(shmslab_store(slab, ref, "old", 3), 0);
	ck_assert_int_eq(shmslab_free(slab, ref), 0);
	for (;;) {
		ck_assert_int_eq(shmslab_alloc(slab, &next), 0);
		if (ref_index(slab, next) == ref_index(slab, ref))
			break;
	}
	ck_assert_uint_eq(next >> 32, 1);
	assert_stale(ref);
}
END_TEST

/* A kept-back slot whose generation damage set to 0 is handed out with a valid one. */
START_TEST(test_refs_cached_generation_zero_repaired)
{
	struct slot_meta *m;
	shmslab_ref ref;

	ck_assert_int_eq(shmslab_alloc(slab, &ref), 0);
	ck_assert_int_eq(shmslab_free(slab, ref), 0); /* kept back: CACHED */
	m = slot_meta(slab, ref_index(slab, ref));
	ck_assert_uint_eq(st_kind(atomic_load(&m->state)), KIND_CACHED);
	atomic_store(&m->state, atomic_load(&m->state) & UINT32_MAX);
	ck_assert_int_eq(shmslab_alloc(slab, &ref), 0);
	ck_assert_uint_ne(ref, SHMSLAB_REF_NONE);
	ck_assert_uint_ne(ref >> 32, 0);
	ck_assert_int_eq(shmslab_store(slab, ref, "ok", 2), 0);
	ck_assert_int_eq(shmslab_free(slab, ref), 0);
}
END_TEST

/*
 * Right at the edge of the generations: a slot whose state generation wraps
 * moves to its next epoch, so a reference of any earlier lap stays stale;
 * one whose epoch is used up too retires, and is never handed out again.
 */
START_TEST(test_refs_generation_wrap_and_retire)
{
	struct shmslab_stats st;
	struct slot_meta *m;
	shmslab_ref first, ref, old[4];
	uint32_t idx, max = epoch_max(slab->g.idx_bits);
	int n = 0;

	ck_assert_uint_gt(max, 0);
	ck_assert_int_eq(shmslab_alloc(slab, &first), 0);
	idx = ref_index(slab, first);
	m = slot_meta(slab, idx);
	/* two generations before the wrap */
	atomic_store(&m->state, (atomic_load(&m->state) & UINT32_MAX) |
					((uint64_t)(UINT32_MAX - 1) << 32));
	ref = ((shmslab_ref)(UINT32_MAX - 1) << 32) | (uint32_t)first;
	for (int lap = 0; lap < 4; lap++) {
		old[n++] = ref;
		ck_assert_int_eq(shmslab_free(slab, ref), 0);
		do
			ck_assert_int_eq(shmslab_alloc(slab, &ref), 0);
		while (ref_index(slab, ref) != idx);
		for (int i = 0; i < n; i++)
			assert_stale(old[i]);
	}
	/* freed from UINT32_MAX - 1 and UINT32_MAX, then from 1 and 2 of the next epoch */
	ck_assert_uint_eq(ref >> 32, 3);
	ck_assert_uint_eq(atomic_load(&m->epoch), 1);
	/* what a reference of this generation looked like 2^32 frees ago */
	assert_stale(((shmslab_ref)3 << 32) | idx);
	ck_assert_int_eq(shmslab_store(slab, ref, "now", 3), 0);
	/* the last epoch's last generation: its free retires the slot */
	atomic_store(&m->epoch, max);
	atomic_store(&m->state, (atomic_load(&m->state) & UINT32_MAX) | ((uint64_t)UINT32_MAX << 32));
	ref = ((shmslab_ref)UINT32_MAX << 32) | ((uint64_t)max << slab->g.idx_bits) | idx;
	ck_assert_int_eq(shmslab_store(slab, ref, "last", 4), 0);
	ck_assert_int_eq(shmslab_free(slab, ref), 0);
	assert_stale(ref);
	ck_assert_uint_eq(st_kind(atomic_load(&m->state)), KIND_RETIRED);
	ck_assert_int_eq(shmslab_stat(slab, &st), 0);
	ck_assert_uint_eq(st.retired, 1);
	ck_assert_uint_eq(st.available, 3);
	/* the other three slots still come and go; the retired one never comes */
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(shmslab_alloc(slab, &old[i]), 0);
		ck_assert_uint_ne(ref_index(slab, old[i]), idx);
	}
	ck_assert_int_eq(shmslab_alloc(slab, &ref), -ENOSPC);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(shmslab_free(slab, old[i]), 0);
}
END_TEST

START_TEST(test_refs_enospc_at_once)
{
	shmslab_ref refs[4], extra;
	uint64_t t0;

	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(shmslab_alloc(slab, &refs[i]), 0);
	t0 = test_now_ms();
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(shmslab_alloc(slab, &extra), -ENOSPC);
	/* "at once": nothing in alloc may wait for a slot to come back */
	ck_assert_uint_lt(test_now_ms() - t0, 1000);
	ck_assert_int_eq(shmslab_free(slab, refs[2]), 0);
	ck_assert_int_eq(shmslab_alloc(slab, &extra), 0);
	ck_assert_uint_eq((uint32_t)extra, (uint32_t)refs[2]);
}
END_TEST

struct racer {
	shmslab_ref ref;
	pthread_barrier_t *barrier;
	int result;
};

static void *free_racer(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->barrier);
	r->result = shmslab_free(slab, r->ref);
	return NULL;
}

START_TEST(test_refs_concurrent_double_free)
{
	pthread_barrier_t barrier;

	pthread_barrier_init(&barrier, NULL, 2);
	for (int round = 0; round < 2000; round++) {
		struct racer a = { 0, &barrier, 1 }, b = { 0, &barrier, 1 };
		pthread_t ta, tb;

		ck_assert_int_eq(shmslab_alloc(slab, &a.ref), 0);
		b.ref = a.ref;
		pthread_create(&ta, NULL, free_racer, &a);
		pthread_create(&tb, NULL, free_racer, &b);
		pthread_join(ta, NULL);
		pthread_join(tb, NULL);
		/* exactly one free wins; the other finds the reference stale */
		ck_assert_msg((a.result == 0 && b.result == -ESTALE) ||
				      (a.result == -ESTALE && b.result == 0),
			      "round %d: %d and %d", round, a.result, b.result);
	}
	pthread_barrier_destroy(&barrier);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("refs");
	TCase *tc = tcase_create("refs");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_refs_distinct);
	tcase_add_test(tc, test_refs_stale_after_free);
	tcase_add_test(tc, test_refs_stale_after_realloc);
	tcase_add_test(tc, test_refs_double_free);
	tcase_add_test(tc, test_refs_malformed);
	tcase_add_test(tc, test_refs_generation_skips_zero);
	tcase_add_test(tc, test_refs_cached_generation_zero_repaired);
	tcase_add_test(tc, test_refs_generation_wrap_and_retire);
	tcase_add_test(tc, test_refs_enospc_at_once);
	tcase_add_test(tc, test_refs_concurrent_double_free);
	suite_add_tcase(s, tc);
	return test_main(s);
}
