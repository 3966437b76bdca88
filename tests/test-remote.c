/* SPDX-License-Identifier: MIT */
/*
 * Seed 002's free-list sharding: a slot freed by a process other than the
 * one that allocated it goes to the allocator's remote list, which the
 * allocator takes whole as a local list; a walk of the lists by a recovery
 * takes local lists back, and their threads give them up; at exhaustion
 * remote lists are stolen and local lists walked back, so that no alloc
 * fails while a slot is free; bad indices in any of it are errors, not
 * crashes.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "common.h"
#include "internal.h"
#include "invariant.h"

#define SLOTS 16
#define BATCH 4

static char name[TEST_NAME_MAX];
static struct shmslab *slab, *other;

static void setup(void)
{
	slab = test_segment(name, (struct shmslab_config){
					  .slot_count = SLOTS, .max_slots = SLOTS, .slot_size = 64 });
	ck_assert_int_eq(shmslab_open(name, &other), 0);
}

static void teardown(void)
{
	shmslab_close(other);
	shmslab_close(slab);
	ck_assert_int_eq(shmslab_unlink(name), 0);
}

static void assert_invariant(void)
{
	char why[256];
	const char *err = invariant_check(slab, why, sizeof(why));

	ck_assert_msg(err == NULL, "%s", err);
}

/* The length of slab's remote list. */
static uint32_t remote_length(void)
{
	struct shard *sh = shmslab__list_head(slab, shmslab__remote_list(slab, slab->self));
	uint32_t x = (uint32_t)(atomic_load(&sh->head) & slab->g.idx_mask), n = 0;

	for (; x != shmslab__freelist_nil(slab) && n <= SLOTS; n++)
		x = atomic_load(&slot_meta(slab, x)->next);
	return n;
}

static struct lane *my_lane(struct shmslab *s)
{
	struct lane *lane = shmslab__lane_enter(s);

	shmslab__lane_leave(s, lane);
	return lane;
}

/* The other attachment keeps a slot back, so that what it frees next goes home. */
static void other_keeps_one(void)
{
	shmslab_ref ref;

	ck_assert_int_eq(shmslab_alloc(other, &ref), 0);
	ck_assert_int_eq(shmslab_free(other, ref), 0);
}

/* slab allocates BATCH slots into REFS, and the other attachment frees them. */
static void freed_elsewhere(shmslab_ref *refs)
{
	other_keeps_one();
	for (int i = 0; i < BATCH; i++)
		ck_assert_int_eq(shmslab_alloc(slab, &refs[i]), 0);
	for (int i = 0; i < BATCH; i++)
		ck_assert_int_eq(shmslab_free(other, refs[i]), 0);
}

static bool among(const shmslab_ref *refs, int n, shmslab_ref ref)
{
	for (int i = 0; i < n; i++)
		if ((uint32_t)refs[i] == (uint32_t)ref)
			return true;
	return false;
}

START_TEST(test_remote_free_goes_home)
{
	shmslab_ref refs[BATCH], ref;

	freed_elsewhere(refs);
	ck_assert_uint_eq(remote_length(), BATCH);
	assert_invariant();
	/* the first alloc takes the remote list whole: the rest is local */
	ck_assert_int_eq(shmslab_alloc(slab, &ref), 0);
	ck_assert(among(refs, BATCH, ref));
	ck_assert_uint_eq(remote_length(), 0);
	ck_assert_uint_ne(atomic_load(&my_lane(slab)->local), 0);
	assert_invariant();
	for (int i = 1; i < BATCH; i++) {
		ck_assert_int_eq(shmslab_alloc(slab, &ref), 0);
		ck_assert(among(refs, BATCH, ref));
	}
	ck_assert_uint_eq(atomic_load(&my_lane(slab)->local), 0);
	assert_invariant();
}
END_TEST

START_TEST(test_remote_kept_before_going_home)
{
	shmslab_ref a, b;

	/* a process that keeps nothing back keeps what it frees, home or not */
	ck_assert_int_eq(shmslab_alloc(slab, &a), 0);
	ck_assert_int_eq(shmslab_free(other, a), 0);
	ck_assert_uint_eq(remote_length(), 0);
	ck_assert_int_eq(shmslab_alloc(other, &b), 0);
	ck_assert_uint_eq((uint32_t)b, (uint32_t)a);
	ck_assert_int_eq(shmslab_free(other, b), 0);
	assert_invariant();
}
END_TEST

START_TEST(test_remote_own_free_is_not_remote)
{
	shmslab_ref a, b;

	ck_assert_int_eq(shmslab_alloc(slab, &a), 0);
	ck_assert_int_eq(shmslab_alloc(slab, &b), 0);
	ck_assert_int_eq(shmslab_free(slab, a), 0);
	ck_assert_int_eq(shmslab_free(slab, b), 0);
	ck_assert_uint_eq(remote_length(), 0);
	assert_invariant();
}
END_TEST

/* slab allocates every slot into REFS, and the other attachment frees them all. */
static void all_freed_elsewhere(shmslab_ref *refs)
{
	shmslab_ref ref;

	for (int i = 0; i < SLOTS; i++)
		ck_assert_int_eq(shmslab_alloc(slab, &refs[i]), 0);
	ck_assert_int_eq(shmslab_alloc(other, &ref), -ENOSPC);
	for (int i = 0; i < SLOTS; i++)
		ck_assert_int_eq(shmslab_free(other, refs[i]), 0);
}

/* The other attachment gets REFS[FROM..SLOTS), all distinct, and then nobody gets any. */
static void other_gets_the_rest(shmslab_ref *refs, int from)
{
	shmslab_ref ref;

	for (int i = from; i < SLOTS; i++) {
		ck_assert_int_eq(shmslab_alloc(other, &refs[i]), 0);
		ck_assert(!among(refs, i, refs[i]));
	}
	ck_assert_int_eq(shmslab_alloc(other, &ref), -ENOSPC);
	ck_assert_int_eq(shmslab_alloc(slab, &ref), -ENOSPC);
	assert_invariant();
}

START_TEST(test_remote_stolen_when_all_else_is_empty)
{
	shmslab_ref refs[SLOTS];

	all_freed_elsewhere(refs);
	/* the first it keeps back; every other slot is on slab's remote list */
	ck_assert_uint_eq(remote_length(), SLOTS - 1);
	other_gets_the_rest(refs, 0);
}
END_TEST

START_TEST(test_remote_local_list_never_makes_an_alloc_fail)
{
	shmslab_ref refs[SLOTS];

	all_freed_elsewhere(refs);
	/* the other keeps the first; slab takes the rest, one allocated, the
	 * others on its local list */
	ck_assert_int_eq(shmslab_alloc(slab, &refs[0]), 0);
	ck_assert_uint_ne(atomic_load(&my_lane(slab)->local), 0);
	/* the other attachment finds no list with a slot: a walk gives it the rest */
	other_gets_the_rest(refs, 1);
}
END_TEST

/* Allocate everything there is: SLOTS - HELD distinct slots, none in HELD. */
static void assert_rest_is_whole(const shmslab_ref *held, int n_held)
{
	shmslab_ref got[SLOTS], ref;
	int n = 0;

	while (shmslab_alloc(slab, &ref) == 0) {
		ck_assert_int_lt(n, SLOTS);
		ck_assert(!among(held, n_held, ref));
		ck_assert(!among(got, n, ref));
		got[n++] = ref;
	}
	ck_assert_int_eq(n + n_held, SLOTS);
	assert_invariant();
}

START_TEST(test_remote_walk_takes_local_list_back)
{
	shmslab_ref refs[BATCH], held;
	uint32_t walks;

	freed_elsewhere(refs);
	ck_assert_int_eq(shmslab_alloc(slab, &held), 0);
	walks = atomic_load(&slab->control->limbo_walks);
	/* a recoverer died right after it began a walk: the next one walks */
	atomic_store(&slab->control->limbo_walks, walks | 1);
	ck_assert_int_eq(shmslab_recover(slab), BATCH - 1);
	ck_assert_uint_eq(atomic_load(&slab->control->limbo_walks) & 1, 0);
	ck_assert_uint_ne(atomic_load(&slab->control->limbo_walks), walks);
	/* the local list's slots are on the lists again, and only there */
	assert_invariant();
	assert_rest_is_whole(&held, 1);
	ck_assert_uint_eq(atomic_load(&my_lane(slab)->local), 0);
}
END_TEST

START_TEST(test_remote_no_take_during_a_walk)
{
	shmslab_ref refs[BATCH], held, spare;
	uint32_t walks = atomic_load(&slab->control->limbo_walks);

	freed_elsewhere(refs);
	/* a walk began (its recoverer died before blocking anything): a list
	 * taken now would carry the odd count past the walk's relisting */
	atomic_store(&slab->control->limbo_walks, walks | 1);
	ck_assert_int_eq(shmslab_alloc(slab, &held), 0);
	ck_assert(!among(refs, BATCH, held));
	ck_assert_uint_eq(remote_length(), BATCH);
	ck_assert_uint_eq(atomic_load(&my_lane(slab)->local), 0);
	/* the next recovery finishes the walk, and the list can be taken again */
	ck_assert_int_ge(shmslab_recover(slab), 0);
	ck_assert_uint_eq(atomic_load(&slab->control->limbo_walks) & 1, 0);
	assert_invariant();
	ck_assert_int_eq(shmslab_free(slab, held), 0);
	ck_assert_int_eq(shmslab_alloc(slab, &held), 0); /* the one kept back */
	ck_assert_int_eq(shmslab_alloc(slab, &spare), 0);
	ck_assert(among(refs, BATCH, spare));
	ck_assert_uint_eq(remote_length(), 0);
	ck_assert_int_eq(shmslab_free(slab, held), 0);
	ck_assert_int_eq(shmslab_free(slab, spare), 0);
	assert_invariant();
}
END_TEST

START_TEST(test_remote_walk_waits_for_a_handshake)
{
	uint32_t walks = atomic_load(&slab->control->limbo_walks);

	ck_assert_uint_eq(atomic_load(&slab->me->pops), POPS_UNFENCED);
	/* as a walker that cannot issue membarrier(): our own entry pops
	 * unfenced, so the walk that walk_wanted asks for is not begun */
	atomic_store(&slab->pops_fence, 1);
	atomic_store(&slab->control->walk_wanted, 1);
	ck_assert_int_eq(shmslab_recover(slab), 0);
	ck_assert_uint_eq(atomic_load(&slab->control->walk_wanted), 1);
	ck_assert_uint_eq(atomic_load(&slab->control->limbo_walks), walks);
	/* once every live process fences its pops, the walk is made */
	for (uint32_t e = 0; e < slab->g.max_procs; e++)
		atomic_store(&shmslab__proc_entry(slab, e)->pops, POPS_FENCED);
	ck_assert_int_eq(shmslab_recover(slab), 0);
	ck_assert_uint_eq(atomic_load(&slab->control->walk_wanted), 0);
	ck_assert_uint_eq(atomic_load(&slab->control->limbo_walks), walks + 2);
	assert_invariant();
}
END_TEST

/* From now on membarrier() fails in this process (each test is a child of its own). */
static void refuse_membarrier(void)
{
	/* the architecture goes unchecked: the test's own ABI makes the call */
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_membarrier, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };

	ck_assert_int_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	ck_assert_int_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0);
	ck_assert_int_eq(syscall(__NR_membarrier, 0, 0), -1);
}

START_TEST(test_remote_walker_without_membarrier_fences_its_pops)
{
	uint32_t walks = atomic_load(&slab->control->limbo_walks);
	shmslab_ref refs[BATCH], held;

	freed_elsewhere(refs);
	ck_assert_int_eq(shmslab_alloc(slab, &held), 0);
	/* a list given up: only a walk brings its slots back */
	atomic_store(&my_lane(slab)->local, 0);
	atomic_store(&slab->control->walk_wanted, 1);
	refuse_membarrier();
	/* the walk that fails its membarrier() makes slab's pops fence and
	 * leaves the slots to a later walk, begun once no live entry pops
	 * unfenced: here, once the other handle has failed its own */
	ck_assert_int_eq(shmslab_recover(slab), 0);
	ck_assert_uint_eq(atomic_load(&slab->pops_fence), 1);
	ck_assert_uint_eq(atomic_load(&slab->me->pops), POPS_FENCED);
	ck_assert_uint_eq(atomic_load(&other->me->pops), POPS_UNFENCED);
	ck_assert_uint_eq(atomic_load(&slab->control->walk_wanted), 1);
	ck_assert_uint_eq(atomic_load(&slab->control->limbo_walks), walks + 2);
	ck_assert_int_eq(shmslab_recover(slab), 0);
	ck_assert_uint_eq(atomic_load(&slab->control->limbo_walks), walks + 2);
	ck_assert_int_eq(shmslab_recover(other), 0);
	ck_assert_uint_eq(atomic_load(&other->me->pops), POPS_FENCED);
	ck_assert_uint_eq(atomic_load(&slab->control->limbo_walks), walks + 4);
	ck_assert_int_eq(shmslab_recover(slab), BATCH - 1);
	ck_assert_uint_eq(atomic_load(&slab->control->walk_wanted), 0);
	ck_assert_uint_eq(atomic_load(&slab->control->limbo_walks), walks + 6);
	assert_invariant();
	assert_rest_is_whole(&held, 1);
}
END_TEST

START_TEST(test_remote_given_up_list_is_walked_next)
{
	shmslab_ref refs[BATCH], held;

	freed_elsewhere(refs);
	ck_assert_int_eq(shmslab_alloc(slab, &held), 0);
	/* as a thread that gave its list up when a walk crossed its take: the
	 * slots are on no list, and the next recovery must walk */
	atomic_store(&my_lane(slab)->local, 0);
	atomic_store(&slab->control->walk_wanted, 1);
	ck_assert_int_eq(shmslab_recover(slab), BATCH - 1);
	ck_assert_uint_eq(atomic_load(&slab->control->walk_wanted), 0);
	assert_invariant();
	assert_rest_is_whole(&held, 1);
}
END_TEST

START_TEST(test_remote_walk_leaves_a_live_freer_alone)
{
	struct lane *lane = shmslab__lane_enter(slab);
	_Atomic uint64_t *state;
	shmslab_ref ref;
	uint64_t st;

	ck_assert_int_eq(shmslab_alloc(slab, &ref), 0);
	/* as a live free whose push met the lists blocked: FREE, named, on none */
	state = &slot_meta(slab, (uint32_t)ref)->state;
	st = st_make(KIND_FREE, 0, gen_next(st_gen(atomic_load(state))));
	atomic_store(state, st);
	shmslab__lane_set(lane, LANE_FREE, (uint32_t)ref);
	atomic_store(&slab->control->walk_wanted, 1);
	ck_assert_int_eq(shmslab_recover(other), 0);
	/* the walk neither took it nor marked it: the freer's push is the one */
	ck_assert_uint_eq(atomic_load(state), st);
	ck_assert_uint_eq(atomic_load(&slab->control->walk_wanted), 0);
	ck_assert_int_eq(shmslab__lane_push(slab, lane), 0);
	shmslab__lane_leave(slab, lane);
	assert_invariant();
	assert_rest_is_whole(NULL, 0);
}
END_TEST

START_TEST(test_remote_relisted_head_is_given_up)
{
	shmslab_ref refs[BATCH], held, ref;
	uint32_t head;
	_Atomic uint64_t *state;

	freed_elsewhere(refs);
	ck_assert_int_eq(shmslab_alloc(slab, &held), 0);
	head = atomic_load(&my_lane(slab)->local) - 1;
	/* as a recovery that walked the lists marks what it put back */
	state = &slot_meta(slab, head)->state;
	atomic_store(state, atomic_load(state) | ST_RELISTED);
	ck_assert_int_eq(shmslab_alloc(slab, &ref), 0);
	ck_assert_uint_ne((uint32_t)ref, head);
	ck_assert(!among(refs, BATCH, ref));
	ck_assert_uint_eq(atomic_load(&my_lane(slab)->local), 0);
}
END_TEST

START_TEST(test_remote_detach_gives_local_list_back)
{
	shmslab_ref refs[BATCH], held;

	freed_elsewhere(refs);
	ck_assert_int_eq(shmslab_alloc(slab, &held), 0);
	ck_assert_uint_ne(atomic_load(&my_lane(slab)->local), 0);
	ck_assert_int_eq(shmslab_free(slab, held), 0);
	ck_assert_int_eq(shmslab_close(slab), 0);
	ck_assert_int_eq(shmslab_open(name, &slab), 0);
	assert_invariant();
	assert_rest_is_whole(NULL, 0);
}
END_TEST

START_TEST(test_remote_bad_link_ends_local_list)
{
	shmslab_ref refs[BATCH], held, ref;
	uint32_t head;

	freed_elsewhere(refs);
	ck_assert_int_eq(shmslab_alloc(slab, &held), 0);
	head = atomic_load(&my_lane(slab)->local) - 1;
	atomic_store(&slot_meta(slab, head)->next, SLOTS + 5);
	ck_assert_int_eq(shmslab_alloc(slab, &ref), 0);
	ck_assert_uint_eq((uint32_t)ref, head);
	ck_assert_uint_eq(atomic_load(&my_lane(slab)->local), 0);
	ck_assert_int_eq(shmslab_alloc(slab, &ref), 0);
}
END_TEST

START_TEST(test_remote_bad_head_leaves_the_shards)
{
	struct shard *sh = shmslab__list_head(slab, shmslab__remote_list(slab, slab->self));
	shmslab_ref ref;

	atomic_store(&sh->head, (atomic_load(&sh->head) & ~slab->g.idx_mask) | (SLOTS + 3));
	ck_assert_int_eq(shmslab_alloc(slab, &ref), 0);
	ck_assert_uint_lt((uint32_t)ref, SLOTS);
}
END_TEST

START_TEST(test_remote_bad_home_goes_to_a_shard)
{
	shmslab_ref ref;

	other_keeps_one();
	ck_assert_int_eq(shmslab_alloc(slab, &ref), 0);
	atomic_store(&slot_meta(slab, (uint32_t)ref)->home, slab->g.max_procs + 7);
	ck_assert_int_eq(shmslab_free(other, ref), 0);
	ck_assert_uint_eq(remote_length(), 0);
	assert_invariant();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("remote");
	TCase *tc = tcase_create("remote");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_remote_free_goes_home);
	tcase_add_test(tc, test_remote_kept_before_going_home);
	tcase_add_test(tc, test_remote_own_free_is_not_remote);
	tcase_add_test(tc, test_remote_stolen_when_all_else_is_empty);
	tcase_add_test(tc, test_remote_local_list_never_makes_an_alloc_fail);
	tcase_add_test(tc, test_remote_walk_takes_local_list_back);
	tcase_add_test(tc, test_remote_no_take_during_a_walk);
	tcase_add_test(tc, test_remote_walk_waits_for_a_handshake);
	tcase_add_test(tc, test_remote_walker_without_membarrier_fences_its_pops);
	tcase_add_test(tc, test_remote_given_up_list_is_walked_next);
	tcase_add_test(tc, test_remote_walk_leaves_a_live_freer_alone);
	tcase_add_test(tc, test_remote_relisted_head_is_given_up);
	tcase_add_test(tc, test_remote_detach_gives_local_list_back);
	tcase_add_test(tc, test_remote_bad_link_ends_local_list);
	tcase_add_test(tc, test_remote_bad_head_leaves_the_shards);
	tcase_add_test(tc, test_remote_bad_home_goes_to_a_shard);
	suite_add_tcase(s, tc);
	return test_main(s);
}
