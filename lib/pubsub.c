/* SPDX-License-Identifier: MIT */
/*
 * The publish/subscribe calls, over the fan-out ring (fanout.c): joining and
 * leaving, publishing a slot to every member of the moment, and a
 * subscription's receive and release.  A turn whose holder died, and a
 * publish held back by a dead subscription, recover and try again.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"

#define TURN_RECOVERIES 16 /* recoveries in a row that found a turn's holder dead: damage */
#define NOBODY		1  /* publish_slot, in its turn: no member to publish to */

/* Take the turn, recovering it from a holder that died; FOR_CLOSE as fan_turn_take. */
static int turn_take(struct shmslab *s, bool for_close)
{
	int err;

	for (unsigned tries = 0; (err = shmslab__fan_turn_take(s, for_close)) == FAN_HOLDER_DEAD;
	     tries++)
		if (tries == TURN_RECOVERIES || (err = shmslab__recover(s, NULL)) < 0)
			return tries == TURN_RECOVERIES ? SHMSLAB_ECORRUPT : err;
	return err;
}

/* A place of the table for a new subscription, claimed: its index, or -EUSERS. */
static int claim_place(struct shmslab *s, uint64_t *word)
{
	for (uint32_t i = 0; i < s->g.max_subscribers; i++) {
		struct sub_entry *se = shmslab__sub_entry(s, i);
		/* acquire: the last holder's release of the place is seen */
		uint64_t w = sa_load_acquire_u64(&se->state);

		if (sub_state(w) != SUB_FREE)
			continue;
		*word = sub_word(w, s->self + 1, SUB_CLAIMED);
		/* acq_rel: one claimer wins the place; a failure goes on looking */
		if (sa_cas_acq_rel_u64(&se->state, &w, *word))
			return (int)i;
	}
	return -EUSERS;
}

/* Join as subscription SUB: from the ticket of our turn on, it is a member. */
static int join(struct shmslab *s, struct shmslab_sub *sub)
{
	struct sub_entry *se;
	uint64_t t, claimed;
	int i = claim_place(s, &claimed), err;

	if (i < 0)
		return i;
	KILLPOINT(subscribe_claimed);
	se = shmslab__sub_entry(s, (uint32_t)i);
	if ((err = turn_take(s, false)) != 0) {
		/* release: the place goes back as it was found */
		sa_store_release_u64(&se->state, sub_word(claimed, 0, SUB_FREE));
		return err;
	}
	/* relaxed, all: read and written in turns, which order them; the
	 * cursors reach publishers through their turn's acquire */
	t = sa_load_relaxed_u64(&s->fan->ticket);
	sa_store_relaxed_u64(&se->start, t);
	sa_store_relaxed_u64(&se->cursor, t);
	/* relaxed: as above */
	sa_store_relaxed_u64(&s->fan->members,
			     sa_load_relaxed_u64(&s->fan->members) | (UINT64_C(1) << i));
	KILLPOINT(subscribe_joined);
	sub->word = sub_word(claimed, s->self + 1, SUB_LIVE);
	/* release: a LIVE place comes with its cursors */
	sa_store_release_u64(&se->state, sub->word);
	shmslab__fan_turn_leave(s);
	sub->index = (uint32_t)i;
	return 0;
}

static int subscribe_call(struct shmslab *slab, struct shmslab_sub **out)
{
	struct shmslab_sub *sub;
	int err;

	if (out == NULL)
		return -EINVAL;
	sub = calloc(1, sizeof(*sub));
	if (sub == NULL)
		return -ENOMEM;
	sub->slab = slab;
	err = join(slab, sub);
	/* a full table may hold the places of dead processes */
	if (err == -EUSERS && shmslab__recover(slab, NULL) > 0)
		err = join(slab, sub);
	if (err) {
		free(sub);
		return err;
	}
	pthread_mutex_lock(&slab->subs_lock);
	sub->next = slab->subs;
	slab->subs = sub;
	pthread_mutex_unlock(&slab->subs_lock);
	*out = sub;
	return 0;
}

int shmslab_subscribe(struct shmslab *slab, struct shmslab_sub **out)
{
	return CALL(slab, true, subscribe_call(slab, out));
}

/*
 * Slot IDX is FREEING by us in generation GEN, its last subscription gone:
 * wait for its readers and push it on its home's list (its publisher's, if
 * alive: the slots of a fan-out go back to their publisher a batch at a
 * time).  Not through shmslab_free's own give, so that the free of the hot
 * path stays the only caller of that, inlined whole.
 */
static void give_freed(struct shmslab *s, uint32_t idx, uint32_t gen, void *unused)
{
	struct lane *lane;

	(void)unused;
	shmslab__lock_drain(s, idx);
	lane = shmslab__lane_enter(s);
	/* one that cannot reach a list even then is found by the recovery
	 * that unblocks the lists, as in a free */
	if (shmslab__slot_push(s, lane, idx, gen) == -EAGAIN)
		(void)shmslab__push_after_recovery(s, lane);
	shmslab__lane_set(lane, LANE_IDLE, 0);
	shmslab__lane_leave(s, lane);
}

/* Free REF's slot, which a publish found nobody to give to. */
static int free_unpublished(struct shmslab *s, shmslab_ref ref)
{
	uint32_t idx = ref_index(s, ref), next_gen;
	int err = shmslab__lock_close(s, idx, ref_want(s, ref), CLOSE_FREE, &next_gen);

	if (err == 0)
		give_freed(s, idx, next_gen, NULL);
	return err;
}

/*
 * SUB leaves: out of the members in a turn, then its bit off every slot
 * (those it was the last to hold are freed), then its place is free.  A
 * death on the way leaves it LEAVING, for recovery to finish.  FOR_CLOSE as
 * fan_turn_take.
 */
static int leave(struct shmslab *s, struct shmslab_sub *sub, bool for_close)
{
	struct sub_entry *se = shmslab__sub_entry(s, sub->index);
	uint64_t bit = UINT64_C(1) << sub->index;
	int err = turn_take(s, for_close);

	if (err)
		return err;
	/* relaxed: read and written in turns */
	sa_store_relaxed_u64(&s->fan->members, sa_load_relaxed_u64(&s->fan->members) & ~bit);
	/* release: LEAVING once no publish can include it any more */
	sa_store_release_u64(&se->state, sub_word(sub->word, s->self + 1, SUB_LEAVING));
	shmslab__fan_turn_leave(s);
	KILLPOINT(unsubscribe_left);
	err = shmslab__map_refresh(s, 0);
	if (err && err != -ERANGE)
		return err; /* LEAVING stays, and a later leave finishes */
	/* acquire: the pages of every slot below it are mapped */
	(void)shmslab__fan_let_go(s, bit, sa_load_acquire_u32(&s->capacity_known), s->self,
				  give_freed, NULL);
	/* release: nothing names the place now; the incarnation moves on */
	sa_store_release_u64(&se->state, sub_word(sub->word + (UINT64_C(1) << 32), 0, SUB_FREE));
	return 0;
}

/* Take SUB off its handle's list; false if it is not on it. */
static bool unlink_sub(struct shmslab *s, struct shmslab_sub *sub)
{
	bool found = false;

	pthread_mutex_lock(&s->subs_lock);
	for (struct shmslab_sub **p = &s->subs; *p != NULL; p = &(*p)->next)
		if (*p == sub) {
			*p = sub->next;
			found = true;
			break;
		}
	pthread_mutex_unlock(&s->subs_lock);
	return found;
}

static int unsubscribe_call(struct shmslab *slab, struct shmslab_sub *sub)
{
	int err;

	if (!unlink_sub(slab, sub))
		return -EINVAL;
	err = leave(slab, sub, false);
	if (err) {
		/* still a member, or LEAVING with its bits: a later unsubscribe
		 * (or close) tries again */
		pthread_mutex_lock(&slab->subs_lock);
		sub->next = slab->subs;
		slab->subs = sub;
		pthread_mutex_unlock(&slab->subs_lock);
		return err;
	}
	free(sub);
	return 0;
}

int shmslab_unsubscribe(struct shmslab_sub *sub)
{
	if (sub == NULL)
		return -EINVAL;
	return CALL(sub->slab, true, unsubscribe_call(sub->slab, sub));
}

/*
 * The handle S is closing, its calls over: end its subscriptions, or, in a
 * fork child (LEAVE false), only free the copies it inherited.  False when
 * one could not be ended: the entry must then be left for recovery to end
 * it, as a dead process's.
 */
bool shmslab__subs_end(struct shmslab *s, bool leave_them)
{
	struct shmslab_sub *sub;
	bool all = true;

	while ((sub = s->subs) != NULL) {
		s->subs = sub->next;
		if (leave_them && leave(s, sub, true) != 0)
			all = false;
		free(sub);
	}
	return all;
}

/* Why slot M, in state ST, cannot be published by a holder of WANT: 0 if it can. */
static int publish_refused(struct shmslab *s, const struct slot_meta *m, uint64_t st,
			   uint64_t want)
{
	if (!st_readable(s, m, st, want))
		return -ESTALE;
	/* read-only from publish on: a write in progress would be seen half done */
	return st_kind(st) != KIND_OWNED || st_writer(st) != 0 ? -EBUSY : 0;
}

/* Whether the owner of subscription I is dead (and recovery would free it). */
static bool sub_owner_dead(struct shmslab *s, uint32_t i)
{
	/* acquire: as any look at a place */
	uint32_t owner = sub_owner(sa_load_acquire_u64(&shmslab__sub_entry(s, i)->state));

	return owner != 0 && owner <= s->g.max_procs && !shmslab__proc_alive(s, owner - 1);
}

/*
 * In our turn, publish IDX of generation WANT to MEMBERS at ticket T: the
 * subscriptions it goes to, then the ticket, then the state (the slot is
 * read-only from here), then the cell.  -EBUSY or -ESTALE if the slot
 * changed since it was checked.
 */
static int publish_in_turn(struct shmslab *s, uint32_t idx, uint64_t want, uint64_t t,
			   uint64_t members)
{
	struct slot_meta *m = slot_meta(s, idx);
	/* acquire: a state of a later allocation comes with its epoch */
	uint64_t st = sa_load_acquire_u64(&m->state);
	int err;

	/* relaxed: published by the state CAS below; only turns write them
	 * while the slot is OWNED, and only for it to be PUBLISHED */
	sa_store_relaxed_u64(&m->subs, (t << 32) | members);
	/* release: a releaser that reads this ticket then reads the state that follows it */
	sa_store_release_u64(&m->ticket, t);
	KILLPOINT(publish_prepared);
	do
		if ((err = publish_refused(s, m, st, want)) != 0)
			return err;
	/* acq_rel: read-only from here; a failure (a lock or holder changed) looks again */
	while (!sa_cas_acq_rel_u64(&m->state, &st,
				   (st & ST_LOCK_BITS) | st_make(KIND_PUBLISHED, 0, st_gen(st))));
	KILLPOINT(publish_marked);
	shmslab__fan_fill(s, t, idx);
	return 0;
}

/* Publish IDX, of generation WANT, through our LANE: how many it went to, or an error. */
static int publish_slot(struct shmslab *s, struct lane *lane, uint32_t idx, uint64_t want)
{
	bool recovered = false;

	for (;;) {
		uint64_t members, t;
		uint32_t full = 0; /* set by fan_room with -ENOSPC, read only then */
		int err = turn_take(s, false);

		if (err)
			return err;
		KILLPOINT(publish_turn);
		/* relaxed: written only in turns; ours acquired the last */
		members = sa_load_relaxed_u64(&s->fan->members);
		t = sa_load_relaxed_u64(&s->fan->ticket);
		err = publish_refused(s, slot_meta(s, idx), sa_load_acquire_u64(&slot_meta(s, idx)->state),
				      want); /* acquire: as publish_in_turn's */
		/* a member beyond the table is no segment's */
		if (err == 0 && (members >> s->g.max_subscribers) != 0)
			err = SHMSLAB_ECORRUPT;
		if (err == 0 && members == 0)
			err = NOBODY;
		if (err == 0)
			err = shmslab__fan_room(s, t, members, &full);
		if (err == 0)
			err = publish_in_turn(s, idx, want, t, members);
		shmslab__fan_turn_leave(s);
		/* a subscription that is full because its process died holds nobody back */
		if (err == -ENOSPC && !recovered && sub_owner_dead(s, full)) {
			recovered = true;
			shmslab__lane_set(lane, LANE_IDLE, 0);
			if (shmslab__recover(s, NULL) < 0)
				return err;
			shmslab__lane_set(lane, LANE_PUBLISH, idx);
			continue;
		}
		return err == 0 ? __builtin_popcountll(members) : err == NOBODY ? 0 : err;
	}
}

static int publish_call(struct shmslab *slab, shmslab_ref ref)
{
	struct lane *lane;
	int err = ref_check(slab, ref);

	if (err)
		return err;
	lane = shmslab__lane_enter(slab);
	shmslab__lane_set(lane, LANE_PUBLISH, ref_index(slab, ref));
	KILLPOINT(publish_journaled);
	err = publish_slot(slab, lane, ref_index(slab, ref), ref_want(slab, ref));
	shmslab__lane_set(lane, LANE_IDLE, 0);
	shmslab__lane_leave(slab, lane);
	if (err > 0)
		shmslab__fan_wake(slab);
	else if (err == 0)
		return free_unpublished(slab, ref); /* no subscriber: the slot goes back */
	return err;
}

int shmslab_publish(struct shmslab *slab, shmslab_ref ref)
{
	return CALL(slab, true, publish_call(slab, ref));
}

/* Whether SUB's place is still its own: SHMSLAB_ECORRUPT if another wrote it. */
static int sub_check(struct shmslab *s, const struct shmslab_sub *sub)
{
	/* acquire: as any look at a place */
	return sa_load_acquire_u64(&shmslab__sub_entry(s, sub->index)->state) == sub->word
		       ? 0
		       : SHMSLAB_ECORRUPT;
}

/* The reference of IDX, just received by subscription I. */
static int received_ref(struct shmslab *s, uint32_t i, uint32_t idx, shmslab_ref *ref)
{
	struct slot_meta *m = slot_meta(s, idx);
	/* acquire: the publisher's state CAS came before its cell, which we read */
	uint64_t st = sa_load_acquire_u64(&m->state);

	/* relaxed: ordered after the state by the acquire above */
	if (st_kind(st) != KIND_PUBLISHED || !(sa_load_relaxed_u64(&m->subs) & (UINT64_C(1) << i)))
		return SHMSLAB_ECORRUPT; /* a cell named a slot not published to us */
	KILLPOINT(sub_received);
	*ref = ref_make(s, idx, st_gen(st));
	return 0;
}

static int sub_recv_call(struct shmslab *slab, struct shmslab_sub *sub, shmslab_ref *ref,
			 int timeout_ms)
{
	int64_t deadline = shmslab__wait_deadline(timeout_ms);
	int err;

	if (ref == NULL || timeout_ms < -1)
		return -EINVAL;
	if ((err = sub_check(slab, sub)) != 0)
		return err;
	for (;;) {
		uint32_t idx;
		int left;

		err = shmslab__fan_take(slab, sub->index, &idx);
		if (err == 0)
			return received_ref(slab, sub->index, idx, ref);
		if (err != -ENOENT)
			return err;
		if ((err = shmslab__wait_left(timeout_ms, deadline, &left)) != 0)
			return err;
		/* a signal handler that ran, or a close, ends the wait */
		if ((err = shmslab__fan_wait(slab, sub->index, left)) != 0)
			return err;
	}
}

/* sub_recv_call, whose wait is a cancellation point: the call ends either way. */
static void sub_recv_cancellable(struct shmslab_sub *sub, shmslab_ref *ref, int timeout_ms,
				 int *err)
{
	pthread_cleanup_push(shmslab__call_cancelled, NULL);
	*err = sub_recv_call(sub->slab, sub, ref, timeout_ms);
	pthread_cleanup_pop(0);
}

int shmslab_sub_recv(struct shmslab_sub *sub, shmslab_ref *ref, int timeout_ms)
{
	int err;

	if (sub == NULL)
		return -EINVAL;
	if ((err = call_enter(sub->slab, true)) == 0) {
		sub_recv_cancellable(sub, ref, timeout_ms, &err);
		call_leave();
	}
	return err;
}

/*
 * The ticket of REF's publication, if SUB received it: 0 with *TICKET and
 * the state *ST it was read with; -ESTALE for a slot freed or published
 * again since; -EINVAL for one SUB did not receive.
 */
static int received_ticket(struct shmslab *s, const struct shmslab_sub *sub, shmslab_ref ref,
			   uint64_t *ticket, uint64_t *st)
{
	struct slot_meta *m = slot_meta(s, ref_index(s, ref));
	struct sub_entry *se = shmslab__sub_entry(s, sub->index);
	/* acquire: a state of a later allocation comes with its epoch */
	uint64_t before = sa_load_acquire_u64(&m->state), start;

	if (!st_gen_is(s, m, before, ref_want(s, ref)))
		return -ESTALE;
	if (st_kind(before) != KIND_PUBLISHED)
		return -EINVAL;
	/* acquire, then the state again: a ticket of a later publication comes
	 * with a later state, so the same state means the ticket is REF's */
	*ticket = sa_load_acquire_u64(&m->ticket);
	*st = sa_load_acquire_u64(&m->state);
	if ((*st ^ before) & ~ST_LOCK_BITS)
		return -ESTALE;
	/* relaxed: our own subscription's words, set before it went LIVE */
	start = sa_load_relaxed_u64(&se->start);
	/* acquire: a cursor moved on by another of our threads, after its take */
	return *ticket - start < sa_load_acquire_u64(&se->cursor) - start ? 0 : -EINVAL;
}

static int sub_release_call(struct shmslab *slab, struct shmslab_sub *sub, shmslab_ref ref)
{
	uint64_t bit = UINT64_C(1) << sub->index, t, st, w;
	struct slot_meta *m;
	uint32_t idx, next_gen;
	int err = ref_check(slab, ref);

	if (err == 0)
		err = sub_check(slab, sub);
	if (err == 0)
		err = received_ticket(slab, sub, ref, &t, &st);
	if (err)
		return err;
	idx = ref_index(slab, ref);
	m = slot_meta(slab, idx);
	/* acquire: the releases before ours are seen */
	w = sa_load_acquire_u64(&m->subs);
	do
		if ((uint32_t)(w >> 32) != (uint32_t)t || !(w & bit))
			return -ESTALE; /* released already, or published again since */
	/* acq_rel: whoever clears the last bit frees; a failure looks again */
	while (!sa_cas_acq_rel_u64(&m->subs, &w, w & ~bit));
	KILLPOINT(release_cleared);
	if (w & ~bit & SUBS_MASK)
		return 0;
	next_gen = gen_next(st_gen(st));
	/* seq_cst: closed to new readers before we look for them, as a free.
	 * A failure: a lock bit moved (look again), or a recovery or a leave
	 * freed it for us */
	while (!sa_cas_seq_cst_u64(&m->state, &st,
				   (st & ST_LOCK_BITS) | st_make(KIND_FREEING, slab->self + 1, next_gen)))
		if (st_kind(st) != KIND_PUBLISHED || gen_next(st_gen(st)) != next_gen)
			return 0;
	KILLPOINT(release_freeing);
	give_freed(slab, idx, next_gen, NULL);
	return 0;
}

int shmslab_sub_release(struct shmslab_sub *sub, shmslab_ref ref)
{
	if (sub == NULL)
		return -EINVAL;
	return CALL(sub->slab, true, sub_release_call(sub->slab, sub, ref));
}
