#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every fault-injection helper does what it says: scsi_debug medium errors,
# dm-flakey dropping writes, dm-delay, and dm-log-writes replayed to a mark.
. "$VMTEST_LIB"
rd() { dd if="$1" of=/dev/null bs=512 count=1 skip="$2" iflag=direct status=none 2>/dev/null; }

# scsi_debug: reads of sectors 1000..1007 fail with a medium error.
sd=$(scsi_debug_create 16 1000 8)
rd "$sd" 999 || die "scsi_debug: good sector 999 failed"
rd "$sd" 1008 || die "scsi_debug: good sector 1008 failed"
if rd "$sd" 1000; then die "scsi_debug: medium error sector 1000 read fine"; fi
if rd "$sd" 1007; then die "scsi_debug: medium error sector 1007 read fine"; fi

# dm-flakey with drop_writes: writes vanish while reads work.
nb=$(nullb_create flk 16)
printf 'keep%.0s' $(seq 128) | dd of="$nb" bs=512 count=1 oflag=direct status=none
fl=$(flakey_create flaky "$nb" 0 60 drop_writes)
printf 'lost%.0s' $(seq 128) | dd of="$fl" bs=512 count=1 oflag=direct status=none
expect_eq "flakey dropped the write" "keep" "$(dd if="$nb" bs=512 count=1 iflag=direct status=none | head -c 4)"
dmsetup remove flaky

# dm-delay: a read takes at least the configured 200 ms.
dl=$(delay_create slow "$nb" 200)
start=$(date +%s%N)
rd "$dl" 0 || die "dm-delay read failed"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -ge 200 ] || die "dm-delay read took $ms ms, expected >= 200"
dmsetup remove slow

# dm-log-writes: replaying to a mark gives the device as it was at the mark.
data=$(nullb_create lwd 16)
logd=$(nullb_create lwl 64)
replay=$(nullb_create lwr 16)
lw=$(logwrites_create lw "$data" "$logd")
printf 'one1%.0s' $(seq 1024) | dd of="$lw" bs=4096 count=1 oflag=direct,sync status=none
logwrites_mark lw first
printf 'two2%.0s' $(seq 1024) | dd of="$lw" bs=4096 count=1 oflag=direct,sync status=none
logwrites_mark lw second
dmsetup remove lw
python3 "$DMREMAP_SRC/tests/vm/log-writes-replay.py" --log "$logd" --list | grep -q ' second$' ||
	die "mark 'second' not in the log"
logwrites_replay "$logd" "$replay" first > /dev/null
expect_eq "replay to 'first'" "one1" "$(dd if="$replay" bs=4096 count=1 iflag=direct status=none | head -c 4)"
logwrites_replay "$logd" "$replay" second > /dev/null
expect_eq "replay to 'second'" "two2" "$(dd if="$replay" bs=4096 count=1 iflag=direct status=none | head -c 4)"
if logwrites_replay "$logd" "$replay" nosuchmark 2>/dev/null; then die "replay to a missing mark succeeded"; fi
echo "scsi_debug, dm-flakey, dm-delay and dm-log-writes replay work"
