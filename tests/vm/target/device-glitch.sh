#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A disk that fails everything for a while (dropped off the bus, a reset)
# has not grown bad blocks. The data device fails every I/O (a dm table
# switched to "error" under the set) while reads and writes run, then comes
# back: every block reads its data, nothing is pending, no spare was used,
# and the next real bad blocks are remapped. A block that was pending
# because it could not be read is healed once it reads again.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
nullb=$(nullb_create d0 128 4096)
size=$(blockdev --getsz "$nullb")
dmsetup create g --table "0 $size linear $nullb 0"
data=/dev/mapper/g
"$ctl" format --name m --max-remaps 4096 --internal-spare 4M "$data" > /dev/null
dmsetup create m --table "$("$ctl" table "$data")"
blocks write /dev/mapper/m 0 256 one
g_table() { dmsetup suspend g && dmsetup load g --table "$1" && dmsetup resume g; }

g_table "0 $size error"
rc=0
blocks verify /dev/mapper/m 0 64 one > /tmp/reads || rc=$?
expect_eq "reads while the disk is gone (1: read errors only)" 1 "$rc"
rc=0
blocks write /dev/mapper/m 64 32 two 2> /tmp/writes || rc=$?
[ "$rc" -ne 0 ] || die "writes succeeded while the disk was gone"
g_table "0 $size linear $nullb 0"

expect_eq "pending after the glitch" 0 "$(status_field m pending)"
expect_eq "remapped after the glitch" 0 "$(status_field m remapped)"
expect_eq "spare blocks used by the glitch" 0 "$(status_field m spare_used)"
[ "$(status_field m device_errors)" -gt 0 ] || die "no device errors counted: $(dmsetup status m)"
expect_eq "metadata after the glitch" ok "$(status_field m metadata)"
blocks verify /dev/mapper/m 0 64 one || die "data before the glitch"
blocks verify /dev/mapper/m 96 160 one || die "data beside the glitch"
# The failed writes were not acknowledged: old or new data, never anything else.
blocks expect /dev/mapper/m $(seq -f '%g:two:one' 64 95) || die "blocks written during the glitch"

# Real bad blocks now: remapped, the writes succeed.
for b in 10 20; do bad_block d0 "$data" "$b"; done
blocks write /dev/mapper/m 0 32 three || die "writes to two bad blocks failed after the glitch"
expect_eq "remapped after two bad blocks" 2 "$(status_field m remapped)"
expect_eq "spare blocks used" 2 "$(status_field m spare_used)"
blocks verify /dev/mapper/m 0 32 three || die "data after the remaps"

# A block that cannot be read is pending; once it reads again, it is healed.
bad_block d0 "$data" 100
rc=0
blocks verify /dev/mapper/m 100 1 one > /dev/null || rc=$?
expect_eq "read of an unreadable block (1: EIO)" 1 "$rc"
expect_eq "pending" 1 "$(status_field m pending)"
good_block d0 "$data" 100
heals() { blocks verify /dev/mapper/m 100 1 one > /dev/null; }
wait_until 30 "the pending block to read again" heals
expect_eq "pending after the block read again" 0 "$(status_field m pending)"
expect_eq "healed" 1 "$(status_field m healed)"
dmsetup remove m
dmsetup create m --table "$("$ctl" table "$data")"
expect_eq "pending after a reload" 0 "$(status_field m pending)"
blocks verify /dev/mapper/m 96 160 one || die "data after the reload"
dmsetup remove m
echo "device-glitch: a glitch costs no spare and marks nothing; a block that reads again is healed"
