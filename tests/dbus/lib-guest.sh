# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by the guest scripts of the dbus VM tests (vm-devices.sh,
# vm-cli.sh): the dm-remap target, null_blk disks and the environment the
# Python tests read (DMREMAP_TEST_*: a data disk, two spares, one too small
# to be a spare; where the daemon, dmremapctl and the XML are).
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
data=$(nullb_create d0 64 4096)
s1=$(nullb_create s1 16 4096)
s2=$(nullb_create s2 32 4096)
tiny=$(nullb_create s3 1 4096)
export DMREMAP_TEST_DATA=$data DMREMAP_TEST_NULLB=d0 DMREMAP_TEST_SPARES="$s1 $s2" DMREMAP_TEST_TINY=$tiny
export DMREMAPD=$DMREMAP_BUILD/dbus/dm-remapd DMREMAPCTL=$DMREMAP_BUILD/tools/dmremapctl
export DBUS_SRC=$DMREMAP_SRC/dbus DBUS_CALL=$DMREMAP_SRC/tests/dbus/dbus_call.py
