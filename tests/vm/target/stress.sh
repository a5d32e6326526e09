#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Stress: fio with several jobs while blocks go bad under it and, at the
# same time, spares are added and removed with evacuation (every remapped
# block moves between the two spare devices, again and again) and the
# device is suspended and resumed. No hang, no I/O error, no WARN (the
# harness fails on one), and every block verifies, continuously in the
# second pass and once more at the end.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
dev=$(nullb_create d0 80 4096)
s1=$(nullb_create s1 4 4096)
s2=$(nullb_create s2 4 4096)
"$ctl" format --name s --max-remaps 1024 --internal-spare 0 "$dev" "$s1" > /dev/null
dmsetup create s --table "$("$ctl" table "$dev" "$s1")"
# Job k writes blocks k*4096 .. k*4096+3071 (12 MiB at 16 MiB steps).
fio_job() {
	fio --name=v --filename=/dev/mapper/s --direct=1 --ioengine=libaio --iodepth=8 --numjobs=4 \
		--size=12M --offset_increment=16M --bsrange=4k-128k --verify=crc32c --verify_fatal=1 \
		--randrepeat=1 "$@" > /tmp/fio.out 2>&1 || { cat /tmp/fio.out; die "fio $* failed"; }
}

# The admin loop: move every spare block to the other device, then suspend and resume.
admin() {
	local i=0 from=$s1 to=$s2 out
	while [ ! -e /tmp/stop ]; do
		out=$(dmsetup message s 0 spare_add "$to") || die "stress: spare_add $to failed"
		out=$(dmsetup message s 0 spare_remove "$from" evacuate) || die "stress: evacuating $from failed"
		echo "$out" >> /tmp/evacuations
		dmsetup suspend s || die "stress: suspend failed"
		dmsetup status s > /dev/null || die "stress: status while suspended failed"
		dmsetup resume s || die "stress: resume failed"
		local t=$from; from=$to; to=$t
		i=$((i + 1))
	done
	echo "$i" > /tmp/rounds
}

# 20 blocks bad from the start, so every evacuation has blocks to move.
for k in 0 1 2 3; do for j in $(seq 0 4); do bad_block d0 "$dev" $((k * 4096 + j * 397 + 5)); done; done
rm -f /tmp/stop /tmp/evacuations
admin &
admin_pid=$!
# Pass 1: a sequential run that verifies what it wrote, while 16 more blocks
# go bad ahead of where the jobs write (55% and 90% into their regions,
# once an eighth of the run is written): each is written after it went
# bad, by this run, under the admin loop. Writes are held to 512 KiB/s a job
# (24 s a pass) so the jobs cannot outrun the script under TCG.
data_off=$(data_sector "$dev" 0)
start=$(dm_written s)
fio_job --rw=write --rate=,512k &
fio_pid=$!
eighth() { [ "$(dm_written s)" -ge $((start + 4 * 12 * 2048 / 8)) ]; }
wait_until 300 "fio to write an eighth of its run" eighth
bad_while_writing "$fio_pid" s d0 "$dev" $(for k in 0 1 2 3; do echo $((k * 4096 + 1700)) $((k * 4096 + 1710)); done)
bad_while_writing "$fio_pid" s d0 "$dev" $(for k in 0 1 2 3; do echo $((k * 4096 + 2770)) $((k * 4096 + 2780)); done)
all_remapped() {
	kill -0 "$fio_pid" 2> /dev/null || die "fio ended with $(status_field s remapped) of 36 blocks remapped"
	[ "$(status_field s remapped)" = 36 ]
}
wait_until 300 "the blocks that went bad under fio to be remapped" all_remapped
wait "$fio_pid" || die "fio over blocks going bad failed"
# Pass 2: every block written again and verified as it goes, under the admin loop.
fio_job --rw=randwrite --verify_backlog=16 --randseed=8
touch /tmp/stop
wait $admin_pid || die "the admin loop failed"
fio_job --rw=randwrite --verify_only --randseed=8

rounds=$(cat /tmp/rounds)
moved=$(sed -n 's/.*moved=\([0-9]*\).*/\1/p' /tmp/evacuations | awk '{s += $1} END {print s + 0}')
[ "$rounds" -ge 2 ] || die "only $rounds admin rounds ran"
[ "$moved" -gt 0 ] || die "evacuations moved nothing"
lost=$(sed -n 's/.*lost=\([0-9]*\).*/\1/p' /tmp/evacuations | awk '{s += $1} END {print s + 0}')
expect_eq "blocks lost in evacuations" 0 "$lost"
expect_eq "remapped" 36 "$(status_field s remapped)"
expect_eq "pending" 0 "$(status_field s pending)"
members=$(dmsetup table s | cut -d' ' -f6-)
dmsetup suspend s
"$ctl" check "$dev" $([ "$members" = "$(majmin "$s1")" ] && echo "$s1" || echo "$s2") > /tmp/check.out ||
	{ cat /tmp/check.out; die "metadata check after the stress run"; }
dmsetup resume s
dmsetup remove s
echo "stress: $rounds admin rounds, $moved blocks evacuated, 36 remapped, every block verified"
