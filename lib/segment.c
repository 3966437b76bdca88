/* SPDX-License-Identifier: MIT */
/*
 * Segments and handles: creating a segment (laying it out, its header
 * first), attaching to one and detaching, removing its name, and the life of
 * a handle, across fork and while other threads use it.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define OPEN_WAIT_MS 200 /* how long open waits for a creator still initialising */

/*
 * ---- Handles, and their descriptors across fork ----------------------------
 *
 * A fork child must not keep the parent's descriptors: the one carrying the
 * byte locks would keep the parent's entry alive after the parent died.  The
 * child handler closes the descriptors of every handle in the registry, so a
 * handle is registered before its first descriptor is opened and removed
 * only after its last is closed, and every open and close of one happens
 * under the registry lock, which fork takes first: whatever another thread
 * is doing at the fork, the child holds no descriptor it does not know of.
 * Mappings are not inherited at all (MADV_DONTFORK, in the os layer).
 */

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shmslab *registry;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void atfork_prepare(void)
{
	pthread_mutex_lock(&registry_lock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&registry_lock);
}

/* Closing a copy does not release the parent's locks: it keeps its own. */
static void atfork_child(void)
{
	for (struct shmslab *s = registry; s != NULL; s = s->next_open) {
		s->forked = true;
		shmslab__os_close(s->fd);
		shmslab__os_close(s->lock_fd);
		s->fd = -1;
		s->lock_fd = -1;
	}
	shmslab__lanes_after_fork();
	shmslab__calls_after_fork();
	pthread_mutex_unlock(&registry_lock);
}

static void atfork_register(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

static struct shmslab *handle_new(const char *name)
{
	struct shmslab *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->fd = -1;
	s->lock_fd = -1;
	s->self = NO_ENTRY;
	pthread_mutex_init(&s->map_lock, NULL);
	pthread_mutex_init(&s->recover_lock, NULL);
	pthread_mutex_init(&s->grow_lock, NULL);
	pthread_mutex_init(&s->shared_lane_lock, NULL);
	pthread_mutex_init(&s->subs_lock, NULL);
	strcpy(s->name, name);
	pthread_once(&atfork_once, atfork_register);
	pthread_mutex_lock(&registry_lock);
	s->next_open = registry;
	registry = s;
	pthread_mutex_unlock(&registry_lock);
	return s;
}

enum handle_fd { FD_CREATE, FD_OPEN, FD_OPEN_READ_ONLY, FD_LOCK };

/*
 * Open S's name into its mapped descriptor (FD_CREATE: a new object, of
 * mode MODE; FD_OPEN*: an existing one) or into the descriptor that carries
 * the byte locks (FD_LOCK: the same object, checked, never mapped), as one
 * step for fork.
 */
static int handle_open(struct shmslab *s, enum handle_fd what, mode_t mode)
{
	int err, f = -1;

	pthread_mutex_lock(&registry_lock);
	switch (what) {
	case FD_CREATE:
		err = shmslab__os_shm_create(s->name, mode, &f);
		break;
	case FD_OPEN:
	case FD_OPEN_READ_ONLY:
		err = shmslab__os_shm_open(s->name, what == FD_OPEN, &f);
		break;
	default:
		err = shmslab__os_shm_open(s->name, true, &f);
		if (err == 0)
			err = shmslab__os_same_file(s->fd, f);
		break;
	}
	if (err == 0 || what == FD_LOCK) {
		if (what == FD_LOCK)
			s->lock_fd = f;
		else
			s->fd = f;
	}
	pthread_mutex_unlock(&registry_lock);
	return err;
}

static void handle_free(struct shmslab *s)
{
	/* a fork child has none of the mappings: its addresses may be others' now */
	if (!s->forked)
		shmslab__map_release(s);
	pthread_mutex_lock(&registry_lock);
	shmslab__os_close(s->fd);
	shmslab__os_close(s->lock_fd);
	for (struct shmslab **p = &registry; *p != NULL; p = &(*p)->next_open) {
		if (*p == s) {
			*p = s->next_open;
			break;
		}
	}
	pthread_mutex_unlock(&registry_lock);
	if (!s->forked) {
		pthread_mutex_destroy(&s->map_lock);
		pthread_mutex_destroy(&s->recover_lock);
		pthread_mutex_destroy(&s->grow_lock);
		pthread_mutex_destroy(&s->shared_lane_lock);
		pthread_mutex_destroy(&s->subs_lock);
	}
	free(s);
}

void shmslab_config_init(struct shmslab_config *cfg)
{
	if (cfg == NULL)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->slot_size = DEFAULT_SLOT_SIZE;
	cfg->slot_count = DEFAULT_SLOT_COUNT;
	cfg->max_slots = 0;
	cfg->max_procs = DEFAULT_MAX_PROCS;
	cfg->queue_depth = 0;
	cfg->mode = DEFAULT_MODE;
	cfg->shards = 0;
	cfg->max_subscribers = DEFAULT_MAX_SUBSCRIBERS;
	cfg->fanout_depth = 0;
}

/*
 * Take an entry of the process table; a full one is searched again after
 * what dead processes held is recovered.  -EUSERS when none is free even
 * then.
 */
static int attach_entry(struct shmslab *s)
{
	int err = shmslab__procs_attach(s);

	if (err == -EUSERS && shmslab__recover(s, &s->recovered) > 0)
		err = shmslab__procs_attach(s);
	return err;
}

/*
 * Lay out a new segment in S->fd: everything but the READY mark.  The
 * header, magic first, is the first thing in the object, so that a creator
 * that dies at any later instant leaves an object shmslab_unlink knows.
 */
static int segment_build(struct shmslab *s, const struct geometry *g, mode_t mode)
{
	struct seg_header h;
	void *ctl;
	int err;

	memset(&h, 0, sizeof(h));
	shmslab__header_fill(&h, g, (uint32_t)mode, (uint32_t)getpid(), shmslab__os_realtime_ns());
	KILLPOINT(create_opened);
	err = shmslab__os_write_at(s->fd, &h, sizeof(h), 0);
	KILLPOINT(create_header_written);
	if (err == 0)
		err = shmslab__os_reserve(s->fd, shmslab__capacity_bytes(g, g->slot_count));
	KILLPOINT(create_reserved);
	if (err == 0)
		err = shmslab__os_map(s->fd, 0, g->data_off, true, &ctl);
	if (err)
		return err;
	s->g = *g;
	shmslab__map_regions(s, ctl);
	for (uint32_t k = 0; k < shmslab__lists(s); k++)
		/* relaxed: nobody can attach before READY, whose release covers this */
		sa_store_relaxed_u64(&shmslab__list_head(s, k)->head, g->idx_mask);
	/* relaxed: nobody can attach before READY, whose release covers this */
	sa_store_relaxed_u32(&s->control->capacity, g->slot_count);
	err = shmslab__map_refresh(s, 0);
	if (err)
		return err;
	shmslab__slots_build(s, 0, g->slot_count);
	for (uint32_t k = 0; k < g->shards; k++) {
		uint32_t first = (uint32_t)((uint64_t)g->slot_count * k / g->shards);
		uint32_t end = (uint32_t)((uint64_t)g->slot_count * (k + 1) / g->shards);

		/* nobody else sees the lists yet: nothing can hold them blocked */
		(void)shmslab__freelist_push_range(s, k, first, end - first);
	}
	err = handle_open(s, FD_LOCK, 0);
	return err ? err : attach_entry(s);
}

int shmslab_create(const char *name, const struct shmslab_config *cfg, struct shmslab **out)
{
	struct shmslab_config defaults;
	struct geometry g;
	struct shmslab *s;
	int err, spare, cancel;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	err = shmslab__name_check(name);
	if (err)
		return err;
	if (cfg == NULL) {
		shmslab_config_init(&defaults);
		cfg = &defaults;
	}
	err = shmslab__geometry_init(&g, cfg, shmslab__os_page_size(), shmslab__os_cpu_count());
	if (err)
		return err;
	/* what a failed create made, it removes, even at the descriptor limit */
	spare = shmslab__os_spare_fd();
	if (spare < 0)
		return spare;
	s = handle_new(name);
	if (s == NULL) {
		shmslab__os_close(spare);
		return -ENOMEM;
	}
	shmslab__os_cancel_off(&cancel);
	err = handle_open(s, FD_CREATE, cfg->mode);
	if (err == 0) {
		/* an opener that finds the object unfinished waits while this is
		 * held; without OFD locks it cannot tell, and answers as for a
		 * creator that died */
		(void)shmslab__os_lock_byte(s->fd, CREATE_LOCK_BYTE);
		err = segment_build(s, &g, cfg->mode);
		shmslab__os_close(spare);
		if (err)
			shmslab__os_shm_unlink_own(name, s->fd);
	} else {
		shmslab__os_close(spare);
	}
	if (err) {
		handle_free(s);
	} else {
		/* release: everything above is visible to whoever reads READY */
		sa_store_release_u32(&s->hdr->init_state, INIT_READY);
		shmslab__os_unlock_byte(s->fd, CREATE_LOCK_BYTE);
		*out = s;
	}
	shmslab__os_cancel_restore(cancel);
	return err;
}

/*
 * Map and validate.  An object that is empty, or whose header is not READY
 * yet, may be a segment its creator is still laying out: give it a moment,
 * then answer -EAGAIN while the creator (alive, holding its creation lock)
 * is at it, and SHMSLAB_EFORMAT if nobody is: it never will be finished.
 */
static int attach_map(struct shmslab *s, bool writable)
{
	for (int waited = 0;; waited++) {
		int err = shmslab__map_control(s, writable);

		if (err != -EINPROGRESS)
			return err;
		if (waited >= OPEN_WAIT_MS)
			return shmslab__os_byte_locked(s->fd, CREATE_LOCK_BYTE) == 1 ? -EAGAIN
										      : SHMSLAB_EFORMAT;
		usleep(1000);
	}
}

static int attach(const char *name, bool inspect, struct shmslab **out)
{
	struct shmslab *s;
	int err, cancel;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	err = shmslab__name_check(name);
	if (err)
		return err;
	s = handle_new(name);
	if (s == NULL)
		return -ENOMEM;
	s->inspect_only = inspect;
	shmslab__os_cancel_off(&cancel);
	err = handle_open(s, inspect ? FD_OPEN_READ_ONLY : FD_OPEN, 0);
	if (err == 0)
		err = attach_map(s, !inspect);
	if (err == 0 && !inspect)
		err = handle_open(s, FD_LOCK, 0);
	if (err == 0 && !inspect)
		err = attach_entry(s);
	if (err)
		handle_free(s);
	else
		*out = s;
	shmslab__os_cancel_restore(cancel);
	return err;
}

int shmslab_open(const char *name, struct shmslab **out)
{
	return attach(name, false, out);
}

int shmslab_inspect(const char *name, struct shmslab **out)
{
	return attach(name, true, out);
}

/*
 * Let go of every slot this process holds (slots.c), waiting out a recoverer
 * that holds the lists when a kept slot goes back to them.
 */
static void leave_slots(struct shmslab *s)
{
	struct lane *lane = shmslab__lane_enter(s);
	uint32_t from = 0;

	/* one that cannot go even then is found by the recovery that unblocks
	 * the lists; the others go on */
	while (shmslab__slots_leave(s, lane, &from) == -EAGAIN)
		(void)shmslab__push_after_recovery(s, lane);
	shmslab__lane_set(lane, LANE_IDLE, 0);
	shmslab__lane_leave(s, lane);
}

/*
 * Other threads may be in calls on the handle: those that start from now on
 * answer -EBADF, those asleep on the queue wake and answer it too, lock waits
 * answer it within a slice, and the close waits for every call to end before
 * it frees the handle.  A second close answers -EBADF while the first runs.
 */
int shmslab_close(struct shmslab *slab)
{
	bool left;
	int cancel;

	if (slab == NULL)
		return -EINVAL;
	shmslab__os_cancel_off(&cancel);
	/* an inherited handle only lets go of the child's copy: the parent stays */
	if (!slab->forked) {
		/* acq_rel: one closer wins; it sees every call that entered before */
		if (sa_exchange_acq_rel_u32(&slab->closing, 1) != 0) {
			shmslab__os_cancel_restore(cancel);
			return -EBADF;
		}
		shmslab__call_quiesce(slab);
	}
	left = shmslab__subs_end(slab, !slab->forked);
	if (!slab->forked && !slab->inspect_only) {
		leave_slots(slab);
		shmslab__procs_detach(slab, !left);
	}
	handle_free(slab);
	shmslab__os_cancel_restore(cancel);
	return 0;
}

int shmslab_unlink(const char *name)
{
	struct seg_header h;
	uint64_t size;
	ssize_t got;
	int fd, err, cancel;

	err = shmslab__name_check(name);
	if (err)
		return err;
	shmslab__os_cancel_off(&cancel);
	err = shmslab__os_shm_open(name, false, &fd);
	if (err == 0) {
		/*
		 * Anything carrying our magic goes, whatever its version or state,
		 * and so does an empty object: a creator killed before its first
		 * write leaves one, and it holds nothing to lose.
		 */
		err = shmslab__os_file_size(fd, &size);
		if (err == 0 && size != 0) {
			got = size >= sizeof(h) ? pread(fd, &h, sizeof(h), 0) : 0;
			if (got != (ssize_t)sizeof(h) || memcmp(h.magic, SEG_MAGIC, sizeof(h.magic)) != 0)
				err = SHMSLAB_EFORMAT;
		}
		close(fd);
	}
	if (err == 0)
		err = shmslab__os_shm_unlink(name);
	shmslab__os_cancel_restore(cancel);
	return err;
}
