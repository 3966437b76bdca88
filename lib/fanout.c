/* SPDX-License-Identifier: MIT */
/*
 * The fan-out ring of publish/subscribe, below the calls of pubsub.c and
 * below recovery: the turns that publishers and joining or leaving
 * subscriptions take, a subscription's take of its next message, the wake
 * of sleeping subscribers, the walk that lets go of a subscription's bits,
 * and recovery's part.  The layout and the turn are in format.h; why it is
 * crash-safe is in lib/DESIGN.md, "Publish/subscribe".
 *
 * A message is one slot, PUBLISHED, whose subs word holds a bit for every
 * subscription that was a member at its ticket and has not let go of it.
 * Members are read and tickets taken in one turn, so that set is exact; a
 * subscription receives tickets from its start on, in ticket order, so all
 * receive the same messages in the same order.  A publisher writes the
 * slot, one cell and the ticket, whatever the number of subscriptions; it
 * reads the members' cursors only when the floor it keeps says one of them
 * may be full.
 */
#include "config.h"

#include <errno.h>

#include "internal.h"

#define TURN_PATIENCE 64 /* backoff rounds between looks at whether a turn's holder lives */
#define RECOVER_TURN_ROUNDS 4096 /* rounds a recovery waits for a live turn before it leaves */

static uint64_t fan_lap(const struct shmslab *s, uint64_t t)
{
	return (t >> s->g.fan_shift) & CELL_LAP_MASK;
}

static _Atomic uint64_t *fan_cell(const struct shmslab *s, uint64_t t)
{
	return &s->fan_cells[t & (s->g.fan_ring - 1)];
}

/* The word of a cell that publishes slot IDX at ticket T. */
static uint64_t fan_cell_word(const struct shmslab *s, uint64_t t, uint32_t idx)
{
	return (fan_lap(s, t) << 32) | (idx + 1);
}

/* The holder of the turn while a recovery has it: whoever holds the recovery lock. */
static uint32_t recovery_holder(const struct shmslab *s)
{
	return s->g.max_procs + 1;
}

/*
 * Whether HOLDER, seen holding the turn, is gone: FAN_HOLDER_DEAD when it
 * died (or is a recovery, which a recovery of ours waits for, and finishes
 * if it died), SHMSLAB_ECORRUPT when it names an entry nobody holds, 0 while
 * it lives.
 */
static int holder_gone(struct shmslab *s, uint32_t holder)
{
	uint32_t state;

	if (holder == recovery_holder(s))
		return FAN_HOLDER_DEAD;
	if (shmslab__proc_alive(s, holder - 1))
		return 0;
	state = shmslab__proc_state(s, holder - 1);
	if (state == PROC_LIVE || state == PROC_DEAD)
		return FAN_HOLDER_DEAD;
	/*
	 * A free or claiming entry holds no turn: unless its holder left it and
	 * the entry was claimed again since, by one that took the turn (its LIVE
	 * came before its CAS on busy, so we see it after busy), damage.
	 * acquire: as in turn_take
	 */
	if (sa_load_acquire_u32(&s->fan->busy) != holder)
		return 0;
	state = shmslab__proc_state(s, holder - 1);
	return state == PROC_LIVE || state == PROC_DEAD ? 0 : SHMSLAB_ECORRUPT;
}

/*
 * Take the turn: 0, or FAN_HOLDER_DEAD when its holder died (recover, which
 * finishes or undoes its turn, then take it again), SHMSLAB_ECORRUPT for a
 * holder no segment can have, -EBADF when the handle is being closed (but
 * for the close itself, FOR_CLOSE, which ends the handle's subscriptions).
 */
int shmslab__fan_turn_take(struct shmslab *s, bool for_close)
{
	unsigned round = 0, looks = 0;

	for (;;) {
		uint32_t holder = 0;
		int err;

		/* acq_rel: the last turn's stores are seen in ours; a failure
		 * reads the holder */
		if (sa_cas_acq_rel_u32(&s->fan->busy, &holder, s->self + 1))
			return 0;
		if (holder > recovery_holder(s))
			return SHMSLAB_ECORRUPT;
		/* relaxed: a closer sets it; a late look only waits a little longer */
		if (!for_close && sa_load_relaxed_u32(&s->closing) != 0)
			return -EBADF;
		if (++looks % TURN_PATIENCE == 0 && (err = holder_gone(s, holder)) != 0)
			return err;
		shmslab__os_backoff(&round);
	}
}

void shmslab__fan_turn_leave(struct shmslab *s)
{
	/* release: the next turn sees everything ours wrote */
	sa_store_release_u32(&s->fan->busy, 0);
}

/*
 * In our turn, with the ticket T to publish and the MEMBERS: 0 if every
 * member has room for one more message, -ENOSPC with *FULL the subscription
 * that has fanout_depth waiting, SHMSLAB_ECORRUPT for a cursor no member
 * can have.  The floor is a bound below every member's cursor (cursors only
 * grow, and a member joins at the ticket), so the cursors are read only
 * once per fanout_depth messages.
 */
int shmslab__fan_room(struct shmslab *s, uint64_t t, uint64_t members, uint32_t *full)
{
	/* relaxed: written only in turns, which our turn's acquire ordered */
	uint64_t floor = sa_load_relaxed_u64(&s->fan->floor), least = t;

	if (t - floor < s->g.fanout_depth)
		return 0;
	for (uint64_t bits = members; bits != 0; bits &= bits - 1) {
		uint32_t i = (uint32_t)__builtin_ctzll(bits);
		/* acquire: a cursor moved on comes after its receiver read the cell */
		uint64_t behind = t - sa_load_acquire_u64(&shmslab__sub_entry(s, i)->cursor);

		/* a publish waits for room, so no member is more than the depth behind */
		if (behind > s->g.fanout_depth)
			return SHMSLAB_ECORRUPT;
		if (behind == s->g.fanout_depth) {
			*full = i;
			return -ENOSPC;
		}
		if (t - behind < least)
			least = t - behind;
	}
	/* relaxed: read and written only in turns */
	sa_store_relaxed_u64(&s->fan->floor, least);
	return 0;
}

/*
 * In our turn: slot IDX, PUBLISHED with its subs and ticket T, goes into
 * its cell, which is the moment it is published, then the ticket moves on.
 */
void shmslab__fan_fill(struct shmslab *s, uint64_t t, uint32_t idx)
{
	/* release: the slot's PUBLISHED state, subs and ticket come with the cell */
	sa_store_release_u64(fan_cell(s, t), fan_cell_word(s, t, idx));
	KILLPOINT(publish_filled);
	/* release: read in later turns, which their acquire orders */
	sa_store_release_u64(&s->fan->ticket, t + 1);
}

/*
 * A publisher filled a cell: wake the subscribers, if any sleeps.  Their
 * bits go as they are woken, so that the publishes after this one make no
 * call until a subscriber sleeps again (a subscriber that is short of CPU
 * would otherwise cost a call per message, for the time it takes to run).
 */
void shmslab__fan_wake(struct shmslab *s)
{
	/* seq_cst: the cell is filled before we look for sleepers, against a
	 * subscriber's bit-set then look (fan_ready) */
	sa_fence_seq_cst();
	/* relaxed: ordered by the fence above; acq_rel exchange: one waker
	 * takes the bits set before it, a subscriber setting one after looks
	 * at the cell after that */
	if (sa_load_relaxed_u64(&s->fan->sleepers) != 0 &&
	    sa_exchange_acq_rel_u64(&s->fan->sleepers, 0) != 0)
		shmslab__sleep_wake(&s->fan->signal);
}

/*
 * The next message of subscription I: 0 with its slot in *IDX and its
 * ticket claimed (the subscription holds it from here); -ENOENT when none
 * is published yet; SHMSLAB_ECORRUPT for a cell no ring can hold; the error
 * of a page this process cannot map.
 */
int shmslab__fan_take(struct shmslab *s, uint32_t i, uint32_t *idx)
{
	_Atomic uint64_t *cursor = &shmslab__sub_entry(s, i)->cursor;

	for (;;) {
		/* acquire: a cursor moved on by another thread comes after its look */
		uint64_t c = sa_load_acquire_u64(cursor);
		/* acquire: the publisher's release store: the slot's state comes with it */
		uint64_t cell = sa_load_acquire_u64(fan_cell(s, c));
		uint64_t lap = fan_lap(s, c), cell_lap = (cell >> 32) & CELL_LAP_MASK;
		uint32_t content = (uint32_t)cell;
		int err;

		if (cell_lap != lap || content == 0) {
			/* the lap before, or this lap's first pass: not published yet */
			if (cell_lap == ((lap - 1) & CELL_LAP_MASK) || cell_lap == lap)
				return -ENOENT;
			/* a cell ahead of our cursor is refilled only once every member
			 * passed it: another thread of ours did, or damage.
			 * acquire: as above */
			if (sa_load_acquire_u64(cursor) == c)
				return SHMSLAB_ECORRUPT;
			continue;
		}
		err = slot_check(s, content - 1);
		if (err)
			return err == -ERANGE ? SHMSLAB_ECORRUPT : err;
		/* acq_rel: claims ticket C; after our read of its cell, which a
		 * publisher refills only once it sees our cursor past it */
		if (sa_cas_acq_rel_u64(cursor, &c, c + 1)) {
			*idx = content - 1;
			return 0;
		}
	}
}

/* Whether subscription *ARG has a message waiting (or needs a look). */
static bool fan_ready(struct shmslab *s, const void *arg)
{
	_Atomic uint64_t *cursor = &shmslab__sub_entry(s, *(const uint32_t *)arg)->cursor;
	/* seq_cst: the look after our bit is set, in the wake handshake */
	uint64_t c = sa_load_seq_cst_u64(cursor);
	uint64_t cell = sa_load_seq_cst_u64(fan_cell(s, c));

	return ((cell >> 32) & CELL_LAP_MASK) == fan_lap(s, c) && (uint32_t)cell != 0;
}

/*
 * Sleep until a publisher may have published to subscription I, as
 * shmslab__sleep_wait: each of its threads marks it asleep, and the
 * publisher that wakes them clears the mark.
 */
int shmslab__fan_wait(struct shmslab *s, uint32_t i, int ms)
{
	struct sleep_spot spot = {
		.count = NULL,
		.word = &s->fan->sleepers,
		.bit = UINT64_C(1) << i,
		.signal = &s->fan->signal,
		.ready = fan_ready,
		.arg = &i,
	};

	return shmslab__sleep_wait(s, &spot, ms);
}

/*
 * Slot IDX, in state ST, is PUBLISHED: make it FREEING by entry FREER in its
 * next generation, unless its generation moved on (another freer won).  A
 * lock bit that moves is looked at again.  Whether we did.
 */
static bool published_to_freeing(struct slot_meta *m, uint64_t st, uint32_t freer)
{
	uint32_t gen = st_gen(st);

	/* seq_cst: closed to new readers before anyone looks for them, as a free */
	while (!sa_cas_seq_cst_u64(&m->state, &st,
				   (st & ST_LOCK_BITS) | st_make(KIND_FREEING, freer + 1, gen_next(gen))))
		if (st_kind(st) != KIND_PUBLISHED || st_gen(st) != gen)
			return false;
	return true;
}

/*
 * Let go of the bits GONE (subscriptions that left the members) on every
 * PUBLISHED slot below CAPACITY.  A slot that loses its last bit here, or
 * had none left (a releaser died before freeing it), becomes FREEING by
 * entry FREER, in its next generation, and FREED is called with it (may
 * be NULL: recovery gives such slots back in its step 3).  Answers how many
 * bits it cleared.
 */
uint64_t shmslab__fan_let_go(struct shmslab *s, uint64_t gone, uint32_t capacity, uint32_t freer,
			     void (*freed)(struct shmslab *s, uint32_t idx, uint32_t gen, void *arg),
			     void *arg)
{
	uint64_t cleared = 0;

	for (uint32_t x = 0; x < capacity; x++) {
		struct slot_meta *m = slot_meta(s, x);
		/* acquire: a PUBLISHED state comes with its subs word */
		uint64_t st = sa_load_acquire_u64(&m->state), old, left;

		if (st_kind(st) != KIND_PUBLISHED)
			continue;
		/* acquire: the releases before ours are seen */
		old = sa_load_acquire_u64(&m->subs);
		if (old & gone & SUBS_MASK) {
			/* acq_rel: a bit cleared once; whoever clears the last frees */
			old = sa_fetch_and_acq_rel_u64(&m->subs, ~(gone & SUBS_MASK));
			cleared += (uint64_t)__builtin_popcountll(old & gone & SUBS_MASK);
			left = old & ~gone & SUBS_MASK;
			if (!(old & gone & SUBS_MASK) || left != 0)
				continue;
		} else if (old & SUBS_MASK) {
			continue;
		}
		if (published_to_freeing(m, st, freer) && freed != NULL)
			freed(s, x, gen_next(st_gen(st)), arg);
	}
	return cleared;
}

/* Whether entry E is among the dead of DEAD. */
static bool dead_in(const uint64_t *dead, uint32_t e)
{
	return (dead[e / 64] >> (e % 64)) & 1;
}

/*
 * Take the turn for recovery, as the holder of the recovery lock: from
 * nobody, or from a holder that died (a process among DEAD, or a recovery
 * before ours, which held the lock we hold now), *FROM_DEAD then true.
 * False when a live process keeps it past our patience: recovery must not
 * wait for a live process (it may be stopped).
 */
static bool recovery_turn(struct shmslab *s, const uint64_t *dead, bool *from_dead)
{
	unsigned round = 0;

	for (unsigned n = 0; n < RECOVER_TURN_ROUNDS; n++) {
		/* acquire: as in turn_take */
		uint32_t holder = sa_load_acquire_u32(&s->fan->busy);

		if (holder != 0 && holder < recovery_holder(s) && !dead_in(dead, holder - 1)) {
			shmslab__os_backoff(&round);
			continue;
		}
		/* acq_rel: as in turn_take; a failure looks again */
		if (!sa_cas_acq_rel_u32(&s->fan->busy, &holder, recovery_holder(s)))
			continue;
		*from_dead = holder != 0;
		return true;
	}
	return false;
}

/*
 * In our turn, taken from a holder that died: what it was in the middle of,
 * whoever it was (a publisher, or a recovery that took the turn from one).
 * A cell of the ticket holding a slot on its lap was published: every
 * member of that ticket may take it, so the ticket moves on.  A PUBLISHED
 * slot of the ticket that no cell holds was never received by anyone: it
 * becomes FREEING by entry FREER, for step 3 (delivered to none, not lost).
 * Only a turn makes a slot PUBLISHED, so no live publish can look the same.
 */
static void settle_turn(struct shmslab *s, uint32_t capacity, uint32_t freer)
{
	/* relaxed: written in turns; ours acquired the last */
	uint64_t t = sa_load_relaxed_u64(&s->fan->ticket);
	/* acquire: as any look at a cell */
	uint64_t c = sa_load_acquire_u64(fan_cell(s, t));

	if (((c >> 32) & CELL_LAP_MASK) == fan_lap(s, t) && (uint32_t)c != 0) {
		/* release: read by later turns */
		sa_store_release_u64(&s->fan->ticket, ++t);
		shmslab__fan_wake(s);
	}
	KILLPOINT(recover_fan_settled);
	for (uint32_t x = 0; x < capacity && freer != NO_ENTRY; x++) {
		struct slot_meta *m = slot_meta(s, x);
		/* acquire: a PUBLISHED state comes with its ticket */
		uint64_t st = sa_load_acquire_u64(&m->state);

		/* relaxed: ordered after the state by the acquire above */
		if (st_kind(st) == KIND_PUBLISHED && sa_load_relaxed_u64(&m->ticket) == t)
			(void)published_to_freeing(m, st, freer);
	}
}

/* The publish lanes of the dead go idle, but those of HOLDER's entry (if one). */
static void idle_dead_publishes(struct shmslab *s, const uint64_t *dead, uint32_t holder)
{
	for_each_lane (s, e, lane)
		/* acquire: as every lane read */
		if (dead_in(dead, e) && e + 1 != holder &&
		    sa_load_acquire_u64(&lane->window) >> 32 == LANE_PUBLISH)
			shmslab__lane_set(lane, LANE_IDLE, 0);
}

/* Whether a recovery that died holds the turn: then one must run, whoever else died. */
bool shmslab__fan_recovery_wanted(const struct shmslab *s)
{
	/* relaxed: under the recovery lock, which the holder held */
	return sa_load_relaxed_u32(&s->fan->busy) >= recovery_holder(s);
}

/* Whether place I's owner is among DEAD. */
static bool place_of_dead(struct shmslab *s, const uint64_t *dead, uint32_t i, uint64_t *word)
{
	/* acquire: a place's fields come with its state */
	uint64_t w = sa_load_acquire_u64(&shmslab__sub_entry(s, i)->state);
	uint32_t owner = sub_owner(w);

	*word = w;
	return sub_state(w) != SUB_FREE && owner != 0 && owner <= s->g.max_procs &&
	       dead_in(dead, owner - 1);
}

/*
 * Recovery's part, with the recovery lock held, DEAD the entries found
 * dead, and every slot below CAPACITY mapped.  A turn whose holder died is
 * settled; the subscriptions of dead processes leave the members, their
 * bits leave every slot (one whose last goes, or that a releaser that died
 * left with none, is FREEING by a dead process, for step 3), and their
 * places are freed; the publish lanes of the dead go idle.  What needs the
 * turn waits, when a live process keeps it, for a later recovery: the dead
 * entries it concerns get a PENDING mark.  *ENDED counts the subscriptions
 * ended.
 */
void shmslab__fan_recover(struct shmslab *s, const uint64_t *dead, uint32_t capacity,
			  uint32_t *pending, uint64_t *ended)
{
	/* acquire: as in turn_take */
	uint32_t holder = sa_load_acquire_u32(&s->fan->busy), first_dead = NO_ENTRY;
	bool need_turn = holder >= recovery_holder(s) ||
			 (holder != 0 && dead_in(dead, holder - 1)), from_dead = false;
	uint64_t gone = 0, w;

	for (uint32_t e = 0; e < s->g.max_procs && first_dead == NO_ENTRY; e++)
		if (dead_in(dead, e))
			first_dead = e;
	for (uint32_t i = 0; i < s->g.max_subscribers; i++)
		if (place_of_dead(s, dead, i, &w))
			gone |= UINT64_C(1) << i;
	need_turn |= gone != 0;
	/*
	 * What we cannot see all of, or a turn we cannot have, waits for a later
	 * recovery, but only for the entries it concerns: the turn's dead holder
	 * (its publish lanes stay) and the owners of dead subscriptions.  Other
	 * dead publishers' lanes go idle: a publish that never had the turn
	 * changed nothing, one that left it was done.
	 * acquire: as any look at the capacity
	 */
	if (capacity < sa_load_acquire_u32(&s->control->capacity) ||
	    (need_turn && !recovery_turn(s, dead, &from_dead))) {
		for (uint32_t i = 0; i < s->g.max_subscribers; i++)
			if (gone & (UINT64_C(1) << i) && place_of_dead(s, dead, i, &w))
				pending[sub_owner(w) - 1]++;
		if (holder != 0 && holder <= s->g.max_procs && dead_in(dead, holder - 1))
			pending[holder - 1]++;
		idle_dead_publishes(s, dead, holder);
		return;
	}
	if (need_turn) {
		KILLPOINT(recover_fan_taken);
		if (from_dead)
			settle_turn(s, capacity, first_dead);
		/* relaxed: written only in turns; ours is */
		sa_store_relaxed_u64(&s->fan->members, sa_load_relaxed_u64(&s->fan->members) & ~gone);
		for (uint32_t i = 0; i < s->g.max_subscribers; i++)
			if (gone & (UINT64_C(1) << i) && place_of_dead(s, dead, i, &w))
				/* release: LEAVING after the members changed; its owner
				 * is dead, so nobody else moves it */
				sa_store_release_u64(&shmslab__sub_entry(s, i)->state,
						     sub_word(w, sub_owner(w), SUB_LEAVING));
		shmslab__fan_turn_leave(s);
	}
	KILLPOINT(recover_fan_left);
	idle_dead_publishes(s, dead, 0); /* settled by now, if it held the turn */
	/* a slot freed here is a dead process's: none, no slot to free (only
	 * a dead recovery's turn was settled) */
	if (first_dead != NO_ENTRY)
		(void)shmslab__fan_let_go(s, gone, capacity, first_dead, NULL, NULL);
	if (gone != 0)
		/* release: the bits of dead subscriptions, before their places are
		 * anyone's again; nobody else clears them */
		sa_fetch_and_release_u64(&s->fan->sleepers, ~gone);
	for (uint32_t i = 0; i < s->g.max_subscribers; i++) {
		struct sub_entry *se = shmslab__sub_entry(s, i);

		if (!(gone & (UINT64_C(1) << i)))
			continue;
		/* release: nothing names the place now; the incarnation moves on */
		sa_store_release_u64(&se->state,
				     /* relaxed: ours, since it went LEAVING */
				     sub_word(sa_load_relaxed_u64(&se->state) + (UINT64_C(1) << 32), 0,
					      SUB_FREE));
		(*ended)++;
	}
}
