# SPDX-License-Identifier: GPL-2.0-or-later
# Guest helpers of the packaging tests (deb-guest.sh).
# module_from_dkms: dm-remap.ko is the one DKMS installed for this kernel,
# and modprobe loads it.
module_from_dkms() {
	local path
	path=$(modinfo -n dm-remap) || die "modinfo finds no dm-remap module"
	case $path in
	"/lib/modules/$(uname -r)/updates/dkms/dm-remap.ko"*) ;;
	*) die "dm-remap.ko is $path, not DKMS's" ;;
	esac
	modprobe dm-remap
	dmsetup targets | grep -q '^remap ' || die "target 'remap' not registered after modprobe"
}
