#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# systemd-analyze verify of each unit in DIR (configured by meson.build);
# a template is verified as the instance NAME@r.
# Usage: verify.sh DIR UNIT_FILE...
set -eu
dir=$1
shift
[ $# -gt 0 ] || { echo "verify.sh: no units given" >&2; exit 1; }
command -v systemd-analyze > /dev/null || { echo "verify.sh: systemd-analyze not found" >&2; exit 1; }
# A directory of its own: verify loads every unit a timer triggers from
# the directory of the unit named, and nothing else may be there.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "${@/#/$dir/}" "$work/"
names=()
for u; do
	case $u in
	*@.*) names+=("$work/${u/@./@r.}") ;;
	*) names+=("$work/$u") ;;
	esac
done
# --man=no: the man page is not installed on a build machine.
# verify exits non-zero on an error; warnings (an unknown setting, a
# missing unit) are printed on stderr with the unit's name and also fail here.
out=$(systemd-analyze verify --man=no "${names[@]}" 2>&1) || { echo "$out" >&2; exit 1; }
if [ -n "$out" ]; then
	echo "systemd-analyze verify printed warnings:" >&2
	echo "$out" >&2
	exit 1
fi
echo "verified: ${names[*]##*/}"
