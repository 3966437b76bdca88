/* SPDX-License-Identifier: MIT */
/*
 * The invariant of tests/invariant.h.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "invariant.h"

static const char *fail(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static const char *fail(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return buf;
}

static bool entry_alive(struct shmslab *s, uint32_t id)
{
	return id != 0 && id <= s->g.max_procs && shmslab__proc_alive(s, id - 1);
}

/* Walk the chain from slot X, counting each slot's appearances in ON_LIST. */
static const char *walk_chain(struct shmslab *s, uint32_t x, uint32_t cap, uint8_t *on_list,
			      const char *what, uint32_t k, char *buf, size_t len)
{
	uint32_t n = 0;

	for (; x != shmslab__freelist_nil(s); x = atomic_load(&slot_meta(s, x)->next)) {
		if (x >= cap)
			return fail(buf, len, "%s %u links to slot %u beyond %u", what, k, x, cap);
		if (on_list[x]++ != 0)
			return fail(buf, len, "slot %u is on the free lists twice", x);
		if (++n > cap)
			return fail(buf, len, "%s %u has a cycle", what, k);
	}
	return NULL;
}

/*
 * Walk every free list (shards and remote lists) and every local list of a
 * live thread, counting each slot's appearances in ON_LIST.  A local list
 * taken before the last walk of a recovery is given up by its thread.
 */
static const char *walk_lists(struct shmslab *s, uint32_t cap, uint8_t *on_list, char *buf,
			      size_t len)
{
	const char *why;

	for_each_lane (s, e, lane) {
		uint32_t local = atomic_load(&lane->local);

		if (local == 0 || !shmslab__proc_alive(s, e) ||
		    atomic_load(&lane->local_walks) != atomic_load(&s->control->limbo_walks))
			continue;
		if ((why = walk_chain(s, local - 1, cap, on_list, "local list of entry", e, buf,
				      len)) != NULL)
			return why;
	}
	for (uint32_t k = 0; k < shmslab__lists(s); k++) {
		uint64_t head = atomic_load(&shmslab__list_head(s, k)->head);
		uint32_t x = (uint32_t)(head & s->g.idx_mask);

		if (x == shmslab__freelist_blocked(s))
			return fail(buf, len, "free list %u is still blocked", k);
		if ((why = walk_chain(s, x, cap, on_list, "list", k, buf, len)) != NULL)
			return why;
	}
	return NULL;
}

static const char *check_slot(struct shmslab *s, uint32_t i, bool listed, bool queued, char *buf,
			      size_t len)
{
	struct slot_meta *m = slot_meta(s, i);
	uint64_t st = atomic_load(&m->state);
	uint32_t kind = st_kind(st), owner = st_owner(st), writer = st_writer(st);

	if (st_gen(st) == 0)
		return fail(buf, len, "slot %u has generation 0", i);
	/* with nobody inside a lock call, nobody waits or drains */
	if (st_low(st) & ST_WAITERS)
		return fail(buf, len, "slot %u says someone waits for its writer", i);
	if (atomic_load(&m->drain) != 0)
		return fail(buf, len, "slot %u says its writer waits for readers", i);
	if (writer != 0 && !entry_alive(s, writer))
		return fail(buf, len, "slot %u is write-locked by dead entry %u", i, writer - 1);
	for (uint32_t w = 0; w < s->g.reader_words; w++) {
		uint64_t bits = atomic_load(&m->readers[w]);

		for (; bits; bits &= bits - 1) {
			uint32_t e = w * 64 + (uint32_t)__builtin_ctzll(bits);

			if (!entry_alive(s, e + 1))
				return fail(buf, len, "slot %u is read-locked by dead entry %u", i,
					    e);
		}
	}
	if (queued && kind != KIND_QUEUED)
		return fail(buf, len, "a queue cell names slot %u, which is not queued", i);
	switch (kind) {
	case KIND_FREE:
		if (!listed)
			return fail(buf, len, "slot %u is free but on no list: lost", i);
		if (owner != 0 || writer != 0)
			return fail(buf, len, "free slot %u has an owner or a writer", i);
		return NULL;
	case KIND_CACHED:
	case KIND_OWNED:
		if (listed)
			return fail(buf, len, "slot %u is on a free list and held (kind %u)", i,
				    kind);
		if ((kind == KIND_CACHED || owner != 0) && !entry_alive(s, owner))
			return fail(buf, len, "slot %u is held (kind %u) by dead entry %u", i, kind,
				    owner - 1);
		return NULL;
	case KIND_QUEUED:
		if (listed)
			return fail(buf, len, "queued slot %u is on a free list", i);
		if (!queued)
			return fail(buf, len, "slot %u is queued but in no cell: lost", i);
		return NULL;
	case KIND_RETIRED:
		if (listed || owner != 0 || writer != 0)
			return fail(buf, len, "retired slot %u is listed, owned or written", i);
		return NULL;
	case KIND_PUBLISHED: {
		uint64_t subs = atomic_load(&m->subs) & SUBS_MASK;
		uint64_t members = atomic_load(&s->fan->members);
		uint64_t t = atomic_load(&m->ticket);

		if (listed || owner != 0 || writer != 0)
			return fail(buf, len, "published slot %u is listed, owned or written", i);
		if (subs == 0)
			return fail(buf, len, "published slot %u is held by no subscription: lost", i);
		if (subs & ~members)
			return fail(buf, len, "published slot %u is held by subscriptions %#llx, "
				    "not members", i, (unsigned long long)(subs & ~members));
		if (t >= atomic_load(&s->fan->ticket) || (uint32_t)(atomic_load(&m->subs) >> 32) != (uint32_t)t)
			return fail(buf, len, "published slot %u has ticket %llu, beyond the ring's", i,
				    (unsigned long long)t);
		/* its cell is refilled a whole ring later, not before */
		if (atomic_load(&s->fan->ticket) - t <= s->g.fan_ring &&
		    atomic_load(&s->fan_cells[t & (s->g.fan_ring - 1)]) !=
			    ((((t >> s->g.fan_shift) & CELL_LAP_MASK) << 32) | (i + 1)))
			return fail(buf, len, "published slot %u, of ticket %llu, is not in its cell",
				    i, (unsigned long long)t);
		for (uint64_t bits = subs; bits; bits &= bits - 1) {
			struct sub_entry *se = shmslab__sub_entry(s, (uint32_t)__builtin_ctzll(bits));

			if (t < atomic_load(&se->start))
				return fail(buf, len, "published slot %u is held by a subscription "
					    "that came after it", i);
		}
		return NULL;
	}
	default:
		return fail(buf, len, "slot %u is caught between states (kind %u, owner %u)", i,
			    kind, owner);
	}
}

static const char *check_procs(struct shmslab *s, char *buf, size_t len)
{
	for (uint32_t e = 0; e < s->g.max_procs; e++) {
		struct proc_entry *pe = shmslab__proc_entry(s, e);
		uint32_t state = pe_state(atomic_load(&pe->state));

		if (state == PROC_FREE) {
			for (uint32_t l = 0; l < LANES; l++)
				if (atomic_load(&pe->lanes[l].window) != 0 ||
				    atomic_load(&pe->lanes[l].cached) != 0 ||
				    atomic_load(&pe->lanes[l].local) != 0)
					return fail(buf, len, "free entry %u lane %u names a slot",
						    e, l);
			continue;
		}
		if (state != PROC_LIVE || !shmslab__proc_alive(s, e))
			return fail(buf, len, "entry %u is held by a dead process (state %#x)", e,
				    state);
		for (uint32_t l = 0; l < LANES; l++)
			if (atomic_load(&pe->lanes[l].window) >> 32 != LANE_IDLE)
				return fail(buf, len, "live entry %u lane %u is in a window", e, l);
	}
	return NULL;
}

/* Every full cell names a QUEUED slot, each at most once, and nothing is blocked. */
static const char *walk_queue(struct shmslab *s, uint32_t cap, uint8_t *in_queue, char *buf,
			      size_t len)
{
	uint32_t full = 0;

	for (uint32_t i = 0; i < s->g.queue_ring; i++) {
		uint64_t c = atomic_load(&s->queue->cells[i]);
		uint32_t x = (uint32_t)c;

		if (c & CELL_BLOCKED)
			return fail(buf, len, "queue cell %u is still blocked", i);
		if (x == 0)
			continue;
		if (x - 1 >= cap)
			return fail(buf, len, "queue cell %u names slot %u beyond %u", i, x - 1,
				    cap);
		if (in_queue[x - 1]++ != 0)
			return fail(buf, len, "slot %u is in the queue twice", x - 1);
		if (++full > s->g.queue_depth)
			return fail(buf, len, "the queue holds more than its depth");
	}
	return NULL;
}

/*
 * Publish/subscribe: nobody's turn, the members are exactly the live
 * subscriptions, and each has every message from its cursor to the ticket
 * waiting in the ring, published to it.
 */
static const char *check_fan(struct shmslab *s, uint32_t cap, char *buf, size_t len)
{
	uint64_t members = 0, ticket = atomic_load(&s->fan->ticket);

	if (atomic_load(&s->fan->busy) != 0)
		return fail(buf, len, "entry %u keeps the fan-out turn",
			    atomic_load(&s->fan->busy) - 1);
	/* a live subscription's mark may outlive its sleep, until a publish
	 * clears it; a dead one's may not */
	if (atomic_load(&s->fan->sleepers) & ~atomic_load(&s->fan->members))
		return fail(buf, len, "subscriptions %#llx are marked asleep, and are none",
			    (unsigned long long)(atomic_load(&s->fan->sleepers) &
						 ~atomic_load(&s->fan->members)));
	for (uint32_t i = 0; i < s->g.max_subscribers; i++) {
		struct sub_entry *se = shmslab__sub_entry(s, i);
		uint64_t w = atomic_load(&se->state), cursor = atomic_load(&se->cursor);

		if (sub_state(w) == SUB_FREE)
			continue;
		if (sub_state(w) != SUB_LIVE || !entry_alive(s, sub_owner(w)))
			return fail(buf, len, "subscription %u is %u, of entry %u, dead or caught "
				    "between states", i, sub_state(w), sub_owner(w));
		members |= UINT64_C(1) << i;
		if (cursor < atomic_load(&se->start) || cursor > ticket ||
		    ticket - cursor > s->g.fanout_depth)
			return fail(buf, len, "subscription %u is at %llu, the ring at %llu", i,
				    (unsigned long long)cursor, (unsigned long long)ticket);
		for (uint64_t t = cursor; t < ticket; t++) {
			uint64_t c = atomic_load(&s->fan_cells[t & (s->g.fan_ring - 1)]);
			uint32_t x = (uint32_t)c;

			if (x == 0 || x - 1 >= cap ||
			    st_kind(atomic_load(&slot_meta(s, x - 1)->state)) != KIND_PUBLISHED ||
			    !((atomic_load(&slot_meta(s, x - 1)->subs) >> i) & 1) ||
			    atomic_load(&slot_meta(s, x - 1)->ticket) != t)
				return fail(buf, len, "ticket %llu, waiting for subscription %u, is "
					    "not published to it", (unsigned long long)t, i);
		}
	}
	if (members != atomic_load(&s->fan->members))
		return fail(buf, len, "the members are %#llx, the live subscriptions %#llx",
			    (unsigned long long)atomic_load(&s->fan->members),
			    (unsigned long long)members);
	return NULL;
}

/* The counts shmslab_stat gives are those of the slots' states, one by one. */
static const char *check_counts(struct shmslab *s, const struct shmslab_stats *st, uint32_t cap,
				char *buf, size_t len)
{
	uint64_t available = 0, allocated = 0, queued = 0;

	for (uint32_t i = 0; i < cap; i++) {
		uint32_t kind = st_kind(atomic_load(&slot_meta(s, i)->state));

		available += kind == KIND_FREE || kind == KIND_CACHED;
		allocated += kind == KIND_OWNED;
		queued += kind == KIND_QUEUED;
	}
	if (available != st->available || allocated != st->allocated || queued != st->queued)
		return fail(buf, len,
			    "stat counts %llu available, %llu allocated, %llu queued; the slots "
			    "say %llu, %llu, %llu",
			    (unsigned long long)st->available, (unsigned long long)st->allocated,
			    (unsigned long long)st->queued, (unsigned long long)available,
			    (unsigned long long)allocated, (unsigned long long)queued);
	return NULL;
}

const char *invariant_check(struct shmslab *s, char *buf, size_t len)
{
	struct shmslab_stats st;
	const char *why;
	uint8_t *on_list, *in_queue;
	uint32_t cap;
	int err = shmslab_stat(s, &st);

	if (err)
		return fail(buf, len, "stat: %s", shmslab_strerror(err));
	cap = (uint32_t)st.slot_count;
	if (st.available + st.allocated + st.queued + st.retired + st.published != cap ||
	    st.busy != 0)
		return fail(buf, len,
			    "available %llu + allocated %llu + queued %llu + retired %llu + "
			    "published %llu != %u (busy %llu)",
			    (unsigned long long)st.available, (unsigned long long)st.allocated,
			    (unsigned long long)st.queued, (unsigned long long)st.retired,
			    (unsigned long long)st.published, cap, (unsigned long long)st.busy);
	on_list = calloc(cap, 1);
	in_queue = calloc(cap, 1);
	why = walk_lists(s, cap, on_list, buf, len);
	if (why == NULL)
		why = walk_queue(s, cap, in_queue, buf, len);
	for (uint32_t i = 0; i < cap && why == NULL; i++)
		why = check_slot(s, i, on_list[i] != 0, in_queue[i] != 0, buf, len);
	free(on_list);
	free(in_queue);
	/* nobody receives now: a mark left over would make every send wake nobody */
	for (uint32_t w = 0; w < s->g.reader_words && why == NULL; w++)
		if (atomic_load(&s->sleepers[w]) != 0)
			why = fail(buf, len,
				   "the queue marks entries %#llx (word %u) asleep, with nobody "
				   "receiving",
				   (unsigned long long)atomic_load(&s->sleepers[w]), w);
	if (why == NULL)
		why = check_fan(s, cap, buf, len);
	if (why == NULL)
		why = check_counts(s, &st, cap, buf, len);
	return why ? why : check_procs(s, buf, len);
}

const char *invariant_exercise(struct shmslab *s, char *buf, size_t len)
{
	struct shmslab_stats st;
	shmslab_ref *refs;
	char msg[64], got[64];
	void *queued;
	uint64_t n = 0, want;
	int err = shmslab_stat(s, &st);

	if (err)
		return fail(buf, len, "stat: %s", shmslab_strerror(err));
	/* what is left in the queue comes out, whole or torn, and goes */
	queued = malloc(st.slot_size);
	if (queued == NULL)
		return fail(buf, len, "out of memory");
	for (shmslab_ref ref; (err = shmslab_recv(s, &ref, 0)) == 0;) {
		ssize_t got_len = shmslab_read(s, ref, queued, st.slot_size);
		int freed = shmslab_free(s, ref);

		if ((got_len < 0 && got_len != -EOWNERDEAD) || freed != 0) {
			free(queued);
			return fail(buf, len, "a queued slot: read %s, free %s",
				    shmslab_strerror(got_len < 0 ? (int)got_len : 0),
				    shmslab_strerror(freed));
		}
	}
	free(queued);
	if (err != -EAGAIN)
		return fail(buf, len, "draining the queue: %s", shmslab_strerror(err));
	err = shmslab_stat(s, &st);
	if (err)
		return fail(buf, len, "stat: %s", shmslab_strerror(err));
	/* the free slots now, plus every slot growth can still add */
	want = st.available + (st.max_slots - st.slot_count);
	refs = calloc(want + 1, sizeof(*refs));
	while (n <= want && (err = shmslab_alloc(s, &refs[n])) == 0) {
		int l = snprintf(msg, sizeof(msg), "exercise %llu", (unsigned long long)n);

		if (shmslab_store(s, refs[n], msg, (size_t)l) != 0 ||
		    shmslab_read(s, refs[n], got, sizeof(got)) != l ||
		    memcmp(msg, got, (size_t)l)) {
			free(refs);
			return fail(buf, len, "slot %llu does not store and read back",
				    (unsigned long long)n);
		}
		n++;
	}
	/* through the queue and back, first in first out */
	for (uint64_t i = 0; i < n && i < s->g.queue_depth; i++) {
		shmslab_ref back;

		if (shmslab_send(s, refs[i]) != 0 || shmslab_recv(s, &back, 0) != 0 ||
		    back != refs[i]) {
			free(refs);
			return fail(buf, len, "slot %llu does not go through the queue",
				    (unsigned long long)i);
		}
	}
	/* and to a subscription and back */
	if (n > 0) {
		struct shmslab_sub *sub;
		shmslab_ref back;

		if (shmslab_subscribe(s, &sub) != 0 || shmslab_publish(s, refs[n - 1]) != 1 ||
		    shmslab_sub_recv(sub, &back, 0) != 0 || back != refs[n - 1] ||
		    shmslab_sub_release(sub, back) != 0 || shmslab_unsubscribe(sub) != 0) {
			free(refs);
			return fail(buf, len, "a slot does not go to a subscription and back");
		}
		n--; /* freed by its release */
		want--;
	}
	for (uint64_t i = 0; i < n; i++)
		if (shmslab_free(s, refs[i]) != 0) {
			free(refs);
			return fail(buf, len, "slot %llu does not free", (unsigned long long)i);
		}
	free(refs);
	if (n != want || err != -ENOSPC)
		return fail(buf, len, "allocated %llu of %llu free slots, then %s",
			    (unsigned long long)n, (unsigned long long)want, shmslab_strerror(err));
	return NULL;
}
