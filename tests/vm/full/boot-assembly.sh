#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Assembly by udev and systemd with the installed rule and units, across a
# reboot and a power cut. Boot 1 makes four sets and checks what udev
# records: set u (vda + spare vdb) with an ext4 that /etc/fstab mounts at
# the next boots, set v (vdc + a spare that is a dm device nobody sets up
# at boot), set x (a data member that is such a dm device + spare vdf),
# set w (vdg + a spare in an image file on vdh, which fstab mounts under
# /var/lib/dm-remap/spares). Boot 2 checks, without any command of ours
# run by hand: u assembled and mounted by local-fs.target with its remap;
# w started with its image spare once the filesystem holding it was
# mounted; v started degraded by the last-resort timer with the missing
# spare named, and the spare attached when it appears; x never started
# (the data member is missing) without holding up the boot, and started
# when its data member is plugged in. udisks sees members as hidden and
# the device as an ordinary one it mounts. Then 4 blocks of a file on u
# are remapped, the file is rewritten in place and fsynced (those blocks
# hold it only on the spare), and the power is cut. Boot 3: u back and
# mounted (after fsck's journal replay) with both files and all 5 remaps;
# every set's metadata checks clean. (A power cut in the middle of a
# replace: full/replace-power.sh.)
#
# On the host:  full/boot-assembly.sh KERNEL_SERIES
# In the guest: full/boot-assembly.sh STEP
set -eu
if [ -z "${DMREMAP_VM_MODE:-}" ]; then
	. "$(dirname "$0")/lib-host.sh"
	before_boot() {
		# Without nofail: local-fs.target, and so the test, waits for them.
		# Up to 5 minutes (systemd's default is 90 s): three guests on two
		# cores under TCG can take longer than that to assemble.
		local o=defaults,x-systemd.device-timeout=300
		[ "$1" = create ] || printf '%s\n' "LABEL=remapfs /srv/remap ext4 $o 0 2" \
			"LABEL=wspares /var/lib/dm-remap/spares ext4 $o 0 2" \
			> "$full_work/fstab"
	}
	full_boots "$0" "$1" boot-assembly \
		"u-data.img:96M u-spare.img:48M v-data.img:48M v-spare.img:16M x-data.img:48M x-spare.img:16M w-data.img:48M w-fs.img:128M" \
		"--install --timeout 900" create boot after-cut
	exit 0
fi

. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
. "$DMREMAP_SRC/tests/vm/full/lib-guest.sh"
udevadm settle
for d in vda vdb vdc vdd vde vdf vdg vdh; do wait_for_dev /dev/$d; done
# members_by_source: "device:index:source ..." from dmremapctl members --json.
members_by_source() {
	"$ctl" members --json | jq -r "[.[] | select(.set_name == \"$1\")] | sort_by(.index) |
		[.[] | \"\(.device):\(.index):\(.source)\"] | join(\" \")"
}
# Spares and data members that are dm devices at an offset of the disk
# under them, so the disk itself carries no superblock.
vs_table() { echo "0 $(($(blockdev --getsz /dev/vdd) - 2048)) linear /dev/vdd 2048"; }
xd_table() { echo "0 $(($(blockdev --getsz /dev/vde) - 2048)) linear /dev/vde 2048"; }
spares=/var/lib/dm-remap/spares
# image_attacher LOOP: the unit that logged attaching w's image (as LOOP
# when it started w, by index when it joined w running degraded).
image_attacher() {
	journalctl -b -o json -u 'dm-remap-*' |
		jq -r --arg re "^(  attached image spare as $1|w: spare member 1 is back and attached)\$" \
			'select(.MESSAGE | strings | test($re)) | ._SYSTEMD_UNIT' | head -n 1
}
image_logged() { [ -n "$(image_attacher "$1")" ]; }
no_backing_file() { [ -z "$(cat "/sys/class/block/${1#/dev/}/loop/backing_file" 2> /dev/null)" ]; }
# Polled by wait_until: each call must look again.
not_degraded() { [ "$(status_field "$1" degraded)" = 0 ]; }
complete() { [ -b "/dev/mapper/$1" ] && not_degraded "$1"; }
gave_up() { [ "$(systemctl show -P Result "dm-remap-last-resort@$1.service")" = exit-code ]; }
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

	mkfs.ext4 -q -L wspares /dev/vdh
	mkdir -p "$spares"
	mount /dev/vdh "$spares"
	"$ctl" create --name w --max-remaps 4096 --internal-spare 0 /dev/vdg > /dev/null
	"$ctl" spare add w --image "$spares/w.img" --size 16M > /dev/null
	blocks write /dev/mapper/w 0 64 w-boot1 || die "writes to w failed"
	"$ctl" remap w 9 > /dev/null # block 9 now lives in the image
	expect_eq "w's image in use" "1:1/" "$(status_field w spares | grep -o '1:1/')"
	# Only the image holds this: the data disk keeps the old block 9.
	blocks write /dev/mapper/w 9 1 w-image || die "write to w's block 9 failed"
	"$ctl" stop w > /dev/null
	umount "$spares"

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

	# w: its spare is an image on a filesystem mounted by local-fs.target,
	# maybe after udev saw vdg: started complete by the step vdg started
	# or by dm-remap-images.service (or, on a slow boot, degraded by the
	# last resort and then joined by its image).
	settled 90 "w to run with its image" /dev/vdg complete w
	loop=$("$ctl" status --json w | jq -r '.[0].spares[] | select(.index == 1) | .node')
	expect_eq "w's spare" "$spares/w.img" "$(losetup -n -O BACK-FILE "$loop" 2>&1)"
	blocks verify /dev/mapper/w 0 9 w-boot1 || die "w's data"
	blocks verify /dev/mapper/w 9 1 w-image || die "w's block 9, from its image"
	blocks verify /dev/mapper/w 10 54 w-boot1 || die "w's data"
	wait_until 30 "w's image attached in the journal" image_logged "$loop"
	echo "w's image spare attached by $(image_attacher "$loop")"

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
	# Cleared once its last opener (udev's probe, udisks) closes it.
	udevadm settle
	wait_until 30 "$loop to lose its file" no_backing_file "$loop"

	# The rule as udev runs it: no errors; the probe runs on a member and
	# not on a loop device without a backing file (udisks' one, detached).
	out=$(udevadm test --action=add /sys/class/block/vdb 2>&1) || die "udevadm test failed on vdb: $out"
	grep -q "dmremapctl probe /dev/vdb" <<< "$out" || die "udevadm test: the probe did not run on vdb: $out"
	! grep -iE "69-dm-remap.rules.*(invalid|error|fail)" <<< "$out" || die "udevadm test reports rule errors: $out"
	grep -q "dm-remap-assemble@$uuid_u.service" <<< "$out" || die "udevadm test: no SYSTEMD_WANTS on vdb: $out"
	out=$(udevadm test --action=add "/sys/class/block/${loop#/dev/}" 2>&1) || die "udevadm test failed on $loop: $out"
	! grep -q "dmremapctl probe" <<< "$out" || die "the probe ran on a loop device without a backing file"

	# A power cut with u mounted: b's 4 blocks remapped, then b rewritten in
	# place and fsynced (so those 4 blocks hold it only on the spare); c
	# never synced (may be lost, must not corrupt anything).
	mount /srv/remap
	yes "dm-remap b" | head -c 4M > /srv/remap/b
	sync /srv/remap/b
	read -r first len <<< "$(filefrag -v /srv/remap/b | awk '$1 == "0:" { print $4, $6 }' | tr -d '.:')"
	[ "${len:-0}" -ge 8 ] || die "file b: first extent too short: $(filefrag -v /srv/remap/b)"
	for i in 4 5 6 7; do "$ctl" remap u $((first + i)) > /dev/null; done
	expect_eq "u's remaps" 5 "$(status_field u remapped)"
	yes "dm-remap b2" | head -c 4M | dd of=/srv/remap/b bs=1M conv=notrunc,fsync iflag=fullblock status=none
	expect_eq "b rewritten in place" "$first" \
		"$(filefrag -v /srv/remap/b | awk '$1 == "0:" { print $4 }' | tr -d '.:')"
	yes "dm-remap c" | head -c 4M > /srv/remap/c
	echo "u assembled and mounted at boot; w started with its image spare; v started degraded naming its spare," \
		"which was attached when it came; x waited for its data member without holding up the boot"
	vm_power_cut
	;;
after-cut)
	# u: mounted at boot again, after fsck replayed its journal.
	expect_eq "u mounted at boot after a power cut" /dev/mapper/u "$(findmnt -n -o SOURCE /srv/remap)"
	expect_eq "u's remaps after a power cut" 5 "$(status_field u remapped)"
	expect_eq "file on u" "$(yes "dm-remap boot" | head -c 8M | sha256sum)" "$(sha256sum < /srv/remap/file)"
	expect_eq "b (fsynced before the cut)" "$(yes "dm-remap b2" | head -c 4M | sha256sum)" "$(sha256sum < /srv/remap/b)"
	settled 90 "w to run with its image" /dev/vdg complete w
	umount /srv/remap
	stop_booted u /srv/remap
	"$ctl" stop w > /dev/null
	# v's spare and x's data member come back: both run complete (whether
	# v's last resort came first or not), and are stopped for the check.
	dmsetup create vs --table "$(vs_table)"
	dmsetup create xd --table "$(xd_table)"
	settled 90 "v to run complete" /dev/mapper/vs complete v
	settled 60 "x to run complete" /dev/mapper/xd complete x
	"$ctl" stop v x > /dev/null
	for set in "/dev/vda /dev/vdb" "/dev/vdc /dev/mapper/vs" "/dev/mapper/xd /dev/vdf" "/dev/vdg $spares/w.img"; do
		# shellcheck disable=SC2086 # the members, one a word
		"$ctl" check $set > /tmp/check.out || { cat /tmp/check.out; die "metadata check of $set failed"; }
	done
	echo "after a power cut: u mounted at boot with b (fsynced) and its 5 remaps; every set's metadata clean"
	;;
esac
