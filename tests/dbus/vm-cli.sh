#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Guest script (tests/vm/vmtest.py): dmremapctl as root (directly) and as
# uid 65534 (through dm-remapd, polkit mocked) on null_blk disks must print
# the same; tests/dbus/test_cli.py does the work.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
modprobe loop
data=$(nullb_create d0 64 4096)
s1=$(nullb_create s1 16 4096)
s2=$(nullb_create s2 32 4096)
tiny=$(nullb_create s3 1 4096)
export DMREMAP_TEST_DATA=$data DMREMAP_TEST_NULLB=d0 DMREMAP_TEST_SPARES="$s1 $s2" DMREMAP_TEST_TINY=$tiny
export DMREMAPD=$DMREMAP_BUILD/dbus/dm-remapd DMREMAPCTL=$DMREMAP_BUILD/tools/dmremapctl
export DBUS_SRC=$DMREMAP_SRC/dbus DBUS_CALL=$DMREMAP_SRC/tests/dbus/dbus_call.py
/usr/bin/python3 "$DMREMAP_SRC/tests/dbus/test_cli.py" -v 2>&1 || die "test_cli.py failed"
echo "dmremapctl: the same output as root (directly) and as uid 65534 (through dm-remapd)"
