#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Guest side of root-on-remap.sh (fast mode): an ext4 root filesystem on a
# dm-remap set of vda (data) and vdb (spare), whose /sbin/init is
# root-init, a script for the static busybox that reports how it was booted.
. "$VMTEST_LIB"
here=$(dirname "$(readlink -f "$0")")
dmremapctl=$DMREMAP_BUILD/tools/dmremapctl

# No udev in fast mode to load the disks' driver, nor mount to load ext4.
modprobe virtio_blk
modprobe ext4
wait_for_dev /dev/vda
wait_for_dev /dev/vdb
dmremap_load
"$dmremapctl" create --name rootremap /dev/vda /dev/vdb
mkfs.ext4 -q /dev/mapper/rootremap
mkdir -p /run/root
mount /dev/mapper/rootremap /run/root
mkdir -p /run/root/bin /run/root/sbin /run/root/dev /run/root/proc /run/root/sys /run/root/run
cp /bin/busybox /run/root/bin/busybox
ln -s busybox /run/root/bin/sh
install -m 755 "$here/root-init" /run/root/sbin/init
umount /run/root
"$dmremapctl" stop rootremap
echo "set-uuid: $("$dmremapctl" dump --json /dev/vda | jq -r .set_uuid)"
