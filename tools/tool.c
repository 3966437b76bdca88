/* SPDX-License-Identifier: MIT */
/*
 * The conventions every shmslab tool follows; see tool.h.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shmslab.h"
#include "tool.h"

static const char *tool_name = "shmslab";
static const char *tool_usage = "";

void tool_init(const char *name, const char *usage, char **argv)
{
	tool_name = name;
	tool_usage = usage;
	/* getopt_long's messages start with argv[0]: make it the bare tool name */
	argv[0] = (char *)name;
}

int tool_flush(void)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return 0;
	fprintf(stderr, "%s: standard output: %s\n", tool_name, strerror(errno));
	return TOOL_EXIT_FAIL;
}

void tool_other_option(int opt)
{
	switch (opt) {
	case TOOL_OPT_HELP:
		fputs(tool_usage, stdout);
		exit(tool_flush());
	case TOOL_OPT_VERSION:
		printf("%s (libshmslab) %s\n", tool_name, SHMSLAB_VERSION_STRING);
		exit(tool_flush());
	default:
		/* getopt_long has said what is wrong, as "tool: message" */
		fputs(tool_usage, stderr);
		exit(TOOL_EXIT_USAGE);
	}
}

void tool_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", tool_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", tool_usage);
	exit(TOOL_EXIT_USAGE);
}

const char *tool_one_name(int argc, char **argv)
{
	if (optind != argc - 1)
		tool_usage_error(optind >= argc ? "a segment NAME is required"
						: "only one segment NAME is allowed");
	return argv[optind];
}

void tool_warn(const char *name, int err)
{
	fprintf(stderr, "%s: %s: %s\n", tool_name, name, shmslab_strerror(err));
}

void tool_fail(const char *name, int err)
{
	tool_warn(name, err);
	exit(TOOL_EXIT_FAIL);
}

int tool_parse_u64(const char *s, uint64_t max, int suffixes, uint64_t *out)
{
	uint64_t v = 0;
	unsigned shift = 0;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (suffixes && *s != '\0' && s[1] == '\0') {
		switch (*s) {
		case 'k':
		case 'K':
			shift = 10;
			break;
		case 'm':
		case 'M':
			shift = 20;
			break;
		case 'g':
		case 'G':
			shift = 30;
			break;
		default:
			return -1;
		}
		s++;
	}
	if (*s != '\0' || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	v <<= shift;
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

int tool_parse_mode(const char *s, mode_t *out)
{
	unsigned v = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '7')
			return -1;
		v = v * 8 + (unsigned)(*s - '0');
		if (v > 0777)
			return -1;
	}
	*out = (mode_t)v;
	return 0;
}
