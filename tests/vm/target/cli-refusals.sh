#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# What dmremapctl refuses, each with a message naming the device and the
# cause and a non-zero exit, leaving everything as it was: create or spare
# add of a mounted device, a device with a filesystem, a member of another
# set, a member of this set; stop while mounted; assemble of a non-member.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
modprobe ext4
# refused WHAT STATUS "EXPECTED MESSAGE" CMD...: CMD fails with exit status
# STATUS (dmremapctl(8): 1 failed, 3 not found, 4 refused for the state of
# a device) and exactly that message.
refused() {
	local what=$1 status=$2 want=$3 rc=0 out
	shift 3
	out=$("$ctl" "$@" 2>&1) || rc=$?
	expect_eq "$what" "$status $want" "$rc $out"
}
dev=$(nullb_create d0 64 4096)
m0=$(nullb_create m0 16 4096)
f0=$(nullb_create f0 16 4096)
o0=$(nullb_create o0 16 4096)
s1=$(nullb_create s1 8 4096)
mkfs.ext4 -q "$m0"
mkdir -p /mnt/m0 /mnt/rf
mount "$m0" /mnt/m0
mkfs.ext4 -q "$f0"
"$ctl" format --name other --max-remaps 4096 "$o0" > /dev/null

refused "create on a mounted device" 4 "dmremapctl create: $m0: mounted at /mnt/m0" create --name rf "$m0"
refused "create --force on a mounted device" 4 "dmremapctl create: $m0: mounted at /mnt/m0" create --force --name rf "$m0"
refused "create on ext4" 4 "dmremapctl create: $f0: contains a ext4 filesystem; use --force to overwrite" create --name rf "$f0"
uuid=$("$ctl" dump --json "$o0" | jq -r .set_uuid)
refused "create on another set's member" 4 \
	"dmremapctl create: $o0: already data member 0 of remap set 'other' ($uuid); use --force to overwrite" \
	create --name rf "$o0"
refused "create, spare mounted" 4 "dmremapctl create: $m0: mounted at /mnt/m0" create --name rf "$dev" "$m0"
refused "create twice the same device" 1 "dmremapctl create: $dev: given twice" create --name rf "$dev" "$dev"
# Nothing was written by any of them.
rc=0
"$ctl" dump "$dev" > /dev/null 2>&1 || rc=$?
expect_eq "data device untouched (dump: no superblock, damaged)" 6 "$rc"
expect_eq "ext4 untouched" ext4 "$(blkid -o value -s TYPE "$f0")"

"$ctl" create --name rf --max-remaps 4096 "$dev" "$s1" > /dev/null
refused "create with a name in use" 4 "dmremapctl create: rf: a device-mapper device of that name exists already" \
	create --name rf "$f0" --force
expect_eq "ext4 untouched by the name refusal" ext4 "$(blkid -o value -s TYPE "$f0")"
refused "spare add mounted" 4 "dmremapctl spare add: $m0: mounted at /mnt/m0" spare add rf "$m0"
refused "spare add ext4" 4 "dmremapctl spare add: $f0: contains a ext4 filesystem; use --force to overwrite" spare add rf "$f0"
refused "spare add other set's member" 4 \
	"dmremapctl spare add: $o0: data member 0 of remap set 'other' ($uuid); use --force to overwrite" spare add rf "$o0"
refused "spare add own member" 4 "dmremapctl spare add: $s1: already spare member 1 of set 'rf'" spare add rf "$s1"
refused "spare add own data device" 4 "dmremapctl spare add: $dev: already data member 0 of set 'rf'" spare add rf "$dev"
refused "spare remove of a non-spare" 3 "dmremapctl spare remove: $f0: not a spare of rf" spare remove rf "$f0"
refused "spare add to a non-device" 3 "dmremapctl spare add: nosuch: no such device-mapper device" spare add nosuch "$f0"
# --force takes the ext4 device and the other set's member.
"$ctl" spare add --force rf "$f0" > /dev/null
"$ctl" spare add --force rf "$o0" > /dev/null
expect_eq "spares after --force" "0:ok 1:ok 2:ok 3:ok" \
	"$("$ctl" spare list --json rf | jq -r '[.[] | "\(.index):\(.state)"] | join(" ")')"

mkfs.ext4 -q /dev/mapper/rf
mount /dev/mapper/rf /mnt/rf
# Images only where assembly attaches them again.
refused "image outside the spare directory" 1 \
	"dmremapctl spare add: /mnt/rf/s.img: image spares live directly in /var/lib/dm-remap/spares/, the one place assembly attaches them again from (mount another filesystem there for more room)" \
	spare add rf --image /mnt/rf/s.img --size 16M
[ ! -e /mnt/rf/s.img ] || die "refused image was created"
# A spare that depends on the set itself would deadlock its flushes and be
# unreachable at boot: refused as an image (the set's filesystem mounted
# as the spare directory) and as a loop device.
mkdir -p /var/lib/dm-remap/spares
mount --bind /mnt/rf /var/lib/dm-remap/spares
refused "image on the set itself" 1 \
	"dmremapctl spare add: /var/lib/dm-remap/spares/s.img: lies on a filesystem on rf itself; a spare must not depend on the device it serves (and it could not be found at boot before the set is up)" \
	spare add rf --image /var/lib/dm-remap/spares/s.img --size 16M
[ ! -e /mnt/rf/s.img ] || die "refused image was created"
umount /var/lib/dm-remap/spares
modprobe loop
truncate -s 16M /mnt/rf/l.img
lp=$(losetup --find --show /mnt/rf/l.img)
refused "loop on the set itself" 1 \
	"dmremapctl spare add: $lp: is stacked on set 'rf' itself; a spare must not depend on the device it serves" \
	spare add rf "$lp"
losetup -d "$lp"
refused "stop while mounted" 4 "dmremapctl stop: rf: mounted at /mnt/rf; unmount it first" stop rf
[ -b /dev/mapper/rf ] || die "rf gone after a refused stop"
umount /mnt/rf
sleep 600 < /dev/mapper/rf &
holder=$!
wait_until 10 "sleep to hold rf open" grep -qx sleep "/proc/$holder/comm"
refused "stop while open" 4 "dmremapctl stop: rf: open by 1 user(s) ($holder (sleep))" stop rf
kill "$holder"
rc=0
wait "$holder" || rc=$?
expect_eq "the holder killed" 143 "$rc"
"$ctl" stop rf > /dev/null
refused "assemble a non-member" 1 "dmremapctl assemble: $m0: not a dm-remap member (no valid superblock)" assemble "$m0"
o1=$(nullb_create o1 16 4096)
"$ctl" format --name other2 --max-remaps 4096 "$o1" > /dev/null
refused "assemble members of two sets" 1 \
	"dmremapctl assemble: $s1: belongs to set 'rf' ($("$ctl" dump --json "$dev" | jq -r .set_uuid)), not to 'other2' like $o1" \
	assemble "$o1" "$s1"
rc=0
out=$("$ctl" assemble 2>&1) || rc=$?
expect_eq "assemble without arguments" 2 "$rc"
# A set started by hand (no REMAP- UUID) is recognised by its members.
dmsetup create byhand --table "$("$ctl" table "$dev" "$s1" "$f0" "$o0")"
refused "assemble a set active under another name" 4 \
	"dmremapctl assemble: set 'rf' is already active as byhand ($dev is its member)" assemble "$dev"
dmsetup remove byhand
"$ctl" assemble "$dev" > /dev/null
mount /dev/mapper/rf /mnt/rf
umount /mnt/rf
"$ctl" stop rf > /dev/null
umount /mnt/m0
echo "every refusal names the device and the cause, and changes nothing"
