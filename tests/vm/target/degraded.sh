#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Starting without a spare: refused unless the table says "degraded"; then
# blocks on the missing spare read as EIO (counted, reported as
# unavailable), every other block verifies, and a write to such a block
# lands elsewhere. When the spare is back it is brought up to date and the
# blocks still on it read their data again. A spare whose disk leaves the
# system while the device runs shows as gone, the device degraded and its
# health warning (member-gone), at once.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
dev=$(nullb_create d0 64 4096)
s1=$(nullb_create s1 4 4096)
s2=$(nullb_create s2 4 4096)
"$ctl" format --name g --max-remaps 4096 --internal-spare 0 "$dev" "$s1" "$s2" > /dev/null
full=$("$ctl" table "$dev" "$s1" "$s2")
dmsetup create g --table "$full"
blocks write /dev/mapper/g 0 256 one || die "initial write failed"
# Blocks 20-23 fail on the data device: rewritten, they land on s1 (first fit).
for b in 20 21 22 23; do bad_block d0 "$dev" $b; done
blocks write /dev/mapper/g 20 4 two || die "writes over bad blocks failed"
expect_eq "spares" "0:0/0,1:4/256,2:0/256" "$(status_field g spares)"
dmsetup remove g

# 1. Without s1 and without "degraded": refused.
len=$(echo "$full" | cut -d' ' -f2)
without="0 $len remap $dev 1 $s2"
ctr_refused EINVAL 'A spare member of the set is missing from the table line ("degraded" starts without it)' \
	--table "$without"

# 2. Degraded: the four blocks on s1 are EIO, the rest verifies.
dmsetup create g --table "$without 1 degraded"
expect_eq "degraded" 1 "$(status_field g degraded)"
expect_eq "unavailable" 4 "$(status_field g unavailable)"
expect_eq "spares" "0:0/0,1:missing,2:0/256" "$(status_field g spares)"
expect_eq "table line keeps degraded" "$(majmin "$dev") 1 $(majmin "$s2") 1 degraded" "$(dmsetup table g | cut -d' ' -f4-)"
rc=0
out=$(blocks verify /dev/mapper/g 20 4 two) || rc=$?
expect_eq "reads of blocks on the missing spare" "eio 20 21 22 23" "$out"
blocks verify /dev/mapper/g 0 20 one || die "blocks before the missing ones"
blocks verify /dev/mapper/g 24 232 one || die "blocks after the missing ones"
[ "$(status_field g read_errors)" -ge 4 ] || die "reads of missing blocks not counted"
expect_eq "pending (missing is not pending)" 0 "$(status_field g pending)"
# A write to blocks 20 and 21: the data device still fails, so they go to s2.
blocks write /dev/mapper/g 20 2 three || die "writes to blocks on the missing spare failed"
expect_eq "unavailable after writes" 2 "$(status_field g unavailable)"
expect_eq "spares after writes" "0:0/0,1:missing,2:2/256" "$(status_field g spares)"
blocks verify /dev/mapper/g 20 2 three || die "rewritten blocks"
dmsetup remove g

# 3. s1 is back: loads, is rewritten (it missed commits), everything reads.
dmsetup create g --table "$full"
expect_eq "degraded with s1 back" 0 "$(status_field g degraded)"
expect_eq "spares with s1 back" "0:0/0,1:2/256,2:2/256" "$(status_field g spares)"
blocks verify /dev/mapper/g 20 2 three || die "blocks moved while s1 was missing"
blocks verify /dev/mapper/g 22 2 two || die "blocks on s1 after its return"
blocks verify /dev/mapper/g 0 20 one || die "data after s1's return"
dmsetup suspend g
"$ctl" check "$dev" "$s1" "$s2" > /tmp/check.out || { cat /tmp/check.out; die "metadata check after s1's return"; }
dmsetup resume g
dmsetup remove g

# 4. A spare's disk drops off the bus while the device runs: the device
# reports degraded at once, the member gone, before any I/O touches it.
d2=$(nullb_create d2 16 4096)
sd=$(scsi_debug_create 8 16376 1) # one bad sector at the end: unused here
"$ctl" format --name h --max-remaps 1024 --internal-spare 0 "$d2" "$sd" > /dev/null
dmsetup create h --table "$("$ctl" table "$d2" "$sd")"
expect_eq "state before" active "$("$ctl" status --json h | jq -r '.[0].state')"
sdname=$(basename "$sd")
echo 1 > "/sys/block/$sdname/device/delete"
wait_until 30 "$sd to leave the system" test ! -e "/sys/block/$sdname"
expect_eq "state and spare after the disk left" "degraded gone" \
	"$("$ctl" status --json h | jq -r '.[0] | "\(.state) \(.spares[] | select(.index == 1) | .state)"')"
expect_eq "the target has seen nothing yet" "0 0" "$(status_field h write_errors) $(status_field h read_errors)"
"$ctl" status h | grep -q "^  GONE: *spare member 1's disk left the system and I/O to it fails; 'dmremapctl stop h'" ||
	die "status does not say spare 1 is gone: $("$ctl" status h)"
out=$("$ctl" health --json h)
expect_eq "spare list with the spare gone" gone \
	"$("$ctl" spare list --json h | jq -r '.[] | select(.index == 1) | .state')"
expect_eq "health with the spare gone" "warning member-gone" \
	"$(jq -r '.[0] | "\(.state) \([.reasons[].code] | join(","))"' <<< "$out")"
dmsetup remove h
echo "degraded start, unavailable blocks, the spare's return and a spare's disk leaving work"
