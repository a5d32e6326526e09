#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Full mode: systemd as PID 1 with the project installed over the host
# root, and virtual disks that outlive the guest. Files and remaps survive
# reboots: an ext4 on a dm-remap set over a disk whose failing ranges
# (dm-error under the set) are re-created on every boot.
# Boot 1 writes file a, makes 4 of its blocks fail and rewrites it (4
# remaps), shuts down cleanly. Boot 2 assembles the set, reads a (through
# the remaps: the blocks still fail underneath), writes b with fsync and 4
# failing blocks (8 remaps), writes c without sync and loses power. Boot 3
# assembles the set and finds a, b and the 8 remaps, metadata clean.
#
# On the host:  full/reboot.sh KERNEL_SERIES      (as meson runs it)
# In the guest: full/reboot.sh STEP               (as the host part runs it)
set -eu
if [ -z "${DMREMAP_VM_MODE:-}" ]; then
	. "$(dirname "$0")/lib-host.sh"
	full_boots "$0" "$1" reboot "disk.img:256M notes.img:1M" "--install --timeout 600" \
		write verify-then-cut verify
	exit 0
fi

. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
pattern() { yes "dm-remap $1" 2>/dev/null | head -c 4M; }
check() { expect_eq "content of $1" "$(pattern "$1" | sha256sum)" "$(sha256sum < "/mnt/$1")"; }
udevadm settle
wait_for_dev /dev/vda
wait_for_dev /dev/vdb
# The failing ranges ("FIRST-LAST" sectors of vda) are kept on vdb, so
# every boot builds the same failing disk.
ranges() { dd if=/dev/vdb bs=4096 count=1 iflag=direct status=none | tr -d '\0'; }
save_ranges() { printf '%s\n' "$@" | sort -n | dd of=/dev/vdb bs=4096 conv=sync oflag=direct,sync status=none; }
# bad_table RANGE...: vda from 1 MiB on (so that vda itself carries no
# superblock and is no member at boot), with the given sector ranges
# failing every I/O.
bad_table() {
	local size pos=0 r first last table="" off=2048
	size=$(($(blockdev --getsz /dev/vda) - off))
	for r in "$@"; do
		first=${r%-*} last=${r#*-}
		[ "$first" -gt "$pos" ] && table+="$pos $((first - pos)) linear /dev/vda $((pos + off))"$'\n'
		table+="$first $((last - first + 1)) error"$'\n'
		pos=$((last + 1))
	done
	echo "$table$pos $((size - pos)) linear /dev/vda $((pos + off))"
}
assembled_by_unit() {
	journalctl -b -o cat -u "dm-remap-assemble@$1.service" | grep -qxE "Assembled /dev/mapper/r from /dev/(mapper/bad|dm-[0-9]+)"
}
# assemble: the failing disk as the last boot left it; the set on it is
# assembled by the installed udev rule and unit as the disk appears.
assemble() {
	local uuid
	# shellcheck disable=SC2046 # one range a word
	dmsetup create bad --table "$(bad_table $(ranges))"
	wait_until 60 "r to be assembled" test -b /dev/mapper/r
	uuid=$(udevadm info --query=property /dev/mapper/bad | sed -n 's/^DM_REMAP_SET_UUID=//p')
	# The line follows the device: poll for it.
	wait_until 30 "r's assembly by its unit in the journal" assembled_by_unit "$uuid"
}
# fail_file NAME: 4 blocks inside file NAME start failing on the disk, and
# NAME is rewritten in place, so the set remaps exactly those blocks.
fail_file() {
	local ext first len s
	ext=$(filefrag -v "/mnt/$1" | awk '$1 == "0:" { print $4, $6 }' | tr -d '.:')
	read -r first len <<< "$ext"
	[ "${len:-0}" -ge 8 ] || die "file $1: first extent too short: $(filefrag -v "/mnt/$1")"
	s=$(data_sector /dev/mapper/bad $((first + 4)))
	# shellcheck disable=SC2046
	save_ranges $(ranges) "$s-$((s + 31))"
	# shellcheck disable=SC2046
	dmsetup reload bad --table "$(bad_table $(ranges))"
	dmsetup resume bad
	pattern "$1" | dd of="/mnt/$1" bs=1M conv=notrunc oflag=direct iflag=fullblock status=none ||
		die "rewriting $1 over failing blocks failed"
}
case $1 in
write)
	[ "$(cat /proc/1/comm)" = systemd ] || die "PID 1 is $(cat /proc/1/comm), not systemd"
	# The installed tree is what runs: a transient unit runs dmremapctl from it.
	systemd-run --wait --pipe --quiet /usr/local/sbin/dmremapctl --version | grep -q '^dmremapctl ' ||
		die "dmremapctl from the installed tree did not run under systemd"
	save_ranges
	dmsetup create bad --table "$(bad_table)"
	"$ctl" create --name r --max-remaps 1024 /dev/mapper/bad > /dev/null
	mkfs.ext4 -q /dev/mapper/r
	mount /dev/mapper/r /mnt
	pattern a > /mnt/a
	sync /mnt/a
	fail_file a
	expect_eq "remapped" 4 "$(status_field r remapped)"
	umount /mnt
	"$ctl" stop r > /dev/null
	dmsetup remove bad
	;;
verify-then-cut)
	assemble
	expect_eq "remaps after a clean shutdown" 4 "$(status_field r remapped)"
	mount /dev/mapper/r /mnt
	check a
	pattern b > /mnt/b
	sync /mnt/b
	fail_file b
	sync /mnt/b
	expect_eq "remapped" 8 "$(status_field r remapped)"
	pattern c > /mnt/c # never synced: may be lost, must not corrupt anything
	vm_power_cut
	;;
verify)
	assemble
	expect_eq "remaps after a power cut" 8 "$(status_field r remapped)"
	fsck.ext4 -p /dev/mapper/r || [ $? -le 1 ] || die "fsck found damage it could not fix"
	mount /dev/mapper/r /mnt
	check a
	check b
	umount /mnt
	"$ctl" stop r > /dev/null
	"$ctl" check /dev/mapper/bad > /tmp/check.out || { cat /tmp/check.out; die "metadata check failed"; }
	echo "a (clean shutdown), b (fsync before a power cut) and 8 remaps survived reboots"
	;;
esac
