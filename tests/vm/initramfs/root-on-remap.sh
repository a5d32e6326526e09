#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Root on dm-remap, booted by a real initramfs: root-on-remap.sh KERNEL
#   1. make-root.sh in a guest: an ext4 root on a set (data disk + spare);
#      mkimage.sh on the host: an initramfs-tools image with the build
#      installed, which must hold dmremapctl (and run it), the module, the
#      rule and our scripts;
#   2. the kernel boots that image with root=/dev/mapper/rootremap: our
#      local-top script assembles the set, initramfs-tools' init mounts it
#      and runs its /sbin/init (root-init), which reports;
#   3. the same without the spare disk: after the bounded wait the set
#      starts degraded, with a log line naming the missing spare.
set -euo pipefail
kernel=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${DMREMAP_BUILD:-$here/../../../build}
mkdir -p "$build/vm"
work=$(mktemp -d "$build/vm/root-on-remap-XXXXXX")
trap 'rm -rf "$work"' EXIT

die() { echo "FAIL: $*" >&2; exit 1; }
# vm ARGS...: one boot; the guest's output goes to stdout and is kept in $work/out.
vm() {
	python3 "$here/../vmtest.py" run --kernel "$kernel" --build "$build" "$@" | tee "$work/out"
}
# expect LINE: the last boot reported exactly LINE.
expect() { grep -Fqx -- "$1" "$work/out" || die "the guest did not report '$1'"; }

vm --disk "$work/data.img:256M" --disk "$work/spare.img:128M" "$here/make-root.sh"
uuid=$(sed -n 's/^set-uuid: //p' "$work/out")
[ -n "$uuid" ] || die "make-root.sh printed no set UUID"

# The image, as update-initramfs would make it with the build installed.
abi=$(python3 "$here/../vmtest.py" prepare --kernel "$kernel")
"$here/mkimage.sh" "$build" "$abi" "$work/stage" initramfs-tools
image=$work/stage/initramfs-tools.img
listing=$(lsinitramfs "$image")
for p in usr/local/sbin/dmremapctl "usr/lib/modules/$abi/updates/dm-remap.ko" usr/lib/udev/rules.d/69-dm-remap.rules \
	scripts/local-top/dm-remap scripts/local-block/dm-remap; do
	grep -Fqx "$p" <<<"$listing" || die "$p is not in the initramfs"
done
# copy_exec brought every library dmremapctl needs: it runs in the image.
unmkinitramfs "$image" "$work/unpacked"
chroot "$work/unpacked" /usr/local/sbin/dmremapctl --version >/dev/null ||
	die "dmremapctl does not run inside the initramfs"

# Every member present: assembled whole, at once.
vm --disk "$work/data.img" --disk "$work/spare.img" --initrd "$image" \
	--append "root=/dev/mapper/rootremap"
expect "root: rootremap REMAP-$uuid"
expect "members: vda vdb"
expect "log: Assembled /dev/mapper/rootremap from /dev/vda /dev/vdb"

# dracut's image (without its systemd module: the settled hook).
"$here/mkimage.sh" "$build" "$abi" "$work/stage" dracut
listing=$(lsinitrd "$work/stage/dracut.img")
for p in usr/local/sbin/dmremapctl "usr/lib/modules/$abi/updates/dm-remap.ko" usr/lib/udev/rules.d/69-dm-remap.rules \
	usr/lib/dracut/hooks/initqueue/settled/50-dm-remap-assemble.sh; do
	awk -v p="$p" '$NF == p { found = 1 } END { exit !found }' <<<"$listing" || die "$p is not in dracut's image"
done

# The spare is gone: a 3 s wait, then the set starts without it, and the
# log says which member it lacks.
vm --disk "$work/data.img" --initrd "$image" \
	--append "root=/dev/mapper/rootremap rd.dm_remap.wait=3"
expect "root: rootremap REMAP-$uuid"
expect "members: vda"
grep -Eq "^log: after 3 s: .*set 'rootremap' \($uuid\): .*spare member 1 .*is missing" "$work/out" ||
	die "no log line names the missing spare"
expect "log:   started WITHOUT spare member 1 (degraded)"

# dracut's does the same, also without the spare (one boot for both the
# assembly and the bounded wait).
vm --disk "$work/data.img" --initrd "$work/stage/dracut.img" \
	--append "root=/dev/mapper/rootremap rd.dm_remap.wait=3 rd.emergency=poweroff"
expect "root: rootremap REMAP-$uuid"
expect "members: vda"
grep -Eq "^kmsg: .*set 'rootremap' \($uuid\): .*spare member 1 .*is missing" "$work/out" ||
	die "no kernel log line names the missing spare"
expect "kmsg: Assembled /dev/mapper/rootremap from /dev/vda"
expect "kmsg:   started WITHOUT spare member 1 (degraded)"
echo "root-on-remap: PASS"
