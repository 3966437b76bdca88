/* SPDX-License-Identifier: MIT */
/*
 * libshmslab: message passing between unrelated processes of one Linux host
 * through a slab of fixed-size slots in POSIX shared memory.
 *
 * A segment is created once (shmslab_create, or the shmslab-create tool) and
 * attached by name by any number of processes.  A producer allocates a slot,
 * stores a message in it and passes the slot's reference on; a consumer
 * reads the message and frees the slot.  There is no broker and no daemon.
 *
 * Conventions, for every function below:
 *   - The return value is 0, or a non-negative count or length, on success,
 *     and a negative errno value on failure.  Two library codes,
 *     SHMSLAB_EFORMAT and SHMSLAB_ECORRUPT, sit far from the errno range.
 *     shmslab_strerror() names every code.  This header includes <errno.h>,
 *     so that a program can compare with -ESTALE, -ENOSPC and the rest.
 *   - A NULL pointer where an object is needed is -EINVAL.
 *   - Any call that reads the segment may answer SHMSLAB_ECORRUPT when
 *     shared metadata fails a bounds or consistency check, and -ENOMEM
 *     when this process has no address space to map the page a slot it
 *     needs lies in (or, on a thread's first call, no memory for the
 *     library's record of the thread).
 *   - Every function may be called concurrently from many threads of many
 *     processes on one segment; a struct shmslab * may be shared by the
 *     threads of the process that opened it.  While one thread closes a
 *     handle, calls on it by other threads answer -EBADF, and the close
 *     waits for the calls in progress to end (see shmslab_close); a call
 *     made after shmslab_close has returned uses freed memory.
 *   - After fork() the child must open the segment itself; the handle it
 *     inherited may only be passed to shmslab_close(), which then releases
 *     the child's copy without detaching the parent.  Any other call with an
 *     inherited handle answers -ECHILD.  The child inherits none of the
 *     segment's mappings: the data pointers of views are not valid there.
 *   - Cancellation: only the wait of shmslab_recv is a cancellation point
 *     (pthread_cancel takes effect there, at once); every other call holds
 *     cancellation off while it holds a lock or is half way through a change.
 */
#ifndef SHMSLAB_H
#define SHMSLAB_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SHMSLAB_VERSION_MAJOR  0
#define SHMSLAB_VERSION_MINOR  6
#define SHMSLAB_VERSION_PATCH  0
#define SHMSLAB_VERSION_STRING "0.6.0"

#if defined(__GNUC__) || defined(__clang__)
#define SHMSLAB_NODISCARD __attribute__((warn_unused_result))
#else
#define SHMSLAB_NODISCARD
#endif

/* The library is built with hidden visibility; these are what it exports. */
#if defined(SHMSLAB_BUILDING) && (defined(__GNUC__) || defined(__clang__))
#define SHMSLAB_API __attribute__((visibility("default")))
#else
#define SHMSLAB_API
#endif

/* Library error codes: negative and far from errno values. */
#define SHMSLAB_EFORMAT	 (-0x5301) /* not a shmslab segment, or another layout version */
#define SHMSLAB_ECORRUPT (-0x5302) /* shared metadata failed a bounds or consistency check */

/* Limits of the segment format; create answers -EINVAL beyond them. */
#define SHMSLAB_SLOT_SIZE_MAX (UINT32_C(1) << 30) /* bytes per slot */
#define SHMSLAB_SLOTS_MAX     (UINT32_C(1) << 31) /* slots per segment */
#define SHMSLAB_PROCS_MAX     4096u		  /* processes attached at once */
#define SHMSLAB_SHARDS_MAX    64u		  /* free-list shards */
#define SHMSLAB_SIZE_MAX      (UINT64_C(1) << 46) /* bytes per segment */
#define SHMSLAB_SUBSCRIBERS_MAX 32u		  /* subscriptions at once */

struct shmslab; /* a process's attachment to one segment; opaque */

/*
 * A reference to one slot: its index and its generation.  The generation
 * changes every time the slot is freed, so a reference kept after its slot
 * was freed is stale and every call that takes it answers -ESTALE, even after
 * the slot was allocated again.
 */
typedef uint64_t shmslab_ref;
#define SHMSLAB_REF_NONE ((shmslab_ref)0) /* never a valid reference */

struct shmslab_config {
	uint32_t slot_size;   /* bytes one message may hold (default 4096) */
	uint32_t slot_count;  /* slots at creation (default 1024) */
	uint32_t max_slots;   /* growth ceiling; 0 = fixed at slot_count */
	uint32_t max_procs;   /* processes attached at once (default 64) */
	uint32_t queue_depth; /* references the handoff queue holds; 0 = slot_count (default) */
	mode_t mode;	      /* permission bits of the segment (default 0600) */
	/* Additions to the contract: */
	uint32_t shards; /* free-list shards; 0 = one per CPU (default) */
	/* publish/subscribe (see shmslab_subscribe) */
	uint32_t max_subscribers; /* subscriptions at once, 1..SHMSLAB_SUBSCRIBERS_MAX; 0 = 16 (default) */
	uint32_t fanout_depth;	  /* messages a subscriber may have waiting; 0 = slot_count (default) */
};

struct shmslab_view { /* a zero-copy window on one slot, held locked */
	void *data;   /* the message bytes, in shared memory */
	size_t len;   /* message length; a writer sets it before _end */
	size_t cap;   /* bytes the slot can hold (= slot_size) */
	/* private: */
	shmslab_ref priv_ref;
	uint32_t priv_mode;
	uint32_t priv_pad;
};

struct shmslab_stats { /* a consistent-enough snapshot for diagnostics */
	uint64_t slot_size, slot_count, max_slots;
	uint64_t available; /* free slots: on the free lists, kept back, or lost by a dead
	                       process in the middle of a free until recovery finds them */
	uint64_t allocated; /* slots held by processes */
	uint64_t queued;    /* references waiting in the handoff queue */
	uint64_t procs;	    /* processes attached now (alive) */
	uint64_t max_procs;
	/* Additions to the contract: */
	uint64_t layout_version; /* format of the segment */
	uint64_t shards;	 /* free-list shards */
	uint64_t unowned;	 /* allocated slots whose allocator detached */
	uint64_t busy;		 /* slots being freed, waiting for their readers */
	uint64_t dead_procs;	 /* entries of processes that died, not yet recovered */
	uint64_t queue_depth;	 /* references the handoff queue holds at most */
	uint64_t retired;	 /* slots whose generations are used up (see shmslab_free) */
	uint64_t subscribers;	 /* subscriptions now (publish/subscribe) */
	uint64_t published;	 /* slots published, held by subscribers that have not let go */
	uint64_t max_subscribers;
	uint64_t fanout_depth;
};

/* Fill in the defaults above. */
SHMSLAB_API void shmslab_config_init(struct shmslab_config *cfg);

/*
 * Create the segment NAME ("/name", as shm_open(3)) and attach to it.
 * cfg may be NULL for the defaults.  Never adopts an existing object.
 * Errors: -EINVAL (bad name, zero or out-of-limit sizes, mode bits beyond
 * 0777), -EEXIST (the name exists; it is left untouched), -ENOSPC or -ENOMEM
 * (no memory for the segment), -EFBIG (larger than the process's file-size
 * limit, RLIMIT_FSIZE; no SIGXFSZ is raised), -EACCES, -EMFILE, -ENFILE,
 * -EUSERS (max_procs reached).  A create that fails leaves nothing at the
 * name.  The header is the first thing written, so a creator killed at any
 * instant leaves an object that shmslab_unlink removes.
 */
SHMSLAB_API SHMSLAB_NODISCARD int shmslab_create(const char *name, const struct shmslab_config *cfg,
						 struct shmslab **out);

/*
 * Attach to an existing segment.  A segment still being laid out by its
 * creator is waited for, a fifth of a second at most.
 * Errors: -EINVAL (bad name), -ENOENT (no such name, or the name was
 * replaced while attaching), -EACCES, -EAGAIN (its creator, alive, has not
 * finished laying it out yet: try again), SHMSLAB_EFORMAT (not a regular
 * object, not a valid segment of this layout version, too small, or left
 * unfinished by a creator that died), SHMSLAB_ECORRUPT, -EUSERS (max_procs
 * processes already attached), -ENOMEM, -EMFILE, -ENFILE.  Never waits on a
 * FIFO or device someone put at the name.
 */
SHMSLAB_API SHMSLAB_NODISCARD int shmslab_open(const char *name, struct shmslab **out);

/*
 * Attach for inspection only: no process-table entry is taken, so this works
 * when the table is full.  Only shmslab_stat, shmslab_slot_info,
 * shmslab_proc_info and shmslab_close accept such a handle; everything else
 * answers -EPERM.  Errors as shmslab_open, without -EUSERS.
 */
SHMSLAB_API SHMSLAB_NODISCARD int shmslab_inspect(const char *name, struct shmslab **out);

/*
 * Detach; the segment lives on.  Views still held are released (a write view
 * marks its message torn).  Slots this process allocated and did not free
 * stay allocated, with no owner, for whoever holds their references.
 * Other threads' calls on the handle: those that start now answer -EBADF;
 * those asleep in shmslab_recv wake and answer -EBADF; those waiting for a
 * slot's writer answer -EBADF within a tenth of a second; the rest end as
 * usual, and the close returns once every one has.  The data pointers of
 * views on the handle are not valid after.  Errors: -EINVAL (NULL), -EBADF
 * (another thread is closing it already).
 */
SHMSLAB_API int shmslab_close(struct shmslab *slab);

/*
 * Remove the name; attached processes keep working.  Removes a segment of
 * any layout version, finished or not, and an empty object (what a creator
 * killed before its first write leaves); refuses anything else, a FIFO
 * included, with SHMSLAB_EFORMAT.  Errors: -EINVAL, -ENOENT, -EACCES.
 */
SHMSLAB_API SHMSLAB_NODISCARD int shmslab_unlink(const char *name);

/*
 * Take a free slot (message length 0) and store its reference in *ref.
 * Never waits for a slot to be freed; when none is free and the segment is
 * below max_slots, it grows the segment (or waits for the process that is
 * growing it).  Errors: -ENOSPC (no free slot and no room to grow, or
 * /dev/shm is full), -EFBIG (growing would pass the file-size limit,
 * RLIMIT_FSIZE), -ENOMEM (no address space to map the page of a free slot),
 * SHMSLAB_ECORRUPT.
 */
SHMSLAB_API SHMSLAB_NODISCARD int shmslab_alloc(struct shmslab *slab, shmslab_ref *ref);

/*
 * Give the slot back.  Waits for the slot's readers and writer to finish.
 * Any process may free a slot whose reference it holds.  Each free moves
 * the slot's generation on; a slot freed so often that its generations
 * would start again (2^(64 - b) frees, where b bits hold an index: 2^53
 * for 1024 slots, at the least 2^32) retires instead, and is never handed
 * out again (shmslab_stats.retired counts them).
 * Errors: -EINVAL (malformed reference), -ESTALE (already freed), -EBUSY (in
 * the handoff queue, or on its way in or out: the queue's until received).
 */
SHMSLAB_API SHMSLAB_NODISCARD int shmslab_free(struct shmslab *slab, shmslab_ref ref);

/*
 * Copy len bytes into the slot as its message, under the slot's write lock.
 * Errors: -EMSGSIZE (len > slot_size; nothing stored), -EINVAL, -ESTALE.
 */
SHMSLAB_API SHMSLAB_NODISCARD int shmslab_store(struct shmslab *slab, shmslab_ref ref,
						const void *msg, size_t len);

/*
 * Copy the message out under the slot's read lock; returns its length.
 * Errors: -EMSGSIZE (cap is smaller than the message; nothing copied),
 * -EINVAL, -ESTALE, -EOWNERDEAD (the last writer died in the middle of a
 * write; the bytes are not a message).
 */
SHMSLAB_API SHMSLAB_NODISCARD ssize_t shmslab_read(struct shmslab *slab, shmslab_ref ref, void *buf,
						   size_t cap);

/*
 * Zero-copy access.  _begin takes the slot's lock (shared for reading,
 * exclusive for writing) and fills in *v; _end releases it.  A thread must
 * not ask for a lock on a slot it already holds for writing, nor for the
 * write lock of a slot it holds for reading, nor free a slot it holds a view
 * of: like a pthread rwlock, that waits forever.  write_end stores v->len as
 * the message length; if v->len is larger than v->cap it answers -EMSGSIZE
 * and the view stays held.  A copy of a view is the same view: ending it
 * twice is caught only while the process holds no other view of that slot.
 * Read locks nest: a thread may take more on a slot it reads, but threads of
 * one process that keep their read locks on a slot overlapping hold off its
 * writers for as long as they do.
 * Errors: -EINVAL (bad reference, or a view that is not held), -ESTALE,
 * -EOWNERDEAD (read_begin of a torn message).
 */
SHMSLAB_API SHMSLAB_NODISCARD int shmslab_read_begin(struct shmslab *slab, shmslab_ref ref,
						     struct shmslab_view *v);
SHMSLAB_API int shmslab_read_end(struct shmslab *slab, struct shmslab_view *v);
SHMSLAB_API SHMSLAB_NODISCARD int shmslab_write_begin(struct shmslab *slab, shmslab_ref ref,
						      struct shmslab_view *v);
SHMSLAB_API SHMSLAB_NODISCARD int shmslab_write_end(struct shmslab *slab, struct shmslab_view *v);

/*
 * Hand the slot to the handoff queue: it belongs to the queue until a
 * shmslab_recv takes it (the caller's reference stays valid for reading and
 * writing, but not for free or send).  Any holder of a reference may send it.
 * Never waits for room.  Errors: -ENOSPC (queue_depth references are queued
 * already; the slot stays with its owner), -EINVAL, -ESTALE, -EBUSY (already
 * queued).
 */
SHMSLAB_API SHMSLAB_NODISCARD int shmslab_send(struct shmslab *slab, shmslab_ref ref);

/*
 * Take the oldest reference from the handoff queue into *ref; the slot then
 * belongs to this process, which must free it (or send it on).  Each sent
 * reference is received exactly once, in the order one producer sent them.
 * timeout_ms: -1 waits as long as it takes, 0 does not wait, otherwise the
 * most milliseconds to wait.  Waiting sleeps in the kernel.  To stop a
 * thread that waits: a signal it has a handler for (the wait answers
 * -EINTR, as POSIX waits do), pthread_cancel (the wait is a cancellation
 * point), or shmslab_close of the handle from another thread (-EBADF).
 * Errors: -EAGAIN (timeout_ms 0 and the queue is empty), -ETIMEDOUT,
 * -EINTR, -EBADF, -EINVAL (ref NULL, timeout_ms below -1), -ENOMEM (no
 * address space to map the page of the slot that is next; it stays queued).
 */
SHMSLAB_API SHMSLAB_NODISCARD int shmslab_recv(struct shmslab *slab, shmslab_ref *ref,
					       int timeout_ms);

/*
 * Bursts: many messages per call, as that many single calls in a row (FIFO
 * for one producer, each reference received exactly once, ownership moving
 * as with send and recv), with the call's fixed costs paid once.  Each
 * returns how many references it handled, 1 to n.  n == 0, n > INT_MAX or a
 * NULL array is -EINVAL.  A process killed inside a burst leaves each slot
 * allocated or free, queued or not, never lost and never doubled.
 *
 * shmslab_alloc_many: up to n free slots into refs[0..k), each as
 * shmslab_alloc takes one (growing the segment when the lists run dry); it
 * takes back what dead processes hold only when it finds no slot at all.
 * Errors as shmslab_alloc, when not even one slot could be had.
 *
 * shmslab_send_many: hands refs[0..k) to the queue in order.  Every
 * reference is checked before any is sent: a bad one answers its error
 * (-EINVAL, -ESTALE, -EBUSY) and nothing is sent; a reference given twice
 * is -EINVAL, nothing sent.  When the queue has room for only some (or
 * another thread changes a slot during the burst), the first are sent and
 * their count returned; the rest stay the caller's.  Errors as
 * shmslab_send, -ENOSPC when not even one fits, and -ENOMEM when a burst of
 * more than 64 has no memory to be checked for repeats.
 *
 * shmslab_recv_many: waits as shmslab_recv for the first reference, then
 * takes up to n - 1 more that are queued already, without waiting again.
 * Errors as shmslab_recv, when none came.
 */
SHMSLAB_API SHMSLAB_NODISCARD int shmslab_alloc_many(struct shmslab *slab, shmslab_ref *refs,
						     unsigned n);
SHMSLAB_API SHMSLAB_NODISCARD int shmslab_send_many(struct shmslab *slab, const shmslab_ref *refs,
						    unsigned n);
SHMSLAB_API SHMSLAB_NODISCARD int shmslab_recv_many(struct shmslab *slab, shmslab_ref *refs,
						    unsigned n, int timeout_ms);

/*
 * Publish/subscribe: every subscription receives every message published
 * while it exists, zero-copy (one slot, shared read-only by all of them),
 * all subscriptions in the same order (one publisher's in the order it
 * published).  A segment holds max_subscribers subscriptions at once; a
 * process may hold several, and its threads may share one.
 *
 * shmslab_subscribe: a new subscription, which receives what is published
 * after it returns and nothing published before.  Errors: -EUSERS
 * (max_subscribers subscriptions exist, once what dead processes held is
 * recovered), -ENOMEM, -EINVAL.
 *
 * shmslab_unsubscribe: ends SUB and frees it; every message it holds or has
 * not received yet is let go (a slot goes back to the free lists when its
 * last subscription lets go).  No other thread may use SUB meanwhile or
 * after.  O(slots): it looks at every slot for those it holds.
 * shmslab_close ends the handle's subscriptions the same way.
 *
 * shmslab_publish: hands the slot of REF, which the caller holds allocated
 * (or received from the queue), to every subscription of the moment, and
 * answers how many; with none, the slot is freed and 0 answered.  From then
 * on the slot is read-only: shmslab_read and shmslab_read_begin work with
 * the reference, shmslab_store, write_begin, free, send and publish answer
 * -EBUSY.  The publisher's cost does not grow with the number of
 * subscriptions.  Never waits for room.  Errors: -ENOSPC (a subscription
 * has fanout_depth messages waiting that it has not received; nothing is
 * published, the slot stays the caller's), -EBUSY (queued, published, or a
 * writer holds it), -ESTALE, -EINVAL.  A process killed inside publish
 * leaves the message delivered to every subscription of that instant or to
 * none, its slot never lost.
 *
 * shmslab_sub_recv: the next message of SUB into *ref, as shmslab_recv
 * waits (timeout_ms -1 forever, 0 polls); the subscription holds it until
 * shmslab_sub_release.  Errors: -EAGAIN (timeout_ms 0, nothing waiting),
 * -ETIMEDOUT, -EINTR, -EBADF (the handle is being closed), -EINVAL.
 *
 * shmslab_sub_release: SUB is done with REF, which it received; the slot is
 * freed when its last subscription lets go (waiting for its readers, as
 * shmslab_free).  Errors: -EINVAL (SUB did not receive REF, or a bad
 * reference), -ESTALE (released already).
 *
 * A subscription whose process died never holds publishers back: recovery
 * lets go of what it held and frees its place, and a publish that finds a
 * dead subscription full recovers before it answers -ENOSPC.
 */
struct shmslab_sub; /* one subscription of one process; opaque */

SHMSLAB_API SHMSLAB_NODISCARD int shmslab_subscribe(struct shmslab *slab, struct shmslab_sub **out);
SHMSLAB_API int shmslab_unsubscribe(struct shmslab_sub *sub);
SHMSLAB_API SHMSLAB_NODISCARD int shmslab_publish(struct shmslab *slab, shmslab_ref ref);
SHMSLAB_API SHMSLAB_NODISCARD int shmslab_sub_recv(struct shmslab_sub *sub, shmslab_ref *ref,
						   int timeout_ms);
SHMSLAB_API SHMSLAB_NODISCARD int shmslab_sub_release(struct shmslab_sub *sub, shmslab_ref ref);

/*
 * A snapshot for diagnostics.  Walks the slot table: O(slots).
 */
SHMSLAB_API SHMSLAB_NODISCARD int shmslab_stat(struct shmslab *slab, struct shmslab_stats *st);

/*
 * Reclaim what processes that died were holding: their locks (a write left
 * unfinished tears its message: readers get -EOWNERDEAD), the slots they
 * owned, kept back or were in the middle of allocating or freeing (back to
 * the free lists), and their process-table entries.  Returns how many things
 * it reclaimed (slots + locks + entries), 0 when nothing was dead.  A slot
 * that a live process still reads is left for a later recovery.  The library
 * also recovers by itself: a wait that outlasts a short timeout takes a dead
 * holder's lock away, alloc recovers before answering -ENOSPC, and attach
 * before answering -EUSERS.  Errors: -EPERM (an inspect handle), -ENOMEM,
 * SHMSLAB_ECORRUPT.
 */
SHMSLAB_API SHMSLAB_NODISCARD int shmslab_recover(struct shmslab *slab);

/* Addition to the contract: what a recovery reclaimed, by kind. */
struct shmslab_recovery {
	uint64_t slots; /* back on the free lists */
	uint64_t locks; /* read and write locks released */
	uint64_t procs; /* process-table entries freed */
	uint64_t subscriptions; /* subscriptions of dead processes ended */
};

/*
 * shmslab_recover, filling in *what by kind; what a recovery done by
 * shmslab_open on a full table reclaimed is counted in the first call.
 */
SHMSLAB_API SHMSLAB_NODISCARD int shmslab_recover_counts(struct shmslab *slab,
							 struct shmslab_recovery *what);

/* Additions to the contract: per-slot and per-process detail for tools. */
enum shmslab_slot_state {
	SHMSLAB_SLOT_FREE = 0,	 /* on a free list */
	SHMSLAB_SLOT_OWNED = 1,	 /* allocated */
	SHMSLAB_SLOT_QUEUED = 2, /* in the handoff queue */
	SHMSLAB_SLOT_BUSY = 3,	 /* being freed: waiting for its readers to leave */
	SHMSLAB_SLOT_RETIRED = 4, /* its generations are used up: never handed out again */
	SHMSLAB_SLOT_PUBLISHED = 5 /* published: read-only, until its last subscriber lets go */
};

struct shmslab_slot_info {
	uint64_t index;
	uint32_t generation;
	uint32_t state;	  /* enum shmslab_slot_state */
	uint64_t len;	  /* message length */
	int32_t owner;	  /* entry holding it: allocator or receiver (BUSY: freer), or -1 */
	int32_t writer;	  /* entry holding the write lock, -1 if none */
	uint32_t readers; /* processes holding a read lock */
	uint32_t torn;	  /* the last writer died in the middle of a write */
};

/* Fill in *info for slot INDEX.  Errors: -EINVAL (index out of range). */
SHMSLAB_API SHMSLAB_NODISCARD int shmslab_slot_info(struct shmslab *slab, uint64_t index,
						    struct shmslab_slot_info *info);

struct shmslab_proc_info {
	uint32_t entry;	   /* index in the process table */
	uint32_t attached; /* 1 if a process holds this entry, alive or dead */
	uint32_t alive;	   /* 1 if that process still runs; 0: dead, not yet recovered */
	uint32_t self;	   /* 1 if this is the caller's own entry */
	int64_t pid;
	/* what it holds (counted over every slot: O(slots)) */
	uint64_t owned;	  /* slots it holds: allocated or received */
	uint64_t kept;	  /* free slots it keeps back for its next alloc */
	uint64_t reading; /* slots it holds a read lock on */
	uint64_t writing; /* slots it holds the write lock of */
	/* for a dead process: the operation it died in the middle of, if any */
	uint32_t died_in; /* 0 none, 1 alloc, 2 free, 3 growing the segment, 4 send, 5 receive */
	uint32_t pad;
	int64_t died_slot; /* the slot that operation was moving, -1 if none */
};

/* Fill in *info for process-table entry ENTRY.  Errors: -EINVAL. */
SHMSLAB_API SHMSLAB_NODISCARD int shmslab_proc_info(struct shmslab *slab, uint32_t entry,
						    struct shmslab_proc_info *info);

struct shmslab_sub_info {
	uint32_t index;	   /* place in the subscription table */
	uint32_t live;	   /* 1 if a subscription holds this place */
	int32_t entry;	   /* process-table entry of its process, -1 if none */
	uint32_t alive;	   /* 1 if that process still runs */
	uint64_t waiting;  /* messages published to it and not received yet */
	uint64_t held;	   /* messages received and not released (counted over every slot) */
	uint64_t received; /* messages received since it subscribed */
};

/*
 * Fill in *info for place INDEX of the subscription table
 * (0 .. max_subscribers - 1).  Errors: -EINVAL (index out of range).
 */
SHMSLAB_API SHMSLAB_NODISCARD int shmslab_sub_info(struct shmslab *slab, uint32_t index,
						   struct shmslab_sub_info *info);

/* The name of an error code (a static string; never NULL). */
SHMSLAB_API const char *shmslab_strerror(int err);

/* MAJOR*10000 + MINOR*100 + PATCH of the library actually linked. */
SHMSLAB_API unsigned shmslab_version(void);

#ifdef __cplusplus
}
#endif

#endif /* SHMSLAB_H */
