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
 * Take a free slot through LANE.  With RECOVER, when there is none, take
 * back first what dead processes hold.  LANE is idle again on return.
 */
static int alloc_one(struct shmslab *slab, struct lane *lane, bool recover, shmslab_ref *ref)
{
	uint32_t idx, gen;
	int err;

	for (;;) {
		err = shmslab__slot_take(slab, lane, &idx, &gen);
		if (err == -EAGAIN && (err = shmslab__push_after_recovery(slab, lane)) == 0)
			continue;
		if (err != -ENOSPC || !recover)
			break;
		/* no slot, no room: what dead processes hold comes back first; our
		 * lane must not name a slot we only looked at, or it stays lost */
		shmslab__lane_set(lane, LANE_IDLE, 0);
		if (shmslab__recover(slab, NULL) <= 0)
			break;
		recover = false;
	}
	/* a failed pop may have left the lane naming a slot that was never ours */
	shmslab__lane_set(lane, LANE_IDLE, 0);
	if (err == 0)
		*ref = ref_make(slab, idx, gen);
	return err;
}

static int alloc_call(struct shmslab *slab, shmslab_ref *ref)
{
	struct lane *lane;
	int err;

	if (ref == NULL)
		return -EINVAL;
	lane = shmslab__lane_enter(slab);
	err = alloc_one(slab, lane, true, ref);
	shmslab__lane_leave(slab, lane);
	return err;
}

int shmslab_alloc(struct shmslab *slab, shmslab_ref *ref)
{
	return CALL(slab, true, alloc_call(slab, ref));
}

static int alloc_many_call(struct shmslab *slab, shmslab_ref *refs, unsigned n)
{
	struct lane *lane;
	unsigned got = 0;
	int err;

	if (refs == NULL || n == 0 || n > INT_MAX)
		return -EINVAL;
	lane = shmslab__lane_enter(slab);
	/* only the first recovers: a burst that found some slots has its answer */
	while (got < n && (err = alloc_one(slab, lane, got == 0, &refs[got])) == 0)
		if (++got == 1 && n > 1)
			KILLPOINT(alloc_many_partway);
	shmslab__lane_leave(slab, lane);
	return got > 0 ? (int)got : err;
}

int shmslab_alloc_many(struct shmslab *slab, shmslab_ref *refs, unsigned n)
{
	return CALL(slab, true, alloc_many_call(slab, refs, n));
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
