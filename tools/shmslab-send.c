/* SPDX-License-Identifier: MIT */
/*
 * shmslab-send: send messages through a segment's handoff queue, or
 * publish them to its subscribers.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shmslab.h"
#include "tool.h"

static const char usage[] =
	"Usage: shmslab-send NAME [OPTION]... [MESSAGE]...\n"
	"Send each MESSAGE, or without any, each line of standard input (without its\n"
	"newline), as one message through the handoff queue of segment NAME.\n"
	"When no slot is free or the queue is full, wait for room.\n"
	"\n"
	"  --publish     publish each message to every subscriber of the segment\n"
	"                instead (one that nobody subscribes to is dropped); wait\n"
	"                while a subscriber has as many waiting as it may\n"
	"  --timeout MS  give up when a message finds no room for MS milliseconds\n"
	"                (default: wait as long as it takes)\n"
	"  --help        show this help and exit\n"
	"  --version     show the version and exit\n";

enum { OPT_TIMEOUT = 256, OPT_PUBLISH };

static const struct option options[] = {
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "publish", no_argument, NULL, OPT_PUBLISH },
	TOOL_STANDARD_OPTIONS,
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait a little for room, unless the deadline has passed: then -ETIMEDOUT. */
static int room_wait(long long deadline)
{
	struct timespec pause = { 0, 200 * 1000 };

	if (deadline >= 0 && now_ms() >= deadline)
		return -ETIMEDOUT;
	nanosleep(&pause, NULL);
	return 0;
}

/*
 * Allocate a slot, store MSG in it and send it (or PUBLISH it), waiting at
 * most TIMEOUT ms for room.
 */
static int send_one(struct shmslab *slab, const char *msg, size_t len, long long timeout,
		    bool publish)
{
	long long deadline = timeout >= 0 ? now_ms() + timeout : -1;
	shmslab_ref ref;
	int err;

	while ((err = shmslab_alloc(slab, &ref)) == -ENOSPC)
		if ((err = room_wait(deadline)) != 0)
			return err;
	if (err)
		return err;
	err = shmslab_store(slab, ref, msg, len);
	/* publish answers how many subscribers it reached */
	while (err == 0 &&
	       (err = publish ? shmslab_publish(slab, ref) : shmslab_send(slab, ref)) == -ENOSPC)
		err = room_wait(deadline);
	if (err > 0)
		err = 0;
	/* not sent: the slot is still ours to give back; the first error is the one to tell */
	if (err)
		(void)!shmslab_free(slab, ref);
	return err;
}

int main(int argc, char **argv)
{
	struct shmslab *slab;
	const char *name;
	long long timeout = -1;
	bool publish = false;
	uint64_t ms;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int opt, err = 0;

	tool_init("shmslab-send", usage, argv);
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case OPT_TIMEOUT:
			if (tool_parse_u64(optarg, INT32_MAX, 0, &ms) != 0)
				tool_usage_error("--timeout: '%s' is not a number of milliseconds",
						 optarg);
			timeout = (long long)ms;
			break;
		case OPT_PUBLISH:
			publish = true;
			break;
		default:
			tool_other_option(opt);
		}
	}
	if (optind >= argc)
		tool_usage_error("a segment NAME is required");
	name = argv[optind++];
	err = shmslab_open(name, &slab);
	if (err)
		tool_fail(name, err);
	if (optind < argc) {
		for (; optind < argc && err == 0; optind++)
			err = send_one(slab, argv[optind], strlen(argv[optind]), timeout, publish);
	} else {
		while (err == 0 && (len = getline(&line, &cap, stdin)) >= 0) {
			if (len > 0 && line[len - 1] == '\n')
				len--;
			err = send_one(slab, line, (size_t)len, timeout, publish);
		}
		if (err == 0 && ferror(stdin))
			err = -EIO;
		free(line);
	}
	shmslab_close(slab);
	if (err)
		tool_fail(name, err);
	return 0;
}
