#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Full mode: systemd as PID 1 with the project installed over the host
# root, and a virtual disk that outlives the guest. Boot 1 writes a file and
# shuts down cleanly; boot 2 checks it, writes one file with fsync and one
# without, and loses power; boot 3 checks that everything made durable
# before the power cut is there.
#
# On the host:  full/reboot.sh KERNEL_SERIES      (as meson runs it)
# In the guest: full/reboot.sh STEP               (as the host part runs it)
set -eu
if [ -z "${DMREMAP_VM_MODE:-}" ]; then
	. "$(dirname "$0")/lib-host.sh"
	full_boots "$0" "$1" reboot "disk.img:256M" "--install --timeout 300" write verify-then-cut verify
	exit 0
fi

. "$VMTEST_LIB"
pattern() { yes "dm-remap $1" 2>/dev/null | head -c 4M; }
check() { expect_eq "content of $1" "$(pattern "$1" | sha256sum)" "$(sha256sum < "/mnt/$1")"; }
udevadm settle
wait_for_dev /dev/vda
case $1 in
write)
	[ "$(cat /proc/1/comm)" = systemd ] || die "PID 1 is $(cat /proc/1/comm), not systemd"
	# The installed tree is what runs: a transient unit runs dmremapctl from it.
	systemd-run --wait --pipe --quiet /usr/local/sbin/dmremapctl --version | grep -q '^dmremapctl ' ||
		die "dmremapctl from the installed tree did not run under systemd"
	mkfs.ext4 -q /dev/vda
	mount /dev/vda /mnt
	pattern a > /mnt/a
	umount /mnt
	;;
verify-then-cut)
	mount /dev/vda /mnt
	check a
	pattern b > /mnt/b
	sync /mnt/b
	pattern c > /mnt/c # never synced: may be lost, must not corrupt anything
	vm_power_cut
	;;
verify)
	fsck.ext4 -p /dev/vda || [ $? -le 1 ] || die "fsck found damage it could not fix"
	mount /dev/vda /mnt
	check a
	check b
	echo "a (clean shutdown) and b (fsync before power cut) survived reboots"
	;;
esac
