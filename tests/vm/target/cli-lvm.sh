#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# LVM on top of a remap device stacks like on any block device: a PV on
# /dev/mapper/NAME, a VG and an LV with ext4; blocks under the LV go bad
# and are remapped without the filesystem noticing; stop is refused while
# the VG is active; after stop and assemble the VG comes back with its data.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
command -v pvcreate > /dev/null || die "lvm2 is not installed on the host (scripts/install-deps)"
modprobe ext4
# No udevd in the guest: LVM must not wait for it.
lvm_cfg='devices { obtain_device_list_from_udev=0 } activation { udev_sync=0 udev_rules=0 }'
lvm() { command lvm "$1" --config "$lvm_cfg" "${@:2}"; }
dev=$(nullb_create d0 128 4096)
"$ctl" create --name lv0 --max-remaps 4096 --internal-spare 4M "$dev" > /dev/null
lvm pvcreate -q /dev/mapper/lv0 > /dev/null
lvm vgcreate -q vgr /dev/mapper/lv0 > /dev/null
lvm lvcreate -q -y -n data -L 48M vgr > /dev/null
[ -b /dev/vgr/data ] || [ -b /dev/mapper/vgr-data ] || die "no LV device node"
mkfs.ext4 -q /dev/mapper/vgr-data
mkdir -p /mnt/lv
mount /dev/mapper/vgr-data /mnt/lv
head -c 8M /dev/urandom > /mnt/lv/f
sync
sum=$(sha256sum < /mnt/lv/f)

# Sectors under the file's blocks go bad; rewriting the file remaps them.
# The data block of the remap device holding the file's first block:
# LV extents start after the PV header (pe_start), the file at its fs block.
pe_start=$(lvm pvs --noheadings --units s -o pe_start /dev/mapper/lv0 | tr -d ' S')
first=$(debugfs -R "bmap /f 0" /dev/mapper/vgr-data 2> /dev/null)
[ -n "$first" ] || die "debugfs found no block for /f"
blk=$(( (pe_start / 8) + first ))
for b in $blk $((blk + 1)) $((blk + 100)); do bad_block d0 "$dev" $b; done
dd if=/mnt/lv/f of=/mnt/lv/f conv=notrunc,fsync bs=1M status=none || die "rewrite over bad blocks failed"
echo 3 > /proc/sys/vm/drop_caches
expect_eq "file after remaps" "$sum" "$(sha256sum < /mnt/lv/f)"
expect_eq "remapped" 3 "$(status_field lv0 remapped)"
expect_eq "errors ext4 counted" 0 "$(ext4_errors /dev/mapper/vgr-data)"

umount /mnt/lv
rc=0
out=$("$ctl" stop lv0 2>&1) || rc=$?
case "$rc $out" in
"4 dmremapctl stop: /dev/mapper/lv0: in use by /dev/dm-"*) ;;
*) die "stop with an active VG on top: $rc $out" ;;
esac
lvm vgchange -q -an vgr > /dev/null
"$ctl" stop lv0 > /dev/null
"$ctl" assemble "$dev" > /dev/null
lvm vgchange -q -ay vgr > /dev/null
mount /dev/mapper/vgr-data /mnt/lv
expect_eq "file after stop/assemble" "$sum" "$(sha256sum < /mnt/lv/f)"
umount /mnt/lv
lvm vgchange -q -an vgr > /dev/null
"$ctl" stop lv0 > /dev/null
echo "LVM stacks on a remap device; remaps under an LV stay invisible to ext4"
