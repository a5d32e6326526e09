#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# blocks (C) and blocks.py write the same patterns: data one writes, the
# other verifies (log-writes-replay.py and blockio.py use blocks.py's).
#   blocks-check.sh BLOCKS BLOCKS_PY
set -eu
c=$1 py=$2
n=0
for seed in one two lost s-17 "$(printf 'x%.0s' $(seq 1 60))"; do
	for block in 0 1 9 4095 123456789; do
		a=$("$c" pattern "$seed" "$block")
		b=$(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import blocks
print(blocks.pattern(int(sys.argv[3]), sys.argv[2], 32).hex())' "$(dirname "$py")" "$seed" "$block")
		[ "$a" = "$b" ] || { echo "pattern $seed:$block: C $a, Python $b"; exit 1; }
		n=$((n + 1))
	done
done
echo "$n patterns equal"
