#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Guest side of scripts/bench --profile: where the fast path's instructions
# go. 4k random reads and writes at QD1 on null_blk through dm-linear and
# through dm-remap with no remaps, each under perf record (cpu-clock: TCG
# has no PMU; under instruction counting, guest time is instructions),
# then the symbols of each profile and, for dm-remap, what its callers
# cost. Run with vmtest.py --bench.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
command -v perf > /dev/null || die "no perf on this machine: apt install linux-perf"
dev=$(nullb_create prof 256 4096)
"$ctl" format --force --name prof --max-remaps 4096 --internal-spare 4M "$dev" > /dev/null
table=$("$ctl" table "$dev")
dmsetup create prof-remap --table "$table"
read -r _ len _ <<< "$table"
dmsetup create prof-linear --table "0 $len linear $dev $(data_sector "$dev" 0)"
dd if=/dev/zero of=/dev/mapper/prof-linear bs=1M count=192 oflag=direct status=none
for rw in randread randwrite; do
	for d in linear remap; do
		perf record -q -e cpu-clock -F 4000 -a -g -o "/tmp/$d-$rw.data" -- \
			fio --name=p --filename="/dev/mapper/prof-$d" --rw=$rw --bs=4k --direct=1 --ioengine=libaio \
			--iodepth=1 --size=192M --runtime=4 --time_based --randrepeat=1 --norandommap \
			--output-format=json > "/tmp/$d-$rw.json" 2> /dev/null || die "perf record of fio on prof-$d failed"
		iops=$(jq ".jobs[0].${rw#rand}.iops | floor" "/tmp/$d-$rw.json")
		echo "=== $rw on dm-$d: $iops IOPS; kernel symbols by share of samples (self)"
		perf report -q -i "/tmp/$d-$rw.data" --no-children --sort sym --stdio -g none --percent-limit 0.7 \
			2> /dev/null | sed 's/^ *//' | head -n 40
	done
	echo "=== $rw on dm-remap: dm-remap's and device-mapper's own symbols, with children"
	perf report -q -i "/tmp/remap-$rw.data" --children --sort sym --stdio -g none 2> /dev/null |
		grep -E 'remap_|dm_|__map_bio|clone_endio|bio_' | head -n 30
done
# Per call: the function_graph tracer times each call of the targets' map
# and end_io (guest time: instructions under instruction counting). Its
# own entry and exit cost is in every figure; linear_map does next to
# nothing, so its time is about that cost, and the difference is what
# dm-remap adds per bio.
t=/sys/kernel/tracing
mountpoint -q "$t" || mount -t tracefs nodev "$t"
echo function_graph > "$t/current_tracer"
echo "remap_map remap_end_io linear_map" > "$t/set_ftrace_filter" || die "cannot trace the map functions"
for d in linear remap; do
	for rw in randread randwrite; do
		echo > "$t/trace"
		echo 1 > "$t/tracing_on"
		fio --name=p --filename="/dev/mapper/prof-$d" --rw=$rw --bs=4k --direct=1 --ioengine=libaio --iodepth=1 \
			--size=192M --runtime=2 --time_based --randrepeat=1 --norandommap --eta=never --output=/dev/null ||
			die "fio on prof-$d under the tracer failed"
		echo 0 > "$t/tracing_on"
		echo "=== $rw on dm-$d, per call (function_graph):"
		awk '/\|/ { for (i = 1; i <= NF; i++) if ($i == "us") { d = $(i - 1); break }
			if (/\(\);/ && match($0, /(remap_map|remap_end_io|linear_map)/)) {
				f = substr($0, RSTART, RLENGTH); n[f]++; s[f] += d } }
			END { for (f in n) printf "  %-14s %7d calls, %.3f us a call\n", f, n[f], s[f] / n[f] }' "$t/trace"
	done
done
echo nop > "$t/current_tracer"
dmsetup remove prof-remap
dmsetup remove prof-linear
echo "profile: done"
