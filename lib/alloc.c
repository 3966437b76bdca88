/* SPDX-License-Identifier: MIT */
/*
 * shmslab_alloc and shmslab_free: moving slots between their owners and the
 * free lists.  Each thread keeps at
 * most one freed slot back for its own next alloc, so that a thread that
 * frees and allocates in turn touches no shared list at all.  A kept slot is
 * marked CACHED with its process in the state word, which keeps it exact for
 * recovery and lets anyone take it over by CAS when the lists run dry, so a
 * kept slot is never lost to an alloc that needs it.
 *
 * Whenever a slot is off every list and its state word does not name a
 * process that holds it, the moving thread's lane names it (LANE_POP,
 * LANE_FREE), so that recovery can tell a slot caught in between from a
 * slot that is lost.
 */
#include "config.h"

#include <errno.h>

#include "internal.h"

#define GROW_WAIT_MS 100 /* a waiter looks again this often while another process grows */

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
	sa_store_relaxed_u32(&m->epoch, epoch + 1);
	return true;
}

/* The lists are empty: take over a slot some thread keeps back. */
static bool steal_cached(struct shmslab *s, uint32_t *idx, uint32_t *gen)
{
	const struct proc_entry *table = (const struct proc_entry *)(s->ctl + s->g.procs_off);

	for (uint32_t e = 0; e < s->g.max_procs; e++) {
		for (uint32_t l = 0; l < LANES; l++) {
			uint32_t c = sa_load_relaxed_u32(&table[e].lanes[l].cached);

			if (c == 0 || slot_check(s, c - 1) != 0)
				continue;
			if (claim_cached(s, c - 1, 0, gen)) {
				*idx = c - 1;
				return true;
			}
		}
	}
	return false;
}

/*
 * Push the chain [first, first + count) on a free list, this CPU's first;
 * when every list is held by a recoverer, wait for it and try again.  The
 * error that keeps every list blocked, if any: the chain is then on no list
 * and named by no lane, which the recovery that unblocks them finds.
 */
static int push_or_wait(struct shmslab *s, uint32_t first, uint32_t count)
{
	uint32_t home = current_shard(s);
	int err;

	do
		for (uint32_t i = 0; i < s->g.shards; i++)
			if (shmslab__freelist_push_range(s, (home + i) % s->g.shards, first,
							 count) == 0)
				return 0;
	while ((err = shmslab__recover_wait(s)) == 0);
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
 * the last page, or the next page, of slots and push them on this CPU's
 * list.  One process grows at a time, holding the growth lock (a byte lock,
 * so a grower that dies lets go of it); the others sleep in the kernel until
 * it is done.  SEEN is the capacity the caller saw before it found the lists
 * empty.  Answers 0 when the caller should look at the lists again.
 */
static int grow(struct shmslab *s, struct lane *lane, uint32_t seen)
{
	uint32_t cap, end, p;
	int err, cancel, refreshed;

	if (seen >= s->g.max_slots)
		return -ENOSPC;
	shmslab__os_cancel_off(&cancel);
	pthread_mutex_lock(&s->grow_lock);
	err = shmslab__os_lock_byte_wait(s->lock_fd, lock_byte_grow(&s->g));
	if (err)
		goto out;
	KILLPOINT(grow_claimed);
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
			for (uint32_t i = cap; i < end; i++)
				sa_store_relaxed_u64(&slot_meta(s, i)->state,
						     st_make(KIND_FREE, 0, 1));
			KILLPOINT(grow_reserved);
			/* the slots are built but on no list until the push below */
			shmslab__lane_set(lane, LANE_GROW, cap);
			/* release: whoever reads the new capacity sees the slots built */
			sa_store_release_u32(&s->control->capacity, end);
			sa_store_relaxed_u32(&s->control->growing, 0);
			KILLPOINT(grow_published);
			/* the new slots go on a list whatever this process can map */
			refreshed = shmslab__map_refresh(s, 0);
			err = push_or_wait(s, cap, end - cap);
			if (err == 0)
				err = refreshed;
			shmslab__lane_set(lane, LANE_IDLE, 0);
			KILLPOINT(grow_pushed);
		}
	}
	shmslab__os_unlock_byte(s->lock_fd, lock_byte_grow(&s->g));
out:
	pthread_mutex_unlock(&s->grow_lock);
	shmslab__os_cancel_restore(cancel);
	return err;
}

/*
 * Take a free slot for this process: the one this thread kept back, else the
 * top of a free list (this CPU's first), else one another thread kept back,
 * else one of the slots that growing the segment adds.  -ENOSPC when there is
 * none and the segment is at max_slots.
 */
static int slot_take(struct shmslab *s, uint32_t *idx, uint32_t *gen)
{
	struct lane *lane = shmslab__lane_enter(s);
	uint32_t kept = sa_load_relaxed_u32(&lane->cached);
	uint32_t first, seen;
	bool recovered = false;
	int err;

	if (kept != 0) {
		sa_store_relaxed_u32(&lane->cached, 0);
		/* it may have been taken over since; then it is simply gone */
		if (slot_check(s, kept - 1) == 0 && claim_cached(s, kept - 1, s->self + 1, gen)) {
			*idx = kept - 1;
			KILLPOINT(alloc_kept_claimed);
			shmslab__lane_leave(s, lane);
			return 0;
		}
	}
	first = current_shard(s);
	for (;;) {
		/* acquire: a capacity raised by a grower comes with its slots built */
		seen = sa_load_acquire_u32(&s->control->capacity);
		err = -ENOSPC;
		for (uint32_t i = 0; i < s->g.shards && err == -ENOSPC; i++)
			err = shmslab__freelist_pop(s, (first + i) % s->g.shards, lane, idx);
		if (err == -EAGAIN) {
			err = shmslab__recover_wait(s);
			if (err)
				break;
			continue;
		}
		if (err != -ENOSPC)
			break;
		if (steal_cached(s, idx, gen)) {
			KILLPOINT(alloc_stolen);
			err = 0;
			goto out;
		}
		err = grow(s, lane, seen);
		if (err == 0)
			continue;
		if (err != -ENOSPC || recovered)
			goto out;
		/* no slot, no room: what dead processes hold comes back first; our
		 * lane must not name a slot we only looked at, or it stays lost */
		shmslab__lane_set(lane, LANE_IDLE, 0);
		if (shmslab__recover(s, NULL) <= 0)
			goto out;
		recovered = true;
	}
	if (err == 0) {
		struct slot_meta *m = slot_meta(s, *idx);
		/* relaxed: the pop's acquire ordered us after the freer's stores */
		uint64_t st = sa_load_relaxed_u64(&m->state);

		*gen = gen_of_free(st);
		if (st_kind(st) != KIND_FREE)
			err = SHMSLAB_ECORRUPT;
		else
			/* release: the slot is ours before the lane stops naming it */
			sa_store_release_u64(&m->state, st_make(KIND_OWNED, s->self + 1, *gen));
		KILLPOINT(alloc_owned);
	}
out:
	/* a failed pop may have left the lane naming a slot that was never ours */
	shmslab__lane_set(lane, LANE_IDLE, 0);
	shmslab__lane_leave(s, lane);
	return err;
}

/*
 * Put IDX, held exclusively (FREEING) and drained of readers, on a free list,
 * journalled in LANE: the lane names it from before its state reads FREE
 * until it is on the list.
 */
void shmslab__slot_push(struct shmslab *s, struct lane *lane, uint32_t idx, uint32_t gen)
{
	struct slot_meta *m = slot_meta(s, idx);

	sa_store_relaxed_u32(&m->len, 0);
	/* relaxed: a freer that died draining, or a writer taken away, may have
	 * left it set; nobody drains a slot on its way to a list */
	sa_store_relaxed_u32(&m->drain, 0);
	if (!generation_turn(s, m, gen)) {
		/* release: as a free's; a retired slot names nobody, needs no lane */
		sa_store_release_u64(&m->state, st_make(KIND_RETIRED, 0, gen));
		return;
	}
	shmslab__lane_set(lane, LANE_FREE, idx);
	KILLPOINT(free_journaled);
	/* release: pairs with the acquire of whoever pops it */
	sa_store_release_u64(&m->state, st_make(KIND_FREE, 0, gen));
	KILLPOINT(free_marked);
	/* a slot that cannot reach a list is found by the recovery that unblocks it */
	(void)push_or_wait(s, idx, 1);
	KILLPOINT(free_pushed);
	shmslab__lane_set(lane, LANE_IDLE, 0);
}

/*
 * Give back IDX, which this process holds in the FREEING state with its
 * readers drained; GEN is the slot's next generation.  Kept back for this
 * thread's next alloc if it keeps none, else pushed on a free list.
 */
static void slot_give(struct shmslab *s, uint32_t idx, uint32_t gen)
{
	struct lane *lane = shmslab__lane_enter(s);
	struct slot_meta *m = slot_meta(s, idx);

	if (sa_load_relaxed_u32(&lane->cached) == 0 && gen != 1) {
		sa_store_relaxed_u32(&m->len, 0);
		sa_store_relaxed_u32(&lane->cached, idx + 1);
		KILLPOINT(free_kept);
		/* release: whoever claims it sees the slot as we left it */
		sa_store_release_u64(&m->state, st_make(KIND_CACHED, s->self + 1, gen));
	} else {
		shmslab__slot_push(s, lane, idx, gen);
	}
	shmslab__lane_leave(s, lane);
}

static int alloc_call(struct shmslab *slab, shmslab_ref *ref)
{
	uint32_t idx, gen;
	int err;

	if (ref == NULL)
		return -EINVAL;
	err = slot_take(slab, &idx, &gen);
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
	uint32_t idx, next_gen = gen_next(ref_gen(ref));
	struct slot_meta *m;
	uint64_t st, want;
	int err = ref_check(slab, ref);

	if (err)
		return err;
	idx = ref_index(slab, ref);
	want = ref_want(slab, ref);
	m = slot_meta(slab, idx);
	st = sa_load_acquire_u64(&m->state);
	for (;;) {
		bool ours = st_gen_is(slab, m, st, want);

		if (st_kind(st) == KIND_QUEUED && ours)
			return -EBUSY;
		if (st_kind(st) != KIND_OWNED || !ours)
			return -ESTALE;
		if (st_writer(st) != 0) {
			err = shmslab__slot_wait_writer(slab, idx, st);
			if (err)
				return err;
			st = sa_load_acquire_u64(&m->state);
			continue;
		}
		/* seq_cst: the slot is closed to new readers before we look for old ones */
		if (sa_cas_seq_cst_u64(&m->state, &st,
				       st_make(KIND_FREEING, slab->self + 1, next_gen)))
			break;
	}
	KILLPOINT(free_freeing);
	shmslab__slot_drain_readers(slab, idx);
	KILLPOINT(free_drained);
	slot_give(slab, idx, next_gen);
	return 0;
}

int shmslab_free(struct shmslab *slab, shmslab_ref ref)
{
	return CALL(slab, true, free_call(slab, ref));
}

/*
 * This process detaches: release what it holds on every slot.  Its locks go
 * (a write left unfinished tears its message), the slots it kept back return
 * to the free lists, and the slots it allocated stay allocated with no owner,
 * for whoever holds their references.
 */
void shmslab__slots_leave(struct shmslab *s)
{
	uint32_t cap = sa_load_acquire_u32(&s->capacity_known);
	uint32_t id = s->self + 1;
	struct lane *lane = shmslab__lane_enter(s);

	for (uint32_t i = 0; i < cap; i++) {
		struct slot_meta *m = slot_meta(s, i);
		uint64_t st;

		if (i == cap / 2)
			KILLPOINT(detach_partway);
		shmslab__slot_release_proc(s, i, s->self);
		st = sa_load_acquire_u64(&m->state);
		for (;;) {
			uint64_t want;

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
			if (st_kind(st) == KIND_CACHED)
				shmslab__slot_push(s, lane, i, st_gen(st));
			break;
		}
	}
	for (uint32_t l = 0; l < LANES; l++)
		sa_store_relaxed_u32(&s->me->lanes[l].cached, 0);
	shmslab__lane_leave(s, lane);
	KILLPOINT(detach_released);
}
