#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Assembly by udev and systemd with the installed rule and units, across a
# reboot. Boot 1 makes three sets and checks what udev records: set u
# (vda + spare vdb) with an ext4 that /etc/fstab mounts at the next boot,
# set v (vdc + a spare that is a dm device nobody sets up at boot), set x
# (a data member that is such a dm device + spare vdf). Boot 2 checks,
# without any command of ours run by hand: u assembled and mounted by
# local-fs.target with its remap; v started degraded by the last-resort
# timer with the missing spare named, and the spare attached when it
# appears; x never started (the data member is missing) without holding
# up the boot, and started when its data member is plugged in. udisks sees
# members as hidden and the device as an ordinary one it mounts.
#
# On the host:  full/boot-assembly.sh KERNEL_SERIES
# In the guest: full/boot-assembly.sh STEP
set -eu
if [ -z "${DMREMAP_VM_MODE:-}" ]; then
	. "$(dirname "$0")/lib-host.sh"
	before_boot() {
		# Without nofail: local-fs.target, and so the test, waits for it.
		[ "$1" != boot ] || echo "LABEL=remapfs /srv/remap ext4 defaults 0 2" > "$full_work/fstab"
	}
	full_boots "$0" "$1" boot-assembly \
		"u-data.img:96M u-spare.img:48M v-data.img:48M v-spare.img:16M x-data.img:48M x-spare.img:16M" \
		"--install --timeout 900" create boot
	exit 0
fi

. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
ctl=/usr/local/sbin/dmremapctl # as the units run it
udevadm settle
for d in vda vdb vdc vdd vde vdf; do wait_for_dev /dev/$d; done
# udev_prop DEV KEY: KEY from udev's database for DEV.
udev_prop() { udevadm info --query=property "$1" | sed -n "s/^$2=//p"; }
# members_by_source: "device:index:source ..." from dmremapctl members --json.
members_by_source() {
	"$ctl" members --json | jq -r "[.[] | select(.set_name == \"$1\")] | sort_by(.index) |
		[.[] | \"\(.device):\(.index):\(.source)\"] | join(\" \")"
}
# Spares and data members that are dm devices at an offset of the disk
# under them, so the disk itself carries no superblock.
vs_table() { echo "0 $(($(blockdev --getsz /dev/vdd) - 2048)) linear /dev/vdd 2048"; }
xd_table() { echo "0 $(($(blockdev --getsz /dev/vde) - 2048)) linear /dev/vde 2048"; }
# unit_log UNIT: what the unit printed in this boot.
unit_log() { journalctl -b -o cat -u "$1"; }
link_target() { readlink -f "/dev/disk/by-id/$1"; }
# logged UNIT EXTENDED-REGEX: whether UNIT printed a line matching it in
# this boot. The line follows the device it speaks of: poll for it.
logged() { unit_log "$1" | grep -qE "$2"; }
# Polled by wait_until: each call must look again.
not_degraded() { [ "$(status_field "$1" degraded)" = 0 ]; }
gave_up() { [ "$(systemctl show -P Result "dm-remap-last-resort@$1.service")" = exit-code ]; }
# settled SECONDS WHAT DEV CMD...: wait_until, and on a timeout what udev
# and systemd did about DEV.
settled() {
	local secs=$1 what=$2 dev=$3
	shift 3
	(wait_until "$secs" "$what" "$@") && return 0
	echo "--- udev: $dev"
	udevadm info "$dev" || echo "(udev has no record of $dev)"
	echo "--- journal"
	journalctl -b -o short-monotonic --no-pager -u 'dm-remap-*' || echo "(journalctl failed)"
	systemctl status --no-pager "$(systemd-escape --path --suffix=device "$dev")" || echo "(no active device unit)"
	die "timed out waiting for $what"
}

case $1 in
create)
	[ "$(cat /proc/1/comm)" = systemd ] || die "PID 1 is $(cat /proc/1/comm), not systemd"
	expect_eq "probed, not a member" "1 " "$(udev_prop /dev/vda DM_REMAP_PROBED) $(udev_prop /dev/vda DM_REMAP_SET_UUID)"
	"$ctl" create --name u --max-remaps 4096 /dev/vda > /dev/null
	udevadm settle
	uuid=$(udev_prop /dev/vda DM_REMAP_SET_UUID)
	expect_eq "data member in udev" "data 0 u" \
		"$(udev_prop /dev/vda DM_REMAP_ROLE) $(udev_prop /dev/vda DM_REMAP_INDEX) $(udev_prop /dev/vda DM_REMAP_NAME)"
	expect_eq "member hidden from desktops, typed for udisks" "1 dm_remap_member raid" \
		"$(udev_prop /dev/vda UDISKS_IGNORE) $(udev_prop /dev/vda ID_FS_TYPE) $(udev_prop /dev/vda ID_FS_USAGE)"
	expect_eq "member link" /dev/vda "$(link_target "dm-remap-member-$uuid-0")"
	expect_eq "DM_UUID" "REMAP-$uuid" "$(udev_prop /dev/mapper/u DM_UUID)"
	# The kernel writes the spare's superblocks; udev hears of it.
	"$ctl" spare add u /dev/vdb > /dev/null
	udevadm settle
	expect_eq "spare member in udev" "$uuid spare 1" \
		"$(udev_prop /dev/vdb DM_REMAP_SET_UUID) $(udev_prop /dev/vdb DM_REMAP_ROLE) $(udev_prop /dev/vdb DM_REMAP_INDEX)"
	expect_eq "spare link" /dev/vdb "$(link_target "dm-remap-member-$uuid-1")"
	expect_eq "members from udev" "/dev/vda:0:udev /dev/vdb:1:udev" "$(members_by_source u)"
	# Layers above are found as on any disk: the filesystem, its label.
	mkfs.ext4 -q -L remapfs /dev/mapper/u
	udevadm settle
	expect_eq "the device to udev" "ext4 remapfs u drive-harddisk" \
		"$(udev_prop /dev/mapper/u ID_FS_TYPE) $(udev_prop /dev/mapper/u ID_FS_LABEL) $(udev_prop /dev/mapper/u UDISKS_NAME) $(udev_prop /dev/mapper/u UDISKS_ICON_NAME)"
	expect_eq "device link" "$(readlink -f /dev/mapper/u)" "$(link_target dm-remap-u)"
	expect_eq "label link" "$(readlink -f /dev/mapper/u)" "$(readlink -f /dev/disk/by-label/remapfs)"
	mount /dev/mapper/u /mnt
	yes "dm-remap boot" | head -c 8M > /mnt/file
	umount /mnt
	"$ctl" remap u 7 > /dev/null
	"$ctl" stop u > /dev/null
	out=$("$ctl" assemble --all)
	expect_eq "assemble --all" "Assembled /dev/mapper/u from /dev/vda /dev/vdb" "$out"
	"$ctl" stop u > /dev/null

	dmsetup create vs --table "$(vs_table)"
	"$ctl" create --name v --max-remaps 4096 --internal-spare 0 /dev/vdc /dev/mapper/vs > /dev/null
	blocks write /dev/mapper/v 0 64 v-boot1 || die "writes to v failed"
	"$ctl" remap v 5 > /dev/null # block 5 now lives on the spare
	expect_eq "v's spare in use" "1:1/" "$(status_field v spares | grep -o '1:1/')"
	dmsetup create xd --table "$(xd_table)"
	"$ctl" create --name x --max-remaps 4096 --internal-spare 0 /dev/mapper/xd /dev/vdf > /dev/null
	blocks write /dev/mapper/x 0 64 x-boot1 || die "writes to x failed"
	"$ctl" stop v x > /dev/null
	dmsetup remove vs xd
	# Every start udev asked for while the sets were made found them active.
	failed=$(systemctl list-units --failed --plain --no-legend 'dm-remap-*')
	expect_eq "failed dm-remap units" "" "$failed"
	;;
boot)
	uuid_u=$(udev_prop /dev/vda DM_REMAP_SET_UUID)
	uuid_v=$(udev_prop /dev/vdc DM_REMAP_SET_UUID)
	uuid_x=$(udev_prop /dev/vdf DM_REMAP_SET_UUID)
	if [ -z "$uuid_u" ] || [ -z "$uuid_v" ] || [ -z "$uuid_x" ]; then
		die "members not in udev after boot: u=$uuid_u v=$uuid_v x=$uuid_x"
	fi
	# u: assembled from both disks at coldplug, mounted before this test ran.
	expect_eq "u mounted at boot" /dev/mapper/u "$(findmnt -n -o SOURCE /srv/remap)"
	# By a step; by the last resort if a member's start was merged into a
	# running step (docs/BOOT.md, Races), which has 30 s more to run.
	wait_until 60 "u's assembly in the journal" logged "dm-remap-*@$uuid_u.service" \
		"^Assembled /dev/mapper/u from /dev/vd[ab] /dev/vd[ab]\$"
	expect_eq "u's remap" 1 "$(status_field u remapped)"
	expect_eq "file on u" "$(yes "dm-remap boot" | head -c 8M | sha256sum)" "$(sha256sum < /srv/remap/file)"

	# v: its spare is missing; the last-resort timer starts it degraded.
	wait_until 120 "v to start degraded" test -b /dev/mapper/v
	expect_eq "v degraded" "1 1:missing" "$(status_field v degraded) $(status_field v spares | grep -o '1:missing')"
	wait_until 30 "v's missing spare named in the journal" logged "dm-remap-last-resort@$uuid_v.service" \
		"set 'v' \($uuid_v\) started degraded after waiting: spare member 1 \([0-9a-f-]{36}\) is missing\$"
	"$ctl" status v | grep -q "missing" || die "status does not show v's missing spare: $("$ctl" status v)"
	rc=0
	out=$(blocks verify /dev/mapper/v 5 1 v-boot1) || rc=$?
	expect_eq "block on the missing spare" "eio 5" "$out"
	# The spare is plugged in: udev starts a step that attaches it live.
	dmsetup create vs --table "$(vs_table)"
	settled 60 "v's spare to be attached" /dev/mapper/vs not_degraded v
	wait_until 30 "the attach in the journal" logged "dm-remap-assemble@$uuid_v.service" \
		"^v: spare member 1 is back and attached\$"
	blocks verify /dev/mapper/v 0 64 v-boot1 || die "v's data with its spare back"

	# x: only the spare is there. The last resort gives up, naming the data member.
	wait_until 120 "x's last resort to give up" gave_up "$uuid_x"
	wait_until 30 "x's missing data member in the journal" logged "dm-remap-last-resort@$uuid_x.service" \
		"set 'x' \($uuid_x\): the data member is missing; not started \(spares present: /dev/vdf\)\$"
	[ ! -e /dev/mapper/x ] || die "x started without its data member"
	# Plugged in late, the data member completes x.
	dmsetup create xd --table "$(xd_table)"
	# Within 20 s: a step started by the new member, not the last-resort
	# timer the member restarted (30 s).
	settled 20 "x to start" /dev/mapper/xd test -b /dev/mapper/x
	wait_until 30 "x's assembly in the journal" logged "dm-remap-assemble@$uuid_x.service" \
		"^Assembled /dev/mapper/x from /dev/dm-[0-9]+ /dev/vdf\$|^Assembled /dev/mapper/x from /dev/mapper/xd /dev/vdf\$"
	expect_eq "x not degraded" 0 "$(status_field x degraded)"
	blocks verify /dev/mapper/x 0 64 x-boot1 || die "x's data"

	# udisks (activated over D-Bus) reads what the rule set: members are
	# hidden, the device is an ordinary block device it mounts, and a loop
	# device it sets up serves as a spare.
	info=$(udisksctl info -b /dev/vda)
	for want in "HintIgnore: *true" "IdType: *dm_remap_member" "IdUsage: *raid" "HintName: *dm-remap u member 0"; do
		grep -qE "^ *$want\$" <<< "$info" || die "udisksctl info -b /dev/vda: no '$want': $info"
	done
	info=$(udisksctl info -b /dev/mapper/u)
	for want in "HintIgnore: *false" "IdType: *ext4" "IdLabel: *remapfs" "HintName: *u" "HintIconName: *drive-harddisk" \
		"MountPoints: *\/srv\/remap"; do
		grep -qE "^ *$want\$" <<< "$info" || die "udisksctl info -b /dev/mapper/u: no '$want': $info"
	done
	umount /srv/remap
	out=$(udisksctl mount --no-user-interaction -b /dev/mapper/u)
	where=$(sed -n 's/^Mounted .* at \(.*\)$/\1/p' <<< "$out" | tr -d '.')
	expect_eq "udisks mounted u" /dev/mapper/u "$(findmnt -n -o SOURCE "$where")"
	expect_eq "file through udisks' mount" "$(yes "dm-remap boot" | head -c 8M | sha256sum)" "$(sha256sum < "$where/file")"
	udisksctl unmount --no-user-interaction -b /dev/mapper/u > /dev/null
	truncate -s 16M /tmp/udisks-spare.img
	out=$(udisksctl loop-setup --no-user-interaction -f /tmp/udisks-spare.img)
	loop=$(sed -n 's/^Mapped file .* as \(\/dev\/loop[0-9]*\)\.$/\1/p' <<< "$out")
	[ -b "$loop" ] || die "udisksctl loop-setup: $out"
	"$ctl" spare add u "$loop" > /dev/null
	expect_eq "udisks' loop device as spare 2" "2:0/" "$(status_field u spares | grep -o '2:0/')"
	"$ctl" spare remove u "$loop" > /dev/null
	udisksctl loop-delete --no-user-interaction -b "$loop"

	# The rule as udev runs it: no errors; the probe runs on a member and
	# not on a loop device without a backing file.
	modprobe loop
	losetup -D
	out=$(udevadm test --action=add /sys/class/block/vdb 2>&1) || die "udevadm test failed on vdb: $out"
	grep -q "dmremapctl probe /dev/vdb" <<< "$out" || die "udevadm test: the probe did not run on vdb: $out"
	! grep -iE "69-dm-remap.rules.*(invalid|error|fail)" <<< "$out" || die "udevadm test reports rule errors: $out"
	grep -q "dm-remap-assemble@$uuid_u.service" <<< "$out" || die "udevadm test: no SYSTEMD_WANTS on vdb: $out"
	out=$(udevadm test --action=add /sys/class/block/loop0 2>&1) || die "udevadm test failed on loop0: $out"
	! grep -q "dmremapctl probe" <<< "$out" || die "the probe ran on a loop device without a backing file"

	# systemd-logind started after local-fs.target, in a mount namespace of
	# its own that kept /srv/remap when it was unmounted here: stop says so
	# (an admin's remedy is to restart the service).
	rc=0
	out=$("$ctl" stop u 2>&1) || rc=$?
	case $rc:$out in
	0:*) ;;
	4:*"mounted at /srv/remap in the mount namespace of "*" (systemd-logind)"*) systemctl restart systemd-logind ;;
	*) die "stop u: $out" ;;
	esac
	"$ctl" stop v x > /dev/null
	[ ! -e /dev/mapper/u ] || "$ctl" stop u > /dev/null
	for set in "/dev/vda /dev/vdb" "/dev/vdc /dev/mapper/vs" "/dev/mapper/xd /dev/vdf"; do
		# shellcheck disable=SC2086 # the members, one a word
		"$ctl" check $set > /tmp/check.out || { cat /tmp/check.out; die "metadata check of $set failed"; }
	done
	echo "u assembled and mounted at boot; v started degraded naming its spare, which was attached when it came;" \
		"x waited for its data member without holding up the boot"
	;;
esac
