#!/bin/sh
# SPDX-License-Identifier: MIT
# Install what is missing, build, run the test suite, name every test point
# that failed (with the path of its log) or was skipped (with why), and end
# with one line from the test-suite counts: "N passed, N failed", plus
# ", N skipped" whenever something was skipped.
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

[ $# -eq 0 ] || { echo "usage: scripts/test.sh" >&2; exit 2; }
need_build_packages
need_test_packages
build
say "make check"
log=$top/test-suite.log
rm -f "$log" # a log left by an earlier run must not be counted
status=0
make -j"$(nproc)" --no-print-directory check || status=$?

count() {
	sed -n "s/^# $1: *\([0-9][0-9]*\)\$/\1/p" "$log" | head -n 1
}
# The log of every test this tree runs, as the Makefile lists them.
test_logs() {
	# shellcheck disable=SC2016 # $(TEST_LOGS) is make's, not the shell's
	printf 'print-test-logs:\n\t@echo $(TEST_LOGS)\n' |
		make -s --no-print-directory -f Makefile -f - print-test-logs
}
if [ -f "$log" ]; then
	passed=$(count PASS)
	failed=$(( $(count FAIL) + $(count ERROR) + $(count XPASS) ))
	skipped=$(count SKIP)
else
	passed=0
	failed=1
	skipped=0
fi
logs=$(test_logs)
failures=$(for t in $logs; do
	[ -f "$top/$t" ] || continue
	grep -E '^(FAIL|ERROR|XPASS): ' "$top/$t" | sed "s|\$|    (log: $t)|" || true
done)
skips=$(for t in $logs; do
	[ -f "$top/$t" ] || continue
	grep -E '^SKIP: ' "$top/$t" || true
done)
[ -z "$failures" ] || printf 'Failed:\n%s\n' "$failures"
[ -z "$skips" ] || printf 'Skipped:\n%s\n' "$skips"
[ "$failed" -eq 0 ] || status=1
if [ "${skipped:-0}" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
exit "$status"
