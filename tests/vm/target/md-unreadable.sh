#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Unreadable metadata sectors on a set of one disk. The data sectors whose
# writes failed read their old content again afterwards (as a failed sector
# often does), so a remap dropped from the history would serve stale data as
# success: every remapped block must read its latest data.
# 1. One copy of a live journal record or of the live snapshot unreadable
#    (null_blk bad blocks over it): after a fresh table load, a reload under
#    a live table and a suspend/resume, all 9 remaps hold; check warns.
# 2. A record unreadable in both copies, or the only valid snapshot: the
#    table is refused with the block named, and nothing stale is served;
#    a record rotten in both copies leaves a hole, refused too.
# 3. A running table never reads its metadata again on resume: a journal
#    block going bad under it changes nothing.
# 4. A commit that cannot be written fails the write and gives back the
#    spare block it took.
# 5. A superblock copy that cannot be written in a membership change.
# 6. A table loaded under a live one takes over the live one's state when it
#    resumes: a remap committed after the load holds although by then no
#    metadata block of any member can be read, and the resume succeeds.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
md() { python3 "$DMREMAP_SRC/tests/vm/target/mdedit.py" "$@"; }
data=$(nullb_create d0 128 4096)
spare=$(nullb_create s0 16 4096)
"$ctl" format --name m --max-remaps 4096 --internal-spare 4M "$data" > /dev/null
# Where data block 0 lives, read once from the metadata format wrote (it
# never moves): bad_block/good_block would ask dmremapctl and jq again for
# each of the 18 blocks made bad or good.
data_off=$(data_sector "$data" 0)
bad_block() { nullb_bad "$1" $((data_off + $3 * 8)) $((data_off + $3 * 8 + 7)); }
good_block() { nullb_good "$1" $((data_off + $3 * 8)) $((data_off + $3 * 8 + 7)); }
expect_eq "metadata copies" 2 "$("$ctl" dump --json "$data" | jq .metadata_copies)"
table=$("$ctl" table "$data")
dmsetup create m --table "$table"
blocks write /dev/mapper/m 0 64 one
first="3 9 14 20" second="27 33 41 50 58"
for b in $first; do bad_block d0 "$data" "$b"; done
blocks write /dev/mapper/m 0 64 two || die "remapping writes failed"
# A spare added and removed again: two membership changes, each a snapshot,
# so the first four remaps live in the snapshot of a one-disk set and the
# next five in journal records after it.
dmsetup message m 0 spare_add "$spare" > /dev/null
dmsetup message m 0 spare_remove "$(majmin "$spare")" > /dev/null
for b in $second; do
	# Its sector keeps "one" under the remap, as the first four do.
	blocks write /dev/mapper/m "$b" 1 one
	bad_block d0 "$data" "$b"
	blocks write /dev/mapper/m "$b" 1 two || die "remapping write of block $b failed"
done
expect_eq "remapped" 9 "$(status_field m remapped)"
dmsetup remove m
# The failed sectors read again, with what they held before the remaps.
for b in $first $second; do good_block d0 "$data" "$b"; done
dmsetup create raw --readonly --table "0 $("$ctl" dump --json "$data" | jq .data_sectors) linear $data $(data_sector "$data" 0)"
old=$(blocks expect /dev/mapper/raw $(for b in $first $second; do echo "$b:one"; done)) ||
	die "the failed sectors do not read their old contents: $old"
dmsetup remove raw

md locate "$data" > /tmp/live.json || die "live metadata not found"
jq -cM . /tmp/live.json
expect_eq "remaps in the live snapshot" "[3,9,14,20]" "$(jq -c .slot.remaps /tmp/live.json)"
expect_eq "remaps in journal records" "[27,33,41,50,58]" "$(jq -c '[.records[].remaps[]]' /tmp/live.json)"
seq=$(jq '.records[-1].seq' /tmp/live.json)
# A load that finds a damaged copy rewrites the state (a fresh snapshot):
# every case starts again from this metadata area, so it hits live blocks.
md_sectors=$(jq .metadata_end /tmp/live.json)
dd if="$data" of=/tmp/md.img bs=4096 count=$((md_sectors / 8)) iflag=direct status=none
pristine() { dd if=/tmp/md.img of="$data" bs=4096 oflag=direct status=none; }

# unreadable SECTOR...: each 4 KiB metadata block at SECTOR fails on d0.
unreadable() { local s; for s in "$@"; do nullb_bad d0 "$s" $((s + 7)); done; }
readable() { local s; for s in "$@"; do nullb_good d0 "$s" $((s + 7)); done; }
intact() {
	expect_eq "remapped after $1" 9 "$(status_field m remapped)"
	expect_eq "seq after $1" "$seq" "$(status_field m seq)"
	blocks verify /dev/mapper/m 0 64 two || die "stale or unreadable data after $1"
}
# md_copy_warned WHAT: dmremapctl check names the lost copy and nothing worse.
md_copy_warned() {
	local report rc=0
	# A warning is damage too: exit status 6.
	report=$("$ctl" check --json "$data") || rc=$?
	expect_eq "$1: check's exit status" 6 "$rc"
	jq -e 'any(.problems[]; .code == "md-copy") and all(.problems[]; .severity != "error")' <<< "$report" > /dev/null ||
		die "$1: check does not report just a lost copy: $report"
}
# survives WHAT SECTOR...: the set loads and keeps every remap with those blocks unreadable.
survives() {
	local what=$1
	shift
	unreadable "$@"
	md_copy_warned "$what"
	dmsetup create m --table "$table" || die "table refused with $what"
	intact "$what: fresh table"
	# A new table under the live one reads the metadata while it is in use.
	dmsetup reload m --table "$table" || die "reload refused with $what"
	dmsetup resume m
	intact "$what: table reloaded"
	dmsetup suspend m
	dmsetup resume m
	intact "$what: suspend and resume"
	dmsetup remove m
	readable "$@"
	pristine
}
rec_mid=$(jq -c '.records[2].copies' /tmp/live.json)
survives "copy 0 of a journal record unreadable" "$(jq '.[0]' <<< "$rec_mid")"
survives "copy 1 of a journal record unreadable" "$(jq '.[1]' <<< "$rec_mid")"
survives "copy 0 of the last journal record unreadable" "$(jq '.records[-1].copies[0]' /tmp/live.json)"
hdr0=$(jq '.slot.copies[0]' /tmp/live.json) hdr1=$(jq '.slot.copies[1]' /tmp/live.json)
# Entry table: after the header and the 4-block member table.
survives "copy 0 of the snapshot header unreadable" "$hdr0"
survives "copy 1 of the snapshot entries unreadable" $((hdr1 + 40))
survives "header of copy 0 and entries of copy 1 unreadable" "$hdr0" $((hdr1 + 40))

# refused ERRNO KLOG SECTOR...: with those blocks unreadable the table is
# refused with ERRNO, the kernel logs KLOG (which names the block), and no
# mapping is left to serve anything.
refused() {
	local errno=$1 klog=$2
	shift 2
	unreadable "$@"
	refused_with "$errno" "$klog" dmsetup create m --table "$table"
	[ ! -e /dev/mapper/m ] || die "a refused table left /dev/mapper/m behind"
	readable "$@"
	pristine
}
jpos=$(jq ".records[2].seq % $("$ctl" dump --json "$data" | jq .journal_blocks)" /tmp/live.json)
unproven="A metadata journal block is unreadable in every copy: the history cannot be proven complete (-EIO)"
refused EIO "journal block $jpos is unreadable in every copy: commit $(jq '.records[2].seq' /tmp/live.json) may" \
	$(jq -r '.[]' <<< "$rec_mid")
refused EIO "$unproven" $(jq -r '.[]' <<< "$rec_mid")
refused EIO "is unreadable in every copy: commit $seq may be there" $(jq -r '.records[-1].copies[]' /tmp/live.json)
refused EUCLEAN "No valid metadata on any member (-EUCLEAN)" $((hdr0 + 40)) $((hdr1 + 40))
# A record readable but invalid in both copies (bit rot): the history ends
# before it, and the valid records after it show a hole, never a shorter
# history whose seqs the next commits would reuse.
mid=$(jq '.records[2].seq' /tmp/live.json)
flip() { md corrupt "$(jq '.[0]' <<< "$rec_mid")" "$data"; md corrupt "$(jq '.[1]' <<< "$rec_mid")" "$data"; }
flip
refused_with EUCLEAN "journal record $((mid + 1)) found beyond the end of the history at $((mid - 1))" \
	dmsetup create m --table "$table"
flip

# 3. Under a running table: nothing is read again on resume.
dmsetup create m --table "$table"
unreadable $(jq -r '.[]' <<< "$rec_mid")
dmsetup suspend m
dmsetup resume m || die "resume failed with a journal block gone bad under the table"
intact "a journal block gone bad under a running table"
dmsetup remove m
readable $(jq -r '.[]' <<< "$rec_mid")
dmsetup create m --table "$table"
intact "everything readable again"

# 4. A remap whose commit cannot be written (the next journal block fails
#    in both copies): the write fails, and its spare block is given back.
used=$(status_field m spare_used)
next=$(jq '.records[-1].copies | map(. + 8) | .[]' /tmp/live.json)
unreadable $next
bad_block d0 "$data" 60
if blocks write /dev/mapper/m 60 1 two; then die "a write whose remap could not be committed succeeded"; fi
expect_eq "remapped after a failed commit" 9 "$(status_field m remapped)"
expect_eq "spare blocks used after a failed commit" "$used" "$(status_field m spare_used)"
dmsetup remove m
readable $next
good_block d0 "$data" 60

# 5. A membership change whose second superblock copy cannot be written:
#    the change holds (copy 0 carries the generation), the status says so.
dmsetup create m --table "$table"
expect_eq "metadata before" ok "$(status_field m metadata)"
nullb_bad d0 8 15
dmsetup message m 0 spare_add "$spare" > /dev/null || die "spare_add with superblock copy 1 unwritable failed"
expect_eq "metadata after a superblock copy failed" degraded "$(status_field m metadata)"
expect_eq "members after the change" "0:ok,1:ok" "$(status_field m members)"
dmsetup remove m
nullb_good d0 8 15

# 6. Load, remap under the live table, every metadata block unreadable, resume.
table=$("$ctl" table "$data" "$spare")
dmsetup create m --table "$table"
dmsetup reload m --table "$table"
bad_block d0 "$data" 61
blocks write /dev/mapper/m 61 1 two || die "remapping write under the live table failed"
expect_eq "remapped under the live table" 10 "$(status_field m remapped)"
md_area d0 "$data" bad
md_area s0 "$spare" bad
dmsetup resume m || die "the resume of a table loaded before the last commit failed"
expect_eq "remapped after the resume" 10 "$(status_field m remapped)"
expect_eq "members after the resume" "0:ok,1:ok" "$(status_field m members)"
blocks verify /dev/mapper/m 0 64 two || die "stale or unreadable data after the resume"
dmsetup remove m
md_area d0 "$data" good
md_area s0 "$spare" good
dmsetup create m --table "$table"
expect_eq "remapped after a fresh load" 10 "$(status_field m remapped)"
blocks verify /dev/mapper/m 0 64 two || die "stale or unreadable data after a fresh load"
dmsetup remove m
good_block d0 "$data" 61
echo "md-unreadable: one lost copy loses nothing; a loss in both copies is refused, never stale data"
