/* SPDX-License-Identifier: MIT */
/*
 * What the shmslab tools share: the usage and error conventions (errors as
 * "tool: /name: message" with exit status 1, usage errors with status 2 and
 * the usage text) and strict parsing of numbers from the command line.
 */
#ifndef SHMSLAB_TOOL_H
#define SHMSLAB_TOOL_H

#include <stdint.h>
#include <sys/types.h>

#define TOOL_EXIT_FAIL	1
#define TOOL_EXIT_USAGE 2

/*
 * Name the running tool and its usage text (printed by --help and on usage
 * errors); ARGV[0] becomes the name, for getopt_long's messages.
 */
void tool_init(const char *name, const char *usage, char **argv);

/*
 * The options every tool has: --help and --version, last in each tool's
 * table of options (they end it).  Its own switch hands every option it
 * does not know to tool_other_option: these two (print, exit 0), or a bad
 * one, which getopt_long has named (usage, exit 2).
 */
#define TOOL_OPT_HELP	 0x7001
#define TOOL_OPT_VERSION 0x7002
#define TOOL_STANDARD_OPTIONS                               \
	{ "help", no_argument, NULL, TOOL_OPT_HELP },       \
	{ "version", no_argument, NULL, TOOL_OPT_VERSION }, \
	{ NULL, 0, NULL, 0 }
_Noreturn void tool_other_option(int opt);

/* A bad command line: message, usage text, exit 2. */
_Noreturn void tool_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The one segment NAME left after the options, or a usage error. */
const char *tool_one_name(int argc, char **argv);


/* Flush standard output; on failure say so on stderr and answer exit status 1. */
int tool_flush(void);

/* A failed operation on segment NAME: "tool: NAME: message", exit 1. */
_Noreturn void tool_fail(const char *name, int err);

/* Print "tool: NAME: message" for ERR and carry on. */
void tool_warn(const char *name, int err);

/*
 * A whole-string unsigned number, with an optional binary suffix k, m or g
 * when SUFFIXES is set.  0 on success, -1 if it is not one or exceeds MAX.
 */
int tool_parse_u64(const char *s, uint64_t max, int suffixes, uint64_t *out);

/* Permission bits in octal, 0 to 0777.  0 on success, -1 otherwise. */
int tool_parse_mode(const char *s, mode_t *out);

#endif /* SHMSLAB_TOOL_H */
