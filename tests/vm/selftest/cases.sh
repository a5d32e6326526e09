#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Guest side of the harness self-test (tests/vm/selftest/check.py): each
# case is something vmtest.py must report exactly so.
case $1 in
fail)
	echo "about to fail on purpose"
	exit 3
	;;
warn)
	# The script succeeds; only the kernel's WARNING may fail the run.
	. "$VMTEST_LIB"
	insmod "$DMREMAP_SELFTEST_DIR/vmtest_warn.ko"
	grep -q '^vmtest_warn ' /proc/modules || die "vmtest_warn did not load"
	echo "script finished normally"
	;;
timeout)
	echo "sleeping past the timeout"
	sleep 3600
	;;
skip)
	echo "skipping on purpose"
	exit 77
	;;
*)
	echo "unknown case $1"
	exit 2
	;;
esac
