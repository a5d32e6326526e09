#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Error storm (issue 13): BLOCKS (default 10,000) contiguous bad blocks on a
# null_blk data device, hit by one sequential write, for two write shapes:
# large O_DIRECT writes (dd bs=1M) and many small concurrent ones (fio 4k,
# QD32 libaio). Measures remaps per second and commits (status seq) per
# remap, and the latency of 4k QD1 random reads of blocks the storm does not
# touch, during the storm against a baseline in the same boot.
# Run with vmtest.py --bench (instruction-counting TCG): guest time is
# instruction time, so only figures measured inside the guest mean
# anything, and only as ratios or between kernels built the same way.
# Takes minutes of wall time per shape under TCG: give vmtest a --timeout.
# Usage: storm.sh [BLOCKS [STORM_TIMEOUT_S]]
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
nblocks=${1:-10000}
storm_timeout=${2:-900} # guest seconds
bs=4096
read_blocks=2048 # the unaffected region: data blocks 0..2047 (8 MiB)
first=$read_blocks
base_secs=5
w=/tmp/storm
mkdir -p "$w"

# field STATUS KEY: one key=value token of a status line already read.
field() { tr ' ' '\n' <<< "$1" | sed -n "s/^$2=//p"; }
now_ns() { date +%s%N; }
dm_reads() { awk '{print $1}' "/sys/block/$dmk/stat"; }
# fio_get FILE JOB KEY...: values from fio's JSON output; a KEY is a path
# with / (percentile names hold dots). A reader stopped by SIGINT writes
# "fio: terminating on signal 2" before the JSON, hence the search for "{".
fio_get() {
	python3 - "$@" <<-'PY'
	import json, sys
	s = open(sys.argv[1]).read()
	j = json.loads(s[s.index("{"):])
	job = next(x for x in j["jobs"] if x["jobname"] == sys.argv[2])
	out = []
	for k in sys.argv[3:]:
	    v = job
	    for p in k.split("/"):
	        v = v[p]
	    out.append(str(v))
	print(" ".join(out))
	PY
}
# reader OUT SECONDS: the unaffected-read job, QD1 4k random reads of the
# region with no bad block.
reader() {
	fio --name=reader --filename=/dev/mapper/storm --rw=randread --bs=4k --iodepth=1 --ioengine=psync \
		--direct=1 --offset=0 --size=$((read_blocks * bs)) --time_based --runtime="$2" \
		--eta=never --output-format=json --output="$1"
}
# The storm's data for dd: blocks.py's pattern, so `blocks verify` checks it.
python3 - "$w/pattern" "$first" "$nblocks" <<-'PY'
	import os, sys
	sys.path.insert(0, os.path.join(os.environ["DMREMAP_SRC"], "tests/vm/target"))
	from blocks import pattern
	first, n = int(sys.argv[2]), int(sys.argv[3])
	with open(sys.argv[1], "wb") as f:
	    for b in range(first, first + n):
	        f.write(pattern(b, "storm", 4096))
	PY

summary=()
# run_shape SHAPE: one fresh set, its storm region bad, baseline reads, then
# the storm with the reader running; everything asserted, figures kept.
run_shape() {
	local shape=$1 dev st0 st1 t0 t1 r0 r1 r_pre reader_pid data_blocks
	# Spare for every storm block and metadata for 16384 remaps; 96 MiB in
	# all (4 MiB metadata, 48 MiB data, 44 MiB = 11264 blocks internal spare).
	dev=$(nullb_create stormdev 96 4096)
	"$ctl" format --name storm --max-remaps 16384 --internal-spare 44M "$dev" > /dev/null
	dmsetup create storm --table "$("$ctl" table "$dev")"
	dmk=dm-$(dmsetup info -c --noheadings -o minor storm | tr -d " ")
	data_blocks=$(($(blockdev --getsz /dev/mapper/storm) / 8))
	[ "$data_blocks" -ge $((first + nblocks)) ] || die "$data_blocks data blocks, need $((first + nblocks))"
	# null_blk allocates on first write: the read region is filled first so
	# reads hit memory in both measurements.
	dd if=/dev/urandom of=/dev/mapper/storm bs=1M count=$((read_blocks * bs >> 20)) oflag=direct status=none
	local s
	s=$(data_sector "$dev" "$first")
	# One contiguous range: the storm is one failing zone, not scattered blocks.
	nullb_bad stormdev "$s" $((s + nblocks * 8 - 1))

	reader "$w/base-$shape.json" "$base_secs"

	st0=$(dmsetup status storm)
	r_pre=$(dm_reads)
	reader "$w/storm-$shape.json" 3600 &
	reader_pid=$!
	# The storm starts only once the reader is reading.
	wait_until 60 "the reader's first reads" eval '[ "$(dm_reads)" -gt "$r_pre" ]'
	r0=$(dm_reads)
	t0=$(now_ns)
	case $shape in
	dd-1M)
		dd if="$w/pattern" of=/dev/mapper/storm bs=1M seek=$((first * bs)) oflag=direct,seek_bytes status=none &
		;;
	fio-4k-qd32)
		fio --name=storm --filename=/dev/mapper/storm --rw=write --bs=4k --iodepth=32 --ioengine=libaio \
			--direct=1 --offset=$((first * bs)) --size=$((nblocks * bs)) --verify=crc32c --do_verify=0 \
			--eta=never --output-format=json --output="$w/write-$shape.json" &
		;;
	esac
	local storm_pid=$! dog rc=0
	# A storm that never ends fails with the blocked tasks in the kernel log;
	# a sleeping watchdog, not a poll, so the storm's end is timed exactly.
	(
		sleep "$storm_timeout"
		touch "$w/timeout-$shape"
		echo w > /proc/sysrq-trigger
		kill "$storm_pid"
	) > /dev/null 2>&1 &
	dog=$!
	wait "$storm_pid" || rc=$?
	t1=$(now_ns)
	r1=$(dm_reads)
	[ ! -e "$w/timeout-$shape" ] ||
		die "$shape: the storm write did not end within $storm_timeout s (status: $(dmsetup status storm))"
	kill "$dog"
	[ "$rc" = 0 ] || die "$shape: the storm write failed ($rc)"
	kill -0 "$reader_pid" 2> /dev/null || die "$shape: the reader ended before the storm did"
	kill -INT "$reader_pid"
	# fio exits 128 when stopped by a signal; its JSON says whether a read failed.
	local rc=0
	wait "$reader_pid" || rc=$?
	[ "$rc" = 0 ] || [ "$rc" = 128 ] || die "$shape: the reader failed ($rc)"
	st1=$(dmsetup status storm)
	[ "$r1" -gt "$r0" ] || die "$shape: no unaffected read completed during the storm"
	local b_err b_ios b_mean b_p99 s_err s_ios s_mean s_p99 s_run
	read -r b_err b_ios b_mean b_p99 <<< "$(fio_get "$w/base-$shape.json" reader error read/total_ios \
		read/clat_ns/mean read/clat_ns/percentile/99.000000)"
	read -r s_err s_ios s_mean s_p99 s_run <<< "$(fio_get "$w/storm-$shape.json" reader error read/total_ios \
		read/clat_ns/mean read/clat_ns/percentile/99.000000 job_runtime)"
	expect_eq "$shape: baseline reader error" 0 "$b_err"
	expect_eq "$shape: storm reader error" 0 "$s_err"
	[ "$b_ios" -gt 0 ] || die "$shape: the baseline read nothing"
	# fio's reads are the device's reads since the reader started: it was
	# the only reader, so the count of reads inside [t0, t1] is its own.
	expect_eq "$shape: reads counted by fio and by the device" "$s_ios" $(($(dm_reads) - r_pre))

	local ev=$(($(field "$st1" remap_events) - $(field "$st0" remap_events)))
	local seq=$(($(field "$st1" seq) - $(field "$st0" seq)))
	expect_eq "$shape: remap_events delta" "$nblocks" "$ev"
	expect_eq "$shape: remapped" "$nblocks" "$(field "$st1" remapped)"
	expect_eq "$shape: spare_used" "$nblocks" "$(field "$st1" spare_used)"
	expect_eq "$shape: pending" 0 "$(field "$st1" pending)"
	expect_eq "$shape: exhausted" 0 "$(field "$st1" exhausted)"
	expect_eq "$shape: device_errors" 0 "$(field "$st1" device_errors)"
	[ "$seq" -gt 0 ] || die "$shape: no commit during the storm"
	if [ "$shape" = fio-4k-qd32 ]; then
		read -r err wb <<< "$(fio_get "$w/write-$shape.json" storm error write/io_bytes)"
		expect_eq "$shape: fio write error" 0 "$err"
		expect_eq "$shape: bytes written" $((nblocks * bs)) "$wb"
		# fio's own headers (crc32c and offset per block) read back.
		fio --name=storm --filename=/dev/mapper/storm --rw=write --bs=4k --iodepth=32 --ioengine=libaio \
			--direct=1 --offset=$((first * bs)) --size=$((nblocks * bs)) --verify=crc32c --verify_only=1 \
			--eta=never --output-format=json --output="$w/verify-$shape.json" || die "$shape: fio verify failed"
		read -r err rb <<< "$(fio_get "$w/verify-$shape.json" storm error read/io_bytes)"
		expect_eq "$shape: fio verify error" 0 "$err"
		expect_eq "$shape: bytes verified" $((nblocks * bs)) "$rb"
	else
		blocks verify /dev/mapper/storm "$first" "$nblocks" storm || die "$shape: storm blocks do not verify"
	fi

	summary+=("$(python3 - "$shape" "$nblocks" "$ev" "$seq" "$t0" "$t1" "$b_mean" "$b_p99" "$s_mean" "$s_p99" \
		"$((r1 - r0))" "$s_ios" "$s_run" <<-'PY'
	import sys
	shape = sys.argv[1]
	n, ev, seq, t0, t1 = map(int, sys.argv[2:7])
	bm, bp, sm, sp = map(float, sys.argv[7:11])
	during, total, run_ms = map(int, sys.argv[11:14])
	el = (t1 - t0) / 1e9
	print(f"{shape}: blocks {n}, remaps {ev}, elapsed {el:.3f} guest s, {ev / el:.1f} remaps/s, "
	      f"commits {seq}, {seq / ev:.4f} commits/remap\n"
	      f"{shape}: reads 4k QD1 baseline mean {bm / 1e3:.1f} us p99 {bp / 1e3:.1f} us; "
	      f"during storm mean {sm / 1e3:.1f} us p99 {sp / 1e3:.1f} us; "
	      f"ratio mean {sm / bm:.2f} p99 {sp / bp:.2f}\n"
	      f"{shape}: overlap: reader ran {run_ms / 1e3:.3f} s from before the storm's start to after its end "
	      f"({el:.3f} s); {during} of its {total} reads completed inside the storm")
	PY
	)")
	echo "${summary[-1]}"
	dmsetup remove storm
	nullb_remove stormdev
}

run_shape dd-1M
run_shape fio-4k-qd32
echo "=== error storm summary ($(uname -r), $nblocks bad blocks in one range) ==="
printf '%s\n' "${summary[@]}"
