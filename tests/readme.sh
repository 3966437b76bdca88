#!/bin/sh
# SPDX-License-Identifier: MIT
# The README's example is the program the tree builds, and its commands for
# the build tree work exactly as written (with a segment name of this test's
# own instead of /demo).
PLAN=4
. "$top_srcdir/tests/tap.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/shmslab-readme.XXXXXX") || exit 1
name=/shmslab-readme-$$
cleanup() {
	status=$?
	"$top_builddir/tools/shmslab-rm" "$name" >/dev/null 2>&1
	rm -rf "$tmp"
	exit $status
}
trap cleanup EXIT

# block N LANG: the Nth fenced block of that language in the README.
block() {
	awk -v want="$1" -v lang="$2" '
		$0 == "```" lang { n++; if (n == want) inside = 1; next }
		/^```/ { inside = 0; next }
		inside' "$top_srcdir/README.md"
}

block 1 c >"$tmp/example.c"
sed '1{/SPDX-License-Identifier/d}' "$top_srcdir/tools/example.c" >"$tmp/tree.c"
check "the README's C example is tools/example.c" cmp -s "$tmp/example.c" "$tmp/tree.c"

# the first sh block after the example is the build tree's
n=$(awk '$0 == "```c" { c = 1 } c && $0 == "```sh" { print NR; exit }' "$top_srcdir/README.md")
sh_before=$(head -n "$n" "$top_srcdir/README.md" | grep -c '^```sh$')
block "$sh_before" sh | sed "s#/demo#$name#g" >"$tmp/commands.sh"
check "the build tree's commands use the tools and the example from tools/" \
	grep -q '^tools/example ' "$tmp/commands.sh"
(cd "$top_builddir" && sh -e "$tmp/commands.sh") >"$tmp/out" 2>"$tmp/err"
rc=$?
check "they run as written (status $rc$(test -s "$tmp/err" && echo ", stderr: $(head -n 1 "$tmp/err")"))" \
	test "$rc" -eq 0
check "and the consumer prints the producer's message" test "$(cat "$tmp/out")" = hello
tap_done
