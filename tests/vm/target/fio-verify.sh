#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Data integrity under fio: four jobs write with crc32c verification (direct
# I/O, 4k-64k blocks) while bad ranges appear under them, before and during
# the run. No I/O may fail, no verify may mismatch, and the remap count must
# equal the distinct bad blocks written.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
dev=$(nullb_create d0 512 4096)
"$ctl" format --name f --max-remaps 8192 --internal-spare 32M "$dev" > /dev/null
dmsetup create f --table "$("$ctl" table "$dev")"
# Job k writes blocks k*25600 .. k*25600+24575 (96 MiB at 100 MiB steps).
fio_job() {
	fio --name=v --filename=/dev/mapper/f --direct=1 --ioengine=libaio --iodepth=8 --numjobs=4 \
		--size=96M --offset_increment=100M --bsrange=4k-64k --verify=crc32c --verify_fatal=1 \
		--randrepeat=1 "$@" > /tmp/fio.out 2>&1 || { cat /tmp/fio.out; die "fio $* failed"; }
}

# Bad before the run: single blocks and a run of eight, in every job's region.
before=(7 300 4095 20000 20001 20002 20003 20004 20005 20006 20007 30000 55000 80000)
for b in "${before[@]}"; do bad_block d0 "$dev" "$b"; done
fio_job --rw=randwrite

# Bad during a run of two passes: a random-write pass while blocks go bad
# under it (any block it wrote before it went bad is unreadable now, so
# this pass does not verify), then a sequential pass that writes every
# block again and verifies.
during=(18000 43600 69200 94800)
( sleep 0.5; for b in "${during[@]}"; do bad_block d0 "$dev" "$b"; sleep 0.2; done ) &
fio_job --rw=randwrite --do_verify=0 --randseed=2
wait
fio_job --rw=write
# Everything written last still reads back.
fio_job --rw=write --verify_only

expect_eq "remapped blocks" $((${#before[@]} + ${#during[@]})) "$(status_field f remapped)"
expect_eq "pending blocks" 0 "$(status_field f pending)"
want=$(printf '%s\n' "${before[@]}" "${during[@]}" | sort -n | tr '\n' ' ')
got=$(dmsetup message f 0 list_remaps 0 1000 | awk '{print $1}' | sort -n | tr '\n' ' ')
expect_eq "remapped blocks" "$want" "$got"
dmsetup suspend f
"$ctl" check "$dev" > /tmp/check.out || { cat /tmp/check.out; die "metadata check failed"; }
dmsetup resume f
dmsetup remove f
echo "fio: no I/O errors, no verify mismatches, ${#before[@]}+${#during[@]} bad blocks remapped"
