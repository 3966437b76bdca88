#!/bin/sh
# SPDX-License-Identifier: MIT
# The shared library exports the public API and nothing else.
PLAN=3
. "$top_srcdir/tests/tap.sh"

lib=$top_builddir/lib/.libs/libshmslab.so
if [ ! -f "$lib" ]; then
	ok "# SKIP no shared library built"
	ok "# SKIP no shared library built"
	ok "# SKIP no shared library built"
	tap_done
	exit
fi
symbols=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ { sub(/@.*/, "", $3); print $3 }' | sort -u)
public=$(sed -n 's/^SHMSLAB_API .*[ *]\(shmslab_[a-z_]*\)(.*/\1/p' "$top_srcdir/include/shmslab.h" | sort -u)

stray=$(echo "$symbols" | grep -v '^shmslab_' | grep -v '^SHMSLAB_' || true)
check "only shmslab_* symbols are exported${stray:+ (stray: $stray)}" test -z "$stray"
internal=$(echo "$symbols" | grep '^shmslab__' || true)
check "no internal shmslab__* symbol is exported${internal:+ ($internal)}" test -z "$internal"
missing=$(for f in $public; do echo "$symbols" | grep -qx "$f" || echo "$f"; done)
check "every function of the header is exported${missing:+ (missing: $missing)}" test -z "$missing"
tap_done
