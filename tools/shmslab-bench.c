/* SPDX-License-Identifier: MIT */
/*
 * shmslab-bench: how fast the hot paths are, beside the cost of one
 * uncontended lock cmpxchg measured by the same program on the same machine.
 * Prints one line of key=value pairs per run; scripts/bench.sh drives it
 * with hyperfine and turns the lines into a table of medians and ratios.
 *
 *   cas     N uncontended compare-and-swaps on a private word
 *   alloc   N alloc+free pairs per process; with --batch B, B allocs then B
 *           frees, which takes most slots from the shared free lists rather
 *           than from the one slot a thread keeps back
 *   store   N store+read pairs of --size bytes per process, each on its own slot
 *
 * With --procs P, P processes run at once, each attached on its own; the
 * figure is then aggregate: wall time of the slowest over all their pairs.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shmslab.h"
#include "tool.h"

static const char usage[] =
	"Usage: shmslab-bench MODE ITERATIONS [OPTION]...\n"
	"Measure libshmslab's hot paths.  MODE is cas, alloc or store.\n"
	"\n"
	"  --batch B     alloc: allocate B slots, then free them (default 1)\n"
	"  --procs P     processes running at once (default 1)\n"
	"  --shards S    free-list shards of the segment (default: one per CPU)\n"
	"  --slots N     slots of the segment (default 1024)\n"
	"  --size BYTES  message size for store (default 64)\n"
	"  --out FILE    append the result line to FILE as well\n"
	"  --help        show this help and exit\n"
	"  --version     show the version and exit\n";

enum {
	OPT_BATCH = 255,
	OPT_PROCS,
	OPT_SHARDS,
	OPT_SLOTS,
	OPT_SIZE,
	OPT_OUT,
	OPT_HELP,
	OPT_VERSION
};

static const struct option options[] = {
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "procs", required_argument, NULL, OPT_PROCS },
	{ "shards", required_argument, NULL, OPT_SHARDS },
	{ "slots", required_argument, NULL, OPT_SLOTS },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "out", required_argument, NULL, OPT_OUT },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

struct params {
	const char *mode;
	uint64_t iterations;
	uint32_t batch, procs, shards, slots, size;
	const char *out;
};

/* Shared between the parent and its workers: a start line and the results. */
struct board {
	_Atomic uint32_t ready;
	_Atomic uint32_t go;
	_Atomic uint32_t failed;
	uint64_t start_ns[64], end_ns[64];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The baseline: a dependent chain of uncontended lock cmpxchg on our own line. */
static double bench_cas(uint64_t n)
{
	static _Atomic uint64_t word;
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < n; i++) {
		uint64_t expected = i;

		atomic_compare_exchange_strong(&word, &expected, i + 1);
	}
	return (double)(now_ns() - t0) / (double)(n ? n : 1);
}

static int work_alloc(struct shmslab *slab, uint64_t n, uint32_t batch)
{
	shmslab_ref *refs = malloc(batch * sizeof(*refs));
	int err = refs ? 0 : -ENOMEM;

	for (uint64_t i = 0; i < n && err == 0; i += batch) {
		uint32_t k = 0;

		while (k < batch && err == 0)
			err = shmslab_alloc(slab, &refs[k++]);
		if (err)
			k--;
		while (k > 0 && err == 0)
			err = shmslab_free(slab, refs[--k]);
	}
	free(refs);
	return err;
}

static int work_store(struct shmslab *slab, uint64_t n, uint32_t size)
{
	char *msg = malloc(size), *buf = malloc(size);
	shmslab_ref ref;
	int err = msg && buf ? shmslab_alloc(slab, &ref) : -ENOMEM;

	if (err == 0) {
		memset(msg, 'm', size);
		for (uint64_t i = 0; i < n && err == 0; i++) {
			ssize_t got;

			msg[0] = (char)i;
			err = shmslab_store(slab, ref, msg, size);
			got = err ? err : shmslab_read(slab, ref, buf, size);
			if (got < 0)
				err = (int)got;
			else if (got != (ssize_t)size || buf[0] != (char)i)
				err = SHMSLAB_ECORRUPT;
		}
		if (shmslab_free(slab, ref) != 0 && err == 0)
			err = SHMSLAB_ECORRUPT;
	}
	free(msg);
	free(buf);
	return err;
}

/* One worker process: attach on its own, wait for the start, run, record. */
static void worker(const struct params *p, const char *name, struct board *b, uint32_t id)
{
	struct shmslab *slab;
	int err = shmslab_open(name, &slab);

	atomic_fetch_add(&b->ready, 1);
	while (atomic_load(&b->go) == 0)
		;
	if (err == 0) {
		b->start_ns[id] = now_ns();
		if (strcmp(p->mode, "alloc") == 0)
			err = work_alloc(slab, p->iterations, p->batch);
		else
			err = work_store(slab, p->iterations, p->size);
		b->end_ns[id] = now_ns();
		shmslab_close(slab);
	}
	if (err) {
		fprintf(stderr, "shmslab-bench: %s: %s\n", name, shmslab_strerror(err));
		atomic_store(&b->failed, 1);
	}
	_exit(err ? 1 : 0);
}

static int run_slab(const struct params *p, double *ns_per_op)
{
	struct shmslab_config cfg;
	struct shmslab *slab;
	struct board *b;
	char name[64];
	uint64_t first = UINT64_MAX, last = 0;
	pid_t pids[64];
	int err, status = 0;

	snprintf(name, sizeof(name), "/shmslab-bench-%ld", (long)getpid());
	shmslab_config_init(&cfg);
	cfg.slot_count = p->slots;
	cfg.slot_size = p->size > 64 ? p->size : 64;
	cfg.shards = p->shards;
	cfg.max_procs = p->procs + 1;
	err = shmslab_create(name, &cfg, &slab);
	if (err)
		tool_fail(name, err);
	b = mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		tool_fail(name, -errno);
	for (uint32_t i = 0; i < p->procs; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			worker(p, name, b, i);
		if (pids[i] < 0)
			tool_fail(name, -errno);
	}
	while (atomic_load(&b->ready) < p->procs)
		usleep(100);
	atomic_store(&b->go, 1);
	for (uint32_t i = 0; i < p->procs; i++) {
		int st;

		waitpid(pids[i], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			status = 1;
	}
	shmslab_close(slab);
	if (shmslab_unlink(name) != 0 || status || atomic_load(&b->failed))
		return -1;
	for (uint32_t i = 0; i < p->procs; i++) {
		first = b->start_ns[i] < first ? b->start_ns[i] : first;
		last = b->end_ns[i] > last ? b->end_ns[i] : last;
	}
	*ns_per_op = (double)(last - first) / ((double)p->iterations * p->procs);
	munmap(b, sizeof(*b));
	return 0;
}

static uint32_t parse_opt(const char *opt, const char *arg, uint64_t max, int suffixes)
{
	uint64_t v;

	if (tool_parse_u64(arg, max, suffixes, &v) != 0)
		tool_usage_error("--%s: '%s' is not a number up to %llu", opt, arg,
				 (unsigned long long)max);
	return (uint32_t)v;
}

int main(int argc, char **argv)
{
	struct params p = { .batch = 1, .procs = 1, .slots = 1024, .size = 64 };
	double ns = 0;
	char line[256];
	int opt;

	tool_init("shmslab-bench", usage, argv);
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case OPT_BATCH:
			p.batch = parse_opt("batch", optarg, 1u << 20, 0);
			break;
		case OPT_PROCS:
			p.procs = parse_opt("procs", optarg, 64, 0);
			break;
		case OPT_SHARDS:
			p.shards = parse_opt("shards", optarg, SHMSLAB_SHARDS_MAX, 0);
			break;
		case OPT_SLOTS:
			p.slots = parse_opt("slots", optarg, SHMSLAB_SLOTS_MAX, 1);
			break;
		case OPT_SIZE:
			p.size = parse_opt("size", optarg, SHMSLAB_SLOT_SIZE_MAX, 1);
			break;
		case OPT_OUT:
			p.out = optarg;
			break;
		case OPT_HELP:
			tool_help();
		case OPT_VERSION:
			tool_version();
		default:
			tool_bad_option();
		}
	}
	if (argc - optind != 2)
		tool_usage_error("MODE and ITERATIONS are required");
	p.mode = argv[optind];
	if (tool_parse_u64(argv[optind + 1], UINT64_MAX, 1, &p.iterations) != 0 ||
	    p.iterations == 0)
		tool_usage_error("ITERATIONS: '%s' is not a positive number", argv[optind + 1]);
	if (p.batch == 0 || p.procs == 0 || p.slots == 0 || p.size == 0)
		tool_usage_error("--batch, --procs, --slots and --size must be positive");
	if ((uint64_t)p.batch * p.procs > p.slots)
		tool_usage_error("--batch times --procs must not exceed --slots");

	if (strcmp(p.mode, "cas") == 0) {
		ns = bench_cas(p.iterations);
		p.procs = 1;
	} else if (strcmp(p.mode, "alloc") == 0 || strcmp(p.mode, "store") == 0) {
		if (run_slab(&p, &ns) != 0)
			return TOOL_EXIT_FAIL;
	} else {
		tool_usage_error("unknown MODE '%s'", p.mode);
	}
	snprintf(line, sizeof(line),
		 "mode=%s batch=%u procs=%u shards=%u slots=%u size=%u iterations=%llu "
		 "ns_per_op=%.3f\n",
		 p.mode, p.batch, p.procs, p.shards, p.slots, p.size,
		 (unsigned long long)p.iterations, ns);
	fputs(line, stdout);
	if (p.out != NULL) {
		FILE *f = fopen(p.out, "a");

		if (f == NULL || fputs(line, f) == EOF || fclose(f) != 0) {
			fprintf(stderr, "shmslab-bench: %s: cannot append the result\n", p.out);
			return TOOL_EXIT_FAIL;
		}
	}
	return 0;
}
