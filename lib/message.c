/* SPDX-License-Identifier: MIT */
/*
 * The message calls: storing and reading a slot's message under the slot
 * lock, in one copy or through zero-copy views.  A lock wait that finds its
 * holder dead is repaired by the shmslab__lock_* wrappers.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "internal.h"

#define VIEW_READ  0x52454144u /* "READ" */
#define VIEW_WRITE 0x57524954u /* "WRIT" */

/*
 * Check REF, then take its slot's lock: shared for VIEW_READ, exclusive for
 * VIEW_WRITE; its index in *IDX.
 */
static inline int lock_ref(struct shmslab *s, shmslab_ref ref, uint32_t mode, uint32_t *idx)
{
	int err = ref_check(s, ref);

	if (err)
		return err;
	*idx = ref_index(s, ref);
	if (mode == VIEW_WRITE)
		return shmslab__lock_write(s, *idx, ref_want(s, ref));
	err = shmslab__lock_read(s, *idx, ref_want(s, ref));
	if (err == 0)
		KILLPOINT(read_locked);
	return err;
}

static void unlock(struct shmslab *s, uint32_t idx, uint32_t mode)
{
	if (mode == VIEW_WRITE)
		shmslab__slot_write_unlock(s, idx, false);
	else
		shmslab__slot_read_unlock(s, idx);
}

static int store_call(struct shmslab *slab, shmslab_ref ref, const void *msg, size_t len)
{
	uint32_t idx;
	int err;

	if (msg == NULL && len > 0)
		return -EINVAL;
	if (len > slab->g.slot_size) {
		/* a bad reference is the first thing to say */
		err = ref_check(slab, ref);
		return err ? err : -EMSGSIZE;
	}
	err = lock_ref(slab, ref, VIEW_WRITE, &idx);
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
	/* relaxed: the lock we hold ordered the writer's store before it */
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
	err = lock_ref(slab, ref, VIEW_READ, &idx);
	if (err)
		return err;
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

/* A view of REF's slot, locked as MODE asks. */
static int view_begin(struct shmslab *slab, shmslab_ref ref, struct shmslab_view *v,
		      uint32_t mode)
{
	uint32_t idx;
	int err;

	if (v == NULL)
		return -EINVAL;
	err = lock_ref(slab, ref, mode, &idx);
	if (err)
		return err;
	err = view_fill(slab, ref, v, mode);
	if (err)
		unlock(slab, idx, mode);
	return err;
}

int shmslab_read_begin(struct shmslab *slab, shmslab_ref ref, struct shmslab_view *v)
{
	return CALL(slab, true, view_begin(slab, ref, v, VIEW_READ));
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
	/* relaxed: our own thread's count, and our own writer field: no race to order */
	if (mode == VIEW_READ)
		return sa_load_relaxed_u32(slot_rcount(s, ref_index(s, v->priv_ref))) != 0 ? 0
											: -EINVAL;
	/* relaxed: our own thread's count, and our own writer field: no race to order */
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

int shmslab_write_begin(struct shmslab *slab, shmslab_ref ref, struct shmslab_view *v)
{
	return CALL(slab, true, view_begin(slab, ref, v, VIEW_WRITE));
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
