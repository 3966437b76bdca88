/* SPDX-License-Identifier: MIT */
/*
 * The public API as a user sees it: every documented error path and every
 * documented semantic of include/shmslab.h that test-layout and test-refs do
 * not already cover.  Only the public header is used: what is checked here is
 * the contract, not the implementation.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#define SLOTS 8
#define SIZE  64

static char name[TEST_NAME_MAX];
static struct shmslab *slab;

static void setup(void)
{
	test_name(name);
	slab = test_create(name, SLOTS, SIZE);
}

static void teardown(void)
{
	shmslab_close(slab);
	ck_assert_int_eq(shmslab_unlink(name), 0);
}

/* shm_open of NAME fails, and with ENOENT: nothing was left behind. */
static void assert_no_object(const char *obj)
{
	int fd = shm_open(obj, O_RDONLY, 0);
	int err = errno;

	if (fd >= 0) {
		close(fd);
		shm_unlink(obj);
	}
	ck_assert_msg(fd < 0, "%s exists", obj);
	ck_assert_int_eq(err, ENOENT);
}

/* The process-table entry of SLAB's own attachment. */
static int32_t own_entry(struct shmslab *s)
{
	struct shmslab_stats st;
	struct shmslab_proc_info p;
	int32_t found = -1;

	ck_assert_int_eq(shmslab_stat(s, &st), 0);
	for (uint32_t e = 0; e < st.max_procs; e++) {
		ck_assert_int_eq(shmslab_proc_info(s, e, &p), 0);
		if (p.self) {
			ck_assert_int_eq(found, -1); /* exactly one entry is ours */
			found = (int32_t)e;
		}
	}
	ck_assert_int_ge(found, 0);
	return found;
}

static struct shmslab_slot_info slot_info(shmslab_ref ref)
{
	struct shmslab_slot_info info;

	ck_assert_int_eq(shmslab_slot_info(slab, (uint32_t)ref, &info), 0);
	ck_assert_uint_eq(info.index, (uint32_t)ref);
	return info;
}

static struct shmslab_stats stats(struct shmslab *s)
{
	struct shmslab_stats st;

	ck_assert_int_eq(shmslab_stat(s, &st), 0);
	return st;
}

static shmslab_ref alloc_with(const void *msg, size_t len)
{
	shmslab_ref ref;

	ck_assert_int_eq(shmslab_alloc(slab, &ref), 0);
	ck_assert_int_eq(shmslab_store(slab, ref, msg, len), 0);
	return ref;
}

static void assert_message(shmslab_ref ref, const void *msg, size_t len)
{
	char buf[SIZE];

	ck_assert_int_eq(shmslab_read(slab, ref, buf, sizeof(buf)), (ssize_t)len);
	ck_assert_int_eq(memcmp(buf, msg, len), 0);
}

/* ---- NULL arguments -------------------------------------------------------- */

START_TEST(test_api_null_handle)
{
	struct shmslab_view v;
	struct shmslab_stats st;
	struct shmslab_slot_info si;
	struct shmslab_proc_info pi;
	shmslab_ref ref = alloc_with("keep", 4), out = SHMSLAB_REF_NONE;
	char buf[SIZE];

	memset(&v, 0, sizeof(v));
	ck_assert_int_eq(shmslab_alloc(NULL, &out), -EINVAL);
	ck_assert_uint_eq(out, SHMSLAB_REF_NONE);
	ck_assert_int_eq(shmslab_free(NULL, ref), -EINVAL);
	ck_assert_int_eq(shmslab_store(NULL, ref, "x", 1), -EINVAL);
	ck_assert_int_eq(shmslab_read(NULL, ref, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(shmslab_read_begin(NULL, ref, &v), -EINVAL);
	ck_assert_int_eq(shmslab_read_end(NULL, &v), -EINVAL);
	ck_assert_int_eq(shmslab_write_begin(NULL, ref, &v), -EINVAL);
	ck_assert_int_eq(shmslab_write_end(NULL, &v), -EINVAL);
	ck_assert_int_eq(shmslab_stat(NULL, &st), -EINVAL);
	ck_assert_int_eq(shmslab_slot_info(NULL, 0, &si), -EINVAL);
	ck_assert_int_eq(shmslab_proc_info(NULL, 0, &pi), -EINVAL);
	ck_assert_int_eq(shmslab_close(NULL), -EINVAL);
	/* none of it touched the slot */
	assert_message(ref, "keep", 4);
	ck_assert_uint_eq(stats(slab).allocated, 1);
}
END_TEST

START_TEST(test_api_null_out)
{
	char other[TEST_NAME_MAX];
	shmslab_ref ref = alloc_with("keep", 4);
	struct shmslab *s;

	test_name(other);
	ck_assert_int_eq(shmslab_create(other, NULL, NULL), -EINVAL);
	assert_no_object(other);
	ck_assert_int_eq(shmslab_open(name, NULL), -EINVAL);
	ck_assert_int_eq(shmslab_inspect(name, NULL), -EINVAL);
	ck_assert_int_eq(shmslab_inspect(NULL, &s), -EINVAL);
	/* no attachment was taken by the failed open */
	ck_assert_uint_eq(stats(slab).procs, 1);

	ck_assert_int_eq(shmslab_alloc(slab, NULL), -EINVAL);
	ck_assert_uint_eq(stats(slab).allocated, 1);
	ck_assert_int_eq(shmslab_read_begin(slab, ref, NULL), -EINVAL);
	ck_assert_int_eq(shmslab_write_begin(slab, ref, NULL), -EINVAL);
	ck_assert_int_eq(shmslab_read_end(slab, NULL), -EINVAL);
	ck_assert_int_eq(shmslab_write_end(slab, NULL), -EINVAL);
	ck_assert_int_eq(shmslab_stat(slab, NULL), -EINVAL);
	ck_assert_int_eq(shmslab_slot_info(slab, 0, NULL), -EINVAL);
	ck_assert_int_eq(shmslab_proc_info(slab, 0, NULL), -EINVAL);
	/* the failed _begin calls left no lock behind */
	ck_assert_uint_eq(slot_info(ref).readers, 0);
	ck_assert_int_eq(slot_info(ref).writer, -1);
	ck_assert_int_eq(shmslab_store(slab, ref, "new", 3), 0);
	assert_message(ref, "new", 3);
}
END_TEST

START_TEST(test_api_null_buffers)
{
	shmslab_ref ref = alloc_with("hello", 5);
	shmslab_ref empty;

	/* a NULL buffer with room in it is a bad argument */
	ck_assert_int_eq(shmslab_read(slab, ref, NULL, SIZE), -EINVAL);
	ck_assert_int_eq(shmslab_read(slab, ref, NULL, 1), -EINVAL);
	/* with no room, a non-empty message simply does not fit */
	ck_assert_int_eq(shmslab_read(slab, ref, NULL, 0), -EMSGSIZE);
	/* a NULL message with a length is a bad argument, and stores nothing */
	ck_assert_int_eq(shmslab_store(slab, ref, NULL, 5), -EINVAL);
	ck_assert_int_eq(shmslab_store(slab, ref, NULL, 1), -EINVAL);
	assert_message(ref, "hello", 5);

	/* empty messages need no buffer */
	ck_assert_int_eq(shmslab_alloc(slab, &empty), 0);
	ck_assert_int_eq(shmslab_read(slab, empty, NULL, 0), 0);
	ck_assert_int_eq(shmslab_read(slab, empty, NULL, SIZE), -EINVAL);
	ck_assert_int_eq(shmslab_store(slab, ref, NULL, 0), 0);
	ck_assert_int_eq(shmslab_read(slab, ref, NULL, 0), 0);
	ck_assert_uint_eq(slot_info(ref).len, 0);
}
END_TEST

/* ---- Configuration and creation -------------------------------------------- */

START_TEST(test_api_config_defaults)
{
	struct shmslab_config cfg;

	memset(&cfg, 0xa5, sizeof(cfg));
	shmslab_config_init(&cfg);
	ck_assert_uint_eq(cfg.slot_size, 4096);
	ck_assert_uint_eq(cfg.slot_count, 1024);
	ck_assert_uint_eq(cfg.max_slots, 0);
	ck_assert_uint_eq(cfg.max_procs, 64);
	ck_assert_uint_eq(cfg.queue_depth, 0); /* as many as slot_count */
	ck_assert_uint_eq(cfg.mode, 0600);
	ck_assert_uint_eq(cfg.shards, 0);
	/* must not crash (a crash fails the test in fork mode) */
	shmslab_config_init(NULL);
}
END_TEST

START_TEST(test_api_create_defaults)
{
	char other[TEST_NAME_MAX];
	struct shmslab *s = NULL;
	struct shmslab_stats st;
	struct stat sb;
	int fd;

	test_name(other);
	ck_assert_int_eq(shmslab_create(other, NULL, &s), 0);
	ck_assert_ptr_nonnull(s);
	st = stats(s);
	ck_assert_uint_eq(st.slot_size, 4096);
	ck_assert_uint_eq(st.slot_count, 1024);
	ck_assert_uint_eq(st.max_slots, 1024); /* 0: fixed at slot_count */
	ck_assert_uint_eq(st.max_procs, 64);
	ck_assert_uint_eq(st.available, 1024);
	ck_assert_uint_eq(st.allocated, 0);
	ck_assert_uint_eq(st.procs, 1);
	fd = shm_open(other, O_RDONLY, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	close(fd);
	ck_assert_uint_eq(sb.st_mode & 07777, 0600);
	ck_assert_int_eq(shmslab_close(s), 0);
	ck_assert_int_eq(shmslab_unlink(other), 0);
}
END_TEST

START_TEST(test_api_create_bad_sizes)
{
	struct shmslab_config cfg;
	struct shmslab *s;
	char other[TEST_NAME_MAX];
	int err;

#define REJECT(field, value)                                                           \
	do {                                                                           \
		shmslab_config_init(&cfg);                                             \
		cfg.slot_count = 16;                                                   \
		cfg.slot_size = 64;                                                    \
		cfg.field = value;                                                     \
		test_name(other);                                                      \
		err = shmslab_create(other, &cfg, &s);                                 \
		ck_assert_msg(err == -EINVAL, "%s = %llu: create answered %d", #field, \
			      (unsigned long long)(value), err);                       \
		assert_no_object(other);                                               \
	} while (0)
	REJECT(slot_size, 0);
	REJECT(slot_size, SHMSLAB_SLOT_SIZE_MAX + 1);
	REJECT(slot_size, UINT32_MAX);
	REJECT(slot_count, 0);
	REJECT(slot_count, SHMSLAB_SLOTS_MAX + 1);
	REJECT(slot_count, UINT32_MAX);
	REJECT(max_slots, 15); /* a ceiling below the start */
	REJECT(max_slots, SHMSLAB_SLOTS_MAX + 1);
	REJECT(max_procs, 0);
	REJECT(max_procs, SHMSLAB_PROCS_MAX + 1);
	REJECT(queue_depth, SHMSLAB_SLOTS_MAX + 1);
	REJECT(shards, SHMSLAB_SHARDS_MAX + 1);
	REJECT(mode, 01000);
	REJECT(mode, 04600);
#undef REJECT
	/* each size within its limit, the segment beyond SHMSLAB_SIZE_MAX */
	shmslab_config_init(&cfg);
	cfg.slot_count = SHMSLAB_SLOTS_MAX;
	cfg.slot_size = SHMSLAB_SLOT_SIZE_MAX;
	test_name(other);
	ck_assert_int_eq(shmslab_create(other, &cfg, &s), -EINVAL);
	assert_no_object(other);
	/* the limits themselves are fine for what they bound */
	shmslab_config_init(&cfg);
	cfg.slot_count = 1;
	cfg.slot_size = 64;
	cfg.max_procs = SHMSLAB_PROCS_MAX;
	cfg.shards = SHMSLAB_SHARDS_MAX;
	test_name(other);
	ck_assert_int_eq(shmslab_create(other, &cfg, &s), 0);
	ck_assert_uint_eq(stats(s).max_procs, SHMSLAB_PROCS_MAX);
	ck_assert_int_eq(shmslab_close(s), 0);
	ck_assert_int_eq(shmslab_unlink(other), 0);
}
END_TEST

/* ---- store and read ------------------------------------------------------- */

START_TEST(test_api_store_too_long)
{
	char big[SIZE + 1];
	shmslab_ref ref = alloc_with("first", 5);

	memset(big, 'b', sizeof(big));
	ck_assert_int_eq(shmslab_store(slab, ref, big, SIZE + 1), -EMSGSIZE);
	assert_message(ref, "first", 5);
	/* a length that would truncate to a small one in 32 bits */
	ck_assert_int_eq(shmslab_store(slab, ref, big, ((size_t)1 << 32) + 1), -EMSGSIZE);
	ck_assert_int_eq(shmslab_store(slab, ref, big, SIZE_MAX), -EMSGSIZE);
	assert_message(ref, "first", 5);
	ck_assert_uint_eq(slot_info(ref).len, 5);
}
END_TEST

START_TEST(test_api_read_small_buffer)
{
	unsigned char buf[SIZE];
	shmslab_ref ref = alloc_with("0123456789", 10);

	memset(buf, 0xee, sizeof(buf));
	ck_assert_int_eq(shmslab_read(slab, ref, buf, 9), -EMSGSIZE);
	ck_assert_int_eq(shmslab_read(slab, ref, buf, 1), -EMSGSIZE);
	ck_assert_int_eq(shmslab_read(slab, ref, buf, 0), -EMSGSIZE);
	for (size_t i = 0; i < sizeof(buf); i++)
		ck_assert_msg(buf[i] == 0xee, "byte %zu changed to %#x", i, buf[i]);
	/* and the read lock went with the error */
	ck_assert_uint_eq(slot_info(ref).readers, 0);
	ck_assert_int_eq(shmslab_read(slab, ref, buf, 10), 10);
	ck_assert_int_eq(memcmp(buf, "0123456789", 10), 0);
	ck_assert_uint_eq(buf[10], 0xee);
}
END_TEST

START_TEST(test_api_store_exact_size)
{
	char msg[SIZE], buf[SIZE];
	shmslab_ref ref;

	for (int i = 0; i < SIZE; i++)
		msg[i] = (char)('A' + i % 26);
	ck_assert_int_eq(shmslab_alloc(slab, &ref), 0);
	ck_assert_int_eq(shmslab_store(slab, ref, msg, SIZE), 0);
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(shmslab_read(slab, ref, buf, SIZE), SIZE);
	ck_assert_int_eq(memcmp(buf, msg, SIZE), 0);
	ck_assert_int_eq(shmslab_read(slab, ref, buf, SIZE - 1), -EMSGSIZE);
	ck_assert_uint_eq(slot_info(ref).len, SIZE);
}
END_TEST

START_TEST(test_api_store_empty)
{
	char buf[SIZE];
	shmslab_ref ref = alloc_with("abc", 3);

	ck_assert_int_eq(shmslab_store(slab, ref, "xyz", 0), 0);
	ck_assert_int_eq(shmslab_read(slab, ref, buf, sizeof(buf)), 0);
	ck_assert_int_eq(shmslab_read(slab, ref, buf, 0), 0);
	ck_assert_uint_eq(slot_info(ref).len, 0);
}
END_TEST

START_TEST(test_api_fresh_slot_empty)
{
	char buf[SIZE];
	shmslab_ref ref, again;
	int rounds = 0;

	ck_assert_int_eq(shmslab_alloc(slab, &ref), 0);
	ck_assert_int_eq(shmslab_read(slab, ref, buf, sizeof(buf)), 0);
	ck_assert_uint_eq(slot_info(ref).len, 0);
	/* a slot that held a message reads empty once allocated again */
	ck_assert_int_eq(shmslab_store(slab, ref, "old message", 11), 0);
	ck_assert_int_eq(shmslab_free(slab, ref), 0);
	do {
		ck_assert_int_lt(rounds++, SLOTS);
		ck_assert_int_eq(shmslab_alloc(slab, &again), 0);
		ck_assert_int_eq(shmslab_read(slab, again, buf, sizeof(buf)), 0);
	} while ((uint32_t)again != (uint32_t)ref);
}
END_TEST

/* ---- Views ---------------------------------------------------------------- */

START_TEST(test_api_read_view)
{
	struct shmslab_view v;
	shmslab_ref ref = alloc_with("hello world", 11);

	memset(&v, 0, sizeof(v));
	ck_assert_int_eq(shmslab_read_begin(slab, ref, &v), 0);
	ck_assert_ptr_nonnull(v.data);
	ck_assert_uint_eq(v.cap, SIZE);
	ck_assert_uint_eq(v.len, 11);
	ck_assert_int_eq(memcmp(v.data, "hello world", 11), 0);
	ck_assert_int_eq(shmslab_read_end(slab, &v), 0);
	ck_assert_uint_eq(slot_info(ref).readers, 0);
}
END_TEST

START_TEST(test_api_read_view_nested)
{
	struct shmslab_view a, b, w;
	char buf[SIZE];
	shmslab_ref ref = alloc_with("shared", 6);

	ck_assert_int_eq(shmslab_read_begin(slab, ref, &a), 0);
	ck_assert_int_eq(shmslab_read_begin(slab, ref, &b), 0);
	ck_assert_uint_eq(a.len, 6);
	ck_assert_uint_eq(b.len, 6);
	ck_assert_int_eq(memcmp(a.data, "shared", 6), 0);
	ck_assert_int_eq(memcmp(b.data, "shared", 6), 0);
	/* a copying read joins the views */
	ck_assert_int_eq(shmslab_read(slab, ref, buf, sizeof(buf)), 6);
	ck_assert_uint_eq(slot_info(ref).readers, 1);
	ck_assert_int_eq(shmslab_read_end(slab, &b), 0);
	/* one view still holds the lock */
	ck_assert_uint_eq(slot_info(ref).readers, 1);
	ck_assert_int_eq(memcmp(a.data, "shared", 6), 0);
	ck_assert_int_eq(shmslab_read_end(slab, &a), 0);
	ck_assert_uint_eq(slot_info(ref).readers, 0);
	/* every hold is gone: the write lock is free */
	ck_assert_int_eq(shmslab_write_begin(slab, ref, &w), 0);
	ck_assert_int_eq(shmslab_write_end(slab, &w), 0);
}
END_TEST

START_TEST(test_api_write_view)
{
	struct shmslab_view w;
	shmslab_ref ref = alloc_with("xyz", 3);

	memset(&w, 0, sizeof(w));
	ck_assert_int_eq(shmslab_write_begin(slab, ref, &w), 0);
	ck_assert_ptr_nonnull(w.data);
	ck_assert_uint_eq(w.cap, SIZE);
	ck_assert_uint_eq(w.len, 3); /* the current message */
	ck_assert_int_eq(memcmp(w.data, "xyz", 3), 0);
	memcpy(w.data, "written", 7);
	w.len = 7;
	ck_assert_int_eq(shmslab_write_end(slab, &w), 0);
	assert_message(ref, "written", 7);
	ck_assert_uint_eq(slot_info(ref).len, 7);
	ck_assert_int_eq(slot_info(ref).writer, -1);

	/* a shorter message, and a full one */
	ck_assert_int_eq(shmslab_write_begin(slab, ref, &w), 0);
	w.len = 2;
	ck_assert_int_eq(shmslab_write_end(slab, &w), 0);
	assert_message(ref, "wr", 2);
	ck_assert_int_eq(shmslab_write_begin(slab, ref, &w), 0);
	memset(w.data, 'f', w.cap);
	w.len = w.cap;
	ck_assert_int_eq(shmslab_write_end(slab, &w), 0);
	ck_assert_uint_eq(slot_info(ref).len, SIZE);
}
END_TEST

START_TEST(test_api_write_view_too_long)
{
	struct shmslab_view w;
	int32_t me = own_entry(slab);
	shmslab_ref ref = alloc_with("before", 6);

	ck_assert_int_eq(shmslab_write_begin(slab, ref, &w), 0);
	memcpy(w.data, "ok", 2);
	w.len = w.cap + 1;
	ck_assert_int_eq(shmslab_write_end(slab, &w), -EMSGSIZE);
	/* still held */
	ck_assert_int_eq(slot_info(ref).writer, me);
	w.len = SIZE_MAX;
	ck_assert_int_eq(shmslab_write_end(slab, &w), -EMSGSIZE);
	ck_assert_int_eq(slot_info(ref).writer, me);
	w.len = 2;
	ck_assert_int_eq(shmslab_write_end(slab, &w), 0);
	ck_assert_int_eq(slot_info(ref).writer, -1);
	assert_message(ref, "ok", 2);
}
END_TEST

START_TEST(test_api_view_not_held)
{
	struct shmslab_view zero, v, copy;
	shmslab_ref ref = alloc_with("msg", 3);

	memset(&zero, 0, sizeof(zero));
	ck_assert_int_eq(shmslab_read_end(slab, &zero), -EINVAL);
	ck_assert_int_eq(shmslab_write_end(slab, &zero), -EINVAL);

	/* ended twice */
	ck_assert_int_eq(shmslab_read_begin(slab, ref, &v), 0);
	ck_assert_int_eq(shmslab_read_end(slab, &v), 0);
	ck_assert_int_eq(shmslab_read_end(slab, &v), -EINVAL);
	ck_assert_int_eq(shmslab_write_begin(slab, ref, &v), 0);
	memcpy(v.data, "new", 3);
	ck_assert_int_eq(shmslab_write_end(slab, &v), 0);
	ck_assert_int_eq(shmslab_write_end(slab, &v), -EINVAL);

	/* ended through a copy of it, then again through the view */
	ck_assert_int_eq(shmslab_read_begin(slab, ref, &v), 0);
	copy = v;
	ck_assert_int_eq(shmslab_read_end(slab, &copy), 0);
	ck_assert_int_eq(shmslab_read_end(slab, &v), -EINVAL);
	ck_assert_int_eq(shmslab_write_begin(slab, ref, &v), 0);
	copy = v;
	ck_assert_int_eq(shmslab_write_end(slab, &copy), 0);
	ck_assert_int_eq(shmslab_write_end(slab, &v), -EINVAL);

	/* nothing was released twice: the lock is whole */
	ck_assert_uint_eq(slot_info(ref).readers, 0);
	ck_assert_int_eq(slot_info(ref).writer, -1);
	ck_assert_int_eq(shmslab_read_begin(slab, ref, &v), 0);
	ck_assert_uint_eq(slot_info(ref).readers, 1);
	ck_assert_int_eq(shmslab_read_end(slab, &v), 0);
	assert_message(ref, "new", 3);
}
END_TEST

START_TEST(test_api_view_wrong_kind)
{
	struct shmslab_view r, w;
	int32_t me = own_entry(slab);
	shmslab_ref ref = alloc_with("msg", 3);

	ck_assert_int_eq(shmslab_write_begin(slab, ref, &w), 0);
	ck_assert_int_eq(shmslab_read_end(slab, &w), -EINVAL);
	ck_assert_int_eq(slot_info(ref).writer, me);
	ck_assert_int_eq(shmslab_write_end(slab, &w), 0);
	ck_assert_int_eq(slot_info(ref).writer, -1);

	ck_assert_int_eq(shmslab_read_begin(slab, ref, &r), 0);
	r.len = 1;
	ck_assert_int_eq(shmslab_write_end(slab, &r), -EINVAL);
	ck_assert_uint_eq(slot_info(ref).readers, 1);
	ck_assert_uint_eq(slot_info(ref).len, 3);
	ck_assert_int_eq(shmslab_read_end(slab, &r), 0);
	ck_assert_uint_eq(slot_info(ref).readers, 0);
	assert_message(ref, "msg", 3);
}
END_TEST

/* ---- Inspection handles --------------------------------------------------- */

START_TEST(test_api_inspect_eperm)
{
	struct shmslab *in = NULL;
	struct shmslab_view v;
	struct shmslab_stats st;
	struct shmslab_slot_info si;
	struct shmslab_proc_info pi;
	shmslab_ref ref = alloc_with("mine", 4), out = SHMSLAB_REF_NONE;
	char buf[SIZE];

	ck_assert_int_eq(shmslab_inspect(name, &in), 0);
	ck_assert_ptr_nonnull(in);
	ck_assert_int_eq(shmslab_stat(in, &st), 0);
	ck_assert_uint_eq(st.slot_size, SIZE);
	ck_assert_uint_eq(st.slot_count, SLOTS);
	ck_assert_uint_eq(st.allocated, 1);
	ck_assert_int_eq(shmslab_slot_info(in, (uint32_t)ref, &si), 0);
	ck_assert_uint_eq(si.state, SHMSLAB_SLOT_OWNED);
	ck_assert_uint_eq(si.len, 4);
	ck_assert_int_eq(shmslab_proc_info(in, 0, &pi), 0);

	ck_assert_int_eq(shmslab_alloc(in, &out), -EPERM);
	ck_assert_uint_eq(out, SHMSLAB_REF_NONE);
	ck_assert_int_eq(shmslab_free(in, ref), -EPERM);
	ck_assert_int_eq(shmslab_store(in, ref, "x", 1), -EPERM);
	ck_assert_int_eq(shmslab_read(in, ref, buf, sizeof(buf)), -EPERM);
	ck_assert_int_eq(shmslab_read_begin(in, ref, &v), -EPERM);
	ck_assert_int_eq(shmslab_write_begin(in, ref, &v), -EPERM);
	/* a view held by the real handle cannot be ended through the inspector */
	ck_assert_int_eq(shmslab_read_begin(slab, ref, &v), 0);
	ck_assert_int_eq(shmslab_read_end(in, &v), -EPERM);
	ck_assert_uint_eq(slot_info(ref).readers, 1);
	ck_assert_int_eq(shmslab_read_end(slab, &v), 0);
	ck_assert_int_eq(shmslab_write_begin(slab, ref, &v), 0);
	ck_assert_int_eq(shmslab_write_end(in, &v), -EPERM);
	ck_assert_int_eq(slot_info(ref).writer, own_entry(slab));
	ck_assert_int_eq(shmslab_write_end(slab, &v), 0);

	/* nothing changed through the inspector */
	assert_message(ref, "mine", 4);
	ck_assert_uint_eq(stats(slab).allocated, 1);
	ck_assert_int_eq(shmslab_close(in), 0);
}
END_TEST

START_TEST(test_api_inspect_no_entry)
{
	struct shmslab_config cfg;
	struct shmslab_proc_info pi;
	struct shmslab *in = NULL, *one, *extra = NULL;
	char other[TEST_NAME_MAX];

	ck_assert_uint_eq(stats(slab).procs, 1);
	ck_assert_int_eq(shmslab_inspect(name, &in), 0);
	ck_assert_uint_eq(stats(slab).procs, 1);
	ck_assert_uint_eq(stats(in).procs, 1);
	/* no entry is the inspector's own */
	for (uint32_t e = 0; e < stats(in).max_procs; e++) {
		ck_assert_int_eq(shmslab_proc_info(in, e, &pi), 0);
		ck_assert_uint_eq(pi.self, 0);
	}
	ck_assert_int_eq(shmslab_close(in), 0);
	ck_assert_uint_eq(stats(slab).procs, 1);

	/* a full table refuses attachments but not inspection */
	shmslab_config_init(&cfg);
	cfg.slot_count = 4;
	cfg.slot_size = 64;
	cfg.max_procs = 1;
	test_name(other);
	ck_assert_int_eq(shmslab_create(other, &cfg, &one), 0);
	ck_assert_int_eq(shmslab_open(other, &extra), -EUSERS);
	ck_assert_int_eq(shmslab_inspect(other, &in), 0);
	ck_assert_ptr_nonnull(in);
	ck_assert_uint_eq(stats(in).procs, 1);
	ck_assert_uint_eq(stats(in).max_procs, 1);
	ck_assert_int_eq(shmslab_open(other, &extra), -EUSERS);
	ck_assert_int_eq(shmslab_close(in), 0);
	/* the place frees with the attachment */
	ck_assert_int_eq(shmslab_close(one), 0);
	ck_assert_int_eq(shmslab_open(other, &extra), 0);
	ck_assert_int_eq(shmslab_close(extra), 0);
	ck_assert_int_eq(shmslab_unlink(other), 0);
}
END_TEST

/* ---- fork ----------------------------------------------------------------- */

/* In a fork child: end the child with status LINE if GOT is not WANT. */
#define CHILD_EXPECT(got, want)                                                                    \
	do {                                                                                       \
		long long got_ = (long long)(got), want_ = (long long)(want);                      \
		if (got_ != want_) {                                                               \
			fprintf(stderr, "child line %d: %s = %lld, wanted %lld\n", __LINE__, #got, \
				got_, want_);                                                      \
			_exit(__LINE__ % 250 + 1);                                                 \
		}                                                                                  \
	} while (0)

/* The child's side: the inherited handle answers -ECHILD; its own works. */
static void child_main(shmslab_ref parents)
{
	struct shmslab_view v;
	struct shmslab_stats st;
	struct shmslab_slot_info si;
	struct shmslab_proc_info pi;
	struct shmslab *own = NULL;
	shmslab_ref ref = SHMSLAB_REF_NONE;
	char buf[SIZE];

	memset(&v, 0, sizeof(v));
	CHILD_EXPECT(shmslab_alloc(slab, &ref), -ECHILD);
	CHILD_EXPECT(ref, SHMSLAB_REF_NONE);
	CHILD_EXPECT(shmslab_free(slab, parents), -ECHILD);
	CHILD_EXPECT(shmslab_store(slab, parents, "child", 5), -ECHILD);
	CHILD_EXPECT(shmslab_read(slab, parents, buf, sizeof(buf)), -ECHILD);
	CHILD_EXPECT(shmslab_read_begin(slab, parents, &v), -ECHILD);
	CHILD_EXPECT(shmslab_read_end(slab, &v), -ECHILD);
	CHILD_EXPECT(shmslab_write_begin(slab, parents, &v), -ECHILD);
	CHILD_EXPECT(shmslab_write_end(slab, &v), -ECHILD);
	CHILD_EXPECT(shmslab_stat(slab, &st), -ECHILD);
	CHILD_EXPECT(shmslab_slot_info(slab, (uint32_t)parents, &si), -ECHILD);
	CHILD_EXPECT(shmslab_proc_info(slab, 0, &pi), -ECHILD);
	CHILD_EXPECT(shmslab_close(slab), 0);

	CHILD_EXPECT(shmslab_open(name, &own), 0);
	CHILD_EXPECT(shmslab_stat(own, &st), 0);
	CHILD_EXPECT(st.procs, 2);
	CHILD_EXPECT(shmslab_read(own, parents, buf, sizeof(buf)), 6);
	CHILD_EXPECT(memcmp(buf, "parent", 6), 0);
	CHILD_EXPECT(shmslab_alloc(own, &ref), 0);
	CHILD_EXPECT(shmslab_store(own, ref, "child", 5), 0);
	CHILD_EXPECT(shmslab_read(own, ref, buf, sizeof(buf)), 5);
	CHILD_EXPECT(memcmp(buf, "child", 5), 0);
	CHILD_EXPECT(shmslab_free(own, ref), 0);
	CHILD_EXPECT(shmslab_close(own), 0);
	_exit(0);
}

START_TEST(test_api_fork_child)
{
	struct shmslab_proc_info pi;
	shmslab_ref ref = alloc_with("parent", 6), mine;
	int32_t me = own_entry(slab);
	pid_t pid;
	int status;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		child_main(ref); /* never returns */
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "child died: status %#x", status);
	ck_assert_msg(WEXITSTATUS(status) == 0, "child failed a check (status %d; see stderr)",
		      WEXITSTATUS(status));

	/* the parent's handle and entry are untouched by the child's close */
	ck_assert_int_eq(own_entry(slab), me);
	ck_assert_int_eq(shmslab_proc_info(slab, (uint32_t)me, &pi), 0);
	ck_assert_uint_eq(pi.attached, 1);
	ck_assert_uint_eq(pi.self, 1);
	ck_assert_int_eq(pi.pid, getpid());
	ck_assert_uint_eq(stats(slab).procs, 1);
	ck_assert_uint_eq(stats(slab).allocated, 1);
	ck_assert_int_eq(slot_info(ref).owner, me);
	assert_message(ref, "parent", 6);
	ck_assert_int_eq(shmslab_store(slab, ref, "again", 5), 0);
	assert_message(ref, "again", 5);
	ck_assert_int_eq(shmslab_alloc(slab, &mine), 0);
	ck_assert_int_eq(shmslab_free(slab, mine), 0);
	ck_assert_int_eq(shmslab_free(slab, ref), 0);
}
END_TEST

/* ---- Statistics ----------------------------------------------------------- */

START_TEST(test_api_stat_counts)
{
	struct shmslab_stats st;
	shmslab_ref refs[SLOTS];

	st = stats(slab);
	ck_assert_uint_eq(st.slot_size, SIZE);
	ck_assert_uint_eq(st.slot_count, SLOTS);
	ck_assert_uint_eq(st.available, SLOTS);
	ck_assert_uint_eq(st.allocated, 0);
	ck_assert_uint_eq(st.queued, 0);
	for (int k = 1; k <= SLOTS; k++) {
		ck_assert_int_eq(shmslab_alloc(slab, &refs[k - 1]), 0);
		st = stats(slab);
		ck_assert_uint_eq(st.available, SLOTS - k);
		ck_assert_uint_eq(st.allocated, k);
		ck_assert_uint_eq(st.unowned, 0);
	}
	for (int k = SLOTS - 1; k >= 0; k--) {
		ck_assert_int_eq(shmslab_free(slab, refs[k]), 0);
		st = stats(slab);
		ck_assert_uint_eq(st.available, SLOTS - k);
		ck_assert_uint_eq(st.allocated, k);
	}
}
END_TEST

START_TEST(test_api_stat_procs)
{
	struct shmslab *a = NULL, *b = NULL;
	uint64_t base = stats(slab).procs;

	ck_assert_uint_eq(base, 1);
	ck_assert_int_eq(shmslab_open(name, &a), 0);
	ck_assert_uint_eq(stats(slab).procs, base + 1);
	ck_assert_int_eq(shmslab_open(name, &b), 0);
	ck_assert_uint_eq(stats(slab).procs, base + 2);
	ck_assert_uint_eq(stats(a).procs, base + 2);
	ck_assert_int_eq(own_entry(a) != own_entry(b), 1);
	ck_assert_int_eq(shmslab_close(a), 0);
	ck_assert_uint_eq(stats(slab).procs, base + 1);
	ck_assert_int_eq(shmslab_close(b), 0);
	ck_assert_uint_eq(stats(slab).procs, base);
}
END_TEST

START_TEST(test_api_close_leaves_unowned)
{
	struct shmslab *other = NULL;
	struct shmslab_stats st;
	shmslab_ref refs[3];
	char msg[8];

	ck_assert_int_eq(shmslab_open(name, &other), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(shmslab_alloc(other, &refs[i]), 0);
		snprintf(msg, sizeof(msg), "msg%d", i);
		ck_assert_int_eq(shmslab_store(other, refs[i], msg, 4), 0);
	}
	ck_assert_uint_eq(stats(slab).unowned, 0);
	ck_assert_int_eq(shmslab_close(other), 0);

	st = stats(slab);
	ck_assert_uint_eq(st.allocated, 3);
	ck_assert_uint_eq(st.unowned, 3);
	ck_assert_uint_eq(st.available, SLOTS - 3);
	ck_assert_uint_eq(st.procs, 1);
	for (int i = 0; i < 3; i++) {
		struct shmslab_slot_info si = slot_info(refs[i]);

		ck_assert_uint_eq(si.state, SHMSLAB_SLOT_OWNED);
		ck_assert_int_eq(si.owner, -1);
		ck_assert_uint_eq(si.generation, refs[i] >> 32);
		snprintf(msg, sizeof(msg), "msg%d", i);
		assert_message(refs[i], msg, 4);
	}
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(shmslab_free(slab, refs[i]), 0);
	st = stats(slab);
	ck_assert_uint_eq(st.allocated, 0);
	ck_assert_uint_eq(st.unowned, 0);
	ck_assert_uint_eq(st.available, SLOTS);
}
END_TEST

/* ---- Slot and process detail ---------------------------------------------- */

START_TEST(test_api_info_range)
{
	struct shmslab_slot_info si;
	struct shmslab_proc_info pi;
	uint64_t max_procs = stats(slab).max_procs;

	ck_assert_int_eq(shmslab_slot_info(slab, SLOTS - 1, &si), 0);
	ck_assert_uint_eq(si.index, SLOTS - 1);
	ck_assert_int_eq(shmslab_slot_info(slab, SLOTS, &si), -EINVAL);
	ck_assert_int_eq(shmslab_slot_info(slab, UINT32_MAX, &si), -EINVAL);
	ck_assert_int_eq(shmslab_slot_info(slab, (uint64_t)1 << 32, &si), -EINVAL);
	ck_assert_int_eq(shmslab_slot_info(slab, ((uint64_t)1 << 32) | 1, &si), -EINVAL);
	ck_assert_int_eq(shmslab_slot_info(slab, UINT64_MAX, &si), -EINVAL);

	ck_assert_int_eq(shmslab_proc_info(slab, (uint32_t)max_procs - 1, &pi), 0);
	ck_assert_uint_eq(pi.entry, max_procs - 1);
	ck_assert_int_eq(shmslab_proc_info(slab, (uint32_t)max_procs, &pi), -EINVAL);
	ck_assert_int_eq(shmslab_proc_info(slab, UINT32_MAX, &pi), -EINVAL);
}
END_TEST

START_TEST(test_api_slot_info)
{
	struct shmslab_slot_info si;
	struct shmslab_proc_info pi;
	int32_t me = own_entry(slab);
	shmslab_ref ref = alloc_with("abcde", 5);

	ck_assert_int_eq(shmslab_proc_info(slab, (uint32_t)me, &pi), 0);
	ck_assert_uint_eq(pi.attached, 1);
	ck_assert_int_eq(pi.pid, getpid());

	si = slot_info(ref);
	ck_assert_uint_eq(si.state, SHMSLAB_SLOT_OWNED);
	ck_assert_uint_eq(si.generation, ref >> 32);
	ck_assert_int_eq(si.owner, me);
	ck_assert_uint_eq(si.len, 5);
	ck_assert_int_eq(si.writer, -1);
	ck_assert_uint_eq(si.readers, 0);
	ck_assert_uint_eq(si.torn, 0);

	ck_assert_int_eq(shmslab_free(slab, ref), 0);
	si = slot_info(ref);
	ck_assert_uint_eq(si.state, SHMSLAB_SLOT_FREE);
	ck_assert_uint_ne(si.generation, ref >> 32);
	ck_assert_int_eq(si.owner, -1);
}
END_TEST

START_TEST(test_api_slot_info_locks)
{
	struct shmslab_view a, b, w;
	int32_t me = own_entry(slab);
	shmslab_ref ref = alloc_with("locked", 6);

	ck_assert_int_eq(shmslab_read_begin(slab, ref, &a), 0);
	ck_assert_uint_eq(slot_info(ref).readers, 1);
	ck_assert_int_eq(slot_info(ref).writer, -1);
	ck_assert_int_eq(shmslab_read_begin(slab, ref, &b), 0);
	ck_assert_uint_eq(slot_info(ref).readers, 1); /* one process */
	ck_assert_int_eq(shmslab_read_end(slab, &b), 0);
	ck_assert_int_eq(shmslab_read_end(slab, &a), 0);
	ck_assert_uint_eq(slot_info(ref).readers, 0);

	ck_assert_int_eq(shmslab_write_begin(slab, ref, &w), 0);
	ck_assert_int_eq(slot_info(ref).writer, me);
	ck_assert_uint_eq(slot_info(ref).readers, 0);
	ck_assert_int_eq(slot_info(ref).owner, me);
	w.len = 3;
	ck_assert_int_eq(shmslab_write_end(slab, &w), 0);
	ck_assert_int_eq(slot_info(ref).writer, -1);
	ck_assert_uint_eq(slot_info(ref).len, 3);
}
END_TEST

/* ---- strerror and version ------------------------------------------------- */

START_TEST(test_api_strerror)
{
	static const int errnos[] = { EINVAL, EEXIST,	  ENOENT, ENOSPC, ESTALE, EMSGSIZE,
				      EUSERS, EOWNERDEAD, EPERM,  ECHILD, EACCES };
	enum { N_ERRNO = sizeof(errnos) / sizeof(errnos[0]) };
	const char *texts[N_ERRNO + 3];
	const char *unknown[] = { shmslab_strerror(-99999), shmslab_strerror(99999),
				  shmslab_strerror(INT_MAX), shmslab_strerror(-0x5303) };
	int n = 0;

	texts[n++] = shmslab_strerror(0);
	for (int i = 0; i < N_ERRNO; i++) {
		const char *neg = shmslab_strerror(-errnos[i]);
		const char *pos = shmslab_strerror(errnos[i]);

		ck_assert_ptr_nonnull(neg);
		ck_assert_ptr_nonnull(pos);
		ck_assert_str_eq(pos, neg);
		texts[n++] = neg;
	}
	texts[n++] = shmslab_strerror(SHMSLAB_EFORMAT);
	texts[n++] = shmslab_strerror(SHMSLAB_ECORRUPT);
	for (int i = 0; i < n; i++) {
		ck_assert_ptr_nonnull(texts[i]);
		ck_assert_msg(texts[i][0] != '\0', "text %d is empty", i);
		/* every code has a name of its own */
		for (int j = 0; j < i; j++)
			ck_assert_msg(strcmp(texts[i], texts[j]) != 0, "texts %d and %d: \"%s\"", j,
				      i, texts[i]);
	}
	for (unsigned u = 0; u < sizeof(unknown) / sizeof(unknown[0]); u++) {
		ck_assert_ptr_nonnull(unknown[u]);
		for (int i = 0; i < n; i++)
			ck_assert_str_ne(unknown[u], texts[i]);
	}
}
END_TEST

START_TEST(test_api_version)
{
	char buf[32];

	ck_assert_uint_eq(shmslab_version(), SHMSLAB_VERSION_MAJOR * 10000u +
						     SHMSLAB_VERSION_MINOR * 100u +
						     SHMSLAB_VERSION_PATCH);
	snprintf(buf, sizeof(buf), "%d.%d.%d", SHMSLAB_VERSION_MAJOR, SHMSLAB_VERSION_MINOR,
		 SHMSLAB_VERSION_PATCH);
	ck_assert_str_eq(SHMSLAB_VERSION_STRING, buf);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("api");
	TCase *tc = tcase_create("api");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_api_null_handle);
	tcase_add_test(tc, test_api_null_out);
	tcase_add_test(tc, test_api_null_buffers);
	tcase_add_test(tc, test_api_config_defaults);
	tcase_add_test(tc, test_api_create_defaults);
	tcase_add_test(tc, test_api_create_bad_sizes);
	tcase_add_test(tc, test_api_store_too_long);
	tcase_add_test(tc, test_api_read_small_buffer);
	tcase_add_test(tc, test_api_store_exact_size);
	tcase_add_test(tc, test_api_store_empty);
	tcase_add_test(tc, test_api_fresh_slot_empty);
	tcase_add_test(tc, test_api_read_view);
	tcase_add_test(tc, test_api_read_view_nested);
	tcase_add_test(tc, test_api_write_view);
	tcase_add_test(tc, test_api_write_view_too_long);
	tcase_add_test(tc, test_api_view_not_held);
	tcase_add_test(tc, test_api_view_wrong_kind);
	tcase_add_test(tc, test_api_inspect_eperm);
	tcase_add_test(tc, test_api_inspect_no_entry);
	tcase_add_test(tc, test_api_fork_child);
	tcase_add_test(tc, test_api_stat_counts);
	tcase_add_test(tc, test_api_stat_procs);
	tcase_add_test(tc, test_api_close_leaves_unowned);
	tcase_add_test(tc, test_api_info_range);
	tcase_add_test(tc, test_api_slot_info);
	tcase_add_test(tc, test_api_slot_info_locks);
	tcase_add_test(tc, test_api_strerror);
	tcase_add_test(tc, test_api_version);
	suite_add_tcase(s, tc);
	return test_main(s);
}
