#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A null_blk bad range returns EIO on exactly that range, for reads and
# writes, and stops doing so when the range is removed.
. "$VMTEST_LIB"
dev=$(nullb_create bad0 64)
dd if=/dev/urandom of="$dev" bs=1M count=4 oflag=direct status=none
nullb_bad bad0 2048 2055          # one 4 KiB block at byte 1 MiB
rd() { dd if="$dev" of=/dev/null bs=512 count=1 skip="$1" iflag=direct status=none 2>/dev/null; }
wr() { dd if=/dev/zero of="$dev" bs=512 count=1 seek="$1" oflag=direct status=none 2>/dev/null; }
for s in 2040 2047 2056 2100; do
	rd $s || die "read of good sector $s failed"
	wr $s || die "write of good sector $s failed"
done
for s in 2048 2051 2055; do
	if rd $s; then die "read of bad sector $s succeeded"; fi
	if wr $s; then die "write of bad sector $s succeeded"; fi
done
if err=$(dd if="$dev" of=/dev/null bs=512 count=1 skip=2050 iflag=direct 2>&1); then
	die "bad sector 2050 read fine"
fi
case "$err" in *"Input/output error"*) ;; *) die "bad sector read gave: $err" ;; esac
nullb_good bad0 2048 2055
rd 2050 || die "sector 2050 still failing after removing the range"
nullb_remove bad0
echo "null_blk bad range: EIO on sectors 2048-2055 only"
