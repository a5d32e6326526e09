#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Features no other test reaches, several sets in one boot:
#  1. scsi_debug medium errors (BLK_STS_MEDIUM, not null_blk's IOERR) make
#     a block pending, a write heals it in place (healed), and read_retries
#     sets how often a failing block is read; a SCSI disk whose commands
#     time out until it goes offline consumes no spare, marks nothing
#     pending, and reads its data once back;
#  2. no_auto_remap: errors reach the caller, counted, nothing recorded;
#     existing remaps are used and a pending block still heals;
#  3. a member whose metadata writes fail: left out (failed), one event, its state
#     "failed", commits go on; the set loads from the others later;
#  4. spare_remove and a full metadata area (max-remaps) raise events;
#  5. the data member's metadata writes fail for a while and work again: the
#     next membership change (a spare failing) writes it whole again.
# Every step checks the device-mapper event counter and the DM_REMAP_*
# fields of the change uevent each event sends.
# I/O and uevents go through one blockio.py: few processes, as each costs
# a lot in a TCG guest.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"

coproc IO { python3 -u "$DMREMAP_SRC/tests/vm/target/blockio.py"; }
# io REQUEST...: blockio.py's reply in $REPLY.
io() {
	echo "$*" >&"${IO[1]}"
	read -r -t 300 REPLY <&"${IO[0]}" || die "blockio.py did not answer: $*"
}
read -r -t 120 REPLY <&"${IO[0]}" || die "blockio.py did not start"
expect_eq "blockio.py" ready "$REPLY"
# io_expect WHAT REPLY REQUEST...
io_expect() { local what=$1 want=$2; shift 2; io "$@"; expect_eq "$what" "$want" "$REPLY"; }

# expect_status NAME "KEY=VALUE...": those tokens of one status line.
expect_status() {
	local st kv got=""
	st=" $(dmsetup status "$1") "
	for kv in $2; do
		[[ $st =~ \ ${kv%%=*}=([^ ]*)\  ]] || die "$1: no ${kv%%=*} in status: $st"
		got+=" ${kv%%=*}=${BASH_REMATCH[1]}"
	done
	expect_eq "$1: status" " $2" "$got"
}
status_get() { local st; st=" $(dmsetup status "$1") "; [[ $st =~ \ $2=([^ ]*)\  ]]; echo "${BASH_REMATCH[1]}"; }
member_states() { dmsetup message "$1" 0 spare_stats | sed -E 's/.* (index=[0-9]+) .* state=(.*)/\1 \2/' | paste -sd,; }

declare -A ev_n uev_n kname
# ev_mark NAME: the event counter and uevent count to compare with next.
ev_mark() {
	local info
	info=$(dmsetup info -c --noheadings -o events,minor --separator ' ' "$1")
	read -r "ev_n[$1]" minor <<< "$info"
	kname[$1]=dm-$minor
	io uevents "${kname[$1]}"
	uev_n[$1]=$REPLY
}
# ev_expect NAME N [REMAPPED PENDING EXHAUSTED]: the event counter rose by
# exactly N since the last mark; for N=1 its one change uevent carries these
# DM_REMAP_* fields, and no other uevent came since the mark.
ev_expect() {
	local name=$1 n=$2 before=${ev_n[$1]} ubefore=${uev_n[$1]}
	ev_mark "$name"
	expect_eq "$name: device-mapper events" $((before + n)) "${ev_n[$name]}"
	if [ "$n" = 1 ]; then
		io uevent "${kname[$name]}" "$ubefore"
		expect_eq "$name: uevent ACTION REMAPPED PENDING EXHAUSTED" "change $3 $4 $5" "$REPLY"
		io uevents "${kname[$name]}"
		uev_n[$name]=$REPLY
	fi
	expect_eq "$name: uevents" $((ubefore + n)) "${uev_n[$name]}"
}
# ---------------------------------------------------------------------------
# 1. A SCSI disk whose block 100 fails reads with an unrecovered read error.
#    scsi_debug takes the failing sectors when it is loaded, before the disk
#    can be formatted: an image of the same size, formatted the same way,
#    says where block 100 will be.
truncate -s 16M /tmp/sd.img
"$ctl" format --name m --max-remaps 256 --internal-spare 1M /tmp/sd.img > /dev/null
blk100=$(data_sector /tmp/sd.img 100)
rm /tmp/sd.img
sd=$(scsi_debug_create 16 "$blk100" 8)
"$ctl" format --name m --max-remaps 256 --internal-spare 1M "$sd" > /dev/null
expect_eq "sector of data block 100 on the SCSI disk" "$blk100" "$(data_sector "$sd" 100)"
mtable=$("$ctl" table "$sd")
dmsetup create m --table "$mtable"
sdreads() { local r _; read -r r _ < "/sys/block/${sd#/dev/}/stat"; echo "$r"; }
medium_errors() { echo "$1" > /sys/bus/pseudo/drivers/scsi_debug/opts; }
io_expect "writes to the SCSI disk" ok write /dev/mapper/m 96 8 one
ev_mark m

r0=$(sdreads)
io_expect "read of a block with a medium error" 100:EIO read /dev/mapper/m 100 1 one
expect_status m "pending=1 read_errors=1 remapped=0 write_errors=0"
expect_eq "list_remaps" "100 pending -" "$(dmsetup message m 0 list_remaps)"
# The failed read, read_retries (3) more, a superblock read (the disk
# answers: a medium error, not a dead disk), and the last one alone.
expect_eq "SCSI disk reads of a failing block (read_retries 3)" 6 $(($(sdreads) - r0))
ev_expect m 1 0 1 0
io_expect "read of the block after it" ok read /dev/mapper/m 101 1 one
# The first read of a pending block tries the disk once more (the rate
# limit lets one through: none was tried yet); it still fails, counted.
r0=$(sdreads)
io_expect "read of a pending block" 100:EIO read /dev/mapper/m 100 1 one
expect_eq "SCSI disk reads for a pending block" 1 $(($(sdreads) - r0))
expect_status m "read_errors=2"
ev_expect m 0
# A write goes in place (SCSI writes do not fail here): healed, not remapped.
io_expect "write to a pending block" ok write /dev/mapper/m 100 1 two
expect_status m "pending=0 healed=1 remapped=0 write_errors=0"
ev_expect m 1 0 0 0
# The data is on the disk itself, where the medium error was.
medium_errors 0
io_expect "the healed block" ok read /dev/mapper/m 100 1 two
io_expect "blocks 96-99" ok read /dev/mapper/m 96 4 one
io_expect "blocks 101-103" ok read /dev/mapper/m 101 3 one
medium_errors 2

# read_retries 1, shown in the table line; then 7 (the difference is exact,
# whatever the fixed part is).
dmsetup reload m --table "$mtable 2 read_retries 1"
dmsetup resume m
expect_eq "table line with read_retries" "$(majmin "$sd") 0 2 read_retries 1" "$(dmsetup table m | cut -d' ' -f4-)"
ev_mark m
r0=$(sdreads)
io_expect "read with read_retries 1" 100:EIO read /dev/mapper/m 100 1 two
reads1=$(($(sdreads) - r0))
expect_eq "SCSI disk reads of a failing block (read_retries 1)" 4 "$reads1"
ev_expect m 1 0 1 0
io_expect "healing write" ok write /dev/mapper/m 100 1 three
expect_status m "pending=0 healed=1"
ev_expect m 1 0 0 0
dmsetup reload m --table "$mtable 2 read_retries 7"
dmsetup resume m
r0=$(sdreads)
io_expect "read with read_retries 7" 100:EIO read /dev/mapper/m 100 1 three
expect_eq "reads with read_retries 7 minus reads with read_retries 1" 6 $(($(sdreads) - r0 - reads1))

# The SCSI disk stops answering: every command times out, the error
# handler's aborts and resets get nowhere and it takes the disk offline,
# so the I/O fails with a timeout or as rejected, never a medium error.
# Nothing may be remapped or marked pending and no spare used; once the
# disk is back (a transport that reconnects: state running) every block
# reads what it held.
sdsys=/sys/block/${sd#/dev/}/device
echo 2 > "$sdsys/timeout"
echo 1 > "$sdsys/eh_timeout"
io_expect "healing write before the disk stops answering" ok write /dev/mapper/m 100 1 three
expect_status m "pending=0 remapped=0 spare_used=0 device_errors=0"
ev_mark m
echo 1 > /sys/bus/pseudo/drivers/scsi_debug/every_nth
medium_errors 4
io_expect "a write while the SCSI disk times out" EIO write /dev/mapper/m 104 1 four
expect_eq "SCSI disk state after its commands timed out" offline "$(cat "$sdsys/state")"
io_expect "reads while the SCSI disk is offline" "96:EIO 97:EIO" read /dev/mapper/m 96 2 one
expect_status m "pending=0 remapped=0 spare_used=0"
[ "$(status_field m device_errors)" -ge 2 ] || die "device_errors not counted: $(dmsetup status m)"
dmesg | grep -q "hostbyte=DID_TIME_OUT" || die "the kernel logged no SCSI timeout: the disk did not time out"
medium_errors 0
echo 0 > /sys/bus/pseudo/drivers/scsi_debug/every_nth
echo running > "$sdsys/state"
io_expect "blocks 96-99 with the SCSI disk back" ok read /dev/mapper/m 96 4 one
io_expect "block 100 with the SCSI disk back" ok read /dev/mapper/m 100 1 three
io_expect "blocks 101-103 with the SCSI disk back" ok read /dev/mapper/m 101 3 one
expect_status m "pending=0 remapped=0 spare_used=0 metadata=ok"
ev_expect m 0
dmsetup remove m

# ---------------------------------------------------------------------------
# 2. no_auto_remap, on a set that already has a remap (block 5) and a
#    pending block (6).
dev=$(nullb_create d0 64 4096)
s1=$(nullb_create s1 4 4096)
"$ctl" format --name b --max-remaps 256 --internal-spare 1M "$dev" "$s1" > /dev/null
btable=$("$ctl" table "$dev" "$s1")
dmsetup create b --table "$btable"
doff=$(data_sector "$dev" 0)
bad() { nullb_bad d0 $((doff + $1 * 8)) $((doff + $1 * 8 + 7)); }
good() { nullb_good d0 $((doff + $1 * 8)) $((doff + $1 * 8 + 7)); }
io_expect "initial write" ok write /dev/mapper/b 0 16 one
bad 5
io_expect "write over a bad block" ok write /dev/mapper/b 5 1 two
bad 6
io_expect "read of a bad block" 6:EIO read /dev/mapper/b 6 1 one
expect_eq "list_remaps before no_auto_remap" "5 remapped 0:0,6 pending -" "$(dmsetup message b 0 list_remaps | paste -sd,)"

dmsetup reload b --table "$btable 1 no_auto_remap"
dmsetup resume b
expect_eq "table line with no_auto_remap" "$(majmin "$dev") 1 $(majmin "$s1") 1 no_auto_remap" \
	"$(dmsetup table b | cut -d' ' -f4-)"
io_expect "an existing remap with no_auto_remap" ok read /dev/mapper/b 5 1 two
ev_mark b
seq0=$(status_get b seq)
bad 7
bad 8
io_expect "write to a bad block with no_auto_remap" EIO write /dev/mapper/b 7 1 two
io_expect "read of a bad block with no_auto_remap" 8:EIO read /dev/mapper/b 8 1 one
io_expect "read of a pending block with no_auto_remap" 6:EIO read /dev/mapper/b 6 1 one
expect_status b "remapped=1 pending=1 remap_events=0 read_errors=2 write_errors=1 seq=$seq0"
ev_expect b 0
# A pending block whose in-place write fails: the error reaches the caller
# (counted, says the doc) and it stays pending.
io_expect "write to a pending bad block with no_auto_remap" EIO write /dev/mapper/b 6 1 two
expect_status b "pending=1 seq=$seq0"
expect_eq "write_errors after a failed write to a pending block with no_auto_remap" 2 "$(status_get b write_errors)"
ev_expect b 0
# Once the disk writes block 6 again, a write heals it, even now.
good 6
io_expect "healing write with no_auto_remap" ok write /dev/mapper/b 6 1 three
expect_status b "pending=0 healed=1 remapped=1 seq=$((seq0 + 1))"
ev_expect b 1 1 0 0
expect_eq "list_remaps after no_auto_remap" "5 remapped 0:0" "$(dmsetup message b 0 list_remaps)"
good 7
good 8

# ---------------------------------------------------------------------------
# 3. s1's whole metadata area fails writes: it is left out of the set (a
#    new generation on the data member), with the remap's one event.
dmsetup reload b --table "$btable"
dmsetup resume b
ev_mark b
md=$("$ctl" dump --json "$s1" | jq -r '.member | "\(.metadata_offset_sectors) \(.metadata_sectors)"')
mdoff=${md% *} mdend=$((${md% *} + ${md#* } - 1))
# 6.1's null_blk takes at most 512 sectors at a time.
for ((s = mdoff; s <= mdend; s += 512)); do nullb_bad s1 "$s" $((s + 511 < mdend ? s + 511 : mdend)); done
expect_status b "metadata=ok"
bad 9
io_expect "a remap while s1's metadata writes fail" ok write /dev/mapper/b 9 1 two
expect_status b "metadata=ok remapped=2"
expect_eq "member states" "index=0 ok,index=1 failed" "$(member_states b)"
expect_eq "members= of the status" "0:ok,1:failed" "$(status_get b members)"
ev_expect b 1 2 0 0
bad 10
io_expect "a second remap with s1 failed" ok write /dev/mapper/b 10 1 two
ev_expect b 1 3 0 0
# Loaded again once s1 works: a failed member stays out until removed.
dmsetup remove b
for ((s = mdoff; s <= mdend; s += 512)); do nullb_good s1 "$s" $((s + 511 < mdend ? s + 511 : mdend)); done
dmsetup create b --table "$btable"
expect_status b "metadata=ok remapped=3 pending=0"
expect_eq "member states after reloading" "index=0 ok,index=1 failed" "$(member_states b)"
io_expect "blocks 0-4 after reloading" ok read /dev/mapper/b 0 5 one
io_expect "block 5 after reloading" ok read /dev/mapper/b 5 1 two
io_expect "block 6 after reloading" ok read /dev/mapper/b 6 1 three
io_expect "block 8 after reloading" ok read /dev/mapper/b 8 1 one
io_expect "blocks 9-10 after reloading" ok read /dev/mapper/b 9 2 two
io_expect "blocks 11-15 after reloading" ok read /dev/mapper/b 11 5 one
dmsetup suspend b
rc=0
"$ctl" check --json "$dev" "$s1" > /tmp/check.out || rc=$?
expect_eq "check status with a failed member (a warning: damaged)" 6 "$rc"
expect_eq "check errors with a failed member" 0 "$(jq .errors /tmp/check.out)"
expect_eq "check warnings with a failed member" member-failed \
	"$(jq -r '[.problems[] | select(.severity == "warning") | .code] | unique | join(",")' /tmp/check.out)"
dmsetup resume b

# 4a. spare_remove of the failed s1: one event.
ev_mark b
expect_eq "spare_remove" "$(majmin "$s1") removed moved=0 lost=0" "$(dmsetup message b 0 spare_remove "$s1")"
ev_expect b 1 3 0 0
expect_eq "table line after spare_remove" "$(majmin "$dev") 0" "$(dmsetup table b | cut -d' ' -f4-)"
dmsetup remove b

# ---------------------------------------------------------------------------
# 4b. Metadata full: with room for 256 entries a remap needs 3 free (its
#     entry, a retired old location, a failed spare block), so 254 blocks
#     remap. 1024 spare blocks: spare use stays under 80% (no other event).
c0=$(nullb_create c0 16 4096)
"$ctl" format --name c --max-remaps 256 --internal-spare 4M "$c0" > /dev/null
ctable=$("$ctl" table "$c0")
dmsetup create c --table "$ctable"
s=$(data_sector "$c0" 0)
for k in 0 1 2 3; do nullb_bad c0 $((s + k * 512)) $((s + k * 512 + 511)); done
# One write of 254 blocks: two commits, not 254.
io_expect "a 254-block write over bad blocks" ok write /dev/mapper/c 0 254 one
expect_status c "remapped=254 exhausted=0"
# A new table: the uevents of the old one are sent or cancelled.
dmsetup reload c --table "$ctable"
dmsetup resume c
ev_mark c
io_expect "write with the metadata full" EIO write /dev/mapper/c 254 1 one
expect_status c "remapped=254 exhausted=1 write_errors=1"
ev_expect c 1 254 0 1
io_expect "second write with the metadata full" EIO write /dev/mapper/c 255 1 one
ev_expect c 0
io_expect "blocks remapped before the metadata was full" ok read /dev/mapper/c 0 254 one
dmsetup remove c

# ---------------------------------------------------------------------------
# 5. The data member's metadata writes fail for a while (its commits go on
#    on the spare alone), then work again; later the spare fails: recording
#    that needs the data member, whose metadata the membership change first
#    writes whole again. Nothing is lost, and the set loads from disk so.
e0=$(nullb_create e0 16 4096)
e1=$(nullb_create e1 4 4096)
"$ctl" format --name e --max-remaps 256 --internal-spare 1M "$e0" "$e1" > /dev/null
etable=$("$ctl" table "$e0" "$e1")
dmsetup create e --table "$etable"
io_expect "initial write to e" ok write /dev/mapper/e 0 16 one
eoff=$(data_sector "$e0" 0)
md_area e0 "$e0" bad
nullb_bad e0 $((eoff + 3 * 8)) $((eoff + 3 * 8 + 7))
io_expect "a remap while the data member's metadata writes fail" ok write /dev/mapper/e 3 1 two
expect_status e "metadata=degraded remapped=1"
expect_eq "block 3 on the internal spare" "3 remapped 0:0" "$(dmsetup message e 0 list_remaps)"
dmesg | grep -q "the data member's metadata is no longer written" || die "the data member's metadata did not fail"
md_area e0 "$e0" good
md_area e1 "$e1" bad
nullb_bad e0 $((eoff + 4 * 8)) $((eoff + 4 * 8 + 7))
io_expect "a remap while the spare's metadata writes fail" ok write /dev/mapper/e 4 1 two
expect_eq "members of e after its spare failed" "0:ok,1:failed" "$(status_get e members)"
dmesg | grep -q "the data member's metadata is written again" || die "the data member's metadata was not written again"
dmsetup remove e
md_area e1 "$e1" good
dmsetup create e --table "$etable"
expect_eq "members of e loaded again" "0:ok,1:failed" "$(status_get e members)"
expect_status e "remapped=2 pending=0"
io_expect "blocks 0-2 of e" ok read /dev/mapper/e 0 3 one
io_expect "blocks 3-4 of e" ok read /dev/mapper/e 3 2 two
io_expect "blocks 5-15 of e" ok read /dev/mapper/e 5 11 one
dmsetup remove e

echo "features: medium errors, read_retries, no_auto_remap, failed member, healed, events and uevents"
