#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Stress: fio with several jobs while blocks go bad under it and, at the
# same time, spares are added and removed with evacuation (every remapped
# block moves between the two spare devices, again and again) and the
# device is suspended and resumed. No hang, no I/O error, no WARN (the
# harness fails on one), and every block verifies, continuously in the
# second pass and once more at the end.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
dev=$(nullb_create d0 256 4096)
s1=$(nullb_create s1 8 4096)
s2=$(nullb_create s2 8 4096)
"$ctl" format --name s --max-remaps 8192 --internal-spare 0 "$dev" "$s1" > /dev/null
dmsetup create s --table "$("$ctl" table "$dev" "$s1")"
# Job k writes blocks k*8192 .. k*8192+6143 (24 MiB at 32 MiB steps).
fio_job() {
	fio --name=v --filename=/dev/mapper/s --direct=1 --ioengine=libaio --iodepth=8 --numjobs=4 \
		--size=24M --offset_increment=32M --bsrange=4k-64k --verify=crc32c --verify_fatal=1 \
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

# 60 blocks bad from the start, so every evacuation has plenty to move.
for k in 0 1 2 3; do for j in $(seq 0 14); do bad_block d0 "$dev" $((k * 8192 + j * 397 + 5)); done; done
rm -f /tmp/stop /tmp/evacuations
admin &
admin_pid=$!
# Pass 1: random writes while 40 more blocks go bad under them (some written
# before they went bad are unreadable now, so this pass does not verify).
( for k in 0 1 2 3; do for j in $(seq 0 9); do
	bad_block d0 "$dev" $((k * 8192 + j * 611 + 17)); sleep 0.1
done; done ) &
fio_job --rw=randwrite --do_verify=0 --randseed=7
wait $!
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
expect_eq "remapped" 100 "$(status_field s remapped)"
expect_eq "pending" 0 "$(status_field s pending)"
members=$(dmsetup table s | cut -d' ' -f6-)
dmsetup suspend s
"$ctl" check "$dev" $([ "$members" = "$(majmin "$s1")" ] && echo "$s1" || echo "$s2") > /tmp/check.out ||
	{ cat /tmp/check.out; die "metadata check after the stress run"; }
dmsetup resume s
dmsetup remove s
echo "stress: $rounds admin rounds, $moved blocks evacuated, 100 remapped, every block verified"
