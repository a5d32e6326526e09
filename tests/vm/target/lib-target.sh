# SPDX-License-Identifier: GPL-2.0-or-later
# Shared setup for dm-remap target tests: . "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
. "$VMTEST_LIB"
ctl=$DMREMAP_BUILD/tools/dmremapctl
blocks() { python3 "$DMREMAP_SRC/tests/vm/target/blocks.py" "$@"; }
modprobe dm-mod
dmremap_load

# status_field NAME KEY: one key=value token of the target's status line.
status_field() { dmsetup status "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
# data_sector DEV BLOCK: sector on the member where data block BLOCK lives.
data_sector() {
	local off
	off=$("$ctl" dump --json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data_offset_sectors"])')
	echo $((off + $2 * 8))
}
# bad_block NULLB DEV BLOCK: make data block BLOCK of the set fail on the device.
bad_block() { local s; s=$(data_sector "$2" "$3"); nullb_bad "$1" "$s" $((s + 7)); }
good_block() { local s; s=$(data_sector "$2" "$3"); nullb_good "$1" "$s" $((s + 7)); }
# majmin DEV: the major:minor a table line shows for DEV.
majmin() { printf '%d:%d' "0x$(stat -L -c %t "$1")" "0x$(stat -L -c %T "$1")"; }
# failing_slice NAME DEV SECTORS BLOCK...: dm device NAME over DEV[0, SECTORS)
# on which the given data blocks (4 KiB, data area 2 MiB into it) fail.
failing_slice() {
	local name=$1 dev=$2 len=$3 table="" pos=0 b s
	shift 3
	for b in "$@"; do
		s=$((4096 + b * 8))
		[ "$s" -gt "$pos" ] && table+="$pos $((s - pos)) linear $dev $pos"$'\n'
		table+="$s 8 error"$'\n'
		pos=$((s + 8))
	done
	table+="$pos $((len - pos)) linear $dev $pos"
	dmsetup create "$name" <<< "$table"
}
