#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A write in flight when the worker moves its block is not lost. The write
# to a block living on spare s1 is held below s1 (dm-delay with a delay no
# test outlasts, released by a reload) and seen in flight there; only then
# is s1 evacuated, and the evacuation is seen waiting inside the message
# while the write is still held. Once the write is let go the evacuation
# finishes and the block reads the new data. (Without the worker's wait
# the copy takes the old data and the write lands on the removed spare:
# this test fails.)
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
dev=$(nullb_create d0 64 4096)
raw1=$(nullb_create s1 4 4096)
s2=$(nullb_create s2 4 4096)
s1=$(delay_create s1d "$raw1" 0)
"$ctl" format --name w --max-remaps 4096 --internal-spare 0 "$dev" "$s1" > /dev/null
dmsetup create w --table "$("$ctl" table "$dev" "$s1")"
blocks write /dev/mapper/w 0 16 one || die "initial write failed"
bad_block d0 "$dev" 7
blocks write /dev/mapper/w 7 1 two || die "remapping write failed"
expect_eq "spares" "0:0/0,1:1/256" "$(status_field w spares)"
dmsetup message w 0 spare_add "$s2" > /dev/null || die "spare_add failed"

# From now on writes to s1 wait an hour (reads do not: the copy reads).
len=$(blockdev --getsz "$raw1")
dmsetup reload s1d --table "0 $len delay $raw1 0 0 $raw1 0 3600000"
dmsetup resume s1d
# Held: the set counts the write in flight, s1's own disk has not seen it.
raw_writes() { awk '{print $5}' /sys/block/s1/stat; }
w0=$(raw_writes)
expect_eq "writes in flight through the set before" 0 "$(inflight_writes w)"
blocks write /dev/mapper/w 7 1 three &
writer=$!
held() { [ "$(inflight_writes w)" = 1 ] && [ "$(raw_writes)" = "$w0" ]; }
wait_until 60 "the write to block 7 to be in flight" held

dmsetup message w 0 spare_remove "$s1" evacuate > /tmp/evac.out 2>&1 &
remover=$!
# Blocked in the target's message handler, waiting for the worker: not
# merely not started yet.
in_message() {
	case $(cat "/proc/$remover/wchan" 2> /dev/null) in msg_spare_remove | remap_message | submit_req) ;; *) false ;; esac
}
wait_until 60 "spare_remove to wait in the target (wchan $(cat "/proc/$remover/wchan" 2>&1))" in_message
held || die "the held write got through before it was let go"
kill -0 "$writer" 2> /dev/null || die "the held write returned before it was let go"
kill -0 "$remover" 2> /dev/null || die "spare_remove returned while the write was held: $(cat /tmp/evac.out)"

dmsetup reload s1d --table "0 $len delay $raw1 0 0"
dmsetup resume s1d
wait "$remover" || die "evacuation failed: $(cat /tmp/evac.out)"
expect_eq "evacuation" "$(majmin "$s1") removed moved=1 lost=0" "$(cat /tmp/evac.out)"
wait "$writer" || die "the write in flight failed"
blocks verify /dev/mapper/w 7 1 three || die "the write in flight during the evacuation was lost"
blocks verify /dev/mapper/w 0 7 one || die "other blocks"
dmsetup remove w
echo "a write held in flight while its block moved was waited for and kept"
