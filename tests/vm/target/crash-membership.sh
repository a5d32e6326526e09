#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Crash consistency of membership changes, by replay: spare_add of a new
# spare, then spare_remove of the old one with evacuation, with every
# member a slice of one device under dm-log-writes. Replayed to every log
# entry in between: the set always loads with the members before or after
# the change (after it once the message returned, and then only after it),
# and every block written before reads back, moved or not.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
replay_tool="$DMREMAP_SRC/tests/vm/log-writes-replay.py"
raw=$(nullb_create raw 48 4096)
logdev=$(nullb_create lg 512 4096)
lw=$(logwrites_create lw "$raw" "$logdev")
mib=2048 # sectors
bad=(3 8 9 15)
format=(--max-remaps 256 --internal-spare 0)
doff=$(predicted_data_offset 32M 8M -- "${format[@]}")
# slices DEV: data = DEV[0, 32M) with the bad blocks failing, s1 and s2 the 8M after it.
slices() {
	local dev=$1
	failing_slice cdata "$dev" $((32 * mib)) "$doff" "${bad[@]}"
	dmsetup create cs1 --table "0 $((8 * mib)) linear $dev $((32 * mib))"
	dmsetup create cs2 --table "0 $((8 * mib)) linear $dev $((40 * mib))"
}
unslice() { dmsetup remove cdata; dmsetup remove cs1; dmsetup remove cs2; }

slices "$lw"
"$ctl" format --name c "${format[@]}" --force /dev/mapper/cdata /dev/mapper/cs1 > /dev/null
expect_eq "data offset as predicted" "$doff" "$(data_sector /dev/mapper/cdata 0)"
# s2 is the size of s1: spare_add must give it the capacity format gave s1.
cap=$("$ctl" dump --json /dev/mapper/cs1 | jq '.member.spare_sectors / 8 | floor')
[ "$cap" -gt 0 ] || die "format gave s1 no spare capacity"
len=$("$ctl" table /dev/mapper/cdata /dev/mapper/cs1 | awk '{print $2}')
line_a="0 $len remap /dev/mapper/cdata 1 /dev/mapper/cs1"
line_b="0 $len remap /dev/mapper/cdata 2 /dev/mapper/cs1 /dev/mapper/cs2"
line_c="0 $len remap /dev/mapper/cdata 1 /dev/mapper/cs2"
dmsetup create c --table "$line_a"
# Sixteen blocks, four of them remapped to s1, all durable before the changes.
blocks write /dev/mapper/c 0 16 one --sync || die "initial writes failed"
expect_eq "remapped" ${#bad[@]} "$(status_field c remapped)"
logwrites_mark lw before
dmsetup message c 0 spare_add /dev/mapper/cs2 > /dev/null || die "spare_add failed"
logwrites_mark lw added
dmsetup message c 0 spare_remove /dev/mapper/cs1 evacuate > /dev/null || die "spare_remove failed"
logwrites_mark lw removed
expect_eq "spares" "0:0/0,2:4/$cap" "$(status_field c spares)"
dmsetup remove c
unslice
dmsetup remove lw

marks=$(python3 "$replay_tool" --log "$logdev" --list)
mark() { awk -v m="$1" '$2 == m {print $1}' <<< "$marks"; }
start=$(mark before) added=$(mark added) removed=$(mark removed)
# One replay device brought forward by one replay process, with its slices,
# checked at every point where a crash leaves a new state (a mark writes
# nothing). The set is loaded read-only: checking writes nothing.
nullb_create rp 48 4096 > /dev/null
coproc replay { python3 "$replay_tool" --log "$logdev" --replay /dev/rp --serve; }
replay_to() {
	echo "$1" >&"${replay[1]}"
	read -r reply <&"${replay[0]}"
	expect_eq "replayed" "at $1" "$reply"
}
slices /dev/rp
loads() { dmsetup create c --readonly --table "$1" 2> /dev/null && dmsetup remove c; }
checked=0
all_one=$(seq -f '%g:one' 0 15 | tr '\n' ' ')
for n in $(python3 "$replay_tool" --log "$logdev" --points); do
	[ "$n" -gt "$start" ] && [ "$n" -le "$removed" ] || continue
	replay_to "$n"
	a=0 b=0 c=0
	loads "$line_a" && a=1
	loads "$line_b" && b=1
	loads "$line_c" && c=1
	state="$a$b$c"
	# Exactly one membership is in force at any point.
	if [ "$n" -le "$added" ]; then
		[ "$state" = 100 ] || [ "$state" = 010 ] || die "entry $n (adding): loads as A/B/C = $state"
	else
		[ "$state" = 010 ] || [ "$state" = 001 ] || die "entry $n (removing): loads as A/B/C = $state"
	fi
	line=$line_a
	[ "$b" = 1 ] && line=$line_b
	[ "$c" = 1 ] && line=$line_c
	dmsetup create c --readonly --table "$line" || die "entry $n: the loading table fails now"
	echo "expect /dev/mapper/c $all_one" >&"${replay[1]}"
	read -r reply <&"${replay[0]}"
	[ "$reply" = ok ] || die "entry $n ($state): $reply"
	dmsetup remove c
	checked=$((checked + 1))
done
# Once spare_remove returned, only the new membership loads.
entries=$(python3 "$replay_tool" --log "$logdev" --count)
replay_to "$entries"
if loads "$line_b"; then die "the old membership loads after spare_remove returned"; fi
loads "$line_c" || die "the new membership does not load after spare_remove returned"
exec {replay[1]}>&-
wait "$replay_PID" || die "the replay process failed"
unslice
[ "$checked" -gt 20 ] || die "only $checked crash points were checked"
echo "membership changes: one membership in force and all data readable at all $checked crash points"
