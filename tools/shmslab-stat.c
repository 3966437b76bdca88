/* SPDX-License-Identifier: MIT */
/*
 * shmslab-stat: show what is inside a segment.  It attaches for inspection
 * only, so it takes no process-table entry and works on a full table.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "shmslab.h"
#include "tool.h"

static const char usage[] =
	"Usage: shmslab-stat NAME [OPTION]...\n"
	"Show the geometry, free and allocated slots and attached processes of the\n"
	"shared-memory segment NAME (\"/name\").\n"
	"\n"
	"  --slots    also list every slot that is not free\n"
	"  --json     print one JSON object instead of text\n"
	"  --help     show this help and exit\n"
	"  --version  show the version and exit\n";

enum { OPT_SLOTS = 256, OPT_JSON, OPT_HELP, OPT_VERSION };

static const struct option options[] = {
	{ "slots", no_argument, NULL, OPT_SLOTS },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static const char *const state_names[] = { "free", "owned", "queued", "busy" };

struct proc_row {
	struct shmslab_proc_info info;
	uint64_t allocated;
};

static void json_string(FILE *out, const char *s)
{
	putc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			putc(c, out);
	}
	putc('"', out);
}

static void print_slot_text(FILE *out, const struct shmslab_slot_info *si)
{
	fprintf(out, "  %-10llu %-10u %-7s %-10llu ", (unsigned long long)si->index, si->generation,
		state_names[si->state], (unsigned long long)si->len);
	if (si->owner >= 0)
		fprintf(out, "%-6d ", si->owner);
	else
		fprintf(out, "%-6s ", "-");
	if (si->writer >= 0)
		fprintf(out, "%-6d ", si->writer);
	else
		fprintf(out, "%-6s ", "-");
	fprintf(out, "%u%s\n", si->readers, si->torn ? "  torn" : "");
}

static void print_slot_json(FILE *out, const struct shmslab_slot_info *si, int first)
{
	fprintf(out,
		"%s{\"index\":%llu,\"generation\":%u,\"state\":\"%s\",\"len\":%llu,"
		"\"owner\":%d,\"writer\":%d,\"readers\":%u,\"torn\":%s}",
		first ? "" : ",", (unsigned long long)si->index, si->generation,
		state_names[si->state], (unsigned long long)si->len, si->owner, si->writer,
		si->readers, si->torn ? "true" : "false");
}

/* Walk the slots: tally what each process owns, and list the busy ones if asked. */
static int walk_slots(FILE *out, struct shmslab *slab, const struct shmslab_stats *st,
		      struct proc_row *rows, int list, int json)
{
	int first = 1;

	if (list)
		fprintf(out, json ? ",\"slots\":[" : "\n  %-10s %-10s %-7s %-10s %-6s %-6s %s\n",
			"index", "generation", "state", "length", "owner", "writer", "readers");
	for (uint64_t i = 0; i < st->slot_count; i++) {
		struct shmslab_slot_info si;
		int err = shmslab_slot_info(slab, i, &si);

		if (err)
			return err;
		if (si.owner >= 0 && (uint64_t)si.owner < st->max_procs)
			rows[si.owner].allocated++;
		if (!list || si.state == SHMSLAB_SLOT_FREE)
			continue;
		if (json)
			print_slot_json(out, &si, first);
		else
			print_slot_text(out, &si);
		first = 0;
	}
	if (list && json)
		putc(']', out);
	return 0;
}

static int show(FILE *out, struct shmslab *slab, const char *name, int list, int json)
{
	struct shmslab_stats st;
	struct proc_row *rows;
	int err = shmslab_stat(slab, &st), first = 1;

	if (err)
		return err;
	rows = calloc(st.max_procs, sizeof(*rows));
	if (rows == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < st.max_procs && err == 0; i++)
		err = shmslab_proc_info(slab, i, &rows[i].info);
	if (err)
		goto out;

	if (json) {
		fprintf(out, "{\"name\":");
		json_string(out, name);
		fprintf(out,
			",\"layout_version\":%llu,\"slot_size\":%llu,\"slot_count\":%llu,"
			"\"max_slots\":%llu,\"shards\":%llu,\"available\":%llu,\"allocated\":%llu,"
			"\"unowned\":%llu,\"queued\":%llu,\"busy\":%llu,\"max_procs\":%llu",
			(unsigned long long)st.layout_version, (unsigned long long)st.slot_size,
			(unsigned long long)st.slot_count, (unsigned long long)st.max_slots,
			(unsigned long long)st.shards, (unsigned long long)st.available,
			(unsigned long long)st.allocated, (unsigned long long)st.unowned,
			(unsigned long long)st.queued, (unsigned long long)st.busy,
			(unsigned long long)st.max_procs);
	} else {
		fprintf(out, "%s: libshmslab segment, layout version %llu\n", name,
			(unsigned long long)st.layout_version);
		fprintf(out, "  slots      %llu of %llu bytes (max %llu), %llu free-list shard%s\n",
			(unsigned long long)st.slot_count, (unsigned long long)st.slot_size,
			(unsigned long long)st.max_slots, (unsigned long long)st.shards,
			st.shards == 1 ? "" : "s");
		fprintf(out, "  available  %llu\n", (unsigned long long)st.available);
		fprintf(out, "  allocated  %llu (%llu with no owner)\n",
			(unsigned long long)st.allocated, (unsigned long long)st.unowned);
		fprintf(out, "  queued     %llu\n", (unsigned long long)st.queued);
		if (st.busy)
			fprintf(out, "  busy       %llu\n", (unsigned long long)st.busy);
	}
	err = walk_slots(out, slab, &st, rows, list, json);
	if (err)
		goto out;

	if (json)
		fprintf(out, ",\"processes\":[");
	else
		fprintf(out, "%s  processes  %llu of %llu attached\n", list ? "\n" : "",
			(unsigned long long)st.procs, (unsigned long long)st.max_procs);
	for (uint32_t i = 0; i < st.max_procs; i++) {
		const struct proc_row *r = &rows[i];

		if (!r->info.attached)
			continue;
		if (json)
			fprintf(out, "%s{\"entry\":%u,\"pid\":%lld,\"allocated\":%llu}",
				first ? "" : ",", r->info.entry, (long long)r->info.pid,
				(unsigned long long)r->allocated);
		else
			fprintf(out, "    entry %-4u pid %-8lld owns %llu slot%s\n", r->info.entry,
				(long long)r->info.pid, (unsigned long long)r->allocated,
				r->allocated == 1 ? "" : "s");
		first = 0;
	}
	if (json)
		fprintf(out, "]}\n");
out:
	free(rows);
	return err;
}

int main(int argc, char **argv)
{
	struct shmslab *slab;
	const char *name;
	char *report = NULL;
	size_t report_len = 0;
	FILE *out;
	int list = 0, json = 0, opt, err;

	tool_init("shmslab-stat", usage, argv);
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case OPT_SLOTS:
			list = 1;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case OPT_HELP:
			tool_help();
		case OPT_VERSION:
			tool_version();
		default:
			tool_bad_option();
		}
	}
	if (optind != argc - 1)
		tool_usage_error(optind >= argc ? "a segment NAME is required"
						: "only one segment NAME is allowed");
	name = argv[optind];
	err = shmslab_inspect(name, &slab);
	if (err)
		tool_fail(name, err);
	/* the report goes out whole or not at all: never half a table or half a JSON object */
	out = open_memstream(&report, &report_len);
	if (out == NULL)
		tool_fail(name, -errno);
	err = show(out, slab, name, list, json);
	shmslab_close(slab);
	if (fclose(out) != 0 && err == 0)
		err = -ENOMEM;
	if (err)
		tool_fail(name, err);
	fwrite(report, 1, report_len, stdout);
	free(report);
	return tool_flush();
}
