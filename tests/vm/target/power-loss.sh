#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Power loss with volatile write caches. Every member is a null_blk with its
# own write cache (memory_backed + cache_size: powering it off discards what
# it was not told to flush), behind a dm-linear layer that can freeze it. A
# remap-heavy workload (a fifth of its blocks fail on the data disk, more
# than the internal spare area holds, so remaps spill onto the spare device)
# writes stamped 4 KiB blocks, O_DSYNC or fdatasync'd, and logs each write
# as acknowledged once it returned; a fifth of its writes are never synced
# (never acknowledged, but they must read old or new, never wrong data: a
# remap recorded before its data was durable shows there). At a random point (the issue of the
# N-th block write) the workload freezes all members at once (suspend
# ioctls on the linear layers, back to back: nothing fails, I/O stops);
# they lose power and come back; the set is assembled again and every
# acknowledged write must read back its latest acknowledged version (or a
# newer one that was in flight), and no block may read wrong data.
# null_blk caches only writes to pages its storage does not hold yet: an
# overwrite of a stored page goes straight to storage. So each cut starts
# from discarded devices (their storage freed) and formats the set anew
# (the bad blocks stay), so that every cut remaps from scratch into spare
# blocks whose writes are cached until flushed; the stamps carry the cut
# number, so data from an earlier cut is told apart.
# The same harness over plain dm-linear (bad blocks outside the region the
# workload writes) is the control: if it fails, the harness is wrong.
# Arguments (vmtest passes no environment): [CUTS [CONTROL_CUTS [SEED]]],
# defaults POWER_LOSS_CUTS or 3 cuts with dm-remap, POWER_LOSS_CONTROL_CUTS
# or 1 with the control; a SEED (printed) repeats a run's choices.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
pl() { python3 "$DMREMAP_SRC/tests/vm/target/power-loss.py" "$@"; }
cuts=${1:-${POWER_LOSS_CUTS:-3}}
control_cuts=${2:-${POWER_LOSS_CONTROL_CUTS:-1}}
seed=${3:-${POWER_LOSS_SEED:-$((RANDOM * 32768 + RANDOM))}}
echo "power-loss: seed $seed, $cuts cuts, $control_cuts control cuts"
RANDOM=$seed
region=2048  # blocks the workload writes
prefill=1536 # written sequentially first: more remaps than the internal spare area holds
threads=4
log=/tmp/power-loss.log

nullb_cycle() { nullb_power "$1" 0; nullb_power "$1" 1; }

data=$(NULLB_DISCARD=1 nullb_volatile d0 32)
spare=$(NULLB_DISCARD=1 nullb_volatile s0 16)
# fresh: both devices' storage freed, so that every write is cached again
# (a discard over a bad block fails: the pattern is lifted meanwhile).
pattern_at=
fresh() {
	local at=$pattern_at
	[ -z "$at" ] || bad_at "$at" -
	blkdiscard -f "$data" 2> /dev/null && blkdiscard -f "$spare" 2> /dev/null || die "cannot discard the members"
	[ -z "$at" ] || bad_at "$at"
}

# The premise: a write the null_blk was not told to flush is gone after a
# power cycle, a flushed or FUA one is not. Without it this test would
# pass whatever the target does.
for nb in d0 s0; do
	# The unflushed write last: a flush empties the whole cache.
	pl write "/dev/$nb" 1 8 fsync
	pl write "/dev/$nb" 2 9 dsync
	pl write "/dev/$nb" 0 7 none
	pl read "/dev/$nb" 0 7 || die "$nb: a write does not read back before the power cycle"
	nullb_cycle "$nb"
	if pl read "/dev/$nb" 0 7 > /dev/null; then
		die "premise: $nb kept a write it was never told to flush across a power cycle (no volatile cache on this kernel)"
	fi
	pl read "/dev/$nb" 1 8 || die "premise: $nb lost a flushed write across a power cycle"
	pl read "/dev/$nb" 2 9 || die "premise: $nb lost an O_DSYNC write across a power cycle"
	# A discard frees what is stored: a write there is cached again.
	blkdiscard -f "/dev/$nb"
	pl write "/dev/$nb" 1 10 none
	nullb_cycle "$nb"
	if pl read "/dev/$nb" 1 10 > /dev/null; then
		die "premise: $nb kept an unflushed write to a discarded block across a power cycle"
	fi
done

linears() {
	dmsetup create pl_d --table "0 $(blockdev --getsz "$data") linear $data 0"
	dmsetup create pl_s --table "0 $(blockdev --getsz "$spare") linear $spare 0"
}
linears
format=(--max-remaps 2048 --internal-spare 1M)
"$ctl" format --name pl "${format[@]}" --force /dev/mapper/pl_d /dev/mapper/pl_s > /dev/null
doff=$(data_sector /dev/mapper/pl_d 0)
# A fifth of the region's blocks fail on the data disk. For the control the
# same pattern lies just past the region (the workload never reaches it);
# for dm-remap it is moved into the region after the control cuts.
# Exactly a fifth of the prefill and of the rest, so that the prefill
# always overflows the internal spare area (256 blocks) and the random
# writes meet blocks that still have to be remapped.
# pick FIRST COUNT N: adds N random blocks of FIRST..FIRST+COUNT-1 to bad
# (in this shell: RANDOM, seeded above, stays reproducible).
bad=()
pick() {
	local all=() i j t
	for ((i = 0; i < $2; i++)); do all+=($(($1 + i))); done
	for ((i = 0; i < $3; i++)); do
		j=$((i + (RANDOM * 32768 + RANDOM) % ($2 - i)))
		t=${all[i]} all[i]=${all[j]} all[j]=$t
	done
	bad+=("${all[@]:0:$3}")
}
pick 0 "$prefill" $((prefill / 5))
pick "$prefill" $((region - prefill)) $(((region - prefill) / 5))
[ "$((doff / 8 + 2 * region))" -lt "$(($(blockdev --getsz "$data") / 8 - 256))" ] ||
	die "the data disk is too small for the region and the control's bad blocks"
# bad_at SHIFT [+|-]: the pattern's blocks fail (or no longer fail), SHIFT
# blocks further on. One pattern at a time: null_blk holds 512 bad ranges.
bad_at() {
	local b
	if [ "${2:-+}" = + ]; then pattern_at=$1; else pattern_at=; fi
	for b in "${bad[@]}"; do
		echo "${2:-+}$((doff + (b + $1) * 8))-$((doff + (b + $1) * 8 + 7))" > /sys/kernel/config/nullb/d0/badblocks
	done
}
bad_at "$region"
echo "power-loss: ${#bad[@]} bad blocks in a pattern over $region blocks, data area at sector $doff"

fails() { grep -c '^E' "$log" || [ $? = 1 ]; }
gone() { [ ! -d "/proc/$1" ] || grep -qs '^State:[[:space:]]*Z' "/proc/$1/status"; }
# power_cut MODE N: one round of workload, freeze, power loss, assembly, check.
power_cut() {
	local mode=$1 n=$2 target a0 a1 out rc remapped="" on_spare="" table wpid start=$SECONDS t_run t_down
	fresh
	if [ "$mode" = remap ]; then
		"$ctl" format --name pl "${format[@]}" --force /dev/mapper/pl_d /dev/mapper/pl_s > /dev/null
		expect_eq "data offset" "$doff" "$(data_sector /dev/mapper/pl_d 0)"
		dmsetup create pl --table "$("$ctl" table /dev/mapper/pl_d /dev/mapper/pl_s)"
	else
		dmsetup create pl --table "0 $((region * 8)) linear /dev/mapper/pl_d $doff"
	fi
	: > "$log"
	# The random point: a number of block writes issued, in the prefill
	# (large writes, many remaps per commit) or in the random writes after
	# it. The workload freezes the members itself at that count, its writers
	# going on.
	target=$((1 + RANDOM % (prefill + 1000)))
	freeze=(pl_d)
	[ "$mode" = control ] || freeze+=(pl_s)
	# Not through pl(): $! must be the python process, to be killed.
	python3 "$DMREMAP_SRC/tests/vm/target/power-loss.py" workload /dev/mapper/pl "$log" "$n" "$region" "$prefill" "$((seed + n))" "$threads" "$target" "${freeze[@]}" &
	wpid=$!
	wait_until 600 "the freeze at $target writes issued ($mode cut $n)" eval 'grep -q "^F " "$log" || gone "$wpid"'
	grep -q "^F " "$log" || die "$mode cut $n: the workload ended before the cut: $(grep -v '^[IA] ' "$log" | head -5)"
	t_run=$((SECONDS - start))
	a0=$(awk '$1 == "C" {print $2}' "$log")
	a1=$(awk '$1 == "F" {print $2}' "$log")
	# Running at the cut: acknowledgements came in up to the cut point, and
	# writes were in flight at the freeze or issued after it (they hang).
	inflight() {
		awk '$1 == "I" || $1 == "U" {w[$2 " " $3] = 1} $1 == "A" || $1 == "R" {delete w[$2 " " $3]}
			END {print length(w)}' "$log"
	}
	local until=$((SECONDS + 60))
	while [ "$(inflight)" = 0 ] && [ "$SECONDS" -lt "$until" ]; do sleep 0.05; done
	if [ "$(inflight)" = 0 ]; then
		echo "power-loss: the log at the cut, without writes in flight: $(grep -cv '^[IAUR] ' "$log") other lines," \
			"last lines:" >&2
		tail -n 12 "$log" >&2
		grep -v '^[IAUR] ' "$log" | head -5 >&2
		die "timed out waiting for writes in flight at the cut ($mode cut $n)"
	fi
	expect_eq "$mode cut $n: writes that failed before the cut" 0 "$(fails)"
	nullb_power d0 0
	nullb_power s0 0
	# Tear down: the frozen I/O fails, the workload and the set go.
	kill -KILL "$wpid"
	for l in pl_d pl_s; do
		dmsetup load "$l" --table "0 $(dmsetup table "$l" | cut -d' ' -f2) error"
		dmsetup resume "$l"
	done
	wait_until 120 "the workload to end ($mode cut $n)" gone "$wpid"
	rc=0
	wait "$wpid" || rc=$?
	expect_eq "$mode cut $n: the workload's end" 137 "$rc"
	dmsetup remove pl
	dmsetup remove pl_d pl_s
	nullb_power d0 1
	nullb_power s0 1
	linears
	if [ "$mode" = remap ]; then
		table=$("$ctl" table /dev/mapper/pl_d /dev/mapper/pl_s)
		dmsetup create pl --table "$table"
		remapped=$(status_field pl remapped)
		on_spare=$(status_field pl spares | tr , '\n' | sed -n 's,^1:\([0-9]*\)/.*,\1,p')
	else
		dmsetup create pl --table "0 $((region * 8)) linear /dev/mapper/pl_d $doff"
	fi
	t_down=$((SECONDS - start))
	rc=0
	out=$(pl verify /dev/mapper/pl "$log" "$n" "$region") || rc=$?
	echo "power-loss: $mode cut $n at $a0 acks (frozen at $a1): $out${remapped:+ remapped=$remapped on_spare_device=$on_spare} (run ${t_run} s, down+up $((t_down - t_run)) s, verify $((SECONDS - start - t_down)) s)"
	[ "$rc" = 0 ] || die "$mode cut $n (seed $seed): acknowledged writes lost or wrong data"
	dmsetup remove pl
	if [ "$mode" = remap ]; then
		"$ctl" check /dev/mapper/pl_d /dev/mapper/pl_s > /tmp/check.out ||
			{ cat /tmp/check.out; die "remap cut $n: dmremapctl check found damage"; }
		# A completed prefill overflowed the internal spare area.
		[ "$a0" -lt "$prefill" ] || [ "$on_spare" -gt 0 ] || die "remap cut $n: no remap on the spare device survived the cut (remapped=$remapped)"
	fi
	out=${out%% *}
	total_acks=$((total_acks + ${out#acks=}))
}
total_acks=0
for ((i = 1; i <= control_cuts; i++)); do power_cut control "$i"; done
control_acks=$total_acks
total_acks=0
bad_at "$region" -
bad_at 0

# Remapping writes that returned, with no flush after them, then the cut at
# once. A remap's record is written before its write completes, so its
# data must have been made durable before the record: every block reads
# back (a spare block whose data was still in a cache reads wrong data).
fresh
"$ctl" format --name pl "${format[@]}" --force /dev/mapper/pl_d /dev/mapper/pl_s > /dev/null
dmsetup create pl --table "$("$ctl" table /dev/mapper/pl_d /dev/mapper/pl_s)"
eight=$(IFS=,; echo "${bad[*]:0:8}")
# One after the other, each opened, written and closed with no flush.
pl write /dev/mapper/pl "$eight" 99 none
expect_eq "remapped by the unsynced writes" 8 "$(status_field pl remapped)"
dmsetup suspend pl_d pl_s
nullb_power d0 0
nullb_power s0 0
for l in pl_d pl_s; do
	dmsetup load "$l" --table "0 $(dmsetup table "$l" | cut -d' ' -f2) error"
	dmsetup resume "$l"
done
dmsetup remove pl
dmsetup remove pl_d pl_s
nullb_power d0 1
nullb_power s0 1
linears
dmsetup create pl --table "$("$ctl" table /dev/mapper/pl_d /dev/mapper/pl_s)"
out=$(pl read /dev/mapper/pl "$eight" 99) ||
	die "blocks remapped by writes that returned, after a power cut with no flush since: $out"
dmsetup remove pl
echo "power-loss: 8 remapping writes without a flush after them all read back after the cut"

for ((i = 1; i <= cuts; i++)); do power_cut remap $((control_cuts + i)); done
dmsetup remove pl_d pl_s
echo "power-loss: every acknowledged write read back after $control_cuts control cuts ($control_acks acks) and $cuts dm-remap cuts ($total_acks acks)"
