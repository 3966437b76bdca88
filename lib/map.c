/* SPDX-License-Identifier: MIT */
/*
 * Mapping a segment into this process.  The control region (header, shard
 * heads, process table) is mapped once at attach; each page of slots is
 * mapped the first time this process meets an index in it, after checking
 * that the object really is large enough, so a capacity word raised by a
 * hostile or broken process gives an error instead of SIGBUS.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "internal.h"

int shmslab__map_control(struct shmslab *s, bool writable)
{
	uint64_t size;
	void *p;
	int err;

	err = shmslab__os_file_size(s->fd, &size);
	if (err)
		return err;
	/* a creator writes the whole header first, in one write: an empty object
	 * may be one it has just made, anything between not ours */
	if (size == 0)
		return -EINPROGRESS;
	if (size < sizeof(struct seg_header))
		return SHMSLAB_EFORMAT;
	err = shmslab__os_map(s->fd, 0, sizeof(struct seg_header), false, &p);
	if (err)
		return err;
	err = shmslab__header_check(p, size, shmslab__os_page_size(), &s->g);
	shmslab__os_unmap(p, sizeof(struct seg_header));
	if (err)
		return err;

	err = shmslab__os_map(s->fd, 0, s->g.data_off, writable, &p);
	if (err)
		return err;
	shmslab__map_regions(s, p);
	return shmslab__map_refresh(s, 0);
}

/* Point the handle at the regions of CTL, the control region mapped per S->g. */
void shmslab__map_regions(struct shmslab *s, uint8_t *ctl)
{
	s->ctl = ctl;
	s->hdr = (struct seg_header *)ctl;
	s->control = (struct seg_control *)(ctl + SEG_CONTROL_OFF);
	s->shards = (struct shard *)(ctl + s->g.shards_off);
	s->sleepers = (_Atomic uint64_t *)(ctl + s->g.sleepers_off);
	s->queue = (struct queue_control *)(ctl + s->g.queue_off);
	s->fan = (struct fan_control *)(ctl + s->g.fan_off);
	s->subtab = (struct sub_entry *)(ctl + s->g.fan_off + sizeof(struct fan_control));
	s->fan_cells = (_Atomic uint64_t *)(s->subtab + s->g.max_subscribers);
}

/* Map page P; published to other threads by the caller's release of capacity_known. */
static int map_page(struct shmslab *s, uint32_t p)
{
	struct page_map *pm = &s->pages[p];
	uintptr_t first = page_start(&s->g, p);
	_Atomic uint32_t *rc = NULL;
	void *base;
	int err;

	if (!s->inspect_only) {
		rc = calloc(s->g.page_slots[p], sizeof(*rc));
		if (rc == NULL)
			return -ENOMEM;
	}
	err = shmslab__os_map(s->fd, s->g.page_off[p], s->g.page_bytes[p], !s->inspect_only, &base);
	if (err) {
		free(rc);
		return err;
	}
	pm->base = base;
	pm->meta0 = (uintptr_t)base - first * s->g.meta_size;
	pm->payload0 = (uintptr_t)base + s->g.page_meta_bytes[p] - first * s->g.payload_stride;
	pm->rcount0 = (uintptr_t)rc - first * sizeof(*rc);
	return 0;
}

/* Map every page holding a slot below CAP.  The caller holds map_lock. */
static int map_upto(struct shmslab *s, uint32_t cap)
{
	/* relaxed: written under map_lock, which the caller holds */
	uint32_t known = sa_load_relaxed_u32(&s->capacity_known);

	for (uint32_t p = known ? page_of(&s->g, known - 1) : 0; p <= page_of(&s->g, cap - 1);
	     p++) {
		int err = s->pages[p].base != NULL ? 0 : map_page(s, p);

		if (err)
			return err;
	}
	return 0;
}

/* Map the pages of slots below CAP ahead of the segment's capacity: for the grower. */
int shmslab__map_prepare(struct shmslab *s, uint32_t cap)
{
	int err;

	pthread_mutex_lock(&s->map_lock);
	err = map_upto(s, cap);
	pthread_mutex_unlock(&s->map_lock);
	return err;
}

/*
 * Catch up with the segment's capacity, mapping pages this process has not
 * seen.  Answers 0 if slot WANT can be touched now, -ERANGE if it lies beyond
 * the capacity, SHMSLAB_ECORRUPT if the capacity word is impossible.
 */
int shmslab__map_refresh(struct shmslab *s, uint32_t want)
{
	uint32_t known, cap;
	uint64_t size;
	int err = 0;

	pthread_mutex_lock(&s->map_lock);
	/* relaxed: as in map_upto; we hold map_lock */
	known = sa_load_relaxed_u32(&s->capacity_known);
	/* acquire: pairs with the grower's release, after the new slots were built */
	cap = sa_load_acquire_u32(&s->control->capacity);
	/* capacity only grows: a word below what we saw was written by damage */
	if (cap > s->g.max_slots || cap < s->g.slot_count || cap < known) {
		err = SHMSLAB_ECORRUPT;
		goto out;
	}
	if (cap > known) {
		err = shmslab__os_file_size(s->fd, &size);
		if (err)
			goto out;
		if (size < shmslab__capacity_bytes(&s->g, cap)) {
			err = SHMSLAB_ECORRUPT;
			goto out;
		}
		err = map_upto(s, cap);
		if (err)
			goto out;
		/* release: whoever reads the new capacity finds its pages mapped */
		sa_store_release_u32(&s->capacity_known, cap);
		known = cap;
	}
	if (want >= known)
		err = -ERANGE;
out:
	pthread_mutex_unlock(&s->map_lock);
	return err;
}

void shmslab__map_release(struct shmslab *s)
{
	for (uint32_t p = 0; p < MAX_PAGES; p++) {
		const struct page_map *pm = &s->pages[p];

		if (pm->base == NULL)
			continue;
		shmslab__os_unmap(pm->base, s->g.page_bytes[p]);
		if (!s->inspect_only)
			free((void *)(pm->rcount0 +
				      page_start(&s->g, p) * sizeof(_Atomic uint32_t)));
	}
	if (s->ctl != NULL)
		shmslab__os_unmap(s->ctl, s->g.data_off);
}
