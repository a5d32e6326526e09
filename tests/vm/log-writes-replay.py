#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Replay a dm-log-writes log onto a device, up to a mark.

  log-writes-replay.py --log LOGDEV [--list | --count | --points [--sectors]]
  log-writes-replay.py --log LOGDEV --replay DEV [--end-mark MARK | [--start K] --limit N] [--zero]
  log-writes-replay.py --log LOGDEV --replay DEV --serve

--serve keeps one process for a whole crash test: each line N read from
stdin replays the entries up to N (from where the last one stopped) and
answers "at N"; a line "expect DEV BLOCK:SEED..." checks blocks as
`blocks.py expect` does and answers "ok" or "fail WHAT" (one process, not
one per crash point: under TCG a Python start costs most of a second). --points lists the N after which the device differs from
N - 1 (marks write nothing: a crash right after one is the crash before it).

Debian ships no replay tool, so this follows the log format of
drivers/md/dm-log-writes.c: a super block (magic, version, nr_entries,
sectorsize) at sector 0, then per entry one sectorsize block holding
{sector, nr_sectors, flags, data_len} (for a mark, followed by the mark
text) and, for a write, nr_sectors blocks of data. Sectors in entries are
in units of sectorsize. Writes are logged once a flush (or FUA) made them
durable, so replaying up to a mark reproduces the device as a crash right
after that mark would have left it at worst.
"""
import argparse
import contextlib
import importlib.util
import io
import os
import struct
import sys

MAGIC = 0x6A736677736872
FLUSH, FUA, DISCARD, MARK = 1, 2, 4, 8


def entries(log):
    sb = os.pread(log, 28, 0)
    magic, version, nr, ss = struct.unpack("<QQQI", sb)
    if magic != MAGIC or version != 1:
        raise SystemExit(f"log-writes-replay: not a dm-log-writes log (magic {magic:#x}, version {version})")
    pos = ss
    for i in range(nr):
        hdr = os.pread(log, ss, pos)
        sector, nr_sectors, flags, data_len = struct.unpack_from("<QQQQ", hdr)
        mark = hdr[32:32 + data_len].decode(errors="replace") if flags & MARK else None
        data_pos = pos + ss
        pos += ss
        if not flags & (DISCARD | MARK):
            pos += nr_sectors * ss
        yield i, ss, sector, nr_sectors, flags, mark, data_pos


def apply(log, dev, ss, sector, nr, flags, data_pos):
    if flags & DISCARD:
        os.pwrite(dev, bytes(nr * ss), sector * ss)
    elif nr:
        os.pwrite(dev, os.pread(log, nr * ss, data_pos), sector * ss)
    if flags & (FLUSH | FUA):
        os.fsync(dev)


def load_blocks():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "target", "blocks.py")
    spec = importlib.util.spec_from_file_location("blocks", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def serve(log, dev):
    blocks = load_blocks()
    it = entries(log)
    at = 0
    for line in sys.stdin:
        words = line.split()
        if words[0] == "expect":
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                rc = blocks.expect(words[1:])
            print("ok" if rc == 0 else "fail " + " ".join(out.getvalue().split()), flush=True)
            continue
        limit = int(words[0])
        while at < limit:
            i, ss, sector, nr, flags, mark, data_pos = next(it)
            if mark is None:
                apply(log, dev, ss, sector, nr, flags, data_pos)
            at = i + 1
        os.fsync(dev)
        print(f"at {at}", flush=True)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--log", required=True)
    p.add_argument("--replay")
    p.add_argument("--end-mark")
    p.add_argument("--limit", type=int, help="apply only entries before N (a crash at any point)")
    p.add_argument("--start", type=int, default=0, help="skip entries before N (already replayed)")
    p.add_argument("--list", action="store_true", help="print the marks in log order")
    p.add_argument("--count", action="store_true", help="print the number of entries")
    p.add_argument("--zero", action="store_true", help="zero the replay device first")
    p.add_argument("--points", action="store_true", help="print every N at which a crash leaves a new state")
    p.add_argument("--sectors", action="store_true",
                   help="with --points: also the 512-byte sector and the length of the write that made it")
    p.add_argument("--serve", action="store_true", help="replay up to each N read from stdin")
    a = p.parse_args()
    log = os.open(a.log, os.O_RDONLY)
    if a.count:
        print(struct.unpack("<QQQI", os.pread(log, 28, 0))[2])
        return 0
    if a.list:
        for i, _, _, _, _, mark, _ in entries(log):
            if mark is not None:
                print(f"{i} {mark}")
        return 0
    if a.points:
        for i, ss, sector, nr, _, mark, _ in entries(log):
            if mark is None:
                print(f"{i + 1} {sector * ss // 512} {nr * ss // 512}" if a.sectors else i + 1)
        return 0
    if not a.replay:
        p.error("--replay or --list is required")
    dev = os.open(a.replay, os.O_RDWR)
    if a.serve:
        return serve(log, dev)
    if a.zero:
        size = os.lseek(dev, 0, os.SEEK_END)
        chunk = bytes(1 << 20)
        for off in range(0, size, len(chunk)):
            os.pwrite(dev, chunk[:min(len(chunk), size - off)], off)
    found = a.end_mark is None
    applied = 0
    for i, ss, sector, nr, flags, mark, data_pos in entries(log):
        if a.limit is not None and i >= a.limit:
            break
        if i < a.start:
            continue
        if mark is not None:
            if mark == a.end_mark:
                found = True
                break
            continue
        apply(log, dev, ss, sector, nr, flags, data_pos)
        applied += 1
    os.fsync(dev)
    if not found:
        print(f"log-writes-replay: mark {a.end_mark!r} not in the log", file=sys.stderr)
        return 1
    print(f"replayed {applied} entries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
