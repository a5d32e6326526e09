#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Discard and zeroing over remapped and pending blocks: a discard never
# reaches another block's spare location or the metadata (remapped blocks
# keep their data, pending ones stay pending, everything outside the range
# verifies, the metadata checks); zeroing (BLKZEROOUT) writes zeros
# everywhere in its range, remapped and pending blocks included.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
dev=$(NULLB_DISCARD=1 nullb_create d0 64 4096)
[ "$(cat /sys/block/d0/queue/discard_max_bytes)" -gt 0 ] || die "null_blk without discard"
"$ctl" format --name z --max-remaps 4096 --internal-spare 8M "$dev" > /dev/null
dmsetup create z --table "$("$ctl" table "$dev")"
blocks write /dev/mapper/z 0 256 one || die "initial write failed"
for b in 10 11 100; do bad_block d0 "$dev" $b; done
blocks write /dev/mapper/z 10 2 two && blocks write /dev/mapper/z 100 1 two || die "remapping writes failed"
bad_block d0 "$dev" 50
rc=0
blocks verify /dev/mapper/z 50 1 one > /dev/null || rc=$?
expect_eq "pending read" 1 "$rc"
expect_eq "remapped" 3 "$(status_field z remapped)"
expect_eq "pending" 1 "$(status_field z pending)"
[ "$(cat /sys/block/dm-"$(dmsetup info -c --noheadings -o minor z | tr -d ' ')"/queue/discard_max_bytes)" -gt 0 ] ||
	die "the target does not pass discard on"

# 1. Discard blocks 0-63: the remapped ones keep their data, the pending one stays.
blkdiscard --offset 0 --length $((64 * 4096)) /dev/mapper/z || die "discard failed"
blocks verify /dev/mapper/z 10 2 two || die "remapped blocks inside the discard"
blocks verify /dev/mapper/z 100 1 two || die "remapped block outside the discard"
blocks verify /dev/mapper/z 64 36 one || die "blocks after the discard"
blocks verify /dev/mapper/z 101 155 one || die "blocks after the remapped one"
expect_eq "pending after discard" 1 "$(status_field z pending)"

# 2. Zeroing blocks 8-59: zeros everywhere, the pending block written (remapped).
blkdiscard -z --offset $((8 * 4096)) --length $((52 * 4096)) /dev/mapper/z || die "zeroout failed"
blocks verify /dev/mapper/z 8 52 zero || die "zeroed range"
expect_eq "pending after zeroing" 0 "$(status_field z pending)"
expect_eq "remapped after zeroing" 4 "$(status_field z remapped)"
blocks verify /dev/mapper/z 100 1 two || die "remapped block outside the zeroing"
blocks verify /dev/mapper/z 64 36 one || die "blocks after the zeroing"
dmsetup suspend z
"$ctl" check "$dev" > /tmp/check.out || { cat /tmp/check.out; die "metadata after discard"; }
dmsetup resume z

# 3. A spare device without discard support does not turn discard off.
nodiscard=$(nullb_create s0 32 4096)
expect_eq "spare without discard" 0 "$(cat /sys/block/s0/queue/discard_max_bytes)"
dmsetup message z 0 spare_add "$nodiscard" > /dev/null || die "spare_add failed"
dmsetup reload z --table "$(dmsetup table z)" && dmsetup suspend z && dmsetup resume z || die "reload with the spare"
expect_eq "spares in the table line" 1 "$(dmsetup table z | awk '{print $5}')"
[ "$(cat /sys/block/dm-"$(dmsetup info -c --noheadings -o minor z | tr -d ' ')"/queue/discard_max_bytes)" -gt 0 ] ||
	die "a spare without discard turned discard off"
blkdiscard --offset 0 --length $((64 * 4096)) /dev/mapper/z || die "discard with a spare without discard failed"
blocks verify /dev/mapper/z 100 1 two || die "remapped block after the last discard"
dmsetup remove z
echo "discard and zeroing respect remapped and pending blocks"
