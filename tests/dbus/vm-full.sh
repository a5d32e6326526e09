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
unit_state_of() { local rc=0 out; out=$(systemctl is-active "$1") || rc=$?; echo "$out"; }

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
# The installed bus policy lets anyone read the history (the Cockpit page's
# chart, unprivileged): the daemon's first sample of vf.
r=$(call_as 65534 /org/dmremap1/devices/vf org.dmremap1.Device GetHistory 'xua{sv}' '[0, 10, {}]')
[ "$(json_get 'len(d.get("result") or [])' <<< "$r")" -ge 1 ] || die "GetHistory as uid 65534: $r"
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

# Scheduled scans. create --scan-schedule through dm-remapd (root asks it
# like anyone: no polkit for uid 0) enables the device's timer from the
# daemon's sandbox, with the drop-in for a schedule that is not weekly.
sctl=/usr/local/sbin/dmremapctl # the installed one, which the units run
ns=$(nullb_create vs0 32 4096)
DMREMAPCTL_BACKEND=bus "$sctl" create --name vs --max-remaps 4096 --scan-schedule=daily "$ns" > /dev/null
expect_eq "scan timer enabled by create" enabled "$(systemctl is-enabled dm-remap-scan@vs.timer)"
expect_eq "scan timer started by create" active "$(systemctl is-active dm-remap-scan@vs.timer)"
expect_eq "the drop-in" $'[Timer]\nOnCalendar=\nOnCalendar=daily' \
	"$(grep -v '^#' /etc/systemd/system/dm-remap-scan@vs.timer.d/schedule.conf)"
# systemd's own view: daily replaced weekly (not added to it).
cal=$(systemctl show -p TimersCalendar --value dm-remap-scan@vs.timer)
case $cal in
"{ OnCalendar=*-*-* 00:00:00 ; next_elapse="*) ;;
*) die "dm-remap-scan@vs.timer: TimersCalendar is not daily alone: $cal" ;;
esac
timers=$(systemctl list-timers --no-legend --no-pager 'dm-remap-*')
line=$(grep ' dm-remap-scan@vs.timer ' <<< "$timers") || die "list-timers does not list dm-remap-scan@vs.timer: $timers"
line=${line#"${line%%[! ]*}"} # NEXT is the first column
case $line in
-* | n/a*) die "dm-remap-scan@vs.timer has no next run in list-timers: $line" ;;
esac
# schedule NAME: what systemd says, for anyone (uid 65534 here).
sched=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$sctl" schedule vs --json)
expect_eq "schedule vs --json as uid 65534" "daily true true" "$(jq -r '"\(.schedule) \(.enabled) \(.active)"' <<< "$sched")"
now=$(date +%s)
[ "$(jq ".next_run > $now and .next_run <= $now + 86400 + 6 * 3600" <<< "$sched")" = true ] ||
	die "schedule vs: next run not within the next day and the unit's random delay (6 h): $sched (now $now)"
# Changing it is the scan action: real polkit refuses uid 65534.
rc=0
err=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$sctl" --no-ask-password schedule vs weekly 2>&1 > /dev/null) ||
	rc=$?
expect_eq "schedule vs weekly as uid 65534: exit status" 5 "$rc"
case $err in
*"not authorized (polkit): org.dmremap1.scan"*) ;;
*) die "schedule vs weekly as uid 65534: not refused by org.dmremap1.scan: $err" ;;
esac
# A schedule systemd refuses is a usage error before anything changes.
rc=0
"$sctl" schedule vs 'fortnightly' > /dev/null 2>&1 || rc=$?
expect_eq "schedule vs fortnightly: exit status" 2 "$rc"
expect_eq "the drop-in after a refused schedule" "OnCalendar=daily" \
	"$(tail -n1 /etc/systemd/system/dm-remap-scan@vs.timer.d/schedule.conf)"

# The timer's service runs a real scan under its sandbox: the whole pass,
# in one run, lands in last-scan.json. (No bad block here: dm-remapd would
# log "scan errors", which the check of its journal below takes for its own.)
t0=$(date +%s)
systemctl start dm-remap-scan@vs.service
expect_eq "dm-remap-scan@vs.service result" success "$(systemctl show -p Result --value dm-remap-scan@vs.service)"
suuid=$(busctl get-property org.dmremap1 /org/dmremap1/devices/vs org.dmremap1.Device SetUUID | cut -d'"' -f2)
blocks=$(($(blockdev --getsize64 /dev/mapper/vs) / 4096))
expect_eq "last-scan.json of the timer's scan" "vs true $blocks $blocks $blocks 0 1 true" \
	"$(jq -r "\"\\(.device) \\(.complete) \\(.blocks) \\(.next_block) \\(.bytes_read / 4096) \\(.bad_count) \\(.runs) \\(.pass_start >= $t0)\"" \
		"/var/lib/dm-remap/$suuid/last-scan.json")"

# The daily health sample: one more "daily" line in the history (dm-remapd
# may append its own "event" lines meanwhile), with the device's numbers.
hist=/var/lib/dm-remap/$suuid/history.jsonl
dailies() { jq -s 'map(select(.why == "daily")) | length' "$hist"; }
before=$(dailies)
systemctl start dm-remap-health.service
expect_eq "dm-remap-health.service result" success "$(systemctl show -p Result --value dm-remap-health.service)"
expect_eq "daily samples after dm-remap-health.service" $((before + 1)) "$(dailies)"
expect_eq "spare_total in the daily sample" "$(status_field vs spare_total)" \
	"$(jq -s 'map(select(.why == "daily")) | last | .spare_total' "$hist")"
cal=$(systemctl show -p TimersCalendar --value dm-remap-health.timer)
case $cal in
"{ OnCalendar=*-*-* 00:00:00 ;"*) ;;
*) die "dm-remap-health.timer: TimersCalendar is not daily: $cal" ;;
esac

# off (root, directly): disabled, stopped, drop-in gone.
"$sctl" schedule vs off > /dev/null
rc=0
state=$(systemctl is-enabled dm-remap-scan@vs.timer) || rc=$?
expect_eq "scan timer after schedule off" "disabled 1" "$state $rc"
expect_eq "scan timer stopped by schedule off" inactive "$(unit_state_of dm-remap-scan@vs.timer)"
[ ! -e /etc/systemd/system/dm-remap-scan@vs.timer.d ] || die "schedule vs off left the drop-in directory"
expect_eq "schedule vs --json after off" "off false null" \
	"$("$sctl" schedule vs --json | jq -r '"\(.schedule) \(.enabled) \(.next_run)"')"
busctl call org.dmremap1 /org/dmremap1/devices/vs org.dmremap1.Device Stop 'a{sv}' 0 > /dev/null
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
