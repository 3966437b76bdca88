#!/bin/sh
# SPDX-License-Identifier: MIT
# The benchmark runs, small: proof that it works, not a measurement.  The
# points of Boost's queue are there where it was built in (configure found
# it); iceoryx needs a RouDi, which scripts/bench.sh starts, so it is left
# to that script.
bench=$top_builddir/tools/shmslab-bench
transports=$("$bench" --list-transports)
boost=
PLAN=32
if echo "$transports" | grep -qx boost; then
	boost=boost
	PLAN=$((PLAN + 2))
fi
. "$top_srcdir/tests/tap.sh"

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
runs "send+recv, two processes on one queue" handoff 20000 --procs 2
"$bench" alloc 10 --batch 2000 --slots 1000 >/dev/null 2>&1
check "a batch larger than the segment is a usage error" test $? -eq 2

# latency TRANSPORT: a run succeeds with ordered, positive percentiles (the
# program itself checks that every message came back with the value sent)
latency() {
	if "$bench" latency 50 --batch 4 --transport "$1" --out "$out" >/dev/null &&
		tail -n 1 "$out" | awk -v t="$1" '
			{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
			END { exit !(v["mode"] == "latency" && v["transport"] == t &&
				v["samples"] == 50 && v["p50_ns"] > 0 && v["p50_ns"] <= v["p99_ns"] &&
				v["p99_ns"] <= v["p999_ns"] && v["p999_ns"] <= v["max_ns"]) }'; then
		ok "one-way latency through $1"
	else
		not_ok "one-way latency through $1"
	fi
}

# stream TRANSPORT SIZE: every message arrives, once and in order (the
# program checks their sequence numbers), and a rate is reported
stream() {
	if "$bench" stream 3000 --transport "$1" --size "$2" --out "$out" >/dev/null &&
		tail -n 1 "$out" |
		grep -Eq "^mode=stream transport=$1 size=$2 read=$2 burst=1 count=3000 msgs_per_s=[1-9][0-9]* "; then
		ok "streaming $2-byte messages through $1"
	else
		not_ok "streaming $2-byte messages through $1"
	fi
}

check "the transports built in are listed, the ones always there among them" \
	test "$(echo "$transports" | grep -cxE 'shmslab|shmslab-zc|pipe|unix|mq|cacheline|ring')" -eq 7
for transport in shmslab shmslab-zc pipe unix mq cacheline $boost; do
	latency "$transport"
done
stream shmslab 64
stream shmslab 4096
stream shmslab-zc 4096
stream ring 64
stream ring 4096
stream pipe 4096
stream mq 64
[ -z "$boost" ] || stream boost 64
"$bench" stream 3000 --transport shmslab-zc --size 4096 --read 64 --out "$out" >/dev/null
check "zero-copy streaming that reads a 64-byte header of each message" \
	grep -Eq "^mode=stream transport=shmslab-zc size=4096 read=64 burst=1 count=3000 msgs_per_s=[1-9]" "$out"
# bursts of a size that does not divide the count: the last one is short
for transport in shmslab shmslab-zc; do
	"$bench" stream 3001 --transport "$transport" --burst 32 --out "$out" >/dev/null
	check "streaming in bursts of 32 through $transport" \
		grep -Eq "^mode=stream transport=$transport size=64 read=64 burst=32 count=3001 msgs_per_s=[1-9]" "$out"
done
"$bench" stream 10 --transport pipe --burst 4 >/dev/null 2>&1
check "--burst but through libshmslab is a usage error" test $? -eq 2
"$bench" stream 10 --burst 257 >/dev/null 2>&1
check "a burst beyond 256 is a usage error" test $? -eq 2
"$bench" stream 10 --transport cacheline >/dev/null 2>&1
check "streaming through the cache line floor is a usage error" test $? -eq 2
"$bench" latency 10 --transport ring >/dev/null 2>&1
check "latency through the bare ring is a usage error" test $? -eq 2
"$bench" stream 10 --transport shmslab --read 8 >/dev/null 2>&1
check "--read but through shmslab-zc is a usage error" test $? -eq 2
# fan-out: every subscriber gets every message in order (the program checks)
for subs in 1 3; do
	"$bench" fanout 3000 --transport shmslab-zc --subs "$subs" --size 4096 --out "$out" >/dev/null
	check "fan-out to $subs subscribers" \
		grep -Eq "^mode=fanout transport=shmslab-zc size=4096 subs=$subs count=3000 pub_ns_per_msg=[0-9.]+ pub_busy_ns_per_msg=[0-9.]+ sub_msgs_per_s_min=[1-9]" "$out"
done
"$bench" fanout 10 --transport pipe >/dev/null 2>&1
check "fan-out through a pipe is a usage error" test $? -eq 2
tap_done
