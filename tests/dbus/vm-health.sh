#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Guest script (tests/vm/vmtest.py): dm-remapd's health model on a real
# device (tests/dbus/test_health.py): a remap storm past 80% spare use,
# scans as Jobs, a restart, the metrics textfile, no wake-ups while idle;
# then Device.Replace of a set's data disk, and its Cancel.
# A guest of its own, beside dbus-devices, so the two run in parallel.
. "$DMREMAP_SRC/tests/dbus/lib-guest.sh"
export DMREMAP_TEST_FLOOD=$(nullb_create f0 16 4096)
export DMREMAP_HEALTH_DATA=$(nullb_create h0 16 4096) DMREMAP_HEALTH_NULLB=h0
# Device.Replace (test_replace.py, run by test_health.py on its daemon):
# ext4 on a set on lib-guest.sh's 64 MiB data disk, moved to a new disk
# through the bus, then a replace onto a disk whose writes the test slows
# to 100 ms once it is formatted, canceled. Here rather than in
# dbus-devices, the longest dbus VM test.
modprobe ext4 || die "no ext4"
modprobe dm-mirror || die "no dm-mirror"
export DMREMAP_REPLACE_NEW=$(nullb_create r1 64 4096)
export DMREMAP_REPLACE_SLOW=$(delay_create rslow "$(nullb_create r2 64 4096)" 0 0)
/usr/bin/python3 "$DMREMAP_SRC/tests/dbus/test_health.py" -v 2>&1 || die "test_health.py failed"
echo "dm-remapd: health properties, HealthChanged, StartScan jobs, restart, metrics, idle; Replace and its Cancel"
