#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Guest side of scripts/bench --profile: where the instructions go, under
# perf record (cpu-clock: TCG has no PMU; under instruction counting,
# guest time is instructions) and the function_graph tracer.
#   fast path: 4k random reads and writes at QD1 on null_blk through
#     dm-linear and through dm-remap with no remaps: the symbols of each
#     profile, what dm-remap's callers cost, and each map call's time;
#   commits on a table of 1M remaps: a commit's time with and without a
#     compaction, and where a compaction's goes;
#   dm-remapd answering GetManagedObjects with 100 sets.
# Run with vmtest.py --bench.
. "$DMREMAP_SRC/tests/vm/bench/lib-bench.sh"
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
nullb_remove prof

# Commits on a table of $n remaps: 2 x 256 writes onto blocks gone bad, one
# commit each (QD1), the first 256 under the tracer, the rest under perf.
# The journal holds 256 records, so each 256 include one compaction.
n=${PROFILE_REMAPS:-1000000}
dev=$(set_with pc "$n")
dmsetup create pc --table "$("$ctl" table "$dev")"
off=$(jq -e .data_offset_sectors /tmp/pc.json)
first=$((hit + n))
for ((b = first; b < first + 512; b += 64)); do nullb_bad pc $((off + b * 8)) $((off + (b + 64) * 8 - 1)); done
cw=(--name=c --filename=/dev/mapper/pc --rw=write --bs=4k --ioengine=psync --direct=1 --size=$((256 * 4096))
	--eta=never --output=/dev/null)
echo function_graph > "$t/current_tracer"
echo 1 > "$t/options/funcgraph-tail"
echo "md_commit md_compact md_snapshot flush_members" > "$t/set_ftrace_filter" 2> /dev/null ||
	echo "md_commit md_compact flush_members" > "$t/set_ftrace_filter" || die "cannot trace md_commit"
echo > "$t/trace"
echo 1 > "$t/tracing_on"
fio "${cw[@]}" --offset=$((first * 4096)) || die "the remapping writes failed"
echo 0 > "$t/tracing_on"
echo "=== 256 remapping writes on a table of $n remaps, per call (function_graph, nested calls included):"
awk '{ d = ""; for (i = 1; i <= NF; i++) if ($i == "us") { d = $(i - 1); break } }
	d != "" && match($0, /(md_commit|md_compact|md_snapshot|flush_members)( \[dm_remap\])?(\(\);| \*\/)/) {
		f = substr($0, RSTART, RLENGTH); match(f, /^[a-z_]+/); f = substr(f, 1, RLENGTH); n[f]++; s[f] += d }
	END { for (f in n) printf "  %-14s %5d calls, %10.1f us a call, %10.1f us in all\n", f, n[f], s[f] / n[f], s[f] }' \
	"$t/trace" | sort
echo nop > "$t/current_tracer"
echo 0 > "$t/options/funcgraph-tail"
expect_eq "remap events" 256 "$(status_field pc remap_events)"
perf record -q -e cpu-clock -F 4000 -a -g -o /tmp/commit.data -- fio "${cw[@]}" --offset=$(((first + 256) * 4096)) ||
	die "perf record of the remapping writes failed"
expect_eq "remap events" 512 "$(status_field pc remap_events)"
echo "=== 256 remapping writes on a table of $n remaps: kernel symbols by share of samples (self)"
perf report -q -i /tmp/commit.data --no-children --sort sym --stdio -g none --percent-limit 0.7 2> /dev/null |
	sed 's/^ *//' | head -n 40
echo "=== the same, dm-remap's symbols with children"
perf report -q -i /tmp/commit.data --children --sort sym --stdio -g none 2> /dev/null |
	grep -E 'md_|remap_|stream_|flush_|crc32c|dm_io|xa_' | head -n 30
dmsetup remove pc
nullb_remove pc

DMREMAPD=$DMREMAP_BUILD/dbus/dm-remapd DMREMAPCTL=$ctl DBUS_SRC=$DMREMAP_SRC/dbus BENCH_PERF=1 BENCH_IDLE_S=1 \
	/usr/bin/python3 "$here/daemon.py" "${PROFILE_SETS:-100}" > /dev/null || die "the daemon's profile failed"
echo "profile: done"
