#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A bad zone inside a spare area does not fail writes that another region
# or another member can take.
# 1. The first 32 blocks of the internal spare area are bad, and a healthy
#    spare device is there: after the first failed spare block the device
#    is preferred over the failing disk's own spare area, also after a reload.
# 2. One disk alone, the same bad zone: the remap goes on past the zone.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
data=$(nullb_create d0 128 4096)
spare=$(nullb_create s0 16 4096)
# spares_used NAME: "<index>:<used>,..." from the status' spares= token.
spares_used() { status_field "$1" spares | sed 's|/[0-9]*||g'; }
# two_remaps WHAT DEV...: a set formatted on DEV... whose internal spare area
# starts with 32 bad blocks; blocks 5 and 6 go bad and are written.
two_remaps() {
	local what=$1
	shift
	"$ctl" format --name m --max-remaps 4096 --internal-spare 4M --force "$@" > /dev/null
	zone=$("$ctl" dump --json "$data" | jq '.members[0].spare_offset_sectors')
	nullb_bad d0 "$zone" $((zone + 32 * 8 - 1))
	table=$("$ctl" table "$@")
	dmsetup create m --table "$table"
	blocks write /dev/mapper/m 0 64 one
	for b in 5 6; do bad_block d0 "$data" "$b"; done
	blocks write /dev/mapper/m 0 64 two || die "writes to bad blocks failed $what"
	expect_eq "remapped $what" 2 "$(status_field m remapped)"
	blocks verify /dev/mapper/m 0 64 two || die "data after the remaps $what"
}
two_remaps "with a healthy spare device present" "$data" "$spare"
# One internal spare block tried (and retired), then the spare device.
expect_eq "spare blocks used by member" "0:1,1:2" "$(spares_used m)"
dmsetup remove m
expect_eq "retired spare blocks" '[{"spare_block":0,"spare_member":0}]' "$("$ctl" dump --json "$data" | jq -cS .retired)"
dmsetup create m --table "$table"
bad_block d0 "$data" 7
blocks write /dev/mapper/m 7 1 three || die "write to a bad block after the reload"
expect_eq "spare blocks used after a reload" "0:1,1:3" "$(spares_used m)"
blocks verify /dev/mapper/m 0 7 two || die "data after the reload"
dmsetup remove m
nullb_good d0 "$zone" $((zone + 32 * 8 - 1))
for b in 5 6 7; do good_block d0 "$data" "$b"; done

two_remaps "on one disk, with good blocks past the bad zone" "$data"
# Eight tries in the zone, a jump of 1/16 of the area past it, and both land there.
expect_eq "spare blocks used on one disk (8 retired + 2)" "0:10" "$(spares_used m)"
dmsetup remove m
expect_eq "retired spare blocks" "[0,1,2,3,4,5,6,7]" "$("$ctl" dump --json "$data" | jq -c '[.retired[].spare_block]')"
"$ctl" dump --json "$data" | jq -e 'all(.remaps[]; .spare_block >= 32)' > /dev/null ||
	die "a remap landed in the bad zone: $("$ctl" dump --json "$data" | jq -c .remaps)"
echo "spare-moves-on: a bad zone in a spare area costs tries, not writes"
