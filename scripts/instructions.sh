#!/bin/sh
# SPDX-License-Identifier: MIT
# Count the instructions one iteration of each hot path costs, with
# callgrind: exact where the clock moves 2-4x from run to run, and where a
# machine has no performance counters.
#
#   scripts/instructions.sh [--against REV]
#
# Each mode of shmslab-bench runs twice under callgrind, for N and 2N
# iterations, in all its processes; the difference over N is what one
# iteration costs, start-up and teardown cancelling out.  alloc: one
# shmslab_alloc and one shmslab_free.  store: one 64-byte shmslab_store and
# one shmslab_read.  handoff: one shmslab_send and one shmslab_recv (a
# revision without that mode shows "-").  With --against, git revision REV is built beside the
# tree and counted the same way.
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

usage() {
	echo "usage: scripts/instructions.sh [--against REV]" >&2
	exit 2
}

against=
while [ $# -gt 0 ]; do
	case $1 in
	--against) [ $# -ge 2 ] || usage; against=$2; shift 2 ;;
	--help) sed -n '3,/^$/s/^# \{0,1\}//p' "$0" | sed '/^shellcheck/,$d'; exit 0 ;;
	*) usage ;;
	esac
done
need_build_packages
need_packages valgrind
build

out=$top/bench-out/instructions
mkdir -p "$out"
[ -z "$against" ] || build_revision "$against" "$out/base"

n=200000

# total TREE MODE ITERATIONS: the instructions all of shmslab-bench's
# processes run.  The libtool wrapper is skipped: it would be counted too.
total() {
	rm -f "$out"/cg.*
	LD_LIBRARY_PATH=$1/lib/.libs valgrind --tool=callgrind --trace-children=yes \
		--callgrind-out-file="$out/cg.%p" "$1/tools/.libs/shmslab-bench" "$2" "$3" \
		>/dev/null 2>"$out/valgrind.log" || { cat "$out/valgrind.log" >&2; exit 1; }
	awk '/^summary:/ { s += $2 } END { print s }' "$out"/cg.*
}

# per_iteration TREE MODE
per_iteration() {
	once=$(total "$1" "$2" "$n")
	twice=$(total "$1" "$2" $((2 * n)))
	awk -v a="$once" -v b="$twice" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / n }'
}

if [ -n "$against" ]; then
	printf '%-14s %12s %12s %8s\n' "per iteration" "this tree" "$against" "change"
else
	printf '%-14s %12s\n' "per iteration" "instructions"
fi
for mode in alloc store handoff; do
	say "$mode" >&2
	here=$(per_iteration "$top" "$mode")
	if [ -n "$against" ] && ! "$out/base/tools/shmslab-bench" "$mode" 1 >/dev/null 2>&1; then
		printf '%-14s %12.1f %12s\n' "$mode" "$here" "-"
	elif [ -n "$against" ]; then
		base=$(per_iteration "$out/base" "$mode")
		awk -v m="$mode" -v h="$here" -v b="$base" \
			'BEGIN { printf "%-14s %12.1f %12.1f %+7.1f%%\n", m, h, b, (h / b - 1) * 100 }'
	else
		printf '%-14s %12s\n' "$mode" "$here"
	fi
done
rm -f "$out"/cg.*
echo "(callgrind, instructions of all processes: (2N - N iterations) / N, N = $n)"
