#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Data integrity under fio: four jobs write with crc32c verification (direct
# I/O, 4k-128k blocks) while bad ranges appear under them, before and during
# the run. No I/O may fail, no verify may mismatch, and the remap count must
# equal the distinct bad blocks written.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
dev=$(nullb_create d0 144 4096)
"$ctl" format --name f --max-remaps 1024 --internal-spare 8M "$dev" > /dev/null
dmsetup create f --table "$("$ctl" table "$dev")"
# Job k writes blocks k*8192 .. k*8192+6143 (24 MiB at 32 MiB steps).
fio_job() {
	fio --name=v --filename=/dev/mapper/f --direct=1 --ioengine=libaio --iodepth=8 --numjobs=4 \
		--size=24M --offset_increment=32M --bsrange=4k-128k --verify=crc32c --verify_fatal=1 \
		--randrepeat=1 "$@" > /tmp/fio.out 2>&1 || { cat /tmp/fio.out; die "fio $* failed"; }
}

# Bad before the run: single blocks and a run of eight, in every job's region.
before=(7 300 4095 5000 5001 5002 5003 5004 5005 5006 5007 8200 16400 30000)
for b in "${before[@]}"; do bad_block d0 "$dev" "$b"; done
fio_job --rw=randwrite
expect_eq "remapped after the first run" ${#before[@]} "$(status_field f remapped)"

# Bad during a sequential run that verifies everything it wrote: each batch
# goes bad ahead of where the jobs write (60% and 95% into their regions,
# once an eighth of the run is written), so each block is written after it
# went bad, by this run. Writes are held to 1 MiB/s a job (24 s a pass) so
# the jobs cannot outrun the script under TCG.
early=(3700 11892 20084 28276)
late=(5840 14032 22224 30416)
data_off=$(data_sector "$dev" 0)
start=$(dm_written f)
fio_job --rw=write --rate=,1m &
fio_pid=$!
eighth() { [ "$(dm_written f)" -ge $((start + 4 * 24 * 2048 / 8)) ]; }
wait_until 300 "fio to write an eighth of its run" eighth
bad_while_writing "$fio_pid" f d0 "$dev" "${early[@]}"
bad_while_writing "$fio_pid" f d0 "$dev" "${late[@]}"
total=$((${#before[@]} + ${#early[@]} + ${#late[@]}))
# The remaps happen under fio, which still has its verify pass to run.
all_remapped() {
	kill -0 "$fio_pid" 2> /dev/null || die "fio ended with $(status_field f remapped) of $total blocks remapped"
	[ "$(status_field f remapped)" = "$total" ]
}
wait_until 300 "the blocks that went bad under fio to be remapped" all_remapped
wait "$fio_pid" || die "fio over blocks going bad failed"

expect_eq "remapped blocks" "$total" "$(status_field f remapped)"
expect_eq "pending blocks" 0 "$(status_field f pending)"
want=$(printf '%s\n' "${before[@]}" "${early[@]}" "${late[@]}" | sort -n | tr '\n' ' ')
got=$(dmsetup message f 0 list_remaps 0 1000 | awk '{print $1}' | sort -n | tr '\n' ' ')
expect_eq "remapped blocks" "$want" "$got"
dmsetup suspend f
"$ctl" check "$dev" > /tmp/check.out || { cat /tmp/check.out; die "metadata check failed"; }
dmsetup resume f
dmsetup remove f
echo "fio: no I/O errors, no verify mismatches, ${#before[@]}+$((total - ${#before[@]})) bad blocks remapped"
