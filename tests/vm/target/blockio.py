#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Block I/O and dm-remap uevents for a guest script, one request a line on
stdin, one reply a line on stdout: a single interpreter for many steps
(starting python3 costs seconds in a TCG guest).

  read DEV FIRST COUNT SEED    -> ok, or "BLOCK:<errno name, e.g. EIO>|mismatch ..."
                                  (one O_DIRECT read a block)
  write DEV FIRST COUNT SEED   -> ok | <errno name>   (one O_DIRECT write)
  uevents DEVNAME              -> how many DM_REMAP uevents of DEVNAME (dm-N)
                                  arrived since the start
  uevent DEVNAME N             -> "<ACTION> <REMAPPED> <PENDING> <EXHAUSTED>"
                                  of the one numbered N (from 0), once it
                                  arrived, or "timeout" (60 s)

Patterns are blocks.py's. Prints "ready" once the uevent socket is bound.
"""
import errno
import mmap
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from blocks import pattern  # noqa: E402

BS = 4096
seen = {}  # DEVNAME -> list of uevent field dicts
cond = threading.Condition()


def listen(sock):
    while True:
        fields = sock.recv(65536).split(b"\0")
        ev = dict(f.decode(errors="replace").split("=", 1) for f in fields[1:] if b"=" in f)
        if ev.get("DM_REMAP_EVENT") == "1":
            with cond:
                seen.setdefault(ev.get("DEVNAME", ""), []).append(ev)
                cond.notify_all()


def errname(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def write(dev, first, count, seed):
    buf = mmap.mmap(-1, count * BS)
    buf.write(b"".join(pattern(b, seed, BS) for b in range(first, first + count)))
    fd = os.open(dev, os.O_WRONLY | os.O_DIRECT)
    try:
        os.pwritev(fd, [buf], first * BS)
        return "ok"
    except OSError as e:
        return errname(e)
    finally:
        os.close(fd)


def read(dev, first, count, seed):
    buf = mmap.mmap(-1, BS)
    fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
    failed = []
    for b in range(first, first + count):
        try:
            os.preadv(fd, [buf], b * BS)
            if buf[:] != pattern(b, seed, BS):
                failed.append(f"{b}:mismatch")
        except OSError as e:
            failed.append(f"{b}:{errname(e)}")
    os.close(fd)
    return " ".join(failed) or "ok"


def uevent(dev, n):
    with cond:
        if not cond.wait_for(lambda: len(seen.get(dev, [])) > n, timeout=60):
            return "timeout"
        ev = seen[dev][n]
    return " ".join(ev.get(k, "-") for k in ("ACTION", "DM_REMAP_REMAPPED", "DM_REMAP_PENDING", "DM_REMAP_EXHAUSTED"))


def main():
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 15)  # NETLINK_KOBJECT_UEVENT
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind((0, 1))
    threading.Thread(target=listen, args=(sock,), daemon=True).start()
    print("ready", flush=True)
    for line in sys.stdin:
        a = line.split()
        if a[0] in ("read", "write"):
            r = (read if a[0] == "read" else write)(a[1], int(a[2]), int(a[3]), a[4])
        elif a[0] == "uevent":
            r = uevent(a[1], int(a[2]))
        elif a[0] == "uevents":
            with cond:
                r = str(len(seen.get(a[1], [])))
        else:
            r = f"unknown request {a[0]}"
        print(r, flush=True)


if __name__ == "__main__":
    main()
