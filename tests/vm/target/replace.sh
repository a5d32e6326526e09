#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# dmremapctl replace moves a device to a new data disk while it is in use:
#  1. ext4 mounted, remaps and pending blocks, fio verifying throughout:
#     the filesystem stays mounted, fio sees no error, the new set holds
#     the same pending blocks, the old disk is a clean set marked replaced;
#  2. LVM on top stays active, and blocks that fail on the old disk during
#     the copy become pending on the new one; an image spare is kept;
#  3. dm-mirror itself meeting unreadable blocks (read-ahead off): the part
#     is copied again around them; the spares kept and a new one added
#     come back at the next assembly;
#  4. the new disk failing a write: the replace stops, the device runs on
#     the old disk with its data, the new disk is no set;
#  5. refusals: too small, mounted, in use, a member of a set, running;
#  6. a replace killed mid-copy, overtaken by the next: not resumed.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
modprobe ext4
modprobe dm-mirror
modprobe loop
command -v fio > /dev/null || die "fio is not installed"
d0=$(nullb_create d0 96 4096)
d1=$(nullb_create d1 96 4096)
"$ctl" create --name r0 --max-remaps 4096 --internal-spare 4M "$d0" > /dev/null
nblocks=$(($(blockdev --getsz /dev/mapper/r0) / 8))
pending_list() { dmsetup message r0 0 list_remaps 0 1000 | awk '$2 == "pending" {print $1}' | tr '\n' ' '; }
data_dev() { dmsetup table r0 | awk '{print $4}'; }

# 1. ext4 with remaps under a file, two pending blocks, fio verifying.
mkfs.ext4 -q /dev/mapper/r0
mkdir -p /mnt/r0
mount /dev/mapper/r0 /mnt/r0
head -c 16M /dev/urandom > /mnt/r0/f
sync
sum=$(sha256sum < /mnt/r0/f)
first=$(debugfs -R "bmap /f 0" /dev/mapper/r0 2> /dev/null)
for b in "$first" $((first + 1)) $((first + 2000)); do bad_block d0 "$d0" "$b"; done
dd if=/mnt/r0/f of=/mnt/r0/f conv=notrunc,fsync bs=1M status=none || die "rewrite over bad blocks failed"
expect_eq "remapped before the replace" 3 "$(status_field r0 remapped)"
for b in $((nblocks - 20)) $((nblocks - 3)); do
	bad_block d0 "$d0" "$b"
	expect_eq "block $b unreadable" "$b pending" "$(dmsetup message r0 0 remap "$b")"
done
pending_before=$(pending_list)
expect_eq "pending before the replace" "$((nblocks - 20)) $((nblocks - 3)) " "$pending_before"
remaps_before=$(dmsetup message r0 0 list_remaps 0 1000)

fio --name=v --filename=/mnt/r0/fio.dat --size=24M --direct=1 --ioengine=libaio --iodepth=4 \
	--rw=randwrite --bsrange=4k-64k --verify=crc32c --verify_backlog=64 --verify_fatal=1 \
	--time_based --runtime=300 --rate=,2m > /tmp/fio.out 2>&1 &
fio_pid=$!
w=$(dm_written r0)
wait_until 120 "fio to write" eval '[ "$(dm_written r0)" -gt $((w + 4096)) ]'
w=$(dm_written r0)
"$ctl" replace r0 "$d1" --json > /tmp/replace.json || { cat /tmp/fio.out; die "replace under fio failed"; }
kill -0 "$fio_pid" 2> /dev/null || { cat /tmp/fio.out; die "fio ended before the replace did"; }
[ "$(dm_written r0)" -gt "$w" ] || die "fio wrote nothing while the replace ran"
w=$(dm_written r0)
wait_until 120 "fio to write on the new disk" eval '[ "$(dm_written r0)" -gt $((w + 2048)) ]'
kill -INT "$fio_pid"
rc=0
wait "$fio_pid" || rc=$?
# 128: fio stopped by the signal, with no error of its own.
expect_eq "fio's exit status after SIGINT" 128 "$rc"
grep -q "err= 0" /tmp/fio.out || { cat /tmp/fio.out; die "fio saw errors"; }
! grep -qiE "verify failed|bad magic|bad header|mismatch" /tmp/fio.out || { cat /tmp/fio.out; die "fio verify mismatch"; }
expect_eq "data member after the replace" "$(majmin "$d1")" "$(data_dev)"
findmnt -n /mnt/r0 > /dev/null || die "the filesystem is no longer mounted"
expect_eq "ext4 errors" 0 "$(ext4_errors /dev/mapper/r0)"
echo 3 > /proc/sys/vm/drop_caches
expect_eq "file after the replace" "$sum" "$(sha256sum < /mnt/r0/f)"
expect_eq "pending on the new set" "$pending_before" "$(pending_list)"
expect_eq "replace's pending list" "[$((nblocks - 20)),$((nblocks - 3))]" "$(jq -c .pending /tmp/replace.json)"
for b in $((nblocks - 20)) $((nblocks - 3)); do
	rc=0
	dd if=/dev/mapper/r0 of=/dev/null bs=4096 skip="$b" count=1 iflag=direct status=none 2> /dev/null || rc=$?
	[ "$rc" -ne 0 ] || die "pending block $b read as data from the new disk"
done
"$ctl" status r0 | grep -q "member 0 data  $d1 " || { "$ctl" status r0; die "status does not name the new disk"; }
expect_eq "devices left" "r0" "$(dmsetup ls | awk '{print $1}' | tr '\n' ' ' | xargs)"
expect_eq "old disk's flag" "DM_REMAP_REPLACE=replaced" "$("$ctl" probe "$d0" | grep REPLACE)"
"$ctl" check "$d0" > /tmp/check.out || { cat /tmp/check.out; die "the old disk does not check clean"; }
expect_eq "the old disk's remaps" "$remaps_before" "$("$ctl" dump --json "$d0" | jq -r '.remaps[] |
	if .state == "remapped" then "\(.block) remapped \(.spare_member):\(.spare_block)" else "\(.block) pending -" end')"
rc=0
"$ctl" check "$d1" > /tmp/check.out || rc=$?
expect_eq "new disk check (pending-lost only)" "6 damaged: 0 errors, 1 warnings" "$rc $(tail -1 /tmp/check.out | cut -d';' -f1)"
grep -q "pending-lost" /tmp/check.out || die "the new set's pending blocks are not pending-lost"
umount /mnt/r0
"$ctl" stop r0 > /dev/null
"$ctl" assemble --all > /dev/null
expect_eq "assembled from" "$(majmin "$d1")" "$(data_dev)"
refused_with_text() { local out; out=$("$@" 2>&1) && die "not refused: $*"; echo "$out"; }
case $(refused_with_text "$ctl" assemble "$d0") in
*"belongs to the old disk of set 'r0', whose data disk was replaced"*) ;;
*) die "assembling the old disk was not refused as replaced" ;;
esac
# It keeps r0's UUID but is no member: a spare of r0 only with --force.
case $(refused_with_text "$ctl" spare add r0 "$d0") in
*"data member 0 of remap set 'r0' ("*"), left behind by a replace of its data disk; use --force"*) ;;
*) die "adding the old disk as a spare was not refused as left behind" ;;
esac
"$ctl" spare add --force r0 "$d0" > /dev/null || die "the old disk could not be made r0's spare with --force"
"$ctl" spare remove r0 "$d0" > /dev/null
echo "1: replaced under fio: $(jq -r '"\(.data_bytes / 1048576 | floor) MiB in \(.seconds | floor) s, \(.parts) parts"' /tmp/replace.json)"

# 2. LVM on top stays active; blocks the old disk fails during the copy
#    (beyond the LV, never read before) become pending on the new disk.
lvm_cfg='devices { obtain_device_list_from_udev=0 } activation { udev_sync=0 udev_rules=0 }'
lvm() { command lvm "$1" --config "$lvm_cfg" "${@:2}"; }
d2=$(nullb_create d2 96 4096)
# The pending blocks at the end make LVM's scan of the tail complain: noise.
wipefs -q -a /dev/mapper/r0
lvm pvcreate -q -y /dev/mapper/r0 > /dev/null 2>&1
lvm vgcreate -q vgr /dev/mapper/r0 > /dev/null 2>&1
lvm lvcreate -q -y -n data -L 48M vgr > /dev/null 2>&1
mkfs.ext4 -q /dev/mapper/vgr-data
mount /dev/mapper/vgr-data /mnt/r0
head -c 8M /dev/urandom > /mnt/r0/g
sync
sum=$(sha256sum < /mnt/r0/g)
lv_open() { dmsetup info -c --noheadings -o open vgr-data | tr -d ' '; }
for b in $((nblocks - 100)) $((nblocks - 50)); do bad_block d1 "$d1" "$b"; done
"$ctl" spare add --json r0 --image /var/lib/dm-remap/spares/r0.img --size 16M > /tmp/add.json
loop=$(jq -r .device /tmp/add.json)
"$ctl" replace r0 "$d2" --spares keep --json > /tmp/replace.json || die "replace under LVM failed"
expect_eq "spares carried over" "[\"$loop\"] []" "$(jq -c .spares /tmp/replace.json) $(jq -c .spare_errors /tmp/replace.json)"
expect_eq "the kept image's loop device" /var/lib/dm-remap/spares/r0.img "$(losetup -n -O BACK-FILE "$loop" | tr -d ' ')"
expect_eq "image path in the new set" /var/lib/dm-remap/spares/r0.img \
	"$("$ctl" dump --json "$d2" | jq -r '[.members[] | select(.index == 1) | .image_path][0]')"
expect_eq "data member" "$(majmin "$d2")" "$(data_dev)"
expect_eq "LV open after the switch" 1 "$(lv_open)"
expect_eq "LV active" active "$(lvm lvs --noheadings -o lv_active vgr/data 2> /dev/null | tr -d ' ')"
echo 3 > /proc/sys/vm/drop_caches
expect_eq "file on the LV" "$sum" "$(sha256sum < /mnt/r0/g)"
want="$((nblocks - 100)) $((nblocks - 50)) $((nblocks - 20)) $((nblocks - 3)) "
expect_eq "pending on the new set" "$want" "$(pending_list)"
expect_eq "pending on the old set" "$want" "$("$ctl" dump --json "$d1" | jq -r '[.remaps[] | select(.state == "pending") | .block | tostring] | join(" ")') "
expect_eq "read ahead found them: nothing copied twice" 0 "$(jq .recopied /tmp/replace.json)"
umount /mnt/r0
lvm vgchange -q -an vgr > /dev/null 2>&1
echo "2: LVM stayed active; 2 blocks unreadable on the old disk are pending on the new one"

# 3. dm-mirror meets the unreadable blocks itself: the part is copied again.
blocks write /dev/mapper/r0 0 8192 three || die "pattern write failed"
for b in 5000 5001; do bad_block d2 "$d2" "$b"; done
d3=$(nullb_create d3 96 4096)
sp=$(nullb_create sp 16 4096)
DMREMAP_REPLACE_READ_AHEAD=0 "$ctl" replace r0 "$d3" --spares "keep,$sp" --json > /tmp/replace.json ||
	die "replace without read-ahead failed"
expect_eq "data member" "$(majmin "$d3")" "$(data_dev)"
expect_eq "spares of the new set" "[\"$loop\",\"$sp\"] []" \
	"$(jq -c .spares /tmp/replace.json) $(jq -c .spare_errors /tmp/replace.json)"
[ "$(jq .recopied /tmp/replace.json)" -ge 1 ] || die "no part was copied again: $(cat /tmp/replace.json)"
rc=0
out=$(blocks verify /dev/mapper/r0 0 8192 three) || rc=$?
expect_eq "blocks after a copy around unreadable ones" "1 eio 5000 5001" "$rc $out"
# The spares come back with the set; the image is attached again.
"$ctl" stop r0 > /dev/null
wait_until 10 "the image's loop device to go" eval '! losetup -j /var/lib/dm-remap/spares/r0.img | grep -q .'
"$ctl" assemble --all > /dev/null
expect_eq "spares after assembly" "0:ok 1:ok 2:ok" \
	"$("$ctl" spare list --json r0 | jq -r '[.[] | "\(.index):\(.state)"] | join(" ")')"
loop=$(losetup -n -O NAME -j /var/lib/dm-remap/spares/r0.img | tr -d ' ')
expect_eq "members after assembly" "$(majmin "$d3") $(majmin "$loop") $(majmin "$sp")" \
	"$("$ctl" spare list --json r0 | jq -r '[.[].device] | join(" ")')"
echo "3: dm-mirror met 2 unreadable blocks; copied again around them ($(jq .recopied /tmp/replace.json) time(s))"

# 4. The new disk fails a write: the replace stops, the old disk runs on.
d4=$(nullb_create d4 96 4096)
s=$(data_sector "$d3" 20000)
nullb_bad d4 "$s" $((s + 7))
rc=0
out=$("$ctl" replace r0 "$d4" 2>&1) || rc=$?
case "$rc $out" in
"1 dmremapctl replace: r0: replace stopped: /dev/d4: the new disk failed a write during the copy"*"; r0 runs on /dev/d3 as before") ;;
*) die "replace onto a failing disk: $rc $out" ;;
esac
expect_eq "data member after the failed replace" "$(majmin "$d3")" "$(data_dev)"
expect_eq "devices left" "r0" "$(dmsetup ls | awk '{print $1}' | tr '\n' ' ' | xargs)"
[ -z "$("$ctl" probe "$d4")" ] || die "the failed new disk still carries a superblock"
rc=0
out=$(blocks verify /dev/mapper/r0 0 8192 three) || rc=$?
expect_eq "blocks after the failed replace" "1 eio 5000 5001" "$rc $out"
"$ctl" check "$d3" > /dev/null 2>&1 || [ $? -eq 6 ] || die "check of the running set's disk failed"
echo "4: the new disk failed a write: stopped, r0 runs on the old disk"

# 5. Refusals.
refused() {
	local want=$1 out
	shift
	out=$("$@" 2>&1) && die "not refused: $*"
	case $out in *"$want"*) ;; *) die "$*: expected '$want', got '$out'" ;; esac
}
small=$(nullb_create d5 64 4096)
refused "/dev/d5: too small" "$ctl" replace r0 "$small"
nullb_good d4 "$s" $((s + 7))
mkfs.ext4 -q "$d4"
mount "$d4" /mnt/r0
refused "/dev/d4" "$ctl" replace r0 "$d4"
refused "mounted" "$ctl" replace r0 "$d4"
umount /mnt/r0
refused "contains a ext4" "$ctl" replace r0 "$d4"
"$ctl" format --force --name other "$d4" > /dev/null
refused "/dev/d4: is data member 0 of remap set 'other'" "$ctl" replace r0 "$d4"
refused "/dev/d4: is data member 0 of remap set 'other'" "$ctl" replace --force r0 "$d4"
refused "is a member of r0 itself" "$ctl" replace r0 "$d3"
refused "/dev/d2: is data member 0 of remap set 'r0'" "$ctl" replace r0 "$d2"
dmsetup create hold --table "0 $(blockdev --getsz "$d1") linear $d1 0"
refused "in use" "$ctl" replace r0 "$d1"
dmsetup remove hold
refused "no such device" "$ctl" replace nosuch "$d1"
refused "missing NAME NEWDEV" "$ctl" replace r0
# While a replace runs (the new disk's writes held back 20 ms each by
# dm-delay): a second one is refused, status says so, changes wait.
nullb_remove d4
d4=$(nullb_create d4 96 4096)
refused "/dev/nosuch" "$ctl" replace r0 "$d4" --spares /dev/nosuch
refused "$small: given twice" "$ctl" replace r0 "$d4" --spares "$small,$small"
refused "$d4: is the new disk" "$ctl" replace r0 "$d4" --spares "$d4"
refused "$sp: already spare member 2 of set 'r0'" "$ctl" replace r0 "$d4" --spares "$sp"
refused "'keep' is not a device path: give 'keep' (once)" "$ctl" replace r0 "$d4" --spares keep,keep
refused "'' is not a device path" "$ctl" replace r0 "$d4" --spares "keep,"
refused "$sp: given twice, or already kept from the old set" "$ctl" replace r0 "$d4" --spares "keep,$sp"
refused "$d3: already data member 0 of set 'r0'" "$ctl" replace r0 "$d4" --spares "$d3"
out=$("$ctl" probe "$d4") || die "probe of $d4 failed"
[ -z "$out" ] || die "a refused replace wrote the new disk: $out"
slow=$(delay_create slow "$d4" 0 20)
"$ctl" replace r0 "$slow" > /tmp/bg.out 2>&1 &
bg=$!
copying() { dmsetup table r0 | grep -q " mirror "; }
wait_until --flat 60 "the copy to start" copying
# A pending block (held on the old disk) in the first part, written once
# that part is copied: the old set heals it, the replace copies it later.
first_copied() { dmsetup table r0 | grep -q " nosync "; }
wait_until --flat 120 "the first part to be copied" first_copied
# The rest of the copy held back (a second a write) while the checks run,
# however slow the machine.
dmsetup reload slow --table "0 $(blockdev --getsz "$d4") delay $d4 0 0 $d4 0 1000"
dmsetup resume slow
blocks write /dev/mapper/r0 5000 1 five || die "write of a held block during the replace failed"
refused "r0: a replace of its data disk is already running" "$ctl" replace r0 "$d1"
refused "its data disk is being replaced (dmremapctl replace); spares can be added when" "$ctl" spare add r0 "$d1"
expect_eq "state while replacing" "replacing" "$("$ctl" status --json r0 | jq -r '.[0].state')"
expect_eq "listed while replacing" "r0" "$("$ctl" list --json | jq -r '.[].name' | xargs)"
expect_eq "pending while replacing" "5001 " "$("$ctl" pending r0 --json | jq -r '.[].block' | head -1 | tr '\n' ' ')"
copying || die "the replace ended before the checks made while it runs"
dmsetup reload slow --table "0 $(blockdev --getsz "$d4") linear $d4 0"
dmsetup resume slow
wait "$bg" || { cat /tmp/bg.out; die "the replace onto the slowed disk failed"; }
expect_eq "data member" "$(majmin "$slow")" "$(data_dev)"
blocks verify /dev/mapper/r0 5000 1 five || die "the held block written during the copy is not on the new disk"
case " $(pending_list)" in *" 5000 "*) die "block 5000, written during the copy, is pending on the new set" ;; esac
echo "5: refusals name the device and the reason; a replace that runs shows in status"


# 6. A replace killed while it copies leaves its new disk unfinished; the
#    next replace, onto another disk, takes the set back and moves it.
#    Going on with the first (as dm-remap-replace@ does when that disk
#    appears at a boot) is refused: it would move the set again.
nullb_remove d0
x=$(nullb_create d6 96 4096)
y=$(nullb_create d7 96 4096)
xslow=$(delay_create xslow "$x" 0 20)
"$ctl" replace r0 "$xslow" > /tmp/bg.out 2>&1 &
bg=$!
wait_until --flat 60 "the copy onto $x to start" copying
kill -KILL "$bg"
wait "$bg" && die "the killed replace succeeded: $(cat /tmp/bg.out)"
dmsetup reload xslow --table "0 $(blockdev --getsz "$x") linear $x 0"
dmsetup resume xslow
sleep 1 # a format's ctime counts seconds
"$ctl" replace r0 "$y" > /dev/null || die "the replace after a killed one failed"
expect_eq "data member" "$(majmin "$y")" "$(data_dev)"
dmsetup remove xslow
expect_eq "the killed replace's disk" "DM_REMAP_REPLACE=replacing" "$("$ctl" probe "$x" | grep REPLACE)"
uuid=$("$ctl" probe "$y" | sed -n 's/^DM_REMAP_SET_UUID=//p')
refused "$x: left unfinished by an earlier replace of set 'r0' ($uuid), which a later replace moved to another disk" \
	"$ctl" replace --resume "$uuid" --wait 5
expect_eq "data member after the refused resume" "$(majmin "$y")" "$(data_dev)"
echo "6: an unfinished disk that a later replace overtook is not resumed onto"
