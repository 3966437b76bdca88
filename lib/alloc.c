/* SPDX-License-Identifier: MIT */
/*
 * shmslab_alloc and shmslab_free: the slab's calls (slots.c), and what to do
 * when they meet a list held by a recoverer, a dead writer or reader, or no
 * free slot: recover, and try again.
 */
#include "config.h"

#include <errno.h>

#include "internal.h"

static int alloc_call(struct shmslab *slab, shmslab_ref *ref)
{
	struct lane *lane;
	bool recovered = false;
	uint32_t idx, gen;
	int err;

	if (ref == NULL)
		return -EINVAL;
	lane = shmslab__lane_enter(slab);
	for (;;) {
		err = shmslab__slot_take(slab, lane, &idx, &gen);
		if (err == -EAGAIN && (err = shmslab__push_after_recovery(slab, lane)) == 0)
			continue;
		if (err != -ENOSPC || recovered)
			break;
		/* no slot, no room: what dead processes hold comes back first; our
		 * lane must not name a slot we only looked at, or it stays lost */
		shmslab__lane_set(lane, LANE_IDLE, 0);
		if (shmslab__recover(slab, NULL) <= 0)
			break;
		recovered = true;
	}
	/* a failed pop may have left the lane naming a slot that was never ours */
	shmslab__lane_set(lane, LANE_IDLE, 0);
	shmslab__lane_leave(slab, lane);
	if (err == 0)
		*ref = ref_make(slab, idx, gen);
	return err;
}

int shmslab_alloc(struct shmslab *slab, shmslab_ref *ref)
{
	return CALL(slab, true, alloc_call(slab, ref));
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
