/* SPDX-License-Identifier: MIT */
/*
 * shmslab-rm: remove segment names.
 */
#include "config.h"

#include <getopt.h>

#include "shmslab.h"
#include "tool.h"

static const char usage[] =
	"Usage: shmslab-rm NAME...\n"
	"Remove the shared-memory segments NAME (\"/name\").  Processes attached to\n"
	"one keep working; the memory goes when the last of them detaches.  Objects\n"
	"that are not shmslab segments are refused.\n"
	"\n"
	"  --help     show this help and exit\n"
	"  --version  show the version and exit\n";


static const struct option options[] = {
	TOOL_STANDARD_OPTIONS,
};

int main(int argc, char **argv)
{
	int opt, status = 0;

	tool_init("shmslab-rm", usage, argv);
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		default:
			tool_other_option(opt);
		}
	}
	if (optind >= argc)
		tool_usage_error("a segment NAME is required");
	for (int i = optind; i < argc; i++) {
		int err = shmslab_unlink(argv[i]);

		if (err) {
			tool_warn(argv[i], err);
			status = TOOL_EXIT_FAIL;
		}
	}
	return status;
}
