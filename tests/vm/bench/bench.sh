#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Guest side of scripts/bench (vmtest.py run --bench, or plain TCG):
#   bench.sh [--smoke]
# Every figure is dm-remap against a baseline in the same guest, A/B
# interleaved (tests/vm/bench/ab.py):
#   fastpath     no remaps, against dm-linear over the same data area, on
#                memory-backed null_blk and on a loop device over tmpfs;
#   remaps-miss  100k and 1M remapped blocks, I/O that misses them, against
#                dm-linear over the same data area;
#   remaps-hit   the same, I/O on remapped blocks only, against dm-linear
#                over the spare blocks they moved to;
#   load         the table's load (the constructor's time) with those remaps,
#                against the same set with none; and the kernel memory
#                it takes per remap (single figures: "BENCH-VALUE");
#   remap-event  a write onto a block gone bad, against an O_DSYNC write
#                of a good one, and its latency distribution;
#   commit       the same remapping write on tables of 100k and 1M remaps
#                against one of 1k;
#   scan         a full pass of dmremapctl scan against dd, and 4k reads
#                beside an idle-priority scan against the same alone;
#   storm        10,000 bad blocks hit at once (tests/vm/bench/storm.sh):
#                remaps per second, commits per remap, and reads of blocks
#                it does not touch, during it and alone (single figures);
#   daemon       dm-remapd's resident memory, GetManagedObjects latency and
#                wakeups while idle with 1, 10 and 100 sets (single figures).
# Prints "BENCH {...}" lines; --smoke is one short round of one workload,
# with small sets, so that CI keeps the command working.
. "$DMREMAP_SRC/tests/vm/bench/lib-bench.sh"
# An even number: report.py takes the ratio per ABBA pair of rounds.
rounds=6 runtime=2
workloads=(4k-randread-qd1 4k-randwrite-qd1 4k-randread-qd32 4k-randwrite-qd32 1m-read-qd1 1m-write-qd1)
media=2 counts=(100000 1000000) tables=(1000 100000 1000000) batch=256 dist=1024 scan_mb=1024 storm=10000 sets=(1 10 100)
# The region every fio run stays in (tests/vm/bench/ab.py).
export BENCH_SIZE_MB=192
if [ "${1:-}" = --smoke ]; then
	rounds=1 runtime=1 workloads=(4k-randwrite-qd32) media=1 counts=(8192) tables=(1000 8192) batch=16 dist=64
	scan_mb=64 storm=256 sets=(1 2)
	export BENCH_IDLE_S=1 BENCH_SIZE_MB=16 STORM_ALONE_S=1
fi
size_mb=$BENCH_SIZE_MB
# abba ROUND ITEM...: the items in order in odd rounds, reversed in even
# ones (the order ab.py runs devices in).
abba() {
	local r=$1 i
	shift
	if ((r % 2)); then printf '%s\n' "$@"; else for ((i = $#; i >= 1; i--)); do printf '%s\n' "${!i}"; done; fi
}
# section NAME: where the run is, with the guest time so far.
section() { echo "bench: $1 at $SECONDS s" >&2; }
# figures and values: what report.py --check expects. Per workload,
# fastpath's media (the smoke run: null_blk only) and each count's miss
# and hit; per count,
# the load and two memory figures; the remap event and a commit figure
# per table but the first; two latency distributions of five figures; the
# scan's throughput and the foreground reads beside it; the storm's 13
# values; the daemon's six figures per number of sets.
echo "BENCH-INFO {\"kernel\": \"$(uname -r)\", \"rounds\": $rounds, \"runtime_s\": $runtime," \
	"\"figures\": $(((media + 2 * ${#counts[@]}) * ${#workloads[@]} + ${#counts[@]} + ${#tables[@]} + 2))," \
	"\"values\": $((2 * ${#counts[@]} + 10 + 13 + 6 * ${#sets[@]}))}"

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
	dd if=/dev/zero of=/dev/mapper/bench-linear bs=1M count="$size_mb" oflag=direct status=none
	python3 "$here/ab.py" fastpath "$1" "$rounds" "$runtime" dm-linear=/dev/mapper/bench-linear \
		dm-remap=/dev/mapper/bench-remap -- "${workloads[@]}" || die "fastpath on $1 failed"
	expect_eq "remaps after the fast-path runs on $1" 0 "$("$ctl" status bench-remap --json | jq '.[0].remapped')"
	dmsetup remove bench-remap
	dmsetup remove bench-linear
}

section fastpath
dev=$(nullb_create bench 256 4096)
fastpath null_blk "$dev"
nullb_remove bench

if [ "$media" = 2 ]; then
	modprobe loop
	mkdir -p /run/bench
	mount -t tmpfs -o size=260M tmpfs /run/bench
	truncate -s 256M /run/bench/disk
	loop=$(losetup --show -f -b 4096 /run/bench/disk) || die "no loop device"
	fastpath loop-tmpfs "$loop"
	losetup -d "$loop"
	umount /run/bench
fi
# label N: 100k, 1m, 64k.
label() { case $1 in *000000) echo "$(($1 / 1000000))m" ;; *000) echo "$(($1 / 1000))k" ;;
	*) echo "$(($1 / 1024))k" ;; esac; }
slab_bytes() { awk '$1 == "radix_tree_node" { print $2 * $4 }' /proc/slabinfo; }
mem_free_kb() { awk '$1 == "MemFree:" { print $2 }' /proc/meminfo; }
# create_us NAME TABLE: dmsetup create, and the microseconds the target's
# constructor took, as the function_graph tracer times remap_ctr (timing
# dmsetup itself would time loading it from the host, under instruction
# counting a matter of host I/O).
tracing=/sys/kernel/tracing
ctr_tracing() {
	mountpoint -q "$tracing" || mount -t tracefs nodev "$tracing"
	echo function_graph > "$tracing/current_tracer"
	echo remap_ctr > "$tracing/set_ftrace_filter" || die "cannot trace remap_ctr"
	echo 1 > "$tracing/tracing_on"
}
create_us() {
	local us
	echo > "$tracing/trace"
	dmsetup create "$1" --table "$2" || die "cannot create $1"
	us=$(awk '/remap_ctr/ { for (i = 2; i <= NF; i++) if ($i == "us") d = $(i - 1) } END { print d }' "$tracing/trace")
	[ -n "$us" ] || die "no remap_ctr in the trace of creating $1: $(cat "$tracing/trace")"
	echo "$us"
}
load_line() {
	echo "BENCH {\"group\": \"load\", \"medium\": \"null_blk-$1\", \"workload\": \"constructor\"," \
		"\"device\": \"$2\", \"baseline\": \"dm-remap-empty\", \"round\": $3, \"seconds\": $4e-6}"
}

# remaps N: dm-remap over a set with N remaps against dm-linear, for I/O
# that misses them and I/O on them alone; the table's load against the
# same set without remaps, and the kernel memory it takes.
remaps() {
	local n=$1 lbl dev empty table etable len off soff r us0 us1 slab0 free0
	lbl=$(label "$n")
	dev=$(set_with rm "$n")
	empty=$(set_with rm0 0 "$n")
	table=$("$ctl" table "$dev") etable=$("$ctl" table "$empty")
	# The load: each table created and removed in turn, ABBA.
	ctr_tracing
	for ((r = 1; r <= rounds; r++)); do
		if ((r % 2)); then us0=$(create_us bench-empty "$etable") us1=$(create_us bench-remap "$table")
		else us1=$(create_us bench-remap "$table") us0=$(create_us bench-empty "$etable"); fi
		dmsetup remove bench-empty
		dmsetup remove bench-remap
		load_line "$lbl" dm-remap-empty "$r" "$us0"
		load_line "$lbl" dm-remap "$r" "$us1"
	done
	echo nop > "$tracing/current_tracer"
	nullb_remove rm0
	# The memory the table takes: xarray nodes, and all the kernel's.
	sync
	echo 3 > /proc/sys/vm/drop_caches
	slab0=$(slab_bytes) free0=$(mem_free_kb)
	dmsetup create bench-remap --table "$table"
	echo "BENCH-VALUE {\"group\": \"load\", \"medium\": \"null_blk-$lbl\", \"name\": \"xarray bytes per remap\"," \
		"\"value\": $(awk "BEGIN { printf \"%.2f\", ($(slab_bytes) - $slab0) / $n }"), \"unit\": \"B\"}"
	echo "BENCH-VALUE {\"group\": \"load\", \"medium\": \"null_blk-$lbl\", \"name\": \"kernel memory per remap\"," \
		"\"value\": $(awk "BEGIN { printf \"%.2f\", ($free0 - $(mem_free_kb)) * 1024 / $n }"), \"unit\": \"B\"}"
	expect_eq "remaps loaded" "$n" "$("$ctl" status bench-remap --json | jq '.[0].remapped')"
	read -r _ len _ <<< "$table"
	off=$(jq -e .data_offset_sectors /tmp/rm.json) soff=$(jq -e .member.spare_offset_sectors /tmp/rm.json) ||
		die "no offsets in the dump of $dev"
	dmsetup create bench-linear --table "0 $len linear $dev $off"
	dmsetup create bench-spare --table "0 $((n * 8)) linear $dev $soff"
	dd if=/dev/zero of=/dev/mapper/bench-linear bs=1M count="$size_mb" oflag=direct status=none
	dd if=/dev/zero of=/dev/mapper/bench-spare bs=1M count="$size_mb" oflag=direct status=none
	python3 "$here/ab.py" remaps-miss "null_blk-$lbl" "$rounds" "$runtime" dm-linear=/dev/mapper/bench-linear \
		dm-remap=/dev/mapper/bench-remap -- "${workloads[@]}" || die "remaps-miss with $n remaps failed"
	python3 "$here/ab.py" remaps-hit "null_blk-$lbl" "$rounds" "$runtime" dm-linear-spare=/dev/mapper/bench-spare \
		"dm-remap=/dev/mapper/bench-remap@$((hit * 4096))" -- "${workloads[@]}" ||
		die "remaps-hit with $n remaps failed"
	expect_eq "remaps after the runs with $n" "$n" "$("$ctl" status bench-remap --json | jq '.[0].remapped')"
	dmsetup remove bench-remap
	dmsetup remove bench-linear
	dmsetup remove bench-spare
	nullb_remove rm
}
# events: a QD1 write onto a block gone bad (the error, the spare write,
# the commit, the completion) against an O_DSYNC write of a good block;
# and what those commits cost by table size: sets holding the remaps of
# $tables, each round BATCH new bad blocks on each, ABBA. A round of 256
# writes, the journal's size, includes one compaction: a snapshot of the
# whole table. Then the latency distribution of $dist more of each.
# lat_of DEV FIRST COUNT [FIO ARGS]: "mean p50 p99 p99.9 max" in seconds
# of QD1 4k writes of blocks FIRST.. of DEV.
lat_of() {
	local dev=$1 first=$2 count=$3
	shift 3
	fio --name=e --filename="$dev" --rw=write --bs=4k --ioengine=psync --direct=1 --offset=$((first * 4096)) \
		--size=$((count * 4096)) --percentile_list=50:99:99.9 --output-format=json "$@" > /tmp/lat.json ||
		die "fio writes of $dev failed"
	jq -r '.jobs[0].write | [.clat_ns.mean, .clat_ns.percentile["50.000000"], .clat_ns.percentile["99.000000"],
		.clat_ns.percentile["99.900000"], .clat_ns.max] | map(. / 1e9 | tostring) | join(" ")' /tmp/lat.json
}
# bad_run SET FIRST COUNT: data blocks FIRST.. of set evSET fail on its null_blk.
bad_run() {
	local off b end=$(($2 + $3))
	off=$(jq -e .data_offset_sectors "/tmp/ev$1.json")
	# 6.1's badblocks takes at most 512 sectors at once.
	for ((b = $2; b < end; b += 64)); do
		nullb_bad "ev$1" $((off + b * 8)) $((off + (b + 64 < end ? b + 64 : end) * 8 - 1))
	done
}
events() {
	local i r k mean rest before dev lbl order next=()
	for i in "${!tables[@]}"; do
		dev=$(set_with "ev$i" "${tables[i]}")
		dmsetup create "ev$i" --table "$("$ctl" table "$dev")"
		next[i]=$((hit + tables[i]))
	done
	# The dsync writes' blocks written once: null_blk allocates on first write.
	dd if=/dev/zero of=/dev/mapper/ev0 bs=1M count=16 oflag=direct status=none
	order=("${!tables[@]}" dsync)
	for ((r = 1; r <= rounds; r++)); do
		for k in $(abba "$r" "${order[@]}"); do
			if [ "$k" = dsync ]; then
				read -r mean rest <<< "$(lat_of /dev/mapper/ev0 $(((r - 1) * batch)) "$batch" --sync=dsync)"
				echo "BENCH {\"group\": \"remap-event\", \"medium\": \"null_blk\", \"workload\": \"4k-write-qd1\"," \
					"\"device\": \"dsync-write\", \"baseline\": \"dsync-write\", \"round\": $r, \"seconds\": $mean}"
				continue
			fi
			lbl=$(label "${tables[k]}")
			bad_run "$k" "${next[k]}" "$batch"
			before=$(status_field "ev$k" remap_events)
			read -r mean rest <<< "$(lat_of "/dev/mapper/ev$k" "${next[k]}" "$batch")"
			expect_eq "remap events of a round on table $lbl" $((before + batch)) "$(status_field "ev$k" remap_events)"
			next[k]=$((next[k] + batch))
			echo "BENCH {\"group\": \"commit\", \"medium\": \"null_blk\", \"workload\": \"4k-remap-write-qd1\"," \
				"\"device\": \"table-$lbl\", \"baseline\": \"table-$(label "${tables[0]}")\", \"round\": $r," \
				"\"seconds\": $mean}"
			[ "$k" != 0 ] || echo "BENCH {\"group\": \"remap-event\", \"medium\": \"null_blk\"," \
				"\"workload\": \"4k-write-qd1\", \"device\": \"remap-write\", \"baseline\": \"dsync-write\"," \
				"\"round\": $r, \"seconds\": $mean}"
		done
	done
	# The distributions, on the smallest table.
	bad_run 0 "${next[0]}" "$dist"
	dist remap-write "$(lat_of /dev/mapper/ev0 "${next[0]}" "$dist")"
	dist dsync-write "$(lat_of /dev/mapper/ev0 $((rounds * batch)) "$dist" --sync=dsync)"
	for i in "${!tables[@]}"; do
		dmsetup remove "ev$i"
		nullb_remove "ev$i"
	done
}
# dist NAME "mean p50 p99 p99.9 max": BENCH-VALUE lines, in microseconds.
dist() {
	local names=(mean p50 p99 p99.9 max) v i=0
	for v in $2; do
		echo "BENCH-VALUE {\"group\": \"remap-event\", \"medium\": \"null_blk\", \"name\": \"$1 ${names[i]}\"," \
			"\"value\": $(jq -n "$v * 1e6 | . * 10 | round / 10"), \"unit\": \"us\"}"
		i=$((i + 1))
	done
}
for n in "${counts[@]}"; do section "remaps $n"; remaps "$n"; done
# scan: a full pass of dmremapctl scan against dd iflag=direct bs=1M of the
# same device, each rate as it reports it (from the start of its reads to
# their end: a program's start in a guest under instruction counting
# costs it time for every file it reads from the host), and 4k random
# reads at QD1 alone against the same while an idle-priority scan runs,
# the scan over a device large enough to outlast them. Sparse null_blks:
# reading what was never written allocates nothing.
scan_bench() {
	local r k rate bytes scanpid rc order=(dd scan) fg=(alone with-idle-scan)
	export DM_REMAP_STATE_DIR=/tmp/dmr-state
	scan_set sc "$scan_mb"
	bytes=$(blockdev --getsize64 /dev/mapper/sc)
	for ((r = 1; r <= rounds; r++)); do
		for k in $(abba "$r" "${order[@]}"); do
			if [ "$k" = dd ]; then
				# dd's own count of its copy: "N bytes (...) copied, S s, R MB/s".
				rate=$(dd if=/dev/mapper/sc of=/dev/null bs=1M iflag=direct 2>&1 |
					awk -F', ' '/ copied, / { split($(NF - 1), t, " "); printf "%d", bytes / t[1] }' bytes="$bytes")
			else
				"$ctl" scan sc --restart --json > /tmp/scan.json
				expect_eq "blocks the scan read" $((bytes / 4096)) "$(jq .blocks_read /tmp/scan.json)"
				rate=$(jq '.rate_mb_s * 1e6 | floor' /tmp/scan.json)
			fi
			[ "${rate:-0}" -gt 0 ] || die "no rate for $k"
			echo "BENCH {\"group\": \"scan\", \"medium\": \"null_blk\", \"workload\": \"full-pass\"," \
				"\"device\": \"$k\", \"baseline\": \"dd\", \"round\": $r, \"bytes_per_s\": $rate}"
		done
	done
	scan_set scbig 65536
	for ((r = 1; r <= rounds; r++)); do
		for k in $(abba "$r" "${fg[@]}"); do
			scanpid=""
			if [ "$k" != alone ]; then
				"$ctl" scan scbig --restart --json > /tmp/scan-bg.json &
				scanpid=$! scan_reads0=""
				wait_until 60 "the scan to read" scan_reading
			fi
			fio --name=f --filename=/dev/mapper/scbig --rw=randread --bs=4k --direct=1 --ioengine=psync \
				--size="${size_mb}M" --runtime="$runtime" --time_based --randrepeat=1 --norandommap \
				--output-format=json > /tmp/fg.json || die "fio beside the scan failed"
			if [ -n "$scanpid" ]; then
				kill -0 "$scanpid" 2> /dev/null || die "the scan ended before the foreground reads did"
				kill -INT "$scanpid"
				# Interrupted, it says so and exits with 1.
				rc=0
				wait "$scanpid" || rc=$?
				expect_eq "the exit status of the interrupted scan" 1 "$rc"
				jq -e '.complete == false' /tmp/scan-bg.json > /dev/null ||
					die "the scan was not interrupted: $(cat /tmp/scan-bg.json)"
			fi
			echo "BENCH {\"group\": \"scan-fg\", \"medium\": \"null_blk\", \"workload\": \"4k-randread-qd1\"," \
				"\"device\": \"$k\", \"baseline\": \"alone\", \"round\": $r," \
				"\"iops\": $(jq '.jobs[0].read.iops' /tmp/fg.json), \"bytes_per_s\": $(jq '.jobs[0].read.bw_bytes' /tmp/fg.json)}"
		done
	done
	for k in sc scbig; do
		dmsetup remove "$k"
		nullb_remove "$k"
	done
}
# scan_set NAME MB: set NAME on a null_blk NAME of MB megabytes, active.
scan_set() {
	local dev
	dev=$(nullb_create "$1" "$2" 4096)
	"$ctl" format --force --name "$1" --max-remaps 4096 --internal-spare 8M "$dev" > /dev/null
	dmsetup create "$1" --table "$("$ctl" table "$dev")"
}
# scan_reading: the scan's reads have started (the device's read count moves).
scan_reading() {
	local now
	now=$(awk '{print $1}' "/sys/block/$(basename "$(readlink -f /dev/mapper/scbig)")/stat")
	[ -n "${scan_reads0:-}" ] || scan_reads0=$now
	[ "$now" -gt $((scan_reads0 + 64)) ]
}
section events
events
section scan
scan_bench
section storm
bash "$here/storm.sh" "$storm" || die "the error storm failed"
section daemon
# The daemon: its memory, GetManagedObjects and wakeups with sets(...) sets.
DMREMAPD=$DMREMAP_BUILD/dbus/dm-remapd DMREMAPCTL=$ctl DBUS_SRC=$DMREMAP_SRC/dbus \
	/usr/bin/python3 "$here/daemon.py" "${sets[@]}" || die "the daemon's figures failed"
section done
