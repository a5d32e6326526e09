#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Allocations that fail, as failslab and fail_page_alloc make them fail
# (Debian's kernels have neither: tests/vm/inject/dmr_inject.ko does it
# with kprobes, for allocations made for dm-remap only, and logs each).
# 1. Table load: each allocation of a load from metadata with remaps fails
#    in turn (fail-nth, until a load makes fewer): the load either succeeds
#    and reads every block right, or is refused with ENOMEM (never called
#    damage) and leaves no device behind.
# 2. Reload under a live table: each allocation in turn; the load may be
#    refused, the resume never fails, the device is never left suspended.
# 3. The remap path: each allocation of one remap in turn, then every
#    second and every third allocation while blocks go bad: no write to a
#    bad block fails, every block reads its data.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
insmod "$DMREMAP_INJECT_DIR/dmr_inject.ko" || die "cannot load the allocation failure injector"
P=/sys/module/dmr_inject/parameters
# arm NTH INTERVAL: counters reset, then the nth next / every interval-th
# allocation for dm-remap fails.
arm() {
	echo 0 > $P/nth
	echo 0 > $P/interval
	echo 0 > $P/matched
	echo 0 > $P/injected
	echo "$2" > $P/interval
	echo "$1" > $P/nth
}
disarm() { echo 0 > $P/nth; echo 0 > $P/interval; }
# The rounds below (some 150) read the count with the read builtin, and
# test a suspended device without grep: under TCG a process start costs a
# good part of a second.
injected() { local v; read -r v < $P/injected; echo "$v"; }
# only_enomem ERRFILE WHAT: a refusal for want of memory says so, not "damaged".
only_enomem() { grep -q 'Cannot allocate memory' "$1" || die "$2 refused with another error than ENOMEM: $(cat "$1")"; }
suspended() { local info; info=$(dmsetup info m); [[ $'\n'$info =~ $'\n'State:\ *SUSPENDED ]]; }

data=$(nullb_create d0 64 4096)
"$ctl" format --name m --max-remaps 1024 --internal-spare 1M "$data" > /dev/null
table=$("$ctl" table "$data")
# Where data block 0 lives, read once from the metadata format wrote (it
# never moves): bad_block/good_block would ask dmremapctl and jq again for
# each of the ~45 blocks made bad or good.
data_off=$(data_sector "$data" 0)
bad_block() { nullb_bad "$1" $((data_off + $3 * 8)) $((data_off + $3 * 8 + 7)); }
good_block() { nullb_good "$1" $((data_off + $3 * 8)) $((data_off + $3 * 8 + 7)); }
dmsetup create m --table "$table"
blocks write /dev/mapper/m 0 256 one
for b in 3 4 5; do bad_block d0 "$data" "$b"; done
blocks write /dev/mapper/m 0 8 two || die "writes to bad blocks without injection"
expect_eq "remapped before injection" 3 "$(status_field m remapped)"
dmsetup remove m
# The failed writes' sectors read their old content again: a load that lost
# a remap would read back 'one' as success.
for b in 3 4 5; do good_block d0 "$data" "$b"; done

# check_data WHAT: every block holds what was last written.
check_data() { blocks verify /dev/mapper/m 0 8 two && blocks verify /dev/mapper/m 8 248 one || die "data $1"; }

# 1. Loads from the metadata.
k=1 refused=0 loaded=0
while :; do
	arm $k 0
	rc=0
	dmsetup create m --table "$table" 2> /tmp/create.err || rc=$?
	disarm
	read -r n < $P/injected
	if [ $rc = 0 ]; then
		loaded=$((loaded + 1))
		check_data "after a load whose allocation $k failed"
		expect_eq "remapped after a load whose allocation $k failed" 3 "$(status_field m remapped)"
		dmsetup remove m
	else
		refused=$((refused + 1))
		expect_eq "allocations failed by a refused load $k" 1 "$n"
		only_enomem /tmp/create.err "load $k"
		if dmsetup info m > /dev/null 2>&1; then
			die "a refused load $k left the device behind"
		fi
	fi
	[ "$n" = 0 ] && break
	k=$((k + 1))
done
[ "$refused" -gt 0 ] || die "no load was refused: the injector failed nothing"
echo "table load: each of $((k - 1)) allocations failed in turn: $refused loads refused with ENOMEM, $loaded recovered"

# 2. Reloads under the live table.
dmsetup create m --table "$table"
k=1 refused=0
while :; do
	arm $k 0
	rc=0
	dmsetup load m --table "$table" 2> /tmp/load.err || rc=$?
	dmsetup resume m || die "resume after a reload whose allocation $k failed"
	disarm
	read -r n < $P/injected
	! suspended || die "the device is suspended after a reload whose allocation $k failed"
	if [ $rc != 0 ]; then
		refused=$((refused + 1))
		only_enomem /tmp/load.err "reload $k"
	fi
	check_data "after a reload whose allocation $k failed"
	[ "$n" = 0 ] && break
	k=$((k + 1))
done
[ "$refused" -gt 0 ] || die "no reload was refused: the injector failed nothing"
echo "reload: each of $((k - 1)) allocations failed in turn: $refused refused, the device never left suspended"

# 3. Remaps. One block goes bad per round; round k fails its kth allocation.
b=10 k=1 hit=
while :; do
	bad_block d0 "$data" $b
	arm $k 0
	blocks write /dev/mapper/m $b 1 three || die "a write to bad block $b failed when allocation $k of its remap failed"
	disarm
	read -r n < $P/injected
	blocks verify /dev/mapper/m $b 1 three || die "block $b after its remap's allocation $k failed"
	[ "$n" = 0 ] && break
	hit="$hit $(dmesg | sed -n 's/.*dmr_inject: \([^ ]*\) fails for \([^+]*\)+.*/\1>\2/p' | tail -1)"
	b=$((b + 1)) k=$((k + 1))
done
[ $k -gt 2 ] || die "a remap made fewer than two allocations: the injector saw nothing"
echo "remap: each of $((k - 1)) allocations failed in turn (allocator>site:$hit), no write failed"
expect_eq "pending after the remap rounds" 0 "$(status_field m pending)"

rounds_end=$b
for i in 2 3; do
	bads=$(seq $((b + 1)) 5 $((b + 80)))
	for x in $bads; do bad_block d0 "$data" $x; done
	arm 0 $i
	blocks write /dev/mapper/m $b 96 "every$i" || die "writes to bad blocks failed while every ${i}th allocation failed"
	disarm
	[ "$(injected)" -gt 0 ] || die "every ${i}. allocation: nothing was failed"
	echo "every ${i}. allocation failed ($(injected) of $(cat $P/matched)): 16 new remaps, no write failed"
	blocks verify /dev/mapper/m $b 96 "every$i" || die "data written while every ${i}. allocation failed"
	b=$((b + 96))
done
expect_eq "pending" 0 "$(status_field m pending)"
expect_eq "metadata" ok "$(status_field m metadata)"
dmsetup remove m
dmsetup create m --table "$table"
blocks verify /dev/mapper/m 0 8 two && blocks verify /dev/mapper/m 8 2 one &&
	blocks verify /dev/mapper/m 10 $((rounds_end - 10)) three &&
	blocks verify /dev/mapper/m "$rounds_end" 96 every2 && blocks verify /dev/mapper/m $((rounds_end + 96)) 96 every3 &&
	blocks verify /dev/mapper/m $((rounds_end + 192)) $((256 - rounds_end - 192)) one ||
	die "data after the remap rounds, reloaded"
dmsetup remove m
rmmod dmr_inject
echo "alloc-failures: no remappable write failed, no load misreported ENOMEM, no device left suspended"
