#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Write or verify a deterministic pattern, block by block, with O_DIRECT.

  blocks.py write  DEV FIRST COUNT SEED [--bs 4096]
  blocks.py verify DEV FIRST COUNT SEED [--bs 4096]

verify prints "eio B1 B2 ..." for blocks that failed to read and exits 2
if any block read back different data (silent corruption: never allowed),
1 if only read errors happened, 0 if all blocks verified.
"""
import argparse
import hashlib
import mmap
import os
import sys


def pattern(block, seed, bs):
    head = hashlib.sha256(f"{seed}:{block}".encode()).digest()
    return (head * (bs // len(head) + 1))[:bs]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("op", choices=["write", "verify"])
    p.add_argument("dev")
    p.add_argument("first", type=int)
    p.add_argument("count", type=int)
    p.add_argument("seed")
    p.add_argument("--bs", type=int, default=4096)
    a = p.parse_args()
    fd = os.open(a.dev, (os.O_WRONLY if a.op == "write" else os.O_RDONLY) | os.O_DIRECT)
    buf = mmap.mmap(-1, a.bs)
    eio, bad, werr = [], [], []
    for b in range(a.first, a.first + a.count):
        want = pattern(b, a.seed, a.bs)
        try:
            if a.op == "write":
                buf[:] = want
                os.pwritev(fd, [buf], b * a.bs)
            else:
                os.preadv(fd, [buf], b * a.bs)
                if buf[:] != want:
                    bad.append(b)
        except OSError:
            (werr if a.op == "write" else eio).append(b)
    if werr:
        print("write-errors " + " ".join(map(str, werr)))
        return 1
    if eio:
        print("eio " + " ".join(map(str, eio)))
    if bad:
        print("MISMATCH " + " ".join(map(str, bad)))
        return 2
    return 1 if eio else 0


if __name__ == "__main__":
    sys.exit(main())
