#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# debian/: dpkg-buildpackage -us -uc -b builds the five packages from meson
# dist's tarball, running the unit suite (dh_auto_test); lintian finds no
# error. Then in Debian's 6.12 under systemd (deb-guest.sh), with no
# dm-remap module anywhere: dpkg -i installs them, dm-remap-dkms's postinst
# builds the module for the guest's kernel with DKMS, a set is made, and
# after a reboot the installed udev rule and units assemble it.
. "$(dirname "$0")/lib.sh"
series=${1:-6.12}
tarball=$(dist_tarball)
work=$build/packaging/deb
rm -rf "$work"
mkdir -p "$work"
tar -xJf "$tarball" -C "$work"
# debian/rules asks dpkg-buildflags for the main build's flags: ccache
# serves the compiles. No -dbgsym packages (noautodbgsym, a standard build
# option): compressing their debug info with xz was a quarter of the
# build, and dh_strip does the same work either way.
export CCACHE_STATSLOG=$work/ccache.log
start=$(date +%s)
(cd "$work/dm-remap-$version" &&
	DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:+$DEB_BUILD_OPTIONS }noautodbgsym" dpkg-buildpackage -us -uc -b -Jauto) \
	> "$work/build.log" 2>&1 ||
	{ tail -n 60 "$work/build.log" >&2; die "dpkg-buildpackage failed (log: $work/build.log)"; }
unit_suite_passed "$work/build.log" dh_auto_test
mapfile -t debs < <(find "$work" -maxdepth 1 -name '*.deb' | sort)
expect="dm-remap dm-remap-cockpit dm-remap-dkms libbd-remap-dev libbd-remap1"
got=$(for d in "${debs[@]}"; do dpkg-deb -f "$d" Package; done | sort | xargs)
[ "$got" = "$expect" ] || die "dpkg-buildpackage made '$got', expected '$expect'"
echo "dpkg-buildpackage: $got in $(($(date +%s) - start)) s ($(ccache_served "$CCACHE_STATSLOG"))"
changes=$(find "$work" -maxdepth 1 -name '*.changes')
lintian --fail-on error --tag-display-limit 0 "$changes" > "$work/lintian.log" 2>&1 ||
	{ cat "$work/lintian.log" >&2; die "lintian reports errors"; }
echo "lintian: no error ($(grep -c '^W: ' "$work/lintian.log") warnings, $(wc -l < "$work/lintian.log") lines)"

. "$packaging_src/tests/vm/full/lib-host.sh"
full_boots "$packaging_src/tests/packaging/deb-guest.sh" "$series" deb-install "data.img:64M" \
	"--no-module --persist-root @WORK@/root.img --timeout 1500" install reboot
