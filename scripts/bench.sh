#!/bin/sh
# SPDX-License-Identifier: MIT
# Benchmark libshmslab's hot paths beside the cost of one uncontended lock
# cmpxchg, all in one run: hyperfine runs each case several times as a whole
# process, shmslab-bench reports ns per operation from inside each run, and
# the table shows medians and the ratios DESIGN.md sets targets for.
#
#   scripts/bench.sh [RUNS]     (default 5 runs per case)
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

runs=${1:-5}
need_build_packages
need_packages hyperfine
build

out=$top/bench-out
rm -rf "$out"
mkdir -p "$out"
bench=$top/tools/shmslab-bench

# case NAME ARGS...: run shmslab-bench ARGS under hyperfine, results in $out/NAME.
case_() {
	name=$1
	shift
	say "$name: shmslab-bench $*"
	hyperfine --style basic --runs "$runs" --warmup 1 \
		--export-csv "$out/$name.csv" -n "$name" \
		"$bench $* --out $out/$name.txt" >"$out/$name.hyperfine" 2>&1 ||
		{ cat "$out/$name.hyperfine"; exit 1; }
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
# Median wall time of a whole run, from hyperfine.
wall() {
	awk -F, 'NR == 2 { printf "%.3f", $4 }' "$out/$1.csv"
}
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
}

cas=$(median cas)
printf '\n%-44s %12s %10s %12s %10s\n' "measure (median of $runs runs)" "ns/op" "ratio" "target" "wall s"
row() {
	printf '%-44s %12.2f %10s %12s %10s\n' "$1" "$2" "$3" "$4" "$5"
}
row "uncontended lock cmpxchg (baseline)" "$cas" "1.00" "" "$(wall cas)"
row "alloc+free, 1 process (kept-back slot)" "$(median kept-1p)" \
	"$(ratio "$(median kept-1p)" "$cas")x" "<= 3x CAS" "$(wall kept-1p)"
row "alloc+free, 1 process (free lists)" "$(median list-1p)" \
	"$(ratio "$(median list-1p)" "$cas")x" "<= 3x CAS" "$(wall list-1p)"
row "alloc+free, 2 processes (kept-back)" "$(median kept-2p)" \
	"$(ratio "$(median kept-1p)" "$(median kept-2p)")x" ">= 1.6x 1p" "$(wall kept-2p)"
row "alloc+free, 2 processes (free lists)" "$(median list-2p)" \
	"$(ratio "$(median list-1p)" "$(median list-2p)")x" ">= 1.6x 1p" "$(wall list-2p)"
row "alloc+free, 2 processes, one shared head" "$(median list-2p-1shard)" \
	"$(ratio "$(median list-1p)" "$(median list-2p-1shard)")x" "(sharding off)" "$(wall list-2p-1shard)"
row "alloc+free, 1 process, 1M slots" "$(median list-1p-1M)" \
	"$(ratio "$(median list-1p-1M)" "$(median list-1p)")x" "<= 2x 1K" "$(wall list-1p-1M)"
row "alloc+free, 8 processes on $(nproc) cores" "$(median list-8p)" \
	"$(ratio "$(median list-2p)" "$(median list-8p)")x" ">= 0.5x 2p" "$(wall list-8p)"
row "store+read 64 B, 1 process" "$(median store-1p)" \
	"$(ratio "$(median store-1p)" "$cas")x" "<= 80 ns" "$(wall store-1p)"
row "store+read 64 B, 2 processes" "$(median store-2p)" \
	"$(ratio "$(median store-1p)" "$(median store-2p)")x" "" "$(wall store-2p)"
echo
echo "ns/op of several processes is aggregate: wall time over all their operations."
echo "Ratios of 2 or 8 processes are throughput against the row they compare with."
echo "Raw results: $out"
