#!/bin/sh
# SPDX-License-Identifier: MIT
# The command-line tools: --help and --version, usage errors (status 2 and the
# usage text), failures (status 1 and "tool: NAME: message"), and what create,
# stat and rm do to real segments.
PLAN=112
. "$top_srcdir/tests/tap.sh"

create=$top_builddir/tools/shmslab-create
stat=$top_builddir/tools/shmslab-stat
rm=$top_builddir/tools/shmslab-rm
send=$top_builddir/tools/shmslab-send
recv=$top_builddir/tools/shmslab-recv
version=$(sed -n 's/^#define SHMSLAB_VERSION_STRING "\(.*\)"$/\1/p' "$top_srcdir/include/shmslab.h")

# Every segment name this test may create; the trap removes them all.
base=/shmslab-tools-$$
n1=$base-1 n2=$base-2 n3=$base-3 n4=$base-4 n5=$base-5 n6=$base-6 n7=$base-7 n8=$base-8
n9=$base-9 n10=$base-10 n11=$base-11 n12=$base-12 n13=$base-13 n14=$base-14 n15=$base-15
names="$n1 $n2 $n3 $n4 $n5 $n6 $n7 $n8 $n9 $n10 $n11 $n12 $n13 $n14 $n15"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/shmslab-tools.XXXXXX") || exit 1

cleanup() {
	status=$?
	for nm in $names; do
		"$rm" "$nm" >/dev/null 2>&1
		rm -f "/dev/shm$nm"
	done
	rm -rf "$tmp"
	exit $status
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

out=$tmp/out
err=$tmp/err

# run COMMAND...: run it with stdout in $out, stderr in $err and status in $rc.
run() {
	"$@" >"$out" 2>"$err"
	rc=$?
}

# usage_error DESCRIPTION TOOL ARG...: status 2, nothing on stdout, and on
# stderr "tool: message" followed by the usage text.
usage_error() {
	desc=$1 tool=$2
	shift 2
	run "$top_builddir/tools/$tool" "$@"
	if [ "$rc" -eq 2 ] && [ ! -s "$out" ] && head -n 1 "$err" | grep -q "^$tool: ." &&
		grep -q "^Usage: $tool " "$err"; then
		ok "$desc"
	else
		not_ok "$desc (status $rc, stderr: $(head -n 1 "$err"))"
	fi
}

# failure DESCRIPTION TOOL NAME MESSAGE ARG...: status 1, nothing on stdout,
# and stderr exactly "tool: NAME: MESSAGE".
failure() {
	desc=$1 tool=$2 fname=$3 msg=$4
	shift 4
	run "$top_builddir/tools/$tool" "$@"
	if [ "$rc" -eq 1 ] && [ ! -s "$out" ] && [ "$(cat "$err")" = "$tool: $fname: $msg" ]; then
		ok "$desc"
	else
		not_ok "$desc (status $rc, stderr: $(cat "$err"))"
	fi
}

# succeeds DESCRIPTION COMMAND...: status 0 and nothing on stderr.
succeeds() {
	desc=$1
	shift
	run "$@"
	if [ "$rc" -eq 0 ] && [ ! -s "$err" ]; then
		ok "$desc"
	else
		not_ok "$desc (status $rc, stderr: $(cat "$err"))"
	fi
}

# json_has DESCRIPTION FIELD VALUE: the JSON in $tmp/json has "FIELD":VALUE.
json_has() {
	if grep -q "\"$2\":$3[,}]" "$tmp/json"; then
		ok "$1"
	else
		not_ok "$1 (got: $(grep -o "\"$2\":[^,}]*" "$tmp/json"))"
	fi
}

# stat_json NAME: shmslab-stat --json NAME into $tmp/json.
stat_json() {
	"$stat" --json "$1" >"$tmp/json" 2>"$err"
}

gone() {
	[ ! -e "/dev/shm$1" ]
}

# ---- --help and --version ---------------------------------------------------

for tool in shmslab-create shmslab-stat shmslab-rm; do
	run "$top_builddir/tools/$tool" --help
	if [ "$rc" -eq 0 ] && grep -q "^Usage: $tool " "$out" && [ ! -s "$err" ]; then
		ok "$tool --help exits 0 with a Usage: line on stdout"
	else
		not_ok "$tool --help exits 0 with a Usage: line on stdout (status $rc)"
	fi
	run "$top_builddir/tools/$tool" --version
	if [ "$rc" -eq 0 ] && [ "$(cat "$out")" = "$tool (libshmslab) $version" ] && [ ! -s "$err" ]; then
		ok "$tool --version prints '$tool (libshmslab) $version'"
	else
		not_ok "$tool --version prints '$tool (libshmslab) $version' (status $rc, got: $(cat "$out"))"
	fi
done

# ---- Usage errors: status 2 and the usage text on stderr --------------------

u=$n1 # never created: every command below fails before touching it
usage_error "shmslab-create without NAME" shmslab-create
usage_error "shmslab-create with two NAMEs" shmslab-create "$u" "$u-b"
usage_error "shmslab-create with an unknown option" shmslab-create --bogus "$u"
usage_error "shmslab-create --slots without its argument" shmslab-create "$u" --slots
usage_error "shmslab-create --slots 0" shmslab-create --slots 0 "$u"
usage_error "shmslab-create --slots -1" shmslab-create --slots -1 "$u"
usage_error "shmslab-create --slots abc" shmslab-create --slots abc "$u"
usage_error "shmslab-create --slots 99999999999 (beyond the limit)" shmslab-create --slots 99999999999 "$u"
usage_error "shmslab-create --slot-size 0" shmslab-create --slot-size 0 "$u"
usage_error "shmslab-create --slot-size 2g (beyond 1 GiB)" shmslab-create --slot-size 2g "$u"
usage_error "shmslab-create --max-procs 0" shmslab-create --max-procs 0 "$u"
usage_error "shmslab-create --max-procs 4097 (beyond 4096)" shmslab-create --max-procs 4097 "$u"
usage_error "shmslab-create --mode 8 (not octal)" shmslab-create --mode 8 "$u"
usage_error "shmslab-create --mode 1000 (beyond 0777)" shmslab-create --mode 1000 "$u"
usage_error "shmslab-create --mode abc" shmslab-create --mode abc "$u"
usage_error "shmslab-create --shards 65 (beyond 64)" shmslab-create --shards 65 "$u"
usage_error "shmslab-create --max-slots smaller than --slots" shmslab-create --slots 16 --max-slots 8 "$u"
usage_error "shmslab-stat without NAME" shmslab-stat
usage_error "shmslab-stat with two NAMEs" shmslab-stat "$u" "$u-b"
usage_error "shmslab-stat with an unknown option" shmslab-stat --bogus "$u"
usage_error "shmslab-rm without NAME" shmslab-rm
usage_error "shmslab-rm with an unknown option" shmslab-rm --bogus "$u"
check "no usage error created a segment" gone "$u"

# 1g is the largest slot size: parsing accepts it, and the bad name is what
# fails (status 1, not 2), so no gigabyte is allocated here.
failure "shmslab-create --slot-size 1g passes option parsing" \
	shmslab-create noslash "Invalid argument" --slot-size 1g noslash

# ---- Failures: status 1 and "tool: NAME: message" ---------------------------

failure "shmslab-create of a name without a leading slash: Invalid argument" \
	shmslab-create noslash "Invalid argument" noslash
failure "shmslab-stat of a missing name: No such file or directory" \
	shmslab-stat "$n2" "No such file or directory" "$n2"
failure "shmslab-rm of a missing name: No such file or directory" \
	shmslab-rm "$n2" "No such file or directory" "$n2"

# ---- create, then stat -------------------------------------------------------

succeeds "shmslab-create --slots 16 --slot-size 128 --max-procs 8 --mode 640" \
	"$create" "$n3" --slots 16 --slot-size 128 --max-procs 8 --mode 640
check "the segment's object has mode 640" test "$(stat -c %a "/dev/shm$n3" 2>/dev/null)" = 640
failure "shmslab-create of an existing name without --force: File exists" \
	shmslab-create "$n3" "File exists" "$n3" --slots 32

succeeds "shmslab-stat exits 0" "$stat" "$n3"
check "shmslab-stat shows 16 slots of 128 bytes" grep -q '^ *slots *16 of 128 bytes' "$out"
check "shmslab-stat shows 16 available, 0 allocated" \
	sh -c 'grep -q "^ *available *16$" "$1" && grep -q "^ *allocated *0 " "$1"' sh "$out"
check "shmslab-stat shows 0 of 8 processes attached" grep -q '^ *processes *0 of 8 attached' "$out"

stat_json "$n3"
check "shmslab-stat --json exits 0" test $? -eq 0
json_has "--json has \"slot_count\":16" slot_count 16
json_has "--json has \"slot_size\":128" slot_size 128
json_has "--json has \"max_procs\":8" max_procs 8
json_has "--json has \"available\":16" available 16
json_has "--json has \"allocated\":0" allocated 0
json_has "--json has the name" name "\"$n3\""
json_has "--json of an unused segment has no processes" processes '\[\]'
check "--json is one line" sh -c '[ "$(wc -l <"$1")" -eq 1 ] && grep -q "^{.*}$" "$1"' sh "$tmp/json"
if command -v jq >/dev/null 2>&1; then
	check "--json is valid JSON" sh -c 'jq -e . "$1" >/dev/null' sh "$tmp/json"
else
	ok "--json is valid JSON # SKIP no jq to validate it (scripts/test.sh installs it)"
fi
check "the failed create without --force left the segment as it was" \
	grep -q '"slot_count":16,' "$tmp/json"

succeeds "shmslab-stat --slots exits 0" "$stat" --slots "$n3"
# the slot rows sit between the column header and the processes line
rows=$(sed -n '/^ *index *generation/,/^ *processes/p' "$out" | sed '1d;$d' | grep -c .)
check "shmslab-stat --slots of a fresh segment lists no slot (all are free)" \
	sh -c 'grep -q "^ *index *generation *state" "$1" && [ "$2" -eq 0 ]' sh "$out" "$rows"
"$stat" --slots --json "$n3" >"$tmp/json" 2>"$err"
json_has "shmslab-stat --slots --json of a fresh segment has \"slots\":[]" slots '\[\]'

succeeds "shmslab-create with the defaults" "$create" "$n4"
stat_json "$n4"
json_has "default slot_count is 1024" slot_count 1024
json_has "default slot_size is 4096" slot_size 4096
json_has "default max_procs is 64" max_procs 64
json_has "default max_slots is the slot count (fixed size)" max_slots 1024
check "default mode is 600" test "$(stat -c %a "/dev/shm$n4" 2>/dev/null)" = 600

# ---- --force -------------------------------------------------------------------

succeeds "shmslab-create --force replaces an existing segment" \
	"$create" "$n3" --force --slots 32 --max-slots 64 --slot-size 1k
stat_json "$n3"
check "the replacement has the new geometry (32 slots up to 64, 1024 bytes)" \
	sh -c 'grep -q "\"slot_size\":1024," "$1" && grep -q "\"slot_count\":32," "$1" &&
		grep -q "\"max_slots\":64," "$1"' sh "$tmp/json"

printf junk >"/dev/shm$n5"
run "$create" --force "$n5"
if [ "$rc" -eq 1 ] && grep -q "^shmslab-create: $n5: Not a shmslab segment" "$err"; then
	ok "shmslab-create --force refuses an object that is not a segment"
else
	not_ok "shmslab-create --force refuses an object that is not a segment (status $rc, stderr: $(cat "$err"))"
fi
check "the refused object is untouched" test "$(cat "/dev/shm$n5")" = junk
run "$stat" "$n5"
if [ "$rc" -eq 1 ] && grep -q "^shmslab-stat: $n5: Not a shmslab segment" "$err"; then
	ok "shmslab-stat refuses an object that is not a segment"
else
	not_ok "shmslab-stat refuses an object that is not a segment (status $rc, stderr: $(cat "$err"))"
fi

# ---- rm --------------------------------------------------------------------------

succeeds "shmslab-rm removes a segment" "$rm" "$n3"
check "the removed segment's object is gone" gone "$n3"
failure "shmslab-stat after shmslab-rm: No such file or directory" \
	shmslab-stat "$n3" "No such file or directory" "$n3"

run "$rm" "$n5"
if [ "$rc" -eq 1 ] && grep -q "^shmslab-rm: $n5: Not a shmslab segment" "$err"; then
	ok "shmslab-rm refuses an object that is not a segment"
else
	not_ok "shmslab-rm refuses an object that is not a segment (status $rc, stderr: $(cat "$err"))"
fi
check "the object shmslab-rm refused is untouched" test "$(cat "/dev/shm$n5")" = junk

"$create" "$n6" --slots 1 --slot-size 64 && "$create" "$n7" --slots 1 --slot-size 64 &&
	"$create" "$n8" --slots 1 --slot-size 64
succeeds "shmslab-rm of three segments" "$rm" "$n6" "$n7" "$n8"
check "all three are gone" sh -c 'for f; do [ ! -e "/dev/shm$f" ] || exit 1; done' sh "$n6" "$n7" "$n8"

"$create" "$n9" --slots 1 --slot-size 64 && "$create" "$n10" --slots 1 --slot-size 64
failure "shmslab-rm with a missing name among others exits 1 naming only it" \
	shmslab-rm "$n2" "No such file or directory" "$n9" "$n2" "$n10"
check "the other names were removed all the same" \
	sh -c '[ ! -e "/dev/shm$1" ] && [ ! -e "/dev/shm$2" ]' sh "$n9" "$n10"

# A process that dies holding a write lock and slots (the kill-point build of
# the library kills itself at the named step), then stat and --recover.
"$create" "$n11" --slots 8 --max-slots 64 --slot-size 64
SHMSLAB_KILLPOINT=write_drained "$top_builddir/tests/kp-helper" "$n11" >/dev/null 2>&1
run "$stat" "$n11"
check "stat counts the dead process apart from the attached ones" \
	grep -q "0 of 64 attached, 1 dead and not recovered yet" "$out"
check "stat shows what the dead process holds" \
	grep -Eq "entry 0 +pid [0-9]+ +DEAD +owns 3, keeps 0, reads 0, writes 1" "$out"
run "$stat" "$n11" --json
check "stat --json reports the dead process" \
	grep -q '"dead_procs":1,.*"alive":false,"owned":3,"kept":0,"reading":0,"writing":1' "$out"
run "$stat" "$n11" --recover
check "stat --recover says what it reclaimed" \
	grep -q "^$n11: recovered 3 slots, 1 lock and 1 process-table entry\$" "$out"
check "and then reports a segment with nothing dead" \
	sh -c 'grep -q "available  8" "$1" && grep -q "0 of 64 attached$" "$1"' sh "$out"
run "$stat" "$n11" --recover
check "a second --recover finds nothing" \
	grep -q "^$n11: recovered 0 slots, 0 locks and 0 process-table entries\$" "$out"

# The handoff queue from the shell: shmslab-send and shmslab-recv.
for tool in shmslab-send shmslab-recv; do
	run "$top_builddir/tools/$tool" --help
	check "$tool --help prints its usage" sh -c '[ "$1" -eq 0 ] && head -n 1 "$2" | grep -q "^Usage: $3 "' sh "$rc" "$out" "$tool"
	run "$top_builddir/tools/$tool" --version
	check "$tool --version names the version" grep -qx "$tool (libshmslab) $version" "$out"
done
usage_error "shmslab-recv without a NAME is a usage error" shmslab-recv
usage_error "shmslab-recv --count 0 is a usage error" shmslab-recv "$n12" --count 0
usage_error "shmslab-send --timeout abc is a usage error" shmslab-send "$n12" --timeout abc
failure "shmslab-send to a missing segment fails" shmslab-send "$n12" "No such file or directory" "$n12" hi

"$create" "$n12" --slots 8 --slot-size 64 --queue-depth 3
succeeds "shmslab-send sends its arguments" "$send" "$n12" "one" "two words"
printf 'three\nfour\n' >"$tmp/lines"
run "$send" "$n12" --timeout 100 <"$tmp/lines"
check "a queue of --queue-depth 3 makes shmslab-send time out after what fits" \
	sh -c '[ "$1" -eq 1 ] && grep -qx "shmslab-send: $2: Connection timed out" "$3"' sh "$rc" "$n12" "$err"
run "$stat" "$n12"
check "stat counts the three queued messages" grep -q "queued     3" "$out"
run "$recv" "$n12" --timeout 100
check "shmslab-recv prints each message on a line, in order" \
	sh -c '[ "$1" -eq 0 ] && [ "$(cat "$2")" = "$(printf "one\ntwo words\nthree")" ]' sh "$rc" "$out"
run "$stat" "$n12"
check "and frees their slots" grep -q "available  8" "$out"
run "$recv" "$n12" --count 1 --timeout 50
check "shmslab-recv --count times out on an empty queue with status 1" \
	sh -c '[ "$1" -eq 1 ] && grep -qx "shmslab-recv: $2: Connection timed out" "$3"' sh "$rc" "$n12" "$err"
"$recv" "$n12" --count 2 --timeout 5000 >"$tmp/got" 2>&1 &
waiter=$!
sleep 0.3
succeeds "a message sent while shmslab-recv waits" "$send" "$n12" "late"
succeeds "and another" "$send" "$n12" "later"
wait "$waiter"
check "reaches the waiting shmslab-recv" sh -c '[ "$1" = "$(printf "late\nlater")" ]' sh "$(cat "$tmp/got")"
run "$send" "$n12" "$(printf '%070d' 0)"
check "a message larger than the slot is refused and nothing is left behind" \
	sh -c '[ "$1" -eq 1 ] && grep -q "Message larger than" "$2" && "$3" "$4" | grep -q "available  8"' \
	sh "$rc" "$err" "$stat" "$n12"

# Anyone may put a FIFO at a name: the tools answer at once (timeout says
# 124 if one waits for a writer), and leave it alone.
mkfifo "/dev/shm$n13"
for tool in "shmslab-rm $n13" "shmslab-stat $n13" "shmslab-create --force $n13"; do
	run timeout 10 "$top_builddir/tools/${tool%% *}" ${tool#* }
	check "$tool answers a FIFO at once: not a segment (status $rc)" \
		sh -c '[ "$1" -eq 1 ] && grep -q "Not a shmslab segment" "$2"' sh "$rc" "$err"
done
check "the FIFO is still there" test -p "/dev/shm$n13"

# Past the file-size limit, create fails with an error, not SIGXFSZ (status
# 153), and leaves nothing behind.
run sh -c 'ulimit -f 1024; exec "$1" "$2" --slots 4096' sh "$create" "$n14"
check "shmslab-create past ulimit -f: status 1, File too large (status $rc)" \
	sh -c '[ "$1" -eq 1 ] && grep -qx "shmslab-create: $2: File too large" "$3"' sh "$rc" "$n14" "$err"
check "and nothing is left at the name" gone "$n14"

# Publish/subscribe: two shmslab-recv --subscribe each print every message
# that shmslab-send --publish publishes once both are subscribed.
usage_error "shmslab-create --max-subscribers 33: usage error" shmslab-create "$n15" --max-subscribers 33
succeeds "shmslab-create --max-subscribers 4 --fanout-depth 8" \
	"$create" "$n15" --slots 8 --slot-size 64 --max-subscribers 4 --fanout-depth 8
run "$stat" "$n15"
check "shmslab-stat shows the subscribers' table" grep -q "^  subscribers 0 of 4 (fan-out depth 8)" "$out"
succeeds "a message published to nobody is dropped" "$send" "$n15" --publish "to nobody"
"$recv" "$n15" --subscribe --count 3 --timeout 30000 >"$tmp/sub1" 2>&1 &
sub1=$!
"$recv" "$n15" --subscribe --count 3 --timeout 30000 >"$tmp/sub2" 2>&1 &
sub2=$!
# wait for both to subscribe: an event, not a time
tries=0
until "$stat" "$n15" | grep -q "^  subscribers 2 of" || [ $tries -ge 3000 ]; do
	sleep 0.01
	tries=$((tries + 1))
done
run "$stat" "$n15" --json
check "shmslab-stat --json lists both subscribers" \
	sh -c 'grep -q "\"subscribers\":\[{\"index\":[0-9]*,\"entry\":[0-9]*,\"alive\":true,\"received\":0,\"held\":0,\"waiting\":0},{" "$1"' sh "$out"
succeeds "shmslab-send --publish" "$send" "$n15" --publish one two three
wait "$sub1"
st1=$?
wait "$sub2"
st2=$?
check "each shmslab-recv --subscribe prints every message, in order" \
	sh -c '[ "$1" -eq 0 ] && [ "$2" -eq 0 ] && [ "$(cat "$3")" = "$(printf "one\ntwo\nthree")" ] &&
		[ "$(cat "$4")" = "$(cat "$3")" ]' sh "$st1" "$st2" "$tmp/sub1" "$tmp/sub2"
run "$stat" "$n15"
check "and every slot is free again, nobody subscribed" \
	sh -c 'grep -q "available  8" "$1" && grep -q "^  subscribers 0 of 4" "$1"' sh "$out"

# Not covered here: stat on a full process table needs a process holding an
# attachment; the C tests cover shmslab_inspect.

tap_done
