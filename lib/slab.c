/* SPDX-License-Identifier: MIT */
/*
 * The public API of include/shmslab.h (but alloc and free, in alloc.c):
 * creating and attaching segments, storing and reading messages under the
 * slot lock, views, diagnostics, and the handles' life across fork.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define VIEW_READ    0x52454144u /* "READ" */
#define VIEW_WRITE   0x57524954u /* "WRIT" */
#define OPEN_WAIT_MS 200	 /* how long open waits for a creator still initialising */

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
	for (uint32_t k = 0; k < g->shards; k++)
		sa_store_relaxed_u64(&s->shards[k].head, g->idx_mask);
	/* relaxed: nobody can attach before READY, whose release covers this */
	sa_store_relaxed_u32(&s->control->capacity, g->slot_count);
	err = shmslab__map_refresh(s, 0);
	if (err)
		return err;
	for (uint32_t i = 0; i < g->slot_count; i++)
		sa_store_relaxed_u64(&slot_meta(s, i)->state, st_make(KIND_FREE, 0, 1));
	for (uint32_t k = 0; k < g->shards; k++) {
		uint32_t first = (uint32_t)((uint64_t)g->slot_count * k / g->shards);
		uint32_t end = (uint32_t)((uint64_t)g->slot_count * (k + 1) / g->shards);

		/* nobody else sees the lists yet: nothing can hold them blocked */
		(void)shmslab__freelist_push_range(s, k, first, end - first);
	}
	err = handle_open(s, FD_LOCK, 0);
	return err ? err : shmslab__procs_attach(s);
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
		err = shmslab__procs_attach(s);
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
 * Other threads may be in calls on the handle: those that start from now on
 * answer -EBADF, those asleep on the queue wake and answer it too, lock waits
 * answer it within a slice, and the close waits for every call to end before
 * it frees the handle.  A second close answers -EBADF while the first runs.
 */
int shmslab_close(struct shmslab *slab)
{
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
	if (!slab->forked && !slab->inspect_only) {
		shmslab__slots_leave(slab);
		shmslab__procs_detach(slab);
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
			if (got != (ssize_t)sizeof(h) || memcmp(h.magic, "shmslab", 8) != 0)
				err = SHMSLAB_EFORMAT;
		}
		close(fd);
	}
	if (err == 0)
		err = shmslab__os_shm_unlink(name);
	shmslab__os_cancel_restore(cancel);
	return err;
}

/* ---- Slots --------------------------------------------------------------- */

static int store_call(struct shmslab *slab, shmslab_ref ref, const void *msg, size_t len)
{
	uint32_t idx;
	int err;

	if (msg == NULL && len > 0)
		return -EINVAL;
	err = ref_check(slab, ref);
	if (err)
		return err;
	idx = ref_index(slab, ref);
	if (len > slab->g.slot_size)
		return -EMSGSIZE;
	err = shmslab__slot_write_lock(slab, idx, ref_want(slab, ref));
	if (err)
		return err;
#ifdef SHMSLAB_KILLPOINTS
	/* copy in two halves, so that a kill point falls in the middle of the copy */
	memcpy(slot_payload(slab, idx), msg, len / 2);
	KILLPOINT(store_half_copied);
	memcpy(slot_payload(slab, idx) + len / 2, (const char *)msg + len / 2, len - len / 2);
#else
	if (len > 0)
		memcpy(slot_payload(slab, idx), msg, len);
#endif
	KILLPOINT(store_copied);
	/* relaxed: published by the unlock's release */
	sa_store_relaxed_u32(&slot_meta(slab, idx)->len, (uint32_t)len);
	shmslab__slot_write_unlock(slab, idx, true);
	return 0;
}

int shmslab_store(struct shmslab *slab, shmslab_ref ref, const void *msg, size_t len)
{
	return CALL(slab, true, store_call(slab, ref, msg, len));
}

/* The length of the message in a slot we hold locked. */
static int message_len(struct shmslab *s, uint32_t idx, size_t *len)
{
	uint32_t n = sa_load_relaxed_u32(&slot_meta(s, idx)->len);

	if (n > s->g.slot_size)
		return SHMSLAB_ECORRUPT;
	*len = n;
	return 0;
}

static ssize_t read_call(struct shmslab *slab, shmslab_ref ref, void *buf, size_t cap)
{
	uint32_t idx;
	size_t len;
	int err;

	if (buf == NULL && cap > 0)
		return -EINVAL;
	err = ref_check(slab, ref);
	if (err)
		return err;
	idx = ref_index(slab, ref);
	err = shmslab__slot_read_lock(slab, idx, ref_want(slab, ref));
	if (err)
		return err;
	KILLPOINT(read_locked);
	err = message_len(slab, idx, &len);
	if (err == 0 && len > cap)
		err = -EMSGSIZE;
	if (err == 0 && len > 0)
		memcpy(buf, slot_payload(slab, idx), len);
	shmslab__slot_read_unlock(slab, idx);
	return err ? err : (ssize_t)len;
}

ssize_t shmslab_read(struct shmslab *slab, shmslab_ref ref, void *buf, size_t cap)
{
	return CALL(slab, true, read_call(slab, ref, buf, cap));
}

static int view_fill(struct shmslab *s, shmslab_ref ref, struct shmslab_view *v, uint32_t mode)
{
	uint32_t idx = ref_index(s, ref);
	size_t len;
	int err = message_len(s, idx, &len);

	if (err)
		return err;
	v->data = slot_payload(s, idx);
	v->len = len;
	v->cap = s->g.slot_size;
	v->priv_ref = ref;
	v->priv_mode = mode;
	v->priv_pad = 0;
	return 0;
}

static int read_begin_call(struct shmslab *slab, shmslab_ref ref, struct shmslab_view *v)
{
	uint32_t idx;
	int err;

	if (v == NULL)
		return -EINVAL;
	err = ref_check(slab, ref);
	if (err)
		return err;
	idx = ref_index(slab, ref);
	err = shmslab__slot_read_lock(slab, idx, ref_want(slab, ref));
	if (err)
		return err;
	KILLPOINT(read_locked);
	err = view_fill(slab, ref, v, VIEW_READ);
	if (err)
		shmslab__slot_read_unlock(slab, idx);
	return err;
}

int shmslab_read_begin(struct shmslab *slab, shmslab_ref ref, struct shmslab_view *v)
{
	return CALL(slab, true, read_begin_call(slab, ref, v));
}

/* 0 if V is a view of MODE that this process holds. */
static int view_check(struct shmslab *s, const struct shmslab_view *v, uint32_t mode)
{
	int err;

	if (v == NULL || v->priv_mode != mode)
		return -EINVAL;
	err = ref_check(s, v->priv_ref);
	if (err)
		return err == SHMSLAB_ECORRUPT ? err : -EINVAL;
	if (mode == VIEW_READ)
		return sa_load_relaxed_u32(slot_rcount(s, ref_index(s, v->priv_ref))) != 0 ? 0
											: -EINVAL;
	return st_writer(sa_load_relaxed_u64(&slot_meta(s, ref_index(s, v->priv_ref))->state)) ==
			       s->self + 1
		       ? 0
		       : -EINVAL;
}

static int read_end_call(struct shmslab *slab, struct shmslab_view *v)
{
	int err = view_check(slab, v, VIEW_READ);

	if (err)
		return err;
	shmslab__slot_read_unlock(slab, ref_index(slab, v->priv_ref));
	v->priv_mode = 0;
	return 0;
}

int shmslab_read_end(struct shmslab *slab, struct shmslab_view *v)
{
	return CALL(slab, true, read_end_call(slab, v));
}

static int write_begin_call(struct shmslab *slab, shmslab_ref ref, struct shmslab_view *v)
{
	uint32_t idx;
	int err;

	if (v == NULL)
		return -EINVAL;
	err = ref_check(slab, ref);
	if (err)
		return err;
	idx = ref_index(slab, ref);
	err = shmslab__slot_write_lock(slab, idx, ref_want(slab, ref));
	if (err)
		return err;
	err = view_fill(slab, ref, v, VIEW_WRITE);
	if (err)
		shmslab__slot_write_unlock(slab, idx, false);
	return err;
}

int shmslab_write_begin(struct shmslab *slab, shmslab_ref ref, struct shmslab_view *v)
{
	return CALL(slab, true, write_begin_call(slab, ref, v));
}

static int write_end_call(struct shmslab *slab, struct shmslab_view *v)
{
	uint32_t idx;
	int err = view_check(slab, v, VIEW_WRITE);

	if (err)
		return err;
	if (v->len > slab->g.slot_size)
		return -EMSGSIZE;
	idx = ref_index(slab, v->priv_ref);
	/* relaxed: published by the unlock's release */
	sa_store_relaxed_u32(&slot_meta(slab, idx)->len, (uint32_t)v->len);
	KILLPOINT(write_end_unlocking);
	shmslab__slot_write_unlock(slab, idx, true);
	v->priv_mode = 0;
	return 0;
}

int shmslab_write_end(struct shmslab *slab, struct shmslab_view *v)
{
	return CALL(slab, true, write_end_call(slab, v));
}

/* ---- Diagnostics --------------------------------------------------------- */

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
	cap = sa_load_acquire_u32(&slab->capacity_known);
	for (uint32_t i = 0; i < cap; i++) {
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
	st = sa_load_acquire_u64(&m->state);
	if (st_kind(st) > KIND_RETIRED || st_writer(st) > slab->g.max_procs ||
	    st_owner(st) > slab->g.max_procs)
		return SHMSLAB_ECORRUPT;
	memset(info, 0, sizeof(*info));
	info->index = index;
	info->generation = st_gen(st);
	info->state = states[st_kind(st)];
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
	uint32_t cap = sa_load_acquire_u32(&s->capacity_known), id = entry + 1;
	uint32_t word = entry / 64;
	uint64_t bit = UINT64_C(1) << (entry % 64);

	for (uint32_t i = 0; i < cap; i++) {
		struct slot_meta *m = slot_meta(s, i);
		uint64_t st = sa_load_relaxed_u64(&m->state);

		if (st_owner(st) == id && st_kind(st) == KIND_CACHED)
			info->kept++;
		else if (st_owner(st) == id)
			info->owned++; /* allocated, or caught in its free */
		info->writing += st_writer(st) == id;
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
	info->pid = info->attached ? (int64_t)sa_load_relaxed_u32(&e->pid) : 0;
	info->died_slot = -1;
	if (!info->attached)
		return 0;
	proc_holdings(slab, entry, info);
	for (uint32_t l = 0; l < LANES && !info->alive && info->died_in == 0; l++) {
		uint64_t w = sa_load_acquire_u64(&e->lanes[l].window);
		uint32_t op = (uint32_t)(w >> 32);

		if (op != LANE_IDLE && op <= LANE_GROW) {
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

unsigned shmslab_version(void)
{
	return SHMSLAB_VERSION_MAJOR * 10000u + SHMSLAB_VERSION_MINOR * 100u +
	       SHMSLAB_VERSION_PATCH;
}
