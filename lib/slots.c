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
 * Seed 002's free-list sharding on top: a slot remembers its home, the
 * process that allocated it, and a free by any other live process pushes it
 * on the home's remote list with one CAS.  A thread whose kept slot and
 * local list are gone takes its process's remote list whole, with one CAS,
 * as its local list, which it then pops alone (lib/DESIGN.md, "Local and
 * remote lists").  So a consumer's frees go home to the producer, a batch at
 * a time, and the shards are the pool for what has no home.
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

/*
 * The entry + 1 whose remote list a free of M goes to: the process that
 * allocated it, if that is another that lives; else 0, for a shard.  The
 * home comes from shared memory, so it is checked like any index.
 */
static uint32_t remote_home(struct shmslab *s, struct slot_meta *m)
{
	/* relaxed: written by the allocator before the release that handed the
	 * slot on, which the free's CAS on the state acquired */
	uint32_t home = sa_load_relaxed_u32(&m->home);

	if (home == s->self + 1 || home == 0 || home > s->g.max_procs ||
	    shmslab__proc_state(s, home - 1) != PROC_LIVE)
		return 0;
	return home;
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
	uint32_t max = s->g.epoch_mask, epoch;

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

/*
 * Give up LANE's local list: a walk has taken it back, or (DAMAGED) it ends
 * in damage, and the next walk is asked to put back what it held.
 */
static void local_drop(struct shmslab *s, struct lane *lane, bool damaged)
{
	/* relaxed: our own lane, and a hint for the next recovery */
	sa_store_relaxed_u32(&lane->local, 0);
	if (damaged)
		sa_store_relaxed_u32(&s->control->walk_wanted, 1);
}

/*
 * Take the head of LANE's local list, with no read-modify-write: only this
 * thread pops it, and the one party that may take its slots meanwhile, a
 * recovery walking the lists (which takes back every FREE slot on no list
 * and in no live lane's window), is kept off the slot by naming it in the
 * lane first.  The store that names it and the look at limbo_walks after it
 * are kept in order by a fence, our own or the one a walker's membarrier()
 * runs on this thread, so that either the walk sees the slot named or we see
 * that a walk began and give the list up: its slots may be on the lists
 * again (lib/DESIGN.md, "Local and remote lists").  -ENOSPC when there is no
 * local list (any more); SHMSLAB_ECORRUPT when it holds a slot no recovery
 * can have moved.
 */
static int local_pop(struct shmslab *s, struct lane *lane, uint32_t *idx, uint32_t *gen)
{
	/* relaxed: our own lane */
	uint32_t head = sa_load_relaxed_u32(&lane->local), x = head - 1, next;
	struct slot_meta *m;
	uint64_t st;
	int err;

	if (head == 0)
		return -ENOSPC;
	/* a head out of the segment is damage to our own lane: the list is lost
	 * to us, and the next walk of the lists takes its slots back; a page we
	 * cannot map yet leaves the list as it is, for the next alloc */
	if ((err = slot_check(s, x)) != 0) {
		if (err != -ERANGE)
			return err;
		local_drop(s, lane, true);
		return -ENOSPC;
	}
	m = slot_meta(s, x);
	/* relaxed: the fence below orders it before the look at limbo_walks */
	sa_store_relaxed_u64(&lane->window, ((uint64_t)LANE_POP << 32) | x);
	/* relaxed: our process's own flag; a pop that misses its change is
	 * over before a walk counts on it (procs.c, shmslab__procs_fence_pops) */
	if (sa_load_relaxed_u32(&s->pops_fence))
		sa_fence_seq_cst(); /* seq_cst: no walker's membarrier() does it for us */
	else
		sa_fence_compiler(); /* compiler: a walker's membarrier() is the fence */
	KILLPOINT(alloc_local_named);
	/* acquire: a state stored after a recovery gave the lists back comes
	 * with that recovery's limbo_walks, read next */
	st = sa_load_acquire_u64(&m->state);
	/* acquire: as the state; relaxed local_walks: our own lane */
	if (sa_load_acquire_u32(&s->control->limbo_walks) != sa_load_relaxed_u32(&lane->local_walks) ||
	    (st_low(st) & ST_RELISTED)) {
		err = -ENOSPC;
		goto drop;
	}
	if (st_kind(st) != KIND_FREE) {
		local_drop(s, lane, true); /* no walk moved it, yet it is not free */
		err = SHMSLAB_ECORRUPT;
		goto idle;
	}
	*gen = gen_of_free(st);
	/* release: the lane stops naming the slot only after this, below */
	sa_store_release_u64(&m->state, st_make(KIND_OWNED, s->self + 1, *gen));
	KILLPOINT(alloc_local_popped);
	/* relaxed: ours now; published by the release that hands the slot on */
	sa_store_relaxed_u32(&m->home, s->self + 1);
	/* relaxed: the take's acquire ordered the pushers' links before us */
	next = sa_load_relaxed_u32(&m->next);
	/* a link out of the segment ends the list: the slot we have is good */
	if (next == shmslab__freelist_nil(s))
		local_drop(s, lane, false);
	else if (next >= s->g.max_slots)
		local_drop(s, lane, true);
	else
		/* relaxed: our own lane */
		sa_store_relaxed_u32(&lane->local, next + 1);
	*idx = x;
	shmslab__lane_set(lane, LANE_IDLE, 0);
	return 0;
drop:
	local_drop(s, lane, false);
idle:
	shmslab__lane_set(lane, LANE_IDLE, 0);
	return err;
}

/*
 * Take LIST whole as LANE's local list, which is empty, noting the walks of
 * the lists so far: a walk that comes later takes the chain back (see
 * local_pop).  0, or -ENOSPC (nothing taken), or an error of the take.
 */
static int local_take(struct shmslab *s, struct lane *lane, uint32_t list)
{
	/* acquire: before the take, as the read after it */
	uint32_t top, walks = sa_load_acquire_u32(&s->control->limbo_walks);
	int err;

	/* odd: a walk is under way (or died), and a list taken now could carry
	 * that odd count past the walk's relisting of its slots */
	if (walks & 1)
		return -ENOSPC;
	err = shmslab__freelist_take(s, list, lane, &top);
	if (err)
		return err;
	/* acquire: ordered after the take's CAS.  The same count before and
	 * after: a walk that puts the chain back blocks this list after our
	 * take and moves the count on after that, which local_pop sees.  A
	 * count that moved meanwhile: a walk began or ended around our take,
	 * which may or may not have seen the chain on no list; it is given up,
	 * and the next recovery walks the lists to put back what it holds */
	if (sa_load_acquire_u32(&s->control->limbo_walks) != walks) {
		sa_store_relaxed_u32(&s->control->walk_wanted, 1); /* relaxed: a hint */
		shmslab__lane_set(lane, LANE_IDLE, 0);
		return -ENOSPC;
	}
	/* relaxed: our own lane; the list is named before the lane goes idle */
	sa_store_relaxed_u32(&lane->local_walks, walks);
	sa_store_relaxed_u32(&lane->local, top + 1);
	shmslab__lane_set(lane, LANE_IDLE, 0);
	return 0;
}

/* Every list that could be had is empty: take another process's remote list.  Cold. */
static __attribute__((noinline, cold)) int steal_remote(struct shmslab *s, struct lane *lane,
							 uint32_t *idx, uint32_t *gen)
{
	for (uint32_t e = 0; e < s->g.max_procs; e++)
		if (e != s->self && local_take(s, lane, shmslab__remote_list(s, e)) == 0)
			return local_pop(s, lane, idx, gen);
	return -ENOSPC;
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

/* Push the freed slot IDX on the remote list of HOME (entry + 1), or on a shard for 0. */
static int push_freed(struct shmslab *s, uint32_t idx, uint32_t home)
{
	/* home first; a remote list held by a recoverer leaves the shards */
	int err = home != 0 ? shmslab__freelist_push(s, shmslab__remote_list(s, home - 1), idx)
			    : -EAGAIN;

	if (err != 0)
		err = push_anywhere(s, idx, 1);
	KILLPOINT(free_pushed);
	return err;
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
		err = push_freed(s, first, remote_home(s, slot_meta(s, first)));
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
 * thread kept back, else the head of its local list, else the head of its
 * process's remote list taken whole, else the top of a shard (this CPU's
 * first), else one another thread kept back, else another process's remote
 * list, else one of the slots that growing the segment adds.  -ENOSPC when
 * there is none and the segment is at max_slots; -EAGAIN when a recoverer
 * holds a list (wait, lane_push what the lane still names, and take again).
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
	err = local_pop(s, lane, idx, gen);
	/* a remote list that cannot be taken now leaves the shards; relaxed: a
	 * look, for the allocs that find it empty, at one load; the take decides */
	if (err == -ENOSPC &&
	    (uint32_t)(sa_load_relaxed_u64(&s->me->remote.head) & s->g.idx_mask) !=
		    shmslab__freelist_nil(s) &&
	    local_take(s, lane, shmslab__remote_list(s, s->self)) == 0)
		err = local_pop(s, lane, idx, gen);
	/* a page of the local list we cannot map yet leaves the shards */
	if (err == 0 || err == SHMSLAB_ECORRUPT)
		return err;
	first = current_shard(s);
	do {
		/* acquire: a capacity raised by a grower comes with its slots built */
		seen = sa_load_acquire_u32(&s->control->capacity);
		err = -ENOSPC;
		for (uint32_t i = 0; i < s->g.shards && err == -ENOSPC; i++)
			err = shmslab__freelist_pop(s, (first + i) % s->g.shards, lane, idx);
		if (err == -ENOSPC && steal_cached(s, idx, gen)) {
			/* relaxed: ours now; published by the release that hands it on */
			sa_store_relaxed_u32(&slot_meta(s, *idx)->home, s->self + 1);
			KILLPOINT(alloc_stolen);
			return 0;
		}
		if (err == -ENOSPC && (err = steal_remote(s, lane, idx, gen)) != -ENOSPC)
			return err;
	} while (err == -ENOSPC && (err = grow(s, lane, seen)) == 0);
	if (err)
		return err;
	m = slot_meta(s, *idx);
	/* relaxed: the pop's acquire ordered us after the freer's stores */
	st = sa_load_relaxed_u64(&m->state);
	*gen = gen_of_free(st);
	if (st_kind(st) != KIND_FREE)
		return SHMSLAB_ECORRUPT;
	/* relaxed: published by the release store of the owned state */
	sa_store_relaxed_u32(&m->home, s->self + 1);
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
	int err;

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
	/* as lane_push, with the slot's metadata at hand */
	err = push_freed(s, idx, remote_home(s, m));
	if (err == 0)
		shmslab__lane_set(lane, LANE_IDLE, 0);
	return err;
}

/*
 * Give back IDX, which this process holds in the FREEING state with its
 * readers drained; GEN is the slot's next generation.  Kept back for this
 * thread's next alloc if it keeps none, else pushed on its home's remote
 * list if another live process allocated it, else on a shard (a slot in
 * generation 1 always is pushed: see generation_turn).  -EAGAIN as
 * slot_push.
 */
int shmslab__slot_give(struct shmslab *s, struct lane *lane, uint32_t idx, uint32_t gen)
{
	struct slot_meta *m = slot_meta(s, idx);

	/* relaxed: our own lane.  A slot with a home elsewhere is kept all the
	 * same when we keep none: a process that answers each message with
	 * one of its own then reuses what it received, with no list at all */
	if (sa_load_relaxed_u32(&lane->cached) != 0 || gen == 1)
		return shmslab__slot_push(s, lane, idx, gen);
	/* relaxed: all published by the release store of the CACHED state */
	sa_store_relaxed_u32(&m->len, 0);
	sa_store_relaxed_u32(&m->home, s->self + 1);
	sa_store_relaxed_u32(&lane->cached, idx + 1);
	KILLPOINT(free_kept);
	/* release: whoever claims it sees the slot as we left it */
	sa_store_release_u64(&m->state, st_make(KIND_CACHED, s->self + 1, gen));
	return 0;
}

/*
 * This process detaches: release what it holds on every slot, from *FROM
 * on.  Its locks go (a write left unfinished tears its message), the slots it
 * kept back or has on local lists return to the free lists, and the slots it
 * allocated stay allocated with no owner, for whoever holds their
 * references.  -EAGAIN as slot_push, with *FROM the slot to go on from after
 * lane_push.
 */
int shmslab__slots_leave(struct shmslab *s, struct lane *lane, uint32_t *from)
{
	/* acquire: the pages of every slot below it are mapped */
	uint32_t cap = sa_load_acquire_u32(&s->capacity_known);
	uint32_t id = s->self + 1, idx, gen;

	/* each slot of a local list is taken as an alloc would, and pushed as a
	 * free does, so that a death here is one of theirs */
	for (uint32_t l = 0; l < LANES; l++) {
		while (local_pop(s, &s->me->lanes[l], &idx, &gen) == 0) {
			/* release: as a free's close; no reference to it was handed out */
			sa_store_release_u64(&slot_meta(s, idx)->state, st_make(KIND_FREEING, id, gen));
			if (shmslab__slot_push(s, lane, idx, gen) == -EAGAIN)
				return -EAGAIN;
		}
		/* relaxed: ours; a list that could not be drained (a page we
		 * cannot map) is left to the next walk */
		if (sa_load_relaxed_u32(&s->me->lanes[l].local) != 0)
			local_drop(s, &s->me->lanes[l], true);
	}

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
