#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Guest script (tests/vm/vmtest.py): dmremapctl as root (directly) and as
# uid 65534 (through dm-remapd, polkit mocked) on null_blk disks must print
# the same; tests/dbus/test_cli.py does the work.
. "$DMREMAP_SRC/tests/dbus/lib-guest.sh"
modprobe loop
/usr/bin/python3 "$DMREMAP_SRC/tests/dbus/test_cli.py" -v 2>&1 || die "test_cli.py failed"
echo "dmremapctl: the same output as root (directly) and as uid 65534 (through dm-remapd)"
