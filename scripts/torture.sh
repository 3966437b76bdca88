#!/bin/sh
# SPDX-License-Identifier: MIT
# Run the torture test for longer than make check does: worker processes do
# random operations on one segment while random ones are SIGKILLed and
# replaced; at the end the invariant must hold.
#
#   scripts/torture.sh [--minutes N] [--workers W] [--seed S]
#                      (default 5 minutes, 4 workers, a seed of the run's own)
#
# Exits 1 if any point of the test failed, naming each, with the seed and the
# last kills that let the same schedule run again.
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

usage() {
	echo "usage: scripts/torture.sh [--minutes N] [--workers W] [--seed S]" >&2
	exit 2
}

minutes=5
workers=4
seed=
while [ $# -gt 0 ]; do
	case $1 in
	--minutes) [ $# -ge 2 ] || usage; minutes=$2; shift 2 ;;
	--workers) [ $# -ge 2 ] || usage; workers=$2; shift 2 ;;
	--seed) [ $# -ge 2 ] || usage; seed=$2; shift 2 ;;
	*) usage ;;
	esac
done
for n in "$minutes" "$workers"; do
	case $n in '' | *[!0-9]* | 0*) usage ;; esac
done
case $seed in *[!0-9]*) usage ;; esac
need_build_packages
build
make -j"$(nproc)" --no-print-directory tests/torture tests/torture-worker >/dev/null
say "torture: $minutes minutes, $workers workers"
log=$top/torture-out.log
status=0
top_builddir=$top "$top/tests/torture" --seconds "$((minutes * 60))" --workers "$workers" \
	${seed:+--seed "$seed"} >"$log" || status=$?
cat "$log"
if [ "$status" -ne 0 ] || grep -q '^not ok' "$log" || ! grep -q '^ok 4 ' "$log"; then
	echo "torture FAILED (exit status $status):" >&2
	grep '^not ok' "$log" >&2 || echo "  the run did not finish its four points" >&2
	grep '^# ' "$log" >&2 || true
	exit 1
fi
say "torture passed: every point ok (output in $log)"
