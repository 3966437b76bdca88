#!/bin/sh
# SPDX-License-Identifier: MIT
# Install what is missing, build, run the test suite, and end with one line:
# "N passed, N failed" (every Check test case and shell test point counts).
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

[ $# -eq 0 ] || { echo "usage: scripts/test.sh" >&2; exit 2; }
need_build_packages
build
say "make check"
log=$top/test-suite.log
rm -f "$log" # a log left by an earlier run must not be counted
status=0
make -j"$(nproc)" --no-print-directory check || status=$?

count() {
	sed -n "s/^# $1: *\([0-9][0-9]*\)\$/\1/p" "$log" | head -n 1
}
if [ -f "$log" ]; then
	passed=$(count PASS)
	failed=$(( $(count FAIL) + $(count ERROR) + $(count XPASS) ))
else
	passed=0
	failed=1
fi
[ "$failed" -eq 0 ] || status=1
echo "$passed passed, $failed failed"
exit "$status"
