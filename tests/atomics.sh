#!/bin/sh
# SPDX-License-Identifier: MIT
# Every atomic operation and fence in lib/ goes through the helpers of
# lib/atomics.h, each of which names its memory order, and carries its
# reason: a comment on its line, or ending on one of the three lines above,
# that names the same order ("acquire: the pusher's release published ...").
PLAN=2
. "$top_srcdir/tests/tap.sh"

files=$(ls "$top_srcdir"/lib/*.c "$top_srcdir"/lib/*.h | grep -v '/atomics\.h$')

# Atomics that bypass the helpers: C11's, the __atomic and __sync builtins.
raw=$(grep -nE '\b(atomic_(load|store|exchange|compare_exchange|fetch|thread_fence|signal_fence)[a-z_]*|__atomic_[a-z_]+|__sync_[a-z_]+)[[:space:]]*\(' $files |
	sed "s|^$top_srcdir/||")
check "no atomic bypasses lib/atomics.h${raw:+: $(echo "$raw" | head -n 3 | tr '\n' ' ')}" test -z "$raw"

# Helper calls whose reason is missing or does not name their order.
unreasoned=$(awk '
	# the comment text of a line: what follows "/*" or "//", a line inside a
	# comment, or what comes before the "*/" that ends one
	function comment(s) {
		if (index(s, "/*")) return substr(s, index(s, "/*"))
		if (index(s, "//")) return substr(s, index(s, "//"))
		if (s ~ /^[[:space:]]*\*/) return s
		if (index(s, "*/")) return substr(s, 1, index(s, "*/"))
		return ""
	}
	{ line[FNR] = $0 }
	match($0, /sa_(load|store|cas_weak|cas|exchange|fetch_[a-z]+|fence)_(relaxed|acquire|release|acq_rel|seq_cst|compiler)/) {
		call = substr($0, RSTART, RLENGTH)
		order = call
		sub(/^sa_(load|store|cas_weak|cas|exchange|fetch_[a-z]+|fence)_/, "", order)
		text = comment($0)
		# a comment ending on one of the three lines above, whole
		for (i = FNR - 1; i >= FNR - 3 && i >= 1; i--)
			if (comment(line[i]) != "") {
				for (j = i; j >= 1 && comment(line[j]) != ""; j--)
					text = text " " comment(line[j])
				break
			}
		if (index(text, order) == 0)
			printf "%s:%d: %s\n", FILENAME, FNR, call
	}' $files | sed "s|^$top_srcdir/||")
count=$(printf '%s' "$unreasoned" | grep -c . || true)
check "every atomic carries a reason naming its order${unreasoned:+ ($count without: $(echo "$unreasoned" | head -n 5 | tr '\n' ' '))}" \
	test -z "$unreasoned"
tap_done
