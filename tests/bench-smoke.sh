#!/bin/sh
# SPDX-License-Identifier: MIT
# The benchmark runs, small: proof that it works, not a measurement.
PLAN=6
. "$top_srcdir/tests/tap.sh"

bench=$top_builddir/tools/shmslab-bench
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# runs DESCRIPTION ARGS...: the run succeeds and reports a positive ns_per_op
runs() {
	desc=$1
	shift
	if "$bench" "$@" --out "$out" >/dev/null &&
		tail -n 1 "$out" | grep -Eq "^mode=$1 .* ns_per_op=[0-9]+\.[0-9]+$" &&
		! tail -n 1 "$out" | grep -q "ns_per_op=0.000"; then
		ok "$desc"
	else
		not_ok "$desc"
	fi
}

runs "cas baseline" cas 100000
runs "alloc+free, one process" alloc 20000
runs "alloc+free in batches, two processes" alloc 20000 --batch 8 --procs 2
runs "alloc+free, one shard, two processes" alloc 20000 --batch 8 --procs 2 --shards 1
runs "store+read of 4 KiB, two processes" store 5000 --size 4096 --procs 2
"$bench" alloc 10 --batch 2000 --slots 1000 >/dev/null 2>&1
check "a batch larger than the segment is a usage error" test $? -eq 2
tap_done
