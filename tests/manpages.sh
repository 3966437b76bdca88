#!/bin/sh
# SPDX-License-Identifier: MIT
# Every function of the public header has a manual page of its name, which
# make install installs, and which leads to shmslab(3); every page renders.
PLAN=3
. "$top_srcdir/tests/tap.sh"

functions=$(sed -n 's/^SHMSLAB_API .*[ *]\(shmslab_[a-z_]*\)(.*/\1/p' "$top_srcdir/include/shmslab.h" | sort -u)
# the pages the Makefile installs, asked of a make of its own (not a child
# of the make running the tests, whose flags would change what it prints)
installed=$(printf 'print-man3:\n\t@echo $(dist_man3_MANS)\n' |
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		make -s --no-print-directory -C "$top_builddir" -f Makefile -f - print-man3)

missing=
for f in $functions; do
	case " $installed " in *" lib/man/$f.3 "*) ;; *) missing="$missing $f" ;; esac
done
check "every function of the header has a page that make install installs${missing:+ (missing:$missing)}" \
	test -z "$missing"

bad=
for f in $functions; do
	page=$top_srcdir/lib/man/$f.3
	[ -f "$page" ] && grep -qx '\.so man3/shmslab\.3' "$page" || bad="$bad $f"
done
check "each leads to shmslab(3)${bad:+ (not:$bad)}" test -z "$bad"

if command -v groff >/dev/null 2>&1; then
	warnings=$(groff -man -t -ww -z "$top_srcdir/lib/shmslab.3" 2>&1)
	check "shmslab(3) renders without a warning${warnings:+ ($warnings)}" test -z "$warnings"
else
	ok "shmslab(3) renders without a warning # SKIP no groff to render it (scripts/test.sh installs it)"
fi
tap_done
