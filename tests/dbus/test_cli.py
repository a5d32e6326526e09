#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""dmremapctl as root (directly, through libbd_remap) and as uid 65534
(through dm-remapd on the bus, polkit deciding) prints the same: every
command on active devices is run as a script twice from equivalent states,
once each way, and stdout, stderr and the exit code of every step must be
identical. Then: polkit saying no (NotAuthorized, nothing changes), the
daemon not running (a clear message). Runs inside the VM kernels
(tests/dbus/vm-cli.sh gives it null_blk disks), where a missing
precondition fails; elsewhere it skips.

Disks: $DMREMAP_TEST_DATA (data, null_blk $DMREMAP_TEST_NULLB),
$DMREMAP_TEST_SPARES (two spares), $DMREMAP_TEST_TINY (too small).
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import dbus_env as E
from dbus_env import DMREMAPCTL, NOBODY, DBusTest

DATA = os.environ.get("DMREMAP_TEST_DATA", "")
NULLB = os.environ.get("DMREMAP_TEST_NULLB", "")
SPARES = os.environ.get("DMREMAP_TEST_SPARES", "").split()
TINY = os.environ.get("DMREMAP_TEST_TINY", "")
SET = "cl"
UUID = "6c1e5e7a-0b8e-4d2c-9f3a-2b7d4e1f0a11"
IMAGE = "/var/lib/dm-remap/spares/cli-test.img"  # image spares live there only
MOVED = "/var/lib/dm-remap/cli-test.img.away"
BLOCK_SECTORS = 8
BAD_BLOCK = 9               # unreadable on the data disk: remap makes it pending
# Any UUID but the set's.
UUID_RE = re.compile(r"(?!%s)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}" % UUID)


PROBLEM = E.require(E.precondition_problem(["DMREMAP_TEST_DATA", "DMREMAP_TEST_NULLB", "DMREMAP_TEST_SPARES",
                                            "DMREMAP_TEST_TINY"]) or
                    (None if len(SPARES) == 2 else "DMREMAP_TEST_SPARES: two spares wanted, not %r" % SPARES),
                    "tests/dbus/vm-cli.sh runs this in the VM kernels")


def setUpModule():
    if not PROBLEM:
        E.require_root()
        E.start()


def tearDownModule():
    E.stop()


def ctl(args, nobody=False, env=None):
    """(exit code, stdout, stderr) of dmremapctl; as root it acts directly,
    as uid 65534 through the daemon on the test's private system bus. stdin
    is not a terminal: polkit is asked without user interaction."""
    e = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=E.ENV.address)
    e.pop("DMREMAPCTL_BACKEND", None)
    e.update(env or {})
    cmd = [DMREMAPCTL] + list(args)
    if nobody:
        cmd = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"] + cmd
    r = subprocess.run(cmd, capture_output=True, text=True, env=e, cwd="/", stdin=subprocess.DEVNULL, timeout=300)
    return r.returncode, r.stdout, r.stderr


def root(*args):
    """A set-up step as root, not compared: must succeed."""
    rc, out, err = ctl(args)
    assert rc == 0, "dmremapctl %s: %s" % (" ".join(args), err)
    return out


def layout():
    """(data_offset_sectors of DATA, spare_offset_sectors of a spare) that the
    steps' create gives, read from a set formatted the same way on images of
    the same sizes: the bad block must fail before the set exists, and the
    layout is asked for, never assumed (the metadata mirror moved it once)."""
    with tempfile.TemporaryDirectory() as d:
        imgs = []
        for i, disk in enumerate((DATA, SPARES[0])):
            fd = os.open(disk, os.O_RDONLY)
            try:
                size = os.lseek(fd, 0, os.SEEK_END)
            finally:
                os.close(fd)
            imgs.append(os.path.join(d, "%d.img" % i))
            with open(imgs[-1], "wb") as f:
                f.truncate(size)
        root("format", "--name", SET, "--internal-spare", "0", "--max-remaps", "4096", *imgs)
        data = json.loads(root("dump", "--json", imgs[0]))
        spare = json.loads(root("dump", "--json", imgs[1]))
    return data["data_offset_sectors"], spare["member"]["spare_offset_sectors"]


def active():
    r = subprocess.run(["dmsetup", "ls", "--target", "remap"], capture_output=True, text=True, check=True)
    return [line.split()[0] for line in r.stdout.splitlines() if "(" in line]


def clean_slate():
    """No active set, no image, no superblock on the disks (a spare added in
    the last run would still name the set): the state each run of the
    script starts from."""
    for name in active():
        root("stop", name)
    for path in (IMAGE, MOVED):
        if os.path.exists(path):
            os.unlink(path)
    for disk in [DATA] + SPARES:
        subprocess.run(["dd", "if=/dev/zero", "of=" + disk, "bs=1M", "count=1", "oflag=direct", "status=none"],
                       check=True)


def steps():
    """The script: (args, what to do before it as root). Every command that
    acts on active devices, with its --json form and its errors."""
    s1, s2 = SPARES
    move_image = lambda: os.rename(IMAGE, MOVED)       # noqa: E731  the image spare goes missing
    image_back = lambda: os.rename(MOVED, IMAGE)       # noqa: E731
    return [
        (("create", "--force", "--name", SET, "--uuid", UUID, "--internal-spare", "0", "--max-remaps", "4096",
          DATA, s1), None),
        (("create", "--name", SET, DATA), None),                         # a name in use
        (("status",), None), (("status", SET), None), (("status", "--json"), None), (("status", "nosuch"), None),
        (("list",), None), (("list", "--json"), None),
        (("spare", "list", SET), None), (("spare", "list", "--json", SET), None),
        (("remap", SET, "5"), None), (("remap", "--json", SET, "6"), None),
        (("remap", SET, str(BAD_BLOCK)), None),                           # unreadable: pending
        (("remap", "nosuch", "1"), None),
        (("remaps", SET), None), (("remaps", "--json", SET), None),
        (("pending", SET), None), (("pending", "--json", SET), None),
        (("spare", "add", SET, s2), None),
        (("spare", "add", "--json", SET, "--image", IMAGE, "--size", "16M"), None),
        (("spare", "add", SET, TINY), None),                              # too small
        (("spare", "add", SET, "--image", IMAGE, "--size", "16M"), None),  # exists
        (("status", "--json", SET), None), (("spare", "list", SET), None),
        (("members",), None), (("members", "--json"), None),
        (("spare", "remove", SET, s1), None),                             # live blocks
        (("spare", "remove", "--evacuate", SET, s1), None),
        (("spare", "remove", "--json", SET, s1), None),                   # not a spare any more
        (("status", SET), None), (("remaps", SET), None),
        (("stop", "nosuch"), None),
        (("stop", SET), None),
        (("status",), None), (("list",), None),
        (("assemble", DATA), None),                                       # the image attached again
        (("assemble", DATA), None),                                       # already active
        (("stop", SET), None),
        (("assemble", "--json", "--uuid", UUID), None),
        (("stop", SET), None),
        (("assemble", "--all"), None),
        (("stop", SET), None),
        (("assemble", "--all", "--json"), None),
        (("stop", SET), move_image),
        (("assemble", DATA), None),                                       # a spare missing
        (("assemble", "--degraded", DATA), None),
        (("status", SET), None), (("status", "--json"), None), (("spare", "list", "--json", SET), None),
        (("stop", SET), image_back),
        (("assemble", "--all", "--degraded"), None),
        (("members", "--json"), None),
        (("stop", SET), None),
    ]


def member_uuids_renamed(run):
    names = {}

    def rename(m):
        return names.setdefault(m.group(0), "<member-uuid-%d>" % (len(names) + 1))
    return [(args, (rc, UUID_RE.sub(rename, out), UUID_RE.sub(rename, err))) for args, (rc, out, err) in run]


@unittest.skipIf(PROBLEM, PROBLEM)
class TestCliBothWays(DBusTest):
    @classmethod
    def setUpClass(cls):
        # Block BAD_BLOCK of the data area fails on the data disk, in both runs.
        data_offset, cls.spare_offset = layout()
        first = data_offset + BAD_BLOCK * BLOCK_SECTORS
        with open("/sys/kernel/config/nullb/%s/badblocks" % NULLB, "w") as f:
            f.write("+%d-%d" % (first, first + BLOCK_SECTORS - 1))

    def settle(self):
        """The daemon's cache of a device follows the kernel through uevents
        (docs/DBUS.md). After a change made directly, wait until the daemon
        shows what the kernel does (as a client reading a moment later
        would), so both ways start from the same state."""
        E.wait_for(lambda: ctl(["status", "--json"]) == ctl(["status", "--json"], nobody=True),
                   timeout=60, what="dm-remapd to show what device-mapper does")

    def run_script(self, nobody):
        clean_slate()
        self.settle()
        out = []
        for args, before in steps():
            if before:
                before()
            out.append((args, ctl(args, nobody=nobody)))
        clean_slate()
        return out

    def test_01_same_output_either_way(self):
        self.set_polkit(E.ACTIONS)
        direct = self.run_script(nobody=False)
        self.assertEqual(self.polkit_calls(), [], "root asked polkit: not direct")
        bus = self.run_script(nobody=True)
        calls = self.polkit_calls()
        self.assertTrue(calls, "uid 65534 never asked polkit: not through the daemon")
        # stdin is no terminal: no password prompt may be asked for.
        self.assertEqual({int(c[2][3]) for c in calls}, {0})
        # The one unavoidable difference between the two runs: member UUIDs
        # are random at every format (there is no option to choose them),
        # and members --json and a missing spare's message name them. Each
        # run's member UUIDs are renamed in order of first appearance, so
        # the same member must still appear in the same places.
        # The one intended difference: the daemon reads no disk for a user,
        # so `members` through it lists what the udev database recorded,
        # and there is no udevd in the guest: nothing.
        for (args, d), (_, b) in zip(direct, bus):
            if args[0] == "members":
                with self.subTest(args=args):
                    self.assertEqual(d[0], 0)
                    self.assertIn(DATA, d[1], "root's members did not read the disks")
                    self.assertEqual(b, (0, "[]\n" if "--json" in args else "", ""))
        direct = [(a, r) for a, r in direct if a[0] != "members"]
        bus = [(a, r) for a, r in bus if a[0] != "members"]
        direct, bus = member_uuids_renamed(direct), member_uuids_renamed(bus)
        for (args, d), (_, b) in zip(direct, bus):
            with self.subTest(args=args):
                self.assertEqual(b, d, "dmremapctl %s" % " ".join(args))
        # The script did what it says, so the comparison means something.
        by = {}  # the first run of each command line
        for a, r in direct:
            by.setdefault(" ".join(a), r)
        self.assertEqual(by["stop nosuch"], (3, "", "dmremapctl stop: nosuch: no such device-mapper device\n"))
        self.assertEqual(by["remap %s %d" % (SET, BAD_BLOCK)][0], 0)
        self.assertIn("could not be read: now pending", by["remap %s %d" % (SET, BAD_BLOCK)][1])
        self.assertEqual(by["spare add %s %s" % (SET, TINY)],
                         (1, "", "dmremapctl spare add: %s: too small: 1 MiB, a spare of this set needs at least %d "
                          "MiB\n" % (TINY, self.spare_offset // 2048 + 1)))  # its metadata, 1 MiB of spare blocks
        self.assertRegex(by["spare remove --evacuate %s %s" % (SET, SPARES[0])][1],
                         r"^Removed %s from %s: [1-9]\d* blocks moved\n$" % (SPARES[0], SET))
        self.assertIn("attached image spare as /dev/loop", by["assemble " + DATA][1])
        self.assertIn("started WITHOUT spare member", by["assemble --degraded " + DATA][1])
        self.assertEqual(json.loads(by["assemble --all --json"][1])[0]["error"], None)
        failed = [a for a, r in direct if r[0] != 0]
        self.assertEqual(len(failed), 9, failed)

    def test_02_polkit_says_no(self):
        clean_slate()
        root("create", "--force", "--name", SET, "--internal-spare", "0", "--max-remaps", "4096", DATA, SPARES[0])
        self.settle()
        before = ctl(["status", "--json"])
        self.set_polkit([])
        for args, action in ((("stop", SET), E.ASSEMBLE), (("remap", SET, "3"), E.REMAP),
                             (("spare", "add", SET, SPARES[1]), E.SPARE),
                             (("spare", "remove", "--evacuate", SET, SPARES[0]), E.SPARE),
                             (("assemble", "--all"), E.ASSEMBLE),
                             (("create", "--force", "--name", "other", SPARES[1]), E.CREATE)):
            with self.subTest(args=args):
                cmd = " ".join(args[:2]) if args[0] == "spare" else args[0]
                denied = "not authorized (polkit): %s: not authorized for uid %d\n" % (action, NOBODY)
                self.assertEqual(ctl(args, nobody=True), (5, "", "dmremapctl %s: %s" % (cmd, denied)))
        self.assertEqual(ctl(["status", "--json"]), before)   # nothing changed
        self.assertEqual(root("members", "--json").count('"set_name": "other"'), 0)
        # Reading needs no authorization.
        self.assertEqual(ctl(["status", "--json"], nobody=True), before)
        self.set_polkit(E.ACTIONS)
        clean_slate()

    def test_03_backend_override(self):
        clean_slate()
        root("create", "--force", "--name", SET, "--internal-spare", "0", "--max-remaps", "4096", DATA, SPARES[0])
        self.settle()
        # Root through the daemon (DMREMAPCTL_BACKEND=bus) prints what root prints directly.
        for args in (("status",), ("list", "--json"), ("remaps", SET)):
            with self.subTest(args=args):
                self.assertEqual(ctl(args, env={"DMREMAPCTL_BACKEND": "bus"}), ctl(args))
        # uid 65534 directly: device-mapper says no.
        self.assertEqual(ctl(["status"], nobody=True, env={"DMREMAPCTL_BACKEND": "direct"}),
                         (1, "", "dmremapctl status: device-mapper is not available (cannot open "
                          "/dev/mapper/control: is dm_mod loaded? are you root?)\n"))
        self.assertEqual(ctl(["list"], env={"DMREMAPCTL_BACKEND": "dbus"}),
                         (2, "", "dmremapctl list: DMREMAPCTL_BACKEND='dbus' is neither 'direct' nor 'bus'\n"
                                 "Try 'dmremapctl list --help'.\n"))
        clean_slate()

    def test_04_daemon_not_running(self):
        self.assertEqual(E.ENV.stop_daemon(), 0)
        try:
            for args in (("status",), ("stop", SET), ("members",)):
                with self.subTest(args=args):
                    rc, out, err = ctl(args, nobody=True)
                    self.assertEqual((rc, out), (1, ""))
                    self.assertRegex(err, r"^dmremapctl: cannot reach dm-remapd on the system bus \(.*org\.dmremap1.*\); "
                                          r"run as root to act directly\n$")
            # No system bus at all.
            rc, out, err = ctl(["list"], nobody=True, env={"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/nonexistent"})
            self.assertEqual((rc, out), (1, ""))
            self.assertRegex(err, r"^dmremapctl: cannot reach dm-remapd on the system bus \(.+\); "
                                  r"run as root to act directly\n$")
        finally:
            E.ENV.start_daemon()


if __name__ == "__main__":
    import testmain
    sys.exit(testmain.main())
