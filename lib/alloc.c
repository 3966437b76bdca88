/* SPDX-License-Identifier: MIT */
/*
 * shmslab_alloc and shmslab_free: the slab's calls (slots.c), and what to do
 * when they meet a list held by a recoverer, a dead writer or reader, or no
 * free slot: recover, and try again.  shmslab_alloc_many takes its slots
 * one at a time through one lane, entering the call once.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>

#include "internal.h"

/*
 * A take that found a list held by a recoverer, or no slot (ERR): wait and
 * finish what the lane names, or, with *RECOVER, take back first what dead
 * processes hold.  0: take again; else the error to answer.  Apart, so that
 * the hot path stays small.
 */
static __attribute__((noinline, cold)) int alloc_retry(struct shmslab *slab, struct lane *lane,
							bool *recover, int err)
{
	if (err == -EAGAIN && (err = shmslab__push_after_recovery(slab, lane)) == 0)
		return 0;
	if (err != -ENOSPC || !*recover)
		return err;
	/* no slot, no room: what dead processes hold, and what other threads
	 * hold on local lists, comes back first; our lane must not name a slot
	 * we only looked at, or it stays lost */
	shmslab__lane_set(lane, LANE_IDLE, 0);
	if (shmslab__recover_for_room(slab) <= 0)
		return err;
	*recover = false;
	return 0;
}

/*
 * Up to N free slots into REFS, through one lane; only when not even the
 * first can be had, take back first what dead processes hold.  Both calls
 * come here, so that the take is inlined at one place.
 */
static int alloc_call(struct shmslab *slab, shmslab_ref *refs, unsigned n)
{
	struct lane *lane;
	bool recover = true;
	unsigned got = 0;
	int err = 0;

	if (refs == NULL || n == 0 || n > INT_MAX)
		return -EINVAL;
	lane = shmslab__lane_enter(slab);
	while (got < n) {
		uint32_t idx, gen;

		err = shmslab__slot_take(slab, lane, &idx, &gen);
		if (__builtin_expect(err != 0, 0)) {
			/* a burst that found some slots recovers nothing for more,
			 * but still pushes what its lane names (a growth's slots) */
			if (got > 0)
				recover = false;
			if ((err = alloc_retry(slab, lane, &recover, err)) != 0)
				break;
			continue;
		}
		refs[got] = ref_make(slab, idx, gen);
		if (++got == 1 && n > 1)
			KILLPOINT(alloc_many_partway);
	}
	/* a failed pop may have left the lane naming a slot that was never ours */
	shmslab__lane_set(lane, LANE_IDLE, 0);
	shmslab__lane_leave(slab, lane);
	return got > 0 ? (int)got : err;
}

/* flatten: the one-slot call is the hot path; its take is inlined here too */
__attribute__((flatten)) int shmslab_alloc(struct shmslab *slab, shmslab_ref *ref)
{
	int got = CALL(slab, true, alloc_call(slab, ref, 1));

	return got > 0 ? 0 : got;
}

int shmslab_alloc_many(struct shmslab *slab, shmslab_ref *refs, unsigned n)
{
	return CALL(slab, true, alloc_call(slab, refs, n));
}

static int free_call(struct shmslab *slab, shmslab_ref ref)
{
	struct lane *lane;
	uint32_t idx, next_gen;
	int err = ref_check(slab, ref);

	if (err)
		return err;
	idx = ref_index(slab, ref);
	err = shmslab__lock_close(slab, idx, ref_want(slab, ref), CLOSE_FREE, &next_gen);
	if (err)
		return err;
	KILLPOINT(free_freeing);
	shmslab__lock_drain(slab, idx);
	KILLPOINT(free_drained);
	lane = shmslab__lane_enter(slab);
	/* a slot that cannot reach a list even then is FREE, on no list and named
	 * by no lane: the recovery that unblocks the lists finds it */
	if (shmslab__slot_give(slab, lane, idx, next_gen) == -EAGAIN)
		(void)shmslab__push_after_recovery(slab, lane);
	shmslab__lane_set(lane, LANE_IDLE, 0);
	shmslab__lane_leave(slab, lane);
	return 0;
}

int shmslab_free(struct shmslab *slab, shmslab_ref ref)
{
	return CALL(slab, true, free_call(slab, ref));
}
