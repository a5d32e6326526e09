#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Writes to failing blocks land on spares and succeed; unreadable blocks
# give EIO (never wrong data), are recorded pending and healed by a read
# once they read again, or by a write;
# everything persists across table reload and module reload, and the
# metadata the kernel wrote passes dmremapctl check.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
dev=$(nullb_create d0 256 4096)
"$ctl" format --name t --max-remaps 4096 --internal-spare 8M "$dev" > /dev/null
table=$("$ctl" table "$dev")
dmsetup create t --table "$table"
blocks write /dev/mapper/t 0 256 one || die "initial write failed"

# 1. Writes over bad blocks succeed and are remapped, one entry per block.
for b in 10 11 12 100; do bad_block d0 "$dev" $b; done
out=$(blocks write /dev/mapper/t 0 256 two) || die "writes over bad blocks failed: $out"
expect_eq "remapped" 4 "$(status_field t remapped)"
expect_eq "write errors seen" 1 "$([ "$(status_field t write_errors)" -ge 1 ] && echo 1)"
blocks verify /dev/mapper/t 0 256 two || die "data after remapping does not verify"

# 1b. One I/O across blocks 8-23: the run 10-12 sits on spare blocks in a
# row, so it goes to the spare as one clone (the block_bio_remap events
# show each clone); around it, the data device. Every block reads back,
# and the run's are where list_remaps says on the spare area.
read -r s10 s11 s12 <<< "$(dmsetup message t 0 list_remaps | awk '$1 >= 10 && $1 <= 12 { sub(/.*:/, "", $3); print $3 }' | paste -sd' ')"
[ -n "$s12" ] && [ $((s11 - s10)) = 1 ] && [ $((s12 - s11)) = 1 ] || die "blocks 10-12 are not on spare blocks in a row: $s10 $s11 $s12"
spare_off=$("$ctl" dump --json "$dev" | jq -e .member.spare_offset_sectors)
tr=/sys/kernel/tracing
mountpoint -q "$tr" || mount -t tracefs nodev "$tr"
echo > "$tr/trace"
echo 1 > "$tr/events/block/block_bio_remap/enable"
head -c $((16 * 4096)) /dev/urandom > /tmp/run.dat
dd if=/tmp/run.dat of=/dev/mapper/t bs=64K seek=$((8 * 4096)) oflag=direct,seek_bytes status=none || die "the 64K write failed"
dd if=/dev/mapper/t of=/tmp/back.dat bs=64K skip=$((8 * 4096)) count=1 iflag=direct,skip_bytes status=none ||
	die "the 64K read failed"
echo 0 > "$tr/events/block/block_bio_remap/enable"
cmp /tmp/back.dat /tmp/run.dat || die "blocks 8-23 do not read back"
dd if=/tmp/run.dat of=/tmp/run-10.dat bs=4096 skip=2 count=3 status=none
dd if="$dev" bs=4096 skip=$((spare_off / 8 + s10)) count=3 iflag=direct status=none | cmp - /tmp/run-10.dat ||
	die "blocks 10-12 are not on spare blocks $s10-$s12"
# "W|R SECTOR LEN" of the clones of t's bios.
clones=$(sed -nE "s/.*block_bio_remap: [0-9]+,[0-9]+ ([WR])[A-Z]* ([0-9]+) \+ ([0-9]+) <- \($(dm_name t | tr : ,)\) .*/\1 \2 \3/p" "$tr/trace" | sort | paste -sd,)
d8=$(data_sector "$dev" 8) d13=$(data_sector "$dev" 13) sp=$((spare_off + s10 * 8))
want=$(printf '%s\n' "R $d8 16" "R $d13 88" "R $sp 24" "W $d8 16" "W $d13 88" "W $sp 24" | sort | paste -sd,)
expect_eq "the clones of a 64K write and read over blocks 8-23" "$want" "$clones"
blocks write /dev/mapper/t 8 16 two || die "rewriting blocks 8-23 failed"

# 2. Unreadable blocks: EIO on exactly those, the rest verify, recorded pending.
for b in 50 51; do bad_block d0 "$dev" $b; done
rc=0
out=$(blocks verify /dev/mapper/t 0 256 two) || rc=$?
expect_eq "verify status with unreadable blocks" 1 "$rc"
expect_eq "unreadable blocks" "eio 50 51" "$out"
expect_eq "pending" 2 "$(status_field t pending)"
# A pending block that reads again is healed by the read, its data returned
# (no read of a pending block was let through yet: the rate limit passes it).
good_block d0 "$dev" 50
blocks verify /dev/mapper/t 50 1 two || die "a pending block that reads again did not return its data"
expect_eq "pending after block 50 read again" 1 "$(status_field t pending)"
expect_eq "healed by a read" 1 "$(status_field t healed)"
# Writing heals too: block 50 in place, block 51 (still unreadable) onto a spare.
blocks write /dev/mapper/t 50 2 three || die "healing writes failed"
expect_eq "pending after healing" 0 "$(status_field t pending)"
expect_eq "remapped after healing" 5 "$(status_field t remapped)"
blocks verify /dev/mapper/t 50 2 three || die "healed blocks do not verify"

# 3. Proactive remap: a readable block moves with its data; nonsense is refused.
expect_eq "remap message" "200 remapped" "$(dmsetup message t 0 remap 200)"
expect_eq "remapped after remap message" 6 "$(status_field t remapped)"
blocks verify /dev/mapper/t 200 1 two || die "proactively remapped block lost its data"
nblocks=$(($(blockdev --getsz /dev/mapper/t) / 8))
for arg in "$nblocks" 999999999 -1 x; do
	refused_with EINVAL "remap: invalid block '$arg': the data area has $nblocks blocks" dmsetup message -- t 0 remap "$arg"
done

# 4. The kernel's metadata is what userspace reads.
list=$(dmsetup message t 0 list_remaps | awk '{print $1}' | tr '\n' ' ')
expect_eq "list_remaps" "10 11 12 51 100 200 " "$list"
dmsetup suspend t
"$ctl" check "$dev" > /tmp/check.out || { cat /tmp/check.out; die "dmremapctl check found damage"; }
dumped=$("$ctl" dump --json "$dev" | jq -r '[.remaps[].block | tostring] | join(" ")')
expect_eq "remaps on disk" "10 11 12 51 100 200" "$dumped"
dmsetup resume t

# 5. Persistence: table reload, then module reload.
dmsetup remove t
dmsetup create t --table "$table"
expect_eq "remapped after reload" 6 "$(status_field t remapped)"
blocks verify /dev/mapper/t 0 50 two || die "data after reload"
blocks verify /dev/mapper/t 50 2 three || die "healed data after reload"
blocks verify /dev/mapper/t 52 204 two || die "data after reload (2)"
dmsetup remove t
dmremap_unload
dmremap_load
dmsetup create t --table "$table"
expect_eq "remapped after module reload" 6 "$(status_field t remapped)"
blocks verify /dev/mapper/t 52 204 two || die "data after module reload"
dmsetup remove t
echo "remap, pending, heal and persistence work"
