/* SPDX-License-Identifier: MIT */
/*
 * Free lists: tagged Treiber stacks of slot indices, one per shard and one
 * per process-table entry (its remote list, which others push to and its
 * threads take whole: seed 002's free-list sharding).  A head
 * is one 64-bit word, the top index in its low idx_bits bits and an ABA tag
 * in the rest (at least 32 bits); every successful CAS adds one to the tag,
 * so a stale head can only match again after 2^32 or more operations on that
 * shard while the stale reader sleeps.  Links live in the slots' metadata.
 *
 * A popper journals the index it is about to pop in its lane before the CAS,
 * so that if it dies right after the CAS, recovery can tell the slot it took
 * from one that is still on a list.  Every index read from shared memory is
 * bounds-checked before it is used.
 */
#include "config.h"

#include <errno.h>

#include "internal.h"

uint32_t shmslab__freelist_nil(const struct shmslab *s)
{
	return (uint32_t)s->g.idx_mask;
}

uint32_t shmslab__freelist_blocked(const struct shmslab *s)
{
	return (uint32_t)s->g.idx_mask - 1;
}

static uint64_t head_next(const struct shmslab *s, uint64_t head, uint32_t top)
{
	uint64_t tag = head >> s->g.idx_bits;

	return ((tag + 1) << s->g.idx_bits) | top;
}

/*
 * Push the chain [first, first + count), which the caller holds exclusively,
 * onto SHARD.  -EAGAIN when a recoverer holds the list: wait, and push again.
 */
int shmslab__freelist_push_range(struct shmslab *s, uint32_t shard, uint32_t first, uint32_t count)
{
	_Atomic uint64_t *head = &shmslab__list_head(s, shard)->head;
	/* relaxed: only a guess of the head, which the CAS below checks */
	uint64_t h = sa_load_relaxed_u64(head);
	unsigned round = 0;

	if (count == 0)
		return 0;
	for (uint32_t i = first; i + 1 < first + count; i++)
		/* relaxed: the chain is ours; the push's release publishes it */
		sa_store_relaxed_u32(&slot_meta(s, i)->next, i + 1);
	for (;;) {
		uint32_t top = (uint32_t)(h & s->g.idx_mask);

		if (top == shmslab__freelist_blocked(s))
			return -EAGAIN;
		/* relaxed: as the links above */
		sa_store_relaxed_u32(&slot_meta(s, first + count - 1)->next, top);
		/* release: the links above are visible to whoever pops the new top;
		 * weak, since a failure looks again */
		if (sa_cas_weak_release_u64(head, &h, head_next(s, h, first)))
			return 0;
		shmslab__os_backoff(&round);
	}
}

/*
 * Pop the top of SHARD into *idx.  -ENOSPC when the shard is empty, -EAGAIN
 * when a recoverer holds it, SHMSLAB_ECORRUPT when a link or the head points
 * outside the segment, -ENOMEM (or another error of mapping) when they point
 * into a page this process cannot map.  On success the lane still names the slot: the caller
 * records its new state, then clears the lane.
 */
int shmslab__freelist_pop(struct shmslab *s, uint32_t shard, struct lane *lane, uint32_t *idx)
{
	_Atomic uint64_t *head = &shmslab__list_head(s, shard)->head;
	uint32_t nil = shmslab__freelist_nil(s);
	unsigned round = 0;
	/* acquire: the pusher's release CAS published the top's link */
	uint64_t h = sa_load_acquire_u64(head);

	for (;;) {
		uint32_t top = (uint32_t)(h & s->g.idx_mask);
		uint32_t next;
		int err;

		if (top == nil)
			return -ENOSPC;
		if (top == shmslab__freelist_blocked(s)) {
			shmslab__lane_set(lane, LANE_IDLE, 0);
			return -EAGAIN;
		}
		err = slot_check(s, top);
		if (err == -ERANGE)
			goto suspect;
		if (err)
			return err; /* a page we cannot map: nothing taken */
		shmslab__lane_set(lane, LANE_POP, top);
		KILLPOINT(alloc_pop_journaled);
		/* relaxed: ordered after the head by the acquire that read h */
		next = sa_load_relaxed_u32(&slot_meta(s, top)->next);
		err = next == nil ? 0 : slot_check(s, next);
		if (err == -ERANGE)
			goto suspect;
		if (err) {
			shmslab__lane_set(lane, LANE_IDLE, 0);
			return err;
		}
		/* acq_rel: release publishes the lane entry before the slot leaves the
		 * list; acquire on failure orders the next round's link read; weak,
		 * since a failure looks again */
		if (sa_cas_weak_acq_rel_u64(head, &h, head_next(s, h, next))) {
			*idx = top;
			KILLPOINT(alloc_popped);
			return 0;
		}
		shmslab__os_backoff(&round);
		continue;
	suspect:
		/* an out-of-range index read from a head that has since moved on was
		 * just a stale read; from one that has not, it is corruption */
		{
			/* acquire: as the head read that began the pop */
			uint64_t again = sa_load_acquire_u64(head);

			if (again == h)
				return SHMSLAB_ECORRUPT;
			h = again;
		}
	}
}

/*
 * Take all of LIST at once into *top (its first slot, linked by next to
 * nil), journalled in LANE as LANE_TAKE before the CAS: the taker's lane is
 * not idle while the chain it took is on no list and in no local list.
 * -ENOSPC when empty, -EAGAIN when a recoverer holds it, SHMSLAB_ECORRUPT
 * for a top outside the segment (the chain's links are checked as they are
 * used).
 */
int shmslab__freelist_take(struct shmslab *s, uint32_t list, struct lane *lane, uint32_t *top)
{
	_Atomic uint64_t *head = &shmslab__list_head(s, list)->head;
	uint32_t nil = shmslab__freelist_nil(s);
	/* relaxed: a guess; the CAS that takes the chain orders what we read of it */
	uint64_t h = sa_load_relaxed_u64(head);

	for (bool journaled = false;; journaled = true) {
		uint32_t x = (uint32_t)(h & s->g.idx_mask);
		int err;

		err = x == nil				      ? -ENOSPC
		      : x == shmslab__freelist_blocked(s) ? -EAGAIN
							  : slot_check(s, x);
		if (err) {
			/* a take that looked again names no chain; an empty list,
			 * seen first, costs no store at all */
			if (journaled)
				shmslab__lane_set(lane, LANE_IDLE, 0);
			return err == -ERANGE ? SHMSLAB_ECORRUPT : err;
		}
		shmslab__lane_set(lane, LANE_TAKE, x);
		/* acq_rel: release orders the lane entry before the chain leaves the
		 * list; acquire sees the pushers' links; strong, since one that fails
		 * looks again anyway and this is not a loop on a hot line */
		if (sa_cas_acq_rel_u64(head, &h, head_next(s, h, nil))) {
			*top = x;
			KILLPOINT(alloc_taken);
			return 0;
		}
	}
}

/* Push IDX, which the caller holds exclusively, onto SHARD.  -EAGAIN as push_range. */
int shmslab__freelist_push(struct shmslab *s, uint32_t shard, uint32_t idx)
{
	return shmslab__freelist_push_range(s, shard, idx, 1);
}

bool shmslab__freelist_is_blocked(const struct shmslab *s, uint32_t shard)
{
	/* acquire: a head seen unblocked comes with the recoverer's chain */
	uint64_t h = sa_load_acquire_u64(&shmslab__list_head(s, shard)->head);

	return (uint32_t)(h & s->g.idx_mask) == shmslab__freelist_blocked(s);
}

/*
 * Take SHARD out of use for recovery: its top goes to saved_top, its head
 * reads blocked.  Pops and pushes wait until it is unblocked.  A list
 * blocked already, by a recoverer that died, keeps the top it saved.
 */
void shmslab__freelist_block(struct shmslab *s, uint32_t shard)
{
	struct shard *sh = shmslab__list_head(s, shard);
	/* acquire: the pushes before our block are seen */
	uint64_t h = sa_load_acquire_u64(&sh->head);
	unsigned round = 0;

	for (;;) {
		uint32_t top = (uint32_t)(h & s->g.idx_mask);

		if (top == shmslab__freelist_blocked(s))
			return;
		/* relaxed: the CAS below publishes it, and only recoverers read it */
		sa_store_relaxed_u32(&sh->saved_top, top);
		/* acq_rel: we see every push before; no pop or push after */
		if (sa_cas_acq_rel_u64(&sh->head, &h,
				       head_next(s, h, shmslab__freelist_blocked(s))))
			return;
		shmslab__os_backoff(&round);
	}
}

/* Give SHARD back, with saved_top (and whatever was pushed on it meanwhile) as its list. */
void shmslab__freelist_unblock(struct shmslab *s, uint32_t shard)
{
	struct shard *sh = shmslab__list_head(s, shard);
	/* acquire: as in block */
	uint64_t h = sa_load_acquire_u64(&sh->head);

	/* nobody but the recoverer changes a blocked head, so one CAS does */
	if ((uint32_t)(h & s->g.idx_mask) == shmslab__freelist_blocked(s))
		/* release: the chain as the recoverer left it reaches the next popper;
		 * relaxed saved_top: written by the recoverer, which we are */
		sa_cas_release_u64(&sh->head, &h,
				   head_next(s, h, sa_load_relaxed_u32(&sh->saved_top)));
}
