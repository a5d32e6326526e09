# SPDX-License-Identifier: GPL-2.0-or-later
# Helpers for guest test scripts: . "$VMTEST_LIB"
# Fault injection with what Debian's kernels ship: null_blk (memory-backed,
# bad ranges added and removed live), scsi_debug (medium errors), dm-flakey,
# dm-delay, dm-log-writes (+ tests/vm/log-writes-replay.py).
set -eu

SKIP=77
die() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit $SKIP; }
# expect_eq WHAT EXPECTED ACTUAL
expect_eq() { [ "$2" = "$3" ] || die "$1: expected '$2', got '$3'"; }
# wait_until [--flat] SECONDS WHAT CMD...: polls CMD until it succeeds;
# dies naming WHAT after SECONDS (of guest time: a poll may itself take
# long under TCG). The pause doubles from 0.05 s to 0.4 s: under TCG a poll
# and its sleep fork programs worth 0.2 s of CPU, so a flat 0.05 s loop
# took most of the guest's one CPU from what it waited for, and from the
# guests beside it. --flat keeps it at 0.05 s, for a state that lasts
# only moments and must be caught.
wait_until() {
	local flat=""
	[ "$1" != --flat ] || { flat=1; shift; }
	local end=$((SECONDS + $1)) what=$2 pause=0.05
	shift 2
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || die "timed out waiting for $what"
		sleep "$pause"
		[ -z "$flat" ] || continue
		case $pause in
		0.05) pause=0.1 ;;
		0.1) pause=0.2 ;;
		0.2) pause=0.4 ;;
		esac
	done
}

vm_configfs() {
	modprobe configfs
	mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config
}

# A generous deadline: three TCG guests share two cores in CI.
wait_for_dev() {
	local end=$((SECONDS + 60))
	until [ -b "$1" ]; do
		[ "$SECONDS" -lt "$end" ] || die "$1 did not appear within 60 s"
		sleep 0.05
	done
}

# nullb_create NAME SIZE_MB [BLOCK_SIZE] -> prints /dev/NAME
nullb_create() {
	modprobe null_blk nr_devices=0
	vm_configfs
	local d=/sys/kernel/config/nullb/$1
	mkdir "$d"
	echo "$2" > "$d/size"
	echo "${3:-512}" > "$d/blocksize"
	echo 1 > "$d/memory_backed"
	[ -z "${NULLB_DISCARD:-}" ] || echo 1 > "$d/discard"
	[ -z "${NULLB_CACHE_MB:-}" ] || echo "$NULLB_CACHE_MB" > "$d/cache_size"
	echo 1 > "$d/power"
	wait_for_dev "/dev/$1"
	echo "/dev/$1"
}
# nullb_bad NAME FIRST LAST: sectors FIRST..LAST (inclusive) fail reads and writes
nullb_bad() { echo "+$2-$3" > "/sys/kernel/config/nullb/$1/badblocks"; }
nullb_good() { echo "-$2-$3" > "/sys/kernel/config/nullb/$1/badblocks"; }
nullb_remove() {
	echo 0 > "/sys/kernel/config/nullb/$1/power"
	rmdir "/sys/kernel/config/nullb/$1"
}

# scsi_debug_create SIZE_MB ERR_SECTOR ERR_COUNT -> prints /dev/sdX whose
# reads of ERR_SECTOR..+ERR_COUNT fail with a medium error.
scsi_debug_create() {
	modprobe sd_mod # no udev in fast mode to load it on demand
	modprobe scsi_debug dev_size_mb="$1" opts=2 medium_error_start="$2" medium_error_count="$3"
	local b=""
	local end=$((SECONDS + 60))
	while [ "$SECONDS" -lt "$end" ]; do
		b=$(ls /sys/bus/pseudo/drivers/scsi_debug/adapter*/host*/target*/*/block 2>/dev/null | head -n1)
		[ -n "$b" ] && break
		sleep 0.05
	done
	[ -n "$b" ] || die "scsi_debug created no disk"
	wait_for_dev "/dev/$b"
	echo "/dev/$b"
}

# error_range_create NAME DEV FIRST LAST: DEV with sectors FIRST..LAST
# (inclusive) failing every read and write, from dm-linear and dm-error
# segments: a bad range on a disk that persists across boots.
error_range_create() {
	local n=$1 dev=$2 first=$3 last=$4 size
	size=$(blockdev --getsz "$dev")
	dmsetup create "$n" <<-TABLE
	0 $first linear $dev 0
	$first $((last - first + 1)) error
	$((last + 1)) $((size - last - 1)) linear $dev $((last + 1))
	TABLE
	echo "/dev/mapper/$n"
}

# flakey_create NAME DEV UP_SECONDS DOWN_SECONDS [FEATURE...]
flakey_create() {
	local n=$1 dev=$2 up=$3 down=$4
	shift 4
	modprobe dm-flakey
	dmsetup create "$n" --table "0 $(blockdev --getsz "$dev") flakey $dev 0 $up $down${1:+ $# $*}"
	echo "/dev/mapper/$n"
}
# delay_create NAME DEV READ_MS [WRITE_MS]
delay_create() {
	modprobe dm-delay
	dmsetup create "$1" --table "0 $(blockdev --getsz "$2") delay $2 0 $3${4:+ $2 0 $4}"
	echo "/dev/mapper/$1"
}
# logwrites_create NAME DEV LOGDEV; logwrites_mark NAME MARK
logwrites_create() {
	modprobe dm-log-writes
	dmsetup create "$1" --table "0 $(blockdev --getsz "$2") log-writes $2 $3"
	echo "/dev/mapper/$1"
}
logwrites_mark() { dmsetup message "$1" 0 mark "$2"; }
# logwrites_replay LOGDEV DEV [MARK]
logwrites_replay() {
	python3 "$DMREMAP_SRC/tests/vm/log-writes-replay.py" --log "$1" --replay "$2" ${3:+--end-mark "$3"}
}

# The project's module, built for this kernel by the harness.
# insmod loads no dependencies; modprobe them from the module's own list.
dmremap_load() {
	local ko="$DMREMAP_KMOD_DIR/dm-remap.ko" dep
	# Full mode installs the same file for modprobe: a set assembled at
	# boot may have loaded it.
	[ ! -e /sys/module/dm_remap ] || return 0
	for dep in $(modinfo -F depends "$ko" | tr , ' '); do modprobe "$dep"; done
	insmod "$ko"
}
dmremap_unload() { rmmod dm_remap; }

# Full mode: end the boot now, without shutdown (as a power cut would).
vm_power_cut() {
	echo "VMTEST-EXIT:0" > /dev/ttyS1
	echo o > /proc/sysrq-trigger
	# Run no program from here: the root (9p) goes while the kernel powers
	# off, and a failed exec would end the script with a status of its own.
	while :; do :; done
}

# ext4_errors DEV: the error count ext4 keeps for the filesystem mounted
# from DEV (sysfs, by kernel name: /dev/mapper nodes are not links here).
ext4_errors() {
	local kname
	kname=$(basename "$(readlink -f "/sys/dev/block/$(stat -L -c '%Hr:%Lr' "$1")")")
	cat "/sys/fs/ext4/$kname/errors_count"
}
