#!/bin/sh
# SPDX-License-Identifier: MIT
# The scripts users run pass shellcheck: a quoting slip in one (an
# apostrophe in an awk comment, say) breaks it only when that line runs.
PLAN=1
. "$top_srcdir/tests/tap.sh"

if ! command -v shellcheck >/dev/null 2>&1; then
	ok "# SKIP shellcheck is not installed (Debian package shellcheck)"
	tap_done
	exit
fi
cd "$top_srcdir" || exit 1
if report=$(shellcheck -x scripts/*.sh .ci/run 2>&1); then
	ok "scripts/*.sh and .ci/run pass shellcheck"
else
	echo "$report" | sed 's/^/# /'
	not_ok "scripts/*.sh and .ci/run pass shellcheck"
fi
tap_done
