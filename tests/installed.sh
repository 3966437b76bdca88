#!/bin/sh
# SPDX-License-Identifier: MIT
# make installcheck: the installed copy works as the README says.  The tools
# run as installed, every function has its manual page, and the README's
# example builds with pkg-config and passes a message through the installed
# tools.  Run with bindir, libdir, pkgconfigdir, man3dir and top_srcdir set.
PLAN=4
TAP_STANDALONE=1
. "$top_srcdir/tests/tap.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/shmslab-installed.XXXXXX") || exit 1
name=/shmslab-installed-$$
cleanup() {
	status=$?
	"$bindir/shmslab-rm" "$name" >/dev/null 2>&1
	rm -rf "$tmp"
	exit $status
}
trap cleanup EXIT

bad=
for tool in shmslab-create shmslab-stat shmslab-rm shmslab-send shmslab-recv; do
	"$bindir/$tool" --version >/dev/null 2>&1 || bad="$bad $tool"
done
check "every installed tool runs${bad:+ (not:$bad)}" test -z "$bad"

missing=
for f in $(sed -n 's/^SHMSLAB_API .*[ *]\(shmslab_[a-z_]*\)(.*/\1/p' "$top_srcdir/include/shmslab.h"); do
	[ -f "$man3dir/$f.3" ] || missing="$missing $f"
done
check "every function has its installed manual page${missing:+ (missing:$missing)}" test -z "$missing"

# The README's commands for the installed library, in a directory of our own.
awk '$0 == "```c" { inside = 1; next } /^```/ { inside = 0 } inside' \
	"$top_srcdir/README.md" >"$tmp/example.c"
n=$(grep -n '^cc example.c' "$top_srcdir/README.md" | head -n 1 | cut -d: -f1)
awk -v from="$n" 'NR >= from && /^```/ { exit } NR >= from' "$top_srcdir/README.md" |
	sed "s#/demo#$name#g" >"$tmp/commands.sh"
# a prefix the loader does not search needs LD_LIBRARY_PATH, as the README says
if ! { /sbin/ldconfig -p 2>/dev/null || ldconfig -p 2>/dev/null; } | grep -q " => $libdir/libshmslab\.so"; then
	LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
	export LD_LIBRARY_PATH
fi
(cd "$tmp" && PATH=$bindir:$PATH PKG_CONFIG_PATH=$pkgconfigdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH} \
	sh -e commands.sh) >"$tmp/out" 2>"$tmp/err"
rc=$?
check "the README's commands for the installed library run (status $rc$(test -s "$tmp/err" && echo ", stderr: $(head -n 1 "$tmp/err")"))" \
	test "$rc" -eq 0
check "and the consumer prints the producer's message" test "$(cat "$tmp/out")" = hello
tap_done
