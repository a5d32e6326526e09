#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Error storm (issues 13 and 20), a section of bench.sh: BLOCKS (default
# 10,000) contiguous bad blocks on a null_blk data device, hit by one
# sequential write, in two shapes: large O_DIRECT writes (dd bs=1M) and
# many small concurrent ones (fio 4k, QD32). Reports remaps per second,
# commits (status seq) per remap, and the latency of 4k QD1 random reads
# of blocks the storm does not touch, during the storm and alone in the
# same boot: "BENCH-VALUE" lines (tests/vm/bench/report.py), 13 of them.
# Under instruction counting (scripts/bench) guest time is instructions,
# so the figures mean something against each other.
# Usage: storm.sh [BLOCKS]; $STORM_ALONE_S: seconds of reads alone (default 5)
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
n=${1:-10000}
read_mb=8 first=2048 # the unaffected region: blocks 0..2047
size_mb=$((read_mb + n * 4 / 1024 + n * 4 / 1024 + 24))
dev=$(nullb_create d0 "$size_mb" 4096)
now() { date +%s%N; }
# clat: "MEAN_US P99_US MAX_US IOS" of fio's JSON in $1, job r.
clat() {
	python3 - "$1" <<-'PY'
	import json, sys
	s = open(sys.argv[1]).read()
	r = json.loads(s[s.index("{"):])["jobs"][0]["read"]
	c = r["clat_ns"]
	print(f'{c["mean"] / 1000:.1f} {c["percentile"]["99.000000"] / 1000:.1f} {c["max"] / 1000:.1f} {r["total_ios"]}')
	PY
}
reader() {
	fio --name=r --filename=/dev/mapper/s --rw=randread --bs=4k --direct=1 --ioengine=psync \
		--size=${read_mb}M --runtime="$1" --time_based --output-format=json > "$2" 2>&1
}
# A fresh set over the same disk (the bad blocks stay bad), the read region written.
setup() {
	"$ctl" format --force --name s --max-remaps $((n + 4096)) --internal-spare $((n * 4 / 1024 + 8))M "$dev" > /dev/null
	dmsetup create s --table "$("$ctl" table "$dev")"
	dmk=dm-$(dmsetup info -c --noheadings -o minor s | tr -d ' ')
	dd if=/dev/zero of=/dev/mapper/s bs=1M count="$read_mb" oflag=direct status=none
}
dm_reads() { awk '{print $1}' "/sys/block/$dmk/stat"; }
reading() { [ "$(dm_reads)" -gt $((reads0 + 100)) ]; }
# storm NAME CMD...: CMD writes the bad region while a reader runs.
storm() {
	local name=$1 st0 st1 t0 t1 pid
	shift
	st0=$(dmsetup status s)
	reads0=$(dm_reads)
	reader 3600 /tmp/during.json &
	pid=$!
	wait_until 600 "the reader to read" reading
	t0=$(now)
	"$@" || die "$name: the storm write failed"
	t1=$(now)
	kill -0 "$pid" || die "$name: the reader was not running through the storm"
	pkill -INT -x fio
	# Stopped by a signal: its status says only that.
	wait "$pid" || :
	st1=$(dmsetup status s)
	local r0 r1 q0 q1
	r0=$(sed -E 's/.* remap_events=([0-9]+).*/\1/' <<< "$st0") r1=$(sed -E 's/.* remap_events=([0-9]+).*/\1/' <<< "$st1")
	q0=$(sed -E 's/.* seq=([0-9]+).*/\1/' <<< "$st0") q1=$(sed -E 's/.* seq=([0-9]+).*/\1/' <<< "$st1")
	expect_eq "$name: remaps" "$n" $((r1 - r0))
	read -r mean p99 max ios <<< "$(clat /tmp/during.json)"
	[ "$ios" -gt 0 ] || die "$name: no reads during the storm"
	python3 - "$name" "$n" $((t1 - t0)) $((q1 - q0)) "$mean $p99 $max" "$base" <<-'PY'
	import json, sys
	name, n, ns, commits = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
	during, alone = (list(map(float, a.split())) for a in sys.argv[5:7])
	def value(what, v, unit):
	    print("BENCH-VALUE " + json.dumps({"group": "storm", "medium": "null_blk", "name": f"{name}: {what}",
	                                       "value": round(v, 4 if unit == "" else 1), "unit": unit}))
	value("remaps per second", n / (ns / 1e9), "/s")
	value("commits per remap", commits / n, "")
	for i, k in enumerate(("mean", "p99", "max")):
	    value(f"untouched 4k read {k} during it", during[i], "us")
	print(f"{name}: {n} remaps in {ns / 1e9:.3f} s, {commits} commits; untouched reads mean x{during[0] / alone[0]:.2f},"
	      f" p99 x{during[1] / alone[1]:.2f}, max x{during[2] / alone[2]:.2f} of alone", file=sys.stderr)
	PY
}
setup
s0=$(data_sector "$dev" "$first") s1=$(($(data_sector "$dev" $((first + n))) - 1))
# 6.1's badblocks takes at most 512 sectors at once.
for ((s = s0; s <= s1; s += 512)); do nullb_bad d0 "$s" $((s + 511 < s1 ? s + 511 : s1)); done
reader "${STORM_ALONE_S:-5}" /tmp/base.json
read -r base_mean base_p99 base_max base_ios <<< "$(clat /tmp/base.json)"
[ "$base_ios" -gt 0 ] || die "no reads alone"
base="$base_mean $base_p99 $base_max"
for kv in "mean $base_mean" "p99 $base_p99" "max $base_max"; do
	set -- $kv
	echo "BENCH-VALUE {\"group\": \"storm\", \"medium\": \"null_blk\", \"name\": \"untouched 4k read $1 alone\"," \
		"\"value\": $2, \"unit\": \"us\"}"
done
head -c $((n * 4096)) /dev/urandom > /tmp/storm.dat
storm "dd 1M" dd if=/tmp/storm.dat of=/dev/mapper/s bs=1M seek=$((first * 4096)) oflag=direct,seek_bytes status=none
dd if=/dev/mapper/s of=/tmp/back.dat bs=4096 skip="$first" count="$n" iflag=direct status=none
cmp /tmp/back.dat /tmp/storm.dat || die "dd 1M: the storm region does not read back"
dmsetup remove s
setup
w=(--name=w --filename=/dev/mapper/s --rw=write --bs=4k --iodepth=32 --ioengine=libaio --direct=1
	--offset=$((first * 4096)) --size=$((n * 4096)) --verify=crc32c --output=/dev/null)
storm "fio 4k QD32" fio "${w[@]}" --do_verify=0
fio "${w[@]}" --verify_only=1 || die "fio 4k QD32: the storm region does not verify"
dmsetup remove s
nullb_remove d0
