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

/*
 * Take the turn: 0, or FAN_HOLDER_DEAD when the process holding it died
 * (recover, which finishes or undoes its turn, then take it again), or
 * SHMSLAB_ECORRUPT for a holder that names no entry.
 */
int shmslab__fan_turn_take(struct shmslab *s)
{
	unsigned round = 0, looks = 0;

	for (;;) {
		uint32_t holder = 0;

		/* acq_rel: the last turn's stores are seen in ours; a failure
		 * reads the holder */
		if (sa_cas_acq_rel_u32(&s->fan->busy, &holder, s->self + 1))
			return 0;
		if (holder > s->g.max_procs)
			return SHMSLAB_ECORRUPT;
		if (++looks % TURN_PATIENCE == 0 && !shmslab__proc_alive(s, holder - 1))
			return FAN_HOLDER_DEAD;
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

/* A publisher filled a cell: wake the subscribers, if any sleeps. */
void shmslab__fan_wake(struct shmslab *s)
{
	/* seq_cst: the cell is filled before we look for sleepers, against a
	 * subscriber's bit-set then look (fan_ready) */
	sa_fence_seq_cst();
	/* relaxed: ordered by the fence above */
	if (sa_load_relaxed_u64(&s->fan->sleepers) != 0)
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

/* Sleep until a publisher may have published to subscription I, as shmslab__sleep_wait. */
int shmslab__fan_wait(struct shmslab *s, uint32_t i, _Atomic uint32_t *sleeping, int ms)
{
	struct sleep_spot spot = {
		.count = sleeping,
		.word = &s->fan->sleepers,
		.bit = UINT64_C(1) << i,
		.signal = &s->fan->signal,
		.ready = fan_ready,
		.arg = &i,
	};

	return shmslab__sleep_wait(s, &spot, ms);
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
		/* seq_cst: closed to new readers before anyone looks for them, as
		 * a free; a failure means another freer won */
		if (sa_cas_seq_cst_u64(&m->state, &st,
				       (st & ST_LOCK_BITS) |
					       st_make(KIND_FREEING, freer + 1, gen_next(st_gen(st)))) &&
		    freed != NULL)
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
 * The turn's holder HOLDER died in it.  Its publish, if it was in one,
 * finished if its cell was filled (every subscriber of that instant gets
 * the message), or undone (the slot is the dead publisher's again, which
 * recovery's step 3 frees); either way its lane goes idle.
 */
static void settle_dead_turn(struct shmslab *s, uint32_t holder, uint32_t capacity)
{
	struct proc_entry *pe = shmslab__proc_entry(s, holder);
	/* relaxed: the holder is dead, and our turn's CAS read its last store */
	uint64_t t = sa_load_relaxed_u64(&s->fan->ticket);

	for (uint32_t l = 0; l < LANES; l++) {
		/* acquire: as every lane read */
		uint64_t w = sa_load_acquire_u64(&pe->lanes[l].window);
		uint32_t x = (uint32_t)w;
		struct slot_meta *m;
		uint64_t st;

		if (w >> 32 != LANE_PUBLISH || x >= capacity)
			continue;
		m = slot_meta(s, x);
		/* acquire: as any look at a slot's holder */
		st = sa_load_acquire_u64(&m->state);
		/* relaxed: written in the dead turn, before its state CAS */
		if (st_kind(st) == KIND_PUBLISHED && sa_load_relaxed_u64(&m->ticket) == t) {
			/* acquire: as any look at a cell */
			if (sa_load_acquire_u64(fan_cell(s, t)) == fan_cell_word(s, t, x))
				/* release: read by later turns */
				sa_store_release_u64(&s->fan->ticket, t + 1);
			else
				/* acq_rel: as any change of a slot's holder; only turns
				 * change a PUBLISHED slot that no cell holds */
				(void)sa_cas_acq_rel_u64(&m->state, &st,
							 (st & ST_LOCK_BITS) |
								 st_make(KIND_OWNED, holder + 1, st_gen(st)));
		}
	}
}

/*
 * Take the turn for recovery: from nobody, or from a dead holder, whose
 * turn is settled first.  False when a live process keeps it past our
 * patience: recovery must not wait for a live process (it may be stopped).
 */
static bool recovery_turn(struct shmslab *s, const uint64_t *dead, uint32_t capacity)
{
	unsigned round = 0;

	for (unsigned n = 0; n < RECOVER_TURN_ROUNDS; n++) {
		/* acquire: as in turn_take */
		uint32_t holder = sa_load_acquire_u32(&s->fan->busy);

		if (holder != 0 && (holder > s->g.max_procs || !dead_in(dead, holder - 1))) {
			shmslab__os_backoff(&round);
			continue;
		}
		/* acq_rel: as in turn_take; a failure looks again */
		if (!sa_cas_acq_rel_u32(&s->fan->busy, &holder, s->self + 1))
			continue;
		if (holder != 0)
			settle_dead_turn(s, holder - 1, capacity);
		return true;
	}
	return false;
}

/*
 * Recovery's part, with the recovery lock held, DEAD the entries found
 * dead, and every slot below CAPACITY mapped.  A turn a dead process held is
 * settled; the subscriptions of dead processes leave the members, their
 * bits leave every slot (one whose last goes is FREEING by the dead
 * process, for step 3), and their places are freed; the publish lanes of
 * the dead go idle.  *ENDED counts the subscriptions ended.  False when a
 * live turn kept us out: the dead entries must wait for a later recovery.
 */
bool shmslab__fan_recover(struct shmslab *s, const uint64_t *dead, uint32_t capacity,
			  uint64_t *ended)
{
	uint32_t first_dead = NO_ENTRY;
	uint64_t gone = 0;

	for (uint32_t e = 0; e < s->g.max_procs && first_dead == NO_ENTRY; e++)
		if (dead_in(dead, e))
			first_dead = e;
	if (first_dead == NO_ENTRY)
		return true;
	if (!recovery_turn(s, dead, capacity))
		return false;
	for (uint32_t i = 0; i < s->g.max_subscribers; i++) {
		struct sub_entry *se = shmslab__sub_entry(s, i);
		/* acquire: a subscription's fields come with its state */
		uint64_t w = sa_load_acquire_u64(&se->state);
		uint32_t owner = sub_owner(w);

		if (sub_state(w) == SUB_FREE || owner == 0 || owner > s->g.max_procs ||
		    !dead_in(dead, owner - 1))
			continue;
		gone |= UINT64_C(1) << i;
		/* relaxed: written only in turns; ours is */
		sa_store_relaxed_u64(&s->fan->members,
				     sa_load_relaxed_u64(&s->fan->members) & ~(UINT64_C(1) << i));
		/* release: LEAVING after the members changed; its owner is dead,
		 * so nobody else moves it */
		sa_store_release_u64(&se->state, sub_word(w, owner, SUB_LEAVING));
	}
	shmslab__fan_turn_leave(s);
	KILLPOINT(recover_fan_left);
	for_each_lane (s, e, lane)
		/* acquire: as every lane read; a dead publish is settled by now */
		if (dead_in(dead, e) && sa_load_acquire_u64(&lane->window) >> 32 == LANE_PUBLISH)
			shmslab__lane_set(lane, LANE_IDLE, 0);
	/* a slot whose last bit goes, or that a dead releaser left with none, is
	 * freed as by a dead process: the owner of the subscription, or any */
	(void)shmslab__fan_let_go(s, gone, capacity, first_dead, NULL, NULL);
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
	if (gone != 0)
		/* release: the bits of dead subscriptions; nobody else clears them */
		sa_fetch_and_release_u64(&s->fan->sleepers, ~gone);
	return true;
}
