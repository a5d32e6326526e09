#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The project's module loads, serves a table over a member formatted by
# dmremapctl, refuses a non-member, and unloads cleanly.
. "$VMTEST_LIB"
ctl=$DMREMAP_BUILD/tools/dmremapctl
modprobe dm-mod
dmremap_load
dmsetup targets | grep -q '^remap ' || die "target 'remap' not registered"
dev=$(nullb_create mod0 128 4096)
"$ctl" format --name smoke --max-remaps 256 --internal-spare 4M "$dev" > /dev/null
table=$("$ctl" table "$dev")
dmsetup create smoke --table "$table"
# Data written through the target lands at the data offset of the member.
offset=$("$ctl" dump --json "$dev" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data_offset_sectors"])')
head -c 1M /dev/urandom > /tmp/pattern
dd if=/tmp/pattern of=/dev/mapper/smoke bs=1M oflag=direct status=none
expect_eq "data at the data offset" "$(sha256sum < /tmp/pattern)" \
	"$(dd if="$dev" bs=4096 skip=$((offset / 8)) count=256 iflag=direct status=none | sha256sum)"
expect_eq "read back" "$(sha256sum < /tmp/pattern)" \
	"$(dd if=/dev/mapper/smoke bs=1M count=1 iflag=direct status=none | sha256sum)"
dmsetup remove smoke
# A device without a superblock is refused with a reason, not a splat.
other=$(nullb_create mod1 64)
# The constructor's reason exists only in the kernel log: look at what
# this attempt logged, after a mark.
echo "smoke-module: non-member" > /dev/kmsg
out=$(dmsetup create bad --table "0 1000 remap $other 0" 2>&1) && die "a non-member was accepted"
case $out in *"Invalid argument"*) ;; *) die "dmsetup said '$out', expected EINVAL" ;; esac
dmesg | sed -n '/smoke-module: non-member$/,$p' | grep -qF 'remap: not a dm-remap member (no valid superblock) (-EINVAL)' ||
	die "no ctr error for this attempt: $(dmesg | tail -n 3)"
dmremap_unload
[ ! -e /sys/module/dm_remap ] || die "module still loaded"
echo "dm-remap.ko loaded, mapped and unloaded"
