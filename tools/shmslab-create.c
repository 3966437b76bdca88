/* SPDX-License-Identifier: MIT */
/*
 * shmslab-create: create and initialise a segment.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>

#include "shmslab.h"
#include "tool.h"

static const char usage[] =
	"Usage: shmslab-create NAME [OPTION]...\n"
	"Create the shared-memory segment NAME (\"/name\") and lay out its slots.\n"
	"\n"
	"  --slots N          slots at creation (default 1024)\n"
	"  --max-slots N      let the segment grow up to N slots (default: fixed)\n"
	"  --slot-size BYTES  bytes one message may hold; k, m, g suffixes (default 4096)\n"
	"  --max-procs P      processes attached at once (default 64)\n"
	"  --queue-depth N    references the handoff queue holds (default: --slots)\n"
	"  --shards N         free-list shards (default: one per CPU)\n"
	"  --max-subscribers N  subscriptions at once, 1 to 32 (default 16)\n"
	"  --fanout-depth N   messages a subscriber may have waiting (default: --slots)\n"
	"  --mode OCTAL       permission bits (default 600)\n"
	"  --force            replace an existing shmslab segment of that name\n"
	"  --help             show this help and exit\n"
	"  --version          show the version and exit\n";

enum {
	OPT_SLOTS = 256,
	OPT_MAX_SLOTS,
	OPT_SLOT_SIZE,
	OPT_MAX_PROCS,
	OPT_QUEUE_DEPTH,
	OPT_SHARDS,
	OPT_MAX_SUBSCRIBERS,
	OPT_FANOUT_DEPTH,
	OPT_MODE,
	OPT_FORCE
};

static const struct option options[] = {
	{ "slots", required_argument, NULL, OPT_SLOTS },
	{ "max-slots", required_argument, NULL, OPT_MAX_SLOTS },
	{ "slot-size", required_argument, NULL, OPT_SLOT_SIZE },
	{ "max-procs", required_argument, NULL, OPT_MAX_PROCS },
	{ "queue-depth", required_argument, NULL, OPT_QUEUE_DEPTH },
	{ "shards", required_argument, NULL, OPT_SHARDS },
	{ "max-subscribers", required_argument, NULL, OPT_MAX_SUBSCRIBERS },
	{ "fanout-depth", required_argument, NULL, OPT_FANOUT_DEPTH },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "force", no_argument, NULL, OPT_FORCE },
	TOOL_STANDARD_OPTIONS,
};

static uint32_t parse_count(const char *opt, const char *arg, uint64_t max, int suffixes)
{
	uint64_t v;

	if (tool_parse_u64(arg, max, suffixes, &v) != 0 || v == 0)
		tool_usage_error("--%s: '%s' is not a number from 1 to %llu", opt, arg,
				 (unsigned long long)max);
	return (uint32_t)v;
}

int main(int argc, char **argv)
{
	struct shmslab_config cfg;
	struct shmslab *slab;
	const char *name;
	int force = 0, opt, err;
	uint64_t shards;

	tool_init("shmslab-create", usage, argv);
	shmslab_config_init(&cfg);
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case OPT_SLOTS:
			cfg.slot_count = parse_count("slots", optarg, SHMSLAB_SLOTS_MAX, 0);
			break;
		case OPT_MAX_SLOTS:
			cfg.max_slots = parse_count("max-slots", optarg, SHMSLAB_SLOTS_MAX, 0);
			break;
		case OPT_SLOT_SIZE:
			cfg.slot_size = parse_count("slot-size", optarg, SHMSLAB_SLOT_SIZE_MAX, 1);
			break;
		case OPT_MAX_PROCS:
			cfg.max_procs = parse_count("max-procs", optarg, SHMSLAB_PROCS_MAX, 0);
			break;
		case OPT_QUEUE_DEPTH:
			cfg.queue_depth = parse_count("queue-depth", optarg, SHMSLAB_SLOTS_MAX, 0);
			break;
		case OPT_SHARDS:
			if (tool_parse_u64(optarg, SHMSLAB_SHARDS_MAX, 0, &shards) != 0)
				tool_usage_error("--shards: '%s' is not a number from 0 to %u",
						 optarg, SHMSLAB_SHARDS_MAX);
			cfg.shards = (uint32_t)shards;
			break;
		case OPT_MAX_SUBSCRIBERS:
			cfg.max_subscribers =
				parse_count("max-subscribers", optarg, SHMSLAB_SUBSCRIBERS_MAX, 0);
			break;
		case OPT_FANOUT_DEPTH:
			cfg.fanout_depth = parse_count("fanout-depth", optarg, SHMSLAB_SLOTS_MAX, 0);
			break;
		case OPT_MODE:
			if (tool_parse_mode(optarg, &cfg.mode) != 0)
				tool_usage_error("--mode: '%s' is not octal permission bits",
						 optarg);
			break;
		case OPT_FORCE:
			force = 1;
			break;
		default:
			tool_other_option(opt);
		}
	}
	name = tool_one_name(argc, argv);
	if (cfg.max_slots != 0 && cfg.max_slots < cfg.slot_count)
		tool_usage_error("--max-slots must be at least --slots (%u)", cfg.slot_count);

	err = shmslab_create(name, &cfg, &slab);
	if (err == -EEXIST && force) {
		/* shmslab_unlink refuses anything that is not a shmslab segment */
		err = shmslab_unlink(name);
		if (err)
			tool_fail(name, err);
		err = shmslab_create(name, &cfg, &slab);
	}
	if (err)
		tool_fail(name, err);
	shmslab_close(slab);
	return 0;
}
