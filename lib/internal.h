/* SPDX-License-Identifier: MIT */
/*
 * What the files of lib/ share besides the shared-memory format (format.h)
 * and the os layer (os.h): the process-local handle and geometry, the hot
 * helpers that inline across files, and the internal prototypes, grouped
 * under the name of the file that defines them, lowest layer first.  An
 * inline helper here calls nothing above the files that use it.
 */
#ifndef SHMSLAB_INTERNAL_H
#define SHMSLAB_INTERNAL_H

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atomics.h"
#include "format.h"
#include "killpoints.h"
#include "os.h"
#include "shmslab.h"

#define NO_ENTRY UINT32_MAX

#define DEFAULT_SLOT_SIZE  4096u
#define DEFAULT_SLOT_COUNT 1024u
#define DEFAULT_MAX_PROCS  64u
#define DEFAULT_MODE	   0600u
#define DEFAULT_MAX_SUBSCRIBERS 16u

/* ---- Process-local state ------------------------------------------------- */

/* The geometry of a segment, computed from the creation parameters. */
struct geometry {
	uint32_t page_size;
	uint32_t slot_size, slot_count, max_slots, max_procs, queue_depth, shards;
	uint32_t payload_stride, meta_size;
	uint32_t first_page_slots, first_page_shift, page_count;
	uint32_t idx_bits, reader_words, lanes, proc_entry_size;
	uint64_t shards_off, procs_off, sleepers_off, queue_off, data_off, max_size;
	uint32_t queue_ring, queue_shift;
	uint32_t max_subscribers, fanout_depth, fan_ring, fan_shift;
	uint64_t fan_off;
	uint64_t idx_mask;		     /* low idx_bits bits of a head */
	uint32_t epoch_mask;		     /* epoch_max(idx_bits), for the hot path */
	uint32_t page_slots[MAX_PAGES];	     /* slots in page p */
	uint64_t page_off[MAX_PAGES];	     /* file offset of page p */
	uint64_t page_meta_bytes[MAX_PAGES]; /* metadata block at the start of page p */
	uint64_t page_bytes[MAX_PAGES];	     /* whole page p, page-aligned */
};

/*
 * Where page p is mapped.  Written once, before capacity_known is raised past
 * the page's slots (release), and read only for slots below a capacity_known
 * read with acquire, so the fields need no atomics.  The *0 fields are biased
 * by the page's first index, making a slot's address one multiply-add.
 */
struct page_map {
	uint8_t *base;	    /* the mapping, NULL until first needed */
	uintptr_t meta0;    /* + idx * meta_size: the slot's metadata */
	uintptr_t payload0; /* + idx * payload_stride: the slot's message bytes */
	uintptr_t rcount0;  /* + idx * 4: this process's read holds of the slot */
};

struct shmslab {
	_Atomic uint32_t closing; /* set by shmslab_close: calls that start now answer -EBADF */
	int fd;	     /* the segment, mapped */
	int lock_fd; /* the same object, never mapped: holds the entry's byte lock */
	bool inspect_only;
	bool forked;   /* set in a fork child: the handle belongs to the parent */
	_Atomic uint32_t pops_fence; /* our entry is POPS_FENCED: each local pop fences */
	uint32_t self; /* process-table entry, NO_ENTRY when inspecting */
	struct geometry g;
	uint8_t *ctl; /* mapping of [0, data_off): header, control, shards, procs */
	struct seg_header *hdr;
	struct seg_control *control;
	struct shard *shards;
	struct queue_control *queue;
	struct fan_control *fan;
	struct sub_entry *subtab;     /* max_subscribers entries */
	_Atomic uint64_t *fan_cells; /* fan_ring cells */
	_Atomic uint64_t *sleepers; /* reader_words words: entries with a thread asleep on the queue */
	struct proc_entry *me;
	_Atomic uint32_t sleeping; /* threads of ours asleep on the queue; SLEEP_BUSY while moving 0 <-> 1 */
	_Atomic uint64_t deq_seen; /* a value the queue's deq had: at most deq, for our senders */
	_Atomic uint32_t capacity_known; /* slots this process has validated and mapped */
	struct page_map pages[MAX_PAGES];
	pthread_mutex_t map_lock;     /* serialises mapping a page */
	pthread_mutex_t recover_lock; /* a byte lock does not exclude our own threads */
	pthread_mutex_t grow_lock;
	struct shmslab_recovery recovered; /* at attach, until shmslab_recover_counts reports it */
	pthread_mutex_t shared_lane_lock;  /* threads without a lane of their own */
	pthread_mutex_t subs_lock;	   /* guards subs */
	struct shmslab_sub *subs;	   /* this handle's subscriptions, for close to end */
	struct shmslab *next_open;	   /* registry, for fork handling */
	char name[NAME_MAX + 2];
};

/* A subscription of this process (pubsub.c). */
struct shmslab_sub {
	struct shmslab *slab;
	uint32_t index;		   /* its place in the subscription table */
	uint64_t word;		   /* its place's state word while it lives */
	struct shmslab_sub *next;  /* the handle's subscriptions */
};

/* ---- Internal functions, by the file that defines them ------------------- */

/* layout.c */
int shmslab__geometry_init(struct geometry *g, const struct shmslab_config *cfg, uint32_t page_size,
			   uint32_t cpu_count);
void shmslab__header_fill(struct seg_header *h, const struct geometry *g, uint32_t mode,
			  uint32_t pid, uint64_t now_ns);
int shmslab__header_check(const struct seg_header *h, uint64_t file_size, uint32_t page_size,
			  struct geometry *g);
uint64_t shmslab__capacity_bytes(const struct geometry *g, uint32_t capacity);
uint32_t shmslab__fingerprint(void);

static inline uint32_t page_of(const struct geometry *g, uint32_t idx)
{
	/* page p starts at first_page_slots * (2^p - 1) */
	uint64_t q = ((uint64_t)idx >> g->first_page_shift) + 1;
	return 63u - (uint32_t)__builtin_clzll(q);
}
static inline uint32_t page_start(const struct geometry *g, uint32_t p)
{
	return (uint32_t)(((UINT64_C(1) << p) - 1) << g->first_page_shift);
}

/* map.c */
int shmslab__map_control(struct shmslab *s, bool writable);
void shmslab__map_regions(struct shmslab *s, uint8_t *ctl);
int shmslab__map_refresh(struct shmslab *s, uint32_t want);
int shmslab__map_prepare(struct shmslab *s, uint32_t cap);
void shmslab__map_release(struct shmslab *s);

/* The page map of a slot below capacity_known; the first page needs no math. */
static inline const struct page_map *slot_page(const struct shmslab *s, uint32_t idx)
{
	return &s->pages[idx < s->g.first_page_slots ? 0 : page_of(&s->g, idx)];
}
static inline struct slot_meta *slot_meta(const struct shmslab *s, uint32_t idx)
{
	return (struct slot_meta *)(slot_page(s, idx)->meta0 + (uintptr_t)idx * s->g.meta_size);
}
static inline uint8_t *slot_payload(const struct shmslab *s, uint32_t idx)
{
	return (uint8_t *)(slot_page(s, idx)->payload0 + (uintptr_t)idx * s->g.payload_stride);
}
static inline _Atomic uint32_t *slot_rcount(const struct shmslab *s, uint32_t idx)
{
	return (_Atomic uint32_t *)(slot_page(s, idx)->rcount0 +
				    (uintptr_t)idx * sizeof(_Atomic uint32_t));
}
/* 0 if IDX is a slot this process can touch; -ERANGE if beyond the segment. */
static inline int slot_check(struct shmslab *s, uint32_t idx)
{
	/* acquire: pairs with map_refresh's release: the pages below are mapped */
	if (idx < sa_load_acquire_u32(&s->capacity_known))
		return 0;
	return shmslab__map_refresh(s, idx);
}

/* lanes.c */
struct lane *shmslab__lane_enter_slow(struct shmslab *s);
void shmslab__lanes_after_fork(void);
void shmslab__lanes_reset(struct proc_entry *e);

static inline struct proc_entry *shmslab__proc_entry(const struct shmslab *s, uint32_t entry)
{
	return (struct proc_entry *)(s->ctl + s->g.procs_off) + entry;
}

/* Every lane LANE of every process-table entry E of S. */
#define for_each_lane(s, e, lane)                                                  \
	for (uint32_t e = 0; e < (s)->g.max_procs; e++)                            \
		for (struct lane *lane = shmslab__proc_entry((s), e)->lanes;       \
		     lane < shmslab__proc_entry((s), e)->lanes + LANES; lane++)

#define SHARED_LANE (LANES - 1)
/* This thread's lane index, or < 0 until it has one of its own. */
extern __thread int shmslab__thread_lane __attribute__((tls_model("initial-exec")));

/* The journal lane of this thread; lane_leave must follow. */
static inline struct lane *shmslab__lane_enter(struct shmslab *s)
{
	int t = shmslab__thread_lane;

	if (__builtin_expect(t >= 0, 1))
		return &s->me->lanes[t];
	return shmslab__lane_enter_slow(s);
}
static inline void shmslab__lane_leave(struct shmslab *s, struct lane *lane)
{
	if (__builtin_expect(lane == &s->me->lanes[SHARED_LANE], 0))
		pthread_mutex_unlock(&s->shared_lane_lock);
}
static inline void shmslab__lane_set(struct lane *lane, enum lane_op op, uint32_t slot)
{
	/* release: whoever sees the lane idle sees the slot's new state, which
	 * we stored just before; entries before a CAS are ordered by that CAS */
	sa_store_release_u64(&lane->window, ((uint64_t)op << 32) | slot);
}

/* procs.c */
int shmslab__procs_attach(struct shmslab *s);
void shmslab__procs_detach(struct shmslab *s, bool as_dead);
bool shmslab__proc_alive(struct shmslab *s, uint32_t entry);
bool shmslab__proc_alive_as(struct shmslab *s, uint32_t entry, uint64_t word);
uint32_t shmslab__proc_state(const struct shmslab *s, uint32_t entry);
void shmslab__proc_reset(struct shmslab *s, uint32_t entry);
void shmslab__procs_fence_pops(struct shmslab *s);

/*
 * A reference: the state word's generation in the high half; in the low,
 * the index in its idx_bits bits and the slot's epoch in the bits above, so
 * that a generation repeats only after 2^(64 - idx_bits) frees of one slot
 * (and a slot that would get there retires instead).
 */
static inline uint32_t ref_index(const struct shmslab *s, shmslab_ref ref)
{
	return (uint32_t)(ref & s->g.idx_mask);
}

static inline uint32_t ref_gen(shmslab_ref ref)
{
	return (uint32_t)(ref >> 32);
}

static inline uint32_t ref_epoch(const struct shmslab *s, shmslab_ref ref)
{
	return (uint32_t)(ref >> s->g.idx_bits) & s->g.epoch_mask;
}

/* The reference of slot IDX, which the caller holds, in generation GEN. */
static inline shmslab_ref ref_make(const struct shmslab *s, uint32_t idx, uint32_t gen)
{
	/* relaxed: stored before the slot came back to the lists, which we
	 * acquired it from */
	uint64_t epoch = sa_load_relaxed_u32(&slot_meta(s, idx)->epoch) & s->g.epoch_mask;

	return ((uint64_t)gen << 32) | epoch << s->g.idx_bits | idx;
}

/* The whole generation a reference names: its epoch, then its state generation. */
static inline uint64_t ref_want(const struct shmslab *s, shmslab_ref ref)
{
	return ((uint64_t)ref_epoch(s, ref) << 32) | ref_gen(ref);
}

/*
 * Whether state ST, just read from slot M with acquire, is of the whole
 * generation WANT.  The epoch is read after the state: it changes only
 * while the slot is being freed, before the slot can be handed out again,
 * so a state of a later allocation comes with its epoch.
 */
static inline bool st_gen_is(const struct shmslab *s, const struct slot_meta *m, uint64_t st,
			     uint64_t want)
{
	return st_gen(st) == (uint32_t)want &&
	       /* relaxed: ordered after the acquire that read ST */
	       (sa_load_relaxed_u32(&m->epoch) & s->g.epoch_mask) ==
		       (uint32_t)(want >> 32);
}

/*
 * -EINVAL for a reference that cannot name a slot of this segment, nor one
 * ever handed out (an epoch its slot has not reached); a page this process
 * cannot map (-ENOMEM, ...) or an impossible capacity word: that error.
 * Whether the slot is still in the reference's generation is for the caller
 * to check, with the slot's state word.
 */
static inline int ref_check(struct shmslab *s, shmslab_ref ref)
{
	uint32_t idx = ref_index(s, ref);
	int err;

	if (ref == SHMSLAB_REF_NONE || ref_gen(ref) == 0)
		return -EINVAL;
	err = slot_check(s, idx);
	if (err)
		return err == -ERANGE ? -EINVAL : err;
	/* relaxed: epochs only grow, and ours came with the reference */
	if (ref_epoch(s, ref) >
	    (sa_load_relaxed_u32(&slot_meta(s, idx)->epoch) & s->g.epoch_mask))
		return -EINVAL;
	return 0;
}

/*
 * freelist.c.  A list is a shard (0 .. shards - 1) or the remote list of a
 * process-table entry (shards + entry); recovery blocks and walks them all.
 */
static inline uint32_t shmslab__lists(const struct shmslab *s)
{
	return s->g.shards + s->g.max_procs;
}
static inline uint32_t shmslab__remote_list(const struct shmslab *s, uint32_t entry)
{
	return s->g.shards + entry;
}
/* The head of LIST: a shard's, or an entry's remote list. */
static inline struct shard *shmslab__list_head(const struct shmslab *s, uint32_t list)
{
	if (list < s->g.shards)
		return &s->shards[list];
	return &shmslab__proc_entry(s, list - s->g.shards)->remote;
}
int shmslab__freelist_push_range(struct shmslab *s, uint32_t shard, uint32_t first, uint32_t count);
int shmslab__freelist_pop(struct shmslab *s, uint32_t shard, struct lane *lane, uint32_t *idx);
int shmslab__freelist_take(struct shmslab *s, uint32_t list, struct lane *lane, uint32_t *top);
int shmslab__freelist_push(struct shmslab *s, uint32_t shard, uint32_t idx);
uint32_t shmslab__freelist_nil(const struct shmslab *s);
uint32_t shmslab__freelist_blocked(const struct shmslab *s);
bool shmslab__freelist_is_blocked(const struct shmslab *s, uint32_t shard);
void shmslab__freelist_block(struct shmslab *s, uint32_t shard);
void shmslab__freelist_unblock(struct shmslab *s, uint32_t shard);

/* slotlock.c */
#define SLOT_HOLDER_DEAD (-0x5380) /* a wait found its holder dead: recover, then retry */
enum slot_close { CLOSE_WRITE, CLOSE_FREE };
int shmslab__slot_read_lock(struct shmslab *s, uint32_t idx, uint64_t want);
void shmslab__slot_read_unlock(struct shmslab *s, uint32_t idx);
int shmslab__slot_close_slow(struct shmslab *s, uint32_t idx, uint64_t want, enum slot_close how,
			     uint32_t *next_gen);

/* Whether ST, just read from M with acquire, is that of the generation WANT, held. */
static inline bool st_readable(const struct shmslab *s, const struct slot_meta *m, uint64_t st,
			       uint64_t want)
{
	/* one test of a bit for the three kinds that hold a message */
	enum { HELD = 1u << KIND_OWNED | 1u << KIND_QUEUED | 1u << KIND_PUBLISHED };

	return ((HELD >> st_kind(st)) & 1) && st_gen_is(s, m, st, want);
}

/*
 * One try at closing slot M, whose state was read as *ST, as
 * shmslab__slot_close says: 0 when closed, -ESTALE or -EBUSY, or 1 when a
 * writer is in or the CAS lost (*ST then has the state now).
 */
static inline int shmslab__slot_close_try(const struct shmslab *s, struct slot_meta *m,
					  uint64_t *st, uint64_t want, enum slot_close how,
					  uint32_t *next_gen)
{
	uint64_t closed;

	if (!st_readable(s, m, *st, want))
		return -ESTALE;
	/* not a queued slot's to free, nor a published one's to close at all */
	if (__builtin_expect(st_kind(*st) != KIND_OWNED, 0) &&
	    (st_kind(*st) == KIND_PUBLISHED || how == CLOSE_FREE))
		return -EBUSY;
	if (st_writer(*st) != 0)
		return 1;
	if (how == CLOSE_WRITE) {
		closed = *st | (s->self + 1);
	} else {
		*next_gen = gen_next(st_gen(*st));
		closed = st_make(KIND_FREEING, s->self + 1, *next_gen);
	}
	/* seq_cst: the slot is closed before we look at its readers; weak, since
	 * a failure tries again */
	return sa_cas_weak_seq_cst_u64(&m->state, st, closed) ? 0 : 1;
}

/*
 * Close IDX, of the whole generation WANT, to new readers, once no writer is
 * in: for writing (CLOSE_WRITE: our entry goes in the writer field), or for
 * freeing (CLOSE_FREE: the slot becomes FREEING by us, in *NEXT_GEN, the
 * generation after WANT's).  The caller then drains the readers already in.
 * -ESTALE when the slot is no longer of WANT (or, freeing, no longer
 * allocated), -EBUSY when freeing a slot of the queue or closing a
 * published one, SLOT_HOLDER_DEAD when
 * the writer it waits for died, -EBADF when the handle is being closed.
 * Inline, for the common case of no writer in.
 */
static inline int shmslab__slot_close(struct shmslab *s, uint32_t idx, uint64_t want,
				      enum slot_close how, uint32_t *next_gen)
{
	struct slot_meta *m = slot_meta(s, idx);
	/* acquire: a state of a later allocation comes with its epoch */
	uint64_t st = sa_load_acquire_u64(&m->state);
	int err = shmslab__slot_close_try(s, m, &st, want, how, next_gen);

	return __builtin_expect(err != 1, 1) ? err
					     : shmslab__slot_close_slow(s, idx, want, how, next_gen);
}
void shmslab__slot_write_unlock(struct shmslab *s, uint32_t idx, bool complete);
int shmslab__slot_drain_wait(struct shmslab *s, uint32_t idx);
uint32_t shmslab__slot_reader_count(const struct shmslab *s, uint32_t idx);
void shmslab__slot_release_proc(struct shmslab *s, uint32_t idx, uint32_t entry);

/*
 * Wait until no process holds a read lock on IDX.  The caller holds the slot
 * exclusively (its write lock, or the freeing state), so no new reader
 * enters.  Inline, for the common case of no reader at all.
 * SLOT_HOLDER_DEAD as shmslab__slot_drain_wait.
 */
static inline int shmslab__slot_drain_readers(struct shmslab *s, uint32_t idx)
{
	struct slot_meta *m = slot_meta(s, idx);

	for (uint32_t w = 0; w < s->g.reader_words; w++)
		/* seq_cst: pairs with the reader's bit-set then state look */
		if (sa_load_seq_cst_u64(&m->readers[w]) != 0)
			return shmslab__slot_drain_wait(s, idx);
	return 0;
}

/* queue.c */
#define SLEEP_BUSY UINT32_MAX /* a thread is moving a process's sleeper count 0 <-> 1 */
/*
 * Where threads sleep until a waker makes READY true: a futex SIGNAL that
 * wakers bump only when they find a bit set in a shared word.  With COUNT
 * (this process's threads asleep there), the bit is set while it is above
 * 0; with COUNT NULL, each thread sets the bit before it sleeps, and the
 * waker clears it (shmslab__sleep_wait).
 */
struct sleep_spot {
	_Atomic uint32_t *count;
	_Atomic uint64_t *word;
	uint64_t bit;
	_Atomic uint32_t *signal;
	bool (*ready)(struct shmslab *s, const void *arg);
	const void *arg;
};
int shmslab__sleep_wait(struct shmslab *s, const struct sleep_spot *spot, int ms);
void shmslab__sleep_wake(_Atomic uint32_t *signal);
int shmslab__queue_put(struct shmslab *s, uint32_t idx);
int shmslab__queue_take(struct shmslab *s, struct lane *lane, uint32_t *idx);
void shmslab__queue_wake(struct shmslab *s);
int shmslab__queue_wait(struct shmslab *s, int ms);
void shmslab__queue_wake_all(struct shmslab *s);
void shmslab__queue_release_sleepers(struct shmslab *s, const uint64_t *entries);
void shmslab__queue_block(struct shmslab *s);
void shmslab__queue_unblock(struct shmslab *s);
bool shmslab__queue_is_blocked(const struct shmslab *s);
uint32_t shmslab__queue_cell_slot(const struct shmslab *s, uint32_t i);

/* fanout.c */
#define FAN_HOLDER_DEAD (-0x5381) /* the turn's holder died: recover, then take it again */
static inline struct sub_entry *shmslab__sub_entry(const struct shmslab *s, uint32_t i)
{
	return &s->subtab[i];
}
int shmslab__fan_turn_take(struct shmslab *s, bool for_close);
void shmslab__fan_turn_leave(struct shmslab *s);
int shmslab__fan_room(struct shmslab *s, uint64_t t, uint64_t members, uint32_t *full);
void shmslab__fan_fill(struct shmslab *s, uint64_t t, uint32_t idx);
void shmslab__fan_wake(struct shmslab *s);
int shmslab__fan_take(struct shmslab *s, uint32_t i, uint32_t *idx);
int shmslab__fan_wait(struct shmslab *s, uint32_t i, int ms);
uint64_t shmslab__fan_let_go(struct shmslab *s, uint64_t gone, uint32_t capacity, uint32_t freer,
			     void (*freed)(struct shmslab *s, uint32_t idx, uint32_t gen, void *arg),
			     void *arg);
void shmslab__fan_recover(struct shmslab *s, const uint64_t *dead, uint32_t capacity,
			  uint32_t *pending, uint64_t *ended);
bool shmslab__fan_recovery_wanted(const struct shmslab *s);

/* slots.c */
void shmslab__slots_build(struct shmslab *s, uint32_t first, uint32_t end);
int shmslab__slot_take(struct shmslab *s, struct lane *lane, uint32_t *idx, uint32_t *gen);
int shmslab__slot_push(struct shmslab *s, struct lane *lane, uint32_t idx, uint32_t gen);
int shmslab__slot_give(struct shmslab *s, struct lane *lane, uint32_t idx, uint32_t gen);
int shmslab__lane_push(struct shmslab *s, struct lane *lane);
int shmslab__slots_leave(struct shmslab *s, struct lane *lane, uint32_t *from);

/* recover.c */
int shmslab__recover(struct shmslab *s, struct shmslab_recovery *what);
int shmslab__recover_for_room(struct shmslab *s);
int shmslab__recover_wait(struct shmslab *s);
int shmslab__push_after_recovery(struct shmslab *s, struct lane *lane);
int shmslab__recovery_count(const struct shmslab_recovery *got);
int shmslab__lock_read_slow(struct shmslab *s, uint32_t idx, uint64_t want);
int shmslab__lock_close_slow(struct shmslab *s, uint32_t idx, uint64_t want,
			     enum slot_close how, uint32_t *next_gen);
void shmslab__lock_drain_slow(struct shmslab *s, uint32_t idx);

/*
 * The slot lock's waits, with the repair they may ask for: a wait that finds
 * the holder it waits for dead (SLOT_HOLDER_DEAD) has a recovery take the
 * dead holder's lock away, then waits again (the _slow halves, in
 * recover.c).  Inline, for the common case of no holder dead: for the
 * public calls, which sit above recovery.
 */
static inline int shmslab__lock_read(struct shmslab *s, uint32_t idx, uint64_t want)
{
	int err = shmslab__slot_read_lock(s, idx, want);

	return __builtin_expect(err != SLOT_HOLDER_DEAD, 1) ? err
							    : shmslab__lock_read_slow(s, idx, want);
}

static inline int shmslab__lock_close(struct shmslab *s, uint32_t idx, uint64_t want,
				      enum slot_close how, uint32_t *next_gen)
{
	int err = shmslab__slot_close(s, idx, want, how, next_gen);

	return __builtin_expect(err != SLOT_HOLDER_DEAD, 1)
		       ? err
		       : shmslab__lock_close_slow(s, idx, want, how, next_gen);
}

/* Drain IDX, which the caller has closed; it cannot back out, so it waits. */
static inline void shmslab__lock_drain(struct shmslab *s, uint32_t idx)
{
	if (__builtin_expect(shmslab__slot_drain_readers(s, idx) == SLOT_HOLDER_DEAD, 0))
		shmslab__lock_drain_slow(s, idx);
}

/* The write lock of IDX, of the whole generation WANT: closed, then drained. */
static inline int shmslab__lock_write(struct shmslab *s, uint32_t idx, uint64_t want)
{
	int err = shmslab__lock_close(s, idx, want, CLOSE_WRITE, NULL);

	if (err)
		return err;
	KILLPOINT(write_locked);
	shmslab__lock_drain(s, idx);
	KILLPOINT(write_drained);
	return 0;
}

/* handoff.c */
int64_t shmslab__wait_deadline(int timeout_ms);
int shmslab__wait_left(int timeout_ms, int64_t deadline, int *left);

/* pubsub.c */
bool shmslab__subs_end(struct shmslab *s, bool leave_them);

/* ---- Calls on a handle, entered and left by every public function -------- */

/*
 * What handle a thread is in a call on, so that shmslab_close from another
 * thread can wait for the call to end before it frees the handle.  One per
 * thread that ever made a call, on a list the closer walks (call.c).
 */
struct call_rec {
	_Atomic uintptr_t inside; /* the struct shmslab * of the call in progress, 0 if none */
	struct call_rec *next;
};
extern __thread struct call_rec *shmslab__call_self __attribute__((tls_model("initial-exec")));
extern _Atomic uint32_t shmslab__call_fences; /* no membarrier(): each call pays its fence */
struct call_rec *shmslab__call_rec_new(void);
void shmslab__call_quiesce(struct shmslab *s);
void shmslab__calls_after_fork(void);
void shmslab__call_cancelled(void *unused);

static inline void call_leave(void)
{
	/* release: a closer that sees 0 sees every touch of the handle before it */
	sa_store_release_uptr(&shmslab__call_self->inside, 0);
}

/*
 * The body of a public function: enter a call on S (ATTACHED: a handle that
 * holds an entry, not an inspect handle), evaluate BODY, leave; the value of
 * BODY, or call_enter's error.
 */
#define CALL(s, attached, body)                                   \
	({                                                        \
		__typeof__(body) call_result_ = call_enter((s), (attached)); \
		if (call_result_ == 0) {                          \
			call_result_ = (body);                    \
			call_leave();                             \
		}                                                 \
		call_result_;                                     \
	})

/*
 * Enter a call on S.  -EINVAL for NULL, -ECHILD for a handle inherited
 * across fork, -EPERM for an inspect handle where ATTACHED is asked for,
 * -EBADF when another thread is closing it.  On success, call_leave ends it.
 */
static inline int call_enter(struct shmslab *s, bool attached)
{
	struct call_rec *r = shmslab__call_self;

	if (s == NULL)
		return -EINVAL;
	if (s->forked)
		return -ECHILD;
	if (attached && s->inspect_only)
		return -EPERM;
	if (__builtin_expect(r == NULL, 0) && (r = shmslab__call_rec_new()) == NULL)
		return -ENOMEM;
	/*
	 * Store, then look: against the closer's store of closing, membarrier()
	 * (or, without it, our own full fence), then look.  Either we see it
	 * closing, or it sees us inside and waits.  relaxed: the fences order it.
	 */
	sa_store_relaxed_uptr(&r->inside, (uintptr_t)s);
	/* relaxed: set once, before this thread's first call, or by a failing close */
	if (__builtin_expect(sa_load_relaxed_u32(&shmslab__call_fences) != 0, 0))
		sa_fence_seq_cst(); /* seq_cst: no membarrier() does it for us */
	else
		sa_fence_compiler(); /* compiler: the closer's membarrier() is the fence */
	/* relaxed: ordered after our store by the fence above */
	if (__builtin_expect(sa_load_relaxed_u32(&s->closing) != 0, 0)) {
		call_leave();
		return -EBADF;
	}
	return 0;
}

#endif /* SHMSLAB_INTERNAL_H */
