#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Crash consistency by replay. The members are slices of one device under
# dm-log-writes, so the log holds a single global write order. A workload
# writes blocks one by one, flushing after every other write, while some of
# them fail and get remapped, marking the log after each completed write.
# Then the log is replayed up to every single entry, as if the power had
# failed right there: at every point the table must load, every write made
# durable by a flush before that point must read back, and every other
# block must read its old data, its new data or EIO, never anything else.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
replay_tool="$DMREMAP_SRC/tests/vm/log-writes-replay.py"
raw=$(nullb_create raw 48 4096)
logdev=$(nullb_create lg 512 4096)
lw=$(logwrites_create lw "$raw" "$logdev")
mib=2048 # sectors
bad=(3 8 9 15)                   # data blocks that fail
format=(--max-remaps 256 --internal-spare 1M)
doff=$(predicted_data_offset 32M 16M -- "${format[@]}")
# slices DEV: data = DEV[0, 32M) with the bad blocks failing, spare = DEV[32M, 48M).
slices() {
	local dev=$1
	failing_slice cdata "$dev" $((32 * mib)) "$doff" "${bad[@]}"
	dmsetup create cspare --table "0 $((16 * mib)) linear $dev $((32 * mib))"
}
unslice() { dmsetup remove cdata; dmsetup remove cspare; }

slices "$lw"
"$ctl" format --name c "${format[@]}" --force /dev/mapper/cdata /dev/mapper/cspare > /dev/null
expect_eq "data offset as predicted" "$doff" "$(data_sector /dev/mapper/cdata 0)"
table=$("$ctl" table /dev/mapper/cdata /dev/mapper/cspare)
# Old data under every block, written around the failing ranges, so that a
# spare block read before its data landed would show (it holds zeros).
blocks write "$lw" 0 16 old --offset "$doff" --sync
dmsetup create c --table "$table"
sync
logwrites_mark lw formatted
order=(0 3 1 8 2 9 4 15 5 6 7 10)
for i in "${!order[@]}"; do
	sync=()
	[ $((i % 2)) = 1 ] && sync=(--sync)
	blocks write /dev/mapper/c "${order[$i]}" 1 "w$i" "${sync[@]}" || die "write $i failed"
	logwrites_mark lw "w$i"
done
expect_eq "remapped" ${#bad[@]} "$(status_field c remapped)"
dmsetup remove c
unslice
dmsetup remove lw

marks=$(python3 "$replay_tool" --log "$logdev" --list)
start=$(awk '$2 == "formatted" {print $1}' <<< "$marks")
declare -A at # mark -> its log entry
while read -r i m; do at[$m]=$i; done <<< "$marks"
# One replay device brought forward by one replay process, its slices and
# the set loaded read-only on it at every point where a crash leaves a new
# state (after each write or flush; a mark writes nothing), so checking
# writes nothing.
nullb_create rp 48 4096 > /dev/null
coproc replay { python3 "$replay_tool" --log "$logdev" --replay /dev/rp --serve; }
slices /dev/rp
checked=0
for n in $(python3 "$replay_tool" --log "$logdev" --points); do
	[ "$n" -gt "$start" ] || continue
	echo "$n" >&"${replay[1]}"
	read -r reply <&"${replay[0]}"
	expect_eq "replayed" "at $n" "$reply"
	dmsetup create c --readonly --table "$table" ||
		die "table does not load after $n log entries"
	# A write is durable once a flush after it is in the log: the flush of
	# the next odd-numbered write. Writes not yet durable may read old,
	# new or EIO.
	want=()
	for i in "${!order[@]}"; do
		d=$(( i % 2 ? i : i + 1 ))
		if [ -n "${at[w$d]:-}" ] && [ "${at[w$d]}" -lt "$n" ]; then
			want+=("${order[$i]}:w$i")
		else
			want+=("${order[$i]}:w$i:old")
		fi
	done
	echo "expect /dev/mapper/c ${want[*]}" >&"${replay[1]}"
	read -r reply <&"${replay[0]}"
	[ "$reply" = ok ] || die "lost or wrong data after a crash at entry $n: $reply"
	dmsetup remove c
	checked=$((checked + 1))
done
exec {replay[1]}>&-
wait "$replay_PID" || die "the replay process failed"
unslice
[ "$checked" -gt 20 ] || die "only $checked crash points were checked"
echo "crash replay: the table loaded and every acknowledged write read back at all $checked crash points"
