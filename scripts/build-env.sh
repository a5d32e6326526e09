# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced (POSIX sh) by scripts/build and tests/packaging/lib.sh. The main
# build and the package builds (tests/packaging) compile the same sources
# with the same flags: ccache, which meson uses when it is installed,
# serves the package builds from the main one (docs/TESTING.md, time
# budget). What would make its keys differ is set alike here.

# The build directory is not in the key (each package builds in its own),
# nor is -Werror, which only the main build has.
export CCACHE_NOHASHDIR=1 CCACHE_IGNOREOPTIONS=-Werror
# A miss compiles once, its dependencies taken from -MD, instead of
# preprocessing first.
export CCACHE_DEPEND=1
# The locale is in the key: rpmbuild sets LANG=C and debhelper
# LC_ALL=C.UTF-8; every build has both.
export LANG=C LC_ALL=C.UTF-8
unset LC_CTYPE LC_MESSAGES
# Fixed now, before dpkg-buildpackage gives its build a HOME of its own.
if command -v ccache > /dev/null; then
	CCACHE_DIR=${CCACHE_DIR:-$(ccache -k cache_dir)}
	export CCACHE_DIR
fi

# main_build_flags: CFLAGS, CXXFLAGS, CPPFLAGS and LDFLAGS exported as
# debian/rules builds with them (Debian's dpkg-buildflags, hardening=+all),
# or -O2 -g where there is no dpkg-buildflags.
main_build_flags() {
	if command -v dpkg-buildflags > /dev/null; then
		eval "$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --export=sh)"
	else
		export CFLAGS="-g -O2" CXXFLAGS="-g -O2"
	fi
}
