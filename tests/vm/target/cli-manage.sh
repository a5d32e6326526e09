#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# dmremapctl manages an active device through the kernel: create, spares as
# a dedicated block device, as a loop device on a file on ext4 and as an
# image made by `spare add --image`; remap, remaps, pending; spare remove
# with and without --evacuate; stop and assemble (by member, --uuid, --all,
# --degraded) keep every remap, and the image spare comes back by itself.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
modprobe loop
modprobe ext4
dev=$(nullb_create d0 64 4096)
s1=$(nullb_create s1 8 4096)

# create: format + activate, DM_UUID REMAP-<set uuid>.
"$ctl" create --json --name mg --max-remaps 4096 --internal-spare 0 "$dev" "$s1" > /tmp/create.json
uuid=$(jq -r .set_uuid /tmp/create.json)
expect_eq "create device" /dev/mapper/mg "$(jq -r .device /tmp/create.json)"
[ -b /dev/mapper/mg ] || die "/dev/mapper/mg missing after create"
expect_eq "DM_UUID" "REMAP-$uuid" "$(dmsetup info -c --noheadings -o uuid mg)"
expect_eq "table" "$(majmin "$dev") 1 $(majmin "$s1")" "$(dmsetup table mg | cut -d' ' -f4-)"
blocks write /dev/mapper/mg 0 256 one || die "initial write failed"

# Bad blocks: 3 written (remapped), 1 read (pending).
for b in 3 4 5; do bad_block d0 "$dev" $b; done
blocks write /dev/mapper/mg 3 3 two || die "write over bad blocks failed"
bad_block d0 "$dev" 9
rc=0
blocks verify /dev/mapper/mg 9 1 one > /dev/null 2>&1 || rc=$?
expect_eq "unreadable block" 1 "$rc"
out=$("$ctl" pending mg)
expect_eq "pending" $'BLOCK\n9\n1 pending blocks' "$out"
"$ctl" remaps --json mg > /tmp/remaps.json
expect_eq "remaps" "3:remapped 4:remapped 5:remapped 9:pending" \
	"$(jq -r '[.[] | "\(.block):\(.state)"] | join(" ")' /tmp/remaps.json)"
# remap: proactive, a readable block moves, data intact.
out=$("$ctl" remap mg 20)
expect_eq "remap" "mg: block 20 remapped" "$out"
blocks verify /dev/mapper/mg 20 1 one || die "block 20 after remap"
out=$("$ctl" remap --json mg 9)
expect_eq "remap of an unreadable block" pending "$(jq -r .state <<< "$out")"
rc=0
out=$("$ctl" remap mg x 2>&1) || rc=$?
expect_eq "remap bad block number" "2 dmremapctl remap: BLOCK 'x' is not a block number" "$rc $(head -1 <<< "$out")"
# Past the end, the kernel says only EINVAL: the error names the range.
blocks_in=$(($(dmsetup table mg | awk '{print $2}') / 8))
rc=0
out=$("$ctl" remap mg 99999999 2>&1) || rc=$?
expect_eq "remap past the end" "1 dmremapctl remap: mg: block 99999999 is past the end: the data area has $blocks_in blocks of 4096 bytes (0 to $((blocks_in - 1)))" "$rc $(head -1 <<< "$out")"

# Many entries page through the kernel's list (pages of 100): 150 more
# blocks go bad at once and are remapped by one write (6.1's null_blk takes
# at most 512 sectors per bad range).
for b in 30 80 130; do nullb_bad d0 "$(data_sector "$dev" $b)" $(($(data_sector "$dev" $((b + 49))) + 7)); done
blocks write /dev/mapper/mg 30 150 three || die "write over 150 bad blocks failed"
"$ctl" remaps --json mg > /tmp/remaps.json
expect_eq "remaps over pages" 155 "$(jq length /tmp/remaps.json)"
expect_eq "remaps sorted, unique" 1 "$(jq '[.[].block] | if . == unique then 1 else 0 end' /tmp/remaps.json)"
expect_eq "remaps human count" "155 entries" "$("$ctl" remaps mg | tail -1)"

# Spare 2: a loop device over a file on ext4 (the earlier design's first example).
fs=$(nullb_create f0 64 4096)
mkfs.ext4 -q "$fs"
mkdir -p /mnt/spares
mount "$fs" /mnt/spares
truncate -s 17M /mnt/spares/s2.img  # 3 MiB of metadata, 14 MiB of spare blocks
loop2=$(losetup --find --show /mnt/spares/s2.img)
out=$("$ctl" spare add mg "$loop2")
expect_eq "spare add loop" "Added $loop2 to mg as spare member 2: 3584 spare blocks" "$out"
# Spare 3: an image file created by spare add --image, on tmpfs.
"$ctl" spare add --json mg --image /var/lib/dm-remap/spares/s3.img --size 32M > /tmp/add.json
loop3=$(jq -r .device /tmp/add.json)
expect_eq "image spare index" 3 "$(jq .index /tmp/add.json)"
expect_eq "image backing file" /var/lib/dm-remap/spares/s3.img "$(losetup -n -O BACK-FILE "$loop3" | tr -d ' ')"
expect_eq "image fully allocated" 1 "$(( $(stat -c '%b * %B' /var/lib/dm-remap/spares/s3.img) >= 32 << 20 ))"
"$ctl" dump --json "$dev" > /tmp/dump.json
expect_eq "image path recorded" /var/lib/dm-remap/spares/s3.img \
	"$(jq -r '[.members[] | select(.index == 3) | .image_path][0]' /tmp/dump.json)"
"$ctl" spare list --json mg > /tmp/spares.json
expect_eq "spare list" "0:ok 1:ok 2:ok 3:ok" "$(jq -r '[.[] | "\(.index):\(.state)"] | join(" ")' /tmp/spares.json)"
rc=0
out=$("$ctl" spare add mg --image /var/lib/dm-remap/spares/s3.img --size 32M 2>&1) || rc=$?
expect_eq "image exists" "4 dmremapctl spare add: /var/lib/dm-remap/spares/s3.img: cannot create image: File exists" "$rc $out"
# An image the filesystem cannot hold with room to spare is refused before it exists.
rc=0
out=$("$ctl" spare add mg --image /var/lib/dm-remap/spares/s4.img --size 100T 2>&1) || rc=$?
case "$rc $out" in
"1 dmremapctl spare add: /var/lib/dm-remap/spares/s4.img: 109951162777600 bytes do not fit: /var/lib/dm-remap/spares has "*" bytes free, and 67108864 must stay free beside the image") ;;
*) die "image too large: $rc $out" ;;
esac
[ ! -e /var/lib/dm-remap/spares/s4.img ] || die "a refused image was left behind"

# Evacuate spare 1 (the dedicated device): its blocks move, data intact.
live1=$(jq '[.[] | select(.index == 1) | .live][0]' /tmp/spares.json)
[ "$live1" -gt 0 ] || die "no blocks live on spare 1 (live=$live1)"
rc=0
out=$("$ctl" spare remove mg "$s1" 2>&1) || rc=$?
expect_eq "remove with live blocks" "4 dmremapctl spare remove: $s1: $live1 remapped blocks of mg live on it; use --evacuate to move them to other spares first" "$rc $out"
# On a terminal, a progress bar on stderr (script(1) gives it one).
out=$(script -qec "$ctl spare remove mg $s1 --evacuate" /dev/null | tr '\r' '\n' | tr -d '\0')
case "$out" in
*"] $live1/$live1"*"Removed $s1 from mg: $live1 blocks moved"*) ;;
*) die "evacuate with a progress bar: $out" ;;
esac
blocks verify /dev/mapper/mg 3 3 two || die "remapped blocks after evacuation"
blocks verify /dev/mapper/mg 20 1 one || die "block 20 after evacuation"
blocks verify /dev/mapper/mg 30 150 three || die "blocks 30-179 after evacuation"

# stop, then assemble by the data member: the image spare is attached again.
rc=0
out=$("$ctl" stop nosuch 2>&1) || rc=$?
expect_eq "stop unknown" "3 dmremapctl stop: nosuch: no such device-mapper device" "$rc $out"
expect_eq "stop" "Stopped mg" "$("$ctl" stop mg)"
[ ! -e /dev/mapper/mg ] || die "/dev/mapper/mg still there after stop"
[ ! -e "/sys/block/${loop3#/dev/}/loop" ] || die "$loop3 still attached after stop (autoclear)"
"$ctl" assemble --json "$dev" > /tmp/asm.json
expect_eq "assemble name" mg "$(jq -r .name /tmp/asm.json)"
expect_eq "assemble attached the image" 1 "$(jq '.attached | length' /tmp/asm.json)"
expect_eq "DM_UUID after assemble" "REMAP-$uuid" "$(dmsetup info -c --noheadings -o uuid mg)"
blocks verify /dev/mapper/mg 3 3 two || die "remapped blocks after assemble"
blocks verify /dev/mapper/mg 30 150 three || die "blocks 30-179 after assemble"
expect_eq "remaps after assemble" 155 "$("$ctl" remaps --json mg | jq length)"
rc=0
out=$("$ctl" assemble "$dev" 2>&1) || rc=$?
expect_eq "assemble again" "0 mg: already active" "$rc $out"

# --uuid and --all; then without the ext4-hosted spare: refused, --degraded starts.
"$ctl" stop mg > /dev/null
"$ctl" assemble --uuid "$uuid" > /dev/null
"$ctl" stop mg > /dev/null
out=$("$ctl" assemble --all)
expect_eq "assemble --all" "Assembled /dev/mapper/mg from $dev" "$(head -1 <<< "$out" | cut -d' ' -f1-4)"
"$ctl" stop mg > /dev/null
losetup -d "$loop2"
umount /mnt/spares
rc=0
out=$("$ctl" assemble "$dev" 2>&1) || rc=$?
case "$out" in
"dmremapctl assemble: set 'mg': spare member 2 ("*") is missing; assemble with --degraded to start without it") ;;
*) die "assemble without spare 2: $out" ;;
esac
expect_eq "assemble without spare 2 fails (not found)" 3 "$rc"
out=$("$ctl" assemble --degraded "$dev")
expect_eq "degraded" "  started WITHOUT spare member 2 (degraded)" "$(tail -1 <<< "$out")"
expect_eq "state degraded" degraded "$("$ctl" status --json mg | jq -r '.[0].state')"
"$ctl" stop mg > /dev/null
echo "dmremapctl create/spare/remap/remaps/pending/stop/assemble work through the kernel"
