#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The spare pool online: with no spare left a failing write passes through
# as EIO (exhausted=1); spare_add of a null_blk device and of a loop device
# on a file makes writes succeed again; spare_add refuses a member, a
# mounted device, another set's member and a device too small;
# spare_remove refuses a spare with live blocks, evacuate moves them with
# their data; the table line follows, reloads, and the metadata checks.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
dev=$(nullb_create d0 64 4096)
"$ctl" format --name p --max-remaps 4096 --internal-spare 0 "$dev" > /dev/null
dmsetup create p --table "$("$ctl" table "$dev")"
blocks write /dev/mapper/p 0 512 one || die "initial write failed"
# msg NAME ARGS...: a message that must succeed; prints its result.
msg() { dmsetup message p 0 "$@" || die "message '$*' failed"; }
# refused ERRNO LOGGED ARGS...: a message refused with ERRNO, the kernel
# logging LOGGED (prefixed with the device's name) unless it is "".
refused() {
	local errno=$1 logged=$2
	shift 2
	refused_with "$errno" "${logged:+$(dm_name p): $logged}" dmsetup message p 0 "$@"
}

# 1. No spare at all: the write fails, the status says exhausted.
bad_block d0 "$dev" 10
rc=0
out=$(blocks write /dev/mapper/p 10 1 two 2>&1) || rc=$?
expect_eq "write with no spare left" "1 write-errors 10" "$rc $out"
expect_eq "exhausted" 1 "$(status_field p exhausted)"

# 2. spare_add (null_blk): a member at once, writes succeed again.
s1=$(nullb_create s1 4 4096)
out=$(msg spare_add "$s1")
expect_eq "spare_add result" "$(majmin "$s1") index=1 blocks=256" "$out"
expect_eq "exhausted after spare_add" 0 "$(status_field p exhausted)"
blocks write /dev/mapper/p 10 1 two || die "write after spare_add failed"
expect_eq "remapped" 1 "$(status_field p remapped)"
expect_eq "spares" "0:0/0,1:1/256" "$(status_field p spares)"
# The table line names it, and recreates the set.
line=$(dmsetup table p | cut -d' ' -f4-)
expect_eq "table line" "$(majmin "$dev") 1 $(majmin "$s1")" "$line"
dmsetup reload p --table "0 $(blockdev --getsz /dev/mapper/p) remap $line"
dmsetup resume p
blocks verify /dev/mapper/p 10 1 two || die "remapped block after reload"
blocks verify /dev/mapper/p 11 501 one || die "data after reload"

# 3. spare_add of a loop device on a file, its image path recorded.
modprobe loop
truncate -s 5M /tmp/spare.img
loop=$(losetup --find --show /tmp/spare.img)
# A table loaded before the change must not resume after it.
len=$(blockdev --getsz /dev/mapper/p)
dmsetup reload p --table "0 $len remap $(majmin "$dev") 1 $(majmin "$s1")"
out=$(msg spare_add "$loop" /tmp/spare.img)
expect_eq "spare_add loop result" "$(majmin "$loop") index=2 blocks=512" "$out"
refused_with ESTALE "$(dm_name p): The set's members changed after this table was loaded: load it again" \
	dmsetup resume p
dmsetup reload p --table "0 $len remap $(majmin "$dev") 2 $(majmin "$s1") $(majmin "$loop")"
dmsetup resume p
blocks verify /dev/mapper/p 10 1 two || die "remapped block after the stale table"

# 4. Refusals, each leaving the set as it was.
refused EEXIST "spare_add: $s1 is already member 1 of this set" spare_add "$s1"
refused EEXIST "spare_add: $dev is already member 0 of this set" spare_add "$dev"
mnt=$(nullb_create m0 16 4096)
modprobe ext4
mkfs.ext4 -q "$mnt" && mkdir -p /mnt/m0 && mount "$mnt" /mnt/m0
refused EBUSY "spare_add: $mnt is in use (mounted, part of another device or opened exclusively)" spare_add "$mnt"
umount /mnt/m0
other=$(nullb_create o0 16 4096)
"$ctl" format --name other --internal-spare 0 --max-remaps 4096 "$other" > /dev/null
refused EEXIST "spare_add: $other belongs to another dm-remap set (other)" spare_add "$other"
tiny=$(nullb_create t0 2 4096)
refused ENOSPC "spare_add: $tiny is too small: 4096 sectors, needs " spare_add "$tiny"
refused ENOENT "spare_add: no block device '/dev/nonexistent'" spare_add /dev/nonexistent
refused EINVAL "spare_add: no block device '999999:0'" spare_add 999999:0
refused EINVAL "spare_remove: $dev is the data member" spare_remove "$dev"
refused ENODEV "spare_remove: $other is not a spare of this set" spare_remove "$other"
refused EINVAL "" spare_remove "$s1" now
expect_eq "spares after refusals" "0:0/0,1:1/256,2:0/512" "$(status_field p spares)"

# 5. spare_remove: refused with a live block, evacuate moves it with its data.
refused EBUSY "spare_remove: $s1: blocks live on it; \"spare_remove <dev> evacuate\" moves them first (moved 0, lost 0)" \
	spare_remove "$s1"
out=$(msg spare_remove "$s1" evacuate)
expect_eq "evacuate result" "$(majmin "$s1") removed moved=1 lost=0" "$out"
expect_eq "spares after evacuation" "0:0/0,2:1/512" "$(status_field p spares)"
blocks verify /dev/mapper/p 10 1 two || die "evacuated block lost its data"
blocks verify /dev/mapper/p 11 501 one || die "data after evacuation"
# The removed spare is no member any more: its superblocks are gone.
if "$ctl" dump "$s1" > /dev/null 2>&1; then die "removed spare still has a superblock"; fi
line=$(dmsetup table p | cut -d' ' -f4-)
expect_eq "table line after removal" "$(majmin "$dev") 1 $(majmin "$loop")" "$line"

# 6. The metadata on disk is what userspace reads, image path included.
dmsetup suspend p
"$ctl" check "$dev" "$loop" > /tmp/check.out || { cat /tmp/check.out; die "dmremapctl check found damage"; }
image=$("$ctl" dump --json "$dev" | jq -r '[.members[] | select(.index == 2) | .image_path // ""][0]')
expect_eq "recorded image path" /tmp/spare.img "$image"
dmsetup resume p

# 7. Persistence: the old line (with the removed spare) is refused, the current one loads.
dmsetup remove p
len=$("$ctl" dump --json "$dev" | jq .data_sectors)
ctr_refused EINVAL "not a dm-remap member (no valid superblock)" \
	--table "0 $len remap $(majmin "$dev") 2 $(majmin "$s1") $(majmin "$loop")"
dmsetup create p --table "$("$ctl" table "$dev" "$loop")"
expect_eq "remapped after recreate" 1 "$(status_field p remapped)"
blocks verify /dev/mapper/p 10 1 two || die "remapped block after recreate"
blocks verify /dev/mapper/p 0 10 one || die "data after recreate"
dmsetup remove p
losetup -d "$loop"
echo "spare_add, refusals, spare_remove and evacuation work"
