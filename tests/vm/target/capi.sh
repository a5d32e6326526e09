#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# libbd_remap's C API as a consumer uses it (tests/capi/test_capi_vm.c):
# create and assemble with BDExtraArg options, an evacuation reporting its
# progress through libblockdev's utils, a degraded assembly by UUID.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
data=$(nullb_create c0 64 4096)
s1=$(nullb_create c1 16 4096)
s2=$(nullb_create c2 16 4096)
"$DMREMAP_BUILD/tests/capi/test-capi-vm" "$data" "$s1" "$s2" || die "test-capi-vm failed"
echo "capi: libbd_remap's create/assemble options and evacuation progress on real devices"
