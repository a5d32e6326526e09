#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# dm-remapd as installed, under systemd with the real dbus-daemon, polkitd
# and udev: D-Bus activation through the unit, the unit's sandbox lets it
# do its work (a disk, device-mapper, a loop image under
# /var/lib/dm-remap), and real polkit refuses an unprivileged caller.
#
# On the host:  tests/dbus/vm-full.sh KERNEL_SERIES
# In the guest: run by tests/vm/vmtest.py
set -eu
if [ -z "${DMREMAP_VM_MODE:-}" ]; then
	. "$(dirname "$0")/../vm/full/lib-host.sh"
	full_boots "$0" "$1" dbus-full "data.img:96M" "--install --timeout 600"
	exit 0
fi

. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
# The installed library lives in /usr/local/lib: make the loader see it.
ldconfig
udevadm settle
wait_for_dev /dev/vda
M=(org.dmremap1 /org/dmremap1/Manager org.dmremap1.Manager)
call_as() { # call_as UID PATH IFACE METHOD SIG JSON: the JSON dbus_call.py prints
	setpriv --reuid="$1" --regid="$1" --clear-groups /usr/bin/python3 "$DMREMAP_SRC/tests/dbus/dbus_call.py" \
		unix:path=/run/dbus/system_bus_socket "${@:2}"
}
json_get() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
# unit_state: systemctl is-active's word (it exits 3 for "inactive").
unit_state() { local rc=0 out; out=$(systemctl is-active dm-remapd.service) || rc=$?; echo "$out"; }

expect_eq "before the first call" inactive "$(unit_state)"
expect_eq "Version (activates the service)" 's "0.1.0"' "$(busctl get-property "${M[@]}" Version)"
expect_eq "activated through its unit" active "$(systemctl is-active dm-remapd.service)"

out=$(busctl -j call "${M[@]}" Create 'asa{sv}' 1 /dev/vda 2 name s vf max_remaps u 4096)
expect_eq "Create" "/org/dmremap1/devices/vf vf" "$(json_get 'd["data"][0], d["data"][1]["name"]["data"]' <<< "$out")"
[ -b /dev/mapper/vf ] || die "/dev/mapper/vf missing after Create"
D=(org.dmremap1 /org/dmremap1/devices/vf org.dmremap1.Device)
expect_eq "State" 's "active"' "$(busctl get-property "${D[@]}" State)"
expect_eq "DataDevice" 's "/dev/vda"' "$(busctl get-property "${D[@]}" DataDevice)"

# An image spare: /var/lib/dm-remap is the one writable place, loop-control is allowed.
out=$(busctl call "${D[@]}" AddSpare 'sa{sv}' "" 2 image s /var/lib/dm-remap/spares/s1.img size t 16777216)
expect_eq "AddSpare of an image" "qu 1" "$(cut -d' ' -f1-2 <<< "$out")"
expect_eq "image spare listed" 2 "$(busctl get-property -j "${D[@]}" Spares | json_get 'len(d["data"])')"
# udev hears the loop device became a member from the target's change
# uevent: the daemon's sandbox has no write access to sysfs.
loop=$(busctl get-property -j "${D[@]}" Spares | json_get 'd["data"][1][1]')
udevadm settle
expect_eq "udev knows the image spare" "DM_REMAP_INDEX=1 DM_REMAP_ROLE=spare" \
	"$(udevadm info --query=property "$loop" | grep -E '^DM_REMAP_(INDEX|ROLE)=' | sort | paste -sd' ')"

# Real polkit, no agent: an unprivileged caller is refused, reading is open.
r=$(call_as 65534 /org/dmremap1/devices/vf org.dmremap1.Device Stop 'a{sv}' '[{}]')
expect_eq "Stop as uid 65534" org.dmremap1.Error.NotAuthorized "$(json_get 'd.get("error")' <<< "$r")"
# A challenge, not a polkit error: the installed policy registers the action
# (an unknown one would be "cannot check authorization").
case $(json_get 'd.get("message")' <<< "$r") in
"org.dmremap1.assemble: authentication required and no polkit agent answered for uid 65534"*) ;;
*) die "Stop as uid 65534: not refused by the installed org.dmremap1.assemble action: $r" ;;
esac
r=$(call_as 65534 /org/dmremap1/devices/vf org.dmremap1.Device GetRemaps 'tua{sv}' '[0, 10, {}]')
expect_eq "GetRemaps as uid 65534" "[]" "$(json_get 'd.get("result")' <<< "$r")"
[ -b /dev/mapper/vf ] || die "the refused Stop stopped it"

# A disk whose driver loads after the daemon started (an NVMe-only machine
# getting its first USB disk registers sd's majors then), with a block the
# kernel remaps on its own: clients hear of it from the commit's uevent
# (the daemon polls nothing), soon after the write returns (which waits for
# the remap's commit). The delay is printed; the bound is what a TCG guest
# on a loaded machine honours, not what a real one does (well under 1 s).
nb=$(nullb_create vn0 64 4096)
out=$(busctl -j call "${M[@]}" Create 'asa{sv}' 1 "$nb" 2 name s vn max_remaps u 4096)
expect_eq "Create over null_blk" /org/dmremap1/devices/vn "$(json_get 'd["data"][0]' <<< "$out")"
bad_block vn0 "$nb" 7
r=$(cd "$DMREMAP_SRC/tests/dbus" && /usr/bin/python3 watch_props.py /org/dmremap1/devices/vn Remapped \
	dd if=/dev/zero of=/dev/mapper/vn bs=4096 seek=7 count=1 oflag=direct status=none)
expect_eq "the write to the failing block" 0 "$(json_get 'd["rc"]' <<< "$r")"
expect_eq "Remapped in PropertiesChanged" 1 "$(json_get 'd["changed"]["Remapped"]' <<< "$r")"
after=$(json_get 'd["after_exit"]' <<< "$r")
echo "PropertiesChanged(Remapped=1) arrived $after s after the write returned"
[ "$(json_get 'd["after_exit"] < 30.0' <<< "$r")" = True ] ||
	die "PropertiesChanged came $after s after the write (limit: 30 s)"

# The remap is in the journal under its MESSAGE_ID, and the installed
# catalog explains it (journalctl -x).
journalctl --update-catalog
id=6e12252d13634abaab8fda8f19a8920f
for _ in $(seq 50); do
	journalctl MESSAGE_ID=$id DM_REMAP_DEVICE=vn --no-pager -o cat | grep -q "1 blocks moved to spares" && break
	sleep 0.2
done
journalctl MESSAGE_ID=$id DM_REMAP_DEVICE=vn --no-pager -o cat | grep -q "1 blocks moved to spares" ||
	die "no journal entry with MESSAGE_ID=$id for the remap: $(journalctl -u dm-remapd.service --no-pager -o cat)"
journalctl -x MESSAGE_ID=$id --no-pager | grep -q "Subject: Blocks of vn were moved to spare blocks" ||
	die "journalctl -x does not explain MESSAGE_ID=$id: $(journalctl -x MESSAGE_ID=$id --no-pager)"
# A scan under the unit's sandbox: O_DIRECT reads, idle I/O priority
# (ioprio_set), its checkpoint and result under /var/lib/dm-remap.
out=$(busctl -j --timeout=600 call org.dmremap1 /org/dmremap1/devices/vn org.dmremap1.Device StartScan 'a{sv}' 0)
expect_eq "StartScan under the sandbox" "True 0" \
	"$(json_get 'd["data"][1]["complete"]["data"], len(d["data"][1]["found"]["data"])' <<< "$out")"
uuid=$(busctl get-property "${M[0]}" /org/dmremap1/devices/vn org.dmremap1.Device SetUUID | cut -d'"' -f2)
[ -s "/var/lib/dm-remap/$uuid/last-scan.json" ] || die "no /var/lib/dm-remap/$uuid/last-scan.json after the scan"
[ -s "/var/lib/dm-remap/$uuid/history.jsonl" ] || die "no health history for vn"
expect_eq "HealthState" 's "ok"' "$(busctl get-property "${M[0]}" /org/dmremap1/devices/vn org.dmremap1.Device HealthState)"
busctl call org.dmremap1 /org/dmremap1/devices/vn org.dmremap1.Device Stop 'a{sv}' 0 > /dev/null

busctl call "${D[@]}" Stop 'a{sv}' 0 > /dev/null
[ ! -e /dev/mapper/vf ] || die "/dev/mapper/vf still there after Stop"
r=$(call_as 0 /org/dmremap1/Manager org.dmremap1.Manager Assemble 'asa{sv}' '[["/dev/vda"], {}]')
expect_eq "Assemble re-attaches the image" "/org/dmremap1/devices/vf /dev/vda 2 1" \
	"$(json_get 'd["result"][0], d["result"][1]["members"][0], len(d["result"][1]["members"]), len(d["result"][1]["attached"])' <<< "$r")"
expect_eq "image spare back" 2 "$(busctl get-property -j "${D[@]}" Spares | json_get 'len(d["data"])')"
busctl call "${D[@]}" Stop 'a{sv}' 0 > /dev/null

# Stopped with SIGTERM, started again on the next call.
systemctl stop dm-remapd.service
expect_eq "stopped" inactive "$(unit_state)"
expect_eq "reactivated" 's "0.1.0"' "$(busctl get-property "${M[@]}" Version)"
# The sandbox's refusals show only in the journal. It must have the unit's
# lines (two starts) for their absence to mean anything.
journal=$(journalctl -u dm-remapd.service --no-pager -o cat)
[ "$(grep -c "^Started " <<< "$journal")" -ge 2 ] || die "the unit's journal lacks its two starts: $journal"
! grep -i "denied\|error" <<< "$journal" || die "errors in the unit's journal"
echo "dm-remapd activated by D-Bus under its unit's sandbox, real polkit refuses uid 65534"
