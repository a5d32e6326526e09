#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# mkimage.sh BUILD ABI STAGE TOOL: makes STAGE/TOOL.img (TOOL: initramfs-tools
# or dracut) for Debian's kernel ABI (unpacked by vmtest.py) as that tool
# makes it on a system where the build is installed and dm-remap.ko is in
# the kernel's module tree. Runs on the host, where it takes seconds (in a
# TCG guest, minutes), in a mount namespace of its own: the installed tree
# laid over /usr and a module tree over /lib/modules there only.
set -euo pipefail
build=$1 abi=$2 stage=$3 tool=$4
kcache=${DMREMAP_VM_CACHE:-/var/cache/dm-remap-vm}/$abi

if [ ! -d "$stage/dest" ]; then
	meson install -C "$build" --destdir "$stage/dest" --no-rebuild --quiet --strip >/dev/null
	# A merged-/usr system: what goes to /lib is in /usr/lib.
	if [ -d "$stage/dest/lib" ]; then
		mkdir -p "$stage/dest/usr/lib"
		cp -a "$stage/dest/lib/." "$stage/dest/usr/lib/"
		rm -rf "$stage/dest/lib"
	fi
	# The modules this boot needs, and ours where modules_install puts it.
	mods=$stage/root/lib/modules/$abi
	kmod=$build/vm/$abi/kmod/dm-remap.ko
	# Ours needs some (libcrc32c) that the others may not.
	read -ra deps <<<"$(modinfo -F depends "$kmod" | tr , ' ')"
	for p in $(modprobe -d "$kcache" -S "$abi" --show-depends -a ext4 virtio_blk virtio_pci dm-mod "${deps[@]}" |
		awk '$1 == "insmod" { print $2 }'); do
		install -D -m 644 "$p" "$mods/${p#"$kcache/lib/modules/$abi/"}"
	done
	install -D -m 644 "$kmod" "$mods/updates/dm-remap.ko"
	cp "$kcache/lib/modules/$abi/modules.builtin" "$kcache/lib/modules/$abi/modules.builtin.modinfo" \
		"$kcache/lib/modules/$abi/modules.order" "$mods/"
	depmod -b "$stage/root" "$abi"
	# As the kernel package installs it: mkinitramfs reads which
	# compressors the kernel can unpack from it.
	mkdir -p "$stage/boot"
	cp "$kcache/boot/config-$abi" "$stage/boot/"
	# initramfs-tools: only what this boot needs besides the hooks' modules.
	mkdir -p "$stage/conf/scripts" "$stage/conf/hooks"
	printf 'MODULES=list\nBUSYBOX=y\nCOMPRESS=gzip\n' >"$stage/conf/initramfs.conf"
	printf '%s\n' virtio_pci virtio_blk ext4 >"$stage/conf/modules"
	mkdir -p "$stage/tmp"
fi

case $tool in
initramfs-tools) make="mkinitramfs -d $stage/conf -o $stage/$tool.img $abi" ;;
dracut)
	make="dracut --quiet --force --no-hostonly --no-early-microcode --kver $abi --modules 'base dm-remap'"
	make="$make --add-drivers 'virtio_blk virtio_pci ext4' $stage/$tool.img"
	;;
*) echo "mkimage.sh: unknown tool $tool" >&2; exit 2 ;;
esac
unshare --mount --propagation private sh -euc "
	mount -t tmpfs tmpfs '$stage/tmp'
	mkdir '$stage/tmp/upper' '$stage/tmp/work'
	mount -t overlay -o 'lowerdir=$stage/dest/usr:/usr,upperdir=$stage/tmp/upper,workdir=$stage/tmp/work' overlay /usr
	mkdir -p /usr/lib/modules
	mount --bind '$stage/root/lib/modules' /usr/lib/modules
	mount --bind '$stage/boot' /boot
	$make
"
