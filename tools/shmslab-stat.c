/* SPDX-License-Identifier: MIT */
/*
 * shmslab-stat: show what is inside a segment.  It attaches for inspection
 * only, so it takes no process-table entry and works on a full table; with
 * --recover it first attaches for real to reclaim what dead processes held.
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
	"Show the geometry, free and allocated slots, subscribers and attached\n"
	"processes of the shared-memory segment NAME (\"/name\").\n"
	"\n"
	"  --slots    also list every slot that is not free\n"
	"  --json     print one JSON object instead of text\n"
	"  --recover  first reclaim what processes that died were holding, and say\n"
	"             what came back (this attaches to the segment)\n"
	"  --help     show this help and exit\n"
	"  --version  show the version and exit\n";

enum { OPT_SLOTS = 256, OPT_JSON, OPT_RECOVER };

static const struct option options[] = {
	{ "slots", no_argument, NULL, OPT_SLOTS },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "recover", no_argument, NULL, OPT_RECOVER },
	TOOL_STANDARD_OPTIONS,
};

static const char *const state_names[] = { "free",    "owned",  "queued",
					    "busy",    "retired", "published" };

static const char *const died_in[] = { "", "alloc", "free", "growing the segment", "send",
					"receive" };

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
/* With --slots: every slot that is not free, one line (or object) each. */
static int list_slots(FILE *out, struct shmslab *slab, const struct shmslab_stats *st, int json)
{
	int first = 1;

	fprintf(out, json ? ",\"slots\":[" : "\n  %-10s %-10s %-7s %-10s %-6s %-6s %s\n", "index",
		"generation", "state", "length", "owner", "writer", "readers");
	for (uint64_t i = 0; i < st->slot_count; i++) {
		struct shmslab_slot_info si;
		int err = shmslab_slot_info(slab, i, &si);

		if (err)
			return err;
		if (si.state == SHMSLAB_SLOT_FREE)
			continue;
		if (json)
			print_slot_json(out, &si, first);
		else
			print_slot_text(out, &si);
		first = 0;
	}
	if (json)
		putc(']', out);
	return 0;
}

static void print_proc_text(FILE *out, const struct shmslab_proc_info *p)
{
	fprintf(out, "    entry %-4u pid %-8lld %s owns %llu, keeps %llu, reads %llu, writes %llu",
		p->entry, (long long)p->pid, p->alive ? "     " : "DEAD ",
		(unsigned long long)p->owned, (unsigned long long)p->kept,
		(unsigned long long)p->reading, (unsigned long long)p->writing);
	if (p->died_in != 0)
		fprintf(out, "; died in %s (slot %lld)", died_in[p->died_in],
			(long long)p->died_slot);
	putc('\n', out);
}

static void print_proc_json(FILE *out, const struct shmslab_proc_info *p, int first)
{
	fprintf(out,
		"%s{\"entry\":%u,\"pid\":%lld,\"alive\":%s,\"owned\":%llu,\"kept\":%llu,"
		"\"reading\":%llu,\"writing\":%llu",
		first ? "" : ",", p->entry, (long long)p->pid, p->alive ? "true" : "false",
		(unsigned long long)p->owned, (unsigned long long)p->kept,
		(unsigned long long)p->reading, (unsigned long long)p->writing);
	if (p->died_in != 0)
		fprintf(out, ",\"died_in\":\"%s\",\"died_slot\":%lld", died_in[p->died_in],
			(long long)p->died_slot);
	putc('}', out);
}

static void print_sub_text(FILE *out, const struct shmslab_sub_info *u)
{
	fprintf(out, "    subscriber %-3u entry %-4d %s received %llu, holds %llu, %llu behind\n",
		u->index, u->entry, u->alive ? "     " : "DEAD ", (unsigned long long)u->received,
		(unsigned long long)u->held, (unsigned long long)u->waiting);
}

static void print_sub_json(FILE *out, const struct shmslab_sub_info *u, int first)
{
	fprintf(out,
		"%s{\"index\":%u,\"entry\":%d,\"alive\":%s,\"received\":%llu,\"held\":%llu,"
		"\"waiting\":%llu}",
		first ? "" : ",", u->index, u->entry, u->alive ? "true" : "false",
		(unsigned long long)u->received, (unsigned long long)u->held,
		(unsigned long long)u->waiting);
}

/* The subscriptions: what each holds and how far behind the publishers it is. */
static int show_subscribers(FILE *out, struct shmslab *slab, const struct shmslab_stats *st,
			    int json)
{
	int first = 1;

	if (json)
		fprintf(out, ",\"subscribers\":[");
	else
		fprintf(out, "  subscribers %llu of %llu (fan-out depth %llu), %llu slot%s published\n",
			(unsigned long long)st->subscribers, (unsigned long long)st->max_subscribers,
			(unsigned long long)st->fanout_depth, (unsigned long long)st->published,
			st->published == 1 ? "" : "s");
	for (uint32_t i = 0; i < st->max_subscribers; i++) {
		struct shmslab_sub_info u;
		int err = shmslab_sub_info(slab, i, &u);

		if (err)
			return err;
		if (!u.live)
			continue;
		if (json)
			print_sub_json(out, &u, first);
		else
			print_sub_text(out, &u);
		first = 0;
	}
	if (json)
		putc(']', out);
	return 0;
}

static int show(FILE *out, struct shmslab *slab, const char *name, int list, int json,
		const struct shmslab_recovery *got)
{
	struct shmslab_stats st;
	int err = shmslab_stat(slab, &st), first = 1;

	if (err)
		return err;
	if (json) {
		fprintf(out, "{\"name\":");
		json_string(out, name);
		fprintf(out,
			",\"layout_version\":%llu,\"slot_size\":%llu,\"slot_count\":%llu,"
			"\"max_slots\":%llu,\"shards\":%llu,\"available\":%llu,\"allocated\":%llu,"
			"\"unowned\":%llu,\"queued\":%llu,\"busy\":%llu,\"max_procs\":%llu,"
			"\"procs\":%llu,\"dead_procs\":%llu,\"queue_depth\":%llu,\"retired\":%llu,"
			"\"published\":%llu,\"max_subscribers\":%llu,\"fanout_depth\":%llu",
			(unsigned long long)st.layout_version, (unsigned long long)st.slot_size,
			(unsigned long long)st.slot_count, (unsigned long long)st.max_slots,
			(unsigned long long)st.shards, (unsigned long long)st.available,
			(unsigned long long)st.allocated, (unsigned long long)st.unowned,
			(unsigned long long)st.queued, (unsigned long long)st.busy,
			(unsigned long long)st.max_procs, (unsigned long long)st.procs,
			(unsigned long long)st.dead_procs, (unsigned long long)st.queue_depth,
			(unsigned long long)st.retired, (unsigned long long)st.published,
			(unsigned long long)st.max_subscribers, (unsigned long long)st.fanout_depth);
		if (got != NULL)
			fprintf(out,
				",\"recovered\":{\"slots\":%llu,\"locks\":%llu,\"procs\":%llu,"
				"\"subscriptions\":%llu}",
				(unsigned long long)got->slots, (unsigned long long)got->locks,
				(unsigned long long)got->procs, (unsigned long long)got->subscriptions);
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
		fprintf(out, "  queued     %llu (queue depth %llu)\n",
			(unsigned long long)st.queued, (unsigned long long)st.queue_depth);
		if (st.busy)
			fprintf(out, "  busy       %llu\n", (unsigned long long)st.busy);
		if (st.retired)
			fprintf(out, "  retired    %llu (their generations used up)\n",
				(unsigned long long)st.retired);
	}
	err = show_subscribers(out, slab, &st, json);
	if (err)
		return err;
	if (list) {
		err = list_slots(out, slab, &st, json);
		if (err)
			return err;
	}
	if (json)
		fprintf(out, ",\"processes\":[");
	else
		fprintf(out, "%s  processes  %llu of %llu attached%s", list ? "\n" : "",
			(unsigned long long)st.procs, (unsigned long long)st.max_procs,
			st.dead_procs ? "" : "\n");
	if (!json && st.dead_procs)
		fprintf(out, ", %llu dead and not recovered yet (shmslab-stat --recover)\n",
			(unsigned long long)st.dead_procs);
	for (uint32_t i = 0; i < st.max_procs; i++) {
		struct shmslab_proc_info p;

		err = shmslab_proc_info(slab, i, &p);
		if (err)
			return err;
		if (!p.attached)
			continue;
		if (json)
			print_proc_json(out, &p, first);
		else
			print_proc_text(out, &p);
		first = 0;
	}
	if (json)
		fprintf(out, "]}\n");
	return 0;
}

/* --recover: attach, reclaim what dead processes held, and say what came back. */
static int recover(const char *name, int json, struct shmslab_recovery *got)
{
	struct shmslab *slab;
	int err = shmslab_open(name, &slab);

	if (err)
		return err;
	err = shmslab_recover_counts(slab, got);
	shmslab_close(slab);
	if (err < 0)
		return err;
	if (!json) {
		char subs[64] = "";

		if (got->subscriptions != 0)
			snprintf(subs, sizeof(subs), " and %llu subscription%s",
				 (unsigned long long)got->subscriptions,
				 got->subscriptions == 1 ? "" : "s");
		printf("%s: recovered %llu slot%s, %llu lock%s%s%llu process-table entr%s%s\n", name,
		       (unsigned long long)got->slots, got->slots == 1 ? "" : "s",
		       (unsigned long long)got->locks, got->locks == 1 ? "" : "s",
		       subs[0] ? ", " : " and ", (unsigned long long)got->procs,
		       got->procs == 1 ? "y" : "ies", subs);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct shmslab_recovery got;
	struct shmslab *slab;
	const char *name;
	char *report = NULL;
	size_t report_len = 0;
	FILE *out;
	int list = 0, json = 0, do_recover = 0, opt, err;

	tool_init("shmslab-stat", usage, argv);
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case OPT_SLOTS:
			list = 1;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case OPT_RECOVER:
			do_recover = 1;
			break;
		default:
			tool_other_option(opt);
		}
	}
	name = tool_one_name(argc, argv);
	if (do_recover) {
		err = recover(name, json, &got);
		if (err)
			tool_fail(name, err);
	}
	err = shmslab_inspect(name, &slab);
	if (err)
		tool_fail(name, err);
	/* the report goes out whole or not at all: never half a table or half a JSON object */
	out = open_memstream(&report, &report_len);
	if (out == NULL)
		tool_fail(name, -errno);
	err = show(out, slab, name, list, json, do_recover ? &got : NULL);
	shmslab_close(slab);
	if (fclose(out) != 0 && err == 0)
		err = -ENOMEM;
	if (err)
		tool_fail(name, err);
	fwrite(report, 1, report_len, stdout);
	free(report);
	return tool_flush();
}
