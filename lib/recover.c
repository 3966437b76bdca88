/* SPDX-License-Identifier: MIT */
/*
 * Recovery: taking back what processes that died were holding, with no
 * daemon.  Any attached process (or one that finds the process table full)
 * may recover; the recovery lock, a byte lock the kernel drops when its
 * holder dies, lets one do it at a time.  The steps, each explained where it
 * is done and argued in lib/DESIGN.md:
 *
 *   1. mark the entries of dead processes DEAD;
 *   2. if a dead process died inside a free-list window (its lane names a
 *      slot, or it had a local list), or a recoverer died with the lists
 *      blocked: block every free list, walk them, and push back every FREE
 *      slot that is on no list and that no live process names in its lane,
 *      the local lists of live threads included (they give theirs up);
 *   3. take every lock a dead process holds, and give back every slot it
 *      owns, keeps or was freeing, as if the dead process freed them itself:
 *      under its entry, through its own lane, so that a recoverer dying here
 *      leaves only more of the same dead process's state;
 *   4. free the entries that nothing in the segment names any more.
 *
 * Nothing but step 2 stops other processes, and step 2 only for a walk of the
 * free lists.  A slot that a live process still reads is left for a later
 * recovery rather than waited for, so a recoverer never waits for its own
 * thread's read view.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Marks of step 2, per slot. */
enum {
	MARK_LISTED = 1, /* on a free list */
	MARK_LANE = 2,	 /* named by the lane of a live process */
	MARK_QUEUED = 4, /* in a cell of the queue */
	MARK_FREE = 8,	 /* FREE, on no list: lost, unless a live lane names it */
	MARK_LIMBO = 16, /* QUEUED, in no cell: lost, unless a live lane names it */
	MARK_POPPING = 32, /* named by a live lane as the top it pops */
};

struct recovery {
	uint64_t *dead;		     /* bit per process-table entry */
	uint32_t *pending;	     /* per entry: what could not be taken back yet */
	uint8_t *mark;		     /* per slot, step 2: MARK_* */
	uint64_t *seen;		     /* per slot, step 2: the state word a MARK_FREE slot had */
	uint32_t capacity;	     /* slots this recovery looks at */
	bool for_room;		     /* walk the lists if any thread holds a local list */
	struct shmslab_recovery got; /* what it took back */
};

static bool is_dead(const struct recovery *r, uint32_t entry)
{
	return (r->dead[entry / 64] >> (entry % 64)) & 1;
}

/* Step 1.  Answers whether any entry is DEAD now. */
static bool mark_dead(struct shmslab *s, struct recovery *r)
{
	bool any = false;

	for (uint32_t e = 0; e < s->g.max_procs; e++) {
		struct proc_entry *pe = shmslab__proc_entry(s, e);
		/* acquire: the entry's fields are complete before it reads LIVE */
		uint64_t word = sa_load_acquire_u64(&pe->state);
		uint32_t state = pe_state(word);

		if ((state == PROC_LIVE || (state & PROC_CLAIMING)) &&
		    !shmslab__proc_alive_as(s, e, word)) {
			/* a claimer owns nothing before it reads LIVE: its entry is just free */
			uint32_t next = state == PROC_LIVE ? PROC_DEAD : PROC_FREE;

			/* acq_rel: whatever the dead process stored, we see; the CAS fails
			 * if the entry was left and claimed again since we looked */
			if (!sa_cas_acq_rel_u64(&pe->state, &word, pe_with(word, next)))
				continue;
			if (next == PROC_FREE) {
				shmslab__proc_reset(s, e);
				r->got.procs++;
			}
			state = next;
		}
		if (state == PROC_DEAD) {
			r->dead[e / 64] |= UINT64_C(1) << (e % 64);
			any = true;
		}
	}
	KILLPOINT(recover_marked);
	return any;
}

/*
 * Whether step 2 is needed: a dead lane in a window or with a local list, a
 * list left blocked, a walk left unfinished or asked for, or, for an alloc
 * that found no room, a live thread's local list that no walk has taken yet.
 */
static bool limbo_possible(struct shmslab *s, const struct recovery *r)
{
	/* relaxed: under the recovery lock, which orders every change of it */
	uint32_t walks = sa_load_relaxed_u32(&s->control->limbo_walks);

	for (uint32_t k = 0; k < shmslab__lists(s); k++)
		if (shmslab__freelist_is_blocked(s, k))
			return true;
	/* odd: a walk began and never ended, so a take may have left its chain;
	 * relaxed walk_wanted: a hint set by a thread that gave up a list */
	if (shmslab__queue_is_blocked(s) || (walks & 1) ||
	    sa_load_relaxed_u32(&s->control->walk_wanted) != 0)
		return true;
	for_each_lane (s, e, lane) {
		/* acquire: a lane of a dead process is final; as every lane read */
		if (is_dead(r, e) && (sa_load_acquire_u64(&lane->window) >> 32 != LANE_IDLE ||
				      sa_load_acquire_u32(&lane->local) != 0))
			return true;
		/* relaxed: a hint; the walk decides, slot by slot, by CAS.  A list
		 * taken before the last walk is that walk's already */
		if (r->for_room && !is_dead(r, e) && sa_load_relaxed_u32(&lane->local) != 0 &&
		    sa_load_relaxed_u32(&lane->local_walks) == walks)
			return true;
	}
	return false;
}

/* Step 2: mark the slots that the lanes of live processes name. */
static void mark_live_lanes(struct shmslab *s, struct recovery *r)
{
	for_each_lane (s, e, lane) {
		uint32_t state = shmslab__proc_state(s, e);
		/* acquire: a lane that went idle comes with the slot's new state */
		uint64_t w = sa_load_acquire_u64(&lane->window);
		uint32_t op = (uint32_t)(w >> 32), slot = (uint32_t)w, end = slot + 1;

		/* a take's chain is on no list: the walk takes it back, and the
		 * taker finds it gone (see slots.c, local_pop) */
		if (is_dead(r, e) || state == PROC_FREE || state == PROC_DEAD ||
		    op == LANE_IDLE || op == LANE_TAKE || slot >= r->capacity)
			continue;
		if (op == LANE_GROW) {
			uint32_t p = page_of(&s->g, slot);

			end = page_start(&s->g, p) + s->g.page_slots[p];
		}
		for (uint32_t i = slot; i < end && i < r->capacity; i++)
			r->mark[i] |= op == LANE_POP ? MARK_LANE | MARK_POPPING : MARK_LANE;
	}
}

/* Step 2: mark every slot on the blocked lists.  SHMSLAB_ECORRUPT for a bad chain. */
static int mark_lists(struct shmslab *s, struct recovery *r)
{
	uint32_t nil = shmslab__freelist_nil(s);

	for (uint32_t k = 0; k < shmslab__lists(s); k++) {
		/* relaxed: written by the recoverer that blocked the list, ours or one that died, under the recovery lock */
		uint32_t x = sa_load_relaxed_u32(&shmslab__list_head(s, k)->saved_top);

		while (x != nil) {
			if (x >= r->capacity || (r->mark[x] & MARK_LISTED))
				return SHMSLAB_ECORRUPT; /* out of range, or a cycle */
			r->mark[x] |= MARK_LISTED;
			/* relaxed: the list is blocked: its links are still */
			x = sa_load_relaxed_u32(&slot_meta(s, x)->next);
		}
	}
	return 0;
}

/* Mark every slot the ring holds.  SHMSLAB_ECORRUPT for a cell out of range or twice. */
static int mark_queue(struct shmslab *s, struct recovery *r)
{
	for (uint32_t i = 0; i < s->g.queue_ring; i++) {
		uint32_t x = shmslab__queue_cell_slot(s, i);

		if (x == UINT32_MAX)
			continue;
		if (x >= r->capacity || (r->mark[x] & MARK_QUEUED))
			return SHMSLAB_ECORRUPT;
		r->mark[x] |= MARK_QUEUED;
	}
	return 0;
}

/* The dead entry whose lane names slot X in a queue window, or NO_ENTRY. */
static uint32_t dead_mover(struct shmslab *s, const struct recovery *r, uint32_t x)
{
	for_each_lane (s, e, lane) {
		/* acquire: as every lane read */
		uint64_t w = sa_load_acquire_u64(&lane->window);
		uint32_t op = (uint32_t)(w >> 32);

		if (is_dead(r, e) && (op == LANE_SEND || op == LANE_RECV) && (uint32_t)w == x)
			return e;
	}
	return NO_ENTRY;
}

/*
 * A QUEUED slot in no cell, named by a dead sender's or receiver's lane: the
 * send never finished, or the receiver died before it owned the slot.  It
 * becomes the dead process's to free, which step 3 finishes (it may still
 * have readers, whom step 2 must not wait for, or a live writer: a slot may
 * be sent while written, and its lock is not the sender's to drop).
 */
static void reclaim_queue_orphan(struct shmslab *s, struct recovery *r, uint32_t x)
{
	struct slot_meta *m = slot_meta(s, x);
	uint32_t e = dead_mover(s, r, x);
	/* acquire: as any look at a slot's holder */
	uint64_t st = sa_load_acquire_u64(&m->state);

	if (e == NO_ENTRY)
		return; /* not lost in a window of ours to decide: leave it */
	while (st_kind(st) == KIND_QUEUED) {
		/* seq_cst: closed to new readers, as in a free */
		if (sa_cas_seq_cst_u64(&m->state, &st,
				       (st & ST_LOCK_BITS) |
					       st_make(KIND_FREEING, e + 1, gen_next(st_gen(st)))))
			return;
	}
}

/*
 * Whether step 2 left the window of a dead lane (OP on SLOT) undecided: a
 * live lane named the slot too (a receiver whose CAS lost to the dead one's,
 * a popper with a stale look), or the ring could not be read.
 */
static bool undecided(const struct recovery *r, uint32_t op, uint32_t slot, bool ring_ok)
{
	uint8_t mark = slot < r->capacity ? r->mark[slot] : 0;

	switch (op) {
	case LANE_SEND:
	case LANE_RECV:
		return !ring_ok || ((mark & MARK_LANE) && (mark & MARK_LIMBO));
	case LANE_POP:
	case LANE_FREE:
		return (mark & MARK_LANE) && (mark & MARK_FREE);
	case LANE_PUBLISH:
		return true; /* publish/subscribe's part settles it, when it can (fanout.c) */
	default:
		return false;
	}
}

/*
 * Step 2, last: the dead lanes whose windows are decided go idle.  Those
 * left undecided keep naming their slot, and their entries stay DEAD, so
 * that a later recovery decides them.
 */
static void settle_dead_lanes(struct shmslab *s, struct recovery *r, bool ring_ok)
{
	for_each_lane (s, e, lane) {
		/* acquire: as every lane read */
		uint64_t w = sa_load_acquire_u64(&lane->window);

		if (!is_dead(r, e))
			continue;
		/* relaxed: a dead lane; its local list's slots were on no list,
		 * so the walk took them back */
		sa_store_relaxed_u32(&lane->local, 0);
		if (w >> 32 == LANE_IDLE)
			continue;
		if (undecided(r, (uint32_t)(w >> 32), (uint32_t)w, ring_ok))
			r->pending[e]++;
		else
			shmslab__lane_set(lane, LANE_IDLE, 0);
	}
}

/*
 * A walk of the lists begins: limbo_walks goes odd before the first list is
 * blocked, so that a take that reads it after its chain left a list knows
 * the walk may count that chain as lost (slots.c, local_take).
 */
static void walk_begin(struct shmslab *s)
{
	/* seq_cst: before the blocking CASes that follow, for every later look;
	 * odd already if a walk before ours never ended */
	(void)sa_fetch_or_seq_cst_u32(&s->control->limbo_walks, 1);
	/* seq_cst: our side of the handshake with fenced pops and attaches
	 * (walk_handshake): C11 lets later acquire loads pass the RMW alone */
	sa_fence_seq_cst();
	/* relaxed: a hint; whoever sets it after this sees its slots walked next time */
	sa_store_relaxed_u32(&s->control->walk_wanted, 0);
}

/*
 * Whether some live process pops its local lists unfenced (POPS_UNFENCED),
 * counting on a walker's membarrier().
 */
static bool unfenced_pops(struct shmslab *s)
{
	for (uint32_t e = 0; e < s->g.max_procs; e++) {
		struct proc_entry *pe = shmslab__proc_entry(s, e);
		/* acquire: the entry's fields are complete before it reads LIVE or
		 * CLAIMING; seq_cst would add nothing, walk_begin fences */
		uint32_t state = pe_state(sa_load_acquire_u64(&pe->state));

		/* relaxed: ordered by the acquire of the state */
		if ((state == PROC_LIVE || (state & PROC_CLAIMING)) &&
		    sa_load_relaxed_u32(&pe->pops) != POPS_FENCED)
			return true;
	}
	return false;
}

/*
 * After walk_begin: every thread popping a local list now either names its
 * slot in its lane where our reads of the lanes see it, or sees limbo_walks
 * move and gives its list up (slots.c, local_pop).  A fenced pop is one side
 * of that handshake, and walk_begin's fence the other; an unfenced pop needs
 * our membarrier() to run its fence.  -ENOSYS when it cannot be had while
 * some live process pops unfenced: a process that can walks instead, as
 * walk_wanted (set by the unblock) asks.  An unfenced process that attaches
 * from here on fences once it reads LIVE (procs.c), so either we see it
 * here, or it sees the odd count and takes no list until the walk is over.
 */
static int walk_handshake(struct shmslab *s)
{
	/* relaxed: our own flag, only ever set (procs.c) */
	if (!sa_load_relaxed_u32(&s->pops_fence)) {
		if (shmslab__os_barrier_global() == 0)
			return 0;
		/* our threads may have popped unfenced until now: a later walk */
		shmslab__procs_fence_pops(s);
		return -ENOSYS;
	}
	return unfenced_pops(s) ? -ENOSYS : 0;
}

/*
 * Give back every list and cell that a recoverer holds (ours, or one that
 * died); WALKED: after a walk of ours that finished.  limbo_walks moves on first if a walk began: whoever pops a slot the walk put back
 * on a list acquires its list head after this store, so a thread that then
 * reads that slot's state reads the new count too, and gives up a local
 * list taken before (slots.c, local_pop).
 */
static void unblock_all(struct shmslab *s, bool walked)
{
	/* relaxed load: under the recovery lock */
	uint32_t walks = sa_load_relaxed_u32(&s->control->limbo_walks);

	/* even: no walk, ours or a dead recoverer's, can have put a slot back,
	 * and local lists stay their threads'.  Odd after a walk that did not
	 * finish (WALKED false): the lists it may have put slots back on are
	 * given up, and what it did not put back waits for the next walk */
	if (walks & 1) {
		if (!walked)
			sa_store_relaxed_u32(&s->control->walk_wanted, 1); /* relaxed: a hint */
		/* release: ordered before the unblocking CASes, releases too */
		sa_store_release_u32(&s->control->limbo_walks, walks + 1);
	}
	shmslab__queue_unblock(s);
	for (uint32_t k = 0; k < shmslab__lists(s); k++)
		shmslab__freelist_unblock(s, k);
}

/*
 * Mark the FREE slot IDX, on no list and named by no live lane, RELISTED
 * before linking it on a list: a live thread that has it on its local list
 * then fails its CAS on the state, and whoever wins has the slot.  The CAS
 * is against ST, the word the look found FREE, so a slot popped and freed
 * again since (whose new free a lane read before the look did not name) is
 * not taken for the one we saw.  False when the word moved on.
 */
static bool relist(struct shmslab *s, uint32_t idx, uint64_t st)
{
	/* acq_rel: as local_pop's CAS, which it races */
	return sa_cas_acq_rel_u64(&slot_meta(s, idx)->state, &st, st | ST_RELISTED);
}

/*
 * Step 2.  With every list and every cell of the queue blocked, no slot can
 * join or leave a list or the queue.  A FREE slot on no list, or a QUEUED
 * slot in no cell, is then either in the window of a live process, which
 * names it in its lane, or lost by a dead one.  The lanes are read once
 * before the states, for pops and receives (the CAS that took the slot came
 * before our block, and its lane entry before the CAS), and once after, for
 * frees and sends (their lane entry came before the state we read).
 */
static int recover_limbo(struct shmslab *s, struct recovery *r)
{
	bool ring_ok;
	int err;

	/* a walk we cannot make safe is not begun: beginning it would make
	 * every thread give its local list up to a walk that never comes */
	/* relaxed: our own flag, only ever set (procs.c) */
	if (sa_load_relaxed_u32(&s->pops_fence) && unfenced_pops(s)) {
		/* what a recoverer that died left blocked goes back all the same */
		unblock_all(s, false);
		return -ENOSYS;
	}
	walk_begin(s);
	if ((err = walk_handshake(s)) != 0) {
		unblock_all(s, false);
		return err;
	}
	for (uint32_t k = 0; k < shmslab__lists(s); k++)
		shmslab__freelist_block(s, k);
	shmslab__queue_block(s);
	KILLPOINT(recover_blocked);
	memset(r->mark, 0, r->capacity);
	mark_live_lanes(s, r);
	err = mark_lists(s, r);
	/* a ring that cannot be read leaves every QUEUED slot where it is (its
	 * receivers report the bad cell), and the rest of recovery goes on */
	ring_ok = err == 0 && mark_queue(s, r) == 0;
	if (err == 0) {
		for (uint32_t i = 0; i < r->capacity; i++) {
			/* acquire: a state read after L1, for the free windows (see above) */
			uint64_t st = sa_load_acquire_u64(&slot_meta(s, i)->state);
			uint32_t kind = st_kind(st);

			if (kind == KIND_FREE && !(r->mark[i] & MARK_LISTED)) {
				r->mark[i] |= MARK_FREE;
				r->seen[i] = st;
			}
			else if (ring_ok && kind == KIND_QUEUED && !(r->mark[i] & MARK_QUEUED))
				r->mark[i] |= MARK_LIMBO;
		}
		mark_live_lanes(s, r);
		for (uint32_t i = 0; i < r->capacity; i++) {
			_Atomic uint32_t *top = &s->shards[i % s->g.shards].saved_top;

			if (r->mark[i] & MARK_LANE) {
				/* a FREE slot a live popper names may be one of a thread's
				 * local list (a stale look), which that thread gives up
				 * for the walk: a later walk tells (relaxed: a hint) */
				if ((r->mark[i] & MARK_FREE) && (r->mark[i] & MARK_POPPING))
					sa_store_relaxed_u32(&s->control->walk_wanted, 1);
				continue;
			}
			if (r->mark[i] & MARK_LIMBO)
				reclaim_queue_orphan(s, r, i);
			if (!(r->mark[i] & MARK_FREE) || !relist(s, i, r->seen[i]))
				continue;
			/* lost: the list is ours while blocked, so relaxed stores link it
			 * in, published by the unblocking CAS */
			sa_store_relaxed_u32(&slot_meta(s, i)->next, sa_load_relaxed_u32(top));
			sa_store_relaxed_u32(top, i); /* relaxed: as the link */
			KILLPOINT(recover_orphan);
			r->got.slots++;
		}
		settle_dead_lanes(s, r, ring_ok);
	}
	/* a bad chain goes back as it was: pops will report it, nothing is wedged */
	unblock_all(s, err == 0);
	return err;
}

/* Whether a process other than the dead ones reads SLOT. */
static bool live_readers(struct shmslab *s, const struct recovery *r, uint32_t idx)
{
	struct slot_meta *m = slot_meta(s, idx);

	for (uint32_t w = 0; w < s->g.reader_words; w++)
		/* seq_cst: pairs with a reader's bit-set then state look, as in a free */
		if (sa_load_seq_cst_u64(&m->readers[w]) & ~r->dead[w])
			return true;
	return false;
}

/*
 * A lane of dead entry E with no window open, to give its slots back
 * through; NULL if step 2 left every one naming a slot to decide later.
 */
static struct lane *idle_lane(struct shmslab *s, uint32_t e)
{
	struct proc_entry *pe = shmslab__proc_entry(s, e);

	for (uint32_t l = 0; l < LANES; l++)
		/* acquire: as every lane read */
		if (sa_load_acquire_u64(&pe->lanes[l].window) >> 32 == LANE_IDLE)
			return &pe->lanes[l];
	return NULL;
}

/* Step 3, first, for one slot: the locks dead processes hold on it. */
static void release_dead_locks(struct shmslab *s, struct recovery *r, uint32_t idx)
{
	struct slot_meta *m = slot_meta(s, idx);
	uint64_t st;

	for (uint32_t w = 0; w < s->g.reader_words; w++) {
		/* acquire: a dead reader's bit is final */
		uint64_t bits = sa_load_acquire_u64(&m->readers[w]) & r->dead[w];

		for (; bits != 0; bits &= bits - 1) {
			shmslab__slot_release_proc(s, idx,
						   w * 64 + (uint32_t)__builtin_ctzll(bits));
			r->got.locks++;
		}
	}
	/* acquire: as any look at a slot's holder */
	st = sa_load_acquire_u64(&m->state);
	if (st_writer(st) != 0 && st_writer(st) <= s->g.max_procs &&
	    is_dead(r, st_writer(st) - 1)) {
		shmslab__slot_release_proc(s, idx, st_writer(st) - 1);
		r->got.locks++;
	}
}

/* Step 3 for one slot: the slot, if a dead process owns it, keeps it or was freeing it. */
static void reclaim_slot(struct shmslab *s, struct recovery *r, uint32_t idx)
{
	struct slot_meta *m = slot_meta(s, idx);
	struct lane *lane;
	uint64_t st;

	for (;;) {
		uint32_t kind, owner, gen;
		uint64_t want;

		/* acquire: as any look at a slot's holder */
		st = sa_load_acquire_u64(&m->state);
		kind = st_kind(st);
		owner = st_owner(st);
		if (owner == 0 || owner > s->g.max_procs || !is_dead(r, owner - 1) ||
		    (kind != KIND_OWNED && kind != KIND_CACHED && kind != KIND_FREEING))
			return;
		if (st_writer(st) != 0 || live_readers(s, r, idx)) {
			r->pending[owner - 1]++; /* in use: for a later recovery */
			return;
		}
		/* a free by the dead process: the generation moves on, as in any free */
		gen = kind == KIND_OWNED ? gen_next(st_gen(st)) : st_gen(st);
		want = st_make(KIND_FREEING, owner, gen);
		/* seq_cst: closed to readers before we look for them, as in a free */
		if (st != want && !sa_cas_seq_cst_u64(&m->state, &st, want))
			continue; /* taken over meanwhile: look again */
		KILLPOINT(recover_reclaiming);
		lane = idle_lane(s, owner - 1);
		/* a reader got in first, or no lane to do it through: FREEING(dead) until later */
		if (live_readers(s, r, idx) || lane == NULL) {
			r->pending[owner - 1]++;
			return;
		}
		/* a list held even now, by us, is damage: the lane keeps naming the
		 * slot, for a recovery that can tell */
		if (shmslab__slot_push(s, lane, idx, gen) == -EAGAIN)
			r->pending[owner - 1]++;
		else
			r->got.slots++;
		return;
	}
}

/*
 * Recover, holding the recovery lock.  A recovery that cannot see every slot
 * (no memory, no address space for a page, a capacity word no segment can
 * have) decides nothing, but still gives back the lists and cells that a
 * recoverer that died left blocked: otherwise everyone would wait for them.
 */
static int recover_locked(struct shmslab *s, struct recovery *r)
{
	bool any_dead;
	int err = r->dead == NULL || r->pending == NULL ? -ENOMEM : shmslab__map_refresh(s, 0);

	if (err && err != -ERANGE) {
		unblock_all(s, false);
		return err;
	}
	err = 0; /* -ERANGE: recovery looks at the capacity already mapped */
	/* acquire: the pages of every slot below it are mapped */
	r->capacity = sa_load_acquire_u32(&s->capacity_known);
	any_dead = mark_dead(s, r);
	/* a recovery that died in the fan-out turn left it held: ours settles it */
	any_dead |= shmslab__fan_recovery_wanted(s);
	if (!any_dead && !limbo_possible(s, r))
		return 0; /* the common case, cheap: one look at each entry and list */
	/* first, so that the publish windows it settles are idle for step 2,
	 * and the slots it frees are the dead processes' for step 3 */
	if (any_dead)
		shmslab__fan_recover(s, r->dead, r->capacity, r->pending, &r->got.subscriptions);
	/* an alloc that found no room walks the lists to take local lists back
	 * (limbo_possible): what other threads hold there never makes it fail */
	if (limbo_possible(s, r)) {
		r->mark = malloc(r->capacity);
		r->seen = malloc((size_t)r->capacity * sizeof(*r->seen));
		if (r->mark == NULL || r->seen == NULL) {
			free(r->mark);
			free(r->seen);
			unblock_all(s, false);
			return -ENOMEM;
		}
		err = recover_limbo(s, r);
		free(r->mark);
		free(r->seen);
	}
	/* a dead process's locks and sleeper marks go whatever else is damaged:
	 * they wedge waiters, or make every send wake nobody */
	for (uint32_t i = 0; i < r->capacity; i++)
		release_dead_locks(s, r, i);
	shmslab__queue_release_sleepers(s, r->dead);
	/* its slots and entry wait for a recovery that can tell; a walk that
	 * only another process can make safe (-ENOSYS) is not an error of ours */
	if (err)
		return err == -ENOSYS ? 0 : err;
	for (uint32_t i = 0; i < r->capacity; i++)
		reclaim_slot(s, r, i);
	for (uint32_t e = 0; e < s->g.max_procs; e++) {
		struct proc_entry *pe = shmslab__proc_entry(s, e);

		if (!is_dead(r, e) || r->pending[e] != 0)
			continue;
		shmslab__proc_reset(s, e);
		/* release: the next holder of the entry sees it clean */
		sa_store_release_u64(&pe->state,
				     /* relaxed: our own read of the word we then store with release */
				     pe_with(sa_load_relaxed_u64(&pe->state), PROC_FREE));
		r->got.procs++;
	}
	return 0;
}

static int total(const struct shmslab_recovery *got)
{
	uint64_t n = got->slots + got->locks + got->procs + got->subscriptions;

	return n > INT32_MAX ? INT32_MAX : (int)n;
}

/*
 * Recover, holding the recovery lock; FOR_ROOM: for an alloc that found no
 * free slot anywhere else.  Answers how many things came back (slots,
 * locks, entries), or a negative error, and adds them to *WHAT.
 */
static int recover(struct shmslab *s, struct shmslab_recovery *what, bool for_room)
{
	struct recovery r;
	int n, cancel;

	memset(&r, 0, sizeof(r));
	r.for_room = for_room;
	/* without these, recover_locked still unblocks what it must */
	r.dead = calloc((s->g.max_procs + 63) / 64, sizeof(*r.dead));
	r.pending = calloc(s->g.max_procs, sizeof(*r.pending));
	shmslab__os_cancel_off(&cancel);
	pthread_mutex_lock(&s->recover_lock);
	n = shmslab__os_lock_byte_wait(s->lock_fd, lock_byte_recovery(s->g.max_procs));
	if (n == 0) {
		n = recover_locked(s, &r);
		shmslab__os_unlock_byte(s->lock_fd, lock_byte_recovery(s->g.max_procs));
	}
	pthread_mutex_unlock(&s->recover_lock);
	shmslab__os_cancel_restore(cancel);
	if (n == 0 && total(&r.got) > 0) {
		if (what != NULL) {
			what->slots += r.got.slots;
			what->locks += r.got.locks;
			what->procs += r.got.procs;
			what->subscriptions += r.got.subscriptions;
		}
		n = total(&r.got);
	}
	free(r.dead);
	free(r.pending);
	return n;
}

int shmslab__recover(struct shmslab *s, struct shmslab_recovery *what)
{
	return recover(s, what, false);
}

/* Recover for an alloc that found no free slot: local lists held by other threads come back too. */
int shmslab__recover_for_room(struct shmslab *s)
{
	return recover(s, NULL, true);
}

static bool any_blocked(const struct shmslab *s)
{
	for (uint32_t k = 0; k < shmslab__lists(s); k++)
		if (shmslab__freelist_is_blocked(s, k))
			return true;
	return shmslab__queue_is_blocked(s);
}

/*
 * A free list or the queue is blocked: wait, in the kernel, for the
 * recoverer holding it to finish, or to die; one still blocked after that
 * was left by a recoverer that died, and we finish its work.  Answers 0
 * when the caller should look again, or the error that keeps a list or cell
 * blocked (the recovery lock cannot be taken, or a recovery failed and
 * could not give them back either), which the caller then answers.
 */
int shmslab__recover_wait(struct shmslab *s)
{
	bool blocked = false;
	int err, cancel;

	shmslab__os_cancel_off(&cancel);
	pthread_mutex_lock(&s->recover_lock);
	err = shmslab__os_lock_byte_wait(s->lock_fd, lock_byte_recovery(s->g.max_procs));
	if (err == 0) {
		blocked = any_blocked(s);
		shmslab__os_unlock_byte(s->lock_fd, lock_byte_recovery(s->g.max_procs));
	}
	pthread_mutex_unlock(&s->recover_lock);
	shmslab__os_cancel_restore(cancel);
	if (err == 0 && blocked) {
		err = shmslab__recover(s, NULL);
		err = err < 0 && any_blocked(s) ? err : 0;
	}
	return err;
}

/*
 * LANE names a slot or chain still to be pushed, held back by a list a
 * recoverer holds: wait for the recoverer, and push it.  The error that
 * keeps every list blocked, if any.
 */
int shmslab__push_after_recovery(struct shmslab *s, struct lane *lane)
{
	int err;

	do
		err = shmslab__recover_wait(s);
	while (err == 0 && (err = shmslab__lane_push(s, lane)) == -EAGAIN);
	return err;
}

/* How many things a recovery took back, as shmslab_recover answers it. */
int shmslab__recovery_count(const struct shmslab_recovery *got)
{
	return total(got);
}

/* The lock waits of internal.h, once a holder was found dead: recover and wait again. */
int shmslab__lock_read_slow(struct shmslab *s, uint32_t idx, uint64_t want)
{
	int err;

	do
		if ((err = shmslab__recover(s, NULL)) < 0)
			return err;
	while ((err = shmslab__slot_read_lock(s, idx, want)) == SLOT_HOLDER_DEAD);
	return err;
}

int shmslab__lock_close_slow(struct shmslab *s, uint32_t idx, uint64_t want,
			     enum slot_close how, uint32_t *next_gen)
{
	int err;

	do
		if ((err = shmslab__recover(s, NULL)) < 0)
			return err;
	while ((err = shmslab__slot_close(s, idx, want, how, next_gen)) == SLOT_HOLDER_DEAD);
	return err;
}

/* A drain cannot back out: it waits, a slice at a time, whatever a recovery answers. */
void shmslab__lock_drain_slow(struct shmslab *s, uint32_t idx)
{
	do
		(void)shmslab__recover(s, NULL);
	while (shmslab__slot_drain_readers(s, idx) == SLOT_HOLDER_DEAD);
}
