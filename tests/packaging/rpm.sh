#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# dm-remap.spec, built on this Debian machine with the few Fedora macros it
# lacks (fedora.macros): it parses; rpmbuild -bs makes a source RPM from
# meson dist's tarball and the spec in it; rpmbuild -bb --nodeps builds all
# five packages, running the unit suite in %check; what meson installs is
# exactly what the packages hold; rpmlint finds no error in spec or
# packages. Then the -dkms package's source goes through dkms add and
# build against Debian's 6.1 and 6.12 headers, and each module dkms built
# loads and maps in its kernel under QEMU (tests/vm/smoke/module.sh).
. "$(dirname "$0")/lib.sh"
here=$packaging_src/tests/packaging
tarball=$(dist_tarball)
work=$build/packaging/rpm
rm -rf "$work"
mkdir -p "$work/SOURCES" "$work/SPECS"
cp "$tarball" "$work/SOURCES/"
tar -xOJf "$tarball" "dm-remap-$version/dm-remap.spec" > "$work/SPECS/dm-remap.spec" ||
	die "the tarball has no dm-remap.spec"
spec=$work/SPECS/dm-remap.spec
rpmopts=(--load "$here/fedora.macros" --define "_topdir $work")

rpmspec "${rpmopts[@]}" -P "$spec" > "$work/spec.parsed" 2> "$work/rpmspec.err" ||
	{ cat "$work/rpmspec.err" >&2; die "rpmspec -P cannot parse dm-remap.spec"; }
expect="dm-remap dm-remap-cockpit dm-remap-devel dm-remap-dkms dm-remap-libs"
got=$(rpmspec "${rpmopts[@]}" -q --qf '%{name}\n' "$spec" | sort | xargs)
[ "$got" = "$expect" ] || die "the spec makes '$got', expected '$expect'"
[ "$(rpmspec "${rpmopts[@]}" -q --qf '%{version}\n' "$spec" | sort -u)" = "$version" ] ||
	die "the spec's version is not meson.build's $version"
echo "rpmspec -P: parses; packages $got"

rpmbuild "${rpmopts[@]}" -bs "$spec" > "$work/bs.log" 2>&1 || { cat "$work/bs.log" >&2; die "rpmbuild -bs failed"; }
srpm=$work/SRPMS/dm-remap-$version-1.src.rpm
[ -f "$srpm" ] || die "no $srpm"
rpm -qlp "$srpm" 2> /dev/null | grep -qx "dm-remap-$version.tar.xz" || die "the source RPM does not hold the tarball"
echo "rpmbuild -bs: $(basename "$srpm")"

# Compiled with the main build's flags (Debian's: Fedora's optflags come
# from redhat-rpm-config, which Debian lacks), so ccache serves it; the
# spec's %set_build_flags takes them from the environment.
main_build_flags
export CCACHE_STATSLOG=$work/ccache.log
# --noclean: the build root stays, to be compared with the packages.
start=$(date +%s)
rpmbuild "${rpmopts[@]}" -bb --nodeps --noclean "$spec" > "$work/bb.log" 2>&1 ||
	{ tail -n 60 "$work/bb.log" >&2; die "rpmbuild -bb failed (log: $work/bb.log)"; }
unit_suite_passed "$work/bb.log" %check
mapfile -t rpms < <(find "$work/RPMS" -name '*.rpm' | sort)
[ "${#rpms[@]}" = 5 ] || die "rpmbuild -bb made ${#rpms[@]} packages, expected 5: ${rpms[*]}"
echo "rpmbuild -bb: ${#rpms[@]} packages in $(($(date +%s) - start)) s ($(ccache_served "$CCACHE_STATSLOG")), %check: $(grep -E '^Ok: ' "$work/bb.log" | tr -s ' ') unit tests"

# Layout: every file meson installed into the build root is in exactly one
# package, and every packaged file was installed. Documentation and
# licences are copied by rpmbuild itself (%doc, %license), and build-id
# links made by it: neither comes from meson install.
buildroot=$(find "$work/BUILDROOT" -mindepth 1 -maxdepth 1 -type d | head -n 1)
[ -d "$buildroot" ] || die "no build root left in $work/BUILDROOT"
(cd "$buildroot" && find . ! -type d | sed 's|^\.||' | grep -vE '^/usr/share/(doc|licenses)/|^/usr/lib/\.build-id/' |
	sort) > "$work/installed"
for r in "${rpms[@]}"; do
	rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$r" 2> /dev/null
done | grep -v '^d' | cut -d' ' -f2- | grep -vE '^/usr/share/(doc|licenses)/|^/usr/lib/\.build-id/' |
	sort > "$work/packaged"
[ -s "$work/installed" ] || die "meson installed nothing"
sort -u "$work/packaged" | cmp -s - "$work/packaged" || die "a file is in two packages: $(uniq -d "$work/packaged")"
diff -u "$work/installed" "$work/packaged" > "$work/layout.diff" ||
	{ cat "$work/layout.diff" >&2; die "installed (-) and packaged (+) files differ"; }
echo "layout: the $(wc -l < "$work/installed") files meson installs are the packages' files"

# rpmlint: no error (it exits 64 on one; warnings are listed, not fatal).
rpmlint --config "$here/rpmlint.toml" "$spec" "$srpm" "${rpms[@]}" > "$work/rpmlint.log" 2>&1 ||
	{ cat "$work/rpmlint.log" >&2; die "rpmlint reports errors (or did not run)"; }
summary=$(grep -E '6 packages and 1 specfiles checked; 0 errors' "$work/rpmlint.log") ||
	{ cat "$work/rpmlint.log" >&2; die "rpmlint did not check the spec and all six packages"; }
echo "rpmlint: $summary"

# The -dkms package's payload through dkms, in trees of our own (the
# machine's /var/lib/dkms is not touched), against each kernel's headers.
dkms_pkg=$(printf '%s\n' "${rpms[@]}" | grep "/dm-remap-dkms-$version-")
mkdir -p "$work/dkms-root" "$work/dkms"
(cd "$work/dkms-root" && rpm2cpio "$dkms_pkg" | cpio -idm --quiet) || die "cannot unpack $dkms_pkg"
src=$work/dkms-root/usr/src
[ -f "$src/dm-remap-$version/dkms.conf" ] || die "the -dkms package has no usr/src/dm-remap-$version/dkms.conf"
dkms=(--dkmstree "$work/dkms" --sourcetree "$src" -m dm-remap -v "$version")
dkms add "${dkms[@]}" > "$work/dkms-add.log" 2>&1 || { cat "$work/dkms-add.log" >&2; die "dkms add failed"; }
for series in 6.1 6.12; do
	abi=$(kernel_abi "$series")
	dkms build "${dkms[@]}" -k "$abi" --kernelsourcedir "$vm_cache/$abi/usr/src/linux-headers-$abi" \
		> "$work/dkms-build-$abi.log" 2>&1 ||
		{ cat "$work/dkms-build-$abi.log" "$work/dkms/dm-remap/$version/build/make.log" >&2 2> /dev/null
		  die "dkms build for $abi failed"; }
	ko=$(find "$work/dkms/dm-remap/$version/$abi" -name 'dm-remap.ko*' | head -n 1)
	[ -n "$ko" ] || die "dkms build for $abi made no dm-remap.ko"
	mkdir -p "$work/ko-$abi"
	case $ko in
	*.xz) xz -dc "$ko" > "$work/ko-$abi/dm-remap.ko" ;;
	*.zst) zstd -qdc "$ko" > "$work/ko-$abi/dm-remap.ko" ;;
	*) cp "$ko" "$work/ko-$abi/dm-remap.ko" ;;
	esac
	[ "$(modinfo -F vermagic "$work/ko-$abi/dm-remap.ko" | cut -d' ' -f1)" = "$abi" ] ||
		die "the module dkms built is not for $abi"
	echo "dkms build: dm-remap.ko for $abi"
	python3 "$packaging_src/tests/vm/vmtest.py" run --kernel "$series" --build "$build" \
		--module "$work/ko-$abi/dm-remap.ko" "$packaging_src/tests/vm/smoke/module.sh" ||
		die "the packaged module failed in $abi"
done
echo "dm-remap.spec: source and binary RPMs built, layout exact, rpmlint clean; its DKMS source builds and loads in 6.1 and 6.12"
