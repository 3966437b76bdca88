/* SPDX-License-Identifier: MIT */
/*
 * shmslab_send and shmslab_recv: handing a slot from its owner to the queue
 * and from the queue to a receiver.  The slot's state word says where it is
 * (OWNED by a process, or QUEUED, owned by the queue), and the lane of the
 * thread moving it names it for as long as the state and the ring disagree:
 * after a send has made it QUEUED and before a cell holds it, and after a
 * receive has emptied its cell and before it is OWNED again.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "internal.h"

static int send_call(struct shmslab *slab, shmslab_ref ref)
{
	uint32_t idx, gen = ref_gen(ref);
	struct slot_meta *m;
	struct lane *lane;
	uint64_t st, sent, want;
	int err = ref_check(slab, ref);

	if (err)
		return err;
	idx = ref_index(slab, ref);
	want = ref_want(slab, ref);
	m = slot_meta(slab, idx);
	lane = shmslab__lane_enter(slab);
	shmslab__lane_set(lane, LANE_SEND, idx);
	KILLPOINT(send_journaled);
	/* acquire: a state of a later allocation comes with its epoch */
	st = sa_load_acquire_u64(&m->state);
	for (;;) {
		if (!st_gen_is(slab, m, st, want) ||
		    (st_kind(st) != KIND_OWNED && st_kind(st) != KIND_QUEUED)) {
			err = -ESTALE;
			goto out;
		}
		if (st_kind(st) == KIND_QUEUED) {
			err = -EBUSY;
			goto out;
		}
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
	} else {
		shmslab__queue_wake(slab);
	}
out:
	shmslab__lane_set(lane, LANE_IDLE, 0);
	shmslab__lane_leave(slab, lane);
	return err;
}

int shmslab_send(struct shmslab *slab, shmslab_ref ref)
{
	return CALL(slab, true, send_call(slab, ref));
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

static int recv_call(struct shmslab *slab, shmslab_ref *ref, int timeout_ms)
{
	int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
	int err;

	if (ref == NULL || timeout_ms < -1)
		return -EINVAL;
	for (;;) {
		struct lane *lane = shmslab__lane_enter(slab);
		uint32_t idx;
		int64_t left = -1;

		err = shmslab__queue_take(slab, lane, &idx);
		if (err == 0)
			err = own_received(slab, idx, ref);
		shmslab__lane_set(lane, LANE_IDLE, 0);
		shmslab__lane_leave(slab, lane);
		if (err == -EAGAIN) {
			err = shmslab__recover_wait(slab);
			if (err)
				return err;
			continue;
		}
		if (err != -ENOENT)
			return err;
		if (timeout_ms == 0)
			return -EAGAIN;
		if (timeout_ms > 0) {
			left = deadline - now_ms();
			if (left <= 0)
				return -ETIMEDOUT;
		}
		/* a signal handler that ran, or a close, ends the wait */
		err = shmslab__queue_wait(slab, left > INT32_MAX ? INT32_MAX : (int)left);
		if (err)
			return err;
	}
}

static void recv_cancelled(void *unused)
{
	(void)unused;
	call_leave();
}

/* recv_call, whose wait is a cancellation point: the call ends either way. */
static void recv_cancellable(struct shmslab *slab, shmslab_ref *ref, int timeout_ms, int *err)
{
	pthread_cleanup_push(recv_cancelled, NULL);
	*err = recv_call(slab, ref, timeout_ms);
	pthread_cleanup_pop(0);
}

int shmslab_recv(struct shmslab *slab, shmslab_ref *ref, int timeout_ms)
{
	int err = call_enter(slab, true);

	if (err == 0) {
		recv_cancellable(slab, ref, timeout_ms, &err);
		call_leave();
	}
	return err;
}
