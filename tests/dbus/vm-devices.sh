#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Guest script (tests/vm/vmtest.py): dm-remapd with the dm-remap target
# loaded and null_blk disks, then the D-Bus test files. test_devices.py and
# test_jobs.py need the kernel; test_dbus.py runs again here, with an
# active device, so its device-mapper-dependent checks run (they fail
# rather than skip: DMREMAP_TEST_EXPECT_DEVICE).
. "$DMREMAP_SRC/tests/dbus/lib-guest.sh"
export DMREMAP_TEST_FLOOD=$(nullb_create f0 16 4096)
modprobe dm-delay || die "no dm-delay"
/usr/bin/python3 "$DMREMAP_SRC/tests/dbus/test_devices.py" -v 2>&1 || die "test_devices.py failed"

# Evacuation slow enough to cancel midway: reads of the spare take 50 ms.
slow_base=$(nullb_create j1 32 4096)
export DMREMAP_JOBS_DATA=$(nullb_create j0 32 4096)
export DMREMAP_JOBS_SLOW=$(delay_create jslow "$slow_base" 50 0)
export DMREMAP_JOBS_FAST=$(nullb_create j2 32 4096)
/usr/bin/python3 "$DMREMAP_SRC/tests/dbus/test_jobs.py" -v 2>&1 || die "test_jobs.py failed"

vd=$(nullb_create v0 16 4096)
"$DMREMAPCTL" create --name vd --internal-spare 1M --max-remaps 4096 "$vd" >/dev/null || die "cannot create vd"
# Only its checks that need a device: the rest ran on the host already.
DMREMAP_TEST_EXPECT_DEVICE=1 /usr/bin/python3 "$DMREMAP_SRC/tests/dbus/test_dbus.py" -v \
	TestIntrospection.test_devices_match_xml TestAuthorization.test_device_methods TestZRestart.test_restart 2>&1 ||
	die "test_dbus.py failed"
"$DMREMAPCTL" stop vd || die "cannot stop vd"
echo "dm-remapd: Device and Job objects, signals, methods and Job.Cancel on real devices"
