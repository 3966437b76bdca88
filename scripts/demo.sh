#!/bin/sh
# SPDX-License-Identifier: MIT
# Install what is missing, build, create a segment, run a consumer and a
# producer as separate programs that pass messages through the segment's
# queue, then a publisher and two subscribers that each get every message,
# show shmslab-stat, and remove the segment.
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

[ $# -eq 0 ] || { echo "usage: scripts/demo.sh" >&2; exit 2; }
need_build_packages
build

name=/shmslab-demo-$$
consumer=
subscribers=
cleanup() {
	[ -n "$consumer" ] && kill "$consumer" 2>/dev/null
	for pid in $subscribers; do kill "$pid" 2>/dev/null; done
	"$top/tools/shmslab-rm" "$name" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

say "shmslab-create $name --slots 16 --slot-size 256"
"$top/tools/shmslab-create" "$name" --slots 16 --slot-size 256

say "consumer: waits on the queue (sleeping in the kernel) until messages come"
"$top/tools/example-consumer" "$name" &
consumer=$!
sleep 0.2

say "shmslab-stat $name (the consumer is attached and waiting)"
"$top/tools/shmslab-stat" "$name"

say "producer: writes 10 messages into slots and sends each through the queue"
"$top/tools/example-producer" "$name" 10
wait "$consumer"
consumer=

say "publish/subscribe: two subscribers wait; a publisher gives each of them every message"
"$top/tools/example-subscriber" "$name" recorder &
subscribers=$!
"$top/tools/example-subscriber" "$name" viewer &
subscribers="$subscribers $!"
until "$top/tools/shmslab-stat" "$name" | grep -q "subscribers 2 of"; do sleep 0.05; done
say "shmslab-stat $name (both subscribers attached and waiting)"
"$top/tools/shmslab-stat" "$name"
# the publisher waits until both are subscribed: what comes before, they miss
"$top/tools/example-publisher" "$name" 2 5
for pid in $subscribers; do wait "$pid"; done
subscribers=

say "shell to shell: shmslab-send and shmslab-recv"
"$top/tools/shmslab-send" "$name" "hello from one shell" "and another line"
"$top/tools/shmslab-recv" "$name" --count 2

say "shmslab-stat $name"
"$top/tools/shmslab-stat" "$name"

say "shmslab-rm $name"
"$top/tools/shmslab-rm" "$name"
trap - EXIT INT TERM
