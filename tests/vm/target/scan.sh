#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# dmremapctl scan (issue 15): a scan over a null_blk with bad sector ranges
# finds exactly the blocks those ranges touch (each now pending, reported
# with its sector range on the data device); a scan stopped by
# --max-duration resumes where it stopped, reading no block twice, and the
# completed pass lands in last-scan.json; --rewrite-pending clears the
# pending blocks; foreground fio keeps most of its IOPS while an
# idle-priority scan runs (the ratio printed; only a loose bound asserted).
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
export DM_REMAP_STATE_DIR=/tmp/dmr-state

dev=$(nullb_create sc0 64 4096)

rc=0
out=$("$ctl" scan nosuch 2>&1) || rc=$?
expect_eq "scan of no device" "3 dmremapctl scan: nosuch: no such device-mapper device" "$rc $out"

"$ctl" create --json --name sc --max-remaps 4096 --internal-spare 8M "$dev" > /tmp/create.json
uuid=$(jq -r .set_uuid /tmp/create.json)
state=$DM_REMAP_STATE_DIR/$uuid
off=$(data_sector "$dev" 0)
blocks=$(($(blockdev --getsize64 /dev/mapper/sc) / 4096))
echo "set $uuid: $blocks data blocks, data area at sector $off of $dev"

# Bad sector ranges on the data device (inclusive), and the data blocks
# they touch: one whole block, a range over three blocks starting mid-block,
# one sector inside a block near the end.
ranges=("$((off + 100 * 8)) $((off + 100 * 8 + 7))"
	"$((off + 5000 * 8 + 3)) $((off + 5002 * 8 + 1))"
	"$((off + (blocks - 7) * 8 + 5)) $((off + (blocks - 7) * 8 + 5))")
expected=""
for r in "${ranges[@]}"; do
	set -- $r
	nullb_bad sc0 "$1" "$2"
	for ((b = ($1 - off) / 8; b <= ($2 - off) / 8; b++)); do expected+="$b "; done
done
expected=${expected% }
nbad=$(wc -w <<< "$expected")
echo "bad blocks expected: $expected"

# 1. A full pass finds exactly those blocks, with their sector ranges.
t0=$SECONDS
"$ctl" scan sc --json > /tmp/scan1.json
[ "$(wc -l < /tmp/scan1.json)" = 1 ] || die "scan --json printed more than one line: $(cat /tmp/scan1.json)"
expect_eq "scan found" "$expected" "$(jq -r '[.found[].block] | join(" ")' /tmp/scan1.json)"
expect_eq "scan sectors" \
	"$(for b in $expected; do printf '%s:%s:8 ' "$b" $((off + b * 8)); done | sed 's/ $//')" \
	"$(jq -r '[.found[] | "\(.block):\(.sector):\(.sectors)"] | join(" ")' /tmp/scan1.json)"
expect_eq "scan pass" "true 0 $blocks $blocks $nbad 1" \
	"$(jq -r '"\(.complete) \(.first_block) \(.blocks_read) \(.next_block) \(.bad_count) \(.runs)"' /tmp/scan1.json)"
expect_eq "pending after scan" "$expected" "$("$ctl" pending --json sc | jq -r '[.[].block] | join(" ")')"
expect_eq "status pending" "$nbad" "$(status_field sc pending)"
[ -f "$state/last-scan.json" ] || die "no $state/last-scan.json after a complete pass"
[ ! -e "$state/scan-checkpoint.json" ] || die "a checkpoint was left after a complete pass"
expect_eq "last-scan.json" "true $blocks $nbad" "$(jq -r '"\(.complete) \(.next_block) \(.bad_count)"' "$state/last-scan.json")"
echo "full pass: $((SECONDS - t0)) s, $(jq .rate_mb_s /tmp/scan1.json) MB/s"
# Human output names each block and its sector range.
"$ctl" scan sc > /tmp/scan1.txt
grep -q "^  block 100: data device sectors $((off + 800))-$((off + 807))\$" /tmp/scan1.txt ||
	die "human output: $(cat /tmp/scan1.txt)"
grep -q "^sc: pass complete: $blocks blocks in 1 run" /tmp/scan1.txt || die "human output: $(cat /tmp/scan1.txt)"

# scan_read PID: bytes the process read through the block layer.
scan_read() { awk '/^read_bytes/ {print $2}' "/proc/$1/io"; }
# 2. Two scans of one set at once: the second is refused (exit 4).
"$ctl" scan sc --rate 5 --json > /tmp/bg0.json &
bg=$!
# Reading means it holds the lock (taken before the first read).
wait_until 60 "the first scan to read" eval '[ "$(scan_read $bg)" -gt 0 ]'
rc=0
out=$("$ctl" scan sc 2>&1) || rc=$?
expect_eq "concurrent scan" "4 dmremapctl scan: sc: a scan of this set is already running ($state/scan.lock is locked)" \
	"$rc $out"
kill -INT $bg
rc=0
wait $bg || rc=$?
expect_eq "interrupted scan exit" 1 "$rc"
expect_eq "interrupted scan" "true false" "$(jq -r '"\(.canceled) \(.complete)"' /tmp/bg0.json)"
[ -f "$state/scan-checkpoint.json" ] || die "no checkpoint after an interrupted scan"

# A suspended device would hold the scan's first read: refused instead.
dmsetup suspend sc
rc=0
out=$("$ctl" scan sc 2>&1) || rc=$?
dmsetup resume sc
expect_eq "scan while suspended" "4 dmremapctl scan: sc: is suspended; a scan would wait for its resume" "$rc $out"

# 3. A bounded run stops partway; the next resumes exactly there. --restart
# begins a new pass (the interrupted one above is dropped).
"$ctl" scan sc --restart --rate 10 --max-duration 2 --json > /tmp/run1.json
jq -e '.stopped_by_limit and (.complete | not) and .first_block == 0 and .next_block > 0' /tmp/run1.json > /dev/null ||
	die "bounded run: $(cat /tmp/run1.json)"
stop=$(jq .next_block /tmp/run1.json)
expect_eq "checkpoint position" "$stop" "$(jq .next_block "$state/scan-checkpoint.json")"
"$ctl" scan sc --json > /tmp/run2.json
expect_eq "resumed at" "$stop" "$(jq .first_block /tmp/run2.json)"
expect_eq "blocks over both runs" "$blocks" $(($(jq .blocks_read /tmp/run1.json) + $(jq .blocks_read /tmp/run2.json)))
expect_eq "resumed pass" "true 2 $nbad $((blocks * 4096))" \
	"$(jq -r '"\(.complete) \(.runs) \(.bad_count) \(.bytes_read)"' /tmp/run2.json)"
expect_eq "found over both runs" "$expected" "$(jq -rs '[.[].found[].block] | join(" ")' /tmp/run1.json /tmp/run2.json)"
expect_eq "last-scan.json of the resumed pass" "true 2 $blocks" \
	"$(jq -r '"\(.complete) \(.runs) \(.next_block)"' "$state/last-scan.json")"
[ ! -e "$state/scan-checkpoint.json" ] || die "a checkpoint was left after the resumed pass completed"
echo "bounded run stopped at block $stop of $blocks; resumed there"

# 4. --rewrite-pending: refused without a terminal and --yes; with --yes
# zeros every pending block (the range is still bad: each is remapped).
rc=0
out=$("$ctl" scan sc --rewrite-pending < /dev/null 2>&1) || rc=$?
expect_eq "rewrite without --yes" 2 "$rc"
expect_eq "still pending" "$nbad" "$(status_field sc pending)"
"$ctl" scan sc --rewrite-pending --yes --json > /tmp/rewrite.json
expect_eq "rewritten" "$expected" "$(jq -r '.rewritten | join(" ")' /tmp/rewrite.json)"
expect_eq "pending after rewrite" 0 "$(status_field sc pending)"
expect_eq "remapped after rewrite" "$nbad" "$(status_field sc remapped)"
for b in $expected; do
	dd if=/dev/mapper/sc of=/tmp/block bs=4096 skip="$b" count=1 iflag=direct status=none
	cmp -n 4096 /tmp/block /dev/zero || die "block $b does not read back zeros after --rewrite-pending"
done
"$ctl" scan sc --json > /tmp/scan3.json
expect_eq "scan after rewrite" "0 true" "$(jq -r '"\(.found_count) \(.complete)"' /tmp/scan3.json)"

# 5. Foreground fio alone, then while an idle-priority scan runs, on a
# second set over a disk-like null_blk: one request at a time, each taking
# 1 ms (timer completion), at most 32 KiB each. The device, not the CPU,
# is then what fio and the scan compete for, and requests wait in the I/O
# scheduler, where the idle class can matter. Sparse (unwritten pages
# read as zeros and take no memory), 2 GiB so that a scan outlasts fio.
nb=/sys/kernel/config/nullb/sc1
mkdir "$nb"
echo 2048 > "$nb/size"
echo 4096 > "$nb/blocksize"
echo 1 > "$nb/memory_backed"
echo 2 > "$nb/irqmode"
echo 1000000 > "$nb/completion_nsec"
echo 1 > "$nb/hw_queue_depth"
echo 64 > "$nb/max_sectors"
echo 1 > "$nb/power"
wait_for_dev /dev/sc1
"$ctl" create --name sf --max-remaps 4096 --internal-spare 8M /dev/sc1 > /dev/null
sched=""
for s in mq-deadline bfq; do
	[ "$s" = bfq ] && { modprobe bfq 2> /dev/null || continue; }
	if echo "$s" > /sys/block/sc1/queue/scheduler 2> /dev/null; then sched=$s; break; fi
done
[ -n "$sched" ] || die "neither bfq nor mq-deadline could be set on sc1 ($(cat /sys/block/sc1/queue/scheduler))"
# A depth-1 queue gets 2 scheduler requests by default: every request
# would wait for a tag, in arrival order, before the scheduler saw it.
echo 128 > /sys/block/sc1/queue/nr_requests
echo "I/O scheduler of sc1: $(cat /sys/block/sc1/queue/scheduler), nr_requests $(cat /sys/block/sc1/queue/nr_requests)"
fio_iops() {
	fio --name=fg --filename=/dev/mapper/sf --rw=randread --bs=4k --direct=1 --ioengine=libaio --iodepth=16 \
		--runtime=4 --time_based --output-format=json > /tmp/fio.json || die "fio failed"
	jq '.jobs[0].read.iops | floor' /tmp/fio.json
}
alone=$(fio_iops)
[ "$alone" -gt 0 ] || die "fio alone: no IOPS"
# with_scan [--no-idle]: sets $iops, fio's IOPS while a full-speed scan
# runs, proven to: the scan process read before fio started, is alive when
# fio ends and reads on (during fio if the scheduler let it: $scan_mb MB,
# else right after); ionice's view of it in $scan_prio.
with_scan() {
	local bg r0 r1 rc=0
	"$ctl" scan sf --restart --max-duration 60 "$@" --json > /tmp/bg.json &
	bg=$!
	wait_until 60 "the background scan to read" eval '[ "$(scan_read $bg)" -gt 0 ]'
	scan_prio=$(ionice -p $bg)
	r0=$(scan_read $bg)
	iops=$(fio_iops)
	kill -0 $bg 2> /dev/null || die "the scan ended before fio did: the measurement is not under a scan"
	r1=$(scan_read $bg)
	scan_mb=$(((r1 - r0) / 1000000))
	wait_until 30 "the scan to read on after fio" eval '[ "$(scan_read $bg)" -gt "$r1" ] || [ "$r1" -gt "$r0" ]'
	kill -0 $bg 2> /dev/null || die "the scan ended before it was interrupted"
	kill -INT $bg
	wait $bg || rc=$?
	expect_eq "interrupted background scan exit" 1 "$rc"
	jq -e '.canceled and (.complete | not)' /tmp/bg.json > /dev/null || die "background scan: $(cat /tmp/bg.json)"
}
with_scan
idle=$iops
echo "idle scan: ionice says '$scan_prio'; it read $scan_mb MB while fio ran"
expect_eq "scan I/O class" "idle" "$scan_prio"
with_scan --no-idle
best=$iops
echo "no-idle scan: ionice says '$scan_prio'; it read $scan_mb MB while fio ran"
ratio=$(awk -v a="$alone" -v b="$idle" 'BEGIN { printf "%.2f", b / a }')
ratio_be=$(awk -v a="$alone" -v b="$best" 'BEGIN { printf "%.2f", b / a }')
echo "fio 4k randread IOPS on $sched: alone $alone, with an idle scan $idle (ratio $ratio)," \
	"with a best-effort scan $best (ratio $ratio_be)"
awk -v r="$ratio" 'BEGIN { exit !(r >= 0.3) }' || die "fio kept only $ratio of its IOPS under an idle scan"

# dmremapctl health on a SCSI disk, with SMART from a stand-in smartctl
# printing a real drive's recorded output (tests/data/smart): the reasons
# name the attributes, --check exits 7 (warning) and 8 (failing), and
# --update records SMART in the history and writes a textfile that
# promtool accepts and whose values are what status --json says.
# One bad sector inside the data area, which nothing here reads (a count
# of 0 makes scsi_debug fail sector 0).
sd=$(scsi_debug_create 32 60000 1)
"$ctl" create --name hs --max-remaps 4096 --internal-spare 1M "$sd" > /dev/null
cat > /tmp/fake-smartctl <<'EOS'
#!/bin/sh
echo "$*" > /tmp/fake-smartctl.args
cat "$FAKE_SMART_JSON"
EOS
chmod +x /tmp/fake-smartctl
export DM_REMAP_SMARTCTL=/tmp/fake-smartctl
health() { FAKE_SMART_JSON=$DMREMAP_SRC/tests/data/smart/$1 "$ctl" health "${@:2}"; }
health ata-reallocated-188-packed.json hs --json > /tmp/health.json
expect_eq "smartctl asked" "$sd" "$(awk '{print $NF}' /tmp/fake-smartctl.args)"
expect_eq "health with reallocated sectors" "warning" "$(jq -r '.[0].state' /tmp/health.json)"
jq -e '[.[0].reasons[].code] | index("smart-reallocated")' /tmp/health.json > /dev/null ||
	die "no smart-reallocated reason: $(cat /tmp/health.json)"
expect_eq "SMART attribute 5" 1 "$(jq -r '.[0].smart.values.ata_5' /tmp/health.json)"
rc=0
health ata-reallocated-188-packed.json hs --check > /dev/null || rc=$?
expect_eq "health --check of a warning" 7 "$rc"
rc=0
health ata-failing-pending.json hs --check > /tmp/health.txt || rc=$?
expect_eq "health --check of a failing drive" 8 "$rc"
grep -q "^hs: FAILING" /tmp/health.txt || die "human output: $(cat /tmp/health.txt)"
grep -q "smart-failed" /tmp/health.txt || die "no smart-failed reason: $(cat /tmp/health.txt)"
mkdir -p /tmp/prom
health ata-healthy.json --update --metrics-dir /tmp/prom --json > /tmp/update.json
expect_eq "devices updated" "hs sc sf" "$(jq -r '[.[].name] | join(" ")' /tmp/update.json)"
hs_uuid=$(dmsetup info -c --noheadings -o uuid hs | sed 's/^REMAP-//')
expect_eq "SMART in the history" 0 "$(tail -n1 "$DM_REMAP_STATE_DIR/$hs_uuid/history.jsonl" | jq .smart.ata_5)"
promtool check metrics < /tmp/prom/dm_remap.prom || die "promtool rejects the textfile: $(cat /tmp/prom/dm_remap.prom)"
"$ctl" status --json > /tmp/status.json
for n in hs sc sf; do
	for m in remapped:remapped_blocks pending:pending_blocks spare_used:spare_used_blocks \
		spare_total:spare_total_blocks read_errors:read_errors_total write_errors:write_errors_total; do
		want=$(jq -r --arg n "$n" ".[] | select(.name == \$n) | .${m%%:*}" /tmp/status.json)
		got=$(grep "^dm_remap_${m#*:}{" /tmp/prom/dm_remap.prom | grep "device=\"$n\"" | awk '{print $NF}')
		expect_eq "metric ${m#*:} of $n" "$want" "$got"
	done
done
echo "scan: ok"
