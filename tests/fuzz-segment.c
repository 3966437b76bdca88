/* SPDX-License-Identifier: MIT */
/*
 * Fuzzing the segment's bytes.  A segment in use (slots allocated, stored,
 * queued, read-locked, kept back; a page grown) is damaged at random places
 * of its metadata: bits flipped, words set to random or extreme values.  A
 * child process then attaches and makes every call of the API on it.
 * Whatever the damage, the child must come to its end: errors are what it
 * should get, a signal (a crash) or a hang is a failure.  Output is TAP; a
 * failure names the seed that reproduces it.
 *
 *   fuzz-segment [--seconds N] [--seed S]   (default 10 s, or $FUZZ_SECONDS)
 *
 * With --seed, only that damage is made, and the child runs in the
 * foreground, for a debugger.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "internal.h"

#define HANG_SECONDS 30 /* a child that takes this long waits for ever: its waits take slices
			   of 100 ms, a few dozen at most, even on a busy machine */
#define MUTATIONS    8	/* at most this many damages per run */

struct region {
	uint64_t off, len;
};

static char name[64];
static struct geometry geo;
static uint8_t *pristine;
static size_t pristine_len;
static struct region regions[2 + MAX_PAGES * 2];
static unsigned nregions;

static uint64_t rng;

static uint64_t next(void)
{
	/* xorshift64*: a seed says exactly which damage a run makes */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

static void die(const char *what, int err)
{
	printf("Bail out! %s: %s\n", what, shmslab_strerror(err));
	shm_unlink(name);
	exit(1);
}

/*
 * A segment with something of everything in it, left by a process that
 * died: its entries are those of a dead process, as after a crash.
 */
static void fill(void)
{
	struct shmslab_config cfg;
	struct shmslab *s, *other;
	struct shmslab_sub *held, *waiting;
	struct shmslab_view v;
	shmslab_ref refs[12], got;
	int err;

	shmslab_config_init(&cfg);
	cfg.slot_count = 8;
	cfg.max_slots = 32;
	cfg.slot_size = 64;
	cfg.max_procs = 4;
	cfg.queue_depth = 4;
	err = shmslab_create(name, &cfg, &s);
	if (err)
		die("create", err);
	for (int i = 0; i < 12; i++) {
		err = shmslab_alloc(s, &refs[i]);
		if (err == 0)
			err = shmslab_store(s, refs[i], "fuzz", 4);
		if (err)
			die("alloc", err);
	}
	for (int i = 0; i < 3; i++)
		if ((err = shmslab_send(s, refs[i])) != 0)
			die("send", err);
	if ((err = shmslab_free(s, refs[3])) != 0 || (err = shmslab_free(s, refs[4])) != 0)
		die("free", err);
	/* published: one subscription holds its first, the other has both waiting */
	if ((err = shmslab_subscribe(s, &held)) != 0 || (err = shmslab_subscribe(s, &waiting)) != 0 ||
	    (err = shmslab_publish(s, refs[9])) != 2 || (err = shmslab_publish(s, refs[10])) != 2 ||
	    (err = shmslab_sub_recv(held, &got, 0)) != 0)
		die("publish", err < 0 ? err : -EPROTO);
	if ((err = shmslab_open(name, &other)) != 0 ||
	    (err = shmslab_read_begin(other, refs[5], &v)) != 0)
		die("open", err);
	_exit(0);
}

/* Make the segment, keep its bytes, and note where its metadata lies. */
static void prepare(void)
{
	struct shmslab *s;
	struct stat sb;
	pid_t pid;
	int fd, err, status;

	snprintf(name, sizeof(name), "/shmslab-fuzz-%ld", (long)getpid());
	pid = fork();
	if (pid < 0)
		die("fork", -errno);
	if (pid == 0)
		fill();
	if (waitpid(pid, &status, 0) != pid || status != 0)
		die("filling the segment", -ECHILD);
	if ((err = shmslab_inspect(name, &s)) != 0)
		die("inspect", err);
	fd = shm_open(name, O_RDONLY, 0);
	if (fd < 0 || fstat(fd, &sb) != 0)
		die("shm_open", -errno);
	pristine_len = (size_t)sb.st_size;
	/* the regions worth damaging: everything but the messages' bytes, in
	 * the pages the segment has grown to so far */
	regions[nregions++] = (struct region){ 0, s->g.procs_off };
	regions[nregions++] = (struct region){ s->g.procs_off, s->g.data_off - s->g.procs_off };
	for (uint32_t p = 0; p < s->g.page_count; p++)
		if (s->g.page_meta_bytes[p] != 0 &&
		    s->g.page_off[p] + s->g.page_meta_bytes[p] <= pristine_len)
			regions[nregions++] =
				(struct region){ s->g.page_off[p], s->g.page_meta_bytes[p] };
	geo = s->g;
	pristine = malloc(pristine_len);
	if (pristine == NULL || pread(fd, pristine, pristine_len, 0) != (ssize_t)pristine_len)
		die("read", -EIO);
	close(fd);
	shmslab_close(s);
}

/* Put the snapshot back as the segment's bytes; answer where they are mapped. */
static uint8_t *restore(void)
{
	int fd = shm_open(name, O_RDWR, 0);
	uint8_t *b;

	if (fd < 0 || ftruncate(fd, (off_t)pristine_len) != 0)
		die("shm_open", -errno);
	b = mmap(NULL, pristine_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (b == MAP_FAILED)
		die("mmap", -errno);
	memcpy(b, pristine, pristine_len);
	return b;
}

/* The damages that a single hostile word makes, each named. */
static const char *const targeted[] = {
	"capacity lowered under slots in use",
	"enq moved one ahead",
	"enq moved seven ahead",
	"generation 0 in every slot that is not free",
};
#define TARGETED (sizeof(targeted) / sizeof(targeted[0]))

static _Atomic uint64_t *state_of(uint8_t *b, uint32_t idx)
{
	uint32_t p = page_of(&geo, idx);

	return (_Atomic uint64_t *)(b + geo.page_off[p] +
				    (uint64_t)(idx - page_start(&geo, p)) * geo.meta_size);
}

/* Put the snapshot back with the targeted damage WHICH. */
static void damage_targeted(unsigned which)
{
	uint8_t *b = restore();
	struct seg_control *ctl = (struct seg_control *)(b + SEG_CONTROL_OFF);
	struct queue_control *q = (struct queue_control *)(b + geo.queue_off);
	uint32_t cap = atomic_load(&ctl->capacity);

	switch (which) {
	case 0:
		atomic_store(&ctl->capacity, geo.slot_count);
		break;
	case 1:
	case 2:
		atomic_fetch_add(&q->enq, which == 1 ? 1 : 7);
		break;
	default:
		for (uint32_t i = 0; i < cap; i++) {
			uint64_t st = atomic_load(state_of(b, i));

			if (st_kind(st) != KIND_FREE)
				atomic_store(state_of(b, i), st & UINT32_MAX);
		}
		break;
	}
	munmap(b, pristine_len);
}

/* Put the snapshot back as the segment's bytes, damaged per SEED. */
static void damage(uint64_t seed)
{
	uint8_t *b = restore();
	unsigned n;

	rng = seed * 0x9e3779b97f4a7c15ull + 1;
	n = seed == 0 ? 0 : 1 + (unsigned)(next() % MUTATIONS);
	for (unsigned i = 0; i < n; i++) {
		const struct region *r = &regions[next() % nregions];
		uint64_t off = r->off + next() % r->len;
		uint64_t kind = next() % 4, v = next();

		if (kind == 0) {
			b[off] ^= (uint8_t)(1u << (v % 8));
		} else {
			static const uint64_t extremes[] = { 0, 1, UINT32_MAX, UINT64_MAX,
							     (uint64_t)1 << 32 };
			size_t width = kind == 1 ? 4 : 8;

			if (kind == 3)
				v = extremes[v % (sizeof(extremes) / sizeof(extremes[0]))];
			off &= ~(uint64_t)(width - 1);
			if (off + width <= pristine_len)
				memcpy(b + off, &v, width);
		}
	}
	munmap(b, pristine_len);
}

/* Whether two of the N references name one slot: a slot with two owners. */
static bool two_owners(struct shmslab *s, const shmslab_ref *refs, int n)
{
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (refs[i] != SHMSLAB_REF_NONE && refs[j] != SHMSLAB_REF_NONE &&
			    ref_index(s, refs[i]) == ref_index(s, refs[j]))
				return true;
	return false;
}

#define USE_FAILED     1 /* a call that works on an undamaged segment did not */
#define USE_TWO_OWNERS 4 /* two references held at once named one slot */

/*
 * Every call, on whatever is there.  Answers 0, or USE_FAILED when a call
 * that should work on an undamaged segment did not (only checked for seed
 * 0), or USE_TWO_OWNERS when the calls handed out one slot twice.
 */
static int use(void)
{
	struct shmslab *s, *look;
	struct shmslab_stats st;
	struct shmslab_view v;
	struct shmslab_slot_info si;
	struct shmslab_proc_info pi;
	struct shmslab_sub_info ui;
	struct shmslab_sub *sub;
	shmslab_ref refs[6 + 64], got;
	char buf[128];
	int bad = 0, held = 6;

	if (shmslab_inspect(name, &look) == 0) {
		bad |= shmslab_stat(look, &st) != 0;
		for (uint64_t i = 0; i < 40; i++)
			(void)!shmslab_slot_info(look, i, &si);
		for (uint32_t e = 0; e < 6; e++)
			(void)!shmslab_proc_info(look, e, &pi);
		shmslab_close(look);
	} else {
		bad = 1;
	}
	if (shmslab_open(name, &s) != 0)
		return 1;
	bad |= shmslab_recover(s) < 0;
	bad |= shmslab_stat(s, &st) != 0;
	for (int i = 0; i < 6; i++) {
		refs[i] = SHMSLAB_REF_NONE;
		if (shmslab_alloc(s, &refs[i]) != 0) {
			bad = 1;
			continue;
		}
		bad |= shmslab_store(s, refs[i], "again", 5) != 0;
		bad |= shmslab_read(s, refs[i], buf, sizeof(buf)) != 5;
		if (shmslab_write_begin(s, refs[i], &v) == 0)
			bad |= shmslab_write_end(s, &v) != 0;
		else
			bad = 1;
		if (shmslab_read_begin(s, refs[i], &v) == 0)
			bad |= shmslab_read_end(s, &v) != 0;
		else
			bad = 1;
	}
	/* what was queued before comes out, then three of ours go through */
	for (int i = 0; i < 64 && shmslab_recv(s, &got, 0) == 0; i++)
		refs[held++] = got;
	if (two_owners(s, refs, held))
		return USE_TWO_OWNERS;
	for (int i = 6; i < held; i++) {
		(void)!shmslab_read(s, refs[i], buf, sizeof(buf));
		bad |= shmslab_free(s, refs[i]) != 0;
	}
	for (int i = 0; i < 3; i++)
		bad |= refs[i] == SHMSLAB_REF_NONE || shmslab_send(s, refs[i]) != 0;
	for (int i = 0; i < 3; i++) {
		if (shmslab_recv(s, &got, 0) != 0 || got != refs[i]) {
			bad = 1;
			continue;
		}
		bad |= shmslab_read(s, got, buf, sizeof(buf)) != 5;
		bad |= shmslab_free(s, got) != 0;
	}
	bad |= shmslab_recv(s, &got, 10) != -ETIMEDOUT;
	/* one to a subscription of ours, and back */
	if (shmslab_subscribe(s, &sub) == 0) {
		bad |= refs[3] == SHMSLAB_REF_NONE || shmslab_publish(s, refs[3]) != 1;
		bad |= shmslab_sub_recv(sub, &got, 0) != 0 || got != refs[3];
		bad |= shmslab_read(s, got, buf, sizeof(buf)) != 5;
		bad |= shmslab_sub_release(sub, got) != 0;
		bad |= shmslab_sub_recv(sub, &got, 10) != -ETIMEDOUT;
		bad |= shmslab_unsubscribe(sub) != 0;
	} else {
		bad = 1;
	}
	for (uint32_t i = 0; i < 4; i++)
		(void)!shmslab_sub_info(s, i, &ui);
	for (int i = 4; i < 6; i++)
		bad |= refs[i] == SHMSLAB_REF_NONE || shmslab_free(s, refs[i]) != 0;
	/* references the segment never gave: errors, whatever it holds */
	for (uint64_t i = 0; i < 40; i++) {
		shmslab_ref r = ((uint64_t)(i * 7 + 1) << 32) | i;

		(void)!shmslab_read(s, r, buf, sizeof(buf));
		(void)!shmslab_free(s, r);
	}
	bad |= shmslab_recover(s) < 0;
	bad |= shmslab_close(s) != 0;
	return bad;
}

/* Run use() in a child on the segment as damaged: its wait status. */
static int run_use(void)
{
	pid_t pid;
	int status;

	pid = fork();
	if (pid < 0)
		die("fork", -errno);
	if (pid == 0) {
		alarm(HANG_SECONDS);
		_exit(use());
	}
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid", -errno);
	return status;
}

/* A run that failed: it crashed, hung, or handed out a slot twice. */
static bool failed(int status)
{
	return WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == USE_TWO_OWNERS);
}

static const char *why(int status)
{
	if (WIFEXITED(status))
		return "gave one slot two owners";
	return WTERMSIG(status) == SIGALRM ? "hung" : "crashed";
}

int main(int argc, char **argv)
{
	const char *env = getenv("FUZZ_SECONDS");
	uint64_t seconds = env ? strtoull(env, NULL, 10) : 10, runs = 0, deadline;
	uint64_t failed_seed = 0;
	long long only = -1;
	int status, failed_status = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
			seconds = strtoull(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
			only = strtoll(argv[++i], NULL, 10);
		} else {
			fprintf(stderr, "usage: fuzz-segment [--seconds N] [--seed S]\n");
			return 2;
		}
	}
	prepare();
	if (only >= 0) {
		damage((uint64_t)only);
		status = use();
		shm_unlink(name);
		return status;
	}
	printf("1..3\n");
	damage(0);
	status = run_use();
	printf("%s 1 - undamaged, every call works (status %#x)\n",
	       WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "ok" : "not ok", status);
	for (unsigned i = 0; i < TARGETED && failed_status == 0; i++) {
		damage_targeted(i);
		status = run_use();
		if (failed(status)) {
			failed_status = status;
			printf("not ok 2 - %s: the calls %s (status %#x)\n", targeted[i],
			       why(status), status);
		}
	}
	if (failed_status == 0)
		printf("ok 2 - one hostile word (capacity lowered, enq moved ahead, generation 0): "
		       "every call came back, no slot had two owners\n");
	failed_status = 0;
	deadline = test_now_ms() + seconds * 1000;
	while (test_now_ms() < deadline && failed_status == 0) {
		runs++;
		damage(runs);
		status = run_use();
		if (failed(status)) {
			failed_seed = runs;
			failed_status = status;
		}
	}
	shm_unlink(name);
	if (failed_status == 0)
		printf("ok 3 - %llu damaged segments: every call came back, none crashed, no slot "
		       "had two owners\n",
		       (unsigned long long)runs);
	else
		printf("not ok 3 - seed %llu: the calls %s (status %#x); "
		       "tests/fuzz-segment --seed %llu reproduces it\n",
		       (unsigned long long)failed_seed, why(failed_status), failed_status,
		       (unsigned long long)failed_seed);
	return 0;
}
