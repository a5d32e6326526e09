#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# blocks (C) and blocks.py write the same patterns: data one writes, the
# other verifies (log-writes-replay.py and blockio.py use blocks.py's).
#   blocks-check.sh BLOCKS BLOCKS_PY
# One Python process for all the patterns: a package build's %check runs
# this on a loaded machine, where 25 Python starts took over 30 s.
set -eu
c=$1 py=$2
for seed in one two lost s-17 "$(printf 'x%.0s' $(seq 1 60))"; do
	for block in 0 1 9 4095 123456789; do
		echo "$seed $block $("$c" pattern "$seed" "$block")"
	done
done | python3 -c '
import sys
sys.path.insert(0, sys.argv[1])
import blocks
n = 0
for line in sys.stdin:
    seed, block, c = line.split()
    py = blocks.pattern(int(block), seed, 32).hex()
    if py != c:
        sys.exit(f"pattern {seed}:{block}: C {c}, Python {py}")
    n += 1
if n != 25:
    sys.exit(f"{n} patterns compared, not 25")
print(f"{n} patterns equal")
' "$(dirname "$py")"
