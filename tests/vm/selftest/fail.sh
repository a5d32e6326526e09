#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Harness self-test (should fail): the script itself fails.
echo "about to fail on purpose"
exit 3
