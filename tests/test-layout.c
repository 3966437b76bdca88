/* SPDX-License-Identifier: MIT */
/*
 * The layout layer: geometry arithmetic, page math, and validation of
 * segments whose header or size has been tampered with.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "internal.h"

static struct shmslab_config config(uint32_t slots, uint32_t size)
{
	struct shmslab_config cfg;

	shmslab_config_init(&cfg);
	cfg.slot_count = slots;
	cfg.slot_size = size;
	return cfg;
}

START_TEST(test_layout_defaults)
{
	struct shmslab_config cfg;
	struct geometry g;

	shmslab_config_init(&cfg);
	ck_assert_int_eq(shmslab__geometry_init(&g, &cfg, 4096, 2), 0);
	ck_assert_uint_eq(g.slot_size, 4096);
	ck_assert_uint_eq(g.slot_count, 1024);
	ck_assert_uint_eq(g.max_slots, 1024);
	ck_assert_uint_eq(g.payload_stride, 4096);
	ck_assert_uint_eq(g.meta_size, 64);
	ck_assert_uint_eq(g.reader_words, 1);
	ck_assert_uint_eq(g.shards, 2);
	ck_assert_uint_eq(g.page_count, 1);
	ck_assert_uint_eq(g.first_page_slots, 1024);
	ck_assert_uint_eq(g.data_off % 4096, 0);
	ck_assert_uint_ge(g.page_bytes[0], 1024u * (64 + 4096));
	ck_assert_uint_eq(g.page_off[0], g.data_off);
	/* the tag gets every bit the index does not need, and at least 32 */
	ck_assert_uint_eq(g.idx_bits, 11);
	ck_assert_uint_ge(64 - g.idx_bits, 32);
	/* metadata per slot within the 64-byte budget */
	ck_assert_uint_le(g.meta_size, 64);
}
END_TEST

START_TEST(test_layout_meta_size)
{
	static const uint32_t procs[] = { 1, 64, 256, 257, 4096 };
	static const uint32_t meta[] = { 64, 64, 128, 128, 576 };
	struct shmslab_config cfg = config(16, 64);
	struct geometry g;

	for (unsigned i = 0; i < sizeof(procs) / sizeof(procs[0]); i++) {
		cfg.max_procs = procs[i];
		ck_assert_int_eq(shmslab__geometry_init(&g, &cfg, 4096, 1), 0);
		ck_assert_uint_eq(g.meta_size, meta[i]);
		ck_assert_uint_ge(g.meta_size, sizeof(struct slot_meta) + 8u * g.reader_words);
		ck_assert_uint_ge(g.reader_words * 64u, procs[i]);
	}
}
END_TEST

START_TEST(test_layout_rejects_bad_config)
{
	struct shmslab_config cfg;
	struct geometry g;

#define REJECT(field, value)                                                          \
	do {                                                                          \
		cfg = config(16, 64);                                                 \
		cfg.field = value;                                                    \
		ck_assert_int_eq(shmslab__geometry_init(&g, &cfg, 4096, 1), -EINVAL); \
	} while (0)
	REJECT(slot_size, 0);
	REJECT(slot_size, SHMSLAB_SLOT_SIZE_MAX + 1);
	REJECT(slot_count, 0);
	REJECT(slot_count, SHMSLAB_SLOTS_MAX + 1);
	REJECT(max_slots, 8);
	REJECT(max_slots, SHMSLAB_SLOTS_MAX + 1);
	REJECT(max_procs, 0);
	REJECT(max_procs, SHMSLAB_PROCS_MAX + 1);
	REJECT(queue_depth, SHMSLAB_SLOTS_MAX + 1);
	REJECT(mode, 01000);
	REJECT(shards, SHMSLAB_SHARDS_MAX + 1);
#undef REJECT
	/* each size is within its limit, but their product is absurd */
	cfg = config(SHMSLAB_SLOTS_MAX, SHMSLAB_SLOT_SIZE_MAX);
	ck_assert_int_eq(shmslab__geometry_init(&g, &cfg, 4096, 1), -EINVAL);
	cfg = config(1 << 20, 1 << 20);
	ck_assert_int_eq(shmslab__geometry_init(&g, &cfg, 4096, 1), 0);
	ck_assert_uint_le(g.max_size, SHMSLAB_SIZE_MAX);
}
END_TEST

START_TEST(test_layout_pages_double)
{
	struct shmslab_config cfg = config(100, 200);
	uint64_t total = 0, prev_bytes = 0;
	struct geometry g;

	cfg.max_slots = 100000;
	ck_assert_int_eq(shmslab__geometry_init(&g, &cfg, 4096, 1), 0);
	ck_assert_uint_eq(g.first_page_slots, 128);
	for (uint32_t p = 0; p < g.page_count; p++) {
		ck_assert_uint_eq(page_start(&g, p), total);
		if (p + 1 < g.page_count)
			ck_assert_uint_eq(g.page_slots[p], 128u << p);
		ck_assert_uint_eq(g.page_off[p] % 4096, 0);
		if (p > 0)
			ck_assert_uint_eq(g.page_off[p], g.page_off[p - 1] + g.page_bytes[p - 1]);
		total += g.page_slots[p];
	}
	ck_assert_uint_eq(total, 100000);
	for (uint32_t i = 0; i < g.max_slots; i++) {
		uint32_t p = page_of(&g, i);

		ck_assert_uint_lt(p, g.page_count);
		ck_assert_uint_le(page_start(&g, p), i);
		ck_assert_uint_lt(i, page_start(&g, p) + g.page_slots[p]);
	}
	for (uint32_t c = 1; c <= g.max_slots; c += 97) {
		uint64_t bytes = shmslab__capacity_bytes(&g, c);

		ck_assert_uint_ge(bytes, prev_bytes);
		ck_assert_uint_le(bytes, g.max_size);
		prev_bytes = bytes;
	}
}
END_TEST

START_TEST(test_layout_idx_bits)
{
	struct shmslab_config cfg = config(1, 64);
	struct geometry g;

	ck_assert_int_eq(shmslab__geometry_init(&g, &cfg, 4096, 1), 0);
	ck_assert_uint_eq(g.idx_bits, 2); /* index 0 plus the two reserved values */
	cfg = config(1000, 64);
	ck_assert_int_eq(shmslab__geometry_init(&g, &cfg, 4096, 1), 0);
	ck_assert_uint_eq(g.idx_bits, 10);
	cfg = config(1022, 64);
	ck_assert_int_eq(shmslab__geometry_init(&g, &cfg, 4096, 1), 0);
	ck_assert_uint_eq(g.idx_bits, 10);
	cfg = config(1023, 64);
	ck_assert_int_eq(shmslab__geometry_init(&g, &cfg, 4096, 1), 0);
	ck_assert_uint_eq(g.idx_bits, 11);
	cfg = config(16, 1);
	cfg.max_slots = SHMSLAB_SLOTS_MAX;
	ck_assert_int_eq(shmslab__geometry_init(&g, &cfg, 4096, 1), 0);
	ck_assert_uint_eq(g.idx_bits, 32);
	ck_assert_uint_ge(64 - g.idx_bits, 32);
}
END_TEST

/* Create a segment, let MUTATE change its raw bytes, and expect open to answer WANT. */
static void expect_open(void (*mutate)(uint8_t *raw, size_t len), int want)
{
	char name[TEST_NAME_MAX];
	struct shmslab *slab;
	size_t len;
	uint8_t *raw;
	int err;

	test_name(name);
	slab = test_create(name, 8, 64);
	shmslab_close(slab);
	raw = test_map_raw(name, &len);
	mutate(raw, len);
	munmap(raw, len);
	err = shmslab_open(name, &slab);
	ck_assert_msg(err == want, "open answered %d (%s), wanted %d", err, shmslab_strerror(err),
		      want);
	err = shmslab_inspect(name, &slab);
	ck_assert_msg(err == want, "inspect answered %d, wanted %d", err, want);
	/* shmslab_unlink still recognises it as one of ours */
	ck_assert_int_eq(shmslab_unlink(name), 0);
}

static struct seg_header *hdr(uint8_t *raw)
{
	return (struct seg_header *)raw;
}
static struct seg_control *ctl(uint8_t *raw)
{
	return (struct seg_control *)(raw + SEG_CONTROL_OFF);
}
static void m_nothing(uint8_t *raw, size_t len)
{
	(void)raw;
	(void)len;
}
static void m_version(uint8_t *raw, size_t len)
{
	(void)len;
	hdr(raw)->layout_version++;
}
static void m_fingerprint(uint8_t *raw, size_t len)
{
	(void)len;
	hdr(raw)->fingerprint ^= 1;
}
static void m_unready(uint8_t *raw, size_t len)
{
	(void)len;
	hdr(raw)->init_state = 0;
}
static void m_slot_size(uint8_t *raw, size_t len)
{
	(void)len;
	hdr(raw)->slot_size = 4096;
}
static void m_data_off(uint8_t *raw, size_t len)
{
	(void)len;
	hdr(raw)->data_off += 4096;
}
static void m_shards(uint8_t *raw, size_t len)
{
	(void)len;
	hdr(raw)->shards = 0;
}
static void m_max_slots(uint8_t *raw, size_t len)
{
	(void)len;
	hdr(raw)->max_slots = UINT32_MAX;
}
static void m_capacity_high(uint8_t *raw, size_t len)
{
	(void)len;
	ctl(raw)->capacity = hdr(raw)->max_slots + 1;
}
static void m_capacity_low(uint8_t *raw, size_t len)
{
	(void)len;
	ctl(raw)->capacity = 0;
}

START_TEST(test_layout_validates_header)
{
	expect_open(m_nothing, 0);
	expect_open(m_version, SHMSLAB_EFORMAT);
	expect_open(m_fingerprint, SHMSLAB_EFORMAT);
	expect_open(m_unready, SHMSLAB_EFORMAT);
	expect_open(m_slot_size, SHMSLAB_ECORRUPT);
	expect_open(m_data_off, SHMSLAB_ECORRUPT);
	expect_open(m_shards, SHMSLAB_ECORRUPT);
	expect_open(m_max_slots, SHMSLAB_ECORRUPT);
	expect_open(m_capacity_high, SHMSLAB_ECORRUPT);
	expect_open(m_capacity_low, SHMSLAB_ECORRUPT);
}
END_TEST

/* Make a shared-memory object that is not a segment. */
static void make_foreign(const char *name, const char *content, size_t len)
{
	int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, content, len), (ssize_t)len);
	close(fd);
}

static bool object_exists(const char *name)
{
	int fd = shm_open(name, O_RDONLY, 0);

	if (fd >= 0)
		close(fd);
	return fd >= 0;
}

START_TEST(test_layout_foreign_objects)
{
	char name[TEST_NAME_MAX], junk[4096];
	struct shmslab *slab;

	test_name(name);
	make_foreign(name, "hello", 5);
	ck_assert_int_eq(shmslab_open(name, &slab), SHMSLAB_EFORMAT);
	ck_assert_ptr_null(slab);
	ck_assert_int_eq(shmslab_unlink(name), SHMSLAB_EFORMAT);
	ck_assert(object_exists(name));
	shm_unlink(name);

	/* empty: a creator that died before sizing it, or someone else's */
	make_foreign(name, "", 0);
	ck_assert_int_eq(shmslab_open(name, &slab), SHMSLAB_EFORMAT);
	ck_assert_int_eq(shmslab_inspect(name, &slab), SHMSLAB_EFORMAT);
	shm_unlink(name);

	/* a page of bytes that are not a header */
	memset(junk, 0xa5, sizeof(junk));
	make_foreign(name, junk, sizeof(junk));
	ck_assert_int_eq(shmslab_open(name, &slab), SHMSLAB_EFORMAT);
	shm_unlink(name);
}
END_TEST

START_TEST(test_layout_truncated)
{
	char name[TEST_NAME_MAX];
	struct shmslab *slab;
	int fd;

	test_name(name);
	slab = test_create(name, 64, 4096);
	shmslab_close(slab);
	fd = shm_open(name, O_RDWR, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 8192), 0);
	close(fd);
	ck_assert_int_eq(shmslab_open(name, &slab), SHMSLAB_ECORRUPT);
	fd = shm_open(name, O_RDWR, 0);
	ck_assert_int_eq(ftruncate(fd, 64), 0);
	close(fd);
	ck_assert_int_eq(shmslab_open(name, &slab), SHMSLAB_EFORMAT);
	ck_assert_int_eq(shmslab_unlink(name), SHMSLAB_EFORMAT);
	shm_unlink(name);
}
END_TEST

START_TEST(test_layout_create_existing_untouched)
{
	char name[TEST_NAME_MAX];
	struct shmslab *slab, *again = NULL;
	size_t len;
	uint8_t *raw, *before;
	shmslab_ref ref;

	test_name(name);
	slab = test_create(name, 8, 64);
	ck_assert_int_eq(shmslab_alloc(slab, &ref), 0);
	ck_assert_int_eq(shmslab_store(slab, ref, "keep", 4), 0);
	raw = test_map_raw(name, &len);
	before = malloc(len);
	memcpy(before, raw, len);
	ck_assert_int_eq(shmslab_create(name, NULL, &again), -EEXIST);
	ck_assert_ptr_null(again);
	ck_assert_int_eq(memcmp(before, raw, len), 0);
	free(before);
	munmap(raw, len);
	shmslab_close(slab);
	ck_assert_int_eq(shmslab_unlink(name), 0);
}
END_TEST

START_TEST(test_layout_missing)
{
	char name[TEST_NAME_MAX];
	struct shmslab *slab = (struct shmslab *)&slab;

	test_name(name);
	ck_assert_int_eq(shmslab_open(name, &slab), -ENOENT);
	ck_assert_ptr_null(slab);
	ck_assert_int_eq(shmslab_inspect(name, &slab), -ENOENT);
	ck_assert_int_eq(shmslab_unlink(name), -ENOENT);
}
END_TEST

START_TEST(test_layout_names)
{
	static const char *const bad[] = { "", "/", "noslash", "/a/b", "/.", "/..", "//x" };
	char longest[NAME_MAX + 2], too_long[NAME_MAX + 3];
	struct shmslab *slab;

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(shmslab_create(bad[i], NULL, &slab), -EINVAL);
		ck_assert_int_eq(shmslab_open(bad[i], &slab), -EINVAL);
		ck_assert_int_eq(shmslab_inspect(bad[i], &slab), -EINVAL);
		ck_assert_int_eq(shmslab_unlink(bad[i]), -EINVAL);
	}
	ck_assert_int_eq(shmslab_create(NULL, NULL, &slab), -EINVAL);
	ck_assert_int_eq(shmslab_open(NULL, &slab), -EINVAL);
	ck_assert_int_eq(shmslab_unlink(NULL), -EINVAL);

	memset(too_long, 'x', sizeof(too_long) - 1);
	too_long[0] = '/';
	too_long[sizeof(too_long) - 1] = '\0';
	ck_assert_int_eq(shmslab_create(too_long, NULL, &slab), -EINVAL);

	/* NAME_MAX bytes after the slash is allowed */
	test_name(longest);
	memset(longest + strlen(longest), 'y', sizeof(longest) - 1 - strlen(longest));
	longest[sizeof(longest) - 1] = '\0';
	slab = test_create(longest, 4, 64);
	shmslab_close(slab);
	ck_assert_int_eq(shmslab_unlink(longest), 0);
}
END_TEST

START_TEST(test_layout_mode)
{
	struct shmslab_config cfg = config(4, 64);
	char name[TEST_NAME_MAX];
	struct shmslab *slab;
	struct stat st;
	int fd;

	umask(077);
	test_name(name);
	cfg.mode = 0640;
	ck_assert_int_eq(shmslab_create(name, &cfg, &slab), 0);
	fd = shm_open(name, O_RDONLY, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	close(fd);
	ck_assert_uint_eq(st.st_mode & 0777, 0640);
	shmslab_close(slab);
	ck_assert_int_eq(shmslab_unlink(name), 0);
}
END_TEST

/*
 * A change of the shared-memory format is a new layout version: the
 * fingerprint of the format is the one format.h states, and the one
 * tests/layout-versions records for this version; a version not recorded
 * there yet is a new one, which gets its line.
 */
START_TEST(test_layout_format_change_bumps_version)
{
	char path[4096], line[128];
	const char *top = getenv("top_srcdir");
	unsigned version, fingerprint;
	bool recorded = false;
	FILE *f;

	ck_assert_msg(shmslab__fingerprint() == LAYOUT_FINGERPRINT,
		      "the format changed (fingerprint %#x, format.h says %#x): bump LAYOUT_VERSION, "
		      "set LAYOUT_FINGERPRINT, and record both in tests/layout-versions",
		      shmslab__fingerprint(), LAYOUT_FINGERPRINT);
	snprintf(path, sizeof(path), "%s/tests/layout-versions", top ? top : ".");
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s is missing", path);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%u %x", &version, &fingerprint) != 2)
			continue;
		if (version == LAYOUT_VERSION) {
			ck_assert_msg(fingerprint == LAYOUT_FINGERPRINT,
				      "layout version %u was %#x: a new format needs a new version",
				      version, fingerprint);
			recorded = true;
		}
	}
	fclose(f);
	ck_assert_msg(recorded, "layout version %u is not in %s", LAYOUT_VERSION, path);
}
END_TEST

START_TEST(test_layout_fingerprint)
{
	ck_assert_uint_ne(shmslab__fingerprint(), 0);
	ck_assert_uint_eq(shmslab__fingerprint(), shmslab__fingerprint());
}
END_TEST

int main(void)
{
	Suite *s = suite_create("layout");
	TCase *tc = tcase_create("layout");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_layout_defaults);
	tcase_add_test(tc, test_layout_meta_size);
	tcase_add_test(tc, test_layout_rejects_bad_config);
	tcase_add_test(tc, test_layout_pages_double);
	tcase_add_test(tc, test_layout_idx_bits);
	tcase_add_test(tc, test_layout_validates_header);
	tcase_add_test(tc, test_layout_foreign_objects);
	tcase_add_test(tc, test_layout_truncated);
	tcase_add_test(tc, test_layout_create_existing_untouched);
	tcase_add_test(tc, test_layout_missing);
	tcase_add_test(tc, test_layout_names);
	tcase_add_test(tc, test_layout_mode);
	tcase_add_test(tc, test_layout_fingerprint);
	tcase_add_test(tc, test_layout_format_change_bumps_version);
	suite_add_tcase(s, tc);
	return test_main(s);
}
