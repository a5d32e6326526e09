#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Guest side of deb.sh, in a full-mode guest whose root persists across
# the reboot (vmtest.py --persist-root) and which has no dm-remap module.
#   install: dpkg -i the five packages; DKMS builds dm-remap.ko for this
#            kernel from dm-remap-dkms's postinst; the installed
#            dmremapctl makes set pk on vda, writes data, remaps a block.
#   reboot:  pk assembled by the installed rule and units, with the
#            module DKMS built, the data and the remap.
. "$VMTEST_LIB"
. "$DMREMAP_SRC/tests/packaging/lib-guest.sh"
debs=$DMREMAP_BUILD/packaging/deb
ctl=/usr/sbin/dmremapctl
abi=$(uname -r)
case $1 in
install)
	modinfo dm-remap > /dev/null 2>&1 && die "a dm-remap module is already installed: $(modinfo -n dm-remap)"
	[ ! -e $ctl ] || die "$ctl exists before the packages are installed"
	# What the linux-headers package would have put there: the harness
	# unpacked it outside the root, and /lib/modules/$abi/build points here.
	ln -s "$DMREMAP_KERNEL_ROOT/usr/src/linux-headers-$abi" /usr/src/
	[ -f "/lib/modules/$abi/build/Makefile" ] || die "no kernel headers at /lib/modules/$abi/build"
	# As with man-db/auto-update false, as Debian's CI images set it: its
	# trigger rebuilt the index of every manual page on the machine, 15 s
	# under TCG. The trigger looks for this file, which man-db's postinst
	# keeps from the debconf answer.
	rm -f /var/lib/man-db/auto-update
	start=$SECONDS
	dpkg -i --log=/tmp/dpkg-status.log \
		"$debs"/{dm-remap,libbd-remap1,libbd-remap-dev,dm-remap-dkms,dm-remap-cockpit}_*.deb > /tmp/dpkg.log 2>&1 ||
		{ cat /tmp/dpkg.log; die "dpkg -i failed"; }
	echo "dpkg -i: 5 packages installed in $((SECONDS - start)) s (with DKMS's build)"
	# Where the time went: each package's configuration and each trigger,
	# in seconds from the start (dpkg's log has one-second stamps).
	awk '{ split($2, t, ":"); s = t[1] * 3600 + t[2] * 60 + t[3]; if (NR == 1) first = s }
		$3 == "configure" || $3 == "trigproc" { printf "  %4d s  %s %s\n", s - first, $3, $4 }' /tmp/dpkg-status.log
	for p in dm-remap libbd-remap1 libbd-remap-dev dm-remap-dkms dm-remap-cockpit; do
		expect_eq "$p installed" "install ok installed" "$(dpkg-query -W -f '${Status}' "$p")"
	done
	expect_eq "dkms status" "dm-remap/$(dpkg-query -W -f '${Version}' dm-remap-dkms), $abi, x86_64: installed" \
		"$(dkms status -m dm-remap -k "$abi" 2> /dev/null)"
	module_from_dkms
	systemctl is-enabled --quiet dm-remapd.service || die "dm-remapd.service not enabled by the package"
	systemctl is-enabled --quiet dm-remap-health.timer || die "dm-remap-health.timer not enabled by the package"
	"$ctl" create --name pk --max-remaps 256 /dev/vda > /dev/null
	udevadm settle
	head -c 4M /dev/urandom > /var/tmp/pattern
	dd if=/var/tmp/pattern of=/dev/mapper/pk bs=1M oflag=direct status=none
	"$ctl" remap pk 100 > /dev/null
	expect_eq "remapped" 1 "$("$ctl" status pk --json | jq ".[0].remapped")"
	sync
	echo "set pk made with the installed dmremapctl; 4 MiB written, block 100 remapped"
	;;
reboot)
	wait_until 300 "pk assembled at boot" test -b /dev/mapper/pk
	module_from_dkms
	expect_eq "data after the reboot" "$(sha256sum < /var/tmp/pattern)" \
		"$(head -c 4M /dev/mapper/pk | sha256sum)"
	expect_eq "remapped after the reboot" 1 "$("$ctl" status pk --json | jq ".[0].remapped")"
	unit=$(systemctl list-units --all --plain --no-legend 'dm-remap-assemble@*' | awk '{print $1}' | head -n 1)
	[ -n "$unit" ] || die "no dm-remap-assemble@ unit ran"
	expect_eq "$unit result" success "$(systemctl show -P Result "$unit")"
	echo "after the reboot: pk assembled by $unit with DKMS's module; data and remap intact"
	;;
*) die "unknown step $1" ;;
esac
