/* SPDX-License-Identifier: MIT */
/*
 * Calls in progress on a handle, so that shmslab_close from one thread can
 * stop the waits of the other threads on that handle and let their calls
 * end before it frees it.  Each thread that makes a call gets a record,
 * once; a call stores its handle there and clears it when it ends, with no
 * atomic read-modify-write and no hardware fence: the closer pays for the
 * handshake with membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), which runs a
 * full fence on every running thread of the process (as liburcu's
 * membarrier flavour does for its readers).  Where the kernel has no
 * membarrier(), each call fences instead.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

#define CLOSE_POLL_MS 1 /* a closer looks this often for a call to end */

__thread struct call_rec *shmslab__call_self __attribute__((tls_model("initial-exec")));
_Atomic uint32_t shmslab__call_fences;

static pthread_mutex_t recs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct call_rec *recs;
static pthread_key_t rec_key;
static pthread_once_t rec_once = PTHREAD_ONCE_INIT;

/* A thread ends: its record goes, never inside a call by then. */
static void rec_release(void *value)
{
	struct call_rec *r = value;

	pthread_mutex_lock(&recs_lock);
	for (struct call_rec **p = &recs; *p != NULL; p = &(*p)->next) {
		if (*p == r) {
			*p = r->next;
			break;
		}
	}
	pthread_mutex_unlock(&recs_lock);
	free(r);
}

/* Once per process, before the first record: whether calls must fence. */
static void rec_setup(void)
{
	if (shmslab__os_barrier_private_register() != 0)
		/* relaxed: pthread_once publishes it to every thread that makes a record */
		sa_store_relaxed_u32(&shmslab__call_fences, 1);
	pthread_key_create(&rec_key, rec_release);
}

struct call_rec *shmslab__call_rec_new(void)
{
	struct call_rec *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	pthread_once(&rec_once, rec_setup);
	if (pthread_setspecific(rec_key, r) != 0) {
		free(r);
		return NULL;
	}
	pthread_mutex_lock(&recs_lock);
	r->next = recs;
	recs = r;
	pthread_mutex_unlock(&recs_lock);
	shmslab__call_self = r;
	return r;
}

/* Whether a thread other than ours is in a call on S. */
static bool someone_inside(const struct shmslab *s)
{
	bool inside = false;

	pthread_mutex_lock(&recs_lock);
	for (const struct call_rec *r = recs; r != NULL && !inside; r = r->next)
		/* acquire: pairs with the release that ends a call */
		inside = r != shmslab__call_self && sa_load_acquire_uptr(&r->inside) == (uintptr_t)s;
	pthread_mutex_unlock(&recs_lock);
	return inside;
}

/*
 * S is being closed (S->closing is set): make every thread that enters a
 * call on it from now on see that, wake those of its threads asleep on the
 * queue, and wait until every call in progress on it has ended.  Lock waits
 * end by themselves within a slice, seeing S closing.
 */
void shmslab__call_quiesce(struct shmslab *s)
{
	/*
	 * A full fence on every thread between the store of closing and the
	 * look at the records.  Without membarrier() the calls fence
	 * themselves, and this thread's own fence does.
	 */
	/* relaxed: a stale 0 only means a membarrier() that then fails */
	if (sa_load_relaxed_u32(&shmslab__call_fences) ||
	    shmslab__os_barrier_private() != 0) {
		/* relaxed: calls that miss it for a while are covered by the wait below */
		sa_store_relaxed_u32(&shmslab__call_fences, 1);
		/* seq_cst: our side of the handshake, between closing and the look */
		sa_fence_seq_cst();
		/* calls that entered before the fences did: their store is seen by now */
		usleep(CLOSE_POLL_MS * 1000);
	}
	if (!s->inspect_only)
		shmslab__queue_wake_all(s);
	while (someone_inside(s))
		usleep(CLOSE_POLL_MS * 1000);
}

/* A cleanup handler for a wait that is a cancellation point: the call ends either way. */
void shmslab__call_cancelled(void *unused)
{
	(void)unused;
	call_leave();
}

/* After fork the child has only the thread that forked, and it is in no call. */
void shmslab__calls_after_fork(void)
{
	for (struct call_rec *r = recs; r != NULL; r = r->next)
		/* relaxed: the child has one thread */
		sa_store_relaxed_uptr(&r->inside, 0);
	pthread_mutex_init(&recs_lock, NULL);
}
