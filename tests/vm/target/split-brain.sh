#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Split brain: a spare that comes back after the set ran without it never
# overrides what the set committed meanwhile, whatever history it holds.
# A set D + S1 + S2 has data on S1; it runs degraded without S1 (new remaps,
# blocks that lived on S1 overwritten); images of all three were taken
# before that run.
# (a) S1 itself returns, behind: every block reads its latest data, and the
#     first resume brings S1 up to date (metadata checks clean, S1 carries
#     the data disk's generation).
# (b) The image of S1 returns instead, after its own copy of the set ran on
#     with more commits than the degraded run made: a history of the same
#     old generation, longer, diverged. The data disk's newer state wins:
#     every block reads what the degraded run left, no remap of the other
#     history appears.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
d=$(nullb_create d0 16 4096)
s1=$(nullb_create s1 4 4096)
s2=$(nullb_create s2 4 4096)
"$ctl" format --name g --max-remaps 4096 --internal-spare 0 "$d" "$s1" "$s2" > /dev/null
off=$(data_sector "$d" 0)
# bad NULLB BLOCK...; good NULLB BLOCK...: data blocks of the set failing on NULLB.
bad() { local n=$1 b; shift; for b; do nullb_bad "$n" $((off + b * 8)) $((off + b * 8 + 7)); done; }
good() { local n=$1 b; shift; for b; do nullb_good "$n" $((off + b * 8)) $((off + b * 8 + 7)); done; }
declare -A want
verify_all() {
	local items=() b out
	for b in $(seq 0 63); do items+=("$b:${want[$b]:-one}"); done
	out=$(blocks expect /dev/mapper/g "${items[@]}") || die "$1: blocks not reading their latest data: $out"
}
# checks_clean WHAT DEV...: the set's metadata on DEV... is clean (suspended:
# nothing writes meanwhile) and each member's superblock has the data
# disk's generation.
checks_clean() {
	local what=$1 gen m
	shift
	dmsetup suspend g
	"$ctl" check "$@" > /tmp/check.out || { cat /tmp/check.out; die "$what: metadata check"; }
	gen=$("$ctl" dump --json "$1" | jq .member.generation)
	for m in "${@:2}"; do
		expect_eq "$what: generation of $m" "$gen" "$("$ctl" dump --json "$m" | jq .member.generation)"
	done
	dmsetup resume g
}

full=$("$ctl" table "$d" "$s1" "$s2")
len=$(echo "$full" | cut -d' ' -f2)
dmsetup create g --table "$full"
blocks write /dev/mapper/g 0 64 one
bad d0 20 21 22 23
blocks write /dev/mapper/g 20 4 two || die "remapping writes failed"
for b in 20 21 22 23; do want[$b]=two; done
expect_eq "remaps before the degraded run" "$(printf '%s remapped 1:%s\n' 20 0 21 1 22 2 23 3)" \
	"$(dmsetup message g 0 list_remaps)"
seq0=$(status_field g seq)
dmsetup remove g

# Images of the three members, for (b), read with the bad blocks readable
# again (their old data is no one's latest); 21 stays bad for the degraded run.
good d0 20 21 22 23
for m in d0:dc s1:s1c s2:s2c; do
	nullb_create "${m#*:}" "$(($(blockdev --getsize64 "/dev/${m%:*}") >> 20))" 4096 > /dev/null
	dd if="/dev/${m%:*}" of="/dev/${m#*:}" bs=1M iflag=direct oflag=direct status=none
done
bad d0 21

# The degraded run: block 20 is written in place on the data disk, 21
# (still bad there) moves to S2, 30 and 31 are new bad blocks (to S2).
dmsetup create g --table "0 $len remap $d 1 $s2 1 degraded"
expect_eq "spares in the degraded run" "0:0/0,1:missing,2:0/256" "$(status_field g spares)"
bad d0 30 31
blocks write /dev/mapper/g 20 2 three || die "writes to blocks on the missing spare"
blocks write /dev/mapper/g 30 2 three || die "remapping writes in the degraded run"
for b in 20 21 30 31; do want[$b]=three; done
latest="$(printf '%s remapped %s\n' 21 2:0 22 1:2 23 1:3 30 2:1 31 2:2)"
expect_eq "remaps after the degraded run" "$(echo "$latest" | sed '2,3s/$/ missing/')" "$(dmsetup message g 0 list_remaps)"
seq_d=$(status_field g seq)
[ "$seq_d" -gt "$seq0" ] || die "the degraded run committed nothing (seq $seq0 -> $seq_d)"
dmsetup remove g

# (a) S1 returns, behind.
dmsetup create g --table "$full"
expect_eq "(a) spares" "0:0/0,1:2/256,2:3/256" "$(status_field g spares)"
expect_eq "(a) remaps" "$latest" "$(dmsetup message g 0 list_remaps)"
verify_all "(a) S1 back"
checks_clean "(a) after the first resume" "$d" "$s1" "$s2"
dmsetup remove g

# (b) The images run as the whole set, without the degraded run: six new
# bad blocks go to S1's image, six commits, more than the degraded run's.
dmsetup create c --table "0 $len remap /dev/dc 2 /dev/s1c /dev/s2c"
bad dc 40 41 42 43 44 45
blocks write /dev/mapper/c 40 6 clone || die "remapping writes on the images"
seq_c=$(status_field c seq)
dmsetup remove c
[ "$seq_c" -gt "$seq_d" ] || die "the images' history (seq $seq_c) is not longer than the degraded run's ($seq_d)"
# S1's image beside the data disk and S2 that ran degraded.
dmsetup create g --table "0 $len remap $d 2 /dev/s1c $s2"
expect_eq "(b) remaps" "$latest" "$(dmsetup message g 0 list_remaps)"
expect_eq "(b) spares" "0:0/0,1:2/256,2:3/256" "$(status_field g spares)"
verify_all "(b) the image of S1 with a longer history"
checks_clean "(b) after the first resume" "$d" /dev/s1c "$s2"
dmsetup remove g
echo "split-brain: a returning spare never overrides newer state, however long its history"
