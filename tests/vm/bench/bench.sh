#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Guest side of scripts/bench (vmtest.py run --bench, or plain TCG):
#   bench.sh [--smoke]
# Fast-path overhead: dm-remap with no remaps against dm-linear over the
# same data area, on memory-backed null_blk and on a loop device over
# tmpfs, through tests/vm/bench/ab.py (A/B interleaved rounds). Prints its
# "BENCH {...}" lines; --smoke is one short round of two workloads, so
# that CI keeps the command working.
. "$VMTEST_LIB"
here=$DMREMAP_SRC/tests/vm/bench
ctl=$DMREMAP_BUILD/tools/dmremapctl
# An even number: report.py takes the ratio per ABBA pair of rounds.
rounds=6 runtime=2
workloads=(4k-randread-qd1 4k-randwrite-qd1 4k-randread-qd32 4k-randwrite-qd32 1m-read-qd1 1m-write-qd1)
if [ "${1:-}" = --smoke ]; then
	rounds=1 runtime=1 workloads=(4k-randread-qd1 4k-randwrite-qd32)
fi
modprobe dm-mod
dmremap_load
# figures: what report.py --check expects, one per medium and workload.
echo "BENCH-INFO {\"kernel\": \"$(uname -r)\", \"rounds\": $rounds, \"runtime_s\": $runtime," \
	"\"figures\": $((2 * ${#workloads[@]}))}"

# fastpath MEDIUM DEV: dm-linear and dm-remap over the same data area of DEV.
fastpath() {
	local table len offset
	"$ctl" format --force --name bench --max-remaps 4096 --internal-spare 4M "$2" > /dev/null ||
		die "cannot format $2"
	table=$("$ctl" table "$2")
	dmsetup create bench-remap --table "$table" || die "cannot create dm-remap over $2"
	read -r _ len _ <<< "$table"
	offset=$("$ctl" dump --json "$2" | jq -e .data_offset_sectors) || die "no data offset for $2"
	dmsetup create bench-linear --table "0 $len linear $2 $offset" || die "cannot create dm-linear over $2"
	# Both read what was written: null_blk and tmpfs allocate on first write.
	dd if=/dev/zero of=/dev/mapper/bench-linear bs=1M count=192 oflag=direct status=none
	python3 "$here/ab.py" fastpath "$1" "$rounds" "$runtime" dm-linear=/dev/mapper/bench-linear \
		dm-remap=/dev/mapper/bench-remap -- "${workloads[@]}" || die "fastpath on $1 failed"
	expect_eq "remaps after the fast-path runs on $1" 0 "$("$ctl" status bench-remap --json | jq '.[0].remapped')"
	dmsetup remove bench-remap
	dmsetup remove bench-linear
}

dev=$(nullb_create bench 256 4096)
fastpath null_blk "$dev"
nullb_remove bench

modprobe loop
mkdir -p /run/bench
mount -t tmpfs -o size=260M tmpfs /run/bench
truncate -s 256M /run/bench/disk
loop=$(losetup --show -f -b 4096 /run/bench/disk) || die "no loop device"
fastpath loop-tmpfs "$loop"
losetup -d "$loop"
umount /run/bench
echo "bench: done"
