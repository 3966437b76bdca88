/* SPDX-License-Identifier: MIT */
/*
 * The per-slot reader-writer lock, shared by processes.  It must record who
 * holds it, exactly, so that the locks of a process that died can be taken
 * away from it, which no POSIX lock allows:
 *
 *   - the writer is the process-table entry in the slot's state word, set by
 *     the same CAS that takes the lock;
 *   - each process that reads the slot has its bit set in the slot's reader
 *     bitmap; its threads count their holds in process memory, and only the
 *     thread that moves the count between 0 and 1 touches the bit.
 *
 * A reader sets its bit and then looks for a writer; a writer sets itself in
 * the state word and then looks for reader bits.  Both sides use sequentially
 * consistent operations, so at least one of them sees the other (Dekker):
 * the reader backs out, or the writer waits for the reader to leave.
 * Waiting is a futex sleep on a shared word, never a spin.
 *
 * A wait that finds the holder it waits for dead does not repair anything:
 * it answers SLOT_HOLDER_DEAD, and the caller, a layer up, recovers and
 * tries again (the shmslab__lock_* wrappers), as LMDB's raw lock reports
 * EOWNERDEAD and its wrapper repairs.
 */
#include "config.h"

#include <errno.h>

#include "internal.h"

#define RC_BUSY	      UINT32_MAX /* a thread is moving this process's count between 0 and 1 */
#define WAIT_SLICE_MS 100	 /* waits wake up this often to look at the world again */

/* The low half of the state word: writer, waiters, torn, owner and kind. */
static _Atomic uint32_t *state_futex(struct slot_meta *m)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (_Atomic uint32_t *)(void *)&m->state;
#else
	return (_Atomic uint32_t *)(void *)((char *)&m->state + 4);
#endif
}

/*
 * Whether a process-table entry in STATE can hold no lock: a process takes
 * locks while LIVE, and they stay with its DEAD entry until recovery
 * releases them.  Free, being claimed, or no state at all holds none.
 */
static bool holds_no_lock(uint32_t state)
{
	return state != PROC_LIVE && state != PROC_DEAD;
}

/*
 * Whether the writer field of SEEN, still in M's state word, was left by
 * damage.  A writer keeps its entry LIVE until it has let go, and only it
 * (or recovery, while the entry is DEAD) lets go; so a field that still
 * names the writer after its entry was seen in another state names nobody,
 * and no one will ever clear it.  Unless the entry was claimed again in
 * between and its new process locked the slot the same way: every claim
 * moves the incarnation on, so the entry's word, unchanged around our look
 * at the slot, says it was not.
 */
static bool writer_names_nobody(struct shmslab *s, struct slot_meta *m, uint64_t seen)
{
	_Atomic uint64_t *entry = &shmslab__proc_entry(s, st_writer(seen) - 1)->state;
	/* acquire: a writer field cleared before its entry's release is seen cleared */
	uint64_t before = sa_load_acquire_u64(entry);

	/* acquire, both: the entry's word after our look at the slot's */
	return holds_no_lock(pe_state(before)) && sa_load_acquire_u64(&m->state) == seen &&
	       sa_load_acquire_u64(entry) == before;
}

/*
 * Sleep until the state word moves on from SEEN, whose writer field is set.
 * Sets the waiters bit first so the writer knows to wake us.  A wait that
 * outlasts a slice checks whether the writer is alive: SLOT_HOLDER_DEAD if
 * it died, for the caller to recover (its message is then torn); not here,
 * bit by bit, since only recovery knows the entry is not being reused
 * meanwhile.  SHMSLAB_ECORRUPT for a writer field that names no entry, or
 * one that holds no lock; -EBADF when the handle is being closed.
 */
static int wait_writer(struct shmslab *s, uint32_t idx, uint64_t seen)
{
	struct slot_meta *m = slot_meta(s, idx);
	uint32_t writer = st_writer(seen);

	if (writer > s->g.max_procs)
		return SHMSLAB_ECORRUPT; /* no process holds it, nobody will let go */
	if (!(st_low(seen) & ST_WAITERS)) {
		uint64_t want = seen | ST_WAITERS;

		/* acq_rel: on failure the word moved on and the caller looks again */
		if (!sa_cas_acq_rel_u64(&m->state, &seen, want))
			return 0;
		seen = want;
	}
	if (shmslab__os_futex_wait(state_futex(m), st_low(seen), WAIT_SLICE_MS) != -ETIMEDOUT ||
	    writer == 0)
		return 0;
	/* relaxed: a closer waits for us; seen at the latest a slice after it set it */
	if (sa_load_relaxed_u32(&s->closing) != 0)
		return -EBADF;
	if (writer_names_nobody(s, m, seen))
		return SHMSLAB_ECORRUPT;
	return shmslab__proc_alive(s, writer - 1) ? 0 : SLOT_HOLDER_DEAD;
}

/*
 * Readers of word W of IDX have held it for a whole slice: whether one of
 * them, not among the IGNORED bits, died (a recovery can release its bit).
 */
static bool a_reader_died(struct shmslab *s, uint32_t idx, uint32_t w, uint64_t ignored)
{
	/* acquire: a reader's bit comes with its entry's state */
	uint64_t bits = sa_load_acquire_u64(&slot_meta(s, idx)->readers[w]) & ~ignored;

	for (; bits != 0; bits &= bits - 1)
		if (!shmslab__proc_alive(s, w * 64 + (uint32_t)__builtin_ctzll(bits)))
			return true;
	return false;
}

/* Reader bits of word W that name no process-table entry. */
static uint64_t beyond_table(const struct shmslab *s, uint32_t w)
{
	uint32_t first = w * 64;

	if (first + 64 <= s->g.max_procs)
		return 0;
	return first >= s->g.max_procs ? UINT64_MAX : UINT64_MAX << (s->g.max_procs - first);
}

/*
 * The reader bits of word W of IDX that no reader holding the lock can have
 * set, once the state word keeps readers out (our writer field, or FREEING).
 * A reader that sets its bit from then on sees that and backs out; one that
 * was in before keeps its entry LIVE (or DEAD, for recovery), and if it is of
 * this process keeps the count above 0, until its bit is clear.  So the bits
 * of entries that hold no lock, and ours while no thread of ours reads, were
 * left by damage: waiting for them would be waiting for ever.
 */
static uint64_t stray_readers(struct shmslab *s, uint32_t idx, uint32_t w)
{
	/* seq_cst, then acquire: a bit set by one of our threads is seen with its count */
	uint64_t bits = sa_load_seq_cst_u64(&slot_meta(s, idx)->readers[w]), stray = 0;

	for (bits &= ~beyond_table(s, w); bits != 0; bits &= bits - 1) {
		uint32_t entry = w * 64 + (uint32_t)__builtin_ctzll(bits);

		/* acquire: our count, as our other threads published it */
		if (entry == s->self ? sa_load_acquire_u32(slot_rcount(s, idx)) == 0
				     : holds_no_lock(shmslab__proc_state(s, entry)))
			stray |= bits & -bits;
	}
	return stray;
}

/* A reader left: wake the writer if it sleeps on the drain word. */
static void drain_notify(struct slot_meta *m)
{
	/* seq_cst: pairs with the writer's seq_cst exchange before its reader check */
	if (sa_load_seq_cst_u32(&m->drain) != 0 && sa_exchange_acq_rel_u32(&m->drain, 0) != 0)
		shmslab__os_futex_wake(&m->drain);
}

static void reader_bit(uint32_t entry, uint32_t *word, uint64_t *bit)
{
	*word = entry / 64;
	*bit = UINT64_C(1) << (entry % 64);
}

int shmslab__slot_read_lock(struct shmslab *s, uint32_t idx, uint64_t want)
{
	struct slot_meta *m = slot_meta(s, idx);
	_Atomic uint32_t *rc = slot_rcount(s, idx);
	unsigned round = 0;
	uint32_t word;
	uint64_t bit, st;
	int err;

	reader_bit(s->self, &word, &bit);
	for (;;) {
		/* acquire: a count above 0 comes with the bit its first thread set */
		uint32_t c = sa_load_acquire_u32(rc);

		if (c == RC_BUSY) {
			shmslab__os_backoff(&round);
			continue;
		}
		if (c > 0) {
			/*
			 * Our bit is set, so no writer is inside: join, even if one
			 * waits for the bit to clear.  Waiting for it instead would
			 * deadlock a thread that already holds a read lock here.
			 */
			/* acquire: a state of a later allocation comes with its epoch */
			st = sa_load_acquire_u64(&m->state);
			if (!st_readable(s, m, st, want))
				return -ESTALE;
			if (st_low(st) & ST_TORN)
				return -EOWNERDEAD;
			/* acq_rel: a failed join retries from a fresh count */
			if (sa_cas_acq_rel_u32(rc, &c, c + 1))
				return 0;
			continue;
		}
		/* acq_rel: we own the move from 0; a failure looks again */
		if (!sa_cas_acq_rel_u32(rc, &c, RC_BUSY))
			continue;
		/* seq_cst, set then look: pairs with the writer's CAS then look */
		sa_fetch_or_seq_cst_u64(&m->readers[word], bit);
		KILLPOINT(read_bit_set);
		st = sa_load_seq_cst_u64(&m->state);
		if (st_readable(s, m, st, want) && st_writer(st) == 0 && !(st_low(st) & ST_TORN)) {
			/* release: the hold is published to our other threads */
			sa_store_release_u32(rc, 1);
			return 0;
		}
		/* seq_cst: a reader leaving, as in read_unlock */
		sa_fetch_and_seq_cst_u64(&m->readers[word], ~bit);
		drain_notify(m);
		/* release: the bit is clear before another thread counts from 0 */
		sa_store_release_u32(rc, 0);
		if (!st_readable(s, m, st, want))
			return -ESTALE;
		if (st_writer(st) == 0)
			return -EOWNERDEAD;
		err = wait_writer(s, idx, st);
		if (err)
			return err;
	}
}

void shmslab__slot_read_unlock(struct shmslab *s, uint32_t idx)
{
	struct slot_meta *m = slot_meta(s, idx);
	_Atomic uint32_t *rc = slot_rcount(s, idx);
	unsigned round = 0;
	uint32_t word;
	uint64_t bit;

	reader_bit(s->self, &word, &bit);
	for (;;) {
		/* acquire: as in read_lock */
		uint32_t c = sa_load_acquire_u32(rc);

		if (c == 0)
			return; /* not held: a view released twice; nothing to undo */
		if (c == RC_BUSY) {
			shmslab__os_backoff(&round);
			continue;
		}
		if (c > 1) {
			/* acq_rel: the bit stays; a failure looks again */
			if (sa_cas_acq_rel_u32(rc, &c, c - 1))
				return;
			continue;
		}
		/* acq_rel: we own the move to 0; a failure looks again */
		if (!sa_cas_acq_rel_u32(rc, &c, RC_BUSY))
			continue;
		/* seq_cst: the cleared bit is ordered before our look at the drain word */
		sa_fetch_and_seq_cst_u64(&m->readers[word], ~bit);
		KILLPOINT(read_end_bit_cleared);
		drain_notify(m);
		/* release: as in read_lock's backing out */
		sa_store_release_u32(rc, 0);
		return;
	}
}

/*
 * Readers were seen on IDX: sleep on the drain word until they have all
 * left.  SLOT_HOLDER_DEAD when one outlasts a slice and died: the caller
 * recovers and drains again.
 */
int shmslab__slot_drain_wait(struct shmslab *s, uint32_t idx)
{
	struct slot_meta *m = slot_meta(s, idx);

	for (uint32_t w = 0; w < s->g.reader_words; w++) {
		uint64_t ignored = beyond_table(s, w);

		/* seq_cst: pairs with the reader's bit-set then state look */
		while ((sa_load_seq_cst_u64(&m->readers[w]) & ~ignored) != 0) {
			/* announce the sleep, then look again, so a reader that left
			 * in between either is seen gone or sees the announcement:
			 * seq_cst, against its clear then look */
			sa_exchange_seq_cst_u32(&m->drain, 1);
			/* seq_cst: the look after the announcement, against the reader's clear then look */
			if ((sa_load_seq_cst_u64(&m->readers[w]) & ~ignored) == 0)
				break;
			if (shmslab__os_futex_wait(&m->drain, 1, WAIT_SLICE_MS) == -ETIMEDOUT) {
				ignored |= stray_readers(s, idx, w);
				/* relaxed, as in wait_writer: our own reads end with the close
				 * that waits for us, and they are over for this slot */
				if (sa_load_relaxed_u32(&s->closing) != 0 && s->self / 64 == w)
					ignored |= UINT64_C(1) << (s->self % 64);
				if (a_reader_died(s, idx, w, ignored))
					return SLOT_HOLDER_DEAD;
			}
		}
	}
	/* relaxed: nobody sleeps on the word now; this only spares readers a wake */
	sa_store_relaxed_u32(&m->drain, 0);
	return 0;
}

/* shmslab__slot_close, once its first try met a writer or lost its CAS. */
int shmslab__slot_close_slow(struct shmslab *s, uint32_t idx, uint64_t want, enum slot_close how,
			     uint32_t *next_gen)
{
	struct slot_meta *m = slot_meta(s, idx);
	/* acquire: a state of a later allocation comes with its epoch */
	uint64_t st = sa_load_acquire_u64(&m->state);
	int err;

	while ((err = shmslab__slot_close_try(s, m, &st, want, how, next_gen)) == 1) {
		if (st_writer(st) != 0) {
			err = wait_writer(s, idx, st);
			if (err)
				return err;
			/* acquire: as above */
			st = sa_load_acquire_u64(&m->state);
		}
	}
	return err;
}

/* Release the write lock.  COMPLETE: the message is whole, so it is no longer torn. */
void shmslab__slot_write_unlock(struct shmslab *s, uint32_t idx, bool complete)
{
	struct slot_meta *m = slot_meta(s, idx);
	/* relaxed: a first guess; the CAS below checks it */
	uint64_t st = sa_load_relaxed_u64(&m->state);
	uint64_t clear = ST_WRITER_MASK | ST_WAITERS | (complete ? ST_TORN : 0);
	uint64_t want;

	do
		want = (st & ~clear) | (complete ? 0 : ST_TORN);
	/* release: the message bytes and length are visible to the next holder;
	 * weak: a failure recomputes and tries again */
	while (!sa_cas_weak_release_u64(&m->state, &st, want));
	if (st_low(st) & ST_WAITERS)
		shmslab__os_futex_wake(state_futex(m));
}

uint32_t shmslab__slot_reader_count(const struct shmslab *s, uint32_t idx)
{
	struct slot_meta *m = slot_meta(s, idx);
	uint32_t n = 0;

	for (uint32_t w = 0; w < s->g.reader_words; w++)
		/* relaxed: a count for diagnostics */
		n += (uint32_t)__builtin_popcountll(sa_load_relaxed_u64(&m->readers[w]));
	return n;
}

/*
 * Take away whatever process-table entry ENTRY holds on IDX: its read lock,
 * and its write lock, whose message is then torn since the write never
 * finished.  For a process that detaches, or one that died.
 */
void shmslab__slot_release_proc(struct shmslab *s, uint32_t idx, uint32_t entry)
{
	struct slot_meta *m = slot_meta(s, idx);
	/* acquire: as any look at a slot's holder */
	uint64_t st = sa_load_acquire_u64(&m->state);
	uint32_t word;
	uint64_t bit;

	reader_bit(entry, &word, &bit);
	/* relaxed: a bit of a dead or detaching entry changes no more */
	if (sa_load_relaxed_u64(&m->readers[word]) & bit) {
		/* seq_cst: as a reader leaving */
		sa_fetch_and_seq_cst_u64(&m->readers[word], ~bit);
		drain_notify(m);
	}
	while (st_writer(st) == entry + 1) {
		uint64_t want = (st & ~(uint64_t)(ST_WRITER_MASK | ST_WAITERS)) | ST_TORN;

		/* relaxed, before the CAS publishes it: the writer may have died
		 * asleep in its drain wait, and only a writer drains */
		sa_store_relaxed_u32(&m->drain, 0);
		/* acq_rel: as a writer leaving; on failure look again */
		if (sa_cas_acq_rel_u64(&m->state, &st, want)) {
			if (st_low(st) & ST_WAITERS)
				shmslab__os_futex_wake(state_futex(m));
			break;
		}
	}
}
