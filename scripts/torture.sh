#!/bin/sh
# SPDX-License-Identifier: MIT
# Run the torture test for longer than make check does: worker processes do
# random operations on one segment while random ones are SIGKILLed and
# replaced; at the end the invariant must hold.
#
#   scripts/torture.sh [--minutes N] [--workers W]     (default 5 minutes, 4 workers)
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

usage() {
	echo "usage: scripts/torture.sh [--minutes N] [--workers W]" >&2
	exit 2
}

minutes=5
workers=4
while [ $# -gt 0 ]; do
	case $1 in
	--minutes) [ $# -ge 2 ] || usage; minutes=$2; shift 2 ;;
	--workers) [ $# -ge 2 ] || usage; workers=$2; shift 2 ;;
	*) usage ;;
	esac
done
for n in "$minutes" "$workers"; do
	case $n in '' | *[!0-9]* | 0*) usage ;; esac
done
need_build_packages
build
make -j"$(nproc)" --no-print-directory tests/torture tests/torture-worker >/dev/null
say "torture: $minutes minutes, $workers workers"
top_builddir=$top "$top/tests/torture" --seconds "$((minutes * 60))" --workers "$workers"
