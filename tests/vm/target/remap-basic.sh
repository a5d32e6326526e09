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
# row, so it goes to the spare as one clone; around it, the data device.
# Every block reads back, and the run's are where list_remaps says on the
# spare area.
# spare_of BLOCK: its spare block, as list_remaps says.
spare_of() { dmsetup message t 0 list_remaps | awk -v b="$1" '$1 == b { sub(/.*:/, "", $3); print $3 }'; }
s10=$(spare_of 10) s11=$(spare_of 11) s12=$(spare_of 12)
[ -n "$s12" ] && [ $((s11 - s10)) = 1 ] && [ $((s12 - s11)) = 1 ] || die "blocks 10-12 are not on spare blocks in a row: $s10 $s11 $s12"
spare_off=$("$ctl" dump --json "$dev" | jq -e .member.spare_offset_sectors)
tr=/sys/kernel/tracing
mountpoint -q "$tr" || mount -t tracefs nodev "$tr"
# clones CMD...: "W|R SECTOR LEN" of each clone of t's bios while CMD runs,
# sorted, as the block_bio_remap events show them.
clones() {
	echo > "$tr/trace"
	echo 1 > "$tr/events/block/block_bio_remap/enable"
	"$@" || die "$* failed"
	echo 0 > "$tr/events/block/block_bio_remap/enable"
	sed -nE "s/.*block_bio_remap: [0-9]+,[0-9]+ ([WR])[A-Z]* ([0-9]+) \+ ([0-9]+) <- \($(dm_name t | tr : ,)\) .*/\1 \2 \3/p" \
		"$tr/trace" | sort | paste -sd,
}
# sorted_list ITEM...: the items as clones prints them.
sorted_list() { printf '%s\n' "$@" | sort | paste -sd,; }
head -c $((16 * 4096)) /dev/urandom > /tmp/run.dat
got=$(clones dd if=/tmp/run.dat of=/dev/mapper/t bs=64K seek=$((8 * 4096)) oflag=direct,seek_bytes status=none)
got=$got,$(clones dd if=/dev/mapper/t of=/tmp/back.dat bs=64K skip=$((8 * 4096)) count=1 iflag=direct,skip_bytes status=none)
cmp /tmp/back.dat /tmp/run.dat || die "blocks 8-23 do not read back"
dd if=/tmp/run.dat of=/tmp/run-10.dat bs=4096 skip=2 count=3 status=none
dd if="$dev" bs=4096 skip=$((spare_off / 8 + s10)) count=3 iflag=direct status=none | cmp - /tmp/run-10.dat ||
	die "blocks 10-12 are not on spare blocks $s10-$s12"
d8=$(data_sector "$dev" 8) d13=$(data_sector "$dev" 13) sp=$((spare_off + s10 * 8))
expect_eq "the clones of a 64K write and read over blocks 8-23" \
	"$(sorted_list "W $d8 16" "W $sp 24" "W $d13 88"),$(sorted_list "R $d8 16" "R $sp 24" "R $d13 88")" "$got"
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

# 6. Blocks next to each other whose spare blocks are not in a row (15,
# 14, 13 remapped in that order: 13 after 12's block, each before the
# last) go as one clone each: a run is only ever the next spare block.
for b in 15 14 13; do expect_eq "remap message" "$b remapped" "$(dmsetup message t 0 remap $b)"; done
s13=$(spare_of 13) s14=$(spare_of 14) s15=$(spare_of 15)
[ $((s12 + 1)) != "$s13" ] && [ $((s13 + 1)) != "$s14" ] && [ $((s14 + 1)) != "$s15" ] ||
	die "blocks 12-15 are on spare blocks in a row: $s12 $s13 $s14 $s15"
got=$(clones dd if=/dev/mapper/t of=/tmp/back.dat bs=64K skip=$((8 * 4096)) count=1 iflag=direct,skip_bytes status=none)
d16=$(data_sector "$dev" 16)
expect_eq "the clones of a 64K read over blocks 8-23 with 13-15 remapped apart" \
	"$(sorted_list "R $d8 16" "R $sp 24" "R $((spare_off + s13 * 8)) 8" "R $((spare_off + s14 * 8)) 8" \
		"R $((spare_off + s15 * 8)) 8" "R $d16 64")" "$got"
dd if=/dev/mapper/t of=/tmp/back4k.dat bs=4096 skip=8 count=16 iflag=direct status=none
cmp /tmp/back.dat /tmp/back4k.dat || die "a 64K read over blocks 8-23 differs from their 4K reads"
blocks verify /dev/mapper/t 8 16 two || die "blocks 8-23 after remapping 13-15"
dmsetup remove t
echo "remap, pending, heal and persistence work"
