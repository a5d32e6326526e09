#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Harness self-test (should fail): the script succeeds but the kernel WARNs.
. "$VMTEST_LIB"
insmod "$DMREMAP_SELFTEST_DIR/vmtest_warn.ko"
echo "script finished normally"
