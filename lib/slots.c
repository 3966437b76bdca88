/* SPDX-License-Identifier: MIT */
/*
 * The slab: slots moving between their owners and the free lists, and the
 * segment growing by a page of slots when the lists run dry.  Each thread
 * keeps at most one freed slot back for its own next alloc, so that a thread
 * that frees and allocates in turn touches no shared list at all.  A kept
 * slot is marked CACHED with its process in the state word, which keeps it
 * exact for recovery and lets anyone take it over by CAS when the lists run
 * dry, so a kept slot is never lost to an alloc that needs it.
 *
 * Whenever a slot is off every list and its state word does not name a
 * process that holds it, the moving thread's lane names it (LANE_POP,
 * LANE_FREE, LANE_GROW), so that recovery can tell a slot caught in between
 * from a slot that is lost.  Nothing here waits for a recoverer: a list
 * held by one answers -EAGAIN with the lane still naming what is to be
 * pushed, and the caller, a layer up, waits and finishes with lane_push.
 */
#include "config.h"

#include <errno.h>

#include "internal.h"

static uint32_t current_shard(const struct shmslab *s)
{
	return shmslab__os_cpu() % s->g.shards;
}

/*
 * The generation a slot in state ST is handed out in: its own, or 1 for the
 * 0 that only damage writes (no reference has generation 0).
 */
static uint32_t gen_of_free(uint64_t st)
{
	return st_gen(st) != 0 ? st_gen(st) : 1;
}

/* Take IDX if it is CACHED (by OWNER, or by anyone if OWNER is 0). */
static bool claim_cached(struct shmslab *s, uint32_t idx, uint32_t owner, uint32_t *gen)
{
	struct slot_meta *m = slot_meta(s, idx);
	/* acquire: the freer's stores to the slot come with its CACHED state */
	uint64_t st = sa_load_acquire_u64(&m->state);

	if (st_kind(st) != KIND_CACHED || (owner != 0 && st_owner(st) != owner))
		return false;
	*gen = gen_of_free(st);
	/* acq_rel: we see the freer's stores to the slot; whoever loses sees us */
	return sa_cas_acq_rel_u64(&m->state, &st, st_make(KIND_OWNED, s->self + 1, *gen));
}

/*
 * Slot M goes back to the lists in generation GEN.  Building gives a slot
 * generation 1 and every free adds one, so coming back in generation 1 means
 * the state's generation wrapped: the epoch moves on (published by the store
 * of the free state that follows), so that the last epoch's references stay
 * stale.  When the epoch too has run out, answers false: the slot retires
 * rather than let a generation repeat.  The caller holds the slot FREEING.
 */
static bool generation_turn(struct shmslab *s, struct slot_meta *m, uint32_t gen)
{
	uint32_t max = epoch_max(s->g.idx_bits), epoch;

	if (gen != 1)
		return true;
	/* relaxed: ours alone while the slot is FREEING */
	epoch = sa_load_relaxed_u32(&m->epoch) & max;
	if (epoch == max)
		return false;
	/* relaxed: published by the release store of the slot's free state */
	sa_store_relaxed_u32(&m->epoch, epoch + 1);
	return true;
}

/* The lists are empty: take over a slot some thread keeps back.  Cold:
 * kept out of the inlined take. */
static __attribute__((noinline, cold)) bool steal_cached(struct shmslab *s, uint32_t *idx, uint32_t *gen)
{
	for_each_lane (s, e, lane) {
		/* relaxed: a hint; claim_cached's CAS on the state decides */
		uint32_t c = sa_load_relaxed_u32(&lane->cached);

		if (c != 0 && slot_check(s, c - 1) == 0 && claim_cached(s, c - 1, 0, gen)) {
			*idx = c - 1;
			return true;
		}
	}
	return false;
}

/*
 * Build the slots [FIRST, END) as fresh free slots, on no list yet: what a
 * creator does for its first slots and a grower for the ones it adds.
 */
void shmslab__slots_build(struct shmslab *s, uint32_t first, uint32_t end)
{
	for (uint32_t i = first; i < end; i++)
		/* relaxed: published by the release that makes them exist (READY, or
		 * the capacity a grower raises) */
		sa_store_relaxed_u64(&slot_meta(s, i)->state, st_make(KIND_FREE, 0, 1));
}

/* Push the chain [first, first + count) on a free list, this CPU's first.  -EAGAIN: all held. */
static int push_anywhere(struct shmslab *s, uint32_t first, uint32_t count)
{
	uint32_t home = current_shard(s);

	for (uint32_t i = 0; i < s->g.shards; i++)
		if (shmslab__freelist_push_range(s, (home + i) % s->g.shards, first, count) == 0)
			return 0;
	return -EAGAIN;
}

/*
 * Push what LANE names as pushed next: the slot of a free (LANE_FREE), or the
 * chain a growth built (LANE_GROW); then the lane goes idle.  -EAGAIN when
 * every list is held by a recoverer: the lane still names it, for the next
 * try.  0 when the lane names nothing to push.
 */
int shmslab__lane_push(struct shmslab *s, struct lane *lane)
{
	/* relaxed: our own lane, written by this thread only */
	uint64_t w = sa_load_relaxed_u64(&lane->window);
	uint32_t op = (uint32_t)(w >> 32), first = (uint32_t)w, p;
	int err;

	if (op == LANE_FREE) {
		err = push_anywhere(s, first, 1);
		KILLPOINT(free_pushed);
	} else if (op == LANE_GROW) {
		p = page_of(&s->g, first);
		err = push_anywhere(s, first, page_start(&s->g, p) + s->g.page_slots[p] - first);
		KILLPOINT(grow_pushed);
	} else {
		return 0;
	}
	if (err == 0)
		shmslab__lane_set(lane, LANE_IDLE, 0);
	return err;
}

/*
 * The slots [CAP, END) that a growth is about to build must never have been
 * built, or have been built by a grower that died before it published them
 * (growing says so, and nobody saw them).  Anything else means the capacity
 * word was lowered under slots in use, and building them again would hand
 * out slots that others hold: SHMSLAB_ECORRUPT.
 */
static int check_unbuilt(struct shmslab *s, uint32_t cap, uint32_t end)
{
	/* relaxed: written under the growth lock, which we hold */
	if (sa_load_relaxed_u32(&s->control->growing) == end)
		return 0;
	for (uint32_t i = cap; i < end; i++)
		/* relaxed: a slot in use was built before the capacity we doubt */
		if (sa_load_relaxed_u64(&slot_meta(s, i)->state) != 0)
			return SHMSLAB_ECORRUPT;
	return 0;
}

/*
 * The lists are empty and the segment is not at max_slots: add the rest of
 * the last page, or the next page, of slots.  One process grows at a time,
 * holding the growth lock (a byte lock, so a grower that dies lets go of
 * it); the others sleep in the kernel until it is done.  SEEN is the
 * capacity the caller saw before it found the lists empty.  The new slots
 * are named by LANE (LANE_GROW) until lane_push has put them on a list.
 * Answers 0 when the caller should look at the lists again, -EAGAIN as
 * lane_push, -ENOSPC at max_slots.  Cold: kept out of the inlined take.
 */
static __attribute__((noinline, cold)) int grow(struct shmslab *s, struct lane *lane, uint32_t seen)
{
	uint32_t cap, end, p;
	int err, cancel;

	if (seen >= s->g.max_slots)
		return -ENOSPC;
	shmslab__os_cancel_off(&cancel);
	pthread_mutex_lock(&s->grow_lock);
	err = shmslab__os_lock_byte_wait(s->lock_fd, lock_byte_grow(s->g.max_procs));
	if (err)
		goto out;
	KILLPOINT(grow_claimed);
	/* acquire: a capacity raised by another grower comes with its slots */
	cap = sa_load_acquire_u32(&s->control->capacity);
	if (cap == seen) { /* else another grew it meanwhile: just look again */
		p = page_of(&s->g, cap);
		end = page_start(&s->g, p) + s->g.page_slots[p];
		err = shmslab__os_reserve(s->fd, shmslab__capacity_bytes(&s->g, end));
		if (err == 0)
			err = shmslab__map_prepare(s, end);
		if (err == 0)
			err = check_unbuilt(s, cap, end);
		if (err == 0) {
			/* relaxed: the growth lock orders it for the next grower */
			sa_store_relaxed_u32(&s->control->growing, end);
			shmslab__slots_build(s, cap, end);
			KILLPOINT(grow_reserved);
			/* the slots are built but on no list until the push below */
			shmslab__lane_set(lane, LANE_GROW, cap);
			/* release: whoever reads the new capacity sees the slots built */
			sa_store_release_u32(&s->control->capacity, end);
			/* relaxed: as the store before building */
			sa_store_relaxed_u32(&s->control->growing, 0);
			KILLPOINT(grow_published);
			/* the new slots go on a list whatever this process can map */
			(void)shmslab__map_refresh(s, 0);
			err = shmslab__lane_push(s, lane);
		}
	}
	shmslab__os_unlock_byte(s->lock_fd, lock_byte_grow(s->g.max_procs));
out:
	pthread_mutex_unlock(&s->grow_lock);
	shmslab__os_cancel_restore(cancel);
	return err;
}

/*
 * Take a free slot for this process, with this thread's LANE: the one the
 * thread kept back, else the top of a free list (this CPU's first), else one
 * another thread kept back, else one of the slots that growing the segment
 * adds.  -ENOSPC when there is none and the segment is at max_slots; -EAGAIN
 * when a recoverer holds a list (wait, lane_push what the lane still names,
 * and take again).
 */
int shmslab__slot_take(struct shmslab *s, struct lane *lane, uint32_t *idx, uint32_t *gen)
{
	/* relaxed: our own lane */
	uint32_t kept = sa_load_relaxed_u32(&lane->cached);
	uint32_t first, seen;
	struct slot_meta *m;
	uint64_t st;
	int err;

	if (kept != 0) {
		/* relaxed: our own lane; the claim's CAS orders what matters */
		sa_store_relaxed_u32(&lane->cached, 0);
		/* it may have been taken over since; then it is simply gone */
		if (slot_check(s, kept - 1) == 0 && claim_cached(s, kept - 1, s->self + 1, gen)) {
			*idx = kept - 1;
			KILLPOINT(alloc_kept_claimed);
			return 0;
		}
	}
	first = current_shard(s);
	do {
		/* acquire: a capacity raised by a grower comes with its slots built */
		seen = sa_load_acquire_u32(&s->control->capacity);
		err = -ENOSPC;
		for (uint32_t i = 0; i < s->g.shards && err == -ENOSPC; i++)
			err = shmslab__freelist_pop(s, (first + i) % s->g.shards, lane, idx);
		if (err == -ENOSPC && steal_cached(s, idx, gen)) {
			KILLPOINT(alloc_stolen);
			return 0;
		}
	} while (err == -ENOSPC && (err = grow(s, lane, seen)) == 0);
	if (err)
		return err;
	m = slot_meta(s, *idx);
	/* relaxed: the pop's acquire ordered us after the freer's stores */
	st = sa_load_relaxed_u64(&m->state);
	*gen = gen_of_free(st);
	if (st_kind(st) != KIND_FREE)
		return SHMSLAB_ECORRUPT;
	/* release: the slot is ours before the lane stops naming it */
	sa_store_release_u64(&m->state, st_make(KIND_OWNED, s->self + 1, *gen));
	KILLPOINT(alloc_owned);
	shmslab__lane_set(lane, LANE_IDLE, 0);
	return 0;
}

/*
 * Put IDX, held exclusively (FREEING) and drained of readers, on a free list
 * in generation GEN, journalled in LANE: the lane names it from before its
 * state reads FREE until it is on a list.  A slot whose generations are used
 * up retires instead.  -EAGAIN as lane_push.
 */
int shmslab__slot_push(struct shmslab *s, struct lane *lane, uint32_t idx, uint32_t gen)
{
	struct slot_meta *m = slot_meta(s, idx);

	/* relaxed: published by the release store of the free state below */
	sa_store_relaxed_u32(&m->len, 0);
	/* relaxed: as len; a freer that died draining, or a writer taken away,
	 * may have left it set, and nobody drains a slot on its way to a list */
	sa_store_relaxed_u32(&m->drain, 0);
	if (!generation_turn(s, m, gen)) {
		/* release: as a free's; a retired slot names nobody, needs no lane */
		sa_store_release_u64(&m->state, st_make(KIND_RETIRED, 0, gen));
		return 0;
	}
	shmslab__lane_set(lane, LANE_FREE, idx);
	KILLPOINT(free_journaled);
	/* release: pairs with the acquire of whoever pops it */
	sa_store_release_u64(&m->state, st_make(KIND_FREE, 0, gen));
	KILLPOINT(free_marked);
	return shmslab__lane_push(s, lane);
}

/*
 * Give back IDX, which this process holds in the FREEING state with its
 * readers drained; GEN is the slot's next generation.  Kept back for this
 * thread's next alloc if it keeps none, else pushed on a free list (a slot
 * in generation 1 always is: see generation_turn).  -EAGAIN as slot_push.
 */
int shmslab__slot_give(struct shmslab *s, struct lane *lane, uint32_t idx, uint32_t gen)
{
	struct slot_meta *m = slot_meta(s, idx);

	/* relaxed: our own lane */
	if (sa_load_relaxed_u32(&lane->cached) != 0 || gen == 1)
		return shmslab__slot_push(s, lane, idx, gen);
	/* relaxed: both published by the release store of the CACHED state */
	sa_store_relaxed_u32(&m->len, 0);
	sa_store_relaxed_u32(&lane->cached, idx + 1);
	KILLPOINT(free_kept);
	/* release: whoever claims it sees the slot as we left it */
	sa_store_release_u64(&m->state, st_make(KIND_CACHED, s->self + 1, gen));
	return 0;
}

/*
 * This process detaches: release what it holds on every slot, from *FROM
 * on.  Its locks go (a write left unfinished tears its message), the slots it
 * kept back return to the free lists, and the slots it allocated stay
 * allocated with no owner, for whoever holds their references.  -EAGAIN as
 * slot_push, with *FROM the slot to go on from after lane_push.
 */
int shmslab__slots_leave(struct shmslab *s, struct lane *lane, uint32_t *from)
{
	/* acquire: the pages of every slot below it are mapped */
	uint32_t cap = sa_load_acquire_u32(&s->capacity_known);
	uint32_t id = s->self + 1;

	for (uint32_t i = *from; i < cap; i++) {
		struct slot_meta *m = slot_meta(s, i);
		/* acquire: as any look at a slot's holder */
		uint64_t st = sa_load_acquire_u64(&m->state), want;

		if (i == cap / 2)
			KILLPOINT(detach_partway);
		shmslab__slot_release_proc(s, i, s->self);
		for (;;) {
			if (st_owner(st) != id)
				break;
			if (st_kind(st) == KIND_OWNED)
				want = st & ~(uint64_t)ST_OWNER_MASK;
			else if (st_kind(st) == KIND_CACHED)
				want = st_make(KIND_FREEING, id, st_gen(st));
			else
				break;
			/* acq_rel: a stealer may take a kept slot at the same time */
			if (!sa_cas_acq_rel_u64(&m->state, &st, want))
				continue;
			if (st_kind(st) == KIND_CACHED &&
			    shmslab__slot_push(s, lane, i, st_gen(st)) == -EAGAIN) {
				*from = i + 1;
				return -EAGAIN;
			}
			break;
		}
	}
	for (uint32_t l = 0; l < LANES; l++)
		/* relaxed: the entry's release store on detaching publishes it */
		sa_store_relaxed_u32(&s->me->lanes[l].cached, 0);
	KILLPOINT(detach_released);
	return 0;
}
