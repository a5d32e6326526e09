#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Remaps survive a power cut and a reboot: boot 1 formats a virtual disk,
# writes through dm-remap while a range of it fails (dm-error under it),
# and loses power right after the writes complete; boot 2 assembles the set
# again, with the range still failing, and every block reads back.
#
# On the host:  full/target-reboot.sh KERNEL_SERIES
# In the guest: full/target-reboot.sh STEP
set -eu
if [ -z "${DMREMAP_VM_MODE:-}" ]; then
	. "$(dirname "$0")/lib-host.sh"
	full_boots "$0" "$1" target-reboot "disk.img:128M" "--timeout 300" write verify
	exit 0
fi

. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
udevadm settle
wait_for_dev /dev/vda
# Data block 40..43 of the set fail: the data area starts at 2 MiB here.
bad=$(error_range_create bad /dev/vda $((4096 + 40 * 8)) $((4096 + 44 * 8 - 1)))
case $1 in
write)
	"$ctl" format --name r --max-remaps 1024 --internal-spare 4M "$bad" > /dev/null
	dmsetup create r --table "$("$ctl" table "$bad")"
	blocks write /dev/mapper/r 0 128 boot1 || die "writes failed"
	expect_eq "remapped" 4 "$(status_field r remapped)"
	vm_power_cut
	;;
verify)
	dmsetup create r --table "$("$ctl" table "$bad")"
	expect_eq "remapped after reboot" 4 "$(status_field r remapped)"
	blocks verify /dev/mapper/r 0 128 boot1 || die "data after the power cut"
	dmsetup remove r
	"$ctl" check "$bad" > /tmp/check.out || { cat /tmp/check.out; die "metadata check failed"; }
	echo "4 remaps and 128 blocks of data survived a power cut"
	;;
esac
