/* SPDX-License-Identifier: MIT */
/*
 * The free-list layer: tagged Treiber stacks, their bounds checks, the ABA
 * tag, sharding with stealing, the journal lane of a pop, and the slot a
 * thread keeps back after a free.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "internal.h"

#define SLOTS  64
#define SHARDS 4

static char name[TEST_NAME_MAX];
static struct shmslab *slab;

static void setup(void)
{
	slab = test_segment(name, (struct shmslab_config){
					  .slot_count = SLOTS, .slot_size = 64, .shards = SHARDS });
}

static void teardown(void)
{
	shmslab_close(slab);
	ck_assert_int_eq(shmslab_unlink(name), 0);
}

static uint64_t head(uint32_t shard)
{
	return atomic_load(&slab->shards[shard].head);
}

static uint32_t top(uint32_t shard)
{
	return (uint32_t)(head(shard) & slab->g.idx_mask);
}

static uint64_t tag(uint32_t shard)
{
	return head(shard) >> slab->g.idx_bits;
}

START_TEST(test_freelist_pop_all)
{
	struct lane *lane = shmslab__lane_enter(slab);
	bool seen[SLOTS] = { false };
	uint32_t idx, n = 0;

	for (uint32_t k = 0; k < SHARDS; k++) {
		uint32_t from_shard = 0;

		while (shmslab__freelist_pop(slab, k, lane, &idx) == 0) {
			ck_assert_uint_lt(idx, SLOTS);
			ck_assert(!seen[idx]);
			seen[idx] = true;
			from_shard++;
			n++;
		}
		ck_assert_uint_eq(from_shard, SLOTS / SHARDS);
		ck_assert_uint_eq(top(k), shmslab__freelist_nil(slab));
		ck_assert_int_eq(shmslab__freelist_pop(slab, k, lane, &idx), -ENOSPC);
	}
	ck_assert_uint_eq(n, SLOTS);
	shmslab__lane_leave(slab, lane);
}
END_TEST

START_TEST(test_freelist_lifo)
{
	struct lane *lane = shmslab__lane_enter(slab);
	uint32_t a, b, x;

	ck_assert_int_eq(shmslab__freelist_pop(slab, 0, lane, &a), 0);
	ck_assert_int_eq(shmslab__freelist_pop(slab, 0, lane, &b), 0);
	ck_assert_uint_ne(a, b);
	shmslab__freelist_push(slab, 0, a);
	shmslab__freelist_push(slab, 0, b);
	ck_assert_uint_eq(top(0), b);
	ck_assert_int_eq(shmslab__freelist_pop(slab, 0, lane, &x), 0);
	ck_assert_uint_eq(x, b);
	ck_assert_int_eq(shmslab__freelist_pop(slab, 0, lane, &x), 0);
	ck_assert_uint_eq(x, a);
	shmslab__lane_leave(slab, lane);
}
END_TEST

START_TEST(test_freelist_tag_advances)
{
	struct lane *lane = shmslab__lane_enter(slab);
	uint64_t t0 = tag(1);
	uint32_t idx;

	ck_assert_int_eq(shmslab__freelist_pop(slab, 1, lane, &idx), 0);
	ck_assert_uint_eq(tag(1), t0 + 1);
	shmslab__freelist_push(slab, 1, idx);
	ck_assert_uint_eq(tag(1), t0 + 2);
	ck_assert_uint_eq(top(1), idx);
	/* the tag owns every bit above the index */
	ck_assert_uint_ge(64 - slab->g.idx_bits, 32);
	shmslab__lane_leave(slab, lane);
}
END_TEST

START_TEST(test_freelist_aba_caught)
{
	struct lane *lane = shmslab__lane_enter(slab);
	uint64_t stale = head(2), replay;
	uint32_t x, y;

	/* pop x and y, push x back: the same top as before, a different link */
	ck_assert_int_eq(shmslab__freelist_pop(slab, 2, lane, &x), 0);
	ck_assert_int_eq(shmslab__freelist_pop(slab, 2, lane, &y), 0);
	shmslab__freelist_push(slab, 2, x);
	ck_assert_uint_eq(top(2), (uint32_t)(stale & slab->g.idx_mask));
	/* a popper that read the head before would now install y, which is not free */
	replay = stale;
	ck_assert(!atomic_compare_exchange_strong(&slab->shards[2].head, &replay, stale + 1));
	shmslab__lane_leave(slab, lane);
}
END_TEST

START_TEST(test_freelist_corrupt_head)
{
	struct lane *lane = shmslab__lane_enter(slab);
	uint64_t h = head(0);
	shmslab_ref ref;
	uint32_t idx;

	atomic_store(&slab->shards[0].head, (h & ~slab->g.idx_mask) | (SLOTS + 5));
	ck_assert_int_eq(shmslab__freelist_pop(slab, 0, lane, &idx), SHMSLAB_ECORRUPT);
	shmslab__lane_leave(slab, lane);
	/* every shard is bad now: alloc reports it instead of using the index */
	for (uint32_t k = 1; k < SHARDS; k++)
		atomic_store(&slab->shards[k].head, (head(k) & ~slab->g.idx_mask) | (SLOTS + 9));
	ck_assert_int_eq(shmslab_alloc(slab, &ref), SHMSLAB_ECORRUPT);
}
END_TEST

START_TEST(test_freelist_corrupt_link)
{
	struct lane *lane = shmslab__lane_enter(slab);
	uint32_t idx;

	atomic_store(&slot_meta(slab, top(3))->next, SLOTS + 7);
	ck_assert_int_eq(shmslab__freelist_pop(slab, 3, lane, &idx), SHMSLAB_ECORRUPT);
	shmslab__lane_leave(slab, lane);
}
END_TEST

START_TEST(test_freelist_pop_journals)
{
	struct lane *lane = shmslab__lane_enter(slab);
	uint32_t want = top(0), idx;

	ck_assert_int_eq(shmslab__freelist_pop(slab, 0, lane, &idx), 0);
	ck_assert_uint_eq(idx, want);
	/* until the caller records the new owner, the lane names the slot */
	ck_assert_uint_eq(atomic_load(&lane->window), ((uint64_t)LANE_POP << 32) | idx);
	shmslab__lane_leave(slab, lane);
}
END_TEST

START_TEST(test_freelist_steals_from_other_shards)
{
	shmslab_ref refs[SLOTS + 1];
	bool seen[SLOTS] = { false };

	/* whichever CPU we run on, its shard holds only SLOTS / SHARDS */
	for (int i = 0; i < SLOTS; i++) {
		ck_assert_int_eq(shmslab_alloc(slab, &refs[i]), 0);
		ck_assert(!seen[(uint32_t)refs[i]]);
		seen[(uint32_t)refs[i]] = true;
	}
	ck_assert_int_eq(shmslab_alloc(slab, &refs[SLOTS]), -ENOSPC);
}
END_TEST

START_TEST(test_freelist_keeps_one_back)
{
	struct shmslab_slot_info info;
	struct shmslab_stats st;
	struct shmslab *other;
	shmslab_ref a, b, c;

	ck_assert_int_eq(shmslab_alloc(slab, &a), 0);
	ck_assert_int_eq(shmslab_free(slab, a), 0);
	/* kept back for this thread: free to everyone's eyes, on no list */
	ck_assert_int_eq(shmslab_slot_info(slab, (uint32_t)a, &info), 0);
	ck_assert_uint_eq(info.state, SHMSLAB_SLOT_FREE);
	ck_assert_int_eq(shmslab_stat(slab, &st), 0);
	ck_assert_uint_eq(st.available, SLOTS);
	ck_assert_int_eq(shmslab_alloc(slab, &b), 0);
	ck_assert_uint_eq((uint32_t)b, (uint32_t)a);
	ck_assert_uint_ne(b, a);

	/* another process takes a kept slot over once the lists are empty */
	ck_assert_int_eq(shmslab_free(slab, b), 0);
	ck_assert_int_eq(shmslab_open(name, &other), 0);
	for (int i = 0; i < SLOTS - 1; i++)
		ck_assert_int_eq(shmslab_alloc(other, &c), 0);
	ck_assert_int_eq(shmslab_alloc(other, &c), 0);
	ck_assert_uint_eq((uint32_t)c, (uint32_t)a);
	ck_assert_int_eq(shmslab_alloc(other, &c), -ENOSPC);
	/* and the thread that kept it finds it gone, not twice allocated */
	ck_assert_int_eq(shmslab_alloc(slab, &c), -ENOSPC);
	shmslab_close(other);
}
END_TEST

struct churn {
	uint32_t shard;
	int rounds;
};

static void *churn_thread(void *arg)
{
	struct churn *c = arg;
	struct lane *lane = shmslab__lane_enter(slab);
	uint32_t held[4];

	for (int r = 0; r < c->rounds; r++) {
		int n = 0;

		while (n < 4 && shmslab__freelist_pop(slab, c->shard, lane, &held[n]) == 0)
			n++;
		while (n > 0)
			shmslab__freelist_push(slab, c->shard, held[--n]);
	}
	shmslab__lane_leave(slab, lane);
	return NULL;
}

START_TEST(test_freelist_concurrent_no_loss)
{
	struct churn c = { 0, 50000 };
	pthread_t t[4];
	struct lane *lane;
	bool seen[SLOTS] = { false };
	uint32_t idx, n = 0;

	/* four threads fight over one head */
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, churn_thread, &c);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	lane = shmslab__lane_enter(slab);
	while (shmslab__freelist_pop(slab, 0, lane, &idx) == 0) {
		ck_assert(!seen[idx]);
		seen[idx] = true;
		n++;
	}
	shmslab__lane_leave(slab, lane);
	ck_assert_uint_eq(n, SLOTS / SHARDS);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("freelist");
	TCase *tc = tcase_create("freelist");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_freelist_pop_all);
	tcase_add_test(tc, test_freelist_lifo);
	tcase_add_test(tc, test_freelist_tag_advances);
	tcase_add_test(tc, test_freelist_aba_caught);
	tcase_add_test(tc, test_freelist_corrupt_head);
	tcase_add_test(tc, test_freelist_corrupt_link);
	tcase_add_test(tc, test_freelist_pop_journals);
	tcase_add_test(tc, test_freelist_steals_from_other_shards);
	tcase_add_test(tc, test_freelist_keeps_one_back);
	tcase_add_test(tc, test_freelist_concurrent_no_loss);
	suite_add_tcase(s, tc);
	return test_main(s);
}
