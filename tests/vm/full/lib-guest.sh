# SPDX-License-Identifier: GPL-2.0-or-later
# Guest side of the full-mode tests that reboot (tests/vm/full/*.sh): what
# udev and systemd recorded. Needs lib-target.sh (die, wait_until).
ctl=/usr/local/sbin/dmremapctl # as the units run it
# udev_prop DEV KEY: KEY from udev's database for DEV.
udev_prop() { udevadm info --query=property "$1" | sed -n "s/^$2=//p"; }
link_target() { readlink -f "/dev/disk/by-id/$1"; }
# unit_log UNIT: what the unit printed in this boot.
unit_log() { journalctl -b -o cat -u "$1"; }
# logged UNIT EXTENDED-REGEX: whether UNIT printed a line matching it in
# this boot. The line follows the device it speaks of: poll for it.
logged() { unit_log "$1" | grep -qE "$2"; }
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
# stop_booted NAME MOUNTPOINT: stops NAME, whose filesystem /etc/fstab
# mounted at MOUNTPOINT and the test has unmounted. systemd-logind started
# after local-fs.target, in a mount namespace of its own that kept the
# mount: stop says so, and an admin's remedy is to restart the service.
stop_booted() {
	local rc=0 out
	out=$("$ctl" stop "$1" 2>&1) || rc=$?
	case $rc:$out in
	0:*) return 0 ;;
	4:*"mounted at $2 in the mount namespace of "*" (systemd-logind)"*) systemctl restart systemd-logind ;;
	*) die "stop $1: $out" ;;
	esac
	"$ctl" stop "$1" > /dev/null
}
