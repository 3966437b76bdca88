# SPDX-License-Identifier: MIT
# A few TAP helpers for the shell tests; source it after setting PLAN.
tap_n=0
tap_failed=0
echo "1..$PLAN"

ok() {
	tap_n=$((tap_n + 1))
	echo "ok $tap_n - $1"
}

not_ok() {
	tap_n=$((tap_n + 1))
	tap_failed=$((tap_failed + 1))
	echo "not ok $tap_n - $1"
}

# check DESCRIPTION COMMAND...: ok when COMMAND succeeds.
check() {
	desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

tap_done() {
	if [ "$tap_n" -ne "$PLAN" ]; then
		echo "# planned $PLAN tests but ran $tap_n"
		exit 1
	fi
	[ "$tap_failed" -eq 0 ]
}
