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

# Under make check the exit status says whether the plan ran, not whether its
# points passed: each failed point already counts once, as "not ok".  Run on
# its own (TAP_STANDALONE=1), a script exits 1 when any point failed.
tap_done() {
	if [ "$tap_n" -ne "$PLAN" ]; then
		echo "# planned $PLAN tests but ran $tap_n"
		exit 1
	fi
	[ "${TAP_STANDALONE:-0}" -eq 0 ] || [ "$tap_failed" -eq 0 ] || exit 1
	exit 0
}
