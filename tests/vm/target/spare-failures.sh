#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Spare blocks that fail are retired and the data goes elsewhere; a spare
# block that stops reading turns its block pending (EIO, never wrong data)
# until a write moves it; when every spare block is used, write errors pass
# through and the status says so.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
data=$(nullb_create d0 64 4096)
spare=$(nullb_create s0 4 4096)  # a 1 MiB spare area after the metadata: 256 blocks
"$ctl" format --name x --max-remaps 1024 --internal-spare 0 "$data" "$spare" > /dev/null
soff=$("$ctl" dump --json "$spare" | jq .member.spare_offset_sectors)
total=$("$ctl" dump --json "$spare" | jq '.member.spare_sectors / 8 | floor')
dmsetup create x --table "$("$ctl" table "$data" "$spare")"
blocks write /dev/mapper/x 0 400 one

# Spare block 0 is bad before anything lands there: retired, block 5 goes to spare block 1.
nullb_bad s0 "$soff" $((soff + 7))
bad_block d0 "$data" 5
blocks write /dev/mapper/x 5 1 two || die "write over a bad block with a bad first spare failed"
expect_eq "remap of block 5" "5 remapped 1:1" "$(dmsetup message x 0 list_remaps 5 1)"
blocks verify /dev/mapper/x 5 1 two || die "block 5 does not verify"

# The spare block under block 5 stops reading: EIO and pending, then a write moves it.
nullb_bad s0 $((soff + 8)) $((soff + 15))
rc=0
out=$(blocks verify /dev/mapper/x 5 1 two) || rc=$?
expect_eq "verify status of a lost spare block" 1 "$rc"
expect_eq "read of a lost spare block" "eio 5" "$out"
expect_eq "pending" 1 "$(status_field x pending)"
blocks write /dev/mapper/x 5 1 three || die "write to the pending block failed"
expect_eq "remap of block 5 after its spare failed" "5 remapped 1:2" "$(dmsetup message x 0 list_remaps 5 1)"
blocks verify /dev/mapper/x 5 1 three || die "block 5 after moving does not verify"

# Exhaustion: more bad blocks than spare blocks left.
free=$((total - 3))
# One range, in pieces of 64 blocks (6.1's badblocks takes at most 512
# sectors at once); a lookup per block cost minutes under TCG.
first=$(data_sector "$data" 100)
end=$(data_sector "$data" $((100 + free + 10)))
for ((s = first; s < end; s += 512)); do nullb_bad d0 "$s" $(( (s + 512 < end ? s + 512 : end) - 1 )); done
out=$(blocks write /dev/mapper/x 100 $((free + 10)) four) && die "writes beyond the spare capacity all succeeded"
expect_eq "failed writes once spares ran out" 10 "$(echo "$out" | wc -w | awk '{print $1 - 1}')"
expect_eq "exhausted" 1 "$(status_field x exhausted)"
expect_eq "spare use" "$total" "$(status_field x spare_used)"
blocks verify /dev/mapper/x 100 "$free" four || die "remapped blocks before exhaustion do not verify"
dmsetup remove x
"$ctl" check "$data" "$spare" > /tmp/check.out || { cat /tmp/check.out; die "metadata check failed"; }
retired=$("$ctl" dump --json "$data" | jq '.retired | length')
expect_eq "retired spare blocks" 2 "$retired"
echo "spare failures retired, lost spare turned pending then moved, exhaustion reported"
