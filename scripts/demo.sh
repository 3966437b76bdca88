#!/bin/sh
# SPDX-License-Identifier: MIT
# Install what is missing, build, create a segment, pass messages from a
# producer to a consumer (two separate programs), show shmslab-stat, and
# remove the segment.
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

need_build_packages
build

name=/shmslab-demo-$$
refs=$(mktemp)
cleanup() {
	"$top/tools/shmslab-rm" "$name" 2>/dev/null || true
	rm -f "$refs"
}
trap cleanup EXIT INT TERM

say "shmslab-create $name --slots 64 --slot-size 256"
"$top/tools/shmslab-create" "$name" --slots 64 --slot-size 256

say "producer: stores 5 messages and prints their references"
"$top/tools/demo-producer" "$name" 5 | tee "$refs"

say "shmslab-stat $name --slots (the producer has exited; its messages wait)"
"$top/tools/shmslab-stat" "$name" --slots

say "consumer: reads each referenced message and frees its slot"
"$top/tools/demo-consumer" "$name" <"$refs"

say "shmslab-stat $name"
"$top/tools/shmslab-stat" "$name"

say "shmslab-rm $name"
"$top/tools/shmslab-rm" "$name"
trap - EXIT INT TERM
rm -f "$refs"
