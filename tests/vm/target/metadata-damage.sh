#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Damaged metadata. Every damage is aimed at a structure the loader really
# uses (found by mdedit.py locate, cross-checked with dmremapctl dump --json)
# and shown to have hit it (dump/check now call that copy invalid).
# 1. Any one copy destroyed: the set loads with every remap, from the
#    member's other metadata copy, another slot, the journal or another
#    member; every copy gone: refused.
# 2. Records with valid framing but wrong content (checksums recomputed):
#    refused with the documented message, or ignored as docs/FORMAT.md §5
#    says, and never a read served from another block's place.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
md() { python3 "$DMREMAP_SRC/tests/vm/target/mdedit.py" "$@"; }
data=$(nullb_create d0 128 4096)
spare=$(nullb_create s0 64 4096)
"$ctl" format --name m --max-remaps 4096 --internal-spare 4M "$data" > /dev/null
dmsetup create m --table "$("$ctl" table "$data")"
blocks write /dev/mapper/m 0 64 one
for b in 3 9; do bad_block d0 "$data" $b; done
blocks write /dev/mapper/m 0 64 two || die "remapping writes failed"
# A membership change snapshots the state on every member: the remaps of 3
# and 9 then live in a snapshot, the one of 27 in a journal record.
dmsetup message m 0 spare_add "$spare" > /dev/null
bad_block d0 "$data" 27
blocks write /dev/mapper/m 27 1 two || die "remapping write of block 27 failed"
expect_eq "remapped" 3 "$(status_field m remapped)"
dmsetup remove m
table=$("$ctl" table "$data" "$spare")

md locate "$data" > /tmp/live.json || die "live metadata not found"
jq -cM . /tmp/live.json
slot=$(jq .slot.slot /tmp/live.json)
expect_eq "remaps in the live snapshot" "[3,9]" "$(jq -c .slot.remaps /tmp/live.json)"
expect_eq "remaps in journal records" "[27]" "$(jq -c '[.records[].remaps[]]' /tmp/live.json)"
seq=$(jq '.records[-1].seq' /tmp/live.json)
jblock=$((seq % $("$ctl" dump --json "$data" | jq .journal_blocks)))
md_end=$(jq .metadata_end /tmp/live.json)
spare_blocks=$("$ctl" dump --json "$data" | jq '.members[0].spare_blocks')
# Spare location of block 3, from the snapshot: a second remap must not get it.
taken=$("$ctl" dump --json "$data" | jq '.remaps[] | select(.block == 3) | .spare_block')

# Metadata areas are saved and put back between cases, with 4 KiB direct I/O.
save() { dd if="$1" of="$2" bs=4096 count=$((md_end / 8)) iflag=direct status=none; }
restore() { dd if="$2" of="$1" bs=4096 oflag=direct status=none; }
pristine() { restore "$data" /tmp/data.md; restore "$spare" /tmp/spare.md; }
save "$data" /tmp/data.md
save "$spare" /tmp/spare.md
zero() { dd if=/dev/zero of="$1" bs=4096 seek=2 count=$((md_end / 8 - 2)) oflag=direct status=none; }
# problem DEV CODE WHERE: dmremapctl check DEV reports CODE at WHERE (or
# within it: "WHERE entry N").
problem() {
	"$ctl" check --json "$1" | jq -e --arg c "$2" --arg w "$3" \
		'any(.problems[]; .code == $c and (.where == $w or (.where | startswith($w + " "))))' > /dev/null ||
		die "check does not report $2 at '$3': $("$ctl" check "$1" 2>&1)"
}
loads() {
	dmsetup create m --table "$table" || die "table refused after: $1"
	expect_eq "remapped after $1" 3 "$(status_field m remapped)"
	blocks verify /dev/mapper/m 0 64 two || die "data after $1"
	dmsetup remove m
	pristine
}
# refused CASE ERRNO_TEXT MESSAGE: the table is refused, dmsetup reports
# the errno and the kernel logs the constructor's MESSAGE for this attempt.
refused() {
	local mark="metadata-damage: $1" err
	echo "$mark" > /dev/kmsg
	if err=$(dmsetup create m --table "$table" 2>&1); then
		dmsetup remove m
		die "$1: the table was accepted"
	fi
	case $err in *"$2"*) ;; *) die "$1: dmsetup said '$err', expected '$2'" ;; esac
	dmesg | sed -n "\\|$mark\$|,\$p" | grep -qF "remap: $3" ||
		die "$1: kernel did not log '$3': $(dmesg | sed -n "\\|$mark\$|,\$p" | tail -n 3)"
	[ ! -e /dev/mapper/m ] || die "$1: a refused table left /dev/mapper/m behind"
	pristine
}

# --- 1. one copy destroyed (on the data member) -----------------------------
md corrupt 0 "$data"
expect_eq "copies after damaging copy 0" "[false,true]" "$("$ctl" dump --json "$data" | jq -c .member.superblock_copies_valid)"
loads "superblock copy 0 destroyed"
md corrupt 8 "$data"
expect_eq "copies after damaging copy 1" "[true,false]" "$("$ctl" dump --json "$data" | jq -c .member.superblock_copies_valid)"
loads "superblock copy 1 destroyed"
# Each structure is kept twice on a member: one copy lost costs nothing
# (the other copy), both lost on the data member fall back on the spare.
corrupt_all() { local s; for s in $(jq ".$1.copies[]" /tmp/live.json); do md corrupt "$s" "$data"; done; }
md corrupt "$(jq .slot.sector /tmp/live.json)" "$data"
problem "$data" md-copy "$data"
expect_eq "data member's own state with one snapshot copy lost" 3 "$("$ctl" dump --json "$data" | jq .counts.remapped)"
loads "one copy of the live snapshot destroyed"
corrupt_all slot
problem "$data" slot-checksum "$data slot $slot"
loads "the live snapshot destroyed in both copies"
md corrupt "$(jq '.records[-1].sector' /tmp/live.json)" "$data"
problem "$data" md-copy "$data"
loads "one copy of the journal record of block 27 destroyed"
corrupt_all 'records[-1]'
problem "$data" journal-corrupt "$data journal block $jblock"
expect_eq "data member's own state without the record" 2 "$("$ctl" dump --json "$data" | jq .counts.remapped)"
loads "the journal record of block 27 destroyed in both copies"
zero "$data"
problem "$data" no-metadata "$data"
loads "the data member's whole metadata area destroyed"
zero "$spare"
problem "$spare" no-metadata "$spare"
loads "the spare's whole metadata area destroyed"
zero "$data"
zero "$spare"
refused "every copy destroyed" "Structure needs cleaning" "No valid metadata on any member"

# --- 2. valid framing, wrong content (on every member) ----------------------
inconsistent="Metadata journal record is inconsistent (run dmremapctl check)"
md record-update "$seq" spare_block "$spare_blocks" -- "$data" "$spare"
problem "$data" entry-range "$data journal seq $seq"
refused "a remap past the end of the spare area" "Structure needs cleaning" "$inconsistent"
md record-update "$seq" spare_index 7 -- "$data" "$spare"
refused "a remap to a member that does not exist" "Structure needs cleaning" "$inconsistent"
md record-update "$seq" spare_block "$taken" -- "$data" "$spare"
refused "a remap to the spare block of block 3" "Structure needs cleaning" "$inconsistent"
md slot-count 4097 -- "$data" "$spare"
problem "$data" entry-capacity "$data slot $slot"
refused "a snapshot with more entries than its capacity" "Structure needs cleaning" \
	"No valid metadata on any member"
md sb spare_offset "$("$ctl" dump --json "$data" | jq .data_offset_sectors)" -- "$data"
problem "$data" sb-overlap "$data"
refused "a spare area over the data area" "Invalid argument" "Member's areas overlap or lie outside the member"
# Two entries of the snapshot on one spare block: the message says so.
md slot-entry 1 spare_block "$taken" -- "$data" "$spare"
problem "$data" entry-duplicate "$data slot $slot"
refused "two snapshot entries on one spare block" "Structure needs cleaning" "Metadata snapshot uses a spare block twice"

# A member flag this module does not know may mean "do not use it".
md member-flags 1 4 -- "$data" "$spare"
refused "a member flag this module does not know" "Protocol not supported" \
	"The member table has flags this module does not know"

# A record that claims more updates than a record holds is not a record:
# the chain ends before it (FORMAT.md §5), as the userspace loader says.
md record-count "$seq" 253 -- "$data" "$spare"
expect_eq "reference state without the record" "$((seq - 1)) 2" \
	"$("$ctl" dump --json "$data" | jq -r '"\(.seq) \(.counts.remapped)"')"
dmsetup create m --table "$table"
expect_eq "seq and remaps with the record ignored" "$((seq - 1)) 2" \
	"$(status_field m seq) $(status_field m remapped)"
blocks verify /dev/mapper/m 0 3 two || die "blocks 0-2 after the ignored record"
# Block 27's data is on a spare block no entry names now: it must not be served.
out=$(blocks expect /dev/mapper/m 27:two) && die "block 27 was read from the failing data block or a spare block"
expect_eq "block 27" "27:eio" "$out"
dmsetup remove m
pristine

echo "metadata damage: every single loss survived, total loss and semantic damage refused"
