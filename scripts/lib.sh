# shellcheck shell=sh
# SPDX-License-Identifier: MIT
# What the scripts share: install missing Debian packages, then build the tree.
# Source it from a script in scripts/; it sets $top to the top of the tree.

set -eu
top=$(cd "$(dirname "$0")/.." && pwd)

say() {
	printf '==> %s\n' "$*"
}

# Whether Debian package $1 is installed.
installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# Install those of the given Debian packages that are missing (apt-get only).
need_packages() {
	missing=
	for pkg in "$@"; do
		installed "$pkg" || missing="$missing $pkg"
	done
	[ -z "$missing" ] && return 0
	sudo=
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null 2>&1; then
			sudo=sudo
		else
			echo "error: these packages are missing and installing them needs root:$missing" >&2
			exit 1
		fi
	fi
	say "installing:$missing"
	$sudo apt-get update -q
	# shellcheck disable=SC2086 # one word per package
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing
}

# Install what of the given packages can be installed, and go on without
# the others, saying so.
want_packages() {
	(need_packages "$@") && return 0
	for pkg in "$@"; do
		(need_packages "$pkg") || say "$pkg could not be installed: going on without it"
	done
}

# What building and testing needs, on top of a C compiler.
need_build_packages() {
	need_packages gcc g++ make autoconf automake libtool pkgconf check
}

# What the tests use besides: a JSON validator for shmslab-stat --json, and
# groff to render the manual pages; and, where Debian has it, shellcheck for
# the scripts (its test is skipped without it).
need_test_packages() {
	need_packages jq groff-base
	want_packages shellcheck
}

# Configure (once) and build the tree in place; after that, make itself
# reruns the autotools when configure.ac or a Makefile.am changes.
build() {
	cd "$top"
	if [ ! -x configure ]; then
		say "autoreconf"
		autoreconf -fi
	fi
	if [ ! -f Makefile ]; then
		say "configure"
		./configure --quiet
	fi
	say "make"
	make -j"$(nproc)" --no-print-directory
}

# Build git revision REV of the tree in DIR (made empty first), for a
# comparison run beside the tree's own build.
build_revision() {
	need_packages git
	say "building $1 for comparison"
	rm -rf "$2"
	mkdir -p "$2"
	git -C "$top" archive --format=tar "$1" | tar -x -C "$2"
	(cd "$2" && autoreconf -fi >/dev/null 2>&1 && ./configure --quiet >/dev/null &&
		make -j"$(nproc)" >/dev/null 2>&1) || { echo "error: $1 does not build" >&2; exit 1; }
}
