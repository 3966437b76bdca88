/* SPDX-License-Identifier: MIT */
/*
 * shmslab-recv: receive messages from a segment's handoff queue, or as a
 * subscriber, what is published.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "shmslab.h"
#include "tool.h"

static const char usage[] =
	"Usage: shmslab-recv NAME [OPTION]...\n"
	"Receive messages from the handoff queue of segment NAME, print each on a\n"
	"line of its own, and free its slot.\n"
	"\n"
	"  --subscribe   subscribe instead, and print every message published while\n"
	"                it runs (each subscriber gets each; others still do)\n"
	"  --count N     stop after N messages (default: go on)\n"
	"  --timeout MS  wait at most MS milliseconds for each message (default: as\n"
	"                long as it takes); a wait that times out ends the run, and\n"
	"                with --count, before N messages, it is an error\n"
	"  --help        show this help and exit\n"
	"  --version     show the version and exit\n";

enum { OPT_COUNT = 256, OPT_TIMEOUT, OPT_SUBSCRIBE };

static const struct option options[] = {
	{ "subscribe", no_argument, NULL, OPT_SUBSCRIBE },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	TOOL_STANDARD_OPTIONS,
};

/* The next message, from the queue or, with SUB, as that subscriber. */
static int next(struct shmslab *slab, struct shmslab_sub *sub, shmslab_ref *ref, int timeout)
{
	return sub != NULL ? shmslab_sub_recv(sub, ref, timeout) : shmslab_recv(slab, ref, timeout);
}

/* Done with REF: free it, or, with SUB, let go of it. */
static int done(struct shmslab *slab, struct shmslab_sub *sub, shmslab_ref ref)
{
	return sub != NULL ? shmslab_sub_release(sub, ref) : shmslab_free(slab, ref);
}

int main(int argc, char **argv)
{
	struct shmslab_sub *sub = NULL;
	bool subscribe = false;
	struct shmslab *slab;
	struct shmslab_stats st;
	const char *name;
	uint64_t count = 0, got = 0, v;
	int timeout = -1, opt, err, status = 0;
	char *buf;

	tool_init("shmslab-recv", usage, argv);
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case OPT_COUNT:
			if (tool_parse_u64(optarg, UINT64_MAX, 0, &count) != 0 || count == 0)
				tool_usage_error("--count: '%s' is not a positive number", optarg);
			break;
		case OPT_TIMEOUT:
			if (tool_parse_u64(optarg, INT32_MAX, 0, &v) != 0)
				tool_usage_error("--timeout: '%s' is not a number of milliseconds",
						 optarg);
			timeout = (int)v;
			break;
		case OPT_SUBSCRIBE:
			subscribe = true;
			break;
		default:
			tool_other_option(opt);
		}
	}
	name = tool_one_name(argc, argv);
	err = shmslab_open(name, &slab);
	if (err == 0)
		err = shmslab_stat(slab, &st);
	if (err == 0 && subscribe)
		err = shmslab_subscribe(slab, &sub);
	if (err)
		tool_fail(name, err);
	buf = malloc(st.slot_size);
	if (buf == NULL)
		tool_fail(name, -ENOMEM);
	/* count 0: no --count, go on until a wait times out */
	while (count == 0 || got < count) {
		shmslab_ref ref;
		ssize_t len;
		int out = 0;

		err = next(slab, sub, &ref, timeout);
		if (err == -EAGAIN) /* --timeout 0 on an empty queue */
			err = -ETIMEDOUT;
		if (err == -ETIMEDOUT && count == 0) {
			err = 0; /* no more for now: done */
			break;
		}
		if (err)
			break;
		got++;
		len = shmslab_read(slab, ref, buf, st.slot_size);
		if (len >= 0) {
			fwrite(buf, 1, (size_t)len, stdout);
			putchar('\n');
			out = tool_flush();
		} else {
			/* a torn message is reported, not printed, and its slot goes all the same */
			tool_warn(name, (int)len);
			status = TOOL_EXIT_FAIL;
		}
		/* the slot is ours: it goes back even when the message could not go out */
		err = done(slab, sub, ref);
		if (out != 0) {
			free(buf);
			shmslab_close(slab);
			return out;
		}
		if (err)
			break;
	}
	free(buf);
	shmslab_close(slab);
	if (err)
		tool_fail(name, err);
	return status;
}
