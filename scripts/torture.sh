#!/bin/sh
# SPDX-License-Identifier: MIT
# Run the torture test for longer than make check does: worker processes do
# random operations on one segment while random ones are SIGKILLed and
# replaced; at the end the invariant must hold.
#
#   scripts/torture.sh [--minutes N] [--workers W]     (default 5 minutes, 4 workers)
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

minutes=5
workers=4
while [ $# -gt 0 ]; do
	case $1 in
	--minutes) minutes=${2:?--minutes needs a number}; shift 2 ;;
	--workers) workers=${2:?--workers needs a number}; shift 2 ;;
	*) echo "usage: scripts/torture.sh [--minutes N] [--workers W]" >&2; exit 2 ;;
	esac
done
need_build_packages
build
make -j"$(nproc)" --no-print-directory tests/torture tests/torture-worker >/dev/null
say "torture: $minutes minutes, $workers workers"
top_builddir=$top "$top/tests/torture" --seconds "$((minutes * 60))" --workers "$workers"
