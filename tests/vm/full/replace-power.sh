#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A power cut in the middle of a replace, under systemd with the installed
# rule and units. Boot 1 makes set r on vda with an ext4 holding a file,
# mounts it and replaces its data disk by vdb; the replace is stopped
# (SIGSTOP) while its first part is copied, a second file is written and
# fsynced, and the power is cut. Boot 2, with no command of ours run by
# hand: r is assembled on its old disk and its ext4 mounted from
# /etc/fstab with both files; dm-remap-replace@ (wanted by the unfinished
# new disk) copies again and switches; udev calls the old disk replaced and
# the member link names the new one; the next assembly takes vdb and
# passes vda over, and both disks check clean.
#
# On the host:  full/replace-power.sh KERNEL_SERIES
# In the guest: full/replace-power.sh STEP
set -eu
if [ -z "${DMREMAP_VM_MODE:-}" ]; then
	. "$(dirname "$0")/lib-host.sh"
	before_boot() {
		# Without nofail: local-fs.target, and so the test, waits for r.
		[ "$1" = replace ] ||
			echo "LABEL=rfs /srv/r ext4 defaults,x-systemd.device-timeout=300 0 2" > "$full_work/fstab"
	}
	# The new disk takes 4 MiB/s of writes: the copy lasts some 10 s, long
	# enough to catch it. Unthrottled, a CI machine's copy of r's 44 MiB
	# ended, and the replace switched, before a poll saw it going.
	full_boots "$0" "$1" replace-power "r-old.img:48M r-new.img:48M:write=4M" "--install --timeout 900" replace \
		after-cut
	exit 0
fi

. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
. "$DMREMAP_SRC/tests/vm/full/lib-guest.sh"
udevadm settle
for d in vda vdb; do wait_for_dev /dev/$d; done
r1() { yes "dm-remap r1" 2> /dev/null | head -c 8M; }
r2() { yes "dm-remap r2" 2> /dev/null | head -c 4M; }

case $1 in
replace)
	"$ctl" create --name r --max-remaps 4096 --internal-spare 4M /dev/vda > /dev/null
	udevadm settle
	uuid=$(udev_prop /dev/vda DM_REMAP_SET_UUID)
	mkfs.ext4 -q -L rfs /dev/mapper/r
	mkdir -p /srv/r
	mount /dev/mapper/r /srv/r
	r1 > /srv/r/r1
	sync /srv/r/r1
	"$ctl" replace r /dev/vdb > /tmp/replace.out 2>&1 &
	replace_pid=$!
	r_copying() { dmsetup table r | grep -q " mirror "; }
	(wait_until --flat 60 "r's copy to start" r_copying) || { cat /tmp/replace.out; die "r's copy did not start"; }
	# Stopped between two of its table switches, the replace would leave r
	# suspended and the write below hanging until the test's timeout: it
	# is stopped again until it stops with every device live and r copying.
	state() { sed -n "s/^State:[[:space:]]*//p" "/proc/$replace_pid/status"; }
	stopped() { [ "$(state)" = "T (stopped)" ]; }
	# An ended replace is a zombie (not reaped before the power cut): it
	# takes SIGSTOP without stopping.
	stopped_or_ended() { case $(state) in "T (stopped)" | Z*) return 0 ;; esac; return 1; }
	for try in $(seq 40); do
		kill -STOP "$replace_pid" 2> /dev/null || die "r's replace ended before it was stopped: $(cat /tmp/replace.out)"
		wait_until --flat 10 "the replace to stop" stopped_or_ended
		stopped || die "r's replace ended before it was stopped: $(cat /tmp/replace.out)"
		! dmsetup info | grep -q "^State: *SUSPENDED" && r_copying && break
		[ "$try" -lt 40 ] || die "the replace never stopped with r live and copying: $(dmsetup info)"
		kill -CONT "$replace_pid"
		sleep 0.1
	done
	# dm-mirror's status: START LEN mirror 2 DEV DEV IN_SYNC/REGIONS ...
	regions=$(dmsetup status r | awk '$3 == "mirror" { print $7; exit }')
	[ "${regions%/*}" -lt "${regions#*/}" ] || die "r's copy was done before the replace was stopped ($regions in sync)"
	echo "the replace stopped mid-copy (try $try): $(dmsetup table r | grep -c " mirror ") mirror pieces live in r," \
		"$regions regions in sync"
	r2 > /srv/r/r2
	sync /srv/r/r2
	# The replace holds r's set lock, stopped. r's last resort (its timer
	# fires 30 s after the first member appeared, maybe now) and an admin's
	# assemble find r running and return at once, not after the copy.
	last_resort="dm-remap-last-resort@$uuid.service"
	timeout 60 systemctl start "$last_resort" ||
		die "r's last resort did not return during the stopped replace: $(systemctl status --no-pager "$last_resort")"
	expect_eq "r's last resort during the replace" success "$(systemctl show -P Result "$last_resort")"
	out=$(timeout 60 "$ctl" assemble --uuid "$uuid") || die "assemble did not return during the stopped replace"
	expect_eq "assemble during the replace" "r: already active" "$out"
	stopped || die "the replace did not stay stopped: $(grep State "/proc/$replace_pid/status")"
	udevadm settle
	expect_eq "the new disk to udev" replacing "$(udev_prop /dev/vdb DM_REMAP_REPLACE)"
	# The old set's hidden device is no second filesystem to udev.
	expect_eq "r's label" "$(readlink -f /dev/mapper/r)" "$(readlink -f /dev/disk/by-label/rfs)"
	kill -0 "$replace_pid" || die "r's replace ended before the power cut: $(cat /tmp/replace.out)"
	dmsetup table r | grep -q " mirror " || die "r is no longer being copied: $(dmsetup table r)"
	echo "r's data disk replaced by vdb while mounted, until the power cut"
	vm_power_cut
	;;
after-cut)
	uuid=$(udev_prop /dev/vda DM_REMAP_SET_UUID)
	[ -n "$uuid" ] || die "vda is not a member to udev after the power cut"
	expect_eq "r mounted at boot after a cut mid-replace" /dev/mapper/r "$(findmnt -n -o SOURCE /srv/r)"
	replaced() {
		[ "$(systemctl show -P ActiveState "dm-remap-replace@$uuid.service")" = inactive ] &&
			logged "dm-remap-replace@$uuid.service" "^r: now on /dev/vdb \(was /dev/vda\)"
	}
	settled 180 "r's replace to go on and switch" /dev/vdb replaced
	expect_eq "dm-remap-replace@ result" success "$(systemctl show -P Result "dm-remap-replace@$uuid.service")"
	expect_eq "r's data disk" "$(majmin /dev/vdb)" "$(dmsetup table r | awk '{print $4}')"
	expect_eq "r1" "$(r1 | sha256sum)" "$(sha256sum < /srv/r/r1)"
	expect_eq "r2 (fsynced during the copy)" "$(r2 | sha256sum)" "$(sha256sum < /srv/r/r2)"
	udevadm settle
	expect_eq "the old disk to udev" replaced "$(udev_prop /dev/vda DM_REMAP_REPLACE)"
	expect_eq "the new disk's link" /dev/vdb "$(link_target "dm-remap-member-$uuid-0")"
	umount /srv/r
	# The next boot's assembly: the new disk; the old one passed over.
	stop_booted r /srv/r
	expect_eq "r assembled" "Assembled /dev/mapper/r from /dev/vdb" "$("$ctl" assemble --uuid "$uuid")"
	"$ctl" stop r > /dev/null
	"$ctl" check /dev/vda > /tmp/check.out || { cat /tmp/check.out; die "r's old disk does not check clean"; }
	"$ctl" check /dev/vdb > /tmp/check.out || { cat /tmp/check.out; die "r's new disk does not check clean"; }
	echo "after a power cut mid-replace: r mounted at boot from its old disk with the file fsynced during the" \
		"copy, its replace gone on to the end by itself; both disks check clean"
	;;
esac
