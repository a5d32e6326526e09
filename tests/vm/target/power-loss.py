#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Workload and checker for power-loss.sh.

  power-loss.py write  DEV BLOCK TAG none|fsync|dsync   (one stamped block)
  power-loss.py read   DEV BLOCK TAG                     (exit 0: it reads back)
  (BLOCK may be B1,B2,...: each in turn, as that many calls would, in one
  process: a Python start costs about a second under TCG)
  power-loss.py workload DEV LOG ROUND BLOCKS PREFILL SEED THREADS TARGET DM_NAME...
  power-loss.py verify DEV LOG ROUND BLOCKS

Every block written is stamped with (round, block, version) and filled
from a hash of them, so a block read back is either one exact write or
wrong. The workload logs "I block version" before a write is issued and
"A block version" only after the write (and its fdatasync, or O_DSYNC)
returned; "U block version" for a write never synced (never acknowledged),
"R block version" once that write returned (only to count what is in flight):
a remap recorded before its data was durable waits longest to be found
out under those. The log lives in guest RAM, which the cut does not touch.
"""
import fcntl
import hashlib
import mmap
import os
import random
import struct
import sys
import threading

BS = 4096
MAGIC = b"PLSTAMP1"
HEAD = struct.Struct("<8sIIQ")




def stamp(rnd, block, version, magic=MAGIC):
    head = HEAD.pack(magic, rnd, block, version)
    fill = hashlib.sha256(head).digest()
    return (head + fill * (BS // len(fill) + 1))[:BS]


def decode(buf, block):
    """(round, version) of an intact stamp for BLOCK, "zero", or None (wrong data)."""
    if buf == bytes(BS):
        return "zero"
    magic, rnd, b, version = HEAD.unpack_from(buf)
    if magic != MAGIC or b != block or buf != stamp(rnd, b, version):
        return None
    return rnd, version


def one_write(dev, block, tag, mode):
    flags = os.O_WRONLY | os.O_DIRECT | (os.O_DSYNC if mode == "dsync" else 0)
    fd = os.open(dev, flags)
    buf = mmap.mmap(-1, BS)
    buf[:] = stamp(0, block, int(tag))  # round 0: the premise checks
    os.pwritev(fd, [buf], block * BS)
    if mode == "fsync":
        os.fdatasync(fd)
    os.close(fd)
    return 0


def one_read(dev, block, tag):
    fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, BS)
    os.preadv(fd, [buf], block * BS)
    os.close(fd)
    got = decode(buf[:], block)
    if got == (0, int(tag)):
        return 0
    print(f"block {block}: {got}")
    return 1


def suspend(names):
    """dmsetup suspend NAME..., without a process start in between (under
    TCG that takes long enough for the workload to move on a lot): the
    DM_DEV_SUSPEND ioctl, one device right after the other."""
    size = 312  # struct dm_ioctl
    req = 0xC0000000 | (size << 16) | (0xFD << 8) | 6  # _IOWR(DM_IOCTL, DM_DEV_SUSPEND_CMD)
    ctl = os.open("/dev/mapper/control", os.O_RDWR)
    for name in names:
        io = bytearray(size)
        struct.pack_into("<3IIIIiIII", io, 0, 4, 0, 0, size, size, 0, 0, 1 << 1, 0, 0)  # DM_SUSPEND_FLAG
        io[48:48 + len(name)] = name.encode()
        fcntl.ioctl(ctl, req, io)
    os.close(ctl)


def workload(dev, log, rnd, blocks, prefill, seed, threads, target, freeze):
    logfd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    dsync = os.open(dev, os.O_WRONLY | os.O_DIRECT | os.O_DSYNC)
    plain = os.open(dev, os.O_WRONLY | os.O_DIRECT)
    acks, issued = [0], [0]
    lock = threading.Lock()
    cut = threading.Event()

    def note(kind, items):
        with lock:
            os.write(logfd, "".join(f"{kind} {b} {v}\n" for b, v in items).encode())
            if kind == "A":
                acks[0] += len(items)
            elif kind != "R":
                # The cut point is the issue of the TARGET-th block write, so
                # that the freeze races the target serving it (a count of
                # acknowledgements would put it right after a completion).
                issued[0] += len(items)
                if issued[0] >= target:
                    cut.set()

    # The cut comes from in here, at an exact acknowledgement count, while
    # the writers go on: "C n" when the freeze starts, "F n" once it is done.
    def freezer():
        cut.wait()
        with lock:
            os.write(logfd, f"C {acks[0]} 0\n".encode())
        try:
            suspend(freeze)
        except OSError as e:
            os.write(logfd, f"X freeze failed: {e}\n".encode())
            os._exit(3)
        with lock:
            os.write(logfd, f"F {acks[0]} 0\n".encode())

    threading.Thread(target=freezer, daemon=True).start()

    # Prefill: large sequential writes, each fdatasync'd, so that the
    # internal spare area fills early and the random phase spills onto the
    # spare device.
    # The chunks in a different order each round: blocks meet the spare
    # blocks in another order.
    chunk = 64
    buf = mmap.mmap(-1, chunk * BS)
    order = list(range(0, prefill, chunk))
    random.Random(seed).shuffle(order)
    for first in order:
        n = min(chunk, prefill - first)
        for i in range(n):
            buf[i * BS:(i + 1) * BS] = stamp(rnd, first + i, 1)
        items = [(first + i, 1) for i in range(n)]
        note("I", items)
        os.pwritev(plain, [memoryview(buf)[:n * BS]], first * BS)
        os.fdatasync(plain)
        note("A", items)

    def run(t):
        rng = random.Random(seed * 1000 + t)
        mine = list(range(t, blocks, threads))
        version = {b: (1 if b < prefill else 0) for b in mine}
        b4k = mmap.mmap(-1, BS)
        while True:
            b = rng.choice(mine)
            version[b] += 1
            v = version[b]
            b4k[:] = stamp(rnd, b, v)
            mode = rng.random()
            if mode < 0.8:
                note("I", [(b, v)])
            try:
                if mode < 0.4:
                    os.pwritev(dsync, [b4k], b * BS)
                elif mode < 0.8:
                    os.pwritev(plain, [b4k], b * BS)
                    os.fdatasync(plain)
                else:
                    # No flush follows soon: a record durable before its
                    # data stays exposed until the next one.
                    note("U", [(b, v)])
                    os.pwritev(plain, [b4k], b * BS)
                    # Returned, not acknowledged: only the harness's count
                    # of writes in flight at the cut reads it.
                    note("R", [(b, v)])
                    continue
            except OSError as e:
                # Before the cut no write may fail: the script counts these.
                os.write(logfd, f"E {b} {v} {e.errno}\n".encode())
                return
            note("A", [(b, v)])

    # Each thread owns the blocks b % threads == t, so a block's versions
    # are written in order and at most one is in flight.
    ts = [threading.Thread(target=run, args=(t,), daemon=True) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return 0


def verify(dev, log, rnd, blocks):
    acked, issued = {}, {}
    nacks = 0
    with open(log) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 3 or parts[0] not in ("I", "U", "A") or not line.endswith("\n"):
                continue
            kind, b, v = parts[0], int(parts[1]), int(parts[2])
            if kind == "A":
                nacks += 1
                acked[b] = max(acked.get(b, 0), v)
            issued[b] = max(issued.get(b, 0), v)
    fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, BS)
    bad = []
    newer = eio_unacked = zero_unacked = 0
    for b in range(blocks):
        try:
            os.preadv(fd, [buf], b * BS)
            got = decode(buf[:], b)
        except OSError as e:
            got = f"error {e.errno}"
        a = acked.get(b, 0)
        if got is None:
            head = HEAD.unpack_from(buf)
            bad.append(f"{b}: wrong data (header {head!r}), latest acknowledged version {a}")
        elif isinstance(got, str) and got.startswith("error"):
            if a:
                bad.append(f"{b}: {got}, latest acknowledged version {a}")
            else:
                eio_unacked += 1
        elif a:
            if got == "zero" or got[0] != rnd or got[1] < a:
                bad.append(f"{b}: reads {got} (round, version), latest acknowledged version {a} of round {rnd}")
            elif got[1] > issued[b]:
                bad.append(f"{b}: reads version {got[1]}, never issued (last issued {issued[b]})")
            elif got[1] > a:
                newer += 1
        elif got == "zero":
            # Every device was discarded before the round: the block's old content.
            zero_unacked += 1
        elif got[0] != rnd or got[1] > issued.get(b, 0):
            # Earlier rounds were discarded: their stamps come from nowhere.
            bad.append(f"{b}: reads {got} (round, version), never written in round {rnd}")
    os.close(fd)
    print(f"acks={nacks} blocks_acked={len(acked)} newer_unacked={newer} eio_unacked={eio_unacked} zero_unacked={zero_unacked} failures={len(bad)}")
    for line in bad:
        print(f"LOST {line}")
    return 1 if bad else 0


def main():
    op, args = sys.argv[1], sys.argv[2:]
    if op == "write":
        return max(one_write(args[0], int(b), args[2], args[3]) for b in args[1].split(","))
    if op == "read":
        return max([one_read(args[0], int(b), args[2]) for b in args[1].split(",")])
    if op == "workload":
        return workload(args[0], args[1], *map(int, args[2:8]), args[8:])
    if op == "verify":
        return verify(args[0], args[1], *map(int, args[2:4]))
    print(f"unknown op {op}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
