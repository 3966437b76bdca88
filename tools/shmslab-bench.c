/* SPDX-License-Identifier: MIT */
/*
 * shmslab-bench: how fast the hot paths are, beside the cost of one
 * uncontended lock cmpxchg measured by the same program on the same machine.
 * Prints one line of key=value pairs per run; scripts/bench.sh drives it
 * with hyperfine and turns the lines into a table of medians and ratios.
 *
 *   cas      N uncontended compare-and-swaps on a private word
 *   alloc    N alloc+free pairs per process; with --batch B, B allocs then B
 *            frees, which takes most slots from the shared free lists rather
 *            than from the one slot a thread keeps back
 *   store    N store+read pairs of --size bytes per process, each on its own slot
 *   handoff  N send+recv pairs per process, of one slot each, through the
 *            segment's queue (the receive does not wait: what one process
 *            sends, it or another receives at once)
 *   latency  N samples of one-way latency between two processes, ping-pong:
 *            each sample times --batch round trips and halves them; reported
 *            as percentiles.  libshmslab's receiver polls (busy-waits); the
 *            others block in the kernel, as their users' would
 *   stream   N messages from a producer process to a consumer process; with
 *            --burst B through libshmslab, in bursts of B (alloc_many and
 *            send_many; recv_many of up to B)
 *   pubsub   N messages allocated and published in one process, which holds
 *            --subs S subscriptions, each receiving and releasing every one:
 *            for counting instructions per call (scripts/instructions.sh)
 *   fanout   N messages published to --subs S subscriber processes, written
 *            and read in place; reported: the publisher's wall time per
 *            message, its time per message inside the calls that succeeded
 *            (not counting its waits for room; timed on one message in 16),
 *            and the slowest and mean
 *            subscriber's messages per second.  With --transport iceoryx, the
 *            same through an iceoryx publisher and S iceoryx subscribers
 *
 * With --procs P, P processes run at once, each attached on its own; the
 * figure is then aggregate: wall time of the slowest over all their pairs.
 * latency and stream take --transport: shmslab (a message is allocated,
 * stored, sent, received, read and freed), shmslab-zc (the same, written and
 * read in place through views), pipe, unix (a socket pair), mq (a POSIX
 * message queue), boost (Boost.Interprocess's message_queue) and iceoryx,
 * where they were found at build time; for latency, cacheline: the floor,
 * the message itself bounced between the two processes, its sequence number
 * in its first line; for stream, ring: the limit, a bare single-producer
 * ring (bench-transports.c).  The two processes run on different CPUs when
 * there are two.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdbool.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-peers.h"
#include "bench-transports.h"
#include "shmslab.h"
#include "tool.h"

static const char usage[] =
	"Usage: shmslab-bench MODE ITERATIONS [OPTION]...\n"
	"Measure libshmslab's hot paths.  MODE is cas, alloc, store, handoff,\n"
	"latency, stream, pubsub or fanout.\n"
	"\n"
	"  --transport T shmslab, shmslab-zc, pipe, unix, mq, boost, iceoryx,\n"
	"                cacheline (latency) or ring (stream)\n"
	"  --read BYTES  stream through shmslab-zc: the consumer reads only the first\n"
	"                BYTES of each message, in place (default: all of it)\n"
	"  --list-transports  print the transports built in, one a line, and exit\n"
	"  --burst B     stream through shmslab or shmslab-zc: in bursts of B messages\n"
	"                (default 1: one call per message)\n"
	"  --batch B     alloc: allocate B slots, then free them (default 1);\n"
	"                latency: round trips per sample (default 100)\n"
	"  --procs P     processes running at once (default 1)\n"
	"  --subs S      pubsub and fanout: subscriptions (default 1)\n"
	"  --shards S    free-list shards of the segment (default: one per CPU)\n"
	"  --slots N     slots of the segment (default 1024)\n"
	"  --size BYTES  message size for store, latency and stream (default 64)\n"
	"  --out FILE    append the result line to FILE as well\n"
	"  --help        show this help and exit\n"
	"  --version     show the version and exit\n";

enum {
	OPT_TRANSPORT = 254,
	OPT_BATCH,
	OPT_PROCS,
	OPT_SHARDS,
	OPT_SLOTS,
	OPT_SIZE,
	OPT_READ,
	OPT_LIST,
	OPT_BURST,
	OPT_SUBS,
	OPT_OUT
};

static const struct option options[] = {
	{ "transport", required_argument, NULL, OPT_TRANSPORT },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "procs", required_argument, NULL, OPT_PROCS },
	{ "shards", required_argument, NULL, OPT_SHARDS },
	{ "slots", required_argument, NULL, OPT_SLOTS },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "read", required_argument, NULL, OPT_READ },
	{ "list-transports", no_argument, NULL, OPT_LIST },
	{ "burst", required_argument, NULL, OPT_BURST },
	{ "subs", required_argument, NULL, OPT_SUBS },
	{ "out", required_argument, NULL, OPT_OUT },
	TOOL_STANDARD_OPTIONS,
};

#define FANOUT_SUBS_MAX 8

struct params {
	const char *mode;
	uint64_t iterations;
	uint32_t batch, procs, shards, slots, size, read, burst, subs;
	int transport;
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

static int work_handoff(struct shmslab *slab, uint64_t n)
{
	shmslab_ref ref;
	int err = shmslab_alloc(slab, &ref);

	/* each process sends before it receives, so there is always one to take */
	for (uint64_t i = 0; i < n && err == 0; i++)
		if ((err = shmslab_send(slab, ref)) == 0)
			err = shmslab_recv(slab, &ref, -1);
	if (shmslab_free(slab, ref) != 0 && err == 0)
		err = SHMSLAB_ECORRUPT;
	return err;
}

/* Publish N messages to SUBS subscriptions of our own, each receiving and releasing it. */
static int work_pubsub(struct shmslab *slab, uint64_t n, uint32_t subs)
{
	struct shmslab_sub *sub[FANOUT_SUBS_MAX];
	uint32_t joined = 0;
	int err = 0;

	while (joined < subs && (err = shmslab_subscribe(slab, &sub[joined])) == 0)
		joined++;
	for (uint64_t i = 0; i < n && err == 0; i++) {
		shmslab_ref ref, got;

		err = shmslab_alloc(slab, &ref);
		if (err == 0 && (err = shmslab_publish(slab, ref)) == (int)subs)
			err = 0;
		else if (err >= 0)
			err = SHMSLAB_ECORRUPT;
		for (uint32_t k = 0; k < subs && err == 0; k++)
			if ((err = shmslab_sub_recv(sub[k], &got, 0)) == 0)
				err = got == ref ? shmslab_sub_release(sub[k], got) : SHMSLAB_ECORRUPT;
	}
	while (joined > 0)
		if (shmslab_unsubscribe(sub[--joined]) != 0 && err == 0)
			err = SHMSLAB_ECORRUPT;
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
		else if (strcmp(p->mode, "handoff") == 0)
			err = work_handoff(slab, p->iterations);
		else if (strcmp(p->mode, "pubsub") == 0)
			err = work_pubsub(slab, p->iterations, p->subs);
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
	cfg.max_subscribers = p->subs;
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

/* Run this process on CPU CPU, if the machine has it: the two sides apart. */
static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu >= CPU_SETSIZE || sysconf(_SC_NPROCESSORS_ONLN) <= cpu)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Detach, reap the other side, CHILD, and tear the channel down.  Answers ERR,
 * or, if this side did well but the child did not, SHMSLAB_ECORRUPT.
 */
static int chan_finish(struct chan *c, pid_t child, int err)
{
	int status;

	chan_detach(c);
	/* a side that failed leaves the other waiting for a message that will not come */
	if (err && child > 0)
		kill(child, SIGKILL);
	if (child > 0 &&
	    (waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
	     WEXITSTATUS(status) != 0) &&
	    err == 0)
		err = SHMSLAB_ECORRUPT;
	chan_teardown(c);
	return err;
}

/* The pong side of the latency ping-pong: answer ROUNDS messages. */
static int pong(struct chan *c, uint64_t rounds, char *buf)
{
	for (uint64_t r = 0; r < rounds; r++) {
		uint64_t v = 2 * r + 1, got;
		int err;

		memcpy(buf, &v, sizeof(v));
		err = chan_recv(c, buf);
		memcpy(&got, buf, sizeof(got));
		if (err == 0 && got != v)
			err = SHMSLAB_ECORRUPT;
		v++;
		memcpy(buf, &v, sizeof(v));
		if (err == 0)
			err = chan_send(c, buf);
		if (err)
			return err;
	}
	return 0;
}

/* One-way latency: p50, p99, p99.9 and max of SAMPLES batches, in ns, into LINE. */
static int bench_latency(const struct params *p, char *line, size_t len)
{
	uint64_t warmup = 100, batch = p->batch, samples = p->iterations;
	uint64_t *ns = calloc(samples, sizeof(*ns));
	char *buf = calloc(1, p->size);
	struct chan c;
	int err = ns && buf ? chan_setup(&c, p->transport, p->size, 1) : -ENOMEM;
	pid_t child;

	if (err) {
		free(ns);
		free(buf);
		return err;
	}
	fflush(NULL); /* the child exits through exit() */
	child = fork();
	if (child == 0) {
		pin(1);
		err = chan_attach(&c, 1);
		if (err == 0)
			err = pong(&c, (warmup + samples) * batch, buf);
		chan_detach(&c);
		/* exit, not _exit: iceoryx's runtime leaves RouDi in a destructor */
		exit(err ? 1 : 0);
	}
	pin(0);
	err = child < 0 ? -errno : chan_attach(&c, 0);
	/* the first batches warm up caches and pages and are not counted */
	for (uint64_t b = 0; b < warmup + samples && err == 0; b++) {
		uint64_t t0 = now_ns();

		for (uint64_t k = 0; k < batch && err == 0; k++) {
			uint64_t r = b * batch + k, v = 2 * r + 1, got;

			memcpy(buf, &v, sizeof(v));
			err = chan_send(&c, buf);
			v++;
			memcpy(buf, &v, sizeof(v));
			if (err == 0)
				err = chan_recv(&c, buf);
			memcpy(&got, buf, sizeof(got));
			if (err == 0 && got != v)
				err = SHMSLAB_ECORRUPT;
		}
		if (b >= warmup)
			ns[b - warmup] = (now_ns() - t0) / (2 * batch);
	}
	err = chan_finish(&c, child, err);
	if (err == 0) {
		qsort(ns, samples, sizeof(*ns), cmp_u64);
		snprintf(line, len,
			 "mode=latency transport=%s size=%u samples=%llu batch=%u p50_ns=%llu "
			 "p99_ns=%llu p999_ns=%llu max_ns=%llu\n",
			 transport_names[p->transport], p->size, (unsigned long long)samples,
			 p->batch, (unsigned long long)ns[samples / 2],
			 (unsigned long long)ns[samples * 99 / 100],
			 (unsigned long long)ns[samples * 999 / 1000],
			 (unsigned long long)ns[samples - 1]);
	}
	free(ns);
	free(buf);
	return err;
}

/* Streaming: COUNT messages from a producer to a consumer, messages per second. */
static int bench_stream(const struct params *p, char *line, size_t len)
{
	uint64_t count = p->iterations, t0 = 0, t1, timed = 0;
	char *buf = calloc(p->burst, p->size);
	struct chan c;
	int err = buf ? chan_setup(&c, p->transport, p->size, 0) : -ENOMEM;
	pid_t child;

	if (err) {
		free(buf);
		return err;
	}
	if (p->read != 0)
		c.read_bytes = p->read;
	fflush(NULL); /* the child exits through exit() */
	child = fork();
	if (child == 0) {
		pin(1);
		err = chan_attach(&c, 1);
		for (uint64_t i = 0; i < count && err == 0; i += p->burst) {
			uint64_t n = count - i < p->burst ? count - i : p->burst;

			memcpy(buf, &i, sizeof(i));
			err = p->burst > 1 ? chan_send_burst(&c, buf, i, (unsigned)n)
					   : chan_send(&c, buf);
		}
		chan_detach(&c);
		exit(err ? 1 : 0); /* as in bench_latency */
	}
	pin(0);
	err = child < 0 ? -errno : chan_attach(&c, 0);
	for (uint64_t i = 0; i < count && err == 0;) {
		int n = 1;

		if (p->burst > 1)
			n = chan_recv_burst(&c, buf, p->burst);
		else
			err = chan_recv(&c, buf);
		if (n < 0)
			err = n;
		if (err)
			break;
		if (i == 0) {
			t0 = now_ns(); /* from the first message on: not the producer's start-up */
			timed = count - (uint64_t)n; /* the messages that come after it */
		}
		for (int k = 0; k < n && err == 0; k++, i++) {
			uint64_t got;

			memcpy(&got, buf + (size_t)k * p->size, sizeof(got));
			if (got != i)
				err = SHMSLAB_ECORRUPT; /* lost, doubled or reordered */
		}
	}
	t1 = now_ns();
	err = chan_finish(&c, child, err);
	if (err == 0 && timed > 0)
		snprintf(line, len,
			 "mode=stream transport=%s size=%u read=%zu burst=%u count=%llu "
			 "msgs_per_s=%.0f ns_per_msg=%.1f\n",
			 transport_names[p->transport], p->size, c.read_bytes, p->burst,
			 (unsigned long long)count, (double)timed * 1e9 / (double)(t1 - t0),
			 (double)(t1 - t0) / (double)timed);
	free(buf);
	return err;
}


/* Fan-out: what the publisher and its subscribers share, beside the channel. */
struct fan_board {
	_Atomic uint32_t ready; /* subscribers subscribed */
	_Atomic uint32_t failed;
	_Atomic int done; /* iceoryx: sides done */
	uint64_t first_ns[FANOUT_SUBS_MAX], last_ns[FANOUT_SUBS_MAX];
};

/* One subscriber of the fan-out, ID: receive COUNT in place, in order, and time them. */
static int fan_subscriber(const struct params *p, const char *name, struct fan_board *b,
			  uint32_t id)
{
	struct shmslab_sub *sub = NULL;
	struct shmslab *slab;
	int err = shmslab_open(name, &slab);

	if (err == 0)
		err = shmslab_subscribe(slab, &sub);
	atomic_fetch_add(&b->ready, 1);
	for (uint64_t i = 0; i < p->iterations && err == 0; i++) {
		struct shmslab_view v;
		shmslab_ref ref;
		uint64_t got;

		err = shmslab_sub_recv(sub, &ref, -1);
		if (err == 0 && (err = shmslab_read_begin(slab, ref, &v)) == 0) {
			memcpy(&got, v.data, sizeof(got));
			if (got != i || v.len != p->size)
				err = SHMSLAB_ECORRUPT; /* lost, doubled or reordered */
			if (shmslab_read_end(slab, &v) != 0 && err == 0)
				err = SHMSLAB_ECORRUPT;
		}
		if (err == 0)
			err = shmslab_sub_release(sub, ref);
		if (i == 0)
			b->first_ns[id] = now_ns(); /* from the first on: not the start-up */
	}
	b->last_ns[id] = now_ns();
	shmslab_close(slab);
	return err;
}

#define FAN_SAMPLE 16 /* the publisher times one message in this many: its clock reads cost too */

/*
 * The publisher: COUNT messages, written in place and published to every
 * subscriber; *BUSY_NS the time inside the calls that succeeded, not its
 * waits for a slot or for room (an attempt that answers -ENOSPC counts as
 * waiting, with the yield after it), measured on one message in FAN_SAMPLE
 * and scaled to all.
 */
static int fan_publisher(const struct params *p, struct shmslab *slab, uint64_t *busy_ns)
{
	uint64_t sampled = 0, timed = 0;
	int err = 0;

	for (uint64_t i = 0; i < p->iterations && err == 0; i++) {
		bool timing = i % FAN_SAMPLE == 0;
		uint64_t t0 = timing ? now_ns() : 0, mark = t0, waited = 0, t;
		struct shmslab_view v;
		shmslab_ref ref;

		/* every slot held by subscribers that have not let go: wait */
		while ((err = shmslab_alloc(slab, &ref)) == -ENOSPC) {
			sched_yield();
			if (timing) {
				t = now_ns();
				waited += t - mark;
				mark = t;
			}
		}
		if (err == 0 && (err = shmslab_write_begin(slab, ref, &v)) == 0) {
			memcpy(v.data, &i, sizeof(i));
			v.len = p->size;
			err = shmslab_write_end(slab, &v);
		}
		if (timing)
			mark = now_ns();
		while (err == 0 && (err = shmslab_publish(slab, ref)) == -ENOSPC) {
			sched_yield(); /* a subscriber has fanout_depth waiting */
			if (timing) {
				t = now_ns();
				waited += t - mark;
				mark = t;
			}
		}
		if (err >= 0 && (uint32_t)err != p->subs)
			err = SHMSLAB_ECORRUPT; /* a subscriber missing */
		else if (err > 0)
			err = 0;
		if (timing) {
			sampled += now_ns() - t0 - waited;
			timed++;
		}
	}
	*busy_ns = timed ? sampled * p->iterations / timed : 0;
	return err;
}

/* The figures of a fan-out run into LINE, from the board and the publisher's times. */
static void fan_report(const struct params *p, const struct fan_board *b, uint64_t pub_ns,
		       uint64_t busy_ns, char *line, size_t len)
{
	double slowest = 0, sum = 0;

	for (uint32_t i = 0; i < p->subs; i++) {
		double rate = (double)(p->iterations - 1) * 1e9 /
			      (double)(b->last_ns[i] - b->first_ns[i] + 1);

		slowest = i == 0 || rate < slowest ? rate : slowest;
		sum += rate;
	}
	snprintf(line, len,
		 "mode=fanout transport=%s size=%u subs=%u count=%llu pub_ns_per_msg=%.1f "
		 "pub_busy_ns_per_msg=%.1f sub_msgs_per_s_min=%.0f sub_msgs_per_s_mean=%.0f\n",
		 transport_names[p->transport], p->size, p->subs,
		 (unsigned long long)p->iterations, (double)pub_ns / (double)p->iterations,
		 (double)busy_ns / (double)p->iterations, slowest, sum / p->subs);
}

/* Fan-out through libshmslab: one publisher, --subs subscriber processes. */
static int fan_shmslab(const struct params *p, struct fan_board *b, uint64_t *pub_ns,
		       uint64_t *busy_ns)
{
	struct shmslab_config cfg;
	struct shmslab *slab;
	pid_t pids[FANOUT_SUBS_MAX];
	char name[64];
	uint64_t t0;
	int err, status;

	snprintf(name, sizeof(name), "/shmslab-bench-%ld", (long)getpid());
	shmslab_config_init(&cfg);
	cfg.slot_count = p->slots;
	cfg.slot_size = p->size > 64 ? p->size : 64;
	cfg.max_procs = p->subs + 2;
	cfg.max_subscribers = p->subs;
	err = shmslab_create(name, &cfg, &slab);
	if (err)
		return err;
	for (uint32_t i = 0; i < p->subs; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			pin(1);
			_exit(fan_subscriber(p, name, b, i) ? 1 : 0);
		}
	}
	pin(0);
	while (atomic_load(&b->ready) < p->subs)
		usleep(100);
	t0 = now_ns();
	err = fan_publisher(p, slab, busy_ns);
	*pub_ns = now_ns() - t0;
	for (uint32_t i = 0; i < p->subs; i++) {
		if (err && pids[i] > 0)
			kill(pids[i], SIGKILL); /* it waits for what will not come */
		if (pids[i] <= 0 || waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			err = err ? err : SHMSLAB_ECORRUPT;
	}
	shmslab_close(slab);
	if (shmslab_unlink(name) != 0 && err == 0)
		err = SHMSLAB_ECORRUPT;
	return err;
}

#ifdef HAVE_ICEORYX
/* Fan-out through iceoryx: one publisher, --subs subscriber processes, each its own runtime. */
static int fan_iceoryx(const struct params *p, struct fan_board *b, uint64_t *pub_ns,
		       uint64_t *busy_ns)
{
	pid_t pids[FANOUT_SUBS_MAX];
	char instance[32], *buf = calloc(1, p->size);
	struct iox_fan *pub;
	uint64_t t0;
	int err, status;

	if (buf == NULL)
		return -ENOMEM;
	snprintf(instance, sizeof(instance), "fan%ld", (long)getpid());
	fflush(NULL); /* the children exit through exit() */
	for (uint32_t i = 0; i < p->subs; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			struct iox_fan *sub;

			pin(1);
			err = iox_fan_open(&sub, instance, 0, p->subs, &b->ready);
			for (uint64_t k = 0; k < p->iterations && err == 0; k++) {
				uint64_t got;

				err = iox_fan_recv(sub, buf, p->size);
				memcpy(&got, buf, sizeof(got));
				if (err == 0 && got != k)
					err = SHMSLAB_ECORRUPT;
				if (k == 0)
					b->first_ns[i] = now_ns();
			}
			b->last_ns[i] = now_ns();
			if (err == 0)
				iox_fan_close(sub, &b->done, p->subs + 1);
			exit(err ? 1 : 0); /* exit: iceoryx leaves RouDi in a destructor */
		}
	}
	pin(0);
	err = iox_fan_open(&pub, instance, 1, p->subs, &b->ready);
	t0 = now_ns();
	for (uint64_t k = 0; k < p->iterations && err == 0; k++) {
		memcpy(buf, &k, sizeof(k));
		err = iox_fan_send(pub, buf, p->size);
	}
	*pub_ns = now_ns() - t0;
	*busy_ns = *pub_ns; /* iceoryx's publisher blocks inside its call: no wait to set apart */
	if (err == 0)
		iox_fan_close(pub, &b->done, p->subs + 1);
	for (uint32_t i = 0; i < p->subs; i++) {
		if (err && pids[i] > 0)
			kill(pids[i], SIGKILL);
		if (pids[i] <= 0 || waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			err = err ? err : SHMSLAB_ECORRUPT;
	}
	free(buf);
	return err;
}
#endif

static int bench_fanout(const struct params *p, char *line, size_t len)
{
	struct fan_board *b = mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE,
				   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint64_t pub_ns = 0, busy_ns = 0;
	int err;

	if (b == MAP_FAILED)
		return -errno;
#ifdef HAVE_ICEORYX
	if (p->transport == T_ICEORYX)
		err = fan_iceoryx(p, b, &pub_ns, &busy_ns);
	else
#endif
		err = fan_shmslab(p, b, &pub_ns, &busy_ns);
	if (err == 0)
		fan_report(p, b, pub_ns, busy_ns, line, len);
	munmap(b, sizeof(*b));
	return err;
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
	struct params p = {
		.batch = 0, .procs = 1, .slots = 1024, .size = 64, .burst = 1, .subs = 1
	};
	double ns = 0;
	char line[512];
	int opt;

	tool_init("shmslab-bench", usage, argv);
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case OPT_TRANSPORT:
			p.transport = transport_parse(optarg);
			if (p.transport < 0)
				tool_usage_error("--transport: '%s' is not one of "
						 "shmslab-bench --list-transports",
						 optarg);
			break;
		case OPT_READ:
			p.read = parse_opt("read", optarg, SHMSLAB_SLOT_SIZE_MAX, 1);
			break;
		case OPT_LIST:
			for (int t = 0; t < TRANSPORTS; t++)
				if (transport_built(t))
					puts(transport_names[t]);
			return 0;
		case OPT_BURST:
			p.burst = parse_opt("burst", optarg, CHAN_BURST_MAX, 0);
			break;
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
		case OPT_SUBS:
			p.subs = parse_opt("subs", optarg, FANOUT_SUBS_MAX, 0);
			break;
		case OPT_OUT:
			p.out = optarg;
			break;
		default:
			tool_other_option(opt);
		}
	}
	if (argc - optind != 2)
		tool_usage_error("MODE and ITERATIONS are required");
	p.mode = argv[optind];
	if (tool_parse_u64(argv[optind + 1], UINT64_MAX, 1, &p.iterations) != 0 ||
	    p.iterations == 0)
		tool_usage_error("ITERATIONS: '%s' is not a positive number", argv[optind + 1]);
	if (p.batch == 0)
		p.batch = strcmp(p.mode, "latency") == 0 ? 100 : 1;
	if (p.procs == 0 || p.slots == 0 || p.size == 0)
		tool_usage_error("--batch, --procs, --slots and --size must be positive");
	if (strcmp(p.mode, "alloc") == 0 && (uint64_t)p.batch * p.procs > p.slots)
		tool_usage_error("--batch times --procs must not exceed --slots");

	if (strcmp(p.mode, "cas") == 0) {
		ns = bench_cas(p.iterations);
		p.procs = 1;
	} else if (strcmp(p.mode, "alloc") == 0 || strcmp(p.mode, "store") == 0 ||
		   strcmp(p.mode, "handoff") == 0 || strcmp(p.mode, "pubsub") == 0) {
		if (strcmp(p.mode, "pubsub") == 0 && (p.subs == 0 || p.procs != 1))
			tool_usage_error("pubsub: one process, --subs from 1 to %d", FANOUT_SUBS_MAX);
		if (run_slab(&p, &ns) != 0)
			return TOOL_EXIT_FAIL;
	} else if (strcmp(p.mode, "fanout") == 0) {
		int err;

		if (p.subs == 0 || p.size < 8)
			tool_usage_error("fanout: --subs from 1 to %d, --size at least 8",
					 FANOUT_SUBS_MAX);
		if (p.transport != T_SHMSLAB_ZC && p.transport != T_ICEORYX)
			tool_usage_error("fanout: --transport shmslab-zc or iceoryx");
		if (!transport_built(p.transport))
			tool_fail(transport_names[p.transport], -ENOSYS);
		err = bench_fanout(&p, line, sizeof(line));
		if (err)
			tool_fail(transport_names[p.transport], err);
		goto report;
	} else if (strcmp(p.mode, "latency") == 0 || strcmp(p.mode, "stream") == 0) {
		int err;

		if (strcmp(p.mode, "stream") == 0 && p.transport == T_CACHELINE)
			tool_usage_error("stream: the cacheline transport only measures latency");
		if (strcmp(p.mode, "latency") == 0 && p.transport == T_RING)
			tool_usage_error("latency: the ring transport only measures streaming");
		if (!transport_built(p.transport))
			tool_fail(transport_names[p.transport],
				  -ENOSYS); /* configure did not find it */
		if (p.read != 0 && (p.transport != T_SHMSLAB_ZC || p.read < 8 || p.read > p.size ||
				    strcmp(p.mode, "stream") != 0))
			tool_usage_error(
				"--read: for stream through shmslab-zc, from 8 bytes up to --size");
		if (p.burst != 1 && (p.burst == 0 || strcmp(p.mode, "stream") != 0 ||
				     (p.transport != T_SHMSLAB && p.transport != T_SHMSLAB_ZC)))
			tool_usage_error("--burst: for stream through shmslab or shmslab-zc, "
					 "from 1 to %d",
					 CHAN_BURST_MAX);
		if (p.size < 8)
			tool_usage_error(
				"--size: %s carries an 8-byte sequence number, so at least 8",
				p.mode);
		if (strcmp(p.mode, "stream") == 0 && p.iterations < 2)
			tool_usage_error("stream: ITERATIONS must be at least 2");
		if (p.transport == T_MQ && p.size > 8192)
			tool_usage_error("--size: POSIX message queues take 8192 bytes at most");
		err = strcmp(p.mode, "latency") == 0 ? bench_latency(&p, line, sizeof(line))
						     : bench_stream(&p, line, sizeof(line));
		if (err)
			tool_fail(transport_names[p.transport], err);
		goto report;
	} else {
		tool_usage_error("unknown MODE '%s'", p.mode);
	}
	snprintf(line, sizeof(line),
		 "mode=%s batch=%u procs=%u shards=%u slots=%u size=%u iterations=%llu "
		 "ns_per_op=%.3f\n",
		 p.mode, p.batch, p.procs, p.shards, p.slots, p.size,
		 (unsigned long long)p.iterations, ns);
report:
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
