# SPDX-License-Identifier: GPL-2.0-or-later
# Shared setup for dm-remap target tests: . "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
. "$VMTEST_LIB"
ctl=$DMREMAP_BUILD/tools/dmremapctl
blocks() { "$DMREMAP_BUILD/tests/vm/blocks" "$@"; }
modprobe dm-mod
dmremap_load

# status_field NAME KEY: one key=value token of the target's status line.
# One process (dmsetup), not three: tests call this in loops, and under TCG
# every process start costs.
status_field() {
	local line tok
	while read -ra line; do
		for tok in "${line[@]}"; do
			[[ $tok != "$2="* ]] || printf '%s\n' "${tok#"$2"=}"
		done
	done <<< "$(dmsetup status "$1")"
}
# data_sector DEV BLOCK: sector on the member where data block BLOCK lives.
data_sector() {
	local off
	off=$("$ctl" dump --json "$1" | jq .data_offset_sectors)
	echo $((off + $2 * 8))
}
# bad_block NULLB DEV BLOCK: make data block BLOCK of the set fail on the device.
bad_block() { local s; s=$(data_sector "$2" "$3"); nullb_bad "$1" "$s" $((s + 7)); }
good_block() { local s; s=$(data_sector "$2" "$3"); nullb_good "$1" "$s" $((s + 7)); }
# majmin DEV: the major:minor a table line shows for DEV.
majmin() { printf '%d:%d' "0x$(stat -L -c %t "$1")" "0x$(stat -L -c %T "$1")"; }
# failing_slice NAME DEV SECTORS DATA_OFF BLOCK...: dm device NAME over
# DEV[0, SECTORS) on which the given data blocks (4 KiB, data area DATA_OFF
# sectors into it: see predicted_data_offset) fail.
failing_slice() {
	local name=$1 dev=$2 len=$3 off=$4 table="" pos=0 b s
	shift 4
	for b in "$@"; do
		s=$((off + b * 8))
		[ "$s" -gt "$pos" ] && table+="$pos $((s - pos)) linear $dev $pos"$'\n'
		table+="$s 8 error"$'\n'
		pos=$((s + 8))
	done
	table+="$pos $((len - pos)) linear $dev $pos"
	dmsetup create "$name" <<< "$table"
}

# Kernel log lines logged after a marker: what one command made the kernel
# say, whatever the log held before. /dev/kmsg writes are rate-limited by
# default, which would drop markers.
klog_since() { dmesg | sed 's/^\[[^]]*\] //' | sed -n "/^$1\$/,\$p" | sed 1d; }
# errno_text NAME: sets $errno_text to the strerror(3) text dmsetup prints.
errno_text() {
	case $1 in
	EINVAL) errno_text="Invalid argument" ;; EBUSY) errno_text="Device or resource busy" ;;
	EEXIST) errno_text="File exists" ;; ENOSPC) errno_text="No space left on device" ;;
	EROFS) errno_text="Read-only file system" ;; ENODEV) errno_text="No such device" ;;
	EINTR) errno_text="Interrupted system call" ;; ENOENT) errno_text="No such file or directory" ;;
	ENOTBLK) errno_text="Block device required" ;; ENAMETOOLONG) errno_text="File name too long" ;;
	ESTALE) errno_text="Stale file handle" ;; EUCLEAN) errno_text="Structure needs cleaning" ;;
	ENXIO) errno_text="No such device or address" ;; EIO) errno_text="Input/output error" ;;
	*) die "errno_text: unknown errno $1" ;;
	esac
}
# refused_with ERRNO LOGGED CMD...: the dmsetup command CMD fails with ERRNO
# (as its stderr says) and the kernel logs a line containing LOGGED after
# CMD started ("" when the refusal has no log line to check). Few
# processes: under TCG each costs a good part of a second.
refused_with() {
	local errno=$1 logged=$2 mark="vmtest-mark-$BASHPID-$RANDOM$RANDOM" err
	shift 2
	[ -n "${klog_on:-}" ] || { echo on > /proc/sys/kernel/printk_devkmsg; klog_on=1; }
	echo "$mark" > /dev/kmsg
	if err=$("$@" 2>&1 > /dev/null); then die "accepted: $*"; fi
	errno_text "$errno"
	case $err in
	*" failed: $errno_text"*) ;;
	*) die "$*: expected $errno ($errno_text), got: $err" ;;
	esac
	[ -n "$logged" ] || return 0
	dmesg | awk -v m="$mark" -v want="$logged" 'on && index($0, want) { ok = 1 } index($0, m) { on = 1 } END { exit !ok }' ||
		die "$*: the kernel did not log '$logged'; it logged: $(klog_since "$mark")"
}
# ctr_refused ERRNO ERROR TABLE...: the table line is refused by the
# constructor with ERRNO, its ti->error ERROR logged by device-mapper.
ctr_refused() {
	local errno=$1 error=$2
	shift 2
	refused_with "$errno" ": remap: $error (-$errno)" dmsetup create ctr-refused "$@"
	if dmsetup info ctr-refused > /dev/null 2>&1; then die "a refused create left ctr-refused behind"; fi
}
# dm_name NAME: the name dm-remap's log lines give the mapped device.
dm_name() { dmsetup info -c --noheadings -o major,minor --separator : "$1" | tr -d ' '; }
# inflight_writes NAME: writes the block layer counts in flight on dm device NAME.
inflight_writes() { awk '{print $2}' "/sys/block/dm-$(dmsetup info -c --noheadings -o minor "$1" | tr -d ' ')/inflight"; }
# dm_written NAME: sectors written through dm device NAME so far.
dm_written() { awk '{print $7}' "/sys/block/dm-$(dmsetup info -c --noheadings -o minor "$1" | tr -d ' ')/stat"; }
# bad_while_writing PID NAME NULLB DEV BLOCK...: data blocks BLOCK... of
# the set on DEV go bad while PID (fio) writes through NAME: PID is alive
# before, and alive after NAME's write counter moved past where it stood
# when they went bad. Set data_off=$(data_sector DEV 0) before starting fio
# to spare the lookup while it runs.
bad_while_writing() {
	local pid=$1 name=$2 nb=$3 dev=$4 w b off
	shift 4
	off=${data_off:-$(data_sector "$dev" 0)}
	kill -0 "$pid" 2> /dev/null || die "fio had ended before blocks $* went bad"
	w=$(dm_written "$name")
	for b; do nullb_bad "$nb" $((off + b * 8)) $((off + b * 8 + 7)); done
	wait_until 120 "writes through $name after blocks $* went bad" eval '[ "$(dm_written "$name")" -gt "$w" ]'
	kill -0 "$pid" 2> /dev/null || die "fio ended before writing on after blocks $* went bad"
}
# predicted_data_offset SIZE... -- FORMAT_OPTION...: data_offset_sectors of
# a set formatted with these options on members of these sizes (image
# files), for a data member whose failing blocks must exist before it is
# formatted. The layout depends on the format (the metadata mirror doubled
# it once), so it is asked for, never assumed.
predicted_data_offset() {
	local imgs=() i=0 off
	while [ "$1" != -- ]; do
		truncate -s "$1" "/tmp/predict$i.img"
		imgs+=("/tmp/predict$i.img")
		i=$((i + 1))
		shift
	done
	shift
	# die, not set -e: this runs in a command substitution, where bash drops -e.
	"$ctl" format "$@" "${imgs[@]}" > /dev/null || die "format of images to predict the layout ($*)"
	off=$(data_sector "${imgs[0]}" 0)
	rm -f "${imgs[@]}"
	[ "$off" -gt 0 ] || die "no data offset in the images' layout"
	echo "$off"
}
# nullb_volatile NAME SIZE_MB [CACHE_MB]: a 4 KiB null_blk with a volatile
# write cache (of the whole device unless CACHE_MB says): powering it off
# (nullb_power NAME 0) loses every write it was not told to flush or FUA.
nullb_volatile() { NULLB_CACHE_MB=${3:-$2} nullb_create "$1" "$2" 4096; }
# nullb_power NAME 0|1: the null_blk leaves or rejoins the bus (its stored
# data and bad blocks stay; its write cache does not).
nullb_power() {
	echo "$2" > "/sys/kernel/config/nullb/$1/power"
	if [ "$2" = 1 ]; then
		wait_for_dev "/dev/$1"
	else
		[ ! -e "/sys/block/$1" ] || die "$1 still exists after its power went off"
	fi
}

# md_area NULLB DEV bad|good: NULLB's whole metadata area.
md_area() {
	local md off end s
	md=$("$ctl" dump --json "$2" | jq -r '.member | "\(.metadata_offset_sectors) \(.metadata_sectors)"')
	off=${md% *} end=$((${md% *} + ${md#* } - 1))
	# 6.1's null_blk takes at most 512 sectors at a time.
	for ((s = off; s <= end; s += 512)); do "nullb_$3" "$1" "$s" $((s + 511 < end ? s + 511 : end)); done
}
