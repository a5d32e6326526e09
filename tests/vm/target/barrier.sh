#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A write in flight when the worker moves its block is not lost: writes to
# spare s1 take 1.5 s (dm-delay), a write to a block living there is
# started, and s1 is evacuated while it is still on its way. The worker
# must wait for it before copying, so the block reads the new data after.
# (Without the wait the copy takes the old data and the write lands on the
# removed spare: this test fails.)
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
dev=$(nullb_create d0 64 4096)
raw1=$(nullb_create s1 3 4096)
s2=$(nullb_create s2 3 4096)
s1=$(delay_create s1d "$raw1" 0 1500)
"$ctl" format --name w --max-remaps 4096 --internal-spare 0 "$dev" "$s1" > /dev/null
dmsetup create w --table "$("$ctl" table "$dev" "$s1")"
blocks write /dev/mapper/w 0 16 one || die "initial write failed"
bad_block d0 "$dev" 7
blocks write /dev/mapper/w 7 1 two || die "remapping write failed"
expect_eq "spares" "0:0/0,1:1/256" "$(status_field w spares)"
dmsetup message w 0 spare_add "$s2" > /dev/null || die "spare_add failed"

blocks write /dev/mapper/w 7 1 three &
writer=$!
sleep 0.3
out=$(dmsetup message w 0 spare_remove "$s1" evacuate) || die "evacuation failed"
expect_eq "evacuation" "$(majmin "$s1") removed moved=1 lost=0" "$out"
wait "$writer" || die "the write in flight failed"
blocks verify /dev/mapper/w 7 1 three || die "the write in flight during the evacuation was lost"
blocks verify /dev/mapper/w 0 7 one || die "other blocks"
dmsetup remove w
echo "a write in flight while its block moved was kept"
