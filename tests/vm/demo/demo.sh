#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The product demo (./scripts/demo), and a test: sectors of a disk go bad
# under a mounted ext4 while files are rewritten; dm-remap moves each
# failing block to a spare block, a loop-file spare is added when the
# internal spare runs low, the failing disk is replaced by a new one while
# ext4 stays mounted, and every file reads back intact with not one error
# reaching the filesystem. Any mismatch or error fails the run.
set -eu
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"

mnt=/mnt/demo
# What the files must hold, kept apart from the device under test.
expected=/run/expected
image=/var/lib/dm-remap/spares/s1.img
# The build's dmremapctl, under the name the user types.
dmremapctl() { "$ctl" "$@"; }
say() { printf '\n== %s\n' "$*"; }
# run CMD...: shown as the user would type it; a failure fails the demo.
run() { echo "\$ $*"; "$@" || die "'$*' exited with status $?"; }
# status_json EXPRS: Python expressions of d, the device in `status --json demo`.
status_json() { dmremapctl status --json demo | python3 -c "import json,sys; d=json.load(sys.stdin)[0]; print($1)"; }
# kernel_lines PATTERN: kernel log lines matching PATTERN, without timestamps.
kernel_lines() { dmesg | sed -n "/$1/s/^\[[^]]*\] *//p"; }
# No udevd here to load them on demand.
modprobe ext4
modprobe loop

# A memory-backed null_blk: its bad sector list can be changed while it
# is in use, which is what a failing disk does.
disk=$(nullb_create nullb0 256 4096)
say "A 256 MiB disk, $disk (null_blk: in RAM, its sectors fail on command)"
say "dm-remap goes between the disk and the filesystem; 4 MiB of the disk are spare blocks"
run dmremapctl create --name demo --internal-spare 4M "$disk"
[ -b /dev/mapper/demo ] || die "/dev/mapper/demo was not created"
say "Before"
run dmremapctl status demo

# write_blocks NAME BLOCKS VERSION: the content of version VERSION of file
# NAME, whole 4 KiB blocks (an in-place rewrite of part of a block reads
# the block first, and a block that went bad cannot be read until it is
# written). Each block names its file, version and number, so a block read
# from the wrong place cannot pass for the right one. Shell builtins only:
# a process costs tens of milliseconds under TCG.
write_blocks() {
	local b
	for ((b = 0; b < $2; b++)); do
		printf '%-4095s\n' "$1 version $3 block $b of $2"
	done
}
# new_files FIRST LAST: files fFIRST..fLAST of 1 to 32 blocks.
new_files() {
	local i
	for ((i = $1; i <= $2; i++)); do
		files[i]=$(printf 'files/f%03d' "$i")
		blocks[i]=$((RANDOM % 32 + 1))
		write_blocks "${files[i]}" "${blocks[i]}" 1 > "${files[i]}"
		write_blocks "${files[i]}" "${blocks[i]}" 1 > "$expected/${files[i]}"
	done
}
# rewrite INDEX...: new versions written over the old in place, as
# databases and VM images are; then fsync, so a failed write fails here.
rewrite() {
	local i paths=()
	for i in "$@"; do
		write_blocks "${files[i]}" "${blocks[i]}" 2 1<> "${files[i]}"
		write_blocks "${files[i]}" "${blocks[i]}" 2 > "$expected/${files[i]}"
		paths+=("${files[i]}")
	done
	sync "${paths[@]}" || die "fsync after rewriting failed"
}
# pick FIRST STEP BLOCKS: indexes FIRST, FIRST+STEP, ... of files holding
# at least BLOCKS blocks, in $picked; their block count in $picked_blocks.
pick() {
	local i=$1
	picked=() picked_blocks=0
	while [ "$picked_blocks" -lt "$3" ]; do
		[ -n "${files[i]:-}" ] || die "fewer than $3 blocks in files $1, $1+$2, ..."
		picked+=("$i")
		picked_blocks=$((picked_blocks + blocks[i]))
		i=$((i + $2))
	done
}
# Raw disk sector of remap block 0: block B is sectors off+8B..off+8B+7.
off=$(data_sector "$disk" 0)
bad_total=0
# go_bad INDEX...: every block under these files fails on the raw disk
# from now on.
go_bad() {
	local i start len n paths=()
	for i in "$@"; do paths+=("${files[i]}"); done
	# Filesystem block = remap block: start and length of each extent.
	filefrag -e "${paths[@]}" > /run/filefrag || die "filefrag failed"
	awk '/^ *[0-9]+:/ { gsub(/\.\.|:/, " "); print $4, $6 }' /run/filefrag > /run/extents
	while read -r start len; do
		bad_total=$((bad_total + len))
		# 6.1's badblocks takes at most 512 sectors in one range.
		while [ "$len" -gt 0 ]; do
			n=$((len < 64 ? len : 64))
			nullb_bad nullb0 $((off + start * 8)) $((off + (start + n) * 8 - 1))
			start=$((start + n)) len=$((len - n))
		done
	done < /run/extents
}

say "ext4 on /dev/mapper/demo, 300 files of 4-128 KiB written"
# Block size 4096 on both, so filesystem block N is remap block N.
mkfs.ext4 -q -b 4096 -E lazy_itable_init=0,lazy_journal_init=0 /dev/mapper/demo ||
	die "mkfs.ext4 failed"
mkdir -p "$mnt"
mount /dev/mapper/demo "$mnt" || die "mount failed"
cd "$mnt"
mkdir files "$expected" "$expected/files"
RANDOM=42
files=() blocks=()
new_files 1 300
sync
total=0
for i in "${!blocks[@]}"; do total=$((total + blocks[i])); done
echo "$((total * 4 / 1024)) MiB; each 4 KiB block names its file, version and number"

pick 1 4 880
say "Sectors go bad under ${#picked[@]} of the files ($picked_blocks blocks); they are rewritten in place"
go_bad "${picked[@]}"
rewrite "${picked[@]}"
run dmremapctl status demo
warn=$(kernel_lines 'of spare blocks in use')
[ -n "$warn" ] || die "no kernel warning about spare use"
echo "The kernel warned (and raised a device-mapper event, for monitoring):"
echo "  $warn"

say "The internal spare is running low: add a 128 MiB spare, an image file (half of it the two copies of the metadata)"
run dmremapctl spare add demo --image "$image" --size 128M

pick 2 2 2000
say "More sectors go bad under ${#picked[@]} other files ($picked_blocks blocks); they are rewritten and 100 new files written"
go_bad "${picked[@]}"
rewrite "${picked[@]}"
new_files 301 400
sync

vals=$(status_json 'd["remapped"], d["pending"], d["spares"][1]["used"]') || die "dmremapctl status --json failed"
read -r remapped pending on_added <<< "$vals"
expect_eq "remapped blocks" "$bad_total" "$remapped"
expect_eq "pending (unreadable) blocks" 0 "$pending"
[ "$on_added" -gt 0 ] || die "no block was remapped to the added spare"

say "$remapped blocks went bad in minutes: the health model's forecast needs a day of history, this disk needs replacing now"
run dmremapctl health --no-smart demo

say "A new disk takes its place while ext4 stays mounted: the kernel's dm-mirror copies, then one table switch"
modprobe dm-mirror
newdisk=$(nullb_create nullb1 256 4096)
run dmremapctl replace demo "$newdisk"
expect_eq "the data disk now" "$(majmin "$newdisk")" "$(dmsetup table demo | awk '{print $4}')"

say "Page cache dropped, all ${#files[@]} files read back from the new disk and checked with sha256sum"
(cd "$expected" && sha256sum "${files[@]}") > /run/sha256sums || die "sha256sum failed"
# Every read now goes through dm-remap to the disk and the spares.
echo 3 > /proc/sys/vm/drop_caches
rc=0
sha256sum --quiet -c /run/sha256sums || rc=$?
expect_eq "sha256sum -c exit status" 0 "$rc"
echo "all ${#files[@]} files verified"
cd /
# What ext4 itself counted (the superblock's error count, kept in sysfs).
fs=$(ext4_errors /dev/mapper/demo) ||
	die "no ext4 error count for /dev/mapper/demo"
umount "$mnt" || die "umount failed"

say "After: the errors seen were the old disk's; none of them reached ext4, and the new disk has no remaps"
run dmremapctl status demo
expect_eq "remapped blocks on the new disk" 0 "$(status_json 'd["remapped"]')"
# The disk really failed (every remap above is a write the disk refused);
# nothing above it did.
expect_eq "errors ext4 counted" 0 "$fs"
run dmremapctl stop demo
[ ! -e /dev/mapper/demo ] || die "/dev/mapper/demo still exists after stop"
echo
echo "demo: $bad_total bad blocks appeared, $remapped remapped, the disk replaced online, $fs errors seen by ext4," \
	"all ${#files[@]} files verified"
