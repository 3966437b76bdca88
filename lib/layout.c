/* SPDX-License-Identifier: MIT */
/*
 * The segment's layout: where everything lives, computed from the creation
 * parameters with overflow-checked arithmetic, and the validation of a header
 * found in shared memory.  A header is hostile input: attach recomputes every
 * derived field from the few it was created from and refuses any mismatch.
 *
 * Slots live in pages whose sizes double: page p holds first_page_slots << p
 * slots (the last page is cut at max_slots), its slot metadata first, then
 * its payloads.  Pages never move, so offsets of existing slots survive
 * growth, and the page of an index is found by counting leading zeros.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "internal.h"


static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

static uint32_t fnv1a(uint32_t h, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		h ^= (uint8_t)(v >> (8 * i));
		h *= 16777619u;
	}
	return h;
}

uint32_t shmslab__fingerprint(void)
{
#define SHAPE_ENTRY(v) (uint64_t)(v),
	static const uint64_t shape[] = { FORMAT_SHAPE(SHAPE_ENTRY) };
#undef SHAPE_ENTRY
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < sizeof(shape) / sizeof(shape[0]); i++)
		h = fnv1a(h, shape[i]);
	return h;
}

int shmslab__geometry_init(struct geometry *g, const struct shmslab_config *cfg, uint32_t page_size,
			   uint32_t cpu_count)
{
	uint32_t max_slots = cfg->max_slots ? cfg->max_slots : cfg->slot_count;
	uint64_t off;

	memset(g, 0, sizeof(*g));
	if (cfg->slot_size == 0 || cfg->slot_size > SHMSLAB_SLOT_SIZE_MAX)
		return -EINVAL;
	if (cfg->slot_count == 0 || cfg->slot_count > SHMSLAB_SLOTS_MAX)
		return -EINVAL;
	if (max_slots < cfg->slot_count || max_slots > SHMSLAB_SLOTS_MAX)
		return -EINVAL;
	if (cfg->max_procs == 0 || cfg->max_procs > SHMSLAB_PROCS_MAX)
		return -EINVAL;
	if (cfg->queue_depth > SHMSLAB_SLOTS_MAX)
		return -EINVAL;
	if ((cfg->mode & ~(mode_t)0777) != 0)
		return -EINVAL;
	if (cfg->shards > SHMSLAB_SHARDS_MAX)
		return -EINVAL;
	if (cfg->max_subscribers > SUBSCRIBERS_MAX || cfg->fanout_depth > SHMSLAB_SLOTS_MAX)
		return -EINVAL;
	if (page_size < CACHE_LINE || (page_size & (page_size - 1)) != 0)
		return -EINVAL;

	g->page_size = page_size;
	g->slot_size = cfg->slot_size;
	g->slot_count = cfg->slot_count;
	g->max_slots = max_slots;
	g->max_procs = cfg->max_procs;
	g->queue_depth = cfg->queue_depth ? cfg->queue_depth : cfg->slot_count;
	g->max_subscribers = cfg->max_subscribers ? cfg->max_subscribers : DEFAULT_MAX_SUBSCRIBERS;
	g->fanout_depth = cfg->fanout_depth ? cfg->fanout_depth : cfg->slot_count;
	g->shards = cfg->shards;
	if (g->shards == 0)
		g->shards = cpu_count < 1		     ? 1
			    : cpu_count > SHMSLAB_SHARDS_MAX ? SHMSLAB_SHARDS_MAX
							     : cpu_count;

	g->payload_stride = (uint32_t)align_up(cfg->slot_size, CACHE_LINE);
	g->reader_words = (cfg->max_procs + 63) / 64;
	g->meta_size =
		(uint32_t)align_up(sizeof(struct slot_meta) + 8u * g->reader_words, CACHE_LINE);

	/* the first page is the smallest power of two that holds slot_count */
	g->first_page_shift = 0;
	while ((UINT64_C(1) << g->first_page_shift) < cfg->slot_count)
		g->first_page_shift++;
	g->first_page_slots = UINT32_C(1) << g->first_page_shift;

	/* a head's index field must hold every index plus two reserved values */
	g->idx_bits = 1;
	while ((UINT64_C(1) << g->idx_bits) - 2 < max_slots)
		g->idx_bits++;
	g->idx_mask = (UINT64_C(1) << g->idx_bits) - 1;
	g->epoch_mask = epoch_max(g->idx_bits);

	g->lanes = LANES;
	g->proc_entry_size = sizeof(struct proc_entry);
	g->shards_off = SEG_SHARDS_OFF;
	g->procs_off = g->shards_off + (uint64_t)g->shards * sizeof(struct shard);
	g->sleepers_off = g->procs_off + (uint64_t)g->max_procs * sizeof(struct proc_entry);
	g->queue_off = g->sleepers_off + align_up(8u * g->reader_words, CACHE_LINE);
	g->queue_shift = 0;
	while ((UINT64_C(1) << g->queue_shift) < g->queue_depth)
		g->queue_shift++;
	g->queue_ring = UINT32_C(1) << g->queue_shift;
	off = g->queue_off + sizeof(struct queue_control) + (uint64_t)g->queue_ring * 8;
	g->fan_off = align_up(off, CACHE_LINE);
	g->fan_shift = 0;
	while ((UINT64_C(1) << g->fan_shift) < g->fanout_depth)
		g->fan_shift++;
	g->fan_ring = UINT32_C(1) << g->fan_shift;
	off = g->fan_off + sizeof(struct fan_control) +
	      (uint64_t)g->max_subscribers * sizeof(struct sub_entry) + (uint64_t)g->fan_ring * 8;
	g->data_off = align_up(off, page_size);

	/* every product below is < 2^62: slots < 2^31, meta and stride < 2^31 */
	off = g->data_off;
	for (uint32_t p = 0; p < MAX_PAGES; p++) {
		uint64_t start = (((uint64_t)1 << p) - 1) << g->first_page_shift;
		uint64_t n;

		if (start >= max_slots)
			break;
		n = (uint64_t)g->first_page_slots << p;
		if (n > max_slots - start)
			n = max_slots - start;
		g->page_slots[p] = (uint32_t)n;
		g->page_off[p] = off;
		g->page_meta_bytes[p] = n * g->meta_size;
		g->page_bytes[p] =
			align_up(g->page_meta_bytes[p] + n * g->payload_stride, page_size);
		off += g->page_bytes[p];
		g->page_count = p + 1;
		if (off > SHMSLAB_SIZE_MAX)
			return -EINVAL;
	}
	g->max_size = off;
	return 0;
}

/* Bytes of the object needed for slots [0, capacity). */
uint64_t shmslab__capacity_bytes(const struct geometry *g, uint32_t capacity)
{
	uint32_t p, first;
	uint64_t end;

	if (capacity == 0)
		return g->data_off;
	p = page_of(g, capacity - 1);
	first = page_start(g, p);
	end = g->page_off[p] + g->page_meta_bytes[p] +
	      (uint64_t)(capacity - first) * g->payload_stride;
	end = align_up(end, g->page_size);
	return end;
}

void shmslab__header_fill(struct seg_header *h, const struct geometry *g, uint32_t mode,
			  uint32_t pid, uint64_t now_ns)
{
	memcpy(h->magic, SEG_MAGIC, sizeof(h->magic));
	h->layout_version = LAYOUT_VERSION;
	h->fingerprint = shmslab__fingerprint();
	h->page_size = g->page_size;
	h->slot_size = g->slot_size;
	h->slot_count = g->slot_count;
	h->max_slots = g->max_slots;
	h->max_procs = g->max_procs;
	h->queue_depth = g->queue_depth;
	h->shards = g->shards;
	h->mode = mode;
	h->creator_pid = pid;
	h->created_ns = now_ns;
	h->payload_stride = g->payload_stride;
	h->meta_size = g->meta_size;
	h->first_page_slots = g->first_page_slots;
	h->page_count = g->page_count;
	h->idx_bits = g->idx_bits;
	h->reader_words = g->reader_words;
	h->lanes = g->lanes;
	h->proc_entry_size = g->proc_entry_size;
	h->shards_off = g->shards_off;
	h->procs_off = g->procs_off;
	h->data_off = g->data_off;
	h->max_size = g->max_size;
	h->queue_off = g->queue_off;
	h->queue_ring = g->queue_ring;
	h->sleepers_off = g->sleepers_off;
	h->max_subscribers = g->max_subscribers;
	h->fanout_depth = g->fanout_depth;
	h->fan_off = g->fan_off;
	h->fan_ring = g->fan_ring;
}

/*
 * Validate a header read from shared memory (H must point to at least
 * sizeof(*h) mapped bytes) and fill in G.  Another program's object or another
 * layout version: SHMSLAB_EFORMAT.  A creator that has not finished (yet, or
 * ever): -EINPROGRESS.  Our format but inconsistent: SHMSLAB_ECORRUPT.
 */
int shmslab__header_check(const struct seg_header *h, uint64_t file_size, uint32_t page_size,
			  struct geometry *g)
{
	struct shmslab_config cfg;

	if (file_size < sizeof(*h) || memcmp(h->magic, SEG_MAGIC, sizeof(h->magic)) != 0)
		return SHMSLAB_EFORMAT;
	if (h->layout_version != LAYOUT_VERSION || h->fingerprint != shmslab__fingerprint())
		return SHMSLAB_EFORMAT;
	/* acquire: pairs with the creator's release store, after which the header is final */
	if (sa_load_acquire_u32(&h->init_state) != INIT_READY)
		return -EINPROGRESS;
	if (h->page_size != page_size)
		return SHMSLAB_EFORMAT;

	memset(&cfg, 0, sizeof(cfg));
	cfg.slot_size = h->slot_size;
	cfg.slot_count = h->slot_count;
	cfg.max_slots = h->max_slots;
	cfg.max_procs = h->max_procs;
	cfg.queue_depth = h->queue_depth;
	cfg.mode = h->mode;
	cfg.shards = h->shards;
	cfg.max_subscribers = h->max_subscribers;
	cfg.fanout_depth = h->fanout_depth;
	if (h->shards == 0 || h->max_slots == 0 || h->max_subscribers == 0 || h->fanout_depth == 0)
		return SHMSLAB_ECORRUPT;
	if (shmslab__geometry_init(g, &cfg, page_size, 1) != 0)
		return SHMSLAB_ECORRUPT;
	if (h->payload_stride != g->payload_stride || h->meta_size != g->meta_size ||
	    h->first_page_slots != g->first_page_slots || h->page_count != g->page_count ||
	    h->idx_bits != g->idx_bits || h->reader_words != g->reader_words ||
	    h->lanes != g->lanes || h->proc_entry_size != g->proc_entry_size ||
	    h->shards_off != g->shards_off || h->procs_off != g->procs_off ||
	    h->data_off != g->data_off || h->max_size != g->max_size ||
	    h->queue_off != g->queue_off || h->queue_ring != g->queue_ring ||
	    h->sleepers_off != g->sleepers_off || h->fan_off != g->fan_off ||
	    h->fan_ring != g->fan_ring)
		return SHMSLAB_ECORRUPT;
	if (file_size < shmslab__capacity_bytes(g, g->slot_count))
		return SHMSLAB_ECORRUPT;
	return 0;
}
