# SPDX-License-Identifier: MIT
# A few TAP helpers for the shell tests; source it after setting PLAN.
tap_n=0
echo "1..$PLAN"

ok() {
	tap_n=$((tap_n + 1))
	echo "ok $tap_n - $1"
}

not_ok() {
	tap_n=$((tap_n + 1))
	echo "not ok $tap_n - $1"
}

# check DESCRIPTION COMMAND...: ok when COMMAND succeeds.
check() {
	desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# The exit status says whether the plan ran, not whether its points passed:
# each failed point already counts once, as "not ok".
tap_done() {
	if [ "$tap_n" -ne "$PLAN" ]; then
		echo "# planned $PLAN tests but ran $tap_n"
		exit 1
	fi
	exit 0
}
