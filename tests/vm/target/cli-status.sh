#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# dmremapctl status and list on active devices, through libdevmapper: the
# numbers are the kernel's, the state follows suspend and a missing spare,
# and a device that is not dm-remap is refused by name.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
dev=$(nullb_create d0 64 4096)
s1=$(nullb_create s1 4 4096)
s2=$(nullb_create s2 4 4096)
"$ctl" format --name st --max-remaps 4096 --internal-spare 4M "$dev" "$s1" "$s2" > /dev/null
full=$("$ctl" table "$dev" "$s1" "$s2")
dmsetup create st --table "$full"
blocks write /dev/mapper/st 0 64 one || die "initial write failed"
bad_block d0 "$dev" 5
blocks write /dev/mapper/st 5 1 two || die "remapping write failed"
bad_block d0 "$dev" 9
rc=0
blocks verify /dev/mapper/st 9 1 one > /dev/null || rc=$?
expect_eq "unreadable block" 1 "$rc"

# jq_st FILTER: jq FILTER over the first device in `status --json st`.
jq_st() { "$ctl" status --json st | jq -r ".[0] | $1"; }
expect_eq "state" active "$(jq_st .state)"
expect_eq "remapped" "$(status_field st remapped)" "$(jq_st .remapped)"
expect_eq "pending" 1 "$(jq_st .pending)"
expect_eq "read errors" "$(status_field st read_errors)" "$(jq_st .read_errors)"
expect_eq "members" "0:1:ok 1:0:ok 2:0:ok" "$(jq_st '[.spares[] | "\(.index):\(.live):\(.state)"] | join(" ")')"
expect_eq "device" "/dev/dm-$(dmsetup info -c --noheadings -o minor st | tr -d ' ')" "$(jq_st .device)"
human=$("$ctl" status st)
expect_eq "human first line" "st: active, 1 remapped, 1 pending" "$(head -1 <<< "$human")"
expect_eq "list" "st active remapped=1 pending=1" "$("$ctl" list)"

# Suspended, then degraded (s1 missing).
dmsetup suspend st
expect_eq "state while suspended" suspended "$(jq_st .state)"
dmsetup resume st
dmsetup remove st
len=$(echo "$full" | cut -d' ' -f2)
dmsetup create st --table "0 $len remap $dev 1 $s2 1 degraded"
expect_eq "state degraded" degraded "$(jq_st .state)"
expect_eq "missing member" "null missing" "$(jq_st '[.spares[] | select(.index == 1) | "\(.used) \(.state)"] | join(" ")')"

# Refusals name the device.
dmsetup create lin --table "0 8 linear $dev 0"
rc=0
out=$("$ctl" status lin 2>&1) || rc=$?
expect_eq "status of a linear device" "1 dmremapctl status: lin: not a dm-remap device" "$rc $out"
rc=0
out=$("$ctl" status nosuch 2>&1) || rc=$?
expect_eq "status of no device" "3 dmremapctl status: nosuch: no such device-mapper device" "$rc $out"
expect_eq "list skips other targets" st "$("$ctl" list --json | jq -r '[.[].name] | join(" ")')"
dmsetup remove lin
dmsetup remove st
echo "dmremapctl status and list report the kernel's numbers and states"
