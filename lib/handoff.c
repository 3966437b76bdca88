/* SPDX-License-Identifier: MIT */
/*
 * shmslab_send and shmslab_recv: handing a slot from its owner to the queue
 * and from the queue to a receiver.  The slot's state word says where it is
 * (OWNED by a process, or QUEUED, owned by the queue), and the lane of the
 * thread moving it names it for as long as the state and the ring disagree:
 * after a send has made it QUEUED and before a cell holds it, and after a
 * receive has emptied its cell and before it is OWNED again.  The burst
 * calls move their slots one at a time through one lane, so that a death
 * leaves each either sent or not; what they pay once is the call's entry,
 * the lane and the look for sleepers to wake.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* Why slot M, in state ST, cannot be sent by a holder of generation WANT: 0 if it can. */
static int send_refused(struct shmslab *s, const struct slot_meta *m, uint64_t st, uint64_t want)
{
	if (!st_gen_is(s, m, st, want) || (st_kind(st) != KIND_OWNED && st_kind(st) != KIND_QUEUED &&
					   st_kind(st) != KIND_PUBLISHED))
		return -ESTALE;
	return st_kind(st) != KIND_OWNED ? -EBUSY : 0;
}

/*
 * Send REF, checked with ref_check, through this thread's LANE, which is
 * idle again on return.  The caller wakes the receivers once it is done.
 */
/* always_inline: in send_many's loop too, so that a burst makes no call per message */
static inline __attribute__((always_inline)) int send_one(struct shmslab *slab, struct lane *lane,
							  shmslab_ref ref)
{
	uint32_t idx = ref_index(slab, ref), gen = ref_gen(ref);
	uint64_t want = ref_want(slab, ref), st, sent;
	struct slot_meta *m = slot_meta(slab, idx);
	int err;

	shmslab__lane_set(lane, LANE_SEND, idx);
	KILLPOINT(send_journaled);
	/* acquire: a state of a later allocation comes with its epoch */
	st = sa_load_acquire_u64(&m->state);
	for (;;) {
		err = send_refused(slab, m, st, want);
		if (err)
			goto out;
		/* a write in progress keeps its lock: it is the slot's, not its owner's */
		sent = (st & ST_LOCK_BITS) | st_make(KIND_QUEUED, 0, gen);
		/* acq_rel: the queue owns it from here; on failure look again */
		if (sa_cas_acq_rel_u64(&m->state, &st, sent))
			break;
	}
	KILLPOINT(send_queued);
	while ((err = shmslab__queue_put(slab, idx)) == -EAGAIN &&
	       (err = shmslab__recover_wait(slab)) == 0)
		;
	if (err) {
		/* not sent: the slot goes back to whom it belonged, locks as they are
		 * now.  Our lane kept it from recovery, so it is still QUEUED. */
		/* relaxed: our lane keeps the slot QUEUED; the CAS below checks the word */
		uint64_t now = sa_load_relaxed_u64(&m->state);

		do
			if (st_kind(now) != KIND_QUEUED || st_gen(now) != gen) {
				err = SHMSLAB_ECORRUPT;
				goto out;
			}
		/* acq_rel: as any change of the slot's holder */
		while (!sa_cas_acq_rel_u64(&m->state, &now,
					   (now & ST_LOCK_BITS) | (st & ~ST_LOCK_BITS)));
	}
out:
	shmslab__lane_set(lane, LANE_IDLE, 0);
	return err;
}

static int send_call(struct shmslab *slab, shmslab_ref ref)
{
	struct lane *lane;
	int err = ref_check(slab, ref);

	if (err)
		return err;
	lane = shmslab__lane_enter(slab);
	err = send_one(slab, lane, ref);
	shmslab__lane_leave(slab, lane);
	if (err == 0)
		shmslab__queue_wake(slab);
	return err;
}

/* flatten: as shmslab_recv */
__attribute__((flatten)) int shmslab_send(struct shmslab *slab, shmslab_ref ref)
{
	return CALL(slab, true, send_call(slab, ref));
}

static int ref_order(const void *a, const void *b)
{
	shmslab_ref x = *(const shmslab_ref *)a, y = *(const shmslab_ref *)b;

	return (x > y) - (x < y);
}

/* Whether a reference appears twice in REFS[0..N).  -ENOMEM: no room to tell. */
static int repeated(const shmslab_ref *refs, unsigned n)
{
	/* a burst is short: comparing each pair is cheaper than sorting a copy */
	enum { PAIRWISE_MAX = 64 };
	shmslab_ref *sorted;
	int found = 0;

	if (n <= PAIRWISE_MAX) {
		for (unsigned i = 1; i < n; i++)
			for (unsigned j = 0; j < i; j++)
				if (refs[i] == refs[j])
					return 1;
		return 0;
	}
	sorted = malloc(n * sizeof(*sorted));
	if (sorted == NULL)
		return -ENOMEM;
	memcpy(sorted, refs, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), ref_order);
	for (unsigned i = 1; i < n && !found; i++)
		found = sorted[i] == sorted[i - 1];
	free(sorted);
	return found;
}

/* Every reference of the burst must be sendable before any is sent. */
static int send_many_check(struct shmslab *slab, const shmslab_ref *refs, unsigned n)
{
	int err;

	for (unsigned i = 0; i < n; i++) {
		struct slot_meta *m;

		err = ref_check(slab, refs[i]);
		if (err)
			return err;
		m = slot_meta(slab, ref_index(slab, refs[i]));
		/* acquire: a state of a later allocation comes with its epoch */
		err = send_refused(slab, m, sa_load_acquire_u64(&m->state), ref_want(slab, refs[i]));
		if (err)
			return err;
	}
	err = repeated(refs, n);
	return err > 0 ? -EINVAL : err;
}

static int send_many_call(struct shmslab *slab, const shmslab_ref *refs, unsigned n)
{
	struct lane *lane;
	unsigned sent = 0;
	int err;

	if (refs == NULL || n == 0 || n > INT_MAX)
		return -EINVAL;
	err = send_many_check(slab, refs, n);
	if (err)
		return err;
	lane = shmslab__lane_enter(slab);
	/* one lane names one slot at a time: a death leaves each sent or not */
	while (sent < n && (err = send_one(slab, lane, refs[sent])) == 0)
		if (++sent == 1 && n > 1)
			KILLPOINT(send_many_partway);
	shmslab__lane_leave(slab, lane);
	if (sent == 0)
		return err;
	shmslab__queue_wake(slab); /* once for the burst */
	return (int)sent;
}

int shmslab_send_many(struct shmslab *slab, const shmslab_ref *refs, unsigned n)
{
	return CALL(slab, true, send_many_call(slab, refs, n));
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* When a wait of TIMEOUT_MS (-1: forever, 0: none) begun now ends, for wait_left. */
int64_t shmslab__wait_deadline(int timeout_ms)
{
	return timeout_ms > 0 ? now_ms() + timeout_ms : 0;
}

/*
 * Found nothing yet, in a wait of TIMEOUT_MS that ends at DEADLINE: 0 with
 * the milliseconds to sleep in *LEFT (-1: no end), -EAGAIN for a wait of 0,
 * -ETIMEDOUT once it is over.
 */
int shmslab__wait_left(int timeout_ms, int64_t deadline, int *left)
{
	int64_t ms = -1;

	if (timeout_ms == 0)
		return -EAGAIN;
	if (timeout_ms > 0) {
		ms = deadline - now_ms();
		if (ms <= 0)
			return -ETIMEDOUT;
	}
	*left = ms > INT32_MAX ? INT32_MAX : (int)ms;
	return 0;
}

/* Make slot IDX, just taken from the ring, this process's; its reference in *REF. */
static int own_received(struct shmslab *s, uint32_t idx, shmslab_ref *ref)
{
	struct slot_meta *m = slot_meta(s, idx);
	/* acquire: the sender's CAS to QUEUED published the message with it */
	uint64_t st = sa_load_acquire_u64(&m->state);

	uint32_t gen;

	for (;;) {
		if (st_kind(st) != KIND_QUEUED)
			return SHMSLAB_ECORRUPT; /* a cell named a slot the queue does not own */
		/* generation 0 is no reference's: only damage writes it; repair it */
		gen = st_gen(st) != 0 ? st_gen(st) : 1;
		/* acq_rel: ours from here; on failure (a lock changed) look again */
		if (sa_cas_acq_rel_u64(&m->state, &st,
				       (st & ST_LOCK_BITS) | st_make(KIND_OWNED, s->self + 1, gen)))
			break;
	}
	KILLPOINT(recv_owned);
	*ref = ref_make(s, idx, gen);
	return 0;
}

/*
 * Take up to N references from the queue into REFS, through one lane: how
 * many, or when there was none, the error that stopped it (-ENOENT for an
 * empty queue).
 */
static int take_many(struct shmslab *slab, shmslab_ref *refs, unsigned n)
{
	struct lane *lane = shmslab__lane_enter(slab);
	unsigned got = 0;
	int err;

	do {
		uint32_t idx;

		err = shmslab__queue_take(slab, lane, &idx);
		if (err == 0)
			err = own_received(slab, idx, &refs[got]);
		shmslab__lane_set(lane, LANE_IDLE, 0);
		if (err)
			break;
		if (++got == 1 && n > 1)
			KILLPOINT(recv_many_partway);
	} while (got < n);
	shmslab__lane_leave(slab, lane);
	return got > 0 ? (int)got : err;
}

/* Wait, as shmslab_recv, for one reference; then take up to N - 1 more. */
static int recv_call(struct shmslab *slab, shmslab_ref *refs, unsigned n, int timeout_ms)
{
	int64_t deadline = shmslab__wait_deadline(timeout_ms);
	int err;

	if (refs == NULL || n == 0 || n > INT_MAX || timeout_ms < -1)
		return -EINVAL;
	for (;;) {
		int left;

		err = take_many(slab, refs, n);
		if (err > 0)
			return err; /* what stopped the rest is for the next call */
		if (err == -EAGAIN) {
			err = shmslab__recover_wait(slab);
			if (err)
				return err;
			continue;
		}
		if (err != -ENOENT)
			return err;
		if ((err = shmslab__wait_left(timeout_ms, deadline, &left)) != 0)
			return err;
		/* a signal handler that ran, or a close, ends the wait */
		err = shmslab__queue_wait(slab, left);
		if (err)
			return err;
	}
}

/* recv_call, whose wait is a cancellation point: the call ends either way. */
static void recv_cancellable(struct shmslab *slab, shmslab_ref *refs, unsigned n, int timeout_ms,
			     int *got)
{
	pthread_cleanup_push(shmslab__call_cancelled, NULL);
	*got = recv_call(slab, refs, n, timeout_ms);
	pthread_cleanup_pop(0);
}

/* The call around recv_cancellable, for both receives.  *GOT as recv_call's. */
static inline int recv_entered(struct shmslab *slab, shmslab_ref *refs, unsigned n, int timeout_ms)
{
	int got = call_enter(slab, true);

	if (got == 0) {
		recv_cancellable(slab, refs, n, timeout_ms, &got);
		call_leave();
	}
	return got;
}

int shmslab_recv_many(struct shmslab *slab, shmslab_ref *refs, unsigned n, int timeout_ms)
{
	return recv_entered(slab, refs, n, timeout_ms);
}

/* flatten: the hot path of a message, inlined whole, as shmslab_alloc */
__attribute__((flatten)) int shmslab_recv(struct shmslab *slab, shmslab_ref *ref, int timeout_ms)
{
	int got = recv_entered(slab, ref, 1, timeout_ms);

	return got > 0 ? 0 : got;
}
