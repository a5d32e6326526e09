#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Black-box tests of dmremapctl: format, dump, check, restore, probe, table;
the commands on active devices as far as they work without the kernel
target (usage errors, refusals, device-mapper missing); the man page and the
bash completion.

Only image files in a private temp dir and loop devices created here are
touched. Tests that need root, loop devices or mounts skip when unavailable.
Run: python3 tests/cli/test_cli.py   (binary: $DMREMAPCTL)
"""
import json
import os
import random
import re
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import unittest

BIN = os.environ.get("DMREMAPCTL", "/work/main/build/tools/dmremapctl")
MiB = 1 << 20
BLK = 4096                      # metadata block size
MD_OFFSET = 2 * BLK             # metadata area: slot 0, slot 1, journal; twice (mirror)
DEFAULT_MAX = 1048576           # default --max-remaps

# Superblock field offsets (kernel/dm-remap-format.h).
SB = {"version": (12, "<I"), "ro_compat": (20, "<I"),
      "incompat": (24, "<I"), "block_size": (28, "<I"), "sb_copy": (68, "<I"), "sb_location": (72, "<Q"),
      "generation": (80, "<Q"), "spare_offset": (144, "<Q")}
SNAP_ECSUM = 52                 # snapshot header: entries_csum
# Exit statuses (dmremapctl(8), EXIT STATUS).
FAILED, USAGE, NOT_FOUND, REFUSED, NOT_AUTHORIZED, DAMAGED = 1, 2, 3, 4, 5, 6


def _crc_entry(c):
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    return c


_CRC = [_crc_entry(i) for i in range(256)]


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = (c >> 8) ^ _CRC[(c ^ b) & 0xFF]
    return c ^ 0xFFFFFFFF


def with_csum(block):
    """Block with its crc32c at byte 8 recomputed (field zeroed while summing)."""
    b = bytearray(block)
    b[8:12] = b"\0\0\0\0"
    b[8:12] = struct.pack("<I", crc32c(b))
    return bytes(b)


def read_at(path, off, n):
    with open(path, "rb") as f:
        f.seek(off)
        return f.read(n)


def write_at(path, off, data):
    with open(path, "r+b") as f:
        f.seek(off)
        f.write(data)


def flip(path, off):
    write_at(path, off, bytes([read_at(path, off, 1)[0] ^ 0xFF]))


def patch_sb(path, copy, **fields):
    blk = bytearray(read_at(path, copy * BLK, BLK))
    for name, value in fields.items():
        off, fmt = SB[name]
        struct.pack_into(fmt, blk, off, value)
    write_at(path, copy * BLK, with_csum(blk))


def md_copy_bytes(max_entries=DEFAULT_MAX, journal_blocks=256):
    """One copy of the metadata area; format writes two, one after the other."""
    return (2 * (1 + 4 + max_entries // 256) + journal_blocks) * BLK


def slot_offset(slot, max_entries=DEFAULT_MAX, copy=0):
    """Slot 0, slot 1; slot 2 is where the journal ring starts."""
    return MD_OFFSET + copy * md_copy_bytes(max_entries) + slot * (1 + 4 + max_entries // 256) * BLK


def write_both(path, off, data):
    """Writes at `off` (in metadata copy 0) and the same place in copy 1, as the writers do."""
    for copy in (0, 1):
        write_at(path, off + copy * md_copy_bytes(), data)


def journal_record(set_uuid, seq, updates, generation=1):
    """A valid commit record; updates are (data_block, spare_block, spare_index, state) tuples."""
    b = bytearray(BLK)
    struct.pack_into("<QII16sQQ", b, 0, 0x4C4E524A2D524D44, 0, len(updates),
                     bytes.fromhex(set_uuid.replace("-", "")), seq, generation)
    for i, u in enumerate(updates):
        struct.pack_into("<QIHH", b, 64 + 16 * i, *u)
    return with_csum(b)


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="dmremapctl-test-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def ctl(self, *args, rc=0, err=None, out=None):
        p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, rc, "dmremapctl %s\nstdout: %s\nstderr: %s" %
                         (" ".join(args), p.stdout, p.stderr))
        for frag in ([err] if isinstance(err, str) else err or []):
            self.assertIn(frag, p.stderr)
        for frag in ([out] if isinstance(out, str) else out or []):
            self.assertIn(frag, p.stdout)
        return p

    def jctl(self, *args, rc=0):
        return json.loads(self.ctl(*args, rc=rc).stdout)

    def check(self, *paths, rc):
        return self.jctl("check", "--json", *paths, rc=rc)

    def codes(self, *paths, rc=DAMAGED):
        return {p["code"] for p in self.check(*paths, rc=rc)["problems"]}

    def problem(self, report, code):
        found = [p for p in report["problems"] if p["code"] == code]
        self.assertTrue(found, "no %s in %s" % (code, report["problems"]))
        return found[0]

    def img(self, name, size):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.truncate(size)
        return path

    def new_set(self, spares=1, data_size=128 * MiB, spare_size=96 * MiB, opts=(), prefix=""):
        paths = [self.img(prefix + "data.img", data_size)]
        paths += [self.img("%sspare%d.img" % (prefix, i + 1), spare_size) for i in range(spares)]
        fmt = self.jctl("format", "--json", *opts, *paths)
        return paths, fmt

    def mkfs_ext4(self, path):
        if not shutil.which("mkfs.ext4"):
            self.skipTest("mkfs.ext4 not installed")
        subprocess.run(["mkfs.ext4", "-q", "-F", path], check=True, capture_output=True)

    def write_dump(self, member, edit=None, name="dump.json"):
        d = self.jctl("dump", "--json", member)
        if edit:
            edit(d)
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            json.dump(d, f)
        return path

    REMAPS = [{"block": 5, "state": "remapped", "spare_member": 1, "spare_block": 3, "lost": False},
              {"block": 9, "state": "pending", "spare_member": None, "spare_block": None, "lost": False}]
    RETIRED = [{"spare_member": 0, "spare_block": 7}]

    def add_remaps(self, d):
        d["remaps"] = [dict(r) for r in self.REMAPS]
        d["retired"] = [dict(r) for r in self.RETIRED]

    def restore_remaps(self, paths, targets=None):
        dump = self.write_dump(paths[0], self.add_remaps, "remaps.json")
        return self.jctl("restore", "--json", "--from", dump, *(targets or paths))

    def commit(self, paths, set_uuid, seq, updates, block=None):
        """Append a journal record as the kernel would (block: misplace it on purpose)."""
        for p in paths:
            write_both(p, slot_offset(2) + (seq % 256 if block is None else block) * BLK,
                       journal_record(set_uuid, seq, updates))

    def need_root(self):
        # As root (how scripts/test runs) loop devices and mounts must work:
        # only an unprivileged developer's run skips these.
        if os.geteuid() != 0:
            self.skipTest("needs root for loop devices and mounts")
        self.assertTrue(shutil.which("losetup"), "losetup not installed (scripts/install-deps)")

    def loop(self, path):
        self.need_root()
        p = subprocess.run(["losetup", "--find", "--show", path], capture_output=True, text=True)
        self.assertTrue(p.returncode == 0 and p.stdout.startswith("/dev/loop"), "losetup failed: " + p.stderr.strip())
        dev = p.stdout.strip()
        self.addCleanup(subprocess.run, ["losetup", "-d", dev], capture_output=True)
        return dev

    def mount(self, dev):
        mnt = os.path.realpath(os.path.join(self.dir, "mnt"))
        os.mkdir(mnt)
        p = subprocess.run(["mount", dev, mnt], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, "mount failed: " + p.stderr.strip())
        self.addCleanup(subprocess.run, ["umount", mnt], capture_output=True)
        return mnt


class TestExitStatus(Base):
    """One real situation for each exit status of dmremapctl(8), EXIT STATUS."""

    def as_nobody(self, *args):
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", BIN, *args],
                           capture_output=True, text=True, timeout=120)
        return p.returncode, p.stdout, p.stderr

    def test_usage(self):
        (d, s), _ = self.new_set()
        self.ctl("check", "--bogus", d, rc=USAGE, err="dmremapctl check: unknown option '--bogus'")
        self.ctl("dump", rc=USAGE, err="dmremapctl dump: missing MEMBER")
        # --no-ask-password is dmremapctl's own option: before the command only.
        self.ctl("--no-ask-password", rc=USAGE, err="Usage: dmremapctl [--no-ask-password] COMMAND")
        self.ctl("check", "--no-ask-password", d, rc=USAGE, err="dmremapctl check: unknown option '--no-ask-password'")
        self.ctl("--no-ask-password", "check", d, s, out="clean:")

    def test_not_found(self):
        missing = os.path.join(self.dir, "nope.img")
        for cmd in ("format", "dump", "check", "probe", "table"):
            with self.subTest(cmd=cmd):
                self.ctl(cmd, missing, rc=NOT_FOUND,
                         err="dmremapctl %s: %s" % (cmd, missing) if cmd != "table" else missing)
                self.assertIn("No such file or directory", self.ctl(cmd, missing, rc=NOT_FOUND).stderr)
        self.assertFalse(os.path.exists(missing))

    def test_refused(self):
        (d, s), f = self.new_set(opts=("--name", "first"))
        self.ctl("format", d, rc=REFUSED, err="dmremapctl format: %s: already data member 0 of remap set 'first'" % d)
        img = self.img("fs.img", 128 * MiB)
        self.mkfs_ext4(img)
        dev = self.loop(img)
        mnt = self.mount(dev)
        self.ctl("format", "--force", dev, rc=REFUSED, err="dmremapctl format: %s: mounted at %s\n" % (dev, mnt))
        self.assertTrue(os.path.ismount(mnt))

    def test_not_authorized(self):
        """A user who may not open the member: the status polkit's refusal has too."""
        self.need_root()
        (d, s), _ = self.new_set()
        os.chmod(self.dir, 0o755)
        for path in (d, s):
            os.chmod(path, 0o600)
        for args in (("dump", d), ("check", d, s), ("format", "--force", s)):
            with self.subTest(args=args):
                rc, out, err = self.as_nobody(*args)
                self.assertEqual((rc, out), (NOT_AUTHORIZED, ""), err)
                self.assertIn("dmremapctl %s: %s" % (args[0], d if args[0] != "format" else s), err)
                self.assertIn("Permission denied", err)
        self.check(d, s, rc=0)  # root may, and format wrote nothing

    def test_damaged(self):
        (d, s), _ = self.new_set()
        self.check(d, s, rc=0)
        flip(d, 100)  # superblock copy 0: its checksum no longer matches
        r = self.check(d, s, rc=DAMAGED)
        self.assertEqual((r["clean"], r["errors"]), (False, 1))
        self.ctl("check", d, s, rc=DAMAGED, out="damaged: 1 errors")
        # A zeroed device has no superblock to dump: damaged as check says.
        z = self.img("zero.img", 64 * MiB)
        self.ctl("check", z, rc=DAMAGED, out="[not-a-member]")
        self.ctl("dump", z, rc=DAMAGED, err="%s: not a dm-remap member (no valid superblock)" % z)

    def test_failed(self):
        d = self.img("small.img", 4096)
        self.ctl("format", d, rc=FAILED, err="dmremapctl format: %s: too small" % d)
        junk = self.img("junk.json", 10)
        (m,), _ = self.new_set(spares=0)
        self.ctl("restore", "--from", junk, m, rc=FAILED, err="%s: not valid JSON" % junk)


class TestMain(Base):
    def test_commands_and_help(self):
        self.ctl(rc=2, err="Usage: dmremapctl [--no-ask-password] COMMAND")
        self.ctl("frobnicate", rc=2, err="dmremapctl: unknown command 'frobnicate'")
        p = self.ctl("--help", out="Usage: dmremapctl [--no-ask-password] COMMAND")
        for cmd in ("format", "dump", "check", "restore", "probe", "table"):
            self.assertIn("  " + cmd, p.stdout)
        self.ctl("format", "--help", out="--internal-spare SIZE")


class TestFormat(Base):
    def test_text_output(self):
        d, s = self.img("d.img", 128 * MiB), self.img("s.img", 96 * MiB)
        p = self.ctl("format", "--name", "vol1", d, s)
        self.assertRegex(p.stdout, r"^Formatted remap set 'vol1' \([0-9a-f-]{36}\), block size 4096\n")
        self.assertIn("  data member 0: %s (128.0 MiB)\n" % d, p.stdout)
        self.assertIn("  spare member 1: %s (96.0 MiB)\n" % s, p.stdout)
        # Two copies of the metadata area (33 MiB each) come before the data.
        self.assertIn("    data area:     57.0 MiB at sector 137216\n", p.stdout)
        self.assertIn("    metadata:      66.1 MiB in 2 copies, room for 1048576 remaps\n", p.stdout)
        # Image files get the losetup hint instead of an unusable table line.
        self.assertTrue(p.stdout.endswith("Image files: attach them with 'losetup --find --show FILE', then\n"
                                          "  dmremapctl assemble LOOP_DEV...\n"))
        self.assertNotIn("Device-mapper table:", p.stdout)

    def test_json_matches_dump(self):
        uuid = "0123abcd-4567-489a-8bcd-ef0123456789"
        (d, s), f = self.new_set(opts=("--name", "db-1", "--uuid", uuid.upper()))
        self.assertEqual((f["set_uuid"], f["name"], f["block_size"]), (uuid, "db-1", 4096))
        self.assertEqual(f["data_offset_sectors"] % 2048, 0)
        self.assertEqual([m["path"] for m in f["members"]], [d, s])
        self.assertEqual([(m["index"], m["role"]) for m in f["members"]], [(0, "data"), (1, "spare")])
        data = f["members"][0]
        self.assertEqual((data["member_sectors"], data["spare_offset_sectors"] + data["spare_sectors"],
                          f["data_offset_sectors"] + f["data_sectors"]),
                         (128 * MiB // 512, 128 * MiB // 512, data["spare_offset_sectors"]))
        same = ("set_uuid", "name", "block_size", "data_offset_sectors", "data_sectors", "max_entries")
        fmembers = [{k: v for k, v in m.items() if k != "path"} for m in f["members"]]
        for path, fm in zip((d, s), f["members"]):
            j = self.jctl("dump", "--json", path)
            self.assertEqual({k: j[k] for k in same}, {k: f[k] for k in same})
            self.assertEqual((j["remaps"], j["seq"], j["member"]["uuid"]), ([], 1, fm["uuid"]))
            self.assertEqual(j["member"]["superblock_copies_valid"], [True, True])
            self.assertEqual([{k: m[k] for k in fmembers[0]} for m in j["members"]], fmembers)

    def test_options(self):
        d = self.img("d.img", 256 * MiB)
        cases = [(("--block-size", "512"), lambda f: f["block_size"] == 512 and f["members"][0]["spare_blocks"]
                  == f["members"][0]["spare_sectors"]),
                 (("--block-size", "64K"), lambda f: f["block_size"] == 65536 and f["data_sectors"] % 128 == 0),
                 (("--internal-spare", "8M"), lambda f: f["members"][0]["spare_sectors"] == 16384),
                 # 10% of 256 MiB = 26843545 bytes, rounded up to 1 MiB: 26 MiB
                 (("--internal-spare", "10%"), lambda f: f["members"][0]["spare_sectors"] == 26 * 2048),
                 (("--internal-spare", "0"), lambda f: f["members"][0]["spare_sectors"] == 0 and
                  f["data_offset_sectors"] + f["data_sectors"] == 256 * 2048),
                 (("--internal-spare", "0%"), lambda f: f["members"][0]["spare_sectors"] == 0),
                 (("--max-remaps", "300"), lambda f: f["max_entries"] == 512),
                 (("--max-remaps", "256"), lambda f: f["max_entries"] == 256 and f["data_offset_sectors"] == 6144)]
        for opts, ok in cases:
            with self.subTest(opts=opts):
                f = self.jctl("format", "--force", "--json", *opts, d)
                self.assertTrue(ok(f), f)
                self.assertEqual(f["data_offset_sectors"] % 2048, 0)
                j = self.jctl("dump", "--json", d)
                self.assertEqual((j["block_size"], j["max_entries"], j["data_sectors"]),
                                 (f["block_size"], f["max_entries"], f["data_sectors"]))
                self.ctl("check", d, out="clean: 0 errors")

    def test_usage_errors(self):
        d = self.img("d.img", 128 * MiB)
        cases = [((), "format: missing DATA_DEV"),
                 (("--bogus", d), "format: unknown option '--bogus'"),
                 (("--name",), "format: option '--name' needs a value"),
                 (("--name", "x", "--name", "y", d), "format: option '--name' given twice"),
                 (("--json=yes", d), "format: option '--json' takes no value"),
                 (("--block-size", "128K", d), "format: --block-size '128K' is not a"),
                 (("--block-size", "abc", d), "format: --block-size 'abc' is not a"),
                 (("--block-size", "3000", d), "format: --block-size '3000' is not a"),
                 (("--block-size", "256", d), "format: --block-size '256' is not a"),
                 (("--name", "a/b", d), "'a/b' is not a valid device name"),
                 (("--uuid", "not-a-uuid", d), "format: --uuid 'not-a-uuid' is not a UUID"),
                 (("--uuid", "00000000-0000-0000-0000-000000000000", d), "is not a UUID"),
                 (("--internal-spare", "51%", d), "--internal-spare '51%' must be 0% to 50%"),
                 (("--internal-spare", "lots", d), "--internal-spare 'lots' is not a size (e.g. 64M, 1G, 2%)"),
                 (("--max-remaps", "100", d), "--max-remaps '100' must be a number from 256 to 16777216")]
        for args, msg in cases:  # bad option values are bad command lines: exit 2 before any I/O
            with self.subTest(args=args):
                p = self.ctl("format", *args, rc=2, err=[msg, "Try 'dmremapctl format --help'."])
                if args[:1] == ("--block-size",):
                    self.assertRegex(p.stderr, r"512 (and|to) 65536")
        self.assertEqual(self.ctl("probe", d).stdout, "")

    def test_missing_or_too_small(self):
        missing = os.path.join(self.dir, "nope.img")
        self.ctl("format", missing, rc=NOT_FOUND, err="dmremapctl format: %s: No such file or directory" % missing)
        for size in (0, 4096, 32 * MiB):
            with self.subTest(size=size):
                d = self.img("small.img", size)
                self.ctl("format", d, rc=1, err="dmremapctl format: %s: too small" % d)
        d, s = self.img("d.img", 128 * MiB), self.img("s.img", 16 * MiB)
        self.ctl("format", d, s, rc=1, err="%s: too small for a spare" % s)
        self.assertEqual(self.ctl("probe", d).stdout, "")  # nothing written on the data device

    def test_given_twice(self):
        d = self.img("d.img", 128 * MiB)
        self.ctl("format", d, d, rc=1, err="%s: given twice" % d)
        alias = os.path.join(self.dir, ".", "d.img")
        self.ctl("format", d, alias, rc=1, err="%s: given twice" % alias)

    def test_already_member(self):
        (d, s), f = self.new_set(opts=("--name", "first"))
        self.ctl("format", d, rc=REFUSED, err="%s: already data member 0 of remap set 'first' (%s); use --force to "
                 "overwrite" % (d, f["set_uuid"]))
        self.ctl("format", self.img("x.img", 128 * MiB), s, rc=REFUSED,
                 err="%s: already spare member 1 of remap set 'first'" % s)
        g = self.jctl("format", "--force", "--json", "--name", "second", d)
        self.assertNotEqual(g["set_uuid"], f["set_uuid"])
        self.ctl("probe", d, out="DM_REMAP_NAME=second\n")
        h = self.jctl("format", "--force", "--json", d)  # default name from the set UUID
        self.assertEqual(h["name"], "remap-" + h["set_uuid"][:8])

    def test_foreign_signature(self):
        d = self.img("d.img", 128 * MiB)
        self.mkfs_ext4(d)
        blkid = lambda: subprocess.run(["blkid", "-p", "-o", "export", d], capture_output=True, text=True).stdout
        self.assertIn("TYPE=ext4", blkid())
        self.ctl("format", d, rc=REFUSED, err=["%s: contains a" % d, "ext4 filesystem", "use --force"])
        self.assertIn("TYPE=ext4", blkid())  # refused means untouched
        self.ctl("format", "--force", d)
        self.assertNotIn("ext4", blkid())
        self.ctl("probe", d, out=["ID_FS_TYPE=dm_remap_member\n", "DM_REMAP_ROLE=data\n"])
        self.ctl("check", d, out="clean:")

    def test_mounted_device(self):
        self.need_root()
        img = self.img("fs.img", 128 * MiB)
        self.mkfs_ext4(img)
        dev = self.loop(img)
        mnt = self.mount(dev)
        for force in ((), ("--force",)):
            with self.subTest(force=force):
                self.ctl("format", *force, dev, rc=REFUSED, err="%s: mounted at %s" % (dev, mnt))
        self.assertTrue(os.path.ismount(mnt))
        self.assertIn("TYPE=ext4", subprocess.run(["blkid", "-p", "-o", "export", dev],
                                                  capture_output=True, text=True).stdout)

    def test_loop_backing_file(self):
        d = self.img("d.img", 128 * MiB)
        dev = self.loop(d)
        for force in ((), ("--force",)):
            with self.subTest(force=force):
                self.ctl("format", *force, d, rc=REFUSED, err="%s: backs %s" % (d, dev))
        self.assertEqual(self.ctl("probe", dev).stdout, "")

    def test_format_loop_devices(self):
        self.need_root()
        d, s = self.img("d.img", 128 * MiB), self.img("s.img", 96 * MiB)
        ld, ls = self.loop(d), self.loop(s)
        p = self.ctl("format", "--name", "loopset", ld, ls)
        table = self.ctl("table", ld, ls).stdout
        self.assertIn("Device-mapper table: " + table, p.stdout)
        self.ctl("probe", s, out="DM_REMAP_NAME=loopset\n")  # same bytes through the image file


class TestProbe(Base):
    def test_members(self):
        (d, s), f = self.new_set(opts=("--name", "probed"))
        for path, m in zip((d, s), f["members"]):
            props = dict(line.split("=", 1) for line in self.ctl("probe", path).stdout.splitlines())
            want = {"ID_FS_TYPE": "dm_remap_member", "ID_FS_USAGE": "raid", "ID_FS_UUID": f["set_uuid"],
                    "DM_REMAP_SET_UUID": f["set_uuid"], "DM_REMAP_MEMBER_UUID": m["uuid"], "DM_REMAP_NAME": "probed",
                    "DM_REMAP_ROLE": m["role"], "DM_REMAP_INDEX": str(m["index"]),
                    "DM_REMAP_DATA_SECTORS": str(f["data_sectors"])}
            self.assertEqual({k: props.get(k) for k in want}, want)

    def test_non_members(self):
        zero = self.img("zero.img", 16 * MiB)
        tiny = self.img("tiny.img", 100)
        ext4 = self.img("ext4.img", 64 * MiB)
        self.mkfs_ext4(ext4)
        for path in (zero, tiny, ext4):
            with self.subTest(path=path):
                p = self.ctl("probe", path)
                self.assertEqual((p.stdout, p.stderr), ("", ""))
        self.ctl("probe", rc=2, err="probe: missing DEV")
        self.ctl("probe", os.path.join(self.dir, "nope"), rc=NOT_FOUND, err="No such file or directory")

    def test_one_copy_left(self):
        (d, _), f = self.new_set()
        for copy in (0, 1):
            with self.subTest(copy=copy):
                saved = read_at(d, copy * BLK, BLK)
                write_at(d, copy * BLK, bytes(BLK))
                self.ctl("probe", d, out=["ID_FS_TYPE=dm_remap_member\n",
                                          "DM_REMAP_SET_UUID=%s\n" % f["set_uuid"]])
                write_at(d, copy * BLK, saved)
        write_at(d, 0, bytes(2 * BLK))
        self.assertEqual(self.ctl("probe", d).stdout, "")


class TestDump(Base):
    def test_text(self):
        (d, s), f = self.new_set(opts=("--name", "dumped"))
        self.restore_remaps([d, s])
        p = self.ctl("dump", s)
        self.assertIn("Member %s: spare member 1 of set 'dumped'\n" % s, p.stdout)
        self.assertIn("  superblock copies: 0 valid, 1 valid\n", p.stdout)
        self.assertIn("Remap state: commit 2, generation 1\n", p.stdout)
        self.assertIn("Remaps: 1 remapped, 1 pending, 1 retired spare blocks\n", p.stdout)
        self.assertRegex(p.stdout, r"\n  5 +remapped +1:3\n  9 +pending +-\n  - +retired +0:7\n")
        self.assertEqual(p.stderr, "")

    def test_non_member(self):
        z = self.img("zero.img", 64 * MiB)
        self.ctl("dump", z, rc=DAMAGED, err="dmremapctl dump: %s: not a dm-remap member (no valid superblock)" % z)
        self.ctl("dump", "--json", z, rc=DAMAGED, err="not a dm-remap member")
        self.ctl("dump", rc=2, err="dump: missing MEMBER")
        self.ctl("dump", z, z, rc=2, err="dump: unexpected argument '%s'" % z)

    def test_copy0_destroyed(self):
        (d, s), f = self.new_set()
        write_at(d, 0, bytes(BLK))
        p = self.ctl("dump", d, out="  superblock copies: 0 DAMAGED, 1 valid\n",
                     err="dmremapctl dump: %s: 1 errors, 0 warnings; run 'dmremapctl check'" % d)
        self.assertIn("Remap state: commit 1", p.stdout)
        j = self.jctl("dump", "--json", d)
        self.assertEqual(j["member"]["superblock_copies_valid"], [False, True])
        self.assertEqual(j["set_uuid"], f["set_uuid"])
        r = self.check(d, s, rc=DAMAGED)
        self.assertEqual(self.problem(r, "sb-magic")["message"], "superblock copy 0 is empty")

    def test_no_state(self):
        (d,), _ = self.new_set(spares=0)
        write_both(d, slot_offset(0), bytes(BLK))
        self.ctl("dump", d, out="Remap state: none readable\n",
                 err="dmremapctl dump: %s: 2 errors, 0 warnings; run 'dmremapctl check' for details" % d)
        self.assertIsNone(self.jctl("dump", "--json", d)["seq"])
        dump = self.write_dump(d)
        self.ctl("restore", "--from", dump, d, rc=1, err="dump: seq: missing: the dump holds no remap state")
        self.assertEqual(self.problem(self.check(d, rc=DAMAGED), "no-metadata")["where"], d)


class TestCheck(Base):
    def test_clean(self):
        (d, s), _ = self.new_set()
        self.assertEqual(self.ctl("check", d, s).stdout,
                         "clean: 0 errors, 0 warnings; newest state is commit 1 with 0 entries\n")
        r = self.check(d, s, rc=0)
        self.assertEqual((r["clean"], r["errors"], r["warnings"], r["seq"]), (True, 0, 0, 1))
        self.assertEqual({(p["severity"], p["code"]) for p in r["problems"]}, {("info", "slot-empty")})
        # Only info when a member is missing: still clean, shown with --verbose.
        self.ctl("check", d, out="clean:")
        self.ctl("check", "--verbose", d, out="info: member 1: spare member %s was not given [member-not-checked]"
                 % self.jctl("dump", "--json", s)["member"]["uuid"])

    def test_cannot_open(self):
        self.ctl("check", os.path.join(self.dir, "nope"), rc=NOT_FOUND, err="No such file or directory")
        self.ctl("check", self.dir, rc=FAILED, err="not a block device or regular file")
        self.ctl("check", rc=2, err="check: missing MEMBER")

    def test_not_a_member(self):
        z = self.img("zero.img", 64 * MiB)
        self.assertEqual(self.codes(z), {"sb-magic", "not-a-member"})
        self.ctl("check", z, rc=DAMAGED, out=["[not-a-member]", "damaged: 3 errors"])

    def test_sb_magic_and_checksum(self):
        (d, s), _ = self.new_set()
        flip(d, 0)
        self.assertIn("has bad magic", self.problem(self.check(d, s, rc=DAMAGED), "sb-magic")["message"])
        flip(d, 0)
        flip(d, 288 + 1000)  # reserved area
        r = self.check(d, s, rc=DAMAGED)
        self.assertIn("superblock copy 0 checksum", self.problem(r, "sb-checksum")["message"])
        self.assertEqual(r["seq"], 1)  # copy 1 still carries the member
        self.ctl("check", d, s, rc=DAMAGED, out=["error: %s: superblock copy 0 checksum" % d, "[sb-checksum]"])

    def test_sb_fields(self):
        (d, s), _ = self.new_set()
        cases = [({"version": 99}, "sb-version", "format version 99 is not supported"),
                 ({"incompat": 3}, "sb-feature", "unknown incompatible features 0x2"),
                 ({"ro_compat": 4}, "sb-feature", "read-only use only"),
                 ({"sb_copy": 1}, "sb-location", "superblock copy 0 claims to be copy 1"),
                 ({"block_size": 3000}, "sb-geometry", "block size 3000 is not a power of two"),
                 ({"spare_offset": 16}, "sb-overlap", "spare area overlaps the superblocks or metadata")]
        saved = read_at(d, 0, BLK)
        for fields, code, msg in cases:
            with self.subTest(fields=fields):
                patch_sb(d, 0, **fields)
                r = self.check(d, s, rc=DAMAGED)
                self.assertIn(msg, self.problem(r, code)["message"])
                self.assertNotIn("sb-checksum", {p["code"] for p in r["problems"]})
                write_at(d, 0, saved)
        self.check(d, s, rc=0)

    def test_sb_location_swapped(self):
        (d, s), _ = self.new_set()
        c0, c1 = read_at(d, 0, BLK), read_at(d, BLK, BLK)
        write_at(d, 0, c1)
        write_at(d, BLK, c0)
        r = self.check(d, s, rc=DAMAGED)
        msgs = [p["message"] for p in r["problems"] if p["code"] == "sb-location"]
        self.assertEqual(len(msgs), 2)
        self.assertIn("superblock copy 0 claims to be copy 1 at sector 8", msgs)
        self.assertIn("not-a-member", {p["code"] for p in r["problems"]})

    def test_sb_copies_differ(self):
        (d, s), _ = self.new_set()
        patch_sb(d, 1, generation=2)
        r = self.check(d, s, rc=DAMAGED)
        self.assertEqual(self.problem(r, "sb-copies-differ")["severity"], "warning")
        self.assertEqual(self.jctl("dump", "--json", d)["member"]["generation"], 2)

    def test_slot_header_checksum(self):
        (d, s), _ = self.new_set()
        flip(d, slot_offset(0) + 100)
        r = self.check(d, s, rc=DAMAGED)
        # One copy lost: the other carries the snapshot, a warning says so.
        lost = self.problem(r, "md-copy")
        self.assertEqual((lost["where"], lost["severity"]), (d + " slot 0 copy 0", "warning"))
        self.assertNotIn("no-metadata", {p["code"] for p in r["problems"]})
        self.assertEqual(r["seq"], 1)
        flip(d, slot_offset(0, copy=1) + 100)
        r = self.check(d, s, rc=DAMAGED)
        self.assertEqual(self.problem(r, "slot-checksum")["where"], d + " slot 0")
        self.assertEqual(self.problem(r, "no-metadata")["where"], d)
        self.assertEqual(r["seq"], 1)  # the spare still holds the state

    def test_entries(self):
        (d, s), _ = self.new_set()
        self.restore_remaps([d, s])
        hdr_off, ent_off = slot_offset(1), slot_offset(1) + 5 * BLK  # format used slot 0, restore slot 1
        hdr, ents = read_at(d, hdr_off, BLK), read_at(d, ent_off, BLK)
        self.assertEqual(struct.unpack_from("<QQI", hdr, 32), (2, 1, 3))  # seq, generation, nr_entries
        flip(d, ent_off + 20)
        self.assertEqual(self.problem(self.check(d, rc=DAMAGED), "md-copy")["where"], d + " slot 1 copy 0")
        self.assertEqual(self.check(d, rc=DAMAGED)["seq"], 2)  # copy 1 holds it
        flip(d, ent_off + 20 + md_copy_bytes())
        r = self.check(d, rc=DAMAGED)
        self.assertEqual(self.problem(r, "slot-entries-checksum")["where"], d + " slot 1")
        self.assertEqual(r["seq"], 1)  # fell back to the older slot
        self.assertIn("member-stale", self.codes(d, s))
        # Entries that checksum fine but make no sense: validator codes.
        for block, code, msg in [(10 ** 9, "entry-range", "is beyond the data area"),
                                 (5, "entry-duplicate", "block 5 is listed twice")]:
            with self.subTest(code=code):
                e = bytearray(ents)
                struct.pack_into("<Q", e, 16, block)   # entry 1: the pending block 9
                h = bytearray(hdr)
                struct.pack_into("<I", h, SNAP_ECSUM, crc32c(e[:3 * 16]))
                write_both(d, ent_off, bytes(e))
                write_both(d, hdr_off, with_csum(h))
                self.assertIn(msg, self.problem(self.check(d, rc=DAMAGED), code)["message"])
        write_both(d, ent_off, ents)
        write_both(d, hdr_off, hdr)
        self.assertEqual(self.check(d, s, rc=0)["seq"], 2)

    def test_journal(self):
        (d, s), f = self.new_set()
        write_both(d, slot_offset(2) + 5 * BLK, random.Random(5).randbytes(BLK))  # journal block 5
        self.assertEqual(self.problem(self.check(d, s, rc=DAMAGED), "journal-corrupt")["where"], d + " journal block 5")
        write_both(d, slot_offset(2) + 5 * BLK, bytes(BLK))
        u = f["set_uuid"]
        self.commit([d, s], u, 2, [(7, 0, 1, 1)])       # block 7 remapped to spare 1:0
        self.commit([d, s], u, 3, [(8, 0, 0xFFFF, 2)])  # block 8 pending
        self.ctl("check", d, s, out="clean: 0 errors, 0 warnings; newest state is commit 3 with 2 entries\n")
        remaps = self.jctl("dump", "--json", s)["remaps"]
        self.assertEqual([(r["block"], r["state"], r["spare_member"]) for r in remaps],
                         [(7, "remapped", 1), (8, "pending", None)])
        self.commit([d], u, 9, [(9, 1, 1, 1)], block=10)  # at the wrong ring position
        self.commit([d], u, 12, [(9, 1, 1, 1)])           # beyond the end of the chain
        self.commit([d], u, 4, [(99, 0, 0xFFFF, 0)])      # frees a block that has no entry
        r = self.check(d, rc=DAMAGED)
        self.assertEqual(self.problem(r, "journal-location")["where"], d + " journal block 10")
        self.assertEqual(self.problem(r, "journal-update")["where"], d + " journal seq 4")
        # Records past the end of the history prove that one in between is
        # lost: an error, and no state is handed out.
        orphans = {p["where"]: p["severity"] for p in r["problems"] if p["code"] == "journal-orphan"}
        self.assertEqual(orphans[d + " journal seq 12"], "error")
        self.assertIsNone(r["seq"])

    def test_stale_member(self):
        (d, s), _ = self.new_set()
        self.restore_remaps([d, s], targets=[d])
        r = self.check(d, s, rc=DAMAGED)
        stale = self.problem(r, "member-stale")
        self.assertEqual(stale["where"], s)
        self.assertIn("metadata is at commit 1, the set is at 2", stale["message"])
        self.assertEqual(r["seq"], 2)

    def test_wrong_set_and_duplicate(self):
        (d1, _), f1 = self.new_set(prefix="a-")
        (_, s2), f2 = self.new_set(prefix="b-")
        r = self.check(d1, s2, rc=DAMAGED)
        wrong = self.problem(r, "member-wrong-set")
        self.assertEqual(wrong["where"], s2)
        self.assertIn("belongs to set %s" % f2["set_uuid"], wrong["message"])
        self.assertIn("not %s" % f1["set_uuid"], wrong["message"])
        self.assertEqual(self.problem(self.check(d1, d1, rc=DAMAGED), "member-duplicate")["where"], d1)

    def test_random_flips_detected(self):
        (d, s), _ = self.new_set()
        rng = random.Random(1234)
        areas = [("superblock 0", 0, BLK, {"sb-magic", "sb-checksum"}),
                 ("superblock 1", BLK, BLK, {"sb-magic", "sb-checksum"}),
                 # Metadata copy 0 only: copy 1 still holds it, md-copy says so.
                 ("snapshot header", slot_offset(0), BLK, {"md-copy"}),
                 ("member table", slot_offset(0) + BLK, 2 * 256, {"md-copy"})]
        for name, base, size, expected in areas:
            for off in sorted({0, 8, size - 1, *rng.sample(range(size), 6)}):
                with self.subTest(area=name, offset=off):
                    flip(d, base + off)
                    try:
                        got = self.codes(d, s)
                        self.assertTrue(got & expected, "%s not in %s" % (expected, got))
                    finally:
                        flip(d, base + off)
        self.check(d, s, rc=0)

    def test_slot_destroyed_state_from_spare(self):
        (d, s), _ = self.new_set()
        self.restore_remaps([d, s])                  # seq 2 in slot 1
        self.assertEqual(self.restore_remaps([d, s])["seq"], 3)  # seq 3 in slot 0
        write_both(d, slot_offset(0), bytes(5 * BLK))  # header and member table of slot 0
        r = self.check(d, s, rc=DAMAGED)
        self.assertEqual(r["seq"], 3)
        self.assertEqual(self.problem(r, "member-stale")["where"], d)
        j = self.jctl("dump", "--json", s)
        self.assertEqual((j["seq"], j["remaps"], j["retired"]), (3, self.REMAPS, self.RETIRED))


class TestRestore(Base):
    def test_roundtrip(self):
        (d, s), f = self.new_set()
        out = self.restore_remaps([d, s])
        self.assertEqual(out, {"seq": 2, "members": [{"path": d, "index": 0}, {"path": s, "index": 1}]})
        for path in (d, s):
            j = self.jctl("dump", "--json", path)
            self.assertEqual(j["remaps"], self.REMAPS)
            self.assertEqual(j["retired"], self.RETIRED)
            self.assertEqual(j["counts"], {"remapped": 1, "pending": 1, "lost": 0, "retired": 1})
            self.assertEqual((j["seq"], j["set_uuid"]), (2, f["set_uuid"]))
        self.ctl("check", d, s, out="clean: 0 errors, 0 warnings; newest state is commit 2 with 3 entries\n")
        # Restoring the same dump again moves on, and an empty table clears the remaps.
        dump = self.write_dump(d, lambda j: j.update(remaps=[], retired=[]), "empty.json")
        p = self.ctl("restore", "--from", dump, d, s)
        self.assertIn("as commit 3: 0 entries\n", p.stdout)
        self.assertIn("  member 1: %s\n" % s, p.stdout)
        self.assertEqual(self.jctl("dump", "--json", s)["remaps"], [])
        self.check(d, s, rc=0)

    def test_malformed(self):
        (d, s), _ = self.new_set()

        def remaps(*rs):
            return lambda j: j.update(remaps=list(rs))
        big = self.jctl("dump", "--json", d)["data_sectors"] // 8
        cases = [(remaps({"block": 5, "state": "bogus"}), "remaps[0].state: must be \"remapped\" or \"pending\""),
                 (remaps({"block": big, "state": "pending"}), "block %d is beyond the data area" % big),
                 (remaps({"block": 5, "state": "pending"}, {"block": 5, "state": "remapped", "spare_member": 1,
                                                           "spare_block": 0}), "block 5 is listed twice"),
                 (remaps({"block": -1, "state": "pending"}), "remaps[0].block: must be a non-negative integer"),
                 (remaps({"block": 1, "state": "remapped", "spare_member": 5, "spare_block": 0}),
                  "spare member 5 does not exist"),
                 (lambda j: j.pop("set_uuid"), "set_uuid: missing"),
                 (lambda j: j.update(members=[]), "members: must be a non-empty array"),
                 (lambda j: j.update(name="a/b"), "name: is not a valid device name")]
        for edit, msg in cases:
            with self.subTest(msg=msg):
                dump = self.write_dump(d, edit, "bad.json")
                self.ctl("restore", "--from", dump, d, s, rc=1, err=["dmremapctl restore: %s: dump: " % dump, msg])
        junk = os.path.join(self.dir, "junk.json")
        with open(junk, "w") as fh:
            fh.write("{not json")
        self.ctl("restore", "--from", junk, d, rc=1, err="%s: not valid JSON" % junk)
        self.ctl("restore", "--from", os.path.join(self.dir, "none.json"), d, rc=NOT_FOUND, err="none.json: cannot open")
        self.ctl("restore", d, rc=2, err="restore: missing --from DUMP.json")
        good = self.write_dump(d)
        self.ctl("restore", "--from", good, d, s, self.img("x.img", 64 * MiB), rc=1,
                 err="the dump lists 2 members but 3 devices were given")
        self.assertEqual(self.check(d, s, rc=0)["seq"], 1)  # nothing was written

    def test_zeroed_device(self):
        (d, s), f = self.new_set()
        dump = self.write_dump(d, self.add_remaps)
        write_at(s, 0, bytes(2 * BLK))
        self.assertEqual(self.ctl("probe", s).stdout, "")
        out = self.jctl("restore", "--json", "--from", dump, d, s)
        self.assertEqual([m["index"] for m in out["members"]], [0, 1])
        self.ctl("probe", s, out=["DM_REMAP_MEMBER_UUID=%s\n" % f["members"][1]["uuid"], "DM_REMAP_INDEX=1\n"])
        self.assertEqual(self.jctl("dump", "--json", s)["remaps"], self.REMAPS)
        self.check(d, s, rc=0)
        # Both wiped: taken in argument order, so the (small) spare would become the data member.
        write_at(d, 0, bytes(2 * BLK))
        write_at(s, 0, bytes(2 * BLK))
        self.ctl("restore", "--from", dump, s, d, rc=1,
                 err="%s: device has 196608 sectors, member 0 needs 262144" % s)
        self.assertEqual(self.ctl("probe", s).stdout + self.ctl("probe", d).stdout, "")
        out = self.jctl("restore", "--json", "--from", dump, d, s)
        self.assertEqual(out["members"], [{"path": d, "index": 0}, {"path": s, "index": 1}])
        self.ctl("probe", d, out="DM_REMAP_MEMBER_UUID=%s\n" % f["members"][0]["uuid"])
        self.check(d, s, rc=0)

    def test_wiped_members_ignore_old_journal(self):
        # FORMAT.md 9: no stale journal record can ever be replayed on top of a restore.
        (d, s), f = self.new_set()
        dump = self.write_dump(d)  # seq 1, no remaps
        self.commit([d, s], f["set_uuid"], 2, [(7, 0, 1, 1)])
        self.commit([d, s], f["set_uuid"], 3, [(8, 0, 0xFFFF, 2)])
        for p in (d, s):
            write_at(p, 0, bytes(2 * BLK))
        out = self.jctl("restore", "--json", "--from", dump, d, s)
        for p in (d, s):
            j = self.jctl("dump", "--json", p)
            self.assertEqual((j["seq"], j["remaps"]), (out["seq"], []))

    def test_force_leaves_no_foreign_metadata(self):
        (d1,), _ = self.new_set(spares=0, prefix="a-")
        (d2, s2), f2 = self.new_set(prefix="b-")
        self.restore_remaps([d2, s2])                             # set B's snapshots in both slots
        self.commit([d2, s2], f2["set_uuid"], 3, [(7, 0, 1, 1)])  # and a journal record of set B
        self.ctl("restore", "--force", "--from", self.write_dump(d1), d2)
        # Set B's seqs do not count: the restored state is the dump's seq + 1.
        self.ctl("check", d2, out="clean: 0 errors, 0 warnings; newest state is commit 2 with 0 entries")

    def test_other_set(self):
        (d1, _), f1 = self.new_set(prefix="a-", opts=("--name", "seta"))
        (d2, _), f2 = self.new_set(prefix="b-", opts=("--name", "setb"))
        dump = self.write_dump(d1)
        self.ctl("restore", "--from", dump, d2, rc=REFUSED,
                 err="%s: belongs to another set, setb (%s); use --force to overwrite it" % (d2, f2["set_uuid"]))
        self.ctl("probe", d2, out="DM_REMAP_SET_UUID=%s\n" % f2["set_uuid"])
        self.ctl("restore", "--force", "--from", dump, d2)
        self.ctl("probe", d2, out=["DM_REMAP_SET_UUID=%s\n" % f1["set_uuid"], "DM_REMAP_NAME=seta\n"])

    def test_foreign_signature(self):
        (d, s), f = self.new_set()
        dump = self.write_dump(d)
        self.mkfs_ext4(s)
        self.ctl("restore", "--from", dump, d, s, rc=REFUSED, err="%s: contains a ext4 filesystem; use --force" % s)
        self.assertEqual(self.ctl("probe", s).stdout, "")
        self.ctl("restore", "--force", "--from", dump, d, s)
        self.ctl("probe", s, out="DM_REMAP_MEMBER_UUID=%s\n" % f["members"][1]["uuid"])

    def test_in_use(self):
        (d, s), f = self.new_set()
        dump = self.write_dump(d)
        ld = self.loop(d)
        self.ctl("restore", "--from", dump, d, rc=REFUSED, err="%s: backs %s" % (d, ld))
        fs = self.img("fs.img", 128 * MiB)
        self.mkfs_ext4(fs)
        lfs = self.loop(fs)
        mnt = self.mount(lfs)
        self.ctl("restore", "--force", "--from", dump, lfs, rc=REFUSED, err="%s: mounted at %s" % (lfs, mnt))
        self.assertTrue(os.path.ismount(mnt))


class TestTable(Base):
    def setUp(self):
        super().setUp()
        self.need_root()

    def test_table_line(self):
        (d, s), f = self.new_set()
        ld, ls = self.loop(d), self.loop(s)
        p = self.ctl("table", ld, ls)
        self.assertEqual(p.stdout, "0 %d remap %s 1 %s\n" % (f["data_sectors"], ld, ls))
        (d0,), f0 = self.new_set(spares=0, prefix="solo-")
        l0 = self.loop(d0)
        self.assertEqual(self.ctl("table", l0).stdout, "0 %d remap %s 0\n" % (f0["data_sectors"], l0))

    def test_stale_member_is_fine(self):
        (d, s), f = self.new_set()
        self.restore_remaps([d, s], targets=[d])  # the spare is now one commit behind
        ld, ls = self.loop(d), self.loop(s)
        self.assertIn("member-stale", self.codes(ld, ls))
        self.assertEqual(self.ctl("table", ld, ls).stdout, "0 %d remap %s 1 %s\n" % (f["data_sectors"], ld, ls))

    def test_errors(self):
        (d, s), f = self.new_set(opts=("--name", "tbl"))
        ld, ls = self.loop(d), self.loop(s)
        self.ctl("table", ld, rc=NOT_FOUND, err="dmremapctl table: spare member 1 (%s) of set 'tbl' was not given"
                 % f["members"][1]["uuid"])
        self.ctl("table", ls, ld, rc=1, err="%s: is spare member 1; give the data device first" % ls)
        self.ctl("table", d, s, rc=1, err="%s: is an image file; the kernel target needs block devices "
                 "(attach it with 'losetup --find --show %s')" % (d, d))
        (_, s2), f2 = self.new_set(prefix="other-")
        l2 = self.loop(s2)
        self.ctl("table", ld, l2, rc=1, err="%s: belongs to set %s" % (l2, f2["set_uuid"]))
        lz = self.loop(self.img("zero.img", 64 * MiB))
        self.ctl("table", lz, rc=1, err="%s: no valid superblock: not a dm-remap member" % lz)
        self.ctl("table", rc=2, err="table: missing DATA_DEV")


SRC = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MAN_PAGE = os.path.join(SRC, "tools", "dmremapctl.8")
COMPLETION = os.path.join(SRC, "tools", "dmremapctl.bash-completion")
NO_DM = "device-mapper is not available (cannot open /dev/mapper/control: is dm_mod loaded? are you root?)"
UUID = "0123abcd-4567-489a-8bcd-ef0123456789"


def dm_available():
    """Whether this process can talk to device-mapper, as libdevmapper would."""
    try:
        os.close(os.open("/dev/mapper/control", os.O_RDWR))
        return True
    except OSError:
        return False


def commands():
    """Command names as `dmremapctl --help` lists them."""
    out = subprocess.run([BIN, "--help"], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.split("Commands:\n", 1)[1].split("\n\n", 1)[0].splitlines()]


def help_options(*cmd):
    """Long options that `dmremapctl CMD --help` mentions."""
    out = subprocess.run([BIN, *cmd, "--help"], capture_output=True, text=True, check=True).stdout
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", out))


class TestActiveUsage(Base):
    """Bad command lines of the commands on active devices: exit 2, before any I/O."""

    def usage(self, args, msg, hint=None):
        hint = hint or args[0]
        p = self.ctl(*args, rc=2)
        self.assertEqual((p.stdout, p.stderr), ("", "dmremapctl %s\nTry 'dmremapctl %s --help'.\n" % (msg, hint)))

    def test_spare(self):
        img = os.path.join(self.dir, "s.img")
        cases = [(("add",), "spare add: missing NAME"),
                 (("add", "--image", img, "--size", "1G"), "spare add: missing NAME"),
                 (("add", "vol"), "spare add: missing DEV (or --image PATH --size SIZE)"),
                 (("add", "vol", "/dev/sdx", "/dev/sdy"), "spare add: unexpected argument '/dev/sdy'"),
                 (("add", "vol", "--image", img), "spare add: --image needs --size SIZE (e.g. 10G)"),
                 (("add", "vol", "/dev/sdx", "--size", "1G"), "spare add: --size goes with --image"),
                 (("add", "vol", "--image", img, "--size", "1k"),
                  "spare add: --size '1k' is not a size of at least 16M"),
                 (("add", "vol", "--image", img, "--size", "15M"),
                  "spare add: --size '15M' is not a size of at least 16M"),
                 (("add", "vol", "--image", img, "--size", "lots"),
                  "spare add: --size 'lots' is not a size of at least 16M"),
                 (("add", "vol", "--image", img, "--size"), "spare add: option '--size' needs a value"),
                 (("add", "--evacuate", "vol", "/dev/sdx"), "spare add: unknown option '--evacuate'"),
                 (("add", "--json=yes", "vol", "/dev/sdx"), "spare add: option '--json' takes no value"),
                 (("remove",), "spare remove: missing NAME"),
                 (("remove", "vol"), "spare remove: missing DEV"),
                 (("remove", "vol", "/dev/sdx", "/dev/sdy"), "spare remove: unexpected argument '/dev/sdy'"),
                 (("remove", "--force", "vol", "/dev/sdx"), "spare remove: unknown option '--force'"),
                 (("remove", "--image", img, "vol"), "spare remove: unknown option '--image'"),
                 (("list",), "spare list: missing NAME"),
                 (("list", "vol", "other"), "spare list: unexpected argument 'other'"),
                 (("list", "--evacuate", "vol"), "spare list: unknown option '--evacuate'"),
                 (("frob",), "spare: unknown subcommand 'frob' (add, remove, list)"),
                 (("frob", "vol"), "spare: unknown subcommand 'frob' (add, remove, list)")]
        for args, msg in cases:
            with self.subTest(args=args):
                self.usage(("spare",) + args, msg, "spare")
        self.assertFalse(os.path.exists(img))  # refused before anything was created

    def test_assemble(self):
        d = self.img("d.img", 128 * MiB)
        exactly_one = "assemble: give MEMBER..., --uuid UUID or --all (exactly one)"
        cases = [((), exactly_one),
                 (("--degraded",), exactly_one),
                 (("--name", "x"), exactly_one),
                 (("--all", d), exactly_one),
                 (("--all", "--uuid", UUID), exactly_one),
                 (("--uuid", UUID, d), exactly_one),
                 (("--all", "--uuid", UUID, d), exactly_one),
                 (("--all", "--name", "x"), "assemble: --name does not go with --all"),
                 (("--name", "a/b", d), "assemble: --name 'a/b' is not a valid device name "
                                        "(1-127 of A-Z a-z 0-9 _ - . + : @, not starting with . or -)"),
                 (("--uuid", "notauuid"), "assemble: --uuid 'notauuid' is not a UUID"),
                 (("--uuid", UUID, "--uuid", UUID), "assemble: option '--uuid' given twice"),
                 (("--uuid",), "assemble: option '--uuid' needs a value"),
                 (("--force", d), "assemble: unknown option '--force'")]
        for args, msg in cases:
            with self.subTest(args=args):
                self.usage(("assemble",) + args, msg)

    def test_name_commands(self):
        cases = [(("stop",), "stop: missing NAME"),
                 (("stop", "--json", "vol"), "stop: unknown option '--json'"),
                 (("stop", "-v", "vol"), "stop: unknown option '-v'"),
                 (("remap",), "remap: missing NAME"),
                 (("remap", "vol"), "remap: missing BLOCK"),
                 (("remap", "vol", "x"), "remap: BLOCK 'x' is not a block number"),
                 (("remap", "vol", "12k"), "remap: BLOCK '12k' is not a block number"),
                 (("remap", "vol", "99999999999999999999999"),
                  "remap: BLOCK '99999999999999999999999' is not a block number"),
                 (("remap", "vol", "1", "2"), "remap: unexpected argument '2'"),
                 (("remaps",), "remaps: missing NAME"),
                 (("remaps", "vol", "other"), "remaps: unexpected argument 'other'"),
                 (("remaps", "--all", "vol"), "remaps: unknown option '--all'"),
                 (("pending",), "pending: missing NAME"),
                 (("pending", "vol", "other"), "pending: unexpected argument 'other'"),
                 (("status", "--bogus"), "status: unknown option '--bogus'"),
                 (("list", "vol"), "list: unexpected argument 'vol'"),
                 (("members", "/dev/sdx"), "members: unexpected argument '/dev/sdx'"),
                 (("members", "--all"), "members: unknown option '--all'")]
        for args, msg in cases:
            with self.subTest(args=args):
                self.usage(args, msg)

    def test_scan(self):
        not_rate = "scan: --rate '%s' is not a rate in MB/s above 0 (e.g. 50 or 2.5)"
        not_duration = "scan: --max-duration '%s' is not a duration (e.g. 90s, 30m, 2h, 1d or seconds)"
        cases = [((), "scan: missing NAME"),
                 (("vol", "other"), "scan: unexpected argument 'other'"),
                 (("--bogus", "vol"), "scan: unknown option '--bogus'"),
                 (("vol", "--rate"), "scan: option '--rate' needs a value"),
                 (("vol", "--json=yes"), "scan: option '--json' takes no value")]
        cases += [(("vol", "--rate", r), not_rate % r) for r in ("0", "-5", "fast", "", "nan", "inf", "0x10", "5MB",
                                                                "1e9")]
        cases += [(("vol", "--max-duration", d), not_duration % d)
                  for d in ("0", "0s", "-1", "1.5h", "10x", "h", "", "2 h", "99999999999d")]
        cases += [(("vol", "--include-lost"), "scan: --include-lost goes with --rewrite-pending"),
                  (("vol", "--yes"), "scan: --yes goes with --rewrite-pending"),
                  (("vol", "--rewrite-pending", "--yes", "--rate", "5"), "scan: --rate does not go with --rewrite-pending"),
                  (("vol", "--rewrite-pending", "--yes", "--max-duration", "1h"),
                   "scan: --max-duration does not go with --rewrite-pending"),
                  (("vol", "--rewrite-pending", "--yes", "--restart"),
                   "scan: --restart does not go with --rewrite-pending")]
        for args, msg in cases:
            with self.subTest(args=args):
                self.usage(("scan",) + args, msg)

    def test_scan_rewrite_needs_yes_without_terminal(self):
        """Destroying data is confirmed on a terminal or with --yes; neither: usage error, before any device."""
        for args in (("vol", "--rewrite-pending"), ("--rewrite-pending", "--include-lost", "vol"),
                     ("--json", "--rewrite-pending", "vol")):
            with self.subTest(args=args):
                p = subprocess.run([BIN, "scan", *args], capture_output=True, text=True, timeout=60,
                                   stdin=subprocess.DEVNULL)
                self.assertEqual((p.returncode, p.stdout, p.stderr),
                                 (USAGE, "", "dmremapctl scan: --rewrite-pending destroys data: confirm with --yes "
                                             "when not on a terminal\nTry 'dmremapctl scan --help'.\n"))

    def test_create(self):
        d = self.img("d.img", 128 * MiB)
        cases = [((), "create: missing DATA_DEV"),
                 (("--json",), "create: missing DATA_DEV"),
                 (("--bogus", d), "create: unknown option '--bogus'"),
                 (("--degraded", d), "create: unknown option '--degraded'"),
                 (("--block-size", "3", d), "create: --block-size '3' is not a power of two from 512 to 65536"),
                 (("--block-size", "128K", d), "create: --block-size '128K' is not a power of two from 512 to 65536"),
                 (("--name", "a/b", d), "create: --name 'a/b' is not a valid device name "
                                        "(1-127 of A-Z a-z 0-9 _ - . + : @, not starting with . or -)"),
                 (("--uuid", "nope", d), "create: --uuid 'nope' is not a UUID"),
                 (("--internal-spare", "60%", d), "create: --internal-spare '60%' must be 0% to 50%"),
                 (("--max-remaps", "1", d), "create: --max-remaps '1' must be a number from 256 to 16777216")]
        for args, msg in cases:
            with self.subTest(args=args):
                self.usage(("create",) + args, msg)
        self.assertEqual(self.ctl("probe", d).stdout, "")  # nothing written

    def test_help(self):
        synopsis = {"create": ["Usage: dmremapctl create [OPTIONS] DATA_DEV [SPARE_DEV...]\n", "--internal-spare",
                               "spare add NAME --image PATH --size SIZE"],
                    "assemble": ["Usage: dmremapctl assemble [OPTIONS] MEMBER...\n",
                                 "       dmremapctl assemble [OPTIONS] --uuid UUID\n",
                                 "       dmremapctl assemble [OPTIONS] --all\n", "--degraded", "--name NAME"],
                    "stop": ["Usage: dmremapctl stop NAME...\n"],
                    "members": ["Usage: dmremapctl members [--json]\n"],
                    "status": ["Usage: dmremapctl status [NAME...] [--json]\n"],
                    "list": ["Usage: dmremapctl list [--json]\n"],
                    "remap": ["Usage: dmremapctl remap NAME BLOCK [--json]\n"],
                    "remaps": ["Usage: dmremapctl remaps NAME [--json]\n"],
                    "pending": ["Usage: dmremapctl pending NAME [--json]\n"],
                    "scan": ["Usage: dmremapctl scan NAME [--rate MB/s] [--max-duration DURATION] [--no-idle] "
                             "[--restart] [--json]\n",
                             "       dmremapctl scan NAME --rewrite-pending [--include-lost] [--yes] [--json]\n",
                             "DESTROYS"]}
        spare = ["Usage: dmremapctl spare add NAME DEV [--force] [--json]\n",
                 "       dmremapctl spare add NAME --image PATH --size SIZE [--json]\n",
                 "       dmremapctl spare remove NAME DEV [--evacuate] [--json]\n",
                 "       dmremapctl spare list NAME [--json]\n"]
        for args in [("spare", "--help"), ("spare", "-h"), ("spare", "add", "--help"), ("spare", "remove", "-h"),
                     ("spare", "list", "--help"), ("spare", "add", "vol", "--image", "x", "--help")]:
            synopsis[args] = spare
        for cmd, want in synopsis.items():
            for flag in (("--help", "-h") if isinstance(cmd, str) else ("",)):
                args = (cmd, flag) if flag else cmd
                with self.subTest(args=args):
                    p = self.ctl(*args, out=want)
                    self.assertTrue(p.stdout.startswith("Usage: dmremapctl "), p.stdout)
                    self.assertEqual(p.stderr, "")
        # --help wins over missing arguments, but not over unknown options.
        self.ctl("remap", "--help", out="Usage: dmremapctl remap")
        self.ctl("stop", "--bogus", "--help", rc=2, err="stop: unknown option '--bogus'")
        # spare without a subcommand: its usage, as a usage error.
        p = self.ctl("spare", rc=2)
        self.assertIn(spare[0], p.stdout + p.stderr)

    def test_main_help_lists_every_command(self):
        p = self.ctl("--help")
        for cmd in ("create", "assemble", "stop", "members", "status", "list", "spare", "remap", "remaps", "pending",
                    "scan"):
            self.assertRegex(p.stdout, r"\n  %s +\S" % cmd)
        self.assertEqual(commands()[:3], ["create", "assemble", "stop"])


class TestActiveRefusals(Base):
    """What the commands on active devices refuse on this host, with or without device-mapper."""

    def no_dm(self):
        if dm_available():
            self.skipTest("device-mapper is available here")

    def test_need_device_mapper(self):
        self.no_dm()
        img = os.path.join(self.dir, "new.img")
        cases = [(("status",), "status: " + NO_DM),
                 (("status", "--json"), "status: " + NO_DM),
                 (("status", "vol"), "status: vol: " + NO_DM),
                 (("list",), "list: " + NO_DM),
                 (("list", "--json"), "list: " + NO_DM),
                 (("stop", "vol"), "stop: vol: " + NO_DM),
                 (("stop", "vol", "other"), "stop: vol: " + NO_DM),
                 (("spare", "list", "vol"), "spare list: vol: " + NO_DM),
                 (("spare", "add", "vol", "/dev/sdx"), "spare add: vol: " + NO_DM),
                 (("spare", "add", "vol", "--image", img, "--size", "16M"), "spare add: vol: " + NO_DM),
                 (("spare", "remove", "--evacuate", "vol", "/dev/sdx"), "spare remove: vol: " + NO_DM),
                 (("remap", "vol", "5"), "remap: vol: " + NO_DM),
                 (("remaps", "vol"), "remaps: vol: " + NO_DM),
                 (("pending", "--json", "vol"), "pending: vol: " + NO_DM),
                 (("scan", "vol"), "scan: vol: " + NO_DM),
                 (("scan", "--rewrite-pending", "--yes", "vol"), "scan: vol: " + NO_DM),
                 (("assemble", "--all"), "assemble: " + NO_DM),
                 (("assemble", "--uuid", UUID), "assemble: " + NO_DM)]
        for args, msg in cases:
            with self.subTest(args=args):
                p = self.ctl(*args, rc=1)
                self.assertEqual((p.stdout, p.stderr), ("", "dmremapctl %s\n" % msg))
        self.assertFalse(os.path.exists(img))  # the image is created only for a device that exists
        # members lists what it finds without device-mapper, just not who uses it.
        self.assertEqual(self.ctl("members", "--json").stderr, "")

    def test_no_such_device(self):
        if not dm_available():
            self.skipTest("no device-mapper here")
        name = "dmremapctl-test-nosuch-%d" % os.getpid()
        for args, cmd in [(("stop", name), "stop"), (("status", name), "status"), (("spare", "list", name), "spare list"),
                          (("remaps", name), "remaps"), (("remap", name, "1"), "remap"), (("scan", name), "scan"),
                          (("scan", "--json", "--max-duration", "1h", name), "scan"),
                          (("scan", "--rewrite-pending", "--yes", name), "scan")]:
            with self.subTest(args=args):
                self.ctl(*args, rc=NOT_FOUND, err="dmremapctl %s: %s: no such device-mapper device\n" % (cmd, name))

    def test_create_needs_block_devices(self):
        d, s = self.img("d.img", 128 * MiB), self.img("s.img", 96 * MiB)
        missing = os.path.join(self.dir, "nope")
        cases = [((d,), "%s: not a block device" % d),
                 ((d, s), "%s: not a block device" % d),
                 (("--name", "vol", "--force", d), "%s: not a block device" % d),
                 (("/dev/null",), "/dev/null: not a block device"),
                 ((self.dir,), "%s: not a block device" % self.dir),
                 ((missing,), "%s: No such file or directory" % missing)]
        for args, msg in cases:
            with self.subTest(args=args):
                p = self.ctl("create", *args, rc=NOT_FOUND if args == (missing,) else FAILED)
                self.assertEqual((p.stdout, p.stderr), ("", "dmremapctl create: %s\n" % msg))
        for path in (d, s):  # refused before anything was written
            self.assertEqual(self.ctl("probe", path).stdout, "")

    def test_create_block_device_without_dm(self):
        self.no_dm()
        d = self.img("d.img", 128 * MiB)
        ld = self.loop(d)
        # The device-mapper check comes before any write, with or without --name.
        self.ctl("create", "--name", "vol", ld, rc=1, err="dmremapctl create: %s\n" % NO_DM)
        self.assertEqual(self.ctl("probe", ld).stdout, "")
        self.ctl("create", ld, rc=1, err="dmremapctl create: %s\n" % NO_DM)
        self.assertEqual(self.ctl("probe", ld).stdout, "")

    def test_assemble_needs_block_devices(self):
        (d, s), f = self.new_set(opts=("--name", "imgset"))
        missing = os.path.join(self.dir, "nope")
        for args, msg in [((d,), "%s: not a block device" % d),
                          ((d, s), "%s: not a block device" % d),
                          (("--degraded", "--name", "x", s), "%s: not a block device" % s),
                          ((missing,), "%s: No such file or directory" % missing)]:
            with self.subTest(args=args):
                p = self.ctl("assemble", *args, rc=NOT_FOUND if args == (missing,) else FAILED)
                self.assertEqual((p.stdout, p.stderr), ("", "dmremapctl assemble: %s\n" % msg))
        self.check(d, s, rc=0)  # untouched

    def test_assemble_checks_members_first(self):
        (d, s), f = self.new_set(opts=("--name", "seta"))
        (d2,), f2 = self.new_set(spares=0, prefix="b-", opts=("--name", "setb"))
        ld, l2 = self.loop(d), self.loop(d2)
        lz = self.loop(self.img("zero.img", 64 * MiB))
        self.ctl("assemble", lz, rc=1,
                 err="dmremapctl assemble: %s: not a dm-remap member (no valid superblock)\n" % lz)
        self.ctl("assemble", ld, l2, rc=1,
                 err="dmremapctl assemble: %s: belongs to set 'setb' (%s), not to 'seta' like %s\n"
                 % (l2, f2["set_uuid"], ld))
        if not dm_available():
            self.ctl("assemble", ld, rc=1, err="dmremapctl assemble: %s\n" % NO_DM)
        self.check(d, s, rc=0)

    def test_format_says_how_to_assemble(self):
        d, s = self.img("d.img", 128 * MiB), self.img("s.img", 96 * MiB)
        ld, ls = self.loop(d), self.loop(s)
        p = self.ctl("format", "--name", "loopset", ld, ls)
        table = self.ctl("table", ld, ls).stdout
        self.assertTrue(p.stdout.endswith("Device-mapper table: %sActivate it with 'dmremapctl assemble %s'.\n"
                                          % (table, ld)), p.stdout)


class TestManPage(Base):
    def test_renders_without_warnings(self):
        if not shutil.which("man"):
            self.skipTest("man not installed")
        env = dict(os.environ, LC_ALL="C.UTF-8", MANROFFSEQ="", MANWIDTH="80")
        p = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", MAN_PAGE], capture_output=True, text=True,
                           env=env, timeout=60)
        self.assertEqual((p.returncode, p.stderr), (0, ""))
        self.assertIn("spare remove [--evacuate] NAME DEV", p.stdout)

    def test_documents_every_command_and_option(self):
        with open(MAN_PAGE, encoding="utf-8") as f:
            roff = f.read()
        documented = set(re.findall(r"^\.TP\n\.B (spare \w+|\w+)\b", roff, re.M))
        documented |= set(re.findall(r"^\.TQ\n\.B (\w+)\b", roff, re.M))
        want = set(commands()) - {"spare"} | {"spare add", "spare remove", "spare list"}
        self.assertEqual(want - documented, set())
        # Each command's SYNOPSIS lines name every option its --help names.
        synopsis = {}
        head = roff.split(".SH SYNOPSIS\n", 1)[1].split(".SH DESCRIPTION\n", 1)[0]
        for chunk in head.split("\n.B dmremapctl ")[1:]:
            first, rest = chunk.split("\n", 1)
            cmd = first.split()[0] if first.split()[0] != "spare" else "spare"
            synopsis[cmd] = synopsis.get(cmd, "") + rest
        self.assertLessEqual(set(commands()), set(synopsis))
        for cmd in commands():
            for opt in help_options(cmd) - {"--find", "--show", "--table", "--image", "--size"} | (
                    {"--image", "--size"} if cmd == "spare" else set()):
                with self.subTest(cmd=cmd, opt=opt):
                    self.assertIn(opt.replace("-", r"\-"), synopsis[cmd])
        self.assertNotIn("are not commands of this version", roff)


class TestCompletion(Base):
    """tools/dmremapctl.bash-completion, run by bash as readline would."""

    def setUp(self):
        super().setUp()
        if not shutil.which("bash"):
            self.skipTest("bash not installed")
        # A dmsetup that knows two dm-remap devices, one that knows none, one that fails.
        self.fake = os.path.join(self.dir, "fakebin")
        self.broken = os.path.join(self.dir, "brokenbin")
        self.empty = os.path.join(self.dir, "emptybin")
        for d, body in ((self.empty, 'echo "No devices found"\n'),
                        (self.fake, 'if [ "$*" = "ls --target remap" ]; then\n'
                                    '  printf "backup\\t(253:0)\\nmg\\t(253, 1)\\n"; exit 0\nfi\n'
                                    'echo "unexpected: $*" >&2; exit 3\n'),
                        (self.broken, 'echo "/dev/mapper/control: open failed: No such device" >&2\n'
                                      'echo "Command failed." >&2; exit 1\n')):
            os.mkdir(d)
            with open(os.path.join(d, "dmsetup"), "w") as f:
                f.write("#!/bin/sh\n" + body)
            os.chmod(os.path.join(d, "dmsetup"), 0o755)

    def complete(self, *words, path=None, package=False):
        """COMPREPLY for the command line `words`, the last one being completed;
        `path` ("" for none) comes first in PATH, or is all of it if a list."""
        pre = "source /usr/share/bash-completion/bash_completion; " if package else ""
        script = (pre + 'source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; '
                  'COMP_POINT=${#COMP_LINE}; _dmremapctl; printf "%s\\n" "${COMPREPLY[@]}"')
        if isinstance(path, list):
            path = ":".join(path)
        else:
            path = "%s:%s" % (self.fake if path is None else path, os.environ.get("PATH", ""))
        p = subprocess.run([shutil.which("bash"), "--norc", "--noprofile", "-c", script, COMPLETION, "dmremapctl", *words],
                           capture_output=True, text=True, env=dict(os.environ, PATH=path), timeout=30)
        self.assertEqual((p.returncode, p.stderr), (0, ""), words)
        return [w for w in p.stdout.split("\n") if w]

    def test_commands(self):
        self.assertEqual(self.complete(""), commands() + ["help"])
        self.assertEqual(self.complete("sp"), ["spare"])
        self.assertEqual(self.complete("rem"), ["remap", "remaps"])
        self.assertEqual(self.complete("--v"), ["--version"])
        self.assertEqual(self.complete("--n"), ["--no-ask-password"])
        self.assertEqual(self.complete("--no-ask-password", "sp"), ["spare"])
        self.assertEqual(self.complete("--no-ask-password", "stop", "--"), ["--help"])
        self.assertEqual(self.complete("spare", ""), ["add", "remove", "list", "--help", "-h"])
        self.assertEqual(self.complete("spare", "r"), ["remove"])
        self.assertEqual(self.complete("spare", "frob", ""), [])

    def test_options_match_help(self):
        cases = [(c,) for c in commands() if c != "spare"] + [("spare", s) for s in ("add", "remove", "list")]
        spare = set()
        for cmd in cases:
            with self.subTest(cmd=cmd):
                opts = set(self.complete(*cmd, "-"))
                self.assertLessEqual({"--help", "-h"}, opts)
                offered = {o for o in opts if o.startswith("--")} - {"--help"}
                if cmd[0] == "spare":
                    spare |= offered
                    continue
                ignore = {"create": {"--find", "--show", "--image", "--size"}, "table": {"--table"}}
                self.assertEqual(offered, help_options(*cmd) - ignore.get(cmd[0], set()))
        self.assertEqual(spare, help_options("spare"))
        self.assertEqual(self.complete("spare", "add", "-"), ["--image", "--size", "--force", "--json", "--help", "-h"])
        self.assertEqual(self.complete("spare", "remove", "--"), ["--evacuate", "--json", "--help"])
        # Options already given are not offered again; values are not options.
        self.assertEqual(self.complete("assemble", "--degraded", "--name", "--all", "--"),
                         ["--uuid", "--all", "--json", "--incremental", "--last-resort", "--help"])
        self.assertEqual(self.complete("spare", "add", "mg", "--json", "--"),
                         ["--image", "--size", "--force", "--help"])

    def test_device_names(self):
        for words, want in [(("stop", ""), ["backup", "mg"]),
                            (("stop", "backup", "m"), ["mg"]),
                            (("status", "b"), ["backup"]),
                            (("spare", "add", ""), ["backup", "mg"]),
                            (("spare", "remove", "--evacuate", "m"), ["mg"]),
                            (("spare", "list", ""), ["backup", "mg"]),
                            (("remap", "m"), ["mg"]),
                            (("remaps", "--json", ""), ["backup", "mg"]),
                            (("pending", "x"), []),
                            (("remap", "mg", ""), []),       # BLOCK: no completion
                            (("remaps", "mg", ""), []),      # one NAME only
                            (("spare", "list", "mg", ""), []),
                            (("members", ""), []),
                            (("list", ""), [])]:
            with self.subTest(words=words):
                self.assertEqual(self.complete(*words), want)
        # dmsetup failing (no device-mapper), finding nothing or missing: nothing, silently.
        self.assertEqual(self.complete("stop", "", path=self.broken), [])
        self.assertEqual(self.complete("stop", "", path=self.empty), [])
        self.assertEqual(self.complete("spare", "add", "", path=[self.dir]), [])

    def test_block_devices(self):
        blk = None
        for e in sorted(os.scandir("/dev"), key=lambda e: e.name):
            if stat.S_ISBLK(e.stat(follow_symlinks=False).st_mode):
                blk = e.path
                break
        chars = [p for p in ("/dev/null", "/dev/zero") if os.path.exists(p)]
        for words in (("create",), ("create", "--name", "x"), ("assemble", "--degraded"), ("spare", "add", "mg"),
                      ("spare", "remove", "mg")):
            with self.subTest(words=words):
                for c in chars:  # character devices are no DEV
                    self.assertEqual(self.complete(*words, c), [])
                if blk:
                    self.assertIn(blk, self.complete(*words, blk[:-1]))
                    self.assertIn(blk, self.complete(*words, ""))
                    if words[0] == "create":
                        self.assertIn(blk, self.complete(*words, "/dev/sdz", blk[:-1]))
        if blk:  # no DEV after --all/--uuid, after spare add's DEV or --image
            for words in (("assemble", "--all"), ("assemble", "--uuid", UUID), ("spare", "add", "mg", blk),
                          ("spare", "add", "mg", "--image", "/tmp/x.img", "--size", "1G")):
                with self.subTest(words=words):
                    self.assertEqual(self.complete(*words, blk[:-1]), [])

    def test_files(self):
        img = self.img("spare-image.img", 0)
        prefix = os.path.join(self.dir, "spare-im")
        for package in (False, True):
            if package and not os.path.exists("/usr/share/bash-completion/bash_completion"):
                continue
            with self.subTest(package=package):
                self.assertEqual(self.complete("spare", "add", "mg", "--image", prefix, package=package), [img])
                self.assertEqual(self.complete("spare", "add", "mg", "--image=" + prefix, package=package),
                                 ["--image=" + img])
                self.assertEqual(self.complete("spare", "remove", "mg", prefix, package=package), [img])
                self.assertEqual(self.complete("format", prefix, package=package), [img])
                self.assertEqual(self.complete("check", img, prefix, package=package), [img])
                self.assertEqual(self.complete("create", prefix, package=package), [])  # block devices only
                self.assertEqual(self.complete("assemble", prefix, package=package), [])
        self.assertEqual(self.complete("spare", "add", "mg", "--image", img, "--size", "1"),
                         ["16M", "1G", "10G", "100G"])
        self.assertEqual(self.complete("create", "--block-size", "6"), ["65536"])
        self.assertEqual(self.complete("assemble", "--uuid", ""), [])


def main():
    if not os.access(BIN, os.X_OK):
        print("dmremapctl binary not found: %s (set DMREMAPCTL)" % BIN, file=sys.stderr)
        return 2
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import testmain
    return testmain.main()


if __name__ == "__main__":
    sys.exit(main())
