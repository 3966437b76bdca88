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
# revision without that mode shows "-").  publish, with 1 and with 4
# subscriptions, and sub_recv+sub_release (per subscription): the inclusive
# count of those calls alone over N, out of one run of shmslab-bench pubsub, which
# allocates, publishes, and has each subscription receive and release (a
# revision without publish/subscribe shows "-").  With --against, git
# revision REV is built beside the tree and counted the same way.
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

# calls TREE SUBS ITERATIONS: callgrind's inclusive instructions of
# shmslab_publish, and of shmslab_sub_recv and shmslab_sub_release together,
# over a pubsub run: "PUBLISH RECEIVE".
calls() {
	rm -f "$out"/cg.*
	LD_LIBRARY_PATH=$1/lib/.libs valgrind --tool=callgrind --trace-children=yes \
		--callgrind-out-file="$out/cg.%p" "$1/tools/.libs/shmslab-bench" pubsub "$3" \
		--subs "$2" >/dev/null 2>"$out/valgrind.log" || { cat "$out/valgrind.log" >&2; exit 1; }
	for f in "$out"/cg.*; do
		callgrind_annotate --inclusive=yes --threshold=100 "$f" 2>/dev/null
	done | awk '
		# "COUNT ( PCT%)  FILE:FUNCTION [OBJECT]": a function, or the part of it
		# inlined from another file; calls ("=>") and source lines do not match
		{ gsub(",", "", $1) }
		$4 ~ /:shmslab_publish$/ { p += $1 }
		$4 ~ /:shmslab_sub_(recv|release)$/ { r += $1 }
		END { print p + 0, r + 0 }'
}

# per_call TREE SUBS: "PUBLISH RECEIVE" per publish and per subscription's
# receive+release.  One run: the calls' inclusive counts leave out the
# start-up and teardown already.
per_call() {
	calls "$1" "$2" "$n" | awk -v n="$n" -v s="$2" '{ printf "%.1f %.1f", $1 / n, $2 / (n * s) }'
}

# row LABEL HERE BASE: one line of the table (BASE "-" for a revision without it)
row() {
	if [ -z "$against" ]; then
		printf '%-24s %12s\n' "$1" "$2"
	elif [ "$3" = - ]; then
		printf '%-24s %12.1f %12s\n' "$1" "$2" "-"
	else
		awk -v m="$1" -v h="$2" -v b="$3" \
			'BEGIN { printf "%-24s %12.1f %12.1f %+7.1f%%\n", m, h, b, (h / b - 1) * 100 }'
	fi
}

if [ -n "$against" ]; then
	printf '%-24s %12s %12s %8s\n' "per iteration" "this tree" "$against" "change"
else
	printf '%-24s %12s\n' "per iteration" "instructions"
fi
for mode in alloc store handoff; do
	say "$mode" >&2
	here=$(per_iteration "$top" "$mode")
	base=-
	if [ -n "$against" ] && "$out/base/tools/shmslab-bench" "$mode" 1 >/dev/null 2>&1; then
		base=$(per_iteration "$out/base" "$mode")
	fi
	row "$mode" "$here" "$base"
done
for subs in 1 4; do
	say "publish/subscribe, $subs subscription(s)" >&2
	here=$(per_call "$top" "$subs")
	base="- -"
	if [ -n "$against" ] && "$out/base/tools/shmslab-bench" pubsub 1 >/dev/null 2>&1; then
		base=$(per_call "$out/base" "$subs")
	fi
	row "publish, $subs sub" "${here%% *}" "${base%% *}"
	row "sub_recv+release, $subs sub" "${here##* }" "${base##* }"
done
rm -f "$out"/cg.*
echo "(callgrind, instructions of all processes: (2N - N iterations) / N, N = $n;"
echo " publish and sub_recv+release: the calls' inclusive counts over one run, per call"
echo " and per subscription)"
