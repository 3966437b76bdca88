/* SPDX-License-Identifier: MIT */
/*
 * The process table.  An attached process holds one entry, and proves that it
 * is alive by holding an open-file-description lock on the entry's byte of
 * the segment: the kernel drops that lock when the process ends, however it
 * ends, and it cannot be fooled by pid reuse or pid namespaces.  Where OFD
 * locks are missing (or SHMSLAB_LIVENESS=pid asks for it), the entry records
 * the pid and its start time instead, which pid reuse cannot fool either but
 * which needs the checker in the same pid namespace.  The journal lanes of
 * each entry are lanes.c's.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/*
 * Whether PID runs and, if START is not 0, is the process that started then.
 * A check that cannot be made (no /proc, no permission) answers alive.
 */
static bool pid_alive(uint32_t pid, uint64_t start)
{
	uint64_t now;
	int err = pid == 0 ? -ESRCH : shmslab__os_pid_start((pid_t)pid, &now);

	if (err)
		return err != -ESRCH;
	return start == 0 || now == start;
}

/*
 * Whether the process holding ENTRY still runs.  A LIVE entry's byte lock is
 * taken before the entry reads LIVE and dropped by the kernel when its
 * process ends, so LIVE without the lock is dead for good.  When the check
 * itself fails, the answer is alive: never take away what may be in use.
 */
bool shmslab__proc_alive(struct shmslab *s, uint32_t entry)
{
	/* acquire: the fields filled in before LIVE are visible */
	return shmslab__proc_alive_as(s, entry,
				      sa_load_acquire_u64(&shmslab__proc_entry(s, entry)->state));
}

uint32_t shmslab__proc_state(const struct shmslab *s, uint32_t entry)
{
	/* acquire: as in proc_alive */
	return pe_state(sa_load_acquire_u64(&shmslab__proc_entry(s, entry)->state));
}

/* Whether the holder of ENTRY, whose state word was read as WORD, still runs. */
bool shmslab__proc_alive_as(struct shmslab *s, uint32_t entry, uint64_t word)
{
	const struct proc_entry *e = shmslab__proc_entry(s, entry);
	uint32_t state = pe_state(word);

	if (state & PROC_CLAIMING) {
		/* a claimer holds its byte lock already, unless it goes by pid */
		if (!(state & PROC_CLAIMING_BY_PID))
			return shmslab__os_byte_locked(s->fd, entry) != 0;
		return pid_alive(state & PROC_CLAIMING_PID_MASK, 0);
	}
	if (state != PROC_LIVE)
		return false;
	/* relaxed: written before the entry read LIVE, whose acquire the caller did */
	if (sa_load_relaxed_u32(&e->liveness) == LIVENESS_PID)
		return pid_alive(sa_load_relaxed_u32(&e->pid), sa_load_relaxed_u64(&e->start_time));
	return shmslab__os_byte_locked(s->fd, entry) != 0;
}

/* Make ENTRY as a new process should find it: no lane names anything. */
void shmslab__proc_reset(struct shmslab *s, uint32_t entry)
{
	shmslab__lanes_reset(shmslab__proc_entry(s, entry));
}

/*
 * How this process will pop its local lists: unfenced once it is registered
 * for the walkers' membarrier() (again at each attach: a fork child is a new
 * process to the kernel), fenced where it cannot be or SHMSLAB_MEMBARRIER=off
 * asks for it (to test the fenced pops, and for filters that refuse it).
 */
static uint32_t pops_wanted(void)
{
	const char *env = getenv("SHMSLAB_MEMBARRIER");

	if (env != NULL && strcmp(env, "off") == 0)
		return POPS_FENCED;
	return shmslab__os_barrier_global_register() == 0 ? POPS_UNFENCED : POPS_FENCED;
}

/*
 * Claim entry I.  With byte locks, the lock decides between claimers; the
 * CAS to CLAIMING decides in any case, so that the fields are written by one
 * claimer only and are complete before the entry reads LIVE.
 */
static int claim(struct shmslab *s, uint32_t i, uint32_t *liveness, uint32_t pops)
{
	struct proc_entry *e = shmslab__proc_entry(s, i);
	uint32_t pid = (uint32_t)getpid();
	/* acquire: the entry as its last holder or recovery left it */
	uint64_t start = 0, word = sa_load_acquire_u64(&e->state), claimed;
	int err;

	if (pe_state(word) != PROC_FREE)
		return -EAGAIN;
	if (*liveness == LIVENESS_OFD) {
		err = shmslab__os_lock_byte(s->lock_fd, i);
		if (err == -EAGAIN)
			return err; /* someone is claiming or leaving it */
		if (err == -EINVAL || err == -ENOLCK || err == -EOPNOTSUPP)
			*liveness = LIVENESS_PID; /* no OFD locks here: pid and start time */
		else if (err)
			return err;
	}
	KILLPOINT(attach_locked);
	/* a new incarnation: see pe_state */
	claimed = (((word >> 32) + 1) << 32) | PROC_CLAIMING | pid |
		  (*liveness == LIVENESS_PID ? PROC_CLAIMING_BY_PID : 0);
	/* acq_rel: we see the entry as its last holder or recovery left it */
	if (pe_state(word) != PROC_FREE || !sa_cas_acq_rel_u64(&e->state, &word, claimed)) {
		if (*liveness == LIVENESS_OFD)
			shmslab__os_unlock_byte(s->lock_fd, i);
		return -EAGAIN;
	}
	if (*liveness == LIVENESS_PID && shmslab__os_pid_start((pid_t)pid, &start) != 0)
		start = 0;
	/* relaxed: published by the release store of LIVE below */
	sa_store_relaxed_u32(&e->pid, pid);
	sa_store_relaxed_u64(&e->start_time, start);
	/* relaxed: as pid and start_time */
	sa_store_relaxed_u32(&e->liveness, *liveness);
	sa_store_relaxed_u32(&e->pops, pops);
	sa_store_relaxed_u64(&e->attached_ns, shmslab__os_realtime_ns());
	/* release: whoever sees LIVE sees how to tell whether we are alive */
	sa_store_release_u64(&e->state, pe_with(claimed, PROC_LIVE));
	/* seq_cst: a walker that cannot issue membarrier() looks at our entry
	 * after limbo_walks goes odd, and we look at limbo_walks after this
	 * before we take any local list: one of us sees the other (recover.c,
	 * walk_handshake) */
	sa_fence_seq_cst();
	KILLPOINT(attach_live);
	shmslab__proc_reset(s, i);
	s->self = i;
	s->me = e;
	/* relaxed: no other thread calls on S before the attach returns */
	sa_store_relaxed_u32(&s->pops_fence, pops == POPS_FENCED);
	return 0;
}

/*
 * membarrier() worked when we attached and fails us now (a filter installed
 * since): from now on our pops fence themselves, and our entry says so.  The
 * flag goes first, so that no walker counts on fences our threads do not yet
 * make.  A pop that read the flag just before is a few instructions that
 * never wait; the walk that counts on it is a later recovery's (the caller
 * begins none now), the same reliance on time the closer's wait for calls
 * makes (call.c).
 */
void shmslab__procs_fence_pops(struct shmslab *s)
{
	/* relaxed: ordered before the entry's word by the fence */
	sa_store_relaxed_u32(&s->pops_fence, 1);
	/* seq_cst: the flag before the word that lets walkers go without us */
	sa_fence_seq_cst();
	/* relaxed: a walker that still reads UNFENCED only waits for a later walk */
	sa_store_relaxed_u32(&s->me->pops, POPS_FENCED);
}

/*
 * Take a free entry of the process table, its byte lock on S->lock_fd (a
 * descriptor of the segment that is never mapped: a mapping keeps its open
 * file, and so its locks, alive).  -EUSERS when none is free: the caller may
 * recover what dead processes held, and try again.
 */
int shmslab__procs_attach(struct shmslab *s)
{
	const char *env = getenv("SHMSLAB_LIVENESS");
	uint32_t liveness = env != NULL && strcmp(env, "pid") == 0 ? LIVENESS_PID : LIVENESS_OFD;
	uint32_t pops = pops_wanted();

	for (uint32_t i = 0; i < s->g.max_procs; i++) {
		int err = claim(s, i, &liveness, pops);

		if (err != -EAGAIN)
			return err;
	}
	return -EUSERS;
}

/* Leave the table.  The byte lock goes when the caller closes lock_fd. */
/*
 * Give our entry back: FREE, or, AS_DEAD, DEAD, for a recovery to finish
 * what we could not let go of (a subscription whose leave failed), as it
 * does for a process that died.
 */
void shmslab__procs_detach(struct shmslab *s, bool as_dead)
{
	shmslab__proc_reset(s, s->self);
	/* release: the next holder of the entry, or its recoverer, sees it clean */
	sa_store_release_u64(&s->me->state, pe_with(sa_load_relaxed_u64(&s->me->state),
						    as_dead ? PROC_DEAD : PROC_FREE));
}
