#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The Cockpit page in a real browser: Debian's cockpit-ws and the page as
# installed, dm-remapd over a real device in a full-mode guest (systemd,
# udev, udisks2), and headless Chromium on the host driving the page
# through ports forwarded to the guest (tests/cockpit/browser.py says
# what it checks). Two cockpit-ws run in the guest: root's session
# (administrative) and user tester's (read-only).
#
# On the host:  tests/cockpit/cockpit.sh KERNEL_SERIES
# In the guest: tests/cockpit/cockpit.sh guest
set -eu
if [ -z "${DMREMAP_VM_MODE:-}" ]; then
	here=$(cd "$(dirname "$0")" && pwd)
	build=${DMREMAP_BUILD:-$here/../../build}
	work=$(mktemp -d "$build/vm/cockpit-XXXXXX")
	vm=
	# The guest runs in a session of its own (setsid, below), which a
	# failed browser run or meson's timeout ends at once: QEMU would
	# otherwise run on to its own timeout, or past the test.
	trap '[ -z "$vm" ] || kill -- -"$vm" 2> /dev/null; rm -rf "$work"' EXIT
	trap 'exit 143' TERM INT
	free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
	admin_port=$(free_port)
	user_port=$(free_port)
	[ "$admin_port" != "$user_port" ] || user_port=$(free_port)
	setsid python3 "$here/../vm/vmtest.py" run --kernel "$1" --mode full --install --timeout 900 --build "$build" \
		--forward "$admin_port:9091" --forward "$user_port:9092" --disk "$work/spare.img:64M" "$0" guest &
	vm=$!
	shots=$build/cockpit-screenshots
	rc=0
	/usr/bin/python3 "$here/browser.py" --admin "http://127.0.0.1:$admin_port" --user "http://127.0.0.1:$user_port" \
		--screenshots "$shots" --vm-pid "$vm" || rc=$?
	if [ "$rc" != 0 ]; then
		echo "cockpit.sh: the browser test failed (exit status $rc); screenshots in $shots" >&2
		exit 1
	fi
	rc=0
	wait "$vm" || rc=$?
	vm=
	exit "$rc"
fi

. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
. "$DMREMAP_SRC/tests/vm/full/lib-guest.sh"
udevadm settle
wait_for_dev /dev/vda
data=$(nullb_create c0 64 4096)
echo "$data" > /run/dmremap-test-data
"$ctl" create --name web --internal-spare 1M --max-remaps 4096 "$data" > /dev/null
udevadm settle
# Some history before the page opens: dm-remapd (activated by this call)
# records the device as it first saw it, then the remap.
busctl call org.dmremap1 /org/dmremap1/devices/web org.dmremap1.Device Refresh 'a{sv}' 0
"$ctl" remap web 100 > /dev/null
# The page's bad block (browser.py injects it): data block 300.
data_sector "$data" 300 > /run/dmremap-test-bad-sector

# User-mode networking answers at 10.0.2.15 (vmtest.py --forward).
nic=$(ls /sys/class/net | grep -v '^lo$' | head -n 1)
[ -n "$nic" ] || die "no network interface (virtio-net)"
ip link set dev "$nic" up
ip addr add 10.0.2.15/24 dev "$nic"
useradd --create-home tester
ws=/usr/lib/cockpit/cockpit-ws
"$ws" --no-tls --local-session=cockpit-bridge --port 9091 > /run/ws-admin.log 2>&1 &
runuser -u tester -- "$ws" --no-tls --local-session=cockpit-bridge --port 9092 > /run/ws-user.log 2>&1 &
listening() { ss -Hltn "sport = :9091" | grep -q . && ss -Hltn "sport = :9092" | grep -q .; }
wait_until 120 "cockpit-ws to listen" listening
echo "cockpit-ws listens on 9091 (root) and 9092 (tester)"
# browser.py ends its run through the admin session.
wait_until 780 "the browser test to end" test -e /run/dmremap-cockpit-done
echo "browser test done: $(cat /run/dmremap-cockpit-done)"
