#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Image spares named by metadata are untrusted: anyone who can plug in a
# disk can write a member table. Assembly attaches a recorded image only
# if it is a regular file directly in /var/lib/dm-remap/spares (root's,
# writable by root alone), owned and writable by root alone, of the
# recorded size. Every other case is refused with the reason, counts as a
# missing spare, and nothing is opened that is not a regular file.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
md() { python3 "$DMREMAP_SRC/tests/vm/target/mdedit.py" "$@"; }
modprobe loop
dir=/var/lib/dm-remap/spares
img=$dir/it.img
data=$(nullb_create d0 64 4096)
"$ctl" create --name it --max-remaps 1024 --internal-spare 1M "$data" > /dev/null
"$ctl" spare add it --image "$img" --size 16M > /dev/null
uuid=$("$ctl" dump --json "$data" | jq -r '[.members[] | select(.index == 1) | .uuid][0]')
size=$(stat -c %s "$img")
"$ctl" stop it

# assembles_with_image: the untouched image is attached again.
assembles_with_image() {
	local out
	out=$("$ctl" assemble "$data") || die "assemble with the image in place: $out"
	case $out in *"attached image spare as /dev/loop"*) ;; *) die "image not attached: $out" ;; esac
	"$ctl" stop it
}
# refused WHY: assemble refuses, naming the image and WHY; --degraded
# starts without it and says why; no loop device was set up for it.
refused() {
	local rc=0 out
	out=$(timeout 60 "$ctl" assemble "$data" 2>&1) || rc=$?
	expect_eq "assemble, image $1" "3 dmremapctl assemble: set 'it': spare member 1 ($uuid, image $img) is missing; image $img refused: $1; assemble with --degraded to start without it" "$rc $out"
	out=$(timeout 60 "$ctl" assemble --degraded --json "$data") || die "assemble --degraded, image $1"
	expect_eq "refused, with --degraded" "[\"spare member 1: image $img refused: $1\"]" "$(jq -c .refused <<< "$out")"
	expect_eq "missing, with --degraded" "[1]" "$(jq -c .missing <<< "$out")"
	[ -z "$(losetup -j "$img" 2> /dev/null)" ] || die "a loop device was set up for a refused image ($1)"
	"$ctl" stop it
}
assembles_with_image

mv "$img" "$dir/real.img"
ln -s real.img "$img"
refused "a symbolic link"
rm "$img"
# Dangling: there is still something at the recorded path, so the reason is given.
ln -s nowhere.img "$img"
refused "a symbolic link"
rm "$img"
mkfifo -m 600 "$img"
refused "not a regular file"
rm "$img"
mv "$dir/real.img" "$img"
chmod 0666 "$img"
refused "not owned by root, or writable by others than root"
chmod 0600 "$img"
chown 65534 "$img"
refused "not owned by root, or writable by others than root"
chown 0 "$img"
truncate -s $((size + 4096)) "$img"
refused "$((size + 4096)) bytes, the set recorded $size"
truncate -s "$size" "$img"
chmod 0777 "$dir"
refused "$dir is not a directory owned by root that only root may write"
chmod 0700 "$dir"
assembles_with_image

# Metadata that names a file outside the spare directory: never opened.
mkdir -p "$dir/sub"
touch "$dir/sub/it.img"
for path in /etc/shadow "$dir/../../../../etc/shadow" "$dir/sub/it.img"; do
	md member-image 1 "$path" -- "$data" "$img"
	img=$path refused "image spares are attached only from $dir/ (attach it with losetup to use it)"
done
md member-image 1 "$dir/it.img" -- "$data" "$img"
img=$dir/it.img
assembles_with_image
echo "image-trust: recorded images outside the spare directory, symlinks, FIFOs, foreign or resized files are refused with the reason"
