#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Guest script (tests/vm/vmtest.py): dm-remapd's health model on a real
# device (tests/dbus/test_health.py): a remap storm past 80% spare use,
# scans as Jobs, a restart, the metrics textfile, no wake-ups while idle.
# A guest of its own, beside dbus-devices, so the two run in parallel.
. "$DMREMAP_SRC/tests/dbus/lib-guest.sh"
export DMREMAP_TEST_FLOOD=$(nullb_create f0 16 4096)
export DMREMAP_HEALTH_DATA=$(nullb_create h0 16 4096) DMREMAP_HEALTH_NULLB=h0
/usr/bin/python3 "$DMREMAP_SRC/tests/dbus/test_health.py" -v 2>&1 || die "test_health.py failed"
echo "dm-remapd: health properties, HealthChanged, StartScan jobs, restart, metrics, idle"
