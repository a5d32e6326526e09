#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# check-exports.sh LIB: LIB's dynamic symbols are the C API (bd_remap_*)
# and nothing else, all under the BD_REMAP_1.0 version node.
set -eu
lib=$1
syms=$(nm -D --defined-only "$lib" | awk '$2 != "A" {print $3}')
api=$(printf '%s\n' "$syms" | grep -c '^bd_remap_' || :)
other=$(printf '%s\n' "$syms" | grep -v '^bd_remap_' || :)
if [ -n "$other" ]; then
	echo "FAIL: $lib exports more than bd_remap_*:" >&2
	printf '%s\n' "$other" | head -20 >&2
	exit 1
fi
[ "$api" -ge 20 ] || { echo "FAIL: $lib exports only $api bd_remap_* symbols" >&2; exit 1; }
unversioned=$(objdump -T "$lib" | awk '$NF ~ /^bd_remap_/ && $(NF-1) != "BD_REMAP_1.0"' | wc -l)
[ "$unversioned" = 0 ] || { echo "FAIL: $unversioned bd_remap_* symbols outside BD_REMAP_1.0" >&2; exit 1; }
# The options functions of .so.1 (added before its first release, so in the same node).
for f in bd_remap_create_full bd_remap_assemble_full; do
	objdump -T "$lib" | awk -v f="$f" '$NF == f && $(NF-1) == "BD_REMAP_1.0" && $4 == ".text" {ok = 1} END {exit !ok}' ||
		{ echo "FAIL: $f is not exported under BD_REMAP_1.0" >&2; exit 1; }
done
echo "$lib: $api symbols, all bd_remap_* under BD_REMAP_1.0"
