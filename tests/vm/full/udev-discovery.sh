#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Discovery through udev under a real systemd-udevd with the installed
# rule: members carry DM_REMAP_* in udev's database (also after a spare is
# added by the kernel and after a reboot), dmremapctl finds them from there
# and assembles the set by UUID and with --all.
#
# On the host:  full/udev-discovery.sh KERNEL_SERIES
# In the guest: full/udev-discovery.sh STEP
set -eu
if [ -z "${DMREMAP_VM_MODE:-}" ]; then
	. "$(dirname "$0")/lib-host.sh"
	full_boots "$0" "$1" udev-discovery "data.img:96M spare.img:48M" "--install --timeout 600" create reboot
	exit 0
fi

. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
udevadm settle
wait_for_dev /dev/vda
wait_for_dev /dev/vdb
# udev_prop DEV KEY: KEY from udev's database for DEV.
udev_prop() { udevadm info --query=property "$1" | sed -n "s/^$2=//p"; }
# members_by_source: "device:index:source ..." from dmremapctl members --json.
members_by_source() {
	"$ctl" members --json | jq -r 'sort_by(.index) | [.[] | "\(.device):\(.index):\(.source)"] | join(" ")'
}
case $1 in
create)
	expect_eq "probed, not a member" "1 " "$(udev_prop /dev/vda DM_REMAP_PROBED) $(udev_prop /dev/vda DM_REMAP_SET_UUID)"
	"$ctl" create --name u --max-remaps 4096 /dev/vda > /dev/null
	udevadm settle
	uuid=$(udev_prop /dev/vda DM_REMAP_SET_UUID)
	expect_eq "data member in udev" "data 0 u" \
		"$(udev_prop /dev/vda DM_REMAP_ROLE) $(udev_prop /dev/vda DM_REMAP_INDEX) $(udev_prop /dev/vda DM_REMAP_NAME)"
	expect_eq "DM_UUID" "REMAP-$uuid" "$(udev_prop /dev/mapper/u DM_UUID)"
	# The kernel writes the spare's superblocks; udev hears of it.
	"$ctl" spare add u /dev/vdb > /dev/null
	udevadm settle
	expect_eq "spare member in udev" "$uuid spare 1" \
		"$(udev_prop /dev/vdb DM_REMAP_SET_UUID) $(udev_prop /dev/vdb DM_REMAP_ROLE) $(udev_prop /dev/vdb DM_REMAP_INDEX)"
	expect_eq "members from udev" "/dev/vda:0:udev /dev/vdb:1:udev" "$(members_by_source)"
	blocks write /dev/mapper/u 0 64 boot1 || die "writes failed"
	"$ctl" remap u 7 > /dev/null
	"$ctl" stop u > /dev/null
	out=$("$ctl" assemble --all)
	expect_eq "assemble --all" "Assembled /dev/mapper/u from /dev/vda /dev/vdb" "$out"
	"$ctl" stop u > /dev/null
	;;
reboot)
	uuid=$(udev_prop /dev/vda DM_REMAP_SET_UUID)
	[ -n "$uuid" ] || die "no DM_REMAP_SET_UUID on /dev/vda after boot"
	expect_eq "members from udev after boot" "/dev/vda:0:udev /dev/vdb:1:udev" "$(members_by_source)"
	"$ctl" assemble --uuid "$uuid" > /dev/null
	expect_eq "remaps after reboot" 1 "$(status_field u remapped)"
	blocks verify /dev/mapper/u 0 64 boot1 || die "data after reboot"
	"$ctl" stop u > /dev/null
	echo "udev records members (also a spare the kernel added); assemble finds them after a reboot"
	;;
esac
