#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Writes to failing blocks land on spares and succeed; unreadable blocks
# give EIO (never wrong data), are recorded pending and healed by a read
# once they read again, or by a write;
# everything persists across table reload and module reload, and the
# metadata the kernel wrote passes dmremapctl check.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
dev=$(nullb_create d0 256 4096)
"$ctl" format --name t --max-remaps 4096 --internal-spare 8M "$dev" > /dev/null
table=$("$ctl" table "$dev")
dmsetup create t --table "$table"
blocks write /dev/mapper/t 0 256 one || die "initial write failed"

# 1. Writes over bad blocks succeed and are remapped, one entry per block.
for b in 10 11 12 100; do bad_block d0 "$dev" $b; done
out=$(blocks write /dev/mapper/t 0 256 two) || die "writes over bad blocks failed: $out"
expect_eq "remapped" 4 "$(status_field t remapped)"
expect_eq "write errors seen" 1 "$([ "$(status_field t write_errors)" -ge 1 ] && echo 1)"
blocks verify /dev/mapper/t 0 256 two || die "data after remapping does not verify"

# 2. Unreadable blocks: EIO on exactly those, the rest verify, recorded pending.
for b in 50 51; do bad_block d0 "$dev" $b; done
rc=0
out=$(blocks verify /dev/mapper/t 0 256 two) || rc=$?
expect_eq "verify status with unreadable blocks" 1 "$rc"
expect_eq "unreadable blocks" "eio 50 51" "$out"
expect_eq "pending" 2 "$(status_field t pending)"
# A pending block that reads again is healed by the read, its data returned
# (no read of a pending block was let through yet: the rate limit passes it).
good_block d0 "$dev" 50
blocks verify /dev/mapper/t 50 1 two || die "a pending block that reads again did not return its data"
expect_eq "pending after block 50 read again" 1 "$(status_field t pending)"
expect_eq "healed by a read" 1 "$(status_field t healed)"
# Writing heals too: block 50 in place, block 51 (still unreadable) onto a spare.
blocks write /dev/mapper/t 50 2 three || die "healing writes failed"
expect_eq "pending after healing" 0 "$(status_field t pending)"
expect_eq "remapped after healing" 5 "$(status_field t remapped)"
blocks verify /dev/mapper/t 50 2 three || die "healed blocks do not verify"

# 3. Proactive remap: a readable block moves with its data; nonsense is refused.
expect_eq "remap message" "200 remapped" "$(dmsetup message t 0 remap 200)"
expect_eq "remapped after remap message" 6 "$(status_field t remapped)"
blocks verify /dev/mapper/t 200 1 two || die "proactively remapped block lost its data"
nblocks=$(($(blockdev --getsz /dev/mapper/t) / 8))
for arg in "$nblocks" 999999999 -1 x; do
	refused_with EINVAL "remap: invalid block '$arg': the data area has $nblocks blocks" dmsetup message -- t 0 remap "$arg"
done

# 4. The kernel's metadata is what userspace reads.
list=$(dmsetup message t 0 list_remaps | awk '{print $1}' | tr '\n' ' ')
expect_eq "list_remaps" "10 11 12 51 100 200 " "$list"
dmsetup suspend t
"$ctl" check "$dev" > /tmp/check.out || { cat /tmp/check.out; die "dmremapctl check found damage"; }
dumped=$("$ctl" dump --json "$dev" | jq -r '[.remaps[].block | tostring] | join(" ")')
expect_eq "remaps on disk" "10 11 12 51 100 200" "$dumped"
dmsetup resume t

# 5. Persistence: table reload, then module reload.
dmsetup remove t
dmsetup create t --table "$table"
expect_eq "remapped after reload" 6 "$(status_field t remapped)"
blocks verify /dev/mapper/t 0 50 two || die "data after reload"
blocks verify /dev/mapper/t 50 2 three || die "healed data after reload"
blocks verify /dev/mapper/t 52 204 two || die "data after reload (2)"
dmsetup remove t
dmremap_unload
dmremap_load
dmsetup create t --table "$table"
expect_eq "remapped after module reload" 6 "$(status_field t remapped)"
blocks verify /dev/mapper/t 52 204 two || die "data after module reload"
dmsetup remove t
echo "remap, pending, heal and persistence work"
