/* SPDX-License-Identifier: MIT */
/*
 * The handoff queue: a bounded multi-producer multi-consumer ring of slot
 * indices in the segment.  Ticket t lives in cell t mod ring, on lap
 * t / ring.  A sender fills the cell of ticket enq with one CAS, from (lap,
 * empty) to (lap, slot); a receiver empties the cell of ticket deq with one
 * CAS, from (lap, slot) to (lap + 1, empty).  Those CASes are the only ways
 * into and out of the queue, so a process that dies between two steps never
 * leaves a cell half claimed: enq and deq only say where to look next, and
 * whoever finds the cell there already done moves them on.  Tickets of one
 * sender are taken in the order it sends, and cells are emptied in ticket
 * order, so the queue is FIFO for each producer.
 *
 * Receivers sleep on a futex word that senders bump only when a bit of the
 * sleepers bitmap says someone sleeps: a send with nobody waiting makes no
 * system call.  The bit is the process's, set by the thread that moves the
 * process's count of sleeping threads from 0 and cleared by the one that
 * moves it back, so what a dead process leaves is exactly its own bit.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>

#include "internal.h"

#define QUEUE_SLICE_MS 100  /* a sleeping receiver looks again this often */
#define QUEUE_SPIN     2000 /* a receiver looks this many times before it sleeps */

static uint64_t cell_make(uint64_t lap, uint32_t content)
{
	return ((lap & CELL_LAP_MASK) << 32) | content;
}

static uint32_t cell_lap(uint64_t cell)
{
	return (uint32_t)(cell >> 32) & CELL_LAP_MASK;
}

static uint64_t ticket_lap(const struct shmslab *s, uint64_t t)
{
	return (t >> s->g.queue_shift) & CELL_LAP_MASK;
}

static _Atomic uint64_t *cell_of(const struct shmslab *s, uint64_t t)
{
	return &s->queue->cells[t & (s->g.queue_ring - 1)];
}

/* Move TICKET on from T to T + 1 unless someone did; either way is fine. */
static void advance(_Atomic uint64_t *ticket, uint64_t t)
{
	/* acq_rel: the cell's CAS is ordered before; a failure means it moved on */
	sa_cas_acq_rel_u64(ticket, &t, t + 1);
}

/* The receiver at deq has emptied its cell but not moved deq yet: move it.  */
static bool help_deq(struct shmslab *s)
{
	/* acquire: a ticket seen moved on comes with its cell's new word */
	uint64_t t = sa_load_acquire_u64(&s->queue->deq);
	uint64_t c = sa_load_acquire_u64(cell_of(s, t));

	if (c != cell_make(ticket_lap(s, t) + 1, 0))
		return false;
	advance(&s->queue->deq, t);
	return true;
}

/*
 * Put slot IDX in the queue.  -ENOSPC when it holds queue_depth references,
 * -EAGAIN when a recoverer holds the ring (wait for it, then try again),
 * SHMSLAB_ECORRUPT for counters no queue can have.
 */
int shmslab__queue_put(struct shmslab *s, uint32_t idx)
{
	unsigned round = 0;

	for (;;) {
		/* acquire: a ticket moved on comes with its cell's new word */
		uint64_t t = sa_load_acquire_u64(&s->queue->enq);
		uint64_t lap = ticket_lap(s, t);
		uint64_t c = sa_load_acquire_u64(cell_of(s, t)), deq;
		int64_t queued;

		if (c & CELL_BLOCKED)
			return -EAGAIN;
		if ((cell_lap(c) == lap && (uint32_t)c != 0) || c == cell_make(lap + 1, 0)) {
			/* filled by a sender that did not move enq on (it may have died,
			 * and a receiver may have emptied the cell since): move it */
			advance(&s->queue->enq, t);
			continue;
		}
		/*
		 * Room, first by the deq we saw last, so that a sender does not
		 * pull the receivers' line across at every message (as Rigtorp's
		 * SPSC queue caches the opposite index): deq only grows, so an old
		 * value only overstates what is queued.  Only a cell found empty
		 * on its lap is filled on that word alone; a queue that looks full
		 * by it, or a cell in any other state, is judged on deq itself,
		 * read after the cell, as the checks below need.
		 */
		/* relaxed: only a bound on deq; the cell's CAS decides */
		queued = (int64_t)(t - sa_load_relaxed_u64(&s->deq_seen));
		if (c == cell_make(lap, 0) && queued >= 0 && (uint64_t)queued < s->g.queue_depth)
			goto room;
		/* acquire: as the enq read above */
		deq = sa_load_acquire_u64(&s->queue->deq);
		/* relaxed: a hint for this process's senders, as above */
		sa_store_relaxed_u64(&s->deq_seen, deq);
		queued = (int64_t)(t - deq);
		if (queued < 0) {
			/* a cell is filled only at enq and emptied only at deq, so deq
			 * passes enq by one ticket at most: filled and emptied since */
			/* acquire: as above */
			if (queued < -1 && sa_load_acquire_u64(&s->queue->enq) == t)
				return SHMSLAB_ECORRUPT;
			advance(&s->queue->enq, t);
			continue;
		}
		if ((uint64_t)queued >= s->g.queue_depth) {
			/* enq passes a ticket only after its cell was filled, and a cell
			 * is filled only with room: more than the depth is no queue's.
			 * acquire: as the enq read above */
			if ((uint64_t)queued > s->g.queue_depth &&
			    sa_load_acquire_u64(&s->queue->enq) == t)
				return SHMSLAB_ECORRUPT;
			if (help_deq(s))
				continue;
			return -ENOSPC;
		}
	room:
		if (c == cell_make(lap, 0)) {
			/* seq_cst: filled before we look for sleepers (queue_wake) */
			if (sa_cas_seq_cst_u64(cell_of(s, t), &c, cell_make(lap, idx + 1))) {
				KILLPOINT(send_published);
				advance(&s->queue->enq, t);
				return 0;
			}
			continue;
		}
		/*
		 * The cell is a lap behind, not yet emptied, or no queue's.  Behind
		 * means full, but deq said otherwise: it moves past a ticket only
		 * after emptying its cell, so a look at the cell after deq sees it
		 * on our lap.  Still the same cell, with enq unmoved: damage.
		 */
		/* acquire: as above */
		if (sa_load_acquire_u64(cell_of(s, t)) == c &&
		    sa_load_acquire_u64(&s->queue->enq) == t)
			return SHMSLAB_ECORRUPT;
		shmslab__os_backoff(&round); /* a stale look: the cell has moved on */
	}
}

/*
 * Whether the cell of ticket T, seen empty on its lap as C, is a hole that no
 * sender will ever fill.  enq moves past a ticket only after its cell was
 * filled (by the sender, or by whoever saw it filled), so once enq reads
 * past T the cell's fill is seen; if the cell still reads C, empty on T's
 * lap, a damaged enq (or cell) left it empty for good.  An enq more than
 * the queue's depth ahead is no queue's: not a hole to step over.
 */
static bool hole_at(struct shmslab *s, uint64_t t, uint64_t c)
{
	/* acquire: a ticket seen moved on comes with its cell's fill */
	uint64_t ahead = sa_load_acquire_u64(&s->queue->enq) - t;

	/* acquire, both: the cell and deq as they are after that fill */
	return ahead - 1 < s->g.queue_depth && sa_load_acquire_u64(cell_of(s, t)) == c &&
	       sa_load_acquire_u64(&s->queue->deq) == t;
}

/*
 * Whether enq reads more than one ticket behind T, the deq just read: deq
 * passes enq by one ticket at most (the sender that filled the cell before
 * T had read enq there, before the fill that deq waited for), so that is a
 * damaged deq or enq, which senders that measure room against an old deq
 * do not look at.
 */
static bool enq_behind(struct shmslab *s, uint64_t t)
{
	/* acquire: ordered after the deq read, which came after that fill */
	return (int64_t)(sa_load_acquire_u64(&s->queue->enq) - t) < -1;
}

/*
 * Take the oldest slot of the queue into *idx.  -ENOENT when the queue is
 * empty, -EAGAIN when a recoverer holds the ring, SHMSLAB_ECORRUPT for a cell
 * that names no slot.  On success LANE still names the slot: the caller
 * records its new owner, then clears the lane.
 */
int shmslab__queue_take(struct shmslab *s, struct lane *lane, uint32_t *idx)
{
	unsigned round = 0;

	for (;;) {
		/* acquire: a ticket seen moved on comes with its cell's new word */
		uint64_t t = sa_load_acquire_u64(&s->queue->deq);
		uint64_t lap = ticket_lap(s, t);
		/* acquire: the sender's CAS published the slot's QUEUED state before */
		uint64_t c = sa_load_acquire_u64(cell_of(s, t));
		uint32_t content = (uint32_t)c;

		if (c & CELL_BLOCKED)
			return -EAGAIN;
		if (c == cell_make(lap, 0)) {
			if (!hole_at(s, t, c))
				return enq_behind(s, t) ? SHMSLAB_ECORRUPT : -ENOENT;
			/* step over it as a receiver of nothing: the queue goes on, and
			 * what was sent after the hole is received */
			/* acq_rel: as a receive's empty, of nothing; a failure looks again */
			if (sa_cas_acq_rel_u64(cell_of(s, t), &c, cell_make(lap + 1, 0)))
				advance(&s->queue->deq, t);
			continue;
		}
		if (c == cell_make(lap + 1, 0)) {
			advance(&s->queue->deq, t); /* emptied by another, deq not moved yet */
			continue;
		}
		if (cell_lap(c) == lap && content != 0) {
			int err = slot_check(s, content - 1);

			if (err != 0 && err != -ERANGE)
				return err; /* a page we cannot map: the cell keeps it */
			if (err) {
				/* acquire: as the first look at the cell */
				if (sa_load_acquire_u64(cell_of(s, t)) == c)
					return SHMSLAB_ECORRUPT;
				continue;
			}
			shmslab__lane_set(lane, LANE_RECV, content - 1);
			KILLPOINT(recv_journaled);
			/* acq_rel: the lane entry is published before the slot leaves the ring */
			if (sa_cas_acq_rel_u64(cell_of(s, t), &c, cell_make(lap + 1, 0))) {
				KILLPOINT(recv_taken);
				advance(&s->queue->deq, t);
				*idx = content - 1;
				return 0;
			}
			/* another receiver took it: the slot is not ours to name */
			shmslab__lane_set(lane, LANE_IDLE, 0);
		/* acquire: as above */
		} else if (sa_load_acquire_u64(&s->queue->deq) == t &&
			   sa_load_acquire_u64(cell_of(s, t)) == c) {
			/*
			 * While deq is T, the cell can only be on lap T's, full or empty,
			 * or emptied to the next: senders fill the next lap only once
			 * deq has passed T.  Having read the cell, we would see deq
			 * moved on; it did not, so the cell is not a queue's.
			 */
			return SHMSLAB_ECORRUPT;
		}
		shmslab__os_backoff(&round);
	}
}

/* Bump SIGNAL and wake every thread asleep on it. */
void shmslab__sleep_wake(_Atomic uint32_t *signal)
{
	/* seq_cst: a sleeper that reads the bump, then looks at what it was
	 * bumped for, sees that too; the futex call orders the bump before its wake */
	sa_fetch_add_seq_cst_u32(signal, 1);
	shmslab__os_futex_wake(signal);
}

/* A sender filled a cell: wake the receivers, if any sleeps. */
void shmslab__queue_wake(struct shmslab *s)
{
	for (uint32_t w = 0; w < s->g.reader_words; w++) {
		/* seq_cst: pairs with the receiver's bit-set then look (queue_wait) */
		if (sa_load_seq_cst_u64(&s->sleepers[w]) != 0) {
			shmslab__sleep_wake(&s->queue->signal);
			return;
		}
	}
}

/* Whether the cell at deq holds something (or needs a look). */
static bool queue_ready(struct shmslab *s, const void *unused)
{
	/* seq_cst: the look after our bit is set, in the wake handshake */
	uint64_t t = sa_load_seq_cst_u64(&s->queue->deq);
	uint64_t c = sa_load_seq_cst_u64(cell_of(s, t));

	(void)unused;
	return c != cell_make(ticket_lap(s, t), 0);
}

/*
 * Count this thread in (IN) or out of the process's sleepers at SPOT.  The
 * thread that moves the count from 0 sets the spot's bit, the one that
 * moves it back to 0 clears it; meanwhile the count reads SLEEP_BUSY, so no
 * other thread of ours sees the count and the bit disagree.
 */
static void sleeper_count(const struct sleep_spot *spot, bool in)
{
	uint32_t edge = in ? 0 : 1; /* the count at which the bit changes */
	unsigned round = 0;

	for (;;) {
		/* acquire: a count above 0 comes with the bit its first thread set */
		uint32_t c = sa_load_acquire_u32(spot->count);

		if (c == SLEEP_BUSY) {
			shmslab__os_backoff(&round);
			continue;
		}
		if (c != edge) {
			/*
			 * The bit stays as it is.  Joining, our look comes after it
			 * was set: this CAS reads the first thread's release store,
			 * made after the bit.  acq_rel; a failure looks again.
			 */
			if (sa_cas_acq_rel_u32(spot->count, &c, in ? c + 1 : c - 1))
				return;
			continue;
		}
		/* acq_rel: we own the move across the edge; a failure looks again */
		if (!sa_cas_acq_rel_u32(spot->count, &c, SLEEP_BUSY))
			continue;
		if (in)
			/* seq_cst, set then look: pairs with the waker's fill then look */
			sa_fetch_or_seq_cst_u64(spot->word, spot->bit);
		else
			/* release, then the count's: a thread of ours counting from 0 next
			 * sets it after this; a waker still seeing it only wakes nobody */
			sa_fetch_and_release_u64(spot->word, ~spot->bit);
		/* release: the bit is as the count says before another thread reads it */
		sa_store_release_u32(spot->count, in ? 1 : 0);
		return;
	}
}

static void sleeper_uncount(void *spot)
{
	if (((const struct sleep_spot *)spot)->count != NULL)
		sleeper_count(spot, false);
}

/*
 * The sleep of sleep_wait, marked among the sleepers, into *ERR.  A
 * cancellation point: cancelled asleep, a counted thread counts itself out
 * of the sleepers on its way.
 */
static void sleep_marked(struct shmslab *s, const struct sleep_spot *spot, int ms, int *err)
{
	uint32_t seen;

	pthread_cleanup_push(sleeper_uncount, (void *)spot);
	KILLPOINT(recv_waiting);
	/* seq_cst: read after our bit is set, so a bump after it changes the word */
	seen = sa_load_seq_cst_u32(spot->signal);
	/* relaxed: a closer sets it, then bumps signal, which our sleep sees */
	if (sa_load_relaxed_u32(&s->closing) != 0)
		*err = -EBADF;
	else if (!spot->ready(s, spot->arg))
		*err = shmslab__os_futex_wait_cancellable(spot->signal, seen, ms);
	KILLPOINT(recv_woken);
	pthread_cleanup_pop(1);
}

/*
 * Sleep until a waker may have made SPOT ready, at most MS milliseconds (and
 * at most a slice, after which the caller looks again anyway).  With a
 * COUNT, the process's bit stays set while any of its threads sleeps; with
 * none, every thread sets it before it sleeps and the waker clears it as it
 * wakes them, so that wakers after it make no call until someone sleeps
 * again.  Answers 0, -EINTR when a signal handler ran meanwhile, or -EBADF
 * when another thread is closing S.
 */
int shmslab__sleep_wait(struct shmslab *s, const struct sleep_spot *spot, int ms)
{
	int err = 0;

	if (ms < 0 || ms > QUEUE_SLICE_MS)
		ms = QUEUE_SLICE_MS;
	/* a sender that is streaming fills the next cell within microseconds:
	 * waiting that long awake spares it a wake-up call per message */
	for (unsigned i = 0; i < QUEUE_SPIN; i++) {
		if (spot->ready(s, spot->arg))
			return 0;
		sa_cpu_relax(); /* a spin-wait hint: no atomic, orders nothing */
	}
	if (spot->count != NULL)
		sleeper_count(spot, true);
	else
		/* seq_cst, set then look: pairs with the waker's fill then look */
		sa_fetch_or_seq_cst_u64(spot->word, spot->bit);
	sleep_marked(s, spot, ms, &err);
	return err == -EINTR || err == -EBADF ? err : 0;
}

/* Sleep until a sender may have filled a cell, as shmslab__sleep_wait. */
int shmslab__queue_wait(struct shmslab *s, int ms)
{
	struct sleep_spot spot = {
		.count = &s->sleeping,
		.word = &s->sleepers[s->self / 64],
		.bit = UINT64_C(1) << (s->self % 64),
		.signal = &s->queue->signal,
		.ready = queue_ready,
	};

	return shmslab__sleep_wait(s, &spot, ms);
}

/*
 * S is being closed: wake its threads asleep on the queue or on one of its
 * subscriptions, to see it.
 */
void shmslab__queue_wake_all(struct shmslab *s)
{
	bool subscribed;

	/* acquire: a count above 0 comes with its sleepers' look at signal */
	if (sa_load_acquire_u32(&s->sleeping) != 0)
		shmslab__sleep_wake(&s->queue->signal);
	pthread_mutex_lock(&s->subs_lock);
	subscribed = s->subs != NULL;
	pthread_mutex_unlock(&s->subs_lock);
	/* a subscription's sleepers are not counted: wake whoever sleeps there */
	if (subscribed)
		shmslab__sleep_wake(&s->fan->signal);
}

/*
 * For recovery: clear the sleeper bits of ENTRIES (a bit per process-table
 * entry: processes that died), and any bit beyond the table, which names no
 * process, so that senders stop waking nobody.  Nobody else sets or clears
 * the bit of a dead entry.
 */
void shmslab__queue_release_sleepers(struct shmslab *s, const uint64_t *entries)
{
	for (uint32_t w = 0; w < s->g.reader_words; w++) {
		uint32_t first = w * 64;
		uint64_t beyond = first + 64 <= s->g.max_procs ? 0 : UINT64_MAX << (s->g.max_procs - first);
		/* relaxed: the bits of dead entries change no more; a live bit is kept */
		uint64_t gone = sa_load_relaxed_u64(&s->sleepers[w]) & (entries[w] | beyond);

		if (gone != 0)
			/* release: nothing to publish but the clearing itself */
			sa_fetch_and_release_u64(&s->sleepers[w], ~gone);
	}
}

/* For recovery: hold every cell, so that nothing enters or leaves the queue. */
void shmslab__queue_block(struct shmslab *s)
{
	for (uint32_t i = 0; i < s->g.queue_ring; i++) {
		_Atomic uint64_t *cell = &s->queue->cells[i];
		/* acquire: the cell's last fill or empty is seen before we block it */
		uint64_t c = sa_load_acquire_u64(cell);

		/* acq_rel: every fill and empty of the cell before is seen, none after */
		while (!(c & CELL_BLOCKED) && !sa_cas_acq_rel_u64(cell, &c, c | CELL_BLOCKED))
			;
	}
}

void shmslab__queue_unblock(struct shmslab *s)
{
	for (uint32_t i = 0; i < s->g.queue_ring; i++) {
		_Atomic uint64_t *cell = &s->queue->cells[i];
		/* acquire: as in block */
		uint64_t c = sa_load_acquire_u64(cell);

		/* release: the recoverer's changes reach whoever uses the cell next;
		 * weak: the loop looks again */
		while ((c & CELL_BLOCKED) && !sa_cas_weak_release_u64(cell, &c, c & ~CELL_BLOCKED))
			;
	}
}

bool shmslab__queue_is_blocked(const struct shmslab *s)
{
	for (uint32_t i = 0; i < s->g.queue_ring; i++)
		/* acquire: a cell seen unblocked comes with the recoverer's changes */
		if (sa_load_acquire_u64(&s->queue->cells[i]) & CELL_BLOCKED)
			return true;
	return false;
}

/* The slot cell I holds, or UINT32_MAX if it holds none. */
uint32_t shmslab__queue_cell_slot(const struct shmslab *s, uint32_t i)
{
	/* acquire: as any look at a cell; the caller holds them blocked */
	uint32_t content = (uint32_t)sa_load_acquire_u64(&s->queue->cells[i]);

	return content == 0 ? UINT32_MAX : content - 1;
}
