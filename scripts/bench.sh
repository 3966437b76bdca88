#!/bin/sh
# SPDX-License-Identifier: MIT
# Benchmark libshmslab's hot paths beside the cost of one uncontended lock
# cmpxchg, all in one run: hyperfine runs each case several times as a whole
# process, shmslab-bench reports ns per operation from inside each run, and
# the table shows medians and the ratios DESIGN.md sets targets for.
#
#   scripts/bench.sh [--against REV] [RUNS]     (default 5 runs per case)
#
# With --against, git revision REV is built beside the tree and each case runs
# on both builds, alternating run by run (which build goes first alternates
# too), so that load that comes and goes on a shared machine falls on both
# alike; the table shows what a change costs, measured in one run.
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

against=
if [ "${1:-}" = --against ]; then
	against=${2:?--against needs a git revision}
	shift 2
fi
runs=${1:-5}
need_build_packages
need_packages hyperfine
build

out=$top/bench-out
rm -rf "$out"
mkdir -p "$out"
bench=$top/tools/shmslab-bench

if [ -n "$against" ]; then
	need_packages git
	say "building $against for comparison"
	git -C "$top" archive --format=tar --prefix=base/ "$against" | tar -x -C "$out"
	(cd "$out/base" && autoreconf -fi >/dev/null 2>&1 && ./configure --quiet >/dev/null &&
		make -j"$(nproc)" >/dev/null 2>&1) || { echo "error: $against does not build" >&2; exit 1; }
fi

# case NAME ARGS...: run shmslab-bench ARGS under hyperfine, results in
# $out/NAME.txt (and $out/NAME-base.txt for the --against build).
case_() {
	name=$1
	shift
	say "$name: shmslab-bench $*"
	if [ -n "$against" ]; then
		# a first run of each, left out of the medians, warms caches and pages
		for r in $(seq 0 "$runs"); do
			first=$bench second=$out/base/tools/shmslab-bench f=$name s=$name-base
			if [ $((r % 2)) -eq 1 ]; then
				first=$out/base/tools/shmslab-bench second=$bench f=$name-base s=$name
			fi
			"$first" "$@" --out "$out/$f.txt" >/dev/null &&
				"$second" "$@" --out "$out/$s.txt" >/dev/null || exit 1
		done
	else
		hyperfine --style basic --runs "$runs" --warmup 1 --export-csv "$out/$name.csv" \
			-n "$name" "$bench $* --out $out/$name.txt" \
			>"$out/$name.hyperfine" 2>&1 || { cat "$out/$name.hyperfine"; exit 1; }
	fi
}

case_ cas cas 100000000
case_ kept-1p alloc 20000000
case_ kept-2p alloc 20000000 --procs 2
case_ list-1p alloc 10000000 --batch 16
case_ list-2p alloc 10000000 --batch 16 --procs 2
case_ list-2p-1shard alloc 10000000 --batch 16 --procs 2 --shards 1
case_ list-1p-1M alloc 10000000 --batch 16 --slots 1M
case_ list-8p alloc 5000000 --batch 16 --procs 8
case_ store-1p store 10000000 --size 64
case_ store-2p store 10000000 --size 64 --procs 2

# The median ns_per_op of case NAME (the warmup run is left out).
median() {
	sed -n 's/.*ns_per_op=\([0-9.]*\).*/\1/p' "$out/$1.txt" | tail -n "$runs" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# Median wall time of a whole run of case NAME, from hyperfine.
wall() {
	awk -F, -v n="$1" '$1 == n { printf "%.3f", $4 }' "$out/$1.csv"
}
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
}

cas=$(median cas)
if [ -n "$against" ]; then
	printf '\n%-44s %10s %10s %12s %10s %10s\n' "measure (median of $runs runs)" "ns/op" \
		"ratio" "target" "$against" "change"
else
	printf '\n%-44s %10s %10s %12s %10s\n' "measure (median of $runs runs)" "ns/op" "ratio" \
		"target" "wall s"
fi
# row LABEL CASE RATIO TARGET: one line of the table; with --against, the
# other build's median and the change, else the median wall time of a run.
row() {
	if [ -n "$against" ]; then
		base=$(median "$2-base")
		printf '%-44s %10.2f %10s %12s %10.2f %+9.1f%%\n' "$1" "$(median "$2")" "$3" "$4" \
			"$base" "$(awk -v a="$(median "$2")" -v b="$base" 'BEGIN { print (a / b - 1) * 100 }')"
	else
		printf '%-44s %10.2f %10s %12s %10s\n' "$1" "$(median "$2")" "$3" "$4" "$(wall "$2")"
	fi
}
row "uncontended lock cmpxchg (baseline)" cas "1.00" ""
row "alloc+free, 1 process (kept-back slot)" kept-1p \
	"$(ratio "$(median kept-1p)" "$cas")x" "<= 3x CAS"
row "alloc+free, 1 process (free lists)" list-1p \
	"$(ratio "$(median list-1p)" "$cas")x" "<= 3x CAS"
row "alloc+free, 2 processes (kept-back)" kept-2p \
	"$(ratio "$(median kept-1p)" "$(median kept-2p)")x" ">= 1.6x 1p"
row "alloc+free, 2 processes (free lists)" list-2p \
	"$(ratio "$(median list-1p)" "$(median list-2p)")x" ">= 1.6x 1p"
row "alloc+free, 2 processes, one shared head" list-2p-1shard \
	"$(ratio "$(median list-1p)" "$(median list-2p-1shard)")x" "(sharding off)"
row "alloc+free, 1 process, 1M slots" list-1p-1M \
	"$(ratio "$(median list-1p-1M)" "$(median list-1p)")x" "<= 2x 1K"
row "alloc+free, 8 processes on $(nproc) cores" list-8p \
	"$(ratio "$(median list-2p)" "$(median list-8p)")x" ">= 0.5x 2p"
row "store+read 64 B, 1 process" store-1p \
	"$(ratio "$(median store-1p)" "$cas")x" "<= 80 ns"
row "store+read 64 B, 2 processes" store-2p \
	"$(ratio "$(median store-1p)" "$(median store-2p)")x" ""
echo
echo "ns/op of several processes is aggregate: wall time over all their operations."
echo "Ratios of 2 or 8 processes are throughput against the row they compare with."
echo "Raw results: $out"
