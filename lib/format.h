/* SPDX-License-Identifier: MIT */
/*
 * The shared-memory format of a segment: every structure that lives in the
 * object, with its size and offsets asserted, the meaning of each word's
 * bits, and the bytes of the object that carry locks.  Processes of other
 * builds read it, so any change to it is a change of format: bump
 * LAYOUT_VERSION, and set LAYOUT_FINGERPRINT to what shmslab__fingerprint()
 * then answers (tests/test-layout.c fails until both are done, and
 * tests/layout-versions lists the fingerprint of every version, as LMDB's
 * MDB_LOCK_FORMAT does).  Nothing here is a pointer: offsets and indices
 * only.  See lib/DESIGN.md for why the format is what it is.
 */
#ifndef SHMSLAB_FORMAT_H
#define SHMSLAB_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "atomics.h"
#include "shmslab.h"

#define CACHE_LINE	   64
#define LAYOUT_VERSION	   7u
#define LAYOUT_FINGERPRINT 0x5987d49fu /* shmslab__fingerprint() of this format */
#define SEG_MAGIC	   "shmslab" /* the first 8 bytes of every segment, its NUL included */
#define INIT_READY	   0x52454459u /* "REDY": stored last, with release, by the creator */
#define MAX_PAGES	   32u	       /* page p holds first_page_slots << p slots */
#define LANES		   16u	       /* journal lanes per process: one per thread, the last shared */

/*
 * Offset 0.  Immutable once init_state reads INIT_READY; attach validates all
 * of it, copies the geometry into process memory and never reads it again.
 */
struct seg_header {
	char magic[8]; /* "shmslab" */
	uint32_t layout_version;
	uint32_t fingerprint; /* of the shared structures' sizes and offsets */
	_Atomic uint32_t init_state;
	uint32_t page_size;
	/* what the creator asked for */
	uint32_t slot_size;
	uint32_t slot_count;
	uint32_t max_slots;
	uint32_t max_procs;
	uint32_t queue_depth;
	uint32_t shards;
	uint32_t mode;
	uint32_t creator_pid;
	uint64_t created_ns;
	/* derived from the above; attach recomputes and compares */
	uint32_t payload_stride;
	uint32_t meta_size;
	uint32_t first_page_slots;
	uint32_t page_count;
	uint32_t idx_bits;
	uint32_t reader_words;
	uint32_t lanes;
	uint32_t proc_entry_size;
	uint64_t shards_off;
	uint64_t procs_off;
	uint64_t data_off;
	uint64_t max_size;
	uint64_t queue_off;
	uint32_t queue_ring; /* cells in the queue: queue_depth rounded up to a power of two */
	uint32_t reserved;
	uint64_t sleepers_off;
	/* publish/subscribe: the fan-out region (fan_control, then the
	 * subscription table, then the ring of fan_ring cells) */
	uint32_t max_subscribers;
	uint32_t fanout_depth;
	uint64_t fan_off;
	uint32_t fan_ring;
	uint8_t pad[20];
};
_Static_assert(sizeof(struct seg_header) == 192, "seg_header layout");
_Static_assert(offsetof(struct seg_header, init_state) == 16, "seg_header layout");
_Static_assert(offsetof(struct seg_header, payload_stride) == 64, "seg_header layout");
_Static_assert(offsetof(struct seg_header, queue_off) == 128, "seg_header layout");
_Static_assert(offsetof(struct seg_header, sleepers_off) == 144, "seg_header layout");
_Static_assert(offsetof(struct seg_header, fan_off) == 160, "seg_header layout");

#define SEG_CONTROL_OFF 192u
/* Mutable segment-wide words, each hot one alone on its cache line. */
struct seg_control {
	_Atomic uint32_t capacity; /* slots in use now: grows, never shrinks */
	_Atomic uint32_t growing;  /* the capacity a grower is building to, 0 when none */
	/* bumped by a recovery that walks the lists, before it blocks them (odd:
	 * under way) and before it unblocks them (even): a thread's local list
	 * taken before a change is the recovery's, not the thread's */
	_Atomic uint32_t limbo_walks;
	/* set where slots may have been left on no list with no lane naming
	 * them (a local list given up after a walk it straddled): the next
	 * recovery walks the lists, which puts them back */
	_Atomic uint32_t walk_wanted;
	uint8_t pad[CACHE_LINE - 16];
};
_Static_assert(sizeof(struct seg_control) == CACHE_LINE, "seg_control layout");
#define SEG_SHARDS_OFF (SEG_CONTROL_OFF + CACHE_LINE)

/*
 * A free-list head: a slot index in the low idx_bits bits and an ABA tag in
 * the rest.  The all-ones index means empty; the one below it, blocked: a
 * recoverer holds the list, whose top it keeps in saved_top meanwhile.
 */
struct shard {
	_Atomic uint64_t head;
	_Atomic uint32_t saved_top;
	uint8_t pad[CACHE_LINE - 12];
};
_Static_assert(sizeof(struct shard) == CACHE_LINE, "shard layout");

/*
 * A journal lane: what one thread of a process is in the middle of, so that
 * whoever recovers after the process dies can tell a slot caught between two
 * states from a lost one.  Written only by its thread; one per cache line so
 * the threads of a process do not share lines.
 */
enum lane_op {
	LANE_IDLE = 0,
	LANE_POP = 1,  /* slot = the free-list top this thread is about to pop */
	LANE_FREE = 2, /* slot = the slot this thread is freeing (off every list) */
	LANE_GROW = 3, /* slot = the first of the slots this thread is adding */
	LANE_SEND = 4, /* slot = the slot this thread is handing to the queue */
	LANE_RECV = 5, /* slot = the slot this thread is taking from the queue */
	LANE_TAKE = 6, /* slot = the top of the remote list this thread is taking whole */
	LANE_PUBLISH = 7, /* slot = the slot this thread is publishing (see fan_control.busy) */
};
struct lane {
	_Atomic uint64_t window; /* (op << 32) | slot */
	_Atomic uint32_t cached; /* slot + 1 kept by this thread for its next alloc, 0 if none */
	/* slot + 1 at the head of this thread's local list (FREE slots linked by
	 * next, taken whole from a remote list), 0 if none; only its thread reads
	 * it while the entry lives */
	_Atomic uint32_t local;
	_Atomic uint32_t local_walks; /* limbo_walks when the local list was taken */
	uint8_t pad[CACHE_LINE - 20];
};
_Static_assert(sizeof(struct lane) == CACHE_LINE, "lane layout");

/*
 * An entry's state.  A process claims a FREE entry with a CAS to CLAIMING
 * plus its pid, fills the entry in, then stores LIVE.  Recovery turns a LIVE
 * entry whose process is gone into DEAD, and DEAD into FREE once nothing in
 * the segment names the entry any more.  The state word's high half counts
 * the claims of the entry, so that a recoverer that judged one holder dead
 * cannot mark the next holder, who took the entry meanwhile, DEAD.
 */
enum proc_state {
	PROC_FREE = 0,
	PROC_LIVE = 1,
	PROC_DEAD = 2,
	PROC_CLAIMING = 0x80000000u,	    /* | pid of the claimer ... */
	PROC_CLAIMING_BY_PID = 0x40000000u, /* | ... which proves it lives by pid, not lock */
};
#define PROC_CLAIMING_PID_MASK 0x3fffffffu

static inline uint32_t pe_state(uint64_t word)
{
	return (uint32_t)word;
}
/* WORD with its state replaced, in the same incarnation. */
static inline uint64_t pe_with(uint64_t word, uint32_t state)
{
	return (word & ~(uint64_t)UINT32_MAX) | state;
}
enum proc_liveness {
	LIVENESS_OFD = 0, /* alive while someone holds the entry's byte lock */
	LIVENESS_PID = 1, /* alive while its pid runs with the same start time */
};
/*
 * How an entry's process pops its local lists (slots.c, local_pop): the
 * store that names the slot in its lane and its look at limbo_walks must not
 * pass each other.  A walker's membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)
 * orders them for processes registered for it; the others fence.
 */
enum proc_pops {
	POPS_FENCED = 0,   /* each pop fences */
	POPS_UNFENCED = 1, /* registered: a walker must issue the membarrier */
};
struct proc_entry {
	_Atomic uint64_t state; /* (incarnation << 32) | enum proc_state */
	_Atomic uint32_t pid;
	_Atomic uint32_t liveness;
	_Atomic uint64_t attached_ns;
	_Atomic uint64_t start_time; /* LIVENESS_PID: the process's start, in ticks since boot */
	_Atomic uint32_t pops; /* enum proc_pops */
	uint8_t pad[CACHE_LINE - 36];
	struct lane lanes[LANES];
	/* the remote list: slots this process allocated, freed by others, for it
	 * to take whole; a free list like a shard's, and kept across claims */
	struct shard remote;
};

_Static_assert(sizeof(struct proc_entry) == CACHE_LINE * (2 + LANES), "proc_entry layout");

/*
 * The handoff queue: a ring of cells, each one 64-bit word holding the lap
 * (which pass of the ring it belongs to) and the slot it carries (index + 1,
 * or 0 when empty).  A sender claims and fills a cell with one CAS; a
 * receiver empties it for the next lap with one CAS.  enq and deq only say
 * where to look; anyone who finds the cell there already done moves them on.
 *
 * Who sleeps on signal is a bitmap of process-table entries at sleepers_off
 * (reader_words words, alone on their cache lines): an entry's bit is set
 * while any thread of its process sleeps for the queue, so the mark a dead
 * process leaves is exactly its own bit, which recovery clears.
 */
#define CELL_BLOCKED  (UINT64_C(1) << 63) /* a recoverer holds the cell */
#define CELL_LAP_MASK 0x7fffffffu
struct queue_control {
	_Atomic uint64_t enq; /* next ticket to fill */
	uint8_t pad0[CACHE_LINE - 8];
	_Atomic uint64_t deq; /* next ticket to empty */
	uint8_t pad1[CACHE_LINE - 8];
	_Atomic uint32_t signal; /* futex: bumped by a sender that finds a sleeper's bit */
	uint8_t pad2[CACHE_LINE - 4];
	_Atomic uint64_t cells[];
};
_Static_assert(sizeof(struct queue_control) == 3 * CACHE_LINE, "queue_control layout");

/*
 * Publish/subscribe.  Ticket t of the fan-out ring lives in cell t mod
 * fan_ring, as (lap << 32) | (slot + 1), lap = t / fan_ring; a cell of T's lap
 * holding a slot is published, any other word is not yet.  Publishers, and
 * whoever changes the set of subscriptions, take turns through busy (entry +
 * 1 of the process in its turn, 0 when none): inside a turn, ticket,
 * members, floor and the cells are written by the holder alone, so the
 * subscriptions a message goes to are exactly the members of its ticket.
 * A turn is a few stores; one left by a dead process is finished or undone
 * by recovery (lib/DESIGN.md, "Publish/subscribe").
 */
struct fan_control {
	_Atomic uint32_t busy;
	uint32_t reserved;
	_Atomic uint64_t ticket;  /* the next ticket to publish */
	_Atomic uint64_t members; /* a bit per LIVE subscription */
	_Atomic uint64_t floor;	  /* no member's cursor is below it */
	uint8_t pad0[CACHE_LINE - 32];
	/* subscriptions with a thread asleep, as the queue's sleepers: a bit
	 * set by the first of a subscription's threads to sleep, cleared by the last */
	_Atomic uint64_t sleepers;
	_Atomic uint32_t signal; /* futex: bumped by a publisher that finds a sleeper's bit */
	uint8_t pad1[CACHE_LINE - 12];
};
_Static_assert(sizeof(struct fan_control) == 2 * CACHE_LINE, "fan_control layout");
#define SUBSCRIBERS_MAX 32u /* one bit each in members and in the low half of slot_meta.subs */
#define SUBS_MASK	UINT64_C(0xffffffff)

/*
 * A subscription.  A process claims a FREE one with a CAS to CLAIMED plus
 * its entry, joins in a turn (start and cursor = ticket, its bit into
 * members, then LIVE), and leaves in a turn (its bit out of members, then
 * LEAVING) before it clears its bit from every slot and stores FREE.
 * Recovery does the same for one whose process died.
 */
enum sub_state {
	SUB_FREE = 0,
	SUB_CLAIMED = 1,
	SUB_LIVE = 2,
	SUB_LEAVING = 3,
};
struct sub_entry {
	/* (incarnation << 32) | (owner entry + 1) << 8 | enum sub_state */
	_Atomic uint64_t state;
	_Atomic uint64_t cursor; /* the next ticket to receive: the subscription's threads CAS it */
	_Atomic uint64_t start;	 /* the first ticket it receives */
	uint8_t pad[CACHE_LINE - 24];
};
_Static_assert(sizeof(struct sub_entry) == CACHE_LINE, "sub_entry layout");

static inline uint32_t sub_state(uint64_t word)
{
	return (uint32_t)word & 0xffu;
}
static inline uint32_t sub_owner(uint64_t word)
{
	return ((uint32_t)word >> 8) & 0xffffffu;
}
static inline uint64_t sub_word(uint64_t word, uint32_t owner, uint32_t state)
{
	return (word & ~(uint64_t)UINT32_MAX) | ((uint64_t)owner << 8) | state;
}

/*
 * Slot metadata.  The state word is the slot's truth: the kind, who owns it,
 * who holds its write lock, and its generation, changed by one CAS at a time.
 * Its low half is also the futex that lock waiters sleep on.
 *
 *   bits  0-12  writer: entry + 1 of the write-lock holder, 0 if none
 *   bit   13    waiters: someone sleeps on this word for the writer to leave
 *   bit   14    torn: a writer died in the middle of a write
 *   bits 15-27  owner: entry + 1 of the allocating (freeing, caching) process, 0 if none
 *   bits 28-30  kind
 *   bit   31    relisted: a FREE slot a recovery put back on a list (see limbo_walks)
 *   bits 32-63  generation: never 0, changes at every free
 *
 * Readers are one bit per process-table entry in readers[], so the holders of
 * a read lock are known exactly; the threads of a process count locally.
 */
#define ST_WRITER_MASK 0x1fffu
#define ST_WAITERS     (1u << 13)
#define ST_TORN	       (1u << 14)
#define ST_OWNER_SHIFT 15
#define ST_OWNER_MASK  (0x1fffu << ST_OWNER_SHIFT)
#define ST_KIND_SHIFT  28
#define ST_KIND_MASK   (7u << ST_KIND_SHIFT)
#define ST_RELISTED    (1u << 31)
/* The bits that belong to the slot's lock, not to who holds the slot. */
#define ST_LOCK_BITS ((uint64_t)(ST_WRITER_MASK | ST_WAITERS | ST_TORN))

enum slot_kind {
	KIND_FREE = 0,	  /* on a free list, or about to be (a lane says which) */
	KIND_OWNED = 1,	  /* allocated */
	KIND_QUEUED = 2,  /* in the handoff queue */
	KIND_FREEING = 3, /* owner field = the freeing process; readers draining */
	KIND_CACHED = 4,  /* free, kept by a thread of the owner process for its next alloc */
	KIND_RETIRED = 5, /* its generations are used up: never handed out again */
	KIND_PUBLISHED = 6, /* read-only, held by the subscribers in slot_meta.subs; no owner */
};

struct slot_meta {
	_Atomic uint64_t state;
	_Atomic uint32_t drain; /* futex: a writer waits here for readers to leave */
	_Atomic uint32_t next;	/* free-list link */
	_Atomic uint32_t len;	/* message length */
	_Atomic uint32_t epoch; /* the generation's high part: + 1 each time the state's wraps */
	_Atomic uint32_t home;	/* entry + 1 of the process that allocated it: whose remote list its free goes to */
	uint32_t reserved;
	/* PUBLISHED: in the low half, a bit per subscription that has not
	 * received it yet or holds it (the slot is freed by whoever clears the
	 * last); in the high half, its ticket's low half, so that a release
	 * meant for one publication of the slot cannot clear a bit of the next */
	_Atomic uint64_t subs;
	_Atomic uint64_t ticket; /* PUBLISHED: its ticket in the fan-out ring */
	_Atomic uint64_t readers[]; /* reader_words words */
};
_Static_assert(sizeof(struct slot_meta) == 48, "slot_meta layout");
_Static_assert(offsetof(struct slot_meta, readers) == 48, "slot_meta layout");
_Static_assert(SHMSLAB_PROCS_MAX < ST_WRITER_MASK, "entry ids must fit the state word");

static inline uint32_t st_low(uint64_t st)
{
	return (uint32_t)st;
}
static inline uint32_t st_gen(uint64_t st)
{
	return (uint32_t)(st >> 32);
}
static inline uint32_t st_kind(uint64_t st)
{
	return (st_low(st) & ST_KIND_MASK) >> ST_KIND_SHIFT;
}
static inline uint32_t st_owner(uint64_t st)
{
	return (st_low(st) & ST_OWNER_MASK) >> ST_OWNER_SHIFT;
}
static inline uint32_t st_writer(uint64_t st)
{
	return st_low(st) & ST_WRITER_MASK;
}
static inline uint64_t st_make(uint32_t kind, uint32_t owner, uint32_t gen)
{
	return ((uint64_t)gen << 32) | (kind << ST_KIND_SHIFT) | (owner << ST_OWNER_SHIFT);
}
static inline uint32_t gen_next(uint32_t gen)
{
	return gen == UINT32_MAX ? 1 : gen + 1;
}
/* The epochs a reference can tell apart: the bits of its low word the index leaves. */
static inline uint32_t epoch_max(uint32_t idx_bits)
{
	return idx_bits >= 32 ? 0 : (UINT32_C(1) << (32 - idx_bits)) - 1;
}

/*
 * Bytes of the object that carry open-file-description locks, which the
 * kernel releases when their holder dies: one per process-table entry (its
 * holder is alive), then the recovery lock and the growth lock, and the lock
 * a creator holds until its segment is READY, beyond any geometry's bytes.
 */
static inline uint64_t lock_byte_recovery(uint32_t max_procs)
{
	return max_procs;
}
static inline uint64_t lock_byte_grow(uint32_t max_procs)
{
	return (uint64_t)max_procs + 1;
}
#define CREATE_LOCK_BYTE (UINT64_C(1) << 62)

/*
 * What the fingerprint covers: the size of every shared structure, the
 * offset of each of their fields, and every constant that gives bits or
 * values their meaning.  A field added to a structure goes in this list.
 */
#define FORMAT_SHAPE(X)                                                                      \
	X(sizeof(struct seg_header)) X(offsetof(struct seg_header, layout_version))            \
	X(offsetof(struct seg_header, fingerprint)) X(offsetof(struct seg_header, init_state)) \
	X(offsetof(struct seg_header, page_size)) X(offsetof(struct seg_header, slot_size))    \
	X(offsetof(struct seg_header, creator_pid)) X(offsetof(struct seg_header, created_ns)) \
	X(offsetof(struct seg_header, payload_stride)) X(offsetof(struct seg_header, max_size)) \
	X(offsetof(struct seg_header, queue_off)) X(offsetof(struct seg_header, queue_ring))   \
	X(offsetof(struct seg_header, sleepers_off)) X(SEG_CONTROL_OFF)                          \
	X(sizeof(struct seg_control)) X(offsetof(struct seg_control, growing))                   \
	X(offsetof(struct seg_control, limbo_walks)) X(offsetof(struct lane, local))             \
	X(offsetof(struct seg_control, walk_wanted))                                             \
	X(offsetof(struct lane, local_walks)) X(offsetof(struct proc_entry, remote))             \
	X(LANE_TAKE) X(ST_RELISTED) X(offsetof(struct slot_meta, home))                          \
	X(sizeof(struct shard)) X(offsetof(struct shard, saved_top))                             \
	X(sizeof(struct lane)) X(offsetof(struct lane, cached)) X(LANES)                         \
	X(LANE_POP) X(LANE_FREE) X(LANE_GROW) X(LANE_SEND) X(LANE_RECV)                          \
	X(sizeof(struct proc_entry)) X(offsetof(struct proc_entry, pid))                         \
	X(offsetof(struct proc_entry, liveness)) X(offsetof(struct proc_entry, attached_ns))     \
	X(offsetof(struct proc_entry, start_time)) X(offsetof(struct proc_entry, lanes))         \
	X(offsetof(struct proc_entry, pops)) X(POPS_UNFENCED)                                    \
	X(PROC_LIVE) X(PROC_DEAD) X(PROC_CLAIMING) X(PROC_CLAIMING_BY_PID) X(LIVENESS_PID)       \
	X(sizeof(struct queue_control)) X(offsetof(struct queue_control, deq))                   \
	X(offsetof(struct queue_control, signal)) X(CELL_BLOCKED) X(CELL_LAP_MASK)               \
	X(sizeof(struct slot_meta)) X(offsetof(struct slot_meta, drain))                         \
	X(offsetof(struct slot_meta, next)) X(offsetof(struct slot_meta, len))                   \
	X(offsetof(struct slot_meta, epoch)) X(offsetof(struct slot_meta, readers))              \
	X(ST_WRITER_MASK) X(ST_WAITERS) X(ST_TORN) X(ST_OWNER_SHIFT) X(ST_KIND_SHIFT)           \
	X(KIND_OWNED) X(KIND_QUEUED) X(KIND_FREEING) X(KIND_CACHED) X(KIND_RETIRED)              \
	X(INIT_READY) X(MAX_PAGES) X(CREATE_LOCK_BYTE)                                           \
	X(offsetof(struct seg_header, fan_off)) X(offsetof(struct seg_header, fan_ring))         \
	X(offsetof(struct seg_header, max_subscribers)) X(sizeof(struct fan_control))            \
	X(offsetof(struct fan_control, ticket)) X(offsetof(struct fan_control, members))         \
	X(offsetof(struct fan_control, floor)) X(offsetof(struct fan_control, sleepers))         \
	X(offsetof(struct fan_control, signal)) X(sizeof(struct sub_entry))                      \
	X(offsetof(struct sub_entry, cursor)) X(offsetof(struct sub_entry, start))               \
	X(offsetof(struct slot_meta, subs)) X(offsetof(struct slot_meta, ticket))                \
	X(KIND_PUBLISHED) X(LANE_PUBLISH) X(SUB_LIVE) X(SUB_LEAVING) X(SUBSCRIBERS_MAX)

#endif /* SHMSLAB_FORMAT_H */
