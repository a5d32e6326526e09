# SPDX-License-Identifier: GPL-2.0-or-later
# Shared by the packaging tests: . this from tests/packaging/*.sh.
set -eu
packaging_src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "${DMREMAP_BUILD:-$packaging_src/build}" && pwd)
version=$(sed -n "s/^  version: '\(.*\)',$/\1/p" "$packaging_src/meson.build")
die() { echo "FAIL: $*" >&2; exit 1; }
# dist_tarball: meson dist's tarball of the committed tree (the tests run
# in parallel: one makes it, the others wait for it). CI builds a clean
# clone; in a working tree with uncommitted changes they are not in it.
dist_tarball() {
	local t="$build/meson-dist/dm-remap-$version.tar.xz"
	(
		flock 9
		local head
		head=$(git -C "$packaging_src" rev-parse HEAD)
		if [ ! -f "$t" ] || [ "$(cat "$t.head" 2> /dev/null)" != "$head" ]; then
			meson dist -C "$build" --no-tests --formats xztar --allow-dirty > "$build/meson-dist.log" 2>&1 ||
				{ cat "$build/meson-dist.log" >&2; exit 1; }
			echo "$head" > "$t.head"
		fi
	) 9> "$build/meson-dist.lock" || die "meson dist failed"
	echo "$t"
}
# unit_suite_passed LOG WHAT: meson test's summary in a package build's LOG
# says the unit suite ran (at least one test) and none failed.
unit_suite_passed() {
	grep -qE '^Ok: +[1-9][0-9]* *$' "$1" && grep -qE '^Fail: +0 *$' "$1" ||
		die "$2 did not run the unit suite to success (log: $1)"
}
# The package builds compile with the main build's flags, served by ccache.
. "$packaging_src/scripts/build-env.sh"
# ccache_served STATSLOG: "N of M compiles from ccache" (CCACHE_STATSLOG's
# record of a build: a "# FILE" line per compile, then its counters).
ccache_served() {
	local all hits
	all=$(grep -c '^# ' "$1" 2> /dev/null) || all=0
	hits=$(grep -cE '^(direct|preprocessed)_cache_hit$' "$1" 2> /dev/null) || hits=0
	echo "$hits of $all compiles from ccache"
}
# kernel_abi SERIES: the ABI of the kernel the VM tests boot for SERIES
# (downloaded and unpacked once, as they do).
kernel_abi() { python3 "$packaging_src/tests/vm/vmtest.py" prepare --kernel "$1" --build "$build"; }
vm_cache=${DMREMAP_VM_CACHE:-/var/cache/dm-remap-vm}
