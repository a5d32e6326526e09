#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Damaged metadata: with any one copy destroyed the set still loads with
# every remap (from another slot, the journal, or another member); with
# every copy destroyed the table is refused with a clear error, no oops.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
data=$(nullb_create d0 128 4096)
spare=$(nullb_create s0 64 4096)
"$ctl" format --name m --max-remaps 4096 --internal-spare 4M "$data" "$spare" > /dev/null
table=$("$ctl" table "$data" "$spare")
dmsetup create m --table "$table"
blocks write /dev/mapper/m 0 64 one
for b in 3 9 27; do bad_block d0 "$data" $b; done
blocks write /dev/mapper/m 0 64 two || die "remapping writes failed"
expect_eq "remapped" 3 "$(status_field m remapped)"
dmsetup remove m

# Geometry for --max-remaps 4096: slots of 21 blocks from sector 16.
slot0=16 slot1=$((16 + 21 * 8)) journal=$((16 + 42 * 8))
# Offsets and lengths in sectors; the devices take 4 KiB direct I/O.
zero() { dd if=/dev/zero of="$1" bs=4096 seek=$(($2 / 8)) count=$(($3 / 8)) oflag=direct status=none; }
md_end=$((journal + 2048))
save() { dd if="$1" of="$2" bs=4096 count=$((md_end / 8)) iflag=direct status=none; }
restore() { dd if="$2" of="$1" bs=4096 oflag=direct status=none; }
loads() {
	dmsetup create m --table "$table" || die "table refused after: $1"
	expect_eq "remapped after $1" 3 "$(status_field m remapped)"
	blocks verify /dev/mapper/m 0 64 two || die "data after $1"
	dmsetup remove m
}
save "$data" /tmp/data.md
save "$spare" /tmp/spare.md
for what in "superblock copy 0:0:8" "slot 0 header:$slot0:8" "slot 1 header:$slot1:8" \
	"journal:$journal:2048" "the whole metadata area:$slot0:$((md_end - slot0))"; do
	IFS=: read -r name start len <<< "$what"
	zero "$data" "$start" "$len"
	loads "$name destroyed on the data member"
	restore "$data" /tmp/data.md
	restore "$spare" /tmp/spare.md
done
zero "$spare" "$slot0" $((md_end - slot0))
loads "the spare's metadata area destroyed"
restore "$spare" /tmp/spare.md

# Every copy gone: refused, with the reason in the kernel's error.
for d in "$data" "$spare"; do zero "$d" "$slot0" $((md_end - slot0)); done
if dmsetup create m --table "$table" 2>/dev/null; then die "a set without metadata was accepted"; fi
dmesg | tail -n 5 | grep -q 'No valid metadata on any member' || die "no clear error for missing metadata"
echo "metadata damage: every single loss survived, total loss refused"
