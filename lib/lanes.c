/* SPDX-License-Identifier: MIT */
/*
 * Journal lanes.  Each process-table entry has LANES of them, one cache line
 * each; a thread takes one of its process's for its life (threads beyond
 * LANES - 1 share the last one, under a mutex).  A thread names in its lane
 * the slot it is moving while the slot is on no list and no state word
 * names a process that holds it, so that whoever recovers after the process
 * dies can tell a slot caught between two states from a lost one
 * (lib/DESIGN.md, "Journal lanes").  Which lane a thread has is process
 * memory: the same index in every entry the process holds.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>

#include "internal.h"

#define THREAD_LANE_UNSET  (-1)
#define THREAD_LANE_SHARED (-2)

/* Which of the exclusive lanes the threads of this process hold, process-wide. */
static _Atomic uint32_t lanes_taken;
/* initial-exec: one load from the thread pointer, no __tls_get_addr call per operation */
__thread int shmslab__thread_lane __attribute__((tls_model("initial-exec"))) = THREAD_LANE_UNSET;
static pthread_key_t lane_key;
static pthread_once_t lane_key_once = PTHREAD_ONCE_INIT;

_Static_assert(LANES - 1 <= 32, "lanes_taken is one 32-bit word");

static void lane_release_at_exit(void *value)
{
	uint32_t lane = (uint32_t)(uintptr_t)value - 1;

	/* release: our last use of the lane comes before its next thread's */
	sa_fetch_and_release_u32(&lanes_taken, ~(UINT32_C(1) << lane));
}

static void lane_key_create(void)
{
	pthread_key_create(&lane_key, lane_release_at_exit);
}

static int thread_lane_take(void)
{
	/* relaxed: only a hint of which bit to try; the fetch_or decides */
	uint32_t taken = sa_load_relaxed_u32(&lanes_taken);

	pthread_once(&lane_key_once, lane_key_create);
	for (uint32_t i = 0; i < SHARED_LANE; i++) {
		if (taken & (UINT32_C(1) << i))
			continue;
		/* acquire: the lane's last thread is done with it before we start */
		taken = sa_fetch_or_acquire_u32(&lanes_taken, UINT32_C(1) << i);
		if (taken & (UINT32_C(1) << i))
			continue;
		if (pthread_setspecific(lane_key, (void *)(uintptr_t)(i + 1)) != 0) {
			/* release: as a thread's exit gives its lane back */
			sa_fetch_and_release_u32(&lanes_taken, ~(UINT32_C(1) << i));
			break;
		}
		return (int)i;
	}
	return THREAD_LANE_SHARED;
}

/* After fork the child's only thread is the one that forked: it keeps its lane. */
void shmslab__lanes_after_fork(void)
{
	uint32_t mine = shmslab__thread_lane >= 0 ? UINT32_C(1) << shmslab__thread_lane : 0;

	/* relaxed: the child has one thread */
	sa_store_relaxed_u32(&lanes_taken, mine);
}

/* A thread without a lane of its own: get one, or share the last under a mutex. */
struct lane *shmslab__lane_enter_slow(struct shmslab *s)
{
	/* a shared thread tries again, as lanes free up when threads exit */
	int t = thread_lane_take();

	if (t >= 0) {
		shmslab__thread_lane = t;
		return &s->me->lanes[t];
	}
	pthread_mutex_lock(&s->shared_lane_lock);
	return &s->me->lanes[SHARED_LANE];
}

/* ENTRY's lanes, as a process that claims it should find them: naming nothing. */
void shmslab__lanes_reset(struct proc_entry *e)
{
	for (uint32_t l = 0; l < LANES; l++) {
		shmslab__lane_set(&e->lanes[l], LANE_IDLE, 0);
		/* relaxed: published by the entry's release store that follows */
		sa_store_relaxed_u32(&e->lanes[l].cached, 0);
		sa_store_relaxed_u32(&e->lanes[l].local, 0);
	}
}
