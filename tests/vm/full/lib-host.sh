# SPDX-License-Identifier: GPL-2.0-or-later
# Host side of the full-mode tests (tests/vm/full/*.sh, tests/dbus/vm-full.sh):
# . this, then
#   full_boots SCRIPT KERNEL NAME "DISK:SIZE..." "VMTEST OPTIONS" [STEP...]
# (@WORK@ in the options stands for the work directory below)
# boots Debian's KERNEL once per STEP (once, without a step, when none is
# given), running SCRIPT STEP in the guest under systemd. The virtual disks
# live in one work directory under the build tree, so they carry over from
# step to step like a real machine's disks across reboots; it is removed at
# the end, failed or not. A script may define before_boot STEP to change
# the machine between boots; "$full_work/fstab", if it exists, is the
# guest's /etc/fstab.
full_boots() {
	local script=$1 kernel=$2 name=$3 disks=$4 opts=$5 here build d step
	shift 5
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	build=${DMREMAP_BUILD:-$here/../../../build}
	mkdir -p "$build/vm"
	full_work=$(mktemp -d "$build/vm/$name-XXXXXX")
	trap 'rm -rf "$full_work"' EXIT
	# @WORK@ in OPTIONS: the work directory (a --persist-root image there).
	opts=${opts//@WORK@/$full_work}
	local args=()
	for d in $disks; do args+=(--disk "$full_work/$d"); done
	[ $# -gt 0 ] || set -- ""
	for step in "$@"; do
		# The calling script may change the machine between boots (its
		# /etc/fstab, a disk unplugged): before_boot STEP, if it defines it.
		! declare -F before_boot > /dev/null || before_boot "$step"
		local fstab=()
		[ ! -e "$full_work/fstab" ] || fstab=(--fstab "$full_work/fstab")
		# $opts unquoted: it is a list of options.
		# shellcheck disable=SC2086
		python3 "$here/../vmtest.py" run --kernel "$kernel" --mode full --build "$build" "${args[@]}" "${fstab[@]}" \
			$opts "$script" ${step:+"$step"}
	done
}
