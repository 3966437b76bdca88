/* SPDX-License-Identifier: MIT */
/*
 * The slot lock: readers share, a writer excludes readers and writers, it
 * records who holds it, and a blocked caller sleeps in the kernel.  Two
 * handles opened by one process hold two process-table entries, so they
 * stand for two processes here; tests/test-multiproc.c does it with real ones.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"
#include "internal.h"

static char name[TEST_NAME_MAX];
static struct shmslab *h1, *h2;
static shmslab_ref ref;

static void setup(void)
{
	test_name(name);
	h1 = test_create(name, 8, 256);
	ck_assert_int_eq(shmslab_open(name, &h2), 0);
	ck_assert_int_eq(shmslab_alloc(h1, &ref), 0);
	ck_assert_int_eq(shmslab_store(h1, ref, "first", 5), 0);
}

static void teardown(void)
{
	shmslab_close(h2);
	shmslab_close(h1);
	ck_assert_int_eq(shmslab_unlink(name), 0);
}

enum op_kind { OP_READ_BEGIN, OP_WRITE_BEGIN, OP_FREE, OP_READ_HOLD };

/* An operation run in its own thread, to watch it block. */
struct op {
	enum op_kind kind;
	struct shmslab *slab;
	struct shmslab_view view;
	pthread_t thread;
	_Atomic int done;
	_Atomic int release; /* OP_READ_HOLD: end the view when set */
	int result;
};

static void *op_thread(void *arg)
{
	struct op *op = arg;

	switch (op->kind) {
	case OP_READ_BEGIN:
	case OP_READ_HOLD:
		op->result = shmslab_read_begin(op->slab, ref, &op->view);
		break;
	case OP_WRITE_BEGIN:
		op->result = shmslab_write_begin(op->slab, ref, &op->view);
		break;
	case OP_FREE:
		op->result = shmslab_free(op->slab, ref);
		break;
	}
	atomic_store(&op->done, 1);
	if (op->kind == OP_READ_HOLD && op->result == 0) {
		while (!atomic_load(&op->release))
			usleep(1000);
		ck_assert_int_eq(shmslab_read_end(op->slab, &op->view), 0);
	}
	return NULL;
}

static void op_start(struct op *op, pthread_t *t, enum op_kind kind, struct shmslab *slab)
{
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->slab = slab;
	ck_assert_int_eq(pthread_create(t, NULL, op_thread, op), 0);
	op->thread = *t;
}

static bool op_wait_done(struct op *op, unsigned ms)
{
	for (unsigned i = 0; i < ms && !atomic_load(&op->done); i++)
		usleep(1000);
	return atomic_load(&op->done);
}

/* OP has started and is blocked, asleep in the kernel rather than spinning. */
static void assert_blocked(struct op *op)
{
	uint64_t cpu_ms;

	ck_assert(!op_wait_done(op, 200));
	cpu_ms = test_cpu_ms_over_wall(op->thread);
	ck_assert_msg(cpu_ms <= TEST_SLEEPER_CPU_MS, "the blocked thread used %llu ms of CPU in %d ms",
		      (unsigned long long)cpu_ms, TEST_SLEEPER_WALL_MS);
}

static uint32_t entry_of(struct shmslab *slab)
{
	return slab->self;
}

START_TEST(test_slotlock_readers_share)
{
	struct shmslab_view v1, v2;
	struct shmslab_slot_info info;

	ck_assert_int_eq(shmslab_read_begin(h1, ref, &v1), 0);
	ck_assert_int_eq(shmslab_read_begin(h2, ref, &v2), 0);
	ck_assert_int_eq(shmslab_slot_info(h1, (uint32_t)ref, &info), 0);
	ck_assert_uint_eq(info.readers, 2);
	ck_assert_int_eq(info.writer, -1);
	ck_assert_int_eq(memcmp(v1.data, "first", 5), 0);
	ck_assert_ptr_ne(v1.data, v2.data); /* each process maps on its own */
	ck_assert_int_eq(memcmp(v2.data, "first", 5), 0);
	ck_assert_int_eq(shmslab_read_end(h1, &v1), 0);
	ck_assert_int_eq(shmslab_read_end(h2, &v2), 0);
	ck_assert_int_eq(shmslab_slot_info(h1, (uint32_t)ref, &info), 0);
	ck_assert_uint_eq(info.readers, 0);
}
END_TEST

START_TEST(test_slotlock_reader_bits_exact)
{
	struct slot_meta *m = slot_meta(h1, (uint32_t)ref);
	uint64_t b1 = UINT64_C(1) << entry_of(h1), b2 = UINT64_C(1) << entry_of(h2);
	struct shmslab_view v;

	ck_assert_uint_eq(atomic_load(&m->readers[0]), 0);
	ck_assert_int_eq(shmslab_read_begin(h2, ref, &v), 0);
	/* exactly the holder's bit: who holds the lock is known, not just how many */
	ck_assert_uint_eq(atomic_load(&m->readers[0]), b2);
	ck_assert_uint_eq(atomic_load(&m->readers[0]) & b1, 0);
	ck_assert_int_eq(shmslab_read_end(h2, &v), 0);
	ck_assert_uint_eq(atomic_load(&m->readers[0]), 0);
}
END_TEST

START_TEST(test_slotlock_writer_waits_for_reader)
{
	struct shmslab_view v;
	struct op op;
	pthread_t t;
	char buf[16];

	ck_assert_int_eq(shmslab_read_begin(h1, ref, &v), 0);
	op_start(&op, &t, OP_WRITE_BEGIN, h2);
	assert_blocked(&op);
	ck_assert_int_eq(shmslab_read_end(h1, &v), 0);
	ck_assert(op_wait_done(&op, 5000));
	ck_assert_int_eq(op.result, 0);
	memcpy(op.view.data, "second", 6);
	op.view.len = 6;
	ck_assert_int_eq(shmslab_write_end(h2, &op.view), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(shmslab_read(h1, ref, buf, sizeof(buf)), 6);
	ck_assert_int_eq(memcmp(buf, "second", 6), 0);
}
END_TEST

START_TEST(test_slotlock_reader_waits_for_writer)
{
	struct shmslab_view w;
	struct op op;
	pthread_t t;

	ck_assert_int_eq(shmslab_write_begin(h1, ref, &w), 0);
	memcpy(w.data, "written", 7);
	w.len = 7;
	op_start(&op, &t, OP_READ_BEGIN, h2);
	assert_blocked(&op);
	ck_assert_int_eq(shmslab_write_end(h1, &w), 0);
	ck_assert(op_wait_done(&op, 5000));
	ck_assert_int_eq(op.result, 0);
	/* the reader sees the whole write, never part of it */
	ck_assert_uint_eq(op.view.len, 7);
	ck_assert_int_eq(memcmp(op.view.data, "written", 7), 0);
	ck_assert_int_eq(shmslab_read_end(h2, &op.view), 0);
	pthread_join(t, NULL);
}
END_TEST

START_TEST(test_slotlock_writer_excludes_writer)
{
	struct shmslab_view w;
	struct shmslab_slot_info info;
	struct op op;
	pthread_t t;

	ck_assert_int_eq(shmslab_write_begin(h1, ref, &w), 0);
	ck_assert_int_eq(shmslab_slot_info(h1, (uint32_t)ref, &info), 0);
	/* the lock word names its holder */
	ck_assert_int_eq(info.writer, (int32_t)entry_of(h1));
	op_start(&op, &t, OP_WRITE_BEGIN, h2);
	assert_blocked(&op);
	w.len = 0;
	ck_assert_int_eq(shmslab_write_end(h1, &w), 0);
	ck_assert(op_wait_done(&op, 5000));
	ck_assert_int_eq(op.result, 0);
	ck_assert_int_eq(shmslab_slot_info(h1, (uint32_t)ref, &info), 0);
	ck_assert_int_eq(info.writer, (int32_t)entry_of(h2));
	op.view.len = 0;
	ck_assert_int_eq(shmslab_write_end(h2, &op.view), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(shmslab_slot_info(h1, (uint32_t)ref, &info), 0);
	ck_assert_int_eq(info.writer, -1);
}
END_TEST

START_TEST(test_slotlock_threads_of_one_process)
{
	struct op r1, r2, w;
	pthread_t t1, t2, tw;

	/* two threads of one process read: one bit, counted in process memory */
	op_start(&r1, &t1, OP_READ_HOLD, h1);
	op_start(&r2, &t2, OP_READ_HOLD, h1);
	ck_assert(op_wait_done(&r1, 5000) && op_wait_done(&r2, 5000));
	ck_assert_int_eq(r1.result, 0);
	ck_assert_int_eq(r2.result, 0);
	op_start(&w, &tw, OP_WRITE_BEGIN, h2);
	assert_blocked(&w);
	/* the first thread leaving must not let the writer in */
	atomic_store(&r1.release, 1);
	pthread_join(t1, NULL);
	assert_blocked(&w);
	atomic_store(&r2.release, 1);
	pthread_join(t2, NULL);
	ck_assert(op_wait_done(&w, 5000));
	ck_assert_int_eq(w.result, 0);
	w.view.len = 1;
	ck_assert_int_eq(shmslab_write_end(h2, &w.view), 0);
	pthread_join(tw, NULL);
}
END_TEST

START_TEST(test_slotlock_nested_read_with_writer_waiting)
{
	struct shmslab_view outer, inner;
	struct op w;
	pthread_t tw;

	ck_assert_int_eq(shmslab_read_begin(h1, ref, &outer), 0);
	op_start(&w, &tw, OP_WRITE_BEGIN, h2);
	assert_blocked(&w);
	/* waiting for the writer here would wait for ourselves */
	ck_assert_int_eq(shmslab_read_begin(h1, ref, &inner), 0);
	ck_assert_int_eq(memcmp(inner.data, "first", 5), 0);
	ck_assert_int_eq(shmslab_read_end(h1, &inner), 0);
	assert_blocked(&w);
	ck_assert_int_eq(shmslab_read_end(h1, &outer), 0);
	ck_assert(op_wait_done(&w, 5000));
	ck_assert_int_eq(w.result, 0);
	w.view.len = 5;
	ck_assert_int_eq(shmslab_write_end(h2, &w.view), 0);
	pthread_join(tw, NULL);
}
END_TEST

START_TEST(test_slotlock_free_waits_for_reader)
{
	struct shmslab_view v;
	struct op op;
	pthread_t t;
	char buf[8];

	ck_assert_int_eq(shmslab_read_begin(h1, ref, &v), 0);
	op_start(&op, &t, OP_FREE, h2);
	assert_blocked(&op);
	/* the reader still has the message while the free waits */
	ck_assert_int_eq(memcmp(v.data, "first", 5), 0);
	ck_assert_int_eq(shmslab_read_end(h1, &v), 0);
	ck_assert(op_wait_done(&op, 5000));
	ck_assert_int_eq(op.result, 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(shmslab_read(h1, ref, buf, sizeof(buf)), -ESTALE);
}
END_TEST

START_TEST(test_slotlock_abandoned_write_is_torn)
{
	struct shmslab_slot_info info;
	struct shmslab_view w;
	char buf[16];

	ck_assert_int_eq(shmslab_write_begin(h2, ref, &w), 0);
	memcpy(w.data, "half", 4);
	/* the writer goes away without write_end */
	shmslab_close(h2);
	ck_assert_int_eq(shmslab_open(name, &h2), 0);
	ck_assert_int_eq(shmslab_slot_info(h1, (uint32_t)ref, &info), 0);
	ck_assert_uint_eq(info.torn, 1);
	ck_assert_int_eq(info.writer, -1);
	ck_assert_int_eq(shmslab_read(h1, ref, buf, sizeof(buf)), -EOWNERDEAD);
	ck_assert_int_eq(shmslab_read_begin(h1, ref, &w), -EOWNERDEAD);
	/* storing a whole message again makes it readable */
	ck_assert_int_eq(shmslab_store(h1, ref, "whole", 5), 0);
	ck_assert_int_eq(shmslab_read(h1, ref, buf, sizeof(buf)), 5);
	ck_assert_int_eq(memcmp(buf, "whole", 5), 0);
}
END_TEST

/* An entry of h1's table that no handle holds. */
static uint32_t unattached_entry(void)
{
	uint32_t e = 0;

	while (e == entry_of(h1) || e == entry_of(h2))
		e++;
	ck_assert_uint_eq(shmslab__proc_state(h1, e), PROC_FREE);
	return e;
}

/*
 * Reader bits that no reader holding the lock can have set, left by damage:
 * of a free entry, and of the writer's own process while it reads nothing.
 * The writer gets in after a slice of waiting rather than waiting for ever.
 */
START_TEST(test_slotlock_stray_reader_bits)
{
	struct slot_meta *m = slot_meta(h1, (uint32_t)ref);
	uint64_t strays[] = { UINT64_C(1) << unattached_entry(), UINT64_C(1) << entry_of(h1) };
	struct shmslab_view w;

	for (size_t i = 0; i < sizeof(strays) / sizeof(strays[0]); i++) {
		uint64_t t0 = test_now_ms();

		atomic_store(&m->readers[0], strays[i]);
		ck_assert_int_eq(shmslab_write_begin(h1, ref, &w), 0);
		ck_assert_uint_lt(test_now_ms() - t0, 5000);
		ck_assert_int_eq(shmslab_write_end(h1, &w), 0);
		atomic_store(&m->readers[0], 0);
	}
}
END_TEST

/* An entry whose state is none that the table uses holds no lock either. */
START_TEST(test_slotlock_reader_bit_of_entry_in_no_state)
{
	struct slot_meta *m = slot_meta(h1, (uint32_t)ref);
	_Atomic uint64_t *state = &shmslab__proc_entry(h1, entry_of(h2))->state;
	uint64_t live = atomic_load(state);
	struct shmslab_view w;

	atomic_store(state, live | 0x200000);
	atomic_store(&m->readers[0], UINT64_C(1) << entry_of(h2));
	ck_assert_int_eq(shmslab_write_begin(h1, ref, &w), 0);
	ck_assert_int_eq(shmslab_write_end(h1, &w), 0);
	atomic_store(&m->readers[0], 0);
	atomic_store(state, live);
}
END_TEST

/* A live entry's bit cannot be told from a reader's: the writer waits. */
START_TEST(test_slotlock_live_reader_bit_is_waited_for)
{
	struct slot_meta *m = slot_meta(h1, (uint32_t)ref);
	struct op op;
	pthread_t t;

	atomic_store(&m->readers[0], UINT64_C(1) << entry_of(h2));
	op_start(&op, &t, OP_WRITE_BEGIN, h1);
	ck_assert(!op_wait_done(&op, 400));
	atomic_store(&m->readers[0], 0);
	ck_assert(op_wait_done(&op, 5000));
	ck_assert_int_eq(op.result, 0);
	ck_assert_int_eq(shmslab_write_end(h1, &op.view), 0);
	pthread_join(t, NULL);
}
END_TEST

/* Reader bits beyond the process table name nobody. */
START_TEST(test_slotlock_reader_bits_beyond_table)
{
	struct shmslab_config cfg;
	struct shmslab *small;
	struct shmslab_view w;
	char other[TEST_NAME_MAX];
	shmslab_ref r;

	test_name(other);
	shmslab_config_init(&cfg);
	cfg.slot_count = 4;
	cfg.slot_size = 64;
	cfg.max_procs = 4;
	ck_assert_int_eq(shmslab_create(other, &cfg, &small), 0);
	ck_assert_int_eq(shmslab_alloc(small, &r), 0);
	atomic_store(&slot_meta(small, (uint32_t)r)->readers[0], ~UINT64_C(0) << 4);
	ck_assert_int_eq(shmslab_write_begin(small, r, &w), 0);
	ck_assert_int_eq(shmslab_write_end(small, &w), 0);
	ck_assert_int_eq(shmslab_free(small, r), 0);
	ck_assert_int_eq(shmslab_close(small), 0);
	ck_assert_int_eq(shmslab_unlink(other), 0);
}
END_TEST

/* A writer field naming a free entry: no writer keeps it, so no one clears it. */
START_TEST(test_slotlock_writer_field_of_free_entry)
{
	struct slot_meta *m = slot_meta(h1, (uint32_t)ref);
	uint64_t st = atomic_load(&m->state);
	char buf[16];

	atomic_store(&m->state, st | (unattached_entry() + 1));
	ck_assert_int_eq(shmslab_read(h2, ref, buf, sizeof(buf)), SHMSLAB_ECORRUPT);
	atomic_store(&m->state, st);
	ck_assert_int_eq(shmslab_read(h2, ref, buf, sizeof(buf)), 5);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("slotlock");
	TCase *tc = tcase_create("slotlock");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_slotlock_readers_share);
	tcase_add_test(tc, test_slotlock_reader_bits_exact);
	tcase_add_test(tc, test_slotlock_writer_waits_for_reader);
	tcase_add_test(tc, test_slotlock_reader_waits_for_writer);
	tcase_add_test(tc, test_slotlock_writer_excludes_writer);
	tcase_add_test(tc, test_slotlock_threads_of_one_process);
	tcase_add_test(tc, test_slotlock_nested_read_with_writer_waiting);
	tcase_add_test(tc, test_slotlock_free_waits_for_reader);
	tcase_add_test(tc, test_slotlock_abandoned_write_is_torn);
	tcase_add_test(tc, test_slotlock_stray_reader_bits);
	tcase_add_test(tc, test_slotlock_reader_bit_of_entry_in_no_state);
	tcase_add_test(tc, test_slotlock_live_reader_bit_is_waited_for);
	tcase_add_test(tc, test_slotlock_reader_bits_beyond_table);
	tcase_add_test(tc, test_slotlock_writer_field_of_free_entry);
	suite_add_tcase(s, tc);
	return test_main(s);
}
