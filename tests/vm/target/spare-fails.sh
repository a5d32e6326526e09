#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A spare device that disappears while the set runs (a null_blk powered off:
# every write and flush to it fails, its superblock no longer reads, and
# what its write cache held is gone) is left out, and the set goes on:
# 1. new bad blocks on the data disk are remapped into the internal spare,
#    their writes succeed, and the status shows the member failed;
# 2. blocks whose data lived on it read EIO, never the older data the data
#    disk still holds at their place, until a write gives them new data;
#    a flush from above succeeds;
# 3. spare_remove takes it out online, and the set loads again without it;
# 4. a second spare dies the same way and the set is started again without
#    it and without "degraded" (failed is not missing): it is still shown
#    failed, every block reads as before, and spare_remove index=<n> takes
#    it out. A table loaded before it died resumes after (it reads the new
#    membership), not left suspended.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"

# Volatile write caches: the set has one, so flushes from above reach the
# target, and powering a member off loses what it was not told to flush,
# as a disk that drops off the bus does.
data=$(nullb_volatile d0 16 1)
spare=$(nullb_volatile s0 4 1)
spare_mm=$(majmin "$spare")
"$ctl" format --name f --max-remaps 4096 --internal-spare 1M "$data" "$spare" > /dev/null
off=$(data_sector "$data" 0)
zone=$("$ctl" dump --json "$data" | jq '.members[0].spare_offset_sectors')
bad() { local b; for b; do nullb_bad d0 $((off + b * 8)) $((off + b * 8 + 7)); done; }
good() { local b; for b; do nullb_good d0 $((off + b * 8)) $((off + b * 8 + 7)); done; }
# The latest data of each block of 0-63 ("lost": must fail with EIO).
declare -A want
verify_all() {
	local items=() eio=() b s out rc=0
	for b in $(seq 0 63); do
		s=${want[$b]:-one}
		items+=("$b:$s")
		[ "$s" != lost ] || eio+=("$b:eio")
	done
	out=$(blocks expect /dev/mapper/f "${items[@]}") || rc=$?
	expect_eq "$1: blocks not reading their latest data" "${eio[*]}" "$out"
}
# remaps_seen: list_remaps with internal spare block numbers left out.
remaps_seen() { dmsetup message f 0 list_remaps | sed 's/ remapped 0:[0-9]*$/ remapped 0:x/'; }

table=$("$ctl" table "$data" "$spare")
len=$(echo "$table" | cut -d' ' -f2)
dmsetup create f --table "$table"
blocks write /dev/mapper/f 0 64 one
# The internal spare area's first block fails once: from then on the spare
# device comes first, so these remaps land on it.
nullb_bad d0 "$zone" $((zone + 7))
bad 10 11 12 13
blocks write /dev/mapper/f 10 4 two || die "remapping writes failed"
nullb_good d0 "$zone" $((zone + 7))
for b in 10 11 12 13; do want[$b]=two; done
expect_eq "remaps on the spare device" "$(printf '%s remapped 1:%s\n' 10 0 11 1 12 2 13 3)" "$(dmsetup message f 0 list_remaps)"

# 1. The spare device goes; two new bad blocks on the data disk.
nullb_power s0 0
bad 20 21
blocks write /dev/mapper/f 20 2 three || die "writes to bad blocks failed with the spare device gone"
want[20]=three want[21]=three
expect_eq "members after the spare device went" "0:ok,1:failed" "$(status_field f members)"
expect_eq "degraded (failed is not missing)" 0 "$(status_field f degraded)"
expect_eq "remaps after the spare device went" \
	"$(printf '%s pending - lost\n' 10 11 12 13; printf '%s remapped 0:x\n' 20 21)" "$(remaps_seen)"
expect_eq "pending" 4 "$(status_field f pending)"

# 2. Blocks 10 and 12 read again on the data disk, with their data from
# before the remap ("one"): that is old data, and must not be served.
good 10 12
for b in 10 11 12 13; do want[$b]=lost; done
verify_all "with the spare device gone"
verify_all "read again"
# Block 10 is written in place, block 11 (still bad there) into the internal spare.
blocks write /dev/mapper/f 10 2 four || die "writes to blocks that lived on the failed spare"
want[10]=four want[11]=four
expect_eq "remaps after rewriting two lost blocks" \
	"$(printf '%s remapped 0:x\n' 11; printf '%s pending - lost\n' 12 13; printf '%s remapped 0:x\n' 20 21)" \
	"$(remaps_seen)"
verify_all "after rewriting two lost blocks"
flushes() { awk '{print $16}' /sys/block/d0/stat; }
f0=$(flushes)
python3 -c 'import os, sys; os.fsync(os.open(sys.argv[1], os.O_WRONLY))' /dev/mapper/f ||
	die "a flush from above failed with the spare device gone"
[ "$(flushes)" -gt "$f0" ] || die "the flush from above did not reach the data disk"

# 3. Out of the member table, online.
expect_eq "spare_remove of the failed spare" "$spare_mm removed moved=0 lost=0" \
	"$(dmsetup message f 0 spare_remove "$spare_mm")"
expect_eq "members after spare_remove" "0:ok" "$(status_field f members)"
line=$(dmsetup table f)
expect_eq "table line after spare_remove" "$(majmin "$data") 0" "$(echo "$line" | cut -d' ' -f4-)"
dmsetup remove f
dmsetup create f --table "$line"
expect_eq "members after a reload" "0:ok" "$(status_field f members)"
expect_eq "pending after a reload" 2 "$(status_field f pending)"
verify_all "after spare_remove and a reload"

# 4. A second spare, used, then gone; the set started again without it.
spare2=$(nullb_volatile s1 4 1)
add=$(dmsetup message f 0 spare_add "$spare2")
idx=$(echo "$add" | sed -n 's/.* index=\([0-9]*\) .*/\1/p')
[ -n "$idx" ] || die "spare_add said: $add"
bad 30 31
blocks write /dev/mapper/f 30 2 five || die "remapping writes with the second spare"
want[30]=five want[31]=five
expect_eq "remaps on the second spare" "$(printf '30 remapped %s:0\n31 remapped %s:1' "$idx" "$idx")" \
	"$(dmsetup message f 0 list_remaps 30 2)"
# A table loaded now, resumed after the spare failed under the live one:
# the failure moved the set to a new generation, and the resume takes it
# in instead of leaving the device suspended.
dmsetup reload f --table "$(dmsetup table f)"
nullb_power s1 0
bad 40
blocks write /dev/mapper/f 40 1 six || die "a write to a bad block failed with the second spare gone"
want[40]=six want[30]=lost want[31]=lost
expect_eq "members after the second spare went" "0:ok,$idx:failed" "$(status_field f members)"
dmsetup resume f || die "the resume of a table loaded before the spare failed: $(dmesg | tail -3)"
expect_eq "state after that resume" ACTIVE "$(dmsetup info f | sed -n 's/^State: *//p')"
expect_eq "members after resuming the table loaded before" "0:ok,$idx:failed" "$(status_field f members)"
verify_all "after resuming the table loaded before the spare failed"
dmsetup remove f
dmsetup create f --table "0 $len remap $(majmin "$data") 0"
expect_eq "members started without the failed spare" "0:ok,$idx:failed" "$(status_field f members)"
expect_eq "degraded started without the failed spare" 0 "$(status_field f degraded)"
expect_eq "the failed spare in spares=" "$idx:missing" "$(status_field f spares | cut -d, -f2)"
verify_all "started without the failed spare"
expect_eq "spare_remove by index" "index=$idx removed moved=0 lost=0" "$(dmsetup message f 0 spare_remove "index=$idx")"
expect_eq "members after spare_remove by index" "0:ok" "$(status_field f members)"
dmsetup remove f
dmsetup create f --table "0 $len remap $(majmin "$data") 0"
verify_all "after the second spare_remove and a reload"
dmsetup remove f
echo "spare-fails: a spare that dies is left out, its blocks lost, never stale; the set goes on"
