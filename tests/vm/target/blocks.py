#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Write or verify a deterministic pattern, block by block, with O_DIRECT.

  blocks.py write  DEV FIRST COUNT SEED [--bs 4096] [--sync]
  blocks.py verify DEV FIRST COUNT SEED [--bs 4096]
  blocks.py expect DEV BLOCK:SEED...        (one call for many single blocks)

The seed "zero" stands for a block of zeros.

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
    if seed == "zero":
        return bytes(bs)
    head = hashlib.sha256(f"{seed}:{block}".encode()).digest()
    return (head * (bs // len(head) + 1))[:bs]


def expect(argv, bs=4096):
    """Items BLOCK:SEED (must read back) or BLOCK:SEED:OLD (in flight: the
    new data, the OLD seed's data or EIO; anything else is corruption)."""
    fd = os.open(argv[0], os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, bs)
    failed = []
    for item in argv[1:]:
        block, seed, *old = item.split(":")
        try:
            os.preadv(fd, [buf], int(block) * bs)
            if buf[:] != pattern(int(block), seed, bs) and not (old and buf[:] == pattern(int(block), old[0], bs)):
                failed.append(f"{block}:mismatch")
        except OSError:
            if not old:
                failed.append(f"{block}:eio")
    # A long-lived caller (log-writes-replay.py --serve) must not keep the device open.
    os.close(fd)
    if failed:
        print(" ".join(failed))
    return 1 if failed else 0


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "expect":
        return expect(sys.argv[2:])
    p = argparse.ArgumentParser()
    p.add_argument("op", choices=["write", "verify"])
    p.add_argument("dev")
    p.add_argument("first", type=int)
    p.add_argument("count", type=int)
    p.add_argument("seed")
    p.add_argument("--bs", type=int, default=4096)
    p.add_argument("--sync", action="store_true", help="flush the device after every write")
    p.add_argument("--offset", type=int, default=0, help="sectors to add to every block's position")
    a = p.parse_args()
    fd = os.open(a.dev, (os.O_WRONLY if a.op == "write" else os.O_RDONLY) | os.O_DIRECT)
    buf = mmap.mmap(-1, a.bs)
    eio, bad, werr = [], [], []
    for b in range(a.first, a.first + a.count):
        want = pattern(b, a.seed, a.bs)
        try:
            if a.op == "write":
                buf[:] = want
                os.pwritev(fd, [buf], b * a.bs + a.offset * 512)
                if a.sync:
                    os.fsync(fd)
            else:
                os.preadv(fd, [buf], b * a.bs + a.offset * 512)
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
