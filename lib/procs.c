/* SPDX-License-Identifier: MIT */
/*
 * The process table.  An attached process holds one entry, and proves that it
 * is alive by holding an open-file-description lock on the entry's byte of
 * the segment: the kernel drops that lock when the process ends, however it
 * ends, and it cannot be fooled by pid reuse or pid namespaces.  The lock
 * decides who gets an entry, too: only the holder of byte i may claim entry i.
 *
 * Each entry has journal lanes, one per thread of the process (threads beyond
 * LANES - 1 share the last one under a mutex).  A thread names in its lane
 * the slot it is moving between the free lists and its owner, for the time
 * the slot is in neither place.
 */
#include "config.h"

#include <errno.h>
#include <unistd.h>

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

	atomic_fetch_and_explicit(&lanes_taken, ~(UINT32_C(1) << lane), memory_order_release);
}

static void lane_key_create(void)
{
	pthread_key_create(&lane_key, lane_release_at_exit);
}

static int thread_lane_take(void)
{
	uint32_t taken = atomic_load_explicit(&lanes_taken, memory_order_relaxed);

	pthread_once(&lane_key_once, lane_key_create);
	for (uint32_t i = 0; i < SHARED_LANE; i++) {
		if (taken & (UINT32_C(1) << i))
			continue;
		taken = atomic_fetch_or_explicit(&lanes_taken, UINT32_C(1) << i,
						 memory_order_acquire);
		if (taken & (UINT32_C(1) << i))
			continue;
		if (pthread_setspecific(lane_key, (void *)(uintptr_t)(i + 1)) != 0) {
			atomic_fetch_and_explicit(&lanes_taken, ~(UINT32_C(1) << i),
						  memory_order_release);
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

	atomic_store_explicit(&lanes_taken, mine, memory_order_relaxed);
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

/*
 * Open the descriptor that carries the byte lock.  Not the mapped one: a fork
 * child inherits our mappings, and with them would keep the lock of a mapped
 * open file, and so our entry, alive after we die.
 */
static int lock_fd_open(struct shmslab *s)
{
	int err = shmslab__os_shm_open(s->name, true, &s->lock_fd);

	if (err == 0)
		err = shmslab__os_same_file(s->fd, s->lock_fd);
	return err;
}

/* Take a free entry of the process table.  -EUSERS when none is free. */
int shmslab__procs_attach(struct shmslab *s)
{
	struct proc_entry *table = (struct proc_entry *)(s->ctl + s->g.procs_off);
	int err = lock_fd_open(s);

	if (err)
		return err;
	for (uint32_t i = 0; i < s->g.max_procs; i++) {
		struct proc_entry *e = &table[i];
		uint32_t state = PROC_FREE;

		if (sa_load_acquire_u32(&e->state) != PROC_FREE)
			continue;
		err = shmslab__os_lock_byte(s->lock_fd, i);
		if (err == -EAGAIN)
			continue; /* someone is claiming or leaving it */
		if (err)
			return err;
		/* acq_rel: the entry is ours from here, and we see its last use */
		if (!sa_cas_acq_rel_u32(&e->state, &state, PROC_LIVE))
			return SHMSLAB_ECORRUPT; /* nobody may claim it without the byte lock */
		for (uint32_t l = 0; l < LANES; l++)
			shmslab__lane_set(&e->lanes[l], LANE_IDLE, 0);
		sa_store_relaxed_u32(&e->pid, (uint32_t)getpid());
		sa_store_relaxed_u64(&e->attached_ns, shmslab__os_realtime_ns());
		s->self = i;
		s->me = e;
		return 0;
	}
	return -EUSERS;
}

/* Leave the table.  The byte lock goes when the caller closes lock_fd. */
void shmslab__procs_detach(struct shmslab *s)
{
	/* release: the next holder of the entry sees it clean */
	sa_store_release_u32(&s->me->state, PROC_FREE);
}
