/* SPDX-License-Identifier: MIT */
/*
 * Diagnostics and recovery on demand: a snapshot of a segment's counts, a
 * slot's and a process-table entry's detail for the tools, shmslab_recover,
 * the names of error codes and the version.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "internal.h"

static int stat_call(struct shmslab *slab, struct shmslab_stats *st)
{
	uint32_t cap;
	int err;

	if (st == NULL)
		return -EINVAL;
	err = shmslab__map_refresh(slab, 0);
	if (err && err != -ERANGE)
		return err;
	memset(st, 0, sizeof(*st));
	/* acquire: the pages of every slot below it are mapped */
	cap = sa_load_acquire_u32(&slab->capacity_known);
	for (uint32_t i = 0; i < cap; i++) {
		/* relaxed: a snapshot for diagnostics, each word on its own */
		uint64_t s = sa_load_relaxed_u64(&slot_meta(slab, i)->state);

		switch (st_kind(s)) {
		case KIND_FREE:
		case KIND_CACHED:
			st->available++;
			break;
		case KIND_OWNED:
			st->allocated++;
			if (st_owner(s) == 0)
				st->unowned++;
			break;
		case KIND_QUEUED:
			st->queued++;
			break;
		case KIND_RETIRED:
			st->retired++;
			break;
		case KIND_PUBLISHED:
			st->published++;
			break;
		default:
			st->busy++;
			break;
		}
	}
	for (uint32_t i = 0; i < slab->g.max_procs; i++) {
		uint32_t state = shmslab__proc_state(slab, i);

		if (state == PROC_FREE)
			continue;
		if (shmslab__proc_alive(slab, i))
			st->procs++;
		else if (!(state & PROC_CLAIMING))
			st->dead_procs++;
	}
	st->slot_size = slab->g.slot_size;
	st->slot_count = cap;
	st->max_slots = slab->g.max_slots;
	st->max_procs = slab->g.max_procs;
	st->layout_version = LAYOUT_VERSION;
	st->shards = slab->g.shards;
	st->queue_depth = slab->g.queue_depth;
	st->max_subscribers = slab->g.max_subscribers;
	st->fanout_depth = slab->g.fanout_depth;
	for (uint32_t i = 0; i < slab->g.max_subscribers; i++)
		/* relaxed: a snapshot, as the slots' */
		st->subscribers += sub_state(sa_load_relaxed_u64(&shmslab__sub_entry(slab, i)->state)) ==
				   SUB_LIVE;
	return 0;
}

int shmslab_stat(struct shmslab *slab, struct shmslab_stats *st)
{
	return CALL(slab, false, stat_call(slab, st));
}

static int slot_info_call(struct shmslab *slab, uint64_t index, struct shmslab_slot_info *info)
{
	static const uint32_t states[] = {
		[KIND_FREE] = SHMSLAB_SLOT_FREE,     [KIND_OWNED] = SHMSLAB_SLOT_OWNED,
		[KIND_QUEUED] = SHMSLAB_SLOT_QUEUED, [KIND_FREEING] = SHMSLAB_SLOT_BUSY,
		[KIND_CACHED] = SHMSLAB_SLOT_FREE,   [KIND_RETIRED] = SHMSLAB_SLOT_RETIRED,
		[KIND_PUBLISHED] = SHMSLAB_SLOT_PUBLISHED,
	};
	struct slot_meta *m;
	uint64_t st;
	int err;

	if (info == NULL || index > UINT32_MAX)
		return -EINVAL;
	err = slot_check(slab, (uint32_t)index);
	if (err)
		return err == -ERANGE ? -EINVAL : err;
	m = slot_meta(slab, (uint32_t)index);
	/* acquire: as any look at a slot's state; a snapshot */
	st = sa_load_acquire_u64(&m->state);
	if (st_kind(st) > KIND_PUBLISHED || st_writer(st) > slab->g.max_procs ||
	    st_owner(st) > slab->g.max_procs)
		return SHMSLAB_ECORRUPT;
	memset(info, 0, sizeof(*info));
	info->index = index;
	info->generation = st_gen(st);
	info->state = states[st_kind(st)];
	/* relaxed: a snapshot, as the state read above */
	info->len = sa_load_relaxed_u32(&m->len);
	/* the process keeping a free slot back does not own it */
	info->owner = st_kind(st) == KIND_CACHED ? -1 : (int32_t)st_owner(st) - 1;
	info->writer = (int32_t)st_writer(st) - 1;
	info->readers = shmslab__slot_reader_count(slab, (uint32_t)index);
	info->torn = (st_low(st) & ST_TORN) != 0;
	return 0;
}

int shmslab_slot_info(struct shmslab *slab, uint64_t index, struct shmslab_slot_info *info)
{
	return CALL(slab, false, slot_info_call(slab, index, info));
}

/* What ENTRY holds, counted over every slot. */
static void proc_holdings(struct shmslab *s, uint32_t entry, struct shmslab_proc_info *info)
{
	/* acquire: the pages of every slot below it are mapped */
	uint32_t cap = sa_load_acquire_u32(&s->capacity_known), id = entry + 1;
	uint32_t word = entry / 64;
	uint64_t bit = UINT64_C(1) << (entry % 64);

	for (uint32_t i = 0; i < cap; i++) {
		struct slot_meta *m = slot_meta(s, i);
		/* relaxed: a snapshot for diagnostics, each word on its own */
		uint64_t st = sa_load_relaxed_u64(&m->state);

		if (st_owner(st) == id && st_kind(st) == KIND_CACHED)
			info->kept++;
		else if (st_owner(st) == id)
			info->owned++; /* allocated, or caught in its free */
		info->writing += st_writer(st) == id;
		/* relaxed: as the state read above */
		info->reading += (sa_load_relaxed_u64(&m->readers[word]) & bit) != 0;
	}
}

static int proc_info_call(struct shmslab *slab, uint32_t entry, struct shmslab_proc_info *info)
{
	static const uint32_t died_in[] = {
		[LANE_IDLE] = 0,
		[LANE_POP] = 1,
		[LANE_FREE] = 2,
		[LANE_GROW] = 3,
		[LANE_SEND] = 4,
		[LANE_RECV] = 5,
		[LANE_TAKE] = 1, /* an alloc taking a remote list whole */
	};
	const struct proc_entry *e;
	uint32_t state;
	int err;

	if (info == NULL || entry >= slab->g.max_procs)
		return -EINVAL;
	err = shmslab__map_refresh(slab, 0);
	if (err && err != -ERANGE)
		return err;
	e = shmslab__proc_entry(slab, entry);
	state = shmslab__proc_state(slab, entry);
	memset(info, 0, sizeof(*info));
	info->entry = entry;
	info->attached = state == PROC_LIVE || state == PROC_DEAD;
	info->alive = info->attached && shmslab__proc_alive(slab, entry);
	info->self = entry == slab->self;
	/* relaxed: written before the entry read LIVE, whose acquire we did */
	info->pid = info->attached ? (int64_t)sa_load_relaxed_u32(&e->pid) : 0;
	info->died_slot = -1;
	if (!info->attached)
		return 0;
	proc_holdings(slab, entry, info);
	for (uint32_t l = 0; l < LANES && !info->alive && info->died_in == 0; l++) {
		/* acquire: as every lane read; a snapshot */
		uint64_t w = sa_load_acquire_u64(&e->lanes[l].window);
		uint32_t op = (uint32_t)(w >> 32);

		if (op != LANE_IDLE && op < sizeof(died_in) / sizeof(died_in[0])) {
			info->died_in = died_in[op];
			info->died_slot = (uint32_t)w;
		}
	}
	return 0;
}

int shmslab_proc_info(struct shmslab *slab, uint32_t entry, struct shmslab_proc_info *info)
{
	return CALL(slab, false, proc_info_call(slab, entry, info));
}

const char *shmslab_strerror(int err)
{
	if (err > 0)
		err = -err;
	if (err < -4095 && err != SHMSLAB_EFORMAT && err != SHMSLAB_ECORRUPT)
		return "Unknown error"; /* beyond every errno, and -err may not exist */
	switch (err) {
	case 0:
		return "Success";
	case SHMSLAB_EFORMAT:
		return "Not a shmslab segment, or one of another layout version";
	case SHMSLAB_ECORRUPT:
		return "Segment metadata is corrupt";
	case -ESTALE:
		return "Stale reference: the slot was freed";
	case -EMSGSIZE:
		return "Message larger than the slot or the buffer";
	case -EOWNERDEAD:
		return "The message is torn: its writer died in the middle of a write";
	case -EUSERS:
		return "Too many processes attached to the segment";
	case -ECHILD:
		return "Handle inherited across fork: open the segment again";
	}
#ifdef HAVE_STRERRORDESC_NP
	{
		const char *d = strerrordesc_np(-err);

		return d != NULL ? d : "Unknown error";
	}
#else
	/* glibc before 2.32, musl: their strerror returns static text for known codes */
	return strerror(-err);
#endif
}

/* What subscription I holds: received, not released, counted over every slot. */
static uint64_t sub_holdings(struct shmslab *s, uint32_t i, uint64_t start, uint64_t cursor)
{
	/* acquire: the pages of every slot below it are mapped */
	uint32_t cap = sa_load_acquire_u32(&s->capacity_known);
	uint64_t held = 0;

	for (uint32_t x = 0; x < cap; x++) {
		struct slot_meta *m = slot_meta(s, x);

		/* relaxed, all three: a snapshot for diagnostics */
		if (st_kind(sa_load_relaxed_u64(&m->state)) == KIND_PUBLISHED &&
		    (sa_load_relaxed_u64(&m->subs) >> i) & 1 &&
		    sa_load_relaxed_u64(&m->ticket) - start < cursor - start)
			held++;
	}
	return held;
}

static int sub_info_call(struct shmslab *slab, uint32_t index, struct shmslab_sub_info *info)
{
	struct sub_entry *se;
	uint64_t w, start, cursor, ticket;
	int err;

	if (info == NULL || index >= slab->g.max_subscribers)
		return -EINVAL;
	err = shmslab__map_refresh(slab, 0);
	if (err && err != -ERANGE)
		return err;
	se = shmslab__sub_entry(slab, index);
	/* acquire: a LIVE place comes with its cursors */
	w = sa_load_acquire_u64(&se->state);
	memset(info, 0, sizeof(*info));
	info->index = index;
	info->entry = -1;
	if (sub_state(w) == SUB_FREE)
		return 0;
	if (sub_state(w) > SUB_LEAVING || sub_owner(w) == 0 || sub_owner(w) > slab->g.max_procs)
		return SHMSLAB_ECORRUPT;
	info->live = sub_state(w) == SUB_LIVE;
	info->entry = (int32_t)sub_owner(w) - 1;
	info->alive = shmslab__proc_alive(slab, sub_owner(w) - 1);
	/* relaxed, all: a snapshot */
	start = sa_load_relaxed_u64(&se->start);
	cursor = sa_load_relaxed_u64(&se->cursor);
	ticket = sa_load_relaxed_u64(&slab->fan->ticket);
	/* a cursor may be one ahead of the ticket: taken between a publisher's
	 * cell and its ticket */
	if (info->live && (ticket + 1 - cursor > slab->g.fanout_depth + 1 ||
			   cursor - start > ticket + 1 - start))
		return SHMSLAB_ECORRUPT;
	if (info->live) {
		info->waiting = cursor > ticket ? 0 : ticket - cursor;
		info->received = cursor - start;
		info->held = sub_holdings(slab, index, start, cursor);
	}
	return 0;
}

int shmslab_sub_info(struct shmslab *slab, uint32_t index, struct shmslab_sub_info *info)
{
	return CALL(slab, false, sub_info_call(slab, index, info));
}

unsigned shmslab_version(void)
{
	return SHMSLAB_VERSION_MAJOR * 10000u + SHMSLAB_VERSION_MINOR * 100u +
	       SHMSLAB_VERSION_PATCH;
}

int shmslab_recover(struct shmslab *slab)
{
	return CALL(slab, true, shmslab__recover(slab, NULL));
}

static int recover_counts_call(struct shmslab *slab, struct shmslab_recovery *what)
{
	int err;

	if (what == NULL)
		return -EINVAL;
	*what = slab->recovered;
	err = shmslab__recover(slab, what);
	if (err < 0)
		return err; /* what shmslab_open reclaimed is reported next time */
	memset(&slab->recovered, 0, sizeof(slab->recovered));
	return shmslab__recovery_count(what);
}

int shmslab_recover_counts(struct shmslab *slab, struct shmslab_recovery *what)
{
	return CALL(slab, true, recover_counts_call(slab, what));
}
