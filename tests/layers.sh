#!/bin/sh
# SPDX-License-Identifier: MIT
# lib/ in layers, calls going one way, down (the table at the top of
# lib/DESIGN.md): every object of the library uses only symbols that objects
# of lower layers define.  Read off the objects themselves with nm, so an
# inline helper that calls up counts where it is compiled in.
PLAN=2
. "$top_srcdir/tests/tap.sh"

# object: layer, lowest first; objects of one layer do not use each other
layers='
os 0
layout 1
map 2
lanes 3
procs 4
freelist 5
slotlock 5
queue 5
fanout 6
slots 6
recover 7
call 8
alloc 9
handoff 9
message 9
pubsub 10
segment 11
diag 11
'

dir=$top_builddir/lib/.libs
ls "$dir"/libshmslab_core_la-*.o >/dev/null 2>&1 || dir=$top_builddir/lib
objects=$(ls "$dir"/libshmslab_core_la-*.o 2>/dev/null)
sources=$(ls "$top_srcdir"/lib/*.c | sed 's|.*/||; s|\.c$||' | sort)
unranked=$(for f in $sources; do echo "$layers" | grep -q "^$f " || echo "$f"; done)
check "every file of lib/ has its layer${unranked:+ (not: $unranked)}" test -z "$unranked"

upward=$(for o in $objects; do
	name=$(basename "$o" .o | sed 's/^libshmslab_core_la-//')
	nm "$o" | sed "s|^|$name |"
done | awk -v layers="$layers" '
	BEGIN {
		n = split(layers, l, "\n")
		for (i = 1; i <= n; i++)
			if (split(l[i], f, " ") == 2)
				rank[f[1]] = f[2]
	}
	$2 == "U" { used[$1, $3] = 1; users[$3] = users[$3] " " $1; next }
	NF == 4 && $3 ~ /^[TtDdBbRr]$/ { def[$4] = $1 }
	END {
		for (sym in users) {
			if (!(sym in def))
				continue
			m = split(users[sym], u, " ")
			for (i = 1; i <= m; i++)
				if (u[i] != def[sym] && rank[u[i]] <= rank[def[sym]])
					printf "%s -> %s (%s) ", u[i], def[sym], sym
		}
	}')
check "no call goes up or sideways${upward:+: $upward}" test -z "$upward"
tap_done
