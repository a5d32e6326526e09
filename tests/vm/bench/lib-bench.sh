# SPDX-License-Identifier: GPL-2.0-or-later
# Shared by the benchmarks' guest scripts (bench.sh, profile.sh):
# . "$DMREMAP_SRC/tests/vm/bench/lib-bench.sh"
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
here=$DMREMAP_SRC/tests/vm/bench
# set_with NULLB N [SIZE]: a sparse null_blk (only what is written takes
# memory) holding a set sized for SIZE remaps (default N) whose data
# blocks HIT..HIT+N-1 live on spare blocks 0..N-1: one run of bad blocks,
# the xarray's densest shape, past the region the misses read and write,
# with room for 8192 more remaps and blocks to hit. Prints the
# device; its dump without remaps is in /tmp/NULLB.json.
hit=65536
set_with() {
	local n=$2 size=${3:-$2} spare_mb dev
	spare_mb=$((size * 4 / 1024 + 40))
	dev=$(nullb_create "$1" $((spare_mb + (hit + size + 8192) * 4 / 1024 + size * 64 / 1048576 + 64)) 4096)
	"$ctl" format --force --name "$1" --max-remaps $((size + 8192)) --internal-spare "${spare_mb}M" "$dev" \
		> /dev/null ||
		die "cannot format $dev"
	"$ctl" dump --json "$dev" > "/tmp/$1.json"
	[ "$n" = 0 ] || "$DMREMAP_BUILD/tests/vm/bench-remaps" "/tmp/$1.json" "$hit" "$n" "$dev" > /dev/null ||
		die "cannot write $n remaps to $dev"
	echo "$dev"
}

