#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Cost of the fast path: 4K random reads and writes through dm-remap with
# no remaps, against dm-linear over the same null_blk region, alternating,
# in the same guest. Run with vmtest.py --bench (instruction-counting TCG):
# absolute IOPS mean nothing there, the ratio does.
. "$VMTEST_LIB"
ctl=$DMREMAP_BUILD/tools/dmremapctl
runs=${BENCH_RUNS:-3}
modprobe dm-mod
dmremap_load
dev=$(nullb_create bench 512 4096)
"$ctl" format --name bench --max-remaps 256 --internal-spare 4M "$dev" > /dev/null
table=$("$ctl" table "$dev")
dmsetup create remap --table "$table"
read -r _ len _ <<< "$table"
offset=$("$ctl" dump --json "$dev" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data_offset_sectors"])')
dmsetup create linear --table "0 $len linear $dev $offset"

iops() {
	fio --name=b --filename="$1" --rw="$2" --bs=4k --direct=1 --ioengine=psync --size=256M \
		--runtime=4 --time_based --output-format=json 2>/dev/null |
		python3 -c 'import json,sys; j=json.load(sys.stdin)["jobs"][0]; print(int(j["read"]["iops"] + j["write"]["iops"]))'
}
# null_blk allocates its memory on first write: fill the region first, so
# no run pays for that.
fio --name=fill --filename=/dev/mapper/linear --rw=write --bs=1M --direct=1 --size=256M > /dev/null
for rw in randread randwrite; do
	r_sum=0 l_sum=0
	for i in $(seq "$runs"); do
		l=$(iops /dev/mapper/linear $rw)
		r=$(iops /dev/mapper/remap $rw)
		echo "$rw run $i: dm-linear $l IOPS, dm-remap $r IOPS"
		l_sum=$((l_sum + l)) r_sum=$((r_sum + r))
	done
	python3 -c "print(f'$rw: dm-remap / dm-linear = {$r_sum / $l_sum:.4f} over $runs runs')"
done
dmsetup remove remap
dmsetup remove linear
