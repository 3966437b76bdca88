#!/bin/sh
# SPDX-License-Identifier: MIT
# Benchmark libshmslab's hot paths beside the cost of one uncontended lock
# cmpxchg, all in one run: hyperfine runs each case several times as a whole
# process, shmslab-bench reports ns per operation from inside each run, and
# the table shows medians and the ratios DESIGN.md sets targets for.
#
#   scripts/bench.sh [--against REV] [--only slab|queue|fanout] [RUNS]   (default 5 runs)
#
# slab: alloc+free and store+read against one lock cmpxchg.  queue: one-way
# latency percentiles (ping-pong) and streaming throughput of libshmslab,
# copying and zero-copy, beside what a user would pick instead (a pipe, a
# Unix socket pair, a POSIX message queue, Boost.Interprocess's
# message_queue, iceoryx with a RouDi of its own) and the limits: the floor
# of latency, the message itself bounced between two processes, and the
# limit of streaming, a bare single-producer ring.  It installs the peers and
# gnuplot with apt-get where Debian has them, and leaves out, saying so, any
# it cannot have; the figures go to bench-out/latency.png and stream.png.
# fanout: publish/subscribe, one publisher and 1, 2 and 4 subscriber
# processes, zero-copy, at 64 B and 4 KiB: the publisher's cost per message
# and each subscriber's rate, beside the queue's 1:1 rate and iceoryx's 1:N
# in the same run.
#
# With --against, git revision REV is built beside the tree and each case runs
# on both builds, alternating run by run (which build goes first alternates
# too), so that load that comes and goes on a shared machine falls on both
# alike; the tables show what a change costs, measured in one run: every
# row of the slab, and libshmslab's latency and streaming rows of the queue.
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

# Whether shmslab-bench was built with transport T.
built() {
	"$bench" --list-transports | grep -qx "$1"
}

usage() {
	echo "usage: scripts/bench.sh [--against REV] [--only slab|queue|fanout] [RUNS]" >&2
	exit 2
}

against=
only=
while [ $# -gt 0 ]; do
	case $1 in
	--against) [ $# -ge 2 ] || usage; against=$2; shift 2 ;;
	--only) [ $# -ge 2 ] || usage; only=$2; shift 2 ;;
	--help) sed -n '3,/^$/s/^# \{0,1\}//p' "$0" | sed '/^shellcheck/,$d'; exit 0 ;;
	-*) usage ;;
	*) break ;;
	esac
done
runs=${1:-5}
[ $# -le 1 ] || usage
case $only in '' | slab | queue | fanout) ;; *) usage ;; esac
case $runs in '' | *[!0-9]* | 0*) usage ;; esac
need_build_packages
need_packages hyperfine
# the peers and the figures: measured and drawn where Debian has them
want_packages libboost-dev iceoryx libiceoryx-binding-c-dev gnuplot-nox
build
bench=$top/tools/shmslab-bench
# a tree configured before the peers were installed does not build them yet
if { installed libboost-dev && ! built boost; } ||
	{ installed libiceoryx-binding-c-dev && ! built iceoryx; }; then
	say "configure again, for the peers installed since"
	(cd "$top" && ./config.status --recheck >/dev/null && ./config.status >/dev/null)
	build
fi

out=$top/bench-out
rm -rf "$out"
mkdir -p "$out"

[ -z "$against" ] || build_revision "$against" "$out/base"

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


# iceoryx needs its daemon: ours, started here with mempools for 64-byte and
# 4 KiB messages and stopped by its PID, never one somebody else runs.
roudi=
start_roudi() {
	built iceoryx || return 1
	if pgrep -x iox-roudi >/dev/null 2>&1; then
		echo "(an iox-roudi that is not ours is running: iceoryx left out)"
		return 1
	fi
	# what a RouDi killed before its clean shutdown leaves, under iceoryx's
	# fixed names; none can be in use, since no RouDi runs
	rm -f /dev/shm/iceoryx_mgmt "/dev/shm/$(id -gn)" /tmp/roudi /tmp/roudi.lock \
		/tmp/iox-unique-roudi.lock
	cat >"$out/roudi.toml" <<-TOML
	[general]
	version = 1
	[[segment]]
	[[segment.mempool]]
	size = 256
	count = 4096
	[[segment.mempool]]
	size = 8192
	count = 1024
	TOML
	# monitoring off: on a loaded machine it takes a process slow to send
	# its keepalive for dead and removes it, in the middle of a run
	iox-roudi -c "$out/roudi.toml" -l warning -m off >"$out/roudi.log" 2>&1 &
	roudi=$!
	# it says when it is ready; 30 s is far more than it ever takes
	for _ in $(seq 300); do
		grep -q "RouDi is ready for clients" "$out/roudi.log" && return 0
		kill -0 "$roudi" 2>/dev/null || break
		sleep 0.1
	done
	echo "(iox-roudi did not start, iceoryx left out: $out/roudi.log)"
	stop_roudi
	return 1
}
stop_roudi() {
	[ -n "$roudi" ] || return 0
	kill -TERM "$roudi" 2>/dev/null || true
	wait "$roudi" 2>/dev/null || true
	roudi=
}
trap stop_roudi EXIT

# The queue: latency percentiles, then streaming under hyperfine, beside
# the peers and the limits.
queue_section() {
	stream_count=1000000
	peers="pipe unix mq"
	built boost && peers="$peers boost" || echo "(Boost.Interprocess not built in: left out)"
	start_roudi && peers="$peers iceoryx"
	latency_transports="cacheline shmslab shmslab-zc $peers"
	printf '\n%-11s %9s %9s %9s %9s %10s %12s\n' "one-way" "p50 ns" "p99 ns" "p99.9 ns" \
		"max ns" "p50/floor" "p99.9/floor"
	for t in $latency_transports; do
		"$bench" latency 20000 --transport "$t" --size 64 --out "$out/latency-$t.txt" >/dev/null ||
			exit 1
	done
	for t in $latency_transports; do
		awk -v t="$t" -v floor="$out/latency-cacheline.txt" '
			function read(file, v,   line, i, kv, n, f) {
				getline line <file
				n = split(line, f, " ")
				for (i = 1; i <= n; i++) { split(f[i], kv, "="); v[kv[1]] = kv[2] }
			}
			BEGIN {
				read(floor, fl)
				close(floor) # the floor row reads the same file again
				read(ARGV[1], v)
				printf "%-11s %9d %9d %9d %9d %9.2fx %11.2fx\n", t, v["p50_ns"],
					v["p99_ns"], v["p999_ns"], v["max_ns"], v["p50_ns"] / fl["p50_ns"],
					v["p999_ns"] / fl["p999_ns"]
			}' "$out/latency-$t.txt"
	done
	echo "(64 B, ping-pong between two processes on two CPUs, round trip / 2, 20000 samples"
	echo " of 100 round trips; the floor, cacheline, is the 64-byte message itself bounced"
	echo " between them, its sequence number the flag; libshmslab's and iceoryx's receivers"
	echo " poll, the others block in the kernel or on a process-shared condition variable)"

	# name=transport[:options]; zc-hdr reads a 64-byte header of a 4 KiB message in place
	for size in 64 4096; do
		say "streaming $size-byte messages: hyperfine, $runs runs per transport"
		set --
		for t in ring shmslab shmslab-zc $peers; do
			set -- "$@" -n "$t" "$bench stream $stream_count --transport $t --size $size --out $out/stream-$t-$size.txt"
		done
		# bursts of 32: alloc_many, send_many, recv_many
		set -- "$@" -n "shmslab-b32" "$bench stream $stream_count --transport shmslab --size $size --burst 32 --out $out/stream-shmslab-b32-$size.txt"
		set -- "$@" -n "zc-b32" "$bench stream $stream_count --transport shmslab-zc --size $size --burst 32 --out $out/stream-zc-b32-$size.txt"
		[ "$size" = 64 ] ||
			set -- "$@" -n "zc-header" "$bench stream $stream_count --transport shmslab-zc --size $size --read 64 --out $out/stream-zc-header-$size.txt"
		hyperfine --style basic --runs "$runs" --warmup 1 --export-csv "$out/stream-$size.csv" \
			"$@" >"$out/stream-$size.hyperfine" 2>&1 || { cat "$out/stream-$size.hyperfine"; exit 1; }
	done
	printf '\n%-11s %5s %12s %12s %8s %8s %8s %8s\n' "stream" "size" "msgs/s (run)" \
		"msgs/s (in)" "vs pipe" "vs mq" "vs iox" "of ring"
	for size in 64 4096; do
		# msgs/s of a whole run: messages over hyperfine's median wall time;
		# (in): the median of what the runs measured from their first message
		names=$(awk -F, 'NR > 1 { print $1 }' "$out/stream-$size.csv")
		for t in $names; do
			printf '%s %s %s\n' "$t" \
				"$(awk -F, -v t="$t" -v n="$stream_count" '$1 == t { print n / $4 }' "$out/stream-$size.csv")" \
				"$(median "stream-$t-$size" msgs_per_s)"
		done | awk -v size="$size" '
			{ order[++k] = $1; run[$1] = $2; inside[$1] = $3 }
			END {
				for (i = 1; i <= k; i++) {
					t = order[i]
					iox = "iceoryx" in run ? sprintf("%7.2fx", run[t] / run["iceoryx"]) : "-"
					printf "%-11s %5d %12.0f %12.0f %7.2fx %7.2fx %8s %7.2fx\n", t, size,
						run[t], inside[t], run[t] / run["pipe"], run[t] / run["mq"], iox,
						run[t] / run["ring"]
				}
			}'
	done
	echo "(msgs/s (run): $stream_count messages over the median wall time of a whole process"
	echo " run, start-up included; (in): measured inside, from the first message on."
	echo " ring: the limit, a bare single-producer ring, copies in and out, no allocation and"
	echo " no crash safety; shmslab-zc writes and reads in place; -b32: in bursts of 32"
	echo " (alloc_many, send_many, recv_many); zc-header reads only a"
	echo " 64-byte header of each 4 KiB message; a pipe has a 1 MiB buffer, Boost's queue"
	echo " and libshmslab's hold 1024 messages, iceoryx's 256, a POSIX queue 10)"
	stop_roudi
	[ -z "$against" ] || queue_against
	plot
}

# With --against: libshmslab's queue on both builds, alternating run by run.
queue_against() {
	case_ queue-latency latency 20000 --transport shmslab --size 64
	case_ queue-stream-64 stream "$stream_count" --transport shmslab --size 64
	case_ queue-stream-4096 stream "$stream_count" --transport shmslab --size 4096
	# a revision before the bursts refuses --burst: those rows are left out then
	bursts=
	if "$out/base/tools/shmslab-bench" stream 2 --burst 2 >/dev/null 2>&1; then
		bursts=yes
		case_ queue-stream-64-b32 stream "$stream_count" --transport shmslab --size 64 --burst 32
	fi
	printf '\n%-44s %10s %10s %10s\n' "libshmslab's queue (median of $runs runs)" "this tree" \
		"$against" "change"
	# qrow LABEL CASE KEY
	qrow() {
		printf '%-44s %10.0f %10.0f %10s\n' "$1" "$(median "$2" "$3")" "$(median "$2-base" "$3")" \
			"$(change "$2" "$3")"
	}
	qrow "one-way p50 ns, 64 B" queue-latency p50_ns
	qrow "one-way p99 ns, 64 B" queue-latency p99_ns
	qrow "stream msgs/s (in), 64 B" queue-stream-64 msgs_per_s
	qrow "stream msgs/s (in), 4096 B" queue-stream-4096 msgs_per_s
	[ -z "$bursts" ] || qrow "stream msgs/s (in), 64 B, bursts of 32" queue-stream-64-b32 msgs_per_s
	echo "(slower is + for latency, - for msgs/s)"
}

# Draw the queue's tables as figures, where gnuplot could be installed.
plot() {
	command -v gnuplot >/dev/null 2>&1 || { echo "(no gnuplot: no figures drawn)"; return 0; }
	for t in $latency_transports; do
		sed -n "s/.*p50_ns=\([0-9]*\) p99_ns=\([0-9]*\) p999_ns=\([0-9]*\) max_ns=\([0-9]*\).*/$t \1 \2 \3 \4/p" \
			"$out/latency-$t.txt"
	done >"$out/latency.dat"
	for t in ring shmslab shmslab-zc $peers; do
		printf '%s %s %s\n' "$t" \
			"$(awk -F, -v t="$t" -v n="$stream_count" '$1 == t { print n / $4 }' "$out/stream-64.csv")" \
			"$(awk -F, -v t="$t" -v n="$stream_count" '$1 == t { print n / $4 }' "$out/stream-4096.csv")"
	done >"$out/stream.dat"
	gnuplot <<PLOT
set terminal png size 1000,500
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set grid ytics
set key outside right top
set logscale y
set output "$out/latency.png"
set title "one-way latency of a 64-byte message (ns, log scale)"
plot "$out/latency.dat" using 2:xtic(1) title "p50", "" using 3 title "p99", \
     "" using 4 title "p99.9", "" using 5 title "max"
set output "$out/stream.png"
set title "messages per second, producer to consumer (log scale)"
plot "$out/stream.dat" using 2:xtic(1) title "64 B", "" using 3 title "4 KiB"
PLOT
	echo "figures: $out/latency.png $out/stream.png"
}

# median NAME [KEY]: the median of KEY (default ns_per_op) over the result
# lines of case NAME, the warmup run left out.
median() {
	sed -n "s/.*${2:-ns_per_op}=\\([0-9.]*\\).*/\\1/p" "$out/$1.txt" | tail -n "$runs" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# Median wall time of a whole run of case NAME, from hyperfine.
wall() {
	awk -F, -v n="$1" '$1 == n { printf "%.3f", $4 }' "$out/$1.csv"
}
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
}
# change NAME [KEY]: how much case NAME's median moved from the other build's.
change() {
	awk -v a="$(median "$1" "${2:-}")" -v b="$(median "$1-base" "${2:-}")" \
		'BEGIN { printf "%+.1f%%", (a / b - 1) * 100 }'
}

# The slab: alloc+free and store+read against one lock cmpxchg.
slab_section() {
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
			printf '%-44s %10.2f %10s %12s %10.2f %10s\n' "$1" "$(median "$2")" "$3" "$4" \
				"$(median "$2-base")" "$(change "$2")"
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
}

# Publish/subscribe: fan-out to 1, 2 and 4 subscribers, zero-copy, beside the
# queue's 1:1 stream and iceoryx's 1:N, every case once per run in turn, so
# that the machine's noise falls on all of them alike.
fanout_section() {
	fan_count=200000
	fan_peers=
	start_roudi && fan_peers=iceoryx
	say "fan-out: $runs runs of each, $fan_count messages, in turn"
	for r in $(seq 0 "$runs"); do
		for size in 64 4096; do
			# the queue's consumer reads what a subscriber reads: 8 bytes in place
			"$bench" stream "$fan_count" --transport shmslab-zc --size "$size" --read 8 \
				--out "$out/fan-queue-$size.txt" >/dev/null || exit 1
			for subs in 1 2 4; do
				"$bench" fanout "$fan_count" --transport shmslab-zc --size "$size" \
					--subs "$subs" --out "$out/fan-shmslab-zc-$size-$subs.txt" >/dev/null || exit 1
				[ -n "$fan_peers" ] || continue
				# a peer that fails or hangs twice (iceoryx's runtime can, when
				# RouDi loses a slow process) is left out, not the whole run
				set -- fanout "$fan_count" --transport iceoryx --size "$size" --subs "$subs" \
					--out "$out/fan-iceoryx-$size-$subs.txt"
				if ! timeout 120 "$bench" "$@" >/dev/null && ! timeout 120 "$bench" "$@" >/dev/null; then
					echo "(iceoryx's fan-out failed or hung, with $subs subscribers of $size B: left out)"
					fan_peers=
				fi
			done
		done
		[ "$r" -gt 0 ] || say "(a first run of each, left out of the medians, warmed up)"
	done
	stop_roudi
	printf '\n%-11s %5s %4s %11s %12s %14s %9s %8s\n' "fan-out" "size" "subs" "pub ns/msg" \
		"pub busy ns" "sub msgs/s min" "vs 1:1 q" "vs iox"
	for size in 64 4096; do
		queue=$(median "fan-queue-$size" msgs_per_s)
		for subs in 1 2 4; do
			for t in shmslab-zc $fan_peers; do
				c=fan-$t-$size-$subs
				iox=-
				[ -z "$fan_peers" ] ||
					iox=$(ratio "$(median "$c" sub_msgs_per_s_min)" \
						"$(median "fan-iceoryx-$size-$subs" sub_msgs_per_s_min)")x
				printf '%-11s %5d %4d %11.0f %12.0f %14.0f %8sx %8s\n' "$t" "$size" "$subs" \
					"$(median "$c" pub_ns_per_msg)" "$(median "$c" pub_busy_ns_per_msg)" \
					"$(median "$c" sub_msgs_per_s_min)" \
					"$(ratio "$(median "$c" sub_msgs_per_s_min)" "$queue")" "$iox"
			done
		done
		printf '%-11s %5d %4s %11s %12s %14.0f\n' "queue 1:1" "$size" "-" "-" "-" "$queue"
		printf '%-44s %s (target <= 1.5x)\n' "  publisher's busy cost, 4 subscribers / 1:" \
			"$(ratio "$(median "fan-shmslab-zc-$size-4" pub_busy_ns_per_msg)" \
				"$(median "fan-shmslab-zc-$size-1" pub_busy_ns_per_msg)")x"
	done
	echo "(medians of $runs runs; one publisher on CPU 0 and its subscribers on CPU 1 of"
	echo " $(nproc); pub ns/msg: the publisher's wall time per message, waits for room"
	echo " included; pub busy ns: its time inside the calls that succeeded (alloc, write in"
	echo " place, publish; timed on one message in 16), waits for a slot or for room left"
	echo " out (iceoryx's publisher"
	echo " blocks inside its call: both the same); sub msgs/s min: the slowest subscriber,"
	echo " reading each message's first 8 bytes in place; vs 1:1 q: that against the queue's"
	echo " zero-copy stream of the same size, its consumer reading 8 bytes too, in the same"
	echo " run; vs iox: against iceoryx's"
	echo " slowest subscriber with as many subscribers)"
}

case $only in
slab) slab_section ;;
queue) queue_section ;;
fanout) fanout_section ;;
*)
	slab_section
	queue_section
	fanout_section
	;;
esac
echo "Raw results: $out"
