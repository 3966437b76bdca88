/* SPDX-License-Identifier: MIT */
/*
 * What the files of lib/ share: the segment layout in shared memory (every
 * shared structure with its size asserted), the process-local handle, and the
 * internal prototypes grouped under the name of the file that defines them.
 * See lib/DESIGN.md for why the layout is what it is.
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
#include "killpoints.h"
#include "shmslab.h"

#define CACHE_LINE     64
#define LAYOUT_VERSION 4u
#define INIT_READY     0x52454459u /* "REDY": stored last, with release, by the creator */
#define MAX_PAGES      32u	   /* page p holds first_page_slots << p slots */
#define LANES	       16u	   /* journal lanes per process: one per thread, the last shared */
#define NO_ENTRY       UINT32_MAX

#define DEFAULT_SLOT_SIZE  4096u
#define DEFAULT_SLOT_COUNT 1024u
#define DEFAULT_MAX_PROCS  64u
#define DEFAULT_MODE	   0600u

/* ---- Shared memory layout ------------------------------------------------ */

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
	uint8_t pad[40];
};
_Static_assert(sizeof(struct seg_header) == 192, "seg_header layout");
_Static_assert(offsetof(struct seg_header, init_state) == 16, "seg_header layout");
_Static_assert(offsetof(struct seg_header, payload_stride) == 64, "seg_header layout");
_Static_assert(offsetof(struct seg_header, queue_off) == 128, "seg_header layout");
_Static_assert(offsetof(struct seg_header, sleepers_off) == 144, "seg_header layout");

#define SEG_CONTROL_OFF 192u
/* Mutable segment-wide words, each hot one alone on its cache line. */
struct seg_control {
	_Atomic uint32_t capacity; /* slots in use now: grows, never shrinks */
	_Atomic uint32_t growing;  /* the capacity a grower is building to, 0 when none */
	uint8_t pad[CACHE_LINE - 8];
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
};
struct lane {
	_Atomic uint64_t window; /* (op << 32) | slot */
	_Atomic uint32_t cached; /* slot + 1 kept by this thread for its next alloc, 0 if none */
	uint8_t pad[CACHE_LINE - 12];
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
struct proc_entry {
	_Atomic uint64_t state; /* (incarnation << 32) | enum proc_state */
	_Atomic uint32_t pid;
	_Atomic uint32_t liveness;
	_Atomic uint64_t attached_ns;
	_Atomic uint64_t start_time; /* LIVENESS_PID: the process's start, in ticks since boot */
	uint8_t pad[CACHE_LINE - 32];
	struct lane lanes[LANES];
};

_Static_assert(sizeof(struct proc_entry) == CACHE_LINE * (1 + LANES), "proc_entry layout");

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
 * Slot metadata.  The state word is the slot's truth: the kind, who owns it,
 * who holds its write lock, and its generation, changed by one CAS at a time.
 * Its low half is also the futex that lock waiters sleep on.
 *
 *   bits  0-12  writer: entry + 1 of the write-lock holder, 0 if none
 *   bit   13    waiters: someone sleeps on this word for the writer to leave
 *   bit   14    torn: a writer died in the middle of a write
 *   bits 15-27  owner: entry + 1 of the allocating (freeing, caching) process, 0 if none
 *   bits 28-30  kind
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
/* The bits that belong to the slot's lock, not to who holds the slot. */
#define ST_LOCK_BITS ((uint64_t)(ST_WRITER_MASK | ST_WAITERS | ST_TORN))

enum slot_kind {
	KIND_FREE = 0,	  /* on a free list, or about to be (a lane says which) */
	KIND_OWNED = 1,	  /* allocated */
	KIND_QUEUED = 2,  /* in the handoff queue */
	KIND_FREEING = 3, /* owner field = the freeing process; readers draining */
	KIND_CACHED = 4,  /* free, kept by a thread of the owner process for its next alloc */
	KIND_RETIRED = 5, /* its generations are used up: never handed out again */
};

struct slot_meta {
	_Atomic uint64_t state;
	_Atomic uint32_t drain; /* futex: a writer waits here for readers to leave */
	_Atomic uint32_t next;	/* free-list link */
	_Atomic uint32_t len;	/* message length */
	_Atomic uint32_t epoch; /* the generation's high part: + 1 each time the state's wraps */
	uint32_t reserved[2];
	_Atomic uint64_t readers[]; /* reader_words words */
};
_Static_assert(sizeof(struct slot_meta) == 32, "slot_meta layout");
_Static_assert(offsetof(struct slot_meta, readers) == 32, "slot_meta layout");
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
	uint64_t idx_mask;		     /* low idx_bits bits of a head */
	uint32_t page_slots[MAX_PAGES];	     /* slots in page p */
	uint64_t page_off[MAX_PAGES];	     /* file offset of page p */
	uint64_t page_meta_bytes[MAX_PAGES]; /* metadata block at the start of page p */
	uint64_t page_bytes[MAX_PAGES];	     /* whole page p, page-aligned */
};

/*
 * Bytes of the segment that carry open-file-description locks: one per
 * process-table entry (its holder is alive), then the recovery lock and the
 * growth lock, which the kernel releases if their holder dies.
 */
static inline uint64_t lock_byte_recovery(const struct geometry *g)
{
	return g->max_procs;
}
static inline uint64_t lock_byte_grow(const struct geometry *g)
{
	return (uint64_t)g->max_procs + 1;
}
/* Held by a creator until its segment is READY; beyond any geometry's bytes. */
#define CREATE_LOCK_BYTE (UINT64_C(1) << 62)

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
	uint32_t self; /* process-table entry, NO_ENTRY when inspecting */
	struct geometry g;
	uint8_t *ctl; /* mapping of [0, data_off): header, control, shards, procs */
	struct seg_header *hdr;
	struct seg_control *control;
	struct shard *shards;
	struct queue_control *queue;
	_Atomic uint64_t *sleepers; /* reader_words words: entries with a thread asleep on the queue */
	struct proc_entry *me;
	_Atomic uint32_t sleeping; /* threads of ours asleep on the queue; SLEEP_BUSY while moving 0 <-> 1 */
	_Atomic uint32_t capacity_known; /* slots this process has validated and mapped */
	struct page_map pages[MAX_PAGES];
	pthread_mutex_t map_lock;     /* serialises mapping a page */
	pthread_mutex_t recover_lock; /* a byte lock does not exclude our own threads */
	pthread_mutex_t grow_lock;
	struct shmslab_recovery recovered; /* at attach, until shmslab_recover_counts reports it */
	pthread_mutex_t shared_lane_lock;  /* threads without a lane of their own */
	struct shmslab *next_open;	   /* registry, for fork handling */
	char name[NAME_MAX + 2];
};

/* ---- Internal functions, by the file that defines them ------------------- */

/* os.c */
int shmslab__name_check(const char *name);
int shmslab__os_shm_create(const char *name, mode_t mode, int *fd);
int shmslab__os_shm_open(const char *name, bool writable, int *fd);
int shmslab__os_shm_unlink(const char *name);
void shmslab__os_shm_unlink_own(const char *name, int fd);
int shmslab__os_file_size(int fd, uint64_t *size);
int shmslab__os_reserve(int fd, uint64_t size);
int shmslab__os_spare_fd(void);
void shmslab__os_close(int fd);
int shmslab__os_write_at(int fd, const void *buf, size_t len, uint64_t off);
void shmslab__os_cancel_off(int *old);
void shmslab__os_cancel_restore(int old);
int shmslab__os_map(int fd, uint64_t off, uint64_t len, bool writable, void **out);
void shmslab__os_unmap(void *addr, uint64_t len);
int shmslab__os_futex_wait(_Atomic uint32_t *word, uint32_t expected, int timeout_ms);
int shmslab__os_futex_wait_cancellable(_Atomic uint32_t *word, uint32_t expected, int timeout_ms);
void shmslab__os_futex_wake(_Atomic uint32_t *word);
int shmslab__os_lock_byte(int fd, uint64_t byte);
int shmslab__os_same_file(int fd1, int fd2);
int shmslab__os_byte_locked(int fd, uint64_t byte);
int shmslab__os_lock_byte_wait(int fd, uint64_t byte);
void shmslab__os_unlock_byte(int fd, uint64_t byte);
int shmslab__os_pid_start(pid_t pid, uint64_t *start);
uint32_t shmslab__os_cpu_slow(void);
uint64_t shmslab__os_realtime_ns(void);
void shmslab__os_backoff(unsigned *round);
uint32_t shmslab__os_page_size(void);
uint32_t shmslab__os_cpu_count(void);

#ifdef HAVE_RSEQ_OFFSET
#include <sys/rseq.h>
#endif
/* The CPU this thread runs on now: a hint for choosing a shard, nothing more. */
static inline uint32_t shmslab__os_cpu(void)
{
#ifdef HAVE_RSEQ_OFFSET
	/* glibc keeps the kernel's rseq area current: one load, no call */
	if (__builtin_expect(__rseq_size > 0, 1)) {
		const struct rseq *rs =
			(const struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
		int32_t cpu = (int32_t)atomic_load_explicit((const _Atomic uint32_t *)&rs->cpu_id,
							    memory_order_relaxed);

		if (cpu >= 0)
			return (uint32_t)cpu;
	}
#endif
	return shmslab__os_cpu_slow();
}

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
	if (idx < sa_load_acquire_u32(&s->capacity_known))
		return 0;
	return shmslab__map_refresh(s, idx);
}

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
		sa_fence_seq_cst();
	else
		sa_fence_compiler();
	/* relaxed: ordered after our store by the fence above */
	if (__builtin_expect(sa_load_relaxed_u32(&s->closing) != 0, 0)) {
		call_leave();
		return -EBADF;
	}
	return 0;
}

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
	return s->g.idx_bits >= 32 ? 0 : (uint32_t)ref >> s->g.idx_bits;
}

/* The reference of slot IDX, which the caller holds, in generation GEN. */
static inline shmslab_ref ref_make(const struct shmslab *s, uint32_t idx, uint32_t gen)
{
	/* relaxed: stored before the slot came back to the lists, which we
	 * acquired it from */
	uint64_t epoch = sa_load_relaxed_u32(&slot_meta(s, idx)->epoch) & epoch_max(s->g.idx_bits);

	return ((uint64_t)gen << 32) | (s->g.idx_bits >= 32 ? 0 : epoch << s->g.idx_bits) | idx;
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
	       (sa_load_relaxed_u32(&m->epoch) & epoch_max(s->g.idx_bits)) ==
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
	    (sa_load_relaxed_u32(&slot_meta(s, idx)->epoch) & epoch_max(s->g.idx_bits)))
		return -EINVAL;
	return 0;
}

/* alloc.c */
void shmslab__slots_leave(struct shmslab *s);
void shmslab__slot_push(struct shmslab *s, struct lane *lane, uint32_t idx, uint32_t gen);

/* queue.c */
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

/* recover.c */
int shmslab__recover(struct shmslab *s, struct shmslab_recovery *what);
int shmslab__recover_wait(struct shmslab *s);

/* freelist.c */
int shmslab__freelist_push_range(struct shmslab *s, uint32_t shard, uint32_t first, uint32_t count);
int shmslab__freelist_pop(struct shmslab *s, uint32_t shard, struct lane *lane, uint32_t *idx);
int shmslab__freelist_push(struct shmslab *s, uint32_t shard, uint32_t idx);
uint32_t shmslab__freelist_nil(const struct shmslab *s);
uint32_t shmslab__freelist_blocked(const struct shmslab *s);
bool shmslab__freelist_is_blocked(const struct shmslab *s, uint32_t shard);
void shmslab__freelist_block(struct shmslab *s, uint32_t shard);
void shmslab__freelist_unblock(struct shmslab *s, uint32_t shard);

/* slotlock.c */
int shmslab__slot_read_lock(struct shmslab *s, uint32_t idx, uint64_t want);
void shmslab__slot_read_unlock(struct shmslab *s, uint32_t idx);
int shmslab__slot_write_lock(struct shmslab *s, uint32_t idx, uint64_t want);
void shmslab__slot_write_unlock(struct shmslab *s, uint32_t idx, bool complete);
void shmslab__slot_drain_wait(struct shmslab *s, uint32_t idx);
int shmslab__slot_wait_writer(struct shmslab *s, uint32_t idx, uint64_t seen);
uint32_t shmslab__slot_reader_count(const struct shmslab *s, uint32_t idx);
void shmslab__slot_release_proc(struct shmslab *s, uint32_t idx, uint32_t entry);

/*
 * Wait until no process holds a read lock on IDX.  The caller holds the slot
 * exclusively (its write lock, or the freeing state), so no new reader
 * enters.  Inline, for the common case of no reader at all.
 */
static inline void shmslab__slot_drain_readers(struct shmslab *s, uint32_t idx)
{
	struct slot_meta *m = slot_meta(s, idx);

	for (uint32_t w = 0; w < s->g.reader_words; w++) {
		/* seq_cst: pairs with the reader's bit-set then state look */
		if (sa_load_seq_cst_u64(&m->readers[w]) != 0) {
			shmslab__slot_drain_wait(s, idx);
			return;
		}
	}
}

/* procs.c */
int shmslab__procs_attach(struct shmslab *s);
void shmslab__procs_detach(struct shmslab *s);
struct proc_entry *shmslab__proc_entry(const struct shmslab *s, uint32_t entry);
bool shmslab__proc_alive(struct shmslab *s, uint32_t entry);
bool shmslab__proc_alive_as(struct shmslab *s, uint32_t entry, uint64_t word);
uint32_t shmslab__proc_state(const struct shmslab *s, uint32_t entry);
void shmslab__proc_reset(struct shmslab *s, uint32_t entry);
struct lane *shmslab__lane_enter_slow(struct shmslab *s);
void shmslab__lanes_after_fork(void);

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

#endif /* SHMSLAB_INTERNAL_H */
