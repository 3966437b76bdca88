/* SPDX-License-Identifier: MIT */
/*
 * The torture test: worker processes (tests/torture-worker) do random
 * operations on one segment while this driver SIGKILLs random ones, at
 * whatever instruction they are at, and starts new ones, for a bounded time.
 * No worker may see a torn message as whole or fail an operation, the
 * workers as a whole must never stop making progress (nothing waits
 * forever), and at the end, after recovery, the invariant of
 * tests/invariant.h holds and the segment keeps working.  Output is TAP.
 *
 *   torture [--seconds N] [--workers W] [--seed S]
 *           (default 20 s, or $TORTURE_SECONDS; 4 workers; a seed from the pid)
 *
 * The seed chooses the victims, the pauses between kills and each worker's
 * operations; a failure prints it, with the last kills, so that the same
 * schedule can be run again (the instants a kill lands at still depend on
 * the machine's timing).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "internal.h"
#include "invariant.h"
#include "shmslab.h"

#define WORKERS_MAX 16
#define STUCK_MS    30000 /* no progress from any worker this long: something waits forever */
#define SCHEDULE    16	  /* the last kills a failure reports */

extern char **environ;

struct worker {
	pid_t pid;
	int out; /* its progress bytes */
};

struct kill {
	uint64_t at_ms;	   /* since the start */
	unsigned victim;   /* worker slot */
	unsigned seed;	   /* the seed the victim ran with */
	unsigned pause_ms; /* how long it ran since the previous kill */
};

static char name[64], board[80], program[4096];
static struct worker workers[WORKERS_MAX];
static unsigned worker_seed[WORKERS_MAX];
static unsigned nworkers, seed;
static uint64_t progress, kills, failures;
static struct kill schedule[SCHEDULE];

static void start(struct worker *w)
{
	char seedstr[32];
	char *argv[] = { program, name, board, seedstr, NULL };
	posix_spawn_file_actions_t fa;
	int out[2];

	worker_seed[w - workers] = ++seed;
	snprintf(seedstr, sizeof(seedstr), "%u", seed);
	if (pipe(out) != 0) {
		perror("torture: pipe");
		exit(1);
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_addclose(&fa, out[0]);
	if (posix_spawn(&w->pid, program, &fa, NULL, argv, environ) != 0) {
		perror("torture: spawn");
		exit(1);
	}
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	w->out = out[0];
}

/* Kill W (whatever it is doing) and collect it; a worker that ended on its own failed. */
static void stop(struct worker *w)
{
	int status;

	kill(w->pid, SIGKILL);
	waitpid(w->pid, &status, 0);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
		fprintf(stderr, "torture: worker %d ended on its own (status %#x)\n", (int)w->pid,
			status);
		failures++;
	}
	close(w->out);
}

/* Read the workers' progress bytes for up to MS milliseconds; answer how many came. */
static uint64_t drain(unsigned ms)
{
	struct pollfd pfd[WORKERS_MAX];
	uint64_t got = 0, end = test_now_ms() + ms;
	char buf[4096];

	for (unsigned i = 0; i < nworkers; i++) {
		pfd[i].fd = workers[i].out;
		pfd[i].events = POLLIN;
	}
	for (uint64_t t = test_now_ms(); t < end; t = test_now_ms()) {
		if (poll(pfd, nworkers, (int)(end - t)) <= 0)
			continue;
		for (unsigned i = 0; i < nworkers; i++) {
			ssize_t n;

			if (!(pfd[i].revents & POLLIN))
				continue;
			while ((n = read(pfd[i].fd, buf, sizeof(buf))) > 0)
				got += (uint64_t)n;
		}
	}
	progress += got;
	return got;
}

/* What reproduces a failure: the seed, the command, and the last kills. */
static void report_schedule(unsigned first_seed, unsigned seconds)
{
	uint64_t n = kills < SCHEDULE ? kills : SCHEDULE;

	printf("# seed %u: tests/torture --seed %u --seconds %u --workers %u runs this schedule "
	       "again\n",
	       first_seed, first_seed, seconds, nworkers);
	for (uint64_t k = kills - n; k < kills; k++) {
		const struct kill *e = &schedule[k % SCHEDULE];

		printf("# kill %llu at %llu ms: worker %u (seed %u) after %u ms\n",
		       (unsigned long long)k + 1, (unsigned long long)e->at_ms, e->victim, e->seed,
		       e->pause_ms);
	}
}

int main(int argc, char **argv)
{
	const char *env = getenv("TORTURE_SECONDS"), *top = getenv("top_builddir");
	unsigned seconds = env ? (unsigned)atoi(env) : 20, first_seed = (unsigned)getpid();
	uint64_t t_start;
	int ok3, ok4;
	struct shmslab_config cfg;
	struct shmslab *slab;
	uint64_t end, quiet_since, longest_quiet = 0, published;
	char why[256];
	const char *bad;
	int fd, n;

	nworkers = 4;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			seconds = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc)
			nworkers = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			first_seed = (unsigned)strtoul(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: torture [--seconds N] [--workers W] [--seed S]\n");
			return 2;
		}
	}
	if (nworkers < 2 || nworkers > WORKERS_MAX || seconds == 0) {
		fprintf(stderr, "torture: 2 to %d workers, at least 1 second\n", WORKERS_MAX);
		return 2;
	}
	snprintf(program, sizeof(program), "%s/tests/torture-worker", top ? top : ".");
	snprintf(name, sizeof(name), "/shmslab-torture-%ld", (long)getpid());
	snprintf(board, sizeof(board), "%s-board", name);
	srand(first_seed);
	seed = first_seed;

	shmslab_config_init(&cfg);
	cfg.slot_count = 48;
	cfg.max_slots = 128;
	cfg.slot_size = 256;
	cfg.max_procs = nworkers * 2 + 2;
	n = shmslab_create(name, &cfg, &slab);
	if (n) {
		fprintf(stderr, "torture: %s: %s\n", name, shmslab_strerror(n));
		return 1;
	}
	fd = shm_open(board, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || ftruncate(fd, 64 * sizeof(uint64_t)) != 0) {
		perror("torture: board");
		return 1;
	}
	close(fd);

	printf("1..4\n# seed %u\n", first_seed);
	for (unsigned i = 0; i < nworkers; i++)
		start(&workers[i]);
	t_start = test_now_ms();
	end = t_start + seconds * 1000ull;
	quiet_since = test_now_ms();
	while (test_now_ms() < end) {
		unsigned v = (unsigned)rand() % nworkers, pause = 5 + (unsigned)rand() % 60;
		struct kill *e = &schedule[kills % SCHEDULE];

		if (drain(pause) > 0)
			quiet_since = test_now_ms();
		if (test_now_ms() - quiet_since > longest_quiet)
			longest_quiet = test_now_ms() - quiet_since;
		if (longest_quiet > STUCK_MS)
			break;
		e->at_ms = test_now_ms() - t_start;
		e->victim = v;
		e->seed = worker_seed[v];
		e->pause_ms = pause;
		stop(&workers[v]);
		start(&workers[v]);
		kills++;
	}
	for (unsigned i = 0; i < nworkers; i++)
		stop(&workers[i]);

	/* relaxed: every worker is dead, and the ticket only counts publishes */
	published = atomic_load_explicit(&slab->fan->ticket, memory_order_relaxed);
	printf("%s 1 - %llu kills survived, about %llu operations (%llu messages published to "
	       "subscribers); no worker saw a torn message or failed\n",
	       failures == 0 && published > 0 ? "ok" : "not ok", (unsigned long long)kills,
	       (unsigned long long)progress * 256, (unsigned long long)published);
	printf("%s 2 - no waiting forever: longest spell without progress %llu ms\n",
	       longest_quiet <= STUCK_MS ? "ok" : "not ok", (unsigned long long)longest_quiet);
	n = shmslab_recover(slab);
	bad = n < 0 ? shmslab_strerror(n) : invariant_check(slab, why, sizeof(why));
	ok3 = bad == NULL;
	printf("%s 3 - after recovery (%d reclaimed) the invariant holds%s%s\n",
	       bad ? "not ok" : "ok", n, bad ? ": " : "", bad ? bad : "");
	bad = invariant_exercise(slab, why, sizeof(why));
	if (bad == NULL)
		bad = invariant_check(slab, why, sizeof(why));
	ok4 = bad == NULL;
	printf("%s 4 - and the segment keeps working%s%s\n", bad ? "not ok" : "ok", bad ? ": " : "",
	       bad ? bad : "");
	if (failures != 0 || published == 0 || longest_quiet > STUCK_MS || !ok3 || !ok4)
		report_schedule(first_seed, seconds);
	shmslab_close(slab);
	if (shmslab_unlink(name) != 0 || shm_unlink(board) != 0)
		return 1;
	return 0;
}
